-- When nginx last vouched for the publisher (on_publish, then on_update every 30 s), so a
-- claim left behind by a crashed nginx goes stale instead of locking the artist out.
ALTER TABLE live_events ADD COLUMN publisher_seen_at timestamptz;

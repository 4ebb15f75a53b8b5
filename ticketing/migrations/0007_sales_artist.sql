-- Sales carry their event's artist, so an artist's revenue over time is read from ticketing's
-- own table (analytics) without going through the events table.
ALTER TABLE ticket_sales ADD COLUMN artist_id uuid;
UPDATE ticket_sales s SET artist_id = e.artist_id FROM live_events e WHERE e.id = s.event_id;
CREATE INDEX ticket_sales_artist ON ticket_sales (artist_id, created_at)
    WHERE refunded_at IS NULL;

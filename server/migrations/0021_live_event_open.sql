-- server.live's SQL door for "is this event still open" (scheduled or live, the same states as
-- server.live.event.OPEN), so another package's statement can make it a condition without
-- reading live_events itself. Owned by server.live, like the table it reads.
CREATE FUNCTION live_event_open(event uuid)
RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM live_events WHERE id = $1 AND status IN ('scheduled', 'live'))
$$;

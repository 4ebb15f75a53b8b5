-- server.playback's SQL door for opening a viewing session from inside another package's
-- statement: ticketing admits a ticket and opens its session in one round trip without
-- touching playback_sessions itself. Owned by server.playback, like the table it writes;
-- the caller passes the kind, so new kinds need no change here.
CREATE FUNCTION playback_open_session(session_id uuid, viewer uuid, event uuid, session_kind text)
RETURNS uuid
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    INSERT INTO playback_sessions (id, user_id, event_id, kind)
    VALUES ($1, $2, $3, $4);
    RETURN $1;
END
$$;

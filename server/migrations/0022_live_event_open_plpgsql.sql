-- live_event_open as PL/pgSQL, same signature and answer. A SQL function whose body holds a
-- subquery is never inlined, so PostgreSQL parsed and planned its body again in every
-- statement that called it: nearly a third of a ticket admission's database CPU. PL/pgSQL
-- keeps the plan for the session.
CREATE OR REPLACE FUNCTION live_event_open(event uuid)
RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN EXISTS (SELECT 1 FROM live_events WHERE id = $1 AND status IN ('scheduled', 'live'));
END
$$;

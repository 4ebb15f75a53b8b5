-- Events ticketing learned were cancelled, so refunds that failed at cancellation are
-- retried from ticketing's own record rather than by reading the core's events table.
CREATE TABLE ticketing_cancelled_events (
    event_id uuid PRIMARY KEY,
    recorded_at timestamptz NOT NULL DEFAULT now()
);

-- Unpaid holds are limited per account and per address: the address a hold was made from,
-- as the same keyed digest validation uses (never a raw IP).
ALTER TABLE tickets ADD COLUMN hold_address text;
CREATE INDEX tickets_reserved_by_user ON tickets (user_id) WHERE status = 'reserved';
CREATE INDEX tickets_reserved_by_address ON tickets (hold_address)
    WHERE status = 'reserved' AND hold_address IS NOT NULL;

-- Where a ticket's viewing session was last seen (from the geolocation of its address), for
-- the anti-sharing distance check. Coordinates only: no address is kept.
CREATE TABLE ticket_locations (
    ticket_id uuid PRIMARY KEY REFERENCES tickets (id) ON DELETE CASCADE,
    latitude double precision NOT NULL,
    longitude double precision NOT NULL,
    seen_at timestamptz NOT NULL
);
-- Renewals find the ticket whose session is renewed.
CREATE INDEX tickets_session ON tickets (session_id) WHERE session_id IS NOT NULL;

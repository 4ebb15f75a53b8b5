-- Where an account last logged in (coordinates from the geolocation of its address; no
-- address is kept). Logging in again from a new place is how an owner re-verifies after the
-- anti-sharing check refused a ticket session there. Owned by server.accounts.
CREATE TABLE login_locations (
    user_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    latitude double precision NOT NULL,
    longitude double precision NOT NULL,
    logged_in_at timestamptz NOT NULL
);

-- Live events and their stream keys. Owned by server.live.
CREATE TABLE live_events (
    id uuid PRIMARY KEY,
    artist_id uuid NOT NULL REFERENCES users (id),
    title text NOT NULL,
    description text NOT NULL DEFAULT '',
    starts_at timestamptz NOT NULL,
    price_minor bigint NOT NULL CHECK (price_minor >= 0),
    currency char(3) NOT NULL,
    capacity integer CHECK (capacity IS NULL OR capacity > 0),
    replay_access boolean NOT NULL DEFAULT false,
    status text NOT NULL DEFAULT 'scheduled'
        CHECK (status IN ('scheduled', 'live', 'ended', 'cancelled')),
    stream_key_hash bytea NOT NULL UNIQUE,
    publisher_client text,
    started_at timestamptz,
    ended_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX live_events_artist ON live_events (artist_id, starts_at);
CREATE INDEX live_events_listing ON live_events (status, starts_at);

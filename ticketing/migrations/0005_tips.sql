-- Fans' tips to artists. Owned by ticketing.tips. pending -> succeeded -> refunded;
-- pending -> failed | canceled. The split is fixed when the tip is made; its parts sum to it.
CREATE TABLE tips (
    id uuid PRIMARY KEY,
    fan_id uuid NOT NULL REFERENCES users (id),
    artist_id uuid NOT NULL REFERENCES users (id),
    video_id uuid,
    event_id uuid REFERENCES live_events (id),
    amount_minor bigint NOT NULL CHECK (amount_minor > 0),
    currency char(3) NOT NULL,
    artist_minor bigint NOT NULL CHECK (artist_minor >= 0),
    platform_minor bigint NOT NULL CHECK (platform_minor >= 0),
    processing_minor bigint NOT NULL CHECK (processing_minor >= 0),
    message text NOT NULL DEFAULT '',
    status text NOT NULL
        CHECK (status IN ('pending', 'succeeded', 'failed', 'canceled', 'refunded')),
    provider text NOT NULL,
    payment_ref text UNIQUE,
    created_at timestamptz NOT NULL,
    paid_at timestamptz,
    refunded_at timestamptz,
    CHECK (artist_minor + platform_minor + processing_minor = amount_minor),
    CHECK (video_id IS NULL OR event_id IS NULL)
);
CREATE INDEX tips_fan ON tips (fan_id, created_at DESC, id DESC);
-- Analytics sums an artist's paid tips over time.
CREATE INDEX tips_artist_paid ON tips (artist_id, paid_at) WHERE paid_at IS NOT NULL;

-- Tickets, seats, sales, payment webhooks, dev payments and replays. Owned by ticketing.store.

-- Seats held per event (reserved + paid + refunding tickets); the row lock serialises sales.
CREATE TABLE ticket_stock (
    event_id uuid PRIMARY KEY REFERENCES live_events (id),
    held integer NOT NULL DEFAULT 0 CHECK (held >= 0)
);

-- One row per purchase attempt. reserved -> paid (issued) | released (expired, failed, cancelled);
-- paid -> refunding -> refunded; paid -> revoked (dispute lost); released -> paid (late payment,
-- seat still free) | refunding -> refunded (late payment, sold out).
CREATE TABLE tickets (
    id uuid PRIMARY KEY,
    event_id uuid NOT NULL REFERENCES live_events (id),
    user_id uuid NOT NULL REFERENCES users (id),
    status text NOT NULL
        CHECK (status IN ('reserved', 'paid', 'refunding', 'released', 'refunded', 'revoked')),
    amount_minor bigint NOT NULL CHECK (amount_minor > 0),
    currency char(3) NOT NULL,
    replay_access boolean NOT NULL,
    provider text NOT NULL,
    payment_ref text UNIQUE,
    reserved_until timestamptz NOT NULL,
    paid_at timestamptz,
    admitted_at timestamptz,
    session_id uuid,
    replay_session_id uuid,
    closed_at timestamptz,
    close_reason text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
-- One live ticket (held, paid or being refunded) per user per event.
CREATE UNIQUE INDEX tickets_one_per_user ON tickets (event_id, user_id)
    WHERE status IN ('reserved', 'paid', 'refunding');
CREATE INDEX tickets_reserved_due ON tickets (reserved_until) WHERE status = 'reserved';
CREATE INDEX tickets_user ON tickets (user_id, created_at DESC);

-- The revenue split of every sale, in minor units; the parts always sum to the price.
CREATE TABLE ticket_sales (
    ticket_id uuid PRIMARY KEY REFERENCES tickets (id),
    event_id uuid NOT NULL REFERENCES live_events (id),
    price_minor bigint NOT NULL CHECK (price_minor > 0),
    currency char(3) NOT NULL,
    artist_minor bigint NOT NULL CHECK (artist_minor >= 0),
    platform_minor bigint NOT NULL CHECK (platform_minor >= 0),
    processing_minor bigint NOT NULL CHECK (processing_minor >= 0),
    refunded_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (artist_minor + platform_minor + processing_minor = price_minor)
);
CREATE INDEX ticket_sales_event ON ticket_sales (event_id, created_at);

-- Provider webhook events, each processed once.
CREATE TABLE payment_webhook_events (
    id text PRIMARY KEY,
    provider text NOT NULL,
    type text NOT NULL,
    received_at timestamptz NOT NULL,
    processed_at timestamptz
);

-- The development payment provider's intents (used only when Stripe is not configured).
CREATE TABLE dev_payments (
    id text PRIMARY KEY,
    ticket_id uuid NOT NULL,
    amount_minor bigint NOT NULL,
    currency char(3) NOT NULL,
    status text NOT NULL
        CHECK (status IN ('requires_confirmation', 'succeeded', 'failed', 'canceled')),
    refunded_minor bigint NOT NULL DEFAULT 0,
    idempotency_key text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- HLS VOD replays packaged from the event's recordings.
CREATE TABLE replays (
    event_id uuid PRIMARY KEY REFERENCES live_events (id),
    status text NOT NULL CHECK (status IN ('packaging', 'ready', 'missing', 'failed')),
    parts integer NOT NULL DEFAULT 0,
    segments integer NOT NULL DEFAULT 0,
    duration_seconds double precision NOT NULL DEFAULT 0,
    error text,
    updated_at timestamptz NOT NULL
);

-- Monthly subscriptions of fans to artists. Owned by ticketing.subscriptions.
-- The price an artist asks; the provider's plan for it is made on first use and forgotten when
-- the price changes (running subscriptions keep the price they started with).
CREATE TABLE subscription_prices (
    artist_id uuid PRIMARY KEY REFERENCES users (id),
    amount_minor bigint NOT NULL CHECK (amount_minor > 0),
    currency char(3) NOT NULL,
    plan_ref text,
    updated_at timestamptz NOT NULL
);

-- A fan's customer record at the billing provider.
CREATE TABLE billing_customers (
    fan_id uuid NOT NULL REFERENCES users (id),
    provider text NOT NULL,
    customer_ref text NOT NULL,
    PRIMARY KEY (fan_id, provider)
);

-- incomplete -> active <-> past_due -> canceled. Access lasts until access_until, which only a
-- paid invoice moves forward (to the end of the period it pays for).
CREATE TABLE subscriptions (
    id uuid PRIMARY KEY,
    fan_id uuid NOT NULL REFERENCES users (id),
    artist_id uuid NOT NULL REFERENCES users (id),
    amount_minor bigint NOT NULL CHECK (amount_minor > 0),
    currency char(3) NOT NULL,
    provider text NOT NULL,
    provider_ref text UNIQUE,
    status text NOT NULL CHECK (status IN ('incomplete', 'active', 'past_due', 'canceled')),
    cancel_at_period_end boolean NOT NULL DEFAULT false,
    current_period_end timestamptz,
    access_until timestamptz,
    created_at timestamptz NOT NULL,
    canceled_at timestamptz
);
CREATE UNIQUE INDEX subscriptions_one_live ON subscriptions (fan_id, artist_id)
    WHERE status IN ('incomplete', 'active', 'past_due');
CREATE INDEX subscriptions_fan ON subscriptions (fan_id, created_at DESC);
CREATE INDEX subscriptions_access ON subscriptions (fan_id, artist_id, access_until);

-- Each invoice of a subscription acted on once: a paid one posts to the ledger.
CREATE TABLE subscription_invoices (
    invoice_ref text PRIMARY KEY,
    subscription_id uuid NOT NULL REFERENCES subscriptions (id),
    artist_id uuid NOT NULL,
    amount_minor bigint NOT NULL CHECK (amount_minor >= 0),
    currency char(3) NOT NULL,
    period_end timestamptz NOT NULL,
    paid_at timestamptz NOT NULL,
    payment_ref text UNIQUE,
    refunded_at timestamptz
);
CREATE INDEX subscription_invoices_artist ON subscription_invoices (artist_id, paid_at);

-- Withdrawals of artists' available money, and where each method pays them.

CREATE TABLE ledger_payout_accounts (
    artist_id uuid NOT NULL,
    method text NOT NULL,
    details jsonb NOT NULL,  -- e.g. {"iban": ..., "name": ...} for sepa
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (artist_id, method)
);

CREATE TABLE ledger_payout_batches (
    id uuid PRIMARY KEY,
    method text NOT NULL,
    currency char(3) NOT NULL,
    status text NOT NULL DEFAULT 'exported' CHECK (status IN ('exported', 'paid', 'failed')),
    document text NOT NULL,  -- what was handed to the bank (a pain.001 file for sepa)
    created_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    settled_at timestamptz
);

CREATE TABLE ledger_payouts (
    id uuid PRIMARY KEY,  -- also the id of its pending transfer
    artist_id uuid NOT NULL,
    method text NOT NULL,
    currency char(3) NOT NULL,
    amount bigint NOT NULL CHECK (amount > 0),
    idempotency_key text NOT NULL,
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'exported', 'paid', 'failed')),
    destination jsonb NOT NULL,  -- where it was sent, as registered when requested
    batch_id uuid REFERENCES ledger_payout_batches (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    settled_at timestamptz,
    UNIQUE (artist_id, idempotency_key)
);
-- At most one withdrawal in flight per artist and method.
CREATE UNIQUE INDEX ledger_payouts_in_flight ON ledger_payouts (artist_id, method)
    WHERE status IN ('pending', 'exported');
CREATE INDEX ledger_payouts_artist ON ledger_payouts (artist_id, created_at DESC);
CREATE INDEX ledger_payouts_batch ON ledger_payouts (batch_id);

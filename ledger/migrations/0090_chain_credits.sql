-- The on-chain mirror's outbox: each withdrawal by method chain waits here, written in the
-- withdrawal's transaction, until creditRoyalty under its id is confirmed (or definitively
-- refused, and the payout voided).

CREATE TABLE ledger_chain_credits (
    transfer_id uuid PRIMARY KEY,  -- the payout's pending transfer (its id): the bytes32 ref
    artist_id uuid NOT NULL,
    amount bigint NOT NULL CHECK (amount > 0),  -- in token units
    wallet text NOT NULL,  -- the address credited, pinned when the payout was requested
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'credited', 'refused')),
    tx_hash text,     -- NULL when the node no longer finds the first transaction's event
    created_at timestamptz NOT NULL DEFAULT now(),
    credited_at timestamptz
);
CREATE INDEX ledger_chain_credits_pending ON ledger_chain_credits (artist_id)
    WHERE status = 'pending';

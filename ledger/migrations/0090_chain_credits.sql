-- The on-chain mirror's outbox: each credit to an artist's available balance (in the mirrored
-- currency) waits here until creditRoyalty under its transfer id is confirmed.

CREATE TABLE ledger_chain_credits (
    transfer_id uuid PRIMARY KEY,  -- the credited transfer (written with it): the bytes32 ref
    artist_id uuid NOT NULL,
    amount bigint NOT NULL CHECK (amount > 0),  -- in token units
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'credited')),
    wallet text,      -- the address credited
    tx_hash text,     -- NULL when the node no longer finds the first transaction's event
    created_at timestamptz NOT NULL DEFAULT now(),
    credited_at timestamptz
);
CREATE INDEX ledger_chain_credits_pending ON ledger_chain_credits (artist_id)
    WHERE status = 'pending';

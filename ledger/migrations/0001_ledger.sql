-- The double-entry ledger, after TigerBeetle: accounts with balance limits, immutable
-- transfers keyed by caller-chosen ids, pending transfers posted or voided by later transfers.

CREATE TABLE ledger_accounts (
    id uuid PRIMARY KEY,
    code text NOT NULL CHECK (code ~ '^[a-z_]{1,40}$'),
    owner_id uuid,  -- the artist for artist accounts; NULL for the platform's own
    currency char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    debits_must_not_exceed_credits boolean NOT NULL DEFAULT false,
    credits_must_not_exceed_debits boolean NOT NULL DEFAULT false,
    -- Hot platform accounts spread their balance over shards so that concurrent postings do
    -- not queue on one row; an account with a limit has one shard, so one CHECK covers it.
    shards smallint NOT NULL DEFAULT 1 CHECK (shards BETWEEN 1 AND 64),
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (shards = 1 OR NOT (debits_must_not_exceed_credits OR credits_must_not_exceed_debits)),
    UNIQUE NULLS NOT DISTINCT (code, owner_id, currency)
);

-- Balances move only through transfers (the trigger below); summing shards gives the account's.
CREATE TABLE ledger_balances (
    account_id uuid NOT NULL REFERENCES ledger_accounts (id),
    shard smallint NOT NULL,
    debits_must_not_exceed_credits boolean NOT NULL,
    credits_must_not_exceed_debits boolean NOT NULL,
    debits_pending bigint NOT NULL DEFAULT 0 CHECK (debits_pending >= 0),
    debits_posted bigint NOT NULL DEFAULT 0 CHECK (debits_posted >= 0),
    credits_pending bigint NOT NULL DEFAULT 0 CHECK (credits_pending >= 0),
    credits_posted bigint NOT NULL DEFAULT 0 CHECK (credits_posted >= 0),
    PRIMARY KEY (account_id, shard),
    CONSTRAINT ledger_debits_exceed_credits
        CHECK (NOT debits_must_not_exceed_credits
               OR debits_pending + debits_posted <= credits_posted),
    CONSTRAINT ledger_credits_exceed_debits
        CHECK (NOT credits_must_not_exceed_debits
               OR credits_pending + credits_posted <= debits_posted)
);

CREATE TABLE ledger_transfers (
    id uuid PRIMARY KEY,
    debit_account_id uuid NOT NULL REFERENCES ledger_accounts (id),
    credit_account_id uuid NOT NULL REFERENCES ledger_accounts (id),
    amount bigint NOT NULL CHECK (amount > 0),
    currency char(3) NOT NULL,
    -- posted: final at once; pending: reserved until a post_pending or void_pending transfer
    -- naming it in pending_id resolves it (at most one does: the unique index below).
    kind text NOT NULL CHECK (kind IN ('posted', 'pending', 'post_pending', 'void_pending')),
    pending_id uuid REFERENCES ledger_transfers (id),
    posting_id uuid NOT NULL,  -- the linked group this leg was posted with
    code text NOT NULL,        -- why: ticket_sale, ticket_release, refund, tip, royalty, payout
    source text NOT NULL,      -- the statement line it belongs to: event:<id>, tip, dsp:<name>
    ref text NOT NULL DEFAULT '',  -- the originating object (a ticket id, a payout id)
    shard smallint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (debit_account_id <> credit_account_id),
    CHECK ((kind IN ('post_pending', 'void_pending')) = (pending_id IS NOT NULL))
);
CREATE UNIQUE INDEX ledger_transfers_resolution ON ledger_transfers (pending_id)
    WHERE pending_id IS NOT NULL;
CREATE INDEX ledger_transfers_debit ON ledger_transfers (debit_account_id, created_at);
CREATE INDEX ledger_transfers_credit ON ledger_transfers (credit_account_id, created_at);
CREATE INDEX ledger_transfers_posting ON ledger_transfers (posting_id);
CREATE INDEX ledger_transfers_open ON ledger_transfers (source) WHERE kind = 'pending';

-- Every statement's transfers are checked and applied to the balances together: the balance
-- rows are locked in one global order (so concurrent postings never wait in a cycle), then
-- updated once each; a refused transfer (a limit crossed, a currency mismatch, a resolution
-- that does not match its pending transfer) fails its whole statement and posting. A pending
-- transfer is resolved at most once: the unique index on pending_id.
CREATE TYPE ledger_delta AS (
    account_id uuid, shard smallint, dpe bigint, dpo bigint, cpe bigint, cpo bigint
);

CREATE FUNCTION ledger_apply_transfers() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    deltas ledger_delta[];
BEGIN
    IF EXISTS (SELECT 1 FROM new_transfers t
               JOIN ledger_accounts d ON d.id = t.debit_account_id
               JOIN ledger_accounts c ON c.id = t.credit_account_id
               WHERE d.currency <> t.currency OR c.currency <> t.currency) THEN
        RAISE EXCEPTION 'ledger: accounts and transfer differ in currency'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_currency';
    END IF;
    IF EXISTS (SELECT 1 FROM new_transfers t
               LEFT JOIN ledger_transfers p ON p.id = t.pending_id
               WHERE t.pending_id IS NOT NULL
                 AND (p.id IS NULL OR p.kind <> 'pending'
                      OR p.debit_account_id <> t.debit_account_id
                      OR p.credit_account_id <> t.credit_account_id
                      OR p.amount <> t.amount OR p.shard <> t.shard)) THEN
        RAISE EXCEPTION 'ledger: a resolution must match its pending transfer'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_resolution';
    END IF;
    SELECT array_agg(ROW(x.account_id, x.shard, x.dpe, x.dpo, x.cpe, x.cpo)::ledger_delta
                     ORDER BY x.account_id, x.shard)
    INTO deltas
    FROM (SELECT s.account_id,
                 (CASE WHEN a.shards = 1 THEN 0 ELSE s.shard % a.shards END)::smallint AS shard,
                 sum(CASE WHEN s.debit THEN s.pend ELSE 0 END)::bigint AS dpe,
                 sum(CASE WHEN s.debit THEN s.post ELSE 0 END)::bigint AS dpo,
                 sum(CASE WHEN s.debit THEN 0 ELSE s.pend END)::bigint AS cpe,
                 sum(CASE WHEN s.debit THEN 0 ELSE s.post END)::bigint AS cpo
          FROM (SELECT t.debit_account_id AS account_id, t.shard, true AS debit,
                       CASE t.kind WHEN 'pending' THEN t.amount WHEN 'posted' THEN 0
                            ELSE -t.amount END AS pend,
                       CASE WHEN t.kind IN ('posted', 'post_pending') THEN t.amount ELSE 0 END
                           AS post
                FROM new_transfers t
                UNION ALL
                SELECT t.credit_account_id, t.shard, false,
                       CASE t.kind WHEN 'pending' THEN t.amount WHEN 'posted' THEN 0
                            ELSE -t.amount END,
                       CASE WHEN t.kind IN ('posted', 'post_pending') THEN t.amount ELSE 0 END
                FROM new_transfers t) s
          JOIN ledger_accounts a ON a.id = s.account_id
          GROUP BY 1, 2) x;
    PERFORM 1 FROM ledger_balances b JOIN unnest(deltas) d USING (account_id, shard)
        ORDER BY b.account_id, b.shard FOR UPDATE OF b;
    UPDATE ledger_balances b SET debits_pending = b.debits_pending + d.dpe,
                                 debits_posted = b.debits_posted + d.dpo,
                                 credits_pending = b.credits_pending + d.cpe,
                                 credits_posted = b.credits_posted + d.cpo
    FROM unnest(deltas) d WHERE b.account_id = d.account_id AND b.shard = d.shard;
    RETURN NULL;
END $$;

CREATE TRIGGER ledger_apply AFTER INSERT ON ledger_transfers
    REFERENCING NEW TABLE AS new_transfers
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_apply_transfers();

-- History is immutable: a mistake is corrected by a reversing transfer, never by an edit.
CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger: % of % is not allowed', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER ledger_transfers_immutable BEFORE UPDATE OR DELETE OR TRUNCATE
    ON ledger_transfers FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_accounts_immutable BEFORE UPDATE OR DELETE OR TRUNCATE
    ON ledger_accounts FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();

-- Balances change only from inside the transfer trigger, so per currency the credits and
-- debits written always match (the sum of all balances stays zero).
CREATE FUNCTION ledger_guard_balances() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.debits_pending <> 0 OR NEW.debits_posted <> 0 OR NEW.credits_pending <> 0
           OR NEW.credits_posted <> 0 THEN
            RAISE EXCEPTION 'ledger: a balance starts at zero'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
    END IF;
    IF pg_trigger_depth() < 2 THEN
        RAISE EXCEPTION 'ledger: balances change only through transfers'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;

CREATE TRIGGER ledger_balances_guard BEFORE INSERT OR UPDATE OR DELETE ON ledger_balances
    FOR EACH ROW EXECUTE FUNCTION ledger_guard_balances();
CREATE TRIGGER ledger_balances_no_truncate BEFORE TRUNCATE ON ledger_balances
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();

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

-- Every transfer is checked and applied to the balances as it is inserted; a refused
-- transfer (a limit crossed, a currency mismatch) fails its whole statement and posting.
CREATE FUNCTION ledger_apply_transfer() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    d ledger_accounts%ROWTYPE;
    c ledger_accounts%ROWTYPE;
    p ledger_transfers%ROWTYPE;
    ds smallint;
    cs smallint;
    pend bigint := 0;
BEGIN
    SELECT * INTO d FROM ledger_accounts WHERE id = NEW.debit_account_id;
    SELECT * INTO c FROM ledger_accounts WHERE id = NEW.credit_account_id;
    IF d.currency <> NEW.currency OR c.currency <> NEW.currency THEN
        RAISE EXCEPTION 'ledger: accounts and transfer differ in currency'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_currency';
    END IF;
    IF NEW.pending_id IS NOT NULL THEN
        -- Locked, so concurrent resolutions of one pending transfer queue here.
        SELECT * INTO p FROM ledger_transfers WHERE id = NEW.pending_id FOR UPDATE;
        IF EXISTS (SELECT 1 FROM ledger_transfers WHERE pending_id = NEW.pending_id) THEN
            RAISE EXCEPTION 'ledger: pending transfer % is already resolved', NEW.pending_id
                USING ERRCODE = 'unique_violation', CONSTRAINT = 'ledger_transfers_resolution';
        END IF;
        IF p.kind IS DISTINCT FROM 'pending' OR p.debit_account_id <> NEW.debit_account_id
           OR p.credit_account_id <> NEW.credit_account_id OR p.amount <> NEW.amount THEN
            RAISE EXCEPTION 'ledger: a resolution must match its pending transfer'
                USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_resolution';
        END IF;
        pend := p.amount;
        NEW.shard := p.shard;
    END IF;
    ds := CASE WHEN d.shards = 1 THEN 0 ELSE NEW.shard % d.shards END;
    cs := CASE WHEN c.shards = 1 THEN 0 ELSE NEW.shard % c.shards END;
    IF NEW.kind = 'posted' THEN
        UPDATE ledger_balances SET debits_posted = debits_posted + NEW.amount
            WHERE account_id = d.id AND shard = ds;
        UPDATE ledger_balances SET credits_posted = credits_posted + NEW.amount
            WHERE account_id = c.id AND shard = cs;
    ELSIF NEW.kind = 'pending' THEN
        UPDATE ledger_balances SET debits_pending = debits_pending + NEW.amount
            WHERE account_id = d.id AND shard = ds;
        UPDATE ledger_balances SET credits_pending = credits_pending + NEW.amount
            WHERE account_id = c.id AND shard = cs;
    ELSIF NEW.kind = 'post_pending' THEN
        UPDATE ledger_balances SET debits_pending = debits_pending - pend,
                                   debits_posted = debits_posted + NEW.amount
            WHERE account_id = d.id AND shard = ds;
        UPDATE ledger_balances SET credits_pending = credits_pending - pend,
                                   credits_posted = credits_posted + NEW.amount
            WHERE account_id = c.id AND shard = cs;
    ELSE
        UPDATE ledger_balances SET debits_pending = debits_pending - pend
            WHERE account_id = d.id AND shard = ds;
        UPDATE ledger_balances SET credits_pending = credits_pending - pend
            WHERE account_id = c.id AND shard = cs;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER ledger_apply BEFORE INSERT ON ledger_transfers
    FOR EACH ROW EXECUTE FUNCTION ledger_apply_transfer();

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

-- The append-only, hash-chained audit log and what hangs off it. Owned by forensics.
CREATE TABLE forensic_log (
    seq bigint PRIMARY KEY CHECK (seq > 0),
    ts timestamptz NOT NULL,
    type text NOT NULL,
    actor text,
    subject text,
    data jsonb NOT NULL,
    prev_hash bytea NOT NULL CHECK (length(prev_hash) = 32),
    hash bytea NOT NULL CHECK (length(hash) = 32)
);
CREATE INDEX forensic_log_type_ts ON forensic_log (type, ts);
CREATE INDEX forensic_log_ts ON forensic_log (ts);
CREATE INDEX forensic_log_actor ON forensic_log (actor, seq) WHERE actor IS NOT NULL;
CREATE INDEX forensic_log_subject ON forensic_log (subject, seq) WHERE subject IS NOT NULL;

-- The database itself refuses to change history: a trigger for every role (owners
-- included) and no UPDATE/DELETE/TRUNCATE privilege for anyone but the owner.
CREATE FUNCTION forensic_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'forensic_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER forensic_log_no_update_delete BEFORE UPDATE OR DELETE ON forensic_log
    FOR EACH ROW EXECUTE FUNCTION forensic_log_refuse_change();
CREATE TRIGGER forensic_log_no_truncate BEFORE TRUNCATE ON forensic_log
    FOR EACH STATEMENT EXECUTE FUNCTION forensic_log_refuse_change();
REVOKE UPDATE, DELETE, TRUNCATE ON forensic_log FROM PUBLIC;

-- Signed tree heads over the log.
CREATE TABLE forensic_checkpoints (
    id bigserial PRIMARY KEY,
    tree_size bigint NOT NULL UNIQUE CHECK (tree_size > 0),
    root_hash bytea NOT NULL,
    note text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Export bundles written to immutable storage.
CREATE TABLE forensic_exports (
    id uuid PRIMARY KEY,
    first_seq bigint NOT NULL,
    last_seq bigint NOT NULL,
    checkpoint_id bigint NOT NULL REFERENCES forensic_checkpoints (id),
    previous_checkpoint_id bigint REFERENCES forensic_checkpoints (id),
    location text NOT NULL,
    sha256 text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (first_seq >= 1 AND last_seq >= first_seq)
);

-- Personal data never enters the chain: it lives here, encrypted with a key per subject.
-- Erasure destroys the key; the ciphertext becomes noise and the chain is untouched.
CREATE TABLE forensic_subject_keys (
    subject text PRIMARY KEY,
    key bytea,
    created_at timestamptz NOT NULL DEFAULT now(),
    erased_at timestamptz,
    CHECK ((key IS NULL) = (erased_at IS NOT NULL))
);
CREATE TABLE forensic_personal_data (
    id uuid PRIMARY KEY,
    subject text NOT NULL REFERENCES forensic_subject_keys (subject),
    nonce bytea NOT NULL,
    ciphertext bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX forensic_personal_data_subject ON forensic_personal_data (subject);

-- One row per scheduled run, so only one process performs each daily job.
CREATE TABLE forensic_job_runs (
    job text NOT NULL,
    run_for timestamptz NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    outcome text,
    PRIMARY KEY (job, run_for)
);

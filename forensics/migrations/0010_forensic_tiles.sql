-- The log's Merkle tree as C2SP tlog-tiles: up to 256 hashes of tree level 8*level per row.
-- A row grows while it is the rightmost (partial) tile of its level and never changes once
-- full; the database refuses anything else, for every role.
CREATE TABLE forensic_tiles (
    level smallint NOT NULL CHECK (level >= 0),
    idx bigint NOT NULL CHECK (idx >= 0),
    hashes bytea NOT NULL CHECK (length(hashes) BETWEEN 32 AND 8192 AND length(hashes) % 32 = 0),
    PRIMARY KEY (level, idx)
);

CREATE FUNCTION forensic_tiles_only_grow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'UPDATE' OR length(OLD.hashes) = 8192
       OR length(NEW.hashes) < length(OLD.hashes)
       OR substring(NEW.hashes FROM 1 FOR length(OLD.hashes)) <> OLD.hashes THEN
        RAISE EXCEPTION 'forensic_tiles only grow: % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER forensic_tiles_grow_only BEFORE UPDATE OR DELETE ON forensic_tiles
    FOR EACH ROW EXECUTE FUNCTION forensic_tiles_only_grow();
CREATE TRIGGER forensic_tiles_no_truncate BEFORE TRUNCATE ON forensic_tiles
    FOR EACH STATEMENT EXECUTE FUNCTION forensic_log_refuse_change();
REVOKE DELETE, TRUNCATE ON forensic_tiles FROM PUBLIC;

-- RFC 3161 timestamps of signed checkpoints (the TimeStampResp DER, as the TSA sent it).
CREATE TABLE forensic_checkpoint_timestamps (
    checkpoint_id bigint PRIMARY KEY REFERENCES forensic_checkpoints (id),
    tsa_url text NOT NULL,
    response bytea NOT NULL,
    gen_time timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

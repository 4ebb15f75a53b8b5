-- Releases uploaded by artists, their codes, and the messages built for the DSPs.
CREATE TABLE distribution_releases (
    id uuid PRIMARY KEY,
    artist_id uuid NOT NULL REFERENCES users (id),
    state text NOT NULL DEFAULT 'received'
        CHECK (state IN ('received', 'building', 'ready', 'failed', 'taken_down')),
    progress smallint NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    reason text,
    revision integer NOT NULL DEFAULT 1,
    -- what the next build produces: the first delivery, a correction, or a withdrawal
    pending_kind text NOT NULL DEFAULT 'insert'
        CHECK (pending_kind IN ('insert', 'update', 'takedown')),
    isrc text NOT NULL UNIQUE,
    upc text NOT NULL UNIQUE,
    iswc text,
    metadata jsonb NOT NULL,
    audio jsonb NOT NULL,
    cover jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX distribution_releases_artist ON distribution_releases (artist_id, created_at DESC);

CREATE TABLE distribution_messages (
    message_id text PRIMARY KEY,
    release_id uuid NOT NULL REFERENCES distribution_releases (id),
    dsp text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('insert', 'update', 'takedown')),
    revision integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX distribution_messages_release ON distribution_messages (release_id);

-- UPC item references; ISRC designations come from one sequence per year (below).
CREATE SEQUENCE distribution_upc_seq MINVALUE 1 NO CYCLE;

-- The next ISRC designation of `year`: its sequence is made on first use, under a lock so
-- concurrent first uses do not race to create it. Sequences never hand a number out twice.
CREATE FUNCTION distribution_next_isrc(year integer) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    name text := format('distribution_isrc_%s', year);
BEGIN
    BEGIN
        RETURN nextval(name::regclass);
    EXCEPTION WHEN undefined_table THEN
        PERFORM pg_advisory_xact_lock(hashtext('distribution_isrc_create'));
        EXECUTE format('CREATE SEQUENCE IF NOT EXISTS %I MINVALUE 1 MAXVALUE 99999 NO CYCLE', name);
        RETURN nextval(name::regclass);
    END;
END $$;

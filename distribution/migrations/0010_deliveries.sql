-- Deliveries of release packages to the DSPs over SFTP. A batch is one upload session's
-- worth for one DSP (the DDEX batch folder); it holds one delivery per release package.

CREATE TABLE distribution_batches (
    dsp text NOT NULL,
    id text NOT NULL CHECK (id ~ '^[0-9A-Za-z_]{1,64}$'),
    state text NOT NULL DEFAULT 'queued'
        CHECK (state IN ('queued', 'uploading', 'complete', 'failed')),
    reason text,
    -- when each attempt started: the job queue's backoff, as it happened
    attempts timestamptz[] NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    PRIMARY KEY (dsp, id)
);

CREATE TABLE distribution_deliveries (
    id uuid PRIMARY KEY,
    release_id uuid NOT NULL,
    dsp text NOT NULL,
    batch_id text NOT NULL,
    message_id text NOT NULL CHECK (message_id ~ '^[0-9A-Za-z_.-]{1,128}$'),
    kind text NOT NULL CHECK (kind IN ('insert', 'update', 'takedown')),
    folder text NOT NULL,
    message_file text NOT NULL,
    files jsonb NOT NULL,
    state text NOT NULL DEFAULT 'queued'
        CHECK (state IN ('queued', 'uploading', 'delivered', 'acknowledged', 'rejected',
                         'live', 'failed')),
    reason text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (dsp, batch_id) REFERENCES distribution_batches (dsp, id),
    UNIQUE (dsp, message_id)
);

CREATE INDEX distribution_deliveries_release ON distribution_deliveries (release_id, created_at);
CREATE INDEX distribution_deliveries_waiting ON distribution_deliveries (dsp, batch_id)
    WHERE state IN ('delivered', 'acknowledged');

-- Acknowledgement files already read, so each changes states once.
CREATE TABLE distribution_acks (
    dsp text NOT NULL,
    batch_id text NOT NULL,
    name text NOT NULL,
    message_id text,
    status text NOT NULL,
    reason text,
    read_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dsp, batch_id, name)
);

-- Report files fetched from a DSP, by remote name, size and modification time.
CREATE TABLE distribution_report_fetches (
    dsp text NOT NULL,
    remote_name text NOT NULL,
    size bigint NOT NULL,
    mtime bigint NOT NULL,
    local_path text NOT NULL,
    sha256 text NOT NULL,
    fetched_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dsp, remote_name, size, mtime)
);

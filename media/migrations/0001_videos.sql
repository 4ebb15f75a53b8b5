-- Videos on demand and their resumable uploads. Owned by media.videos.
CREATE TABLE videos (
    id uuid PRIMARY KEY,
    artist_id uuid NOT NULL REFERENCES users (id),
    title text NOT NULL,
    description text NOT NULL DEFAULT '',
    tags text[] NOT NULL DEFAULT '{}',
    realm text NOT NULL CHECK (realm IN ('inferno', 'purgatorio', 'paradiso')),
    visibility text NOT NULL
        CHECK (visibility IN ('public', 'followers', 'subscribers', 'private')),
    state text NOT NULL CHECK (state IN ('uploading', 'processing', 'ready', 'failed')),
    progress smallint NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    failure text,
    duration_s double precision,
    width integer,
    height integer,
    created_at timestamptz NOT NULL DEFAULT now(),
    ready_at timestamptz,
    deleted_at timestamptz
);
-- An artist's list, newest first (keyset on created_at, id).
CREATE INDEX videos_by_artist ON videos (artist_id, created_at DESC, id DESC)
    WHERE deleted_at IS NULL;

CREATE TABLE video_uploads (
    id uuid PRIMARY KEY,
    video_id uuid NOT NULL UNIQUE REFERENCES videos (id),
    artist_id uuid NOT NULL REFERENCES users (id),
    length bigint NOT NULL CHECK (length > 0),
    received bigint NOT NULL DEFAULT 0 CHECK (received BETWEEN 0 AND length),
    filename text NOT NULL DEFAULT '',
    -- A PATCH holds the upload until then; a lease outlives a crashed process only briefly.
    busy_until timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    touched_at timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz
);
CREATE INDEX video_uploads_open ON video_uploads (touched_at) WHERE completed_at IS NULL;

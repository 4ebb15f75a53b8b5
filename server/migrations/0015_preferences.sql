-- An account's theme and notification settings, and its avatar (a re-encoded square PNG).
CREATE TABLE account_preferences (
    user_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    realm text NOT NULL DEFAULT 'purgatorio'
        CHECK (realm IN ('inferno', 'purgatorio', 'paradiso')),
    notifications jsonb NOT NULL DEFAULT '{}'::jsonb,
    updated_at timestamptz NOT NULL
);
CREATE TABLE account_avatars (
    user_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    image bytea NOT NULL,
    version integer NOT NULL DEFAULT 1,
    updated_at timestamptz NOT NULL
);

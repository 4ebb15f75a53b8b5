-- Password reset tokens: only a SHA-256 digest is kept; each is single-use and short-lived.
CREATE TABLE password_resets (
    token_hash bytea PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    created_at timestamptz NOT NULL
);
CREATE INDEX password_resets_user ON password_resets (user_id) WHERE used_at IS NULL;

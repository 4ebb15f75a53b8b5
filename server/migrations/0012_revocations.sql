-- The authority for revocations (Redis only caches them and is rebuilt from here; see
-- server/revocations.py). Owned by server.accounts and server.playback.
ALTER TABLE users ADD COLUMN tokens_valid_after_ms bigint;
CREATE INDEX users_tokens_valid_after ON users (tokens_valid_after_ms)
    WHERE tokens_valid_after_ms IS NOT NULL;

-- Access tokens ended by logout, kept until they would have expired anyway.
CREATE TABLE revoked_access_tokens (
    jti text PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL
);
CREATE INDEX revoked_access_tokens_expiry ON revoked_access_tokens (expires_at);

-- Which path a session's tokens open: live HLS (/play/) or a packaged replay (/replay/).
ALTER TABLE playback_sessions
    ADD COLUMN kind text NOT NULL DEFAULT 'live' CHECK (kind IN ('live', 'replay'));
CREATE INDEX playback_sessions_revoked ON playback_sessions (revoked_at)
    WHERE revoked_at IS NOT NULL;

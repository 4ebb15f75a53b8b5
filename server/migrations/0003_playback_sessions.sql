-- Playback sessions (one per grant chain). Owned by server.playback. The gate never reads
-- this table: it checks token signatures and a Redis revocation set.
CREATE TABLE playback_sessions (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id),
    event_id uuid NOT NULL REFERENCES live_events (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
CREATE INDEX playback_sessions_user_event ON playback_sessions (user_id, event_id);

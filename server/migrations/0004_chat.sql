-- Live chat: messages, per-event room settings, assigned moderators, bans and timeouts.
-- Owned by server.chat; nothing else touches these tables.
CREATE TABLE chat_messages (
    id uuid PRIMARY KEY,
    event_id uuid NOT NULL REFERENCES live_events (id),
    author_id uuid NOT NULL REFERENCES users (id),
    -- The name shown when it was sent, so history never reads another package's table.
    author_name text NOT NULL,
    body text NOT NULL CHECK (char_length(body) BETWEEN 1 AND 500),
    created_at timestamptz NOT NULL,
    deleted_at timestamptz,
    deleted_by uuid REFERENCES users (id)
);
-- History reads only visible messages, newest first.
CREATE INDEX chat_messages_history ON chat_messages (event_id, created_at DESC, id DESC)
    WHERE deleted_at IS NULL;

CREATE TABLE chat_rooms (
    event_id uuid PRIMARY KEY REFERENCES live_events (id),
    slow_mode_seconds integer NOT NULL DEFAULT 0 CHECK (slow_mode_seconds BETWEEN 0 AND 3600),
    -- No foreign key: a pin may name a message still in a writer's batch.
    pinned_message_id uuid,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE chat_moderators (
    event_id uuid NOT NULL REFERENCES live_events (id),
    user_id uuid NOT NULL REFERENCES users (id),
    assigned_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, user_id)
);

CREATE TABLE chat_sanctions (
    id uuid PRIMARY KEY,
    event_id uuid NOT NULL REFERENCES live_events (id),
    user_id uuid NOT NULL REFERENCES users (id),
    kind text NOT NULL CHECK (kind IN ('ban', 'timeout')),
    expires_at timestamptz,
    created_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL,
    lifted_at timestamptz,
    lifted_by uuid REFERENCES users (id),
    CHECK ((kind = 'ban') = (expires_at IS NULL))
);
CREATE INDEX chat_sanctions_active ON chat_sanctions (event_id, user_id) WHERE lifted_at IS NULL;
CREATE UNIQUE INDEX chat_sanctions_one_ban ON chat_sanctions (event_id, user_id)
    WHERE kind = 'ban' AND lifted_at IS NULL;

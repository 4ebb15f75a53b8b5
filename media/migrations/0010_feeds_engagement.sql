-- Feeds, engagement, follows, comments and analytics rollups (media's engagement side).
-- Video ids are not foreign keys: the videos table is media.videos' own, and a feed row or a
-- counter outliving its video is harmless (readers join through media.videos' functions).

-- media.feeds.index: one row per video that may appear in a feed. `hot` is the trending
-- score in the log domain: ln(sum of weight * e^((t - T0) / tau)) over its engagements.
CREATE TABLE feed_entries (
    video_id uuid PRIMARY KEY,
    artist_id uuid NOT NULL,
    title text NOT NULL,
    realm text NOT NULL,
    visibility text NOT NULL,
    tags text[] NOT NULL DEFAULT '{}',
    duration_s double precision,
    published_at timestamptz NOT NULL,
    hot double precision NOT NULL
);
CREATE INDEX feed_entries_trending ON feed_entries (hot DESC, video_id DESC)
    WHERE visibility = 'public';
CREATE INDEX feed_entries_artist ON feed_entries (artist_id, published_at DESC, video_id DESC);
CREATE INDEX feed_entries_recent ON feed_entries (published_at DESC, video_id DESC);

-- media.feeds.index: what a signed-in viewer has already viewed (discovery prefers the rest).
CREATE TABLE feed_seen (
    account_id uuid NOT NULL,
    video_id uuid NOT NULL,
    seen_at timestamptz NOT NULL,
    PRIMARY KEY (account_id, video_id)
);

-- media.engagement: counters per video, and per viewer (user or device) of a video.
CREATE TABLE video_stats (
    video_id uuid PRIMARY KEY,
    views bigint NOT NULL DEFAULT 0 CHECK (views >= 0),
    likes bigint NOT NULL DEFAULT 0 CHECK (likes >= 0),
    watch_seconds double precision NOT NULL DEFAULT 0 CHECK (watch_seconds >= 0)
);
CREATE TABLE video_viewers (
    video_id uuid NOT NULL,
    viewer text NOT NULL,
    counted_at timestamptz,
    watched_s double precision NOT NULL DEFAULT 0 CHECK (watched_s >= 0),
    PRIMARY KEY (video_id, viewer)
);
CREATE TABLE video_likes (
    video_id uuid NOT NULL,
    account_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (video_id, account_id)
);

-- media.follows
CREATE TABLE follows (
    fan_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    artist_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (fan_id, artist_id)
);
CREATE INDEX follows_artist ON follows (artist_id, created_at DESC);
CREATE TABLE follower_counts (
    artist_id uuid PRIMARY KEY,
    followers bigint NOT NULL CHECK (followers >= 0)
);

-- media.comments
CREATE TABLE video_comments (
    id uuid PRIMARY KEY,
    video_id uuid NOT NULL,
    author_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    parent_id uuid REFERENCES video_comments (id) ON DELETE CASCADE,
    body text NOT NULL,
    created_at timestamptz NOT NULL,
    deleted_at timestamptz,
    deleted_by uuid
);
CREATE INDEX video_comments_top ON video_comments (video_id, created_at DESC, id DESC)
    WHERE parent_id IS NULL AND deleted_at IS NULL;
CREATE INDEX video_comments_replies ON video_comments (parent_id, created_at, id)
    WHERE parent_id IS NOT NULL AND deleted_at IS NULL;
CREATE TABLE video_comment_mutes (
    artist_id uuid NOT NULL,
    user_id uuid NOT NULL,
    muted_by uuid NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (artist_id, user_id)
);

-- media.analytics.rollup: per-artist buckets (UTC day, ISO week starting Monday), the viewer
-- sets that make unique counts exact, and per-video days for the top videos.
CREATE TABLE analytics_artist_buckets (
    artist_id uuid NOT NULL,
    bucket text NOT NULL CHECK (bucket IN ('day', 'week')),
    start date NOT NULL,
    views bigint NOT NULL DEFAULT 0,
    unique_viewers bigint NOT NULL DEFAULT 0,
    watch_seconds double precision NOT NULL DEFAULT 0,
    likes bigint NOT NULL DEFAULT 0,
    new_followers bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (artist_id, bucket, start)
);
CREATE TABLE analytics_artist_viewers (
    artist_id uuid NOT NULL,
    bucket text NOT NULL,
    start date NOT NULL,
    viewer text NOT NULL,
    PRIMARY KEY (artist_id, bucket, start, viewer)
);
CREATE TABLE analytics_video_days (
    video_id uuid NOT NULL,
    day date NOT NULL,
    artist_id uuid NOT NULL,
    views bigint NOT NULL DEFAULT 0,
    watch_seconds double precision NOT NULL DEFAULT 0,
    likes bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (video_id, day)
);
CREATE INDEX analytics_video_days_artist ON analytics_video_days (artist_id, day);

-- Replay state moved to the media package, which keeps it beside the replay's files (replays
-- already packaged are read from their playlists), so ticketing's table goes.
DROP TABLE replays;

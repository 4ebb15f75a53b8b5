"""Live events, stream keys and the nginx-rtmp publish hooks."""

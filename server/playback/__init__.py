"""Playback grants: signed, expiring HLS tokens and the nginx auth_request gate."""

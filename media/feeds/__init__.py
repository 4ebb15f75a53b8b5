"""Feeds of videos and live cards."""

"""Feeds: the feed index (`media.feeds.index`, filled by the video pipeline), trending heat,
and the discovery, trending and following feeds."""

"""Scheduled session events (one-time or weekly): stored and validated here, run by the media engine."""

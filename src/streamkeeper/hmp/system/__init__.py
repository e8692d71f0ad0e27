"""System information of the media platform."""

"""The media-platform API (`/apis`): accounts, permissions and the video catalog."""

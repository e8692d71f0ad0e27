"""What the catalog needs from the media engine, as a protocol with a do-nothing default.

The endpoints that drive the engine (recordings, thumbnails, downloads, streams, HLS) are in
:mod:`.endpoints`; :mod:`.feature` mounts the engine on the app and runs scheduled events.

The media engine (ingest, recording, thumbnails, re-streaming) is `app.state.hmp_media` and the
process's media plane (:mod:`.plane`: the engine itself where this process is the media owner,
the owner's published status elsewhere) `app.state.media_plane`, both installed before the `/apis`
feature starts; until then sources are idle, nothing records and nothing streams.
"""

from __future__ import annotations

from typing import Protocol

from ...media.ingest import PortConflict  # noqa: F401  (what a strict source_saved raises)


class MediaBackend(Protocol):
    def source_status(self, source_id: str) -> tuple[bool, int]:
        """(active, bitrate in bits per second) as measured from the packets."""

    def session_recording(self, session_id: str) -> bool:
        """Whether a recording of this session is in progress."""

    def asset_streaming(self, asset_id: str) -> bool:
        """Whether this video is being re-streamed."""

    def source_error(self, source_id: str) -> str | None:
        """Why the source is not being received, when binding it failed (retried meanwhile)."""

    async def source_saved(self, source: dict, *, strict: bool = False) -> None:
        """A source was created or changed (start or re-tune the receiver).

        With ``strict``, a port another program holds raises :class:`PortConflict`."""

    async def source_deleted(self, source_id: str) -> None:
        """A source was deleted (stop receiving)."""

    async def asset_deleted(self, asset_id: str, media_path: str | None) -> None:
        """A video was deleted (remove its files)."""

    def import_progress(self, asset_id: str) -> tuple[int, int] | None:
        """(bytes copied, total bytes) of a video being imported, when known."""


class NoMedia:
    def source_status(self, source_id: str) -> tuple[bool, int]:
        return False, 0

    def session_recording(self, session_id: str) -> bool:
        return False

    def asset_streaming(self, asset_id: str) -> bool:
        return False

    def source_error(self, source_id: str) -> str | None:
        return None

    async def source_saved(self, source: dict, *, strict: bool = False) -> None:
        return None

    async def source_deleted(self, source_id: str) -> None:
        return None

    async def asset_deleted(self, asset_id: str, media_path: str | None) -> None:
        return None

    def import_progress(self, asset_id: str) -> tuple[int, int] | None:
        return None


def media_of(app) -> MediaBackend:
    """The process's media plane (the owner's engine, or the owner's status seen from elsewhere)."""
    media = getattr(app.state, "media_plane", None) or getattr(app.state, "hmp_media", None)
    return media if media is not None else NoMedia()

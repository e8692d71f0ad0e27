"""The `/apis` media library as the asset catalog of watchlists (`?full=true`).

The library is one catalog for the whole server, so the tenant does not narrow the lookup.
A video's category values are what a watchlist calls its genres.
"""

from __future__ import annotations

from typing import Any, Sequence

from sqlalchemy.ext.asyncio import async_sessionmaker

from ..hmp.assets.service import video_info


class LibraryAssets:
    def __init__(self, sessions: async_sessionmaker) -> None:
        self._sessions = sessions

    async def describe(self, tenant: str, asset_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        found = {}
        for asset_id in dict.fromkeys(asset_ids):
            info = await video_info(self._sessions, asset_id)
            if info is not None:
                found[asset_id] = _asset(info)
        return found


def _asset(info: dict[str, Any]) -> dict[str, Any]:
    categories: dict[str, list[str]] = info.get("categories") or {}
    genres = list(dict.fromkeys(v for values in categories.values() for v in values if v))
    return {
        "id": info["id"],
        "name": info.get("title", ""),
        "description": info.get("description", ""),
        "duration": info.get("duration", 0),
        "genres": genres,
        "categories": categories,
    }


def library_catalog(ctx) -> LibraryAssets:
    return LibraryAssets(ctx.sessions)

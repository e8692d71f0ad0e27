"""Where `GET /oxm/v1/towatch?full=true` finds the metadata of the assets on a watchlist.

The videos live in the `/apis` media library; this package only needs to ask for a few of
them by id, so it depends on the small :class:`AssetCatalog` protocol rather than on that
library's internals.
"""

from __future__ import annotations

from typing import Any, Protocol, Sequence


class AssetCatalog(Protocol):
    async def describe(self, tenant: str, asset_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Metadata of those of `asset_ids` that exist, keyed by id (missing ids are left out)."""
        ...


class NoAssets:
    """A catalog that knows no asset: every id on a watchlist is reported as not found."""

    async def describe(self, tenant: str, asset_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        return {}

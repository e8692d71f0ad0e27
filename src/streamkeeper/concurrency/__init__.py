"""The concurrency domain: policies, the admission engine and session stores.

Nothing in this package knows about HTTP; the `/v2` and `/oxm/v1` surfaces are thin
adapters over :class:`~streamkeeper.concurrency.service.ConcurrencyService`.
"""

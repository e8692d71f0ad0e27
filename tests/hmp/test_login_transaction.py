"""A password is checked and hashed with no catalog transaction open: on SQLite a transaction holds
the one write lock, and every other request would queue behind a login for as long as the hash
takes."""

from __future__ import annotations

import asyncio
import time

from streamkeeper.hmp.accounts import passwords

SLOW = dict(time_cost=1500, memory_cost=1024, parallelism=1)  # about a second a hash on this machine
CHEAP = dict(time_cost=1, memory_cost=1024, parallelism=1)  # what the session fixture set


async def _while_it_runs(hmp, slow_call) -> float:
    """How long a catalog write took while `slow_call` (a login or a user's creation) ran."""
    task = asyncio.create_task(slow_call())
    await asyncio.sleep(0.1)
    started = time.monotonic()
    r = await hmp.admin.post("/apis/sessions", json={"title": "written meanwhile", "active": True})
    took = time.monotonic() - started
    assert r.status_code == 201, r.text
    assert not task.done(), "the hash was too quick to tell anything"
    await task
    return took


async def test_catalog_writes_go_on_while_a_login_checks_a_password(hmp):
    passwords.configure(**SLOW)
    try:
        await hmp.add_user("slowpoke", roles=("viewer",))  # its hash is slow to check
        took = await _while_it_runs(hmp, lambda: hmp.login("slowpoke"))
        assert took < 0.5, took
        took = await _while_it_runs(hmp, lambda: hmp.add_user("slowpoke-2", roles=("viewer",)))
        assert took < 0.5, took
    finally:
        passwords.configure(**CHEAP)

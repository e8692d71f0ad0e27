"""No over-admission: many concurrent inits for one subject against a limit of 3."""

from __future__ import annotations

import asyncio

from tests.conftest import basic


async def test_300_concurrent_inits_admit_exactly_three(client):
    async def init():
        return await client.post("/v2/sessions/adobe/racer", auth=basic("demo-app"))

    answers = await asyncio.gather(*(init() for _ in range(300)))
    codes = [r.status_code for r in answers]
    assert codes.count(202) == 3
    # Past 200 inits a minute the subject is rate limited; every other answer is a policy denial.
    assert codes.count(429) == 100
    assert codes.count(409) == 197
    running = await client.get("/v2/runningStreams/adobe/racer", auth=basic("demo-app"))
    assert {s["sessionId"] for s in running.json()["runningStreams"]} == {
        r.headers["location"] for r in answers if r.status_code == 202
    }

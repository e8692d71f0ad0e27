"""A stream ended by an operator (the console's dashboard) tells its player who ended it, on both
stores and both wires, and still does after the server restarts."""

from __future__ import annotations

from tests.conftest import Running, basic


async def test_operator_ending_is_named_in_the_410_and_survives_a_restart(settings, clock, wire):
    async with Running(settings, clock, wire) as client:
        sid = (await client.post("/v2/sessions/adobe/ops", auth=basic("demo-app"))).headers["location"]
    # the operator's end goes through the service the console calls
    running = Running(settings, clock, wire)
    async with running as client:
        service = running.app.state.ctx.concurrency
        app = service.catalog.applications["demo-app"]
        ended = await service.stop(app, "adobe", "ops", sid, operator="night-shift")
        assert ended.ended.reason == "operator"
        r = await client.post(f"/v2/sessions/adobe/ops/{sid}", auth=basic("demo-app"))
        assert r.status_code == 410
        assert r.json()["associatedAdvice"][0]["operator"] == "night-shift"
    async with Running(settings, clock, wire) as client:  # restarted: the journal or Redis kept it
        r = await client.post(f"/v2/sessions/adobe/ops/{sid}", auth=basic("demo-app"))
        assert r.status_code == 410
        advice = r.json()["associatedAdvice"][0]
        assert (advice["type"], advice["operator"]) == ("operator-termination", "night-shift")
        assert "night-shift" in advice["message"]

"""The concurrency-monitoring walkthrough, step by step, over HTTP against the demo configuration."""

from __future__ import annotations

from email.utils import parsedate_to_datetime

from tests.conftest import basic

DEMO = basic("demo-app")
DEMO2 = basic("demo-app-2")
SESSIONS = "/v2/sessions/adobe/12345"


async def start(client, auth=DEMO, data=None, terminate=None):
    headers = {"X-Terminate": terminate} if terminate else {}
    return await client.post(SESSIONS, auth=auth, data=data, headers=headers)


async def test_metadata_of_both_demo_applications(client):
    first = await client.get("/v2/metadata", auth=DEMO)
    assert first.status_code == 200
    assert first.json() == []
    second = await client.get("/v2/metadata", auth=DEMO2)
    assert second.json() == ["channel"]


async def test_session_init_answers_202_with_location_date_and_expires(client, clock):
    r = await start(client)
    assert r.status_code == 202
    assert r.content == b""
    assert r.headers["cache-control"] == "no-store"
    sid = r.headers["location"]
    assert sid and "/" not in sid
    date = parsedate_to_datetime(r.headers["date"]).timestamp()
    expires = parsedate_to_datetime(r.headers["expires"]).timestamp()
    assert date == int(clock.now)
    assert expires - date == 60


async def test_heartbeat_renews_and_moves_expires(client, clock):
    sid = (await start(client)).headers["location"]
    clock.advance(50)
    r = await client.post(f"{SESSIONS}/{sid}", auth=DEMO)
    assert r.status_code == 202
    assert parsedate_to_datetime(r.headers["expires"]).timestamp() == int(clock.now) + 60
    assert parsedate_to_datetime(r.headers["date"]).timestamp() == int(clock.now)


async def test_session_expires_after_interval_plus_grace(client, clock):
    sid = (await start(client)).headers["location"]
    clock.advance(60 + 29)
    assert (await client.post(f"{SESSIONS}/{sid}", auth=DEMO)).status_code == 202
    clock.advance(60 + 31)
    r = await client.post(f"{SESSIONS}/{sid}", auth=DEMO)
    assert r.status_code == 410
    assert r.content == b""


async def test_delete_then_delete_again_is_gone(client):
    sid = (await start(client)).headers["location"]
    assert (await client.delete(f"{SESSIONS}/{sid}", auth=DEMO)).status_code == 202
    again = await client.delete(f"{SESSIONS}/{sid}", auth=DEMO)
    assert again.status_code == 410
    assert again.content == b""
    beat = await client.post(f"{SESSIONS}/{sid}", auth=DEMO)
    assert beat.status_code == 410


async def test_fourth_stream_breaks_the_three_streams_policy(client):
    sids = [(await start(client)).headers["location"] for _ in range(3)]
    r = await start(client)
    assert r.status_code == 409
    body = r.json()
    advice = body["associatedAdvice"][0]
    assert advice["type"] == "rule-violation"
    assert advice["ruleName"] == "3 streams"
    assert advice["policyName"] == "3 streams policy"
    assert advice["threshold"] == 3
    assert set(advice["conflicts"]) == set(sids)
    assert body["obligations"] == []
    result = body["evaluationResult"]
    assert result["decision"] == "DENY"
    attrs = result["associatedAdvice"][0]["attributes"]
    assert attrs["threshold"] == 3 and attrs["current"] == 4
    assert {c["sessionId"] for c in attrs["conflicts"]} == set(sids)
    assert all(c["terminationCode"] for c in attrs["conflicts"])


async def test_each_refusal_names_the_streams_in_the_way_at_that_moment(client, clock):
    """Refusals of a full viewer repeat the same advice until its streams change; then the next
    one names the new set (advice is remembered per set of streams, never reused across sets)."""
    sids = [(await start(client)).headers["location"] for _ in range(3)]
    first, again = (await start(client)).json(), (await start(client)).json()
    assert first == again
    assert set(first["associatedAdvice"][0]["conflicts"]) == set(sids)
    assert (await client.delete(f"{SESSIONS}/{sids[0]}", auth=DEMO)).status_code == 202
    newer = (await start(client)).headers["location"]
    clock.advance(1)
    after = (await start(client)).json()
    assert set(after["associatedAdvice"][0]["conflicts"]) == {sids[1], sids[2], newer}
    listed = after["evaluationResult"]["associatedAdvice"][0]["attributes"]["conflicts"]
    assert {c["sessionId"] for c in listed} == {sids[1], sids[2], newer}


async def test_a_refusal_given_again_is_never_stale(client, clock):
    """A full viewer's players retry: while nothing changes, a retry gets the same refusal; as
    soon as anything that decides it changes (a stream lapses or stops, a heartbeat, another
    value of what the rules read), the next start is decided afresh."""
    for _ in range(3):
        assert (await start(client)).status_code == 202
    first = await start(client)
    assert first.status_code == 409
    assert (await start(client)).content == first.content
    clock.advance(60 + 30 + 1)  # every stream lapses (heartbeat interval, then the grace period)
    fresh = [(await start(client)).headers["location"] for _ in range(3)]
    assert (await start(client)).status_code == 409
    assert (await client.delete(f"{SESSIONS}/{fresh[0]}", auth=DEMO)).status_code == 202
    assert (await start(client)).status_code == 202
    # Two per channel (demo-app-2): refused on "news", decided afresh for "sport".
    news = {"channel": "news"}
    for _ in range(2):
        assert (await client.post("/v2/sessions/adobe/c1", auth=DEMO2, data=news)).status_code == 202
    assert (await client.post("/v2/sessions/adobe/c1", auth=DEMO2, data=news)).status_code == 409
    sport = await client.post("/v2/sessions/adobe/c1", auth=DEMO2, data={"channel": "sport"})
    assert sport.status_code == 202
    assert (await client.post("/v2/sessions/adobe/c1", auth=DEMO2, data=news)).status_code == 409


async def test_termination_code_frees_a_slot_and_victim_sees_remote_termination(client):
    sids = [(await start(client)).headers["location"] for _ in range(3)]
    denied = (await start(client)).json()
    conflicts = denied["evaluationResult"]["associatedAdvice"][0]["attributes"]["conflicts"]
    victim = conflicts[0]
    r = await start(client, terminate=victim["terminationCode"])
    assert r.status_code == 202
    newcomer = r.headers["location"]
    gone = await client.post(f"{SESSIONS}/{victim['sessionId']}", auth=DEMO)
    assert gone.status_code == 410
    body = gone.json()
    assert body["associatedAdvice"][0]["type"] == "remote-termination"
    assert body["associatedAdvice"][0]["terminator"]["sessionId"] == newcomer
    assert body["evaluationResult"]["associatedAdvice"][0]["adviceType"] == "remote-termination"
    survivors = [s for s in sids if s != victim["sessionId"]]
    for sid in survivors:
        assert (await client.post(f"{SESSIONS}/{sid}", auth=DEMO)).status_code == 202


async def test_several_termination_codes_in_one_header(client, wire):
    for _ in range(3):
        await start(client)
    conflicts = (await start(client)).json()["evaluationResult"]["associatedAdvice"][0]["attributes"]["conflicts"]
    codes = [c["terminationCode"] for c in conflicts[:2]]
    sep = ",\n" if wire == "asgi" else ", "  # a raw newline cannot cross a real HTTP/1.1 connection
    assert (await start(client, terminate=f"{codes[0]}{sep}{codes[1]}")).status_code == 202
    running = (await client.get("/v2/runningStreams/adobe/12345", auth=DEMO)).json()
    assert len(running["runningStreams"]) == 2


async def test_unknown_termination_code_changes_nothing(client):
    for _ in range(3):
        await start(client)
    assert (await start(client, terminate="not-a-code")).status_code == 409


async def test_denied_init_with_codes_terminates_nobody(client):
    """X-Terminate only takes effect when the new stream is admitted."""
    for _ in range(3):
        await start(client)
    conflicts = (await start(client)).json()["evaluationResult"]["associatedAdvice"][0]["attributes"]["conflicts"]
    # Demo app 2 needs a channel: its init fails, and must not end demo-app's stream.
    r = await start(client, auth=DEMO2, terminate=conflicts[0]["terminationCode"])
    assert r.status_code == 400
    assert (await client.post(f"{SESSIONS}/{conflicts[0]['sessionId']}", auth=DEMO)).status_code == 202


async def test_expired_streams_free_their_slots(client, clock):
    for _ in range(3):
        await start(client)
    clock.advance(91)
    assert (await start(client)).status_code == 202


async def test_second_app_requires_channel(client):
    r = await start(client, auth=DEMO2)
    assert r.status_code == 400
    assert r.json()["obligations"] == [
        {"namespace": "adobe.primetime.cm", "action": "refresh", "arguments": ["metadata"]}
    ]


async def test_second_app_two_per_channel_scoped_by_value(client):
    assert (await start(client, auth=DEMO2, data={"channel": "Channel1"})).status_code == 202
    assert (await start(client, auth=DEMO2, data={"channel": "Channel1"})).status_code == 202
    third = await start(client, auth=DEMO2, data={"channel": "Channel1"})
    assert third.status_code == 409
    advice = third.json()["associatedAdvice"][0]
    assert advice["scope"] == {"channel": "Channel1"}
    assert advice["threshold"] == 2
    for channel in ("Channel2", "Channel3", "Channel2"):
        assert (await start(client, auth=DEMO2, data={"channel": channel})).status_code == 202


async def test_channel_may_come_in_the_query_string(client):
    r = await client.post(f"{SESSIONS}?channel=News", auth=DEMO2)
    assert r.status_code == 202


async def test_running_streams_lists_sessions_and_expires(client, clock):
    first = (await start(client)).headers["location"]
    clock.advance(5)
    await start(client, auth=DEMO2, data={"channel": "C"})
    r = await client.get("/v2/runningStreams/adobe/12345", auth=DEMO)
    assert r.status_code == 200
    body = r.json()
    assert body["otherStreams"] == 0
    streams = body["runningStreams"]
    assert [s["applicationId"] for s in streams] == ["demo-app", "demo-app-2"]
    assert streams[0]["sessionId"] == first
    assert streams[0]["startTime"] == int((clock.now - 5) * 1000)
    assert streams[1]["metadata"] == {"channel": "C"}
    assert streams[0]["applicationName"] == "Demo application"
    assert parsedate_to_datetime(r.headers["expires"]).timestamp() == int(clock.now - 5 + 60)


async def test_running_streams_without_streams_has_no_expires(client):
    r = await client.get("/v2/runningStreams/adobe/nobody", auth=DEMO)
    assert r.json() == {"runningStreams": [], "otherStreams": 0}
    assert "expires" not in r.headers


async def test_immutable_metadata_cannot_change_at_heartbeat(client):
    sid = (await start(client, auth=DEMO2, data={"channel": "A"})).headers["location"]
    r = await client.post(f"{SESSIONS}/{sid}", auth=DEMO2, data={"channel": "B"})
    assert r.status_code == 400
    assert r.json()["associatedAdvice"][0]["attributes"] == ["channel"]
    ok = await client.post(f"{SESSIONS}/{sid}", auth=DEMO2, data={"channel": "A", "deviceId": "d1"})
    assert ok.status_code == 202
    running = (await client.get("/v2/runningStreams/adobe/12345", auth=DEMO2)).json()
    assert running["runningStreams"][0]["metadata"] == {"channel": "A", "deviceId": "d1"}


async def test_never_issued_session_is_404_not_410(client):
    sid = (await start(client)).headers["location"]
    forged = sid[:-2] + ("AA" if not sid.endswith("AA") else "BB")
    assert (await client.post(f"{SESSIONS}/{forged}", auth=DEMO)).status_code == 404
    assert (await client.post(f"{SESSIONS}/garbage", auth=DEMO)).status_code == 404
    # An id issued for another subject is not this subject's.
    assert (await client.post(f"/v2/sessions/adobe/other/{sid}", auth=DEMO)).status_code == 404
    assert (await client.delete(f"{SESSIONS}/garbage", auth=DEMO)).status_code == 404


async def test_authentication(client, settings):
    r = await client.post(SESSIONS, auth=basic("nope"))
    assert r.status_code == 401
    assert r.json()["associatedAdvice"][0]["type"] == "unauthorized"
    assert r.json()["associatedAdvice"][0]["message"] == "unknown application 'nope'"
    missing = await client.get("/v2/metadata")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == 'Basic realm="concurrency-monitoring"'
    assert missing.json()["associatedAdvice"][0] == {
        "type": "unauthorized",
        "message": "missing credentials: send HTTP Basic credentials whose user name is the application id"}
    for malformed in ("Basic !!!", "Bearer abc", "Basic Og=="):  # not base64, not Basic, an empty user
        r = await client.post(SESSIONS, headers={"Authorization": malformed})
        assert r.status_code == 401
        message = r.json()["associatedAdvice"][0]["message"]
        assert message.startswith("no application id in the Authorization header"), message
        assert "None" not in message
    headers = {"Authorization": f"Bearer {settings.admin_key}"}
    app = (await client.get("/admin/v1/applications/demo-app", headers=headers)).json()
    app["enabled"] = False
    del app["id"]
    assert (await client.put("/admin/v1/applications/demo-app", json=app, headers=headers)).status_code == 200
    assert (await client.get("/v2/metadata", auth=DEMO)).status_code == 403
    assert (await start(client)).status_code == 403


async def test_rate_limit_per_subject_at_init(client, clock):
    for _ in range(200):
        r = await client.post("/v2/sessions/adobe/busy", auth=DEMO2, data={})
        assert r.status_code == 400  # counted even when refused
    limited = await client.post("/v2/sessions/adobe/busy", auth=DEMO2)
    assert limited.status_code == 429
    retry = parsedate_to_datetime(limited.headers["expires"]).timestamp()
    assert clock.now < retry <= clock.now + 60
    clock.now = retry
    assert (await client.post("/v2/sessions/adobe/busy", auth=DEMO)).status_code == 202


async def test_rate_limit_per_session_at_heartbeat(client, clock):
    sid = (await start(client)).headers["location"]
    clock.now -= clock.now % 60  # the start of a rate window
    for _ in range(200):
        assert (await client.post(f"{SESSIONS}/{sid}", auth=DEMO)).status_code == 202
    r = await client.post(f"{SESSIONS}/{sid}", auth=DEMO)
    assert r.status_code == 429
    assert "expires" in r.headers


async def test_metadata_in_unsupported_content_type_is_415(client):
    r = await client.post(SESSIONS, auth=DEMO, json={"channel": "x"})
    assert r.status_code == 415
    assert r.json()["associatedAdvice"][0]["type"] == "bad-request"


async def test_init_metadata_from_multipart_and_from_query_with_form(client):
    """demo-app-2 needs `channel`: a multipart body (its media type in any case) and a query
    string beside a form body both carry it; the stream each starts names it in runningStreams."""
    boundary = "sk-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"channel\"\r\n\r\nsport\r\n"
            f"--{boundary}--\r\n").encode()
    r = await client.post(SESSIONS, auth=DEMO2, content=body,
                          headers={"Content-Type": f"Multipart/Form-Data; boundary={boundary}"})
    assert r.status_code == 202, r.text
    r = await client.post(SESSIONS + "?channel=news", auth=DEMO2, data={"deviceId": "d1"})
    assert r.status_code == 202, r.text
    running = (await client.get("/v2/runningStreams/adobe/12345", auth=DEMO2)).json()["runningStreams"]
    assert sorted(s["metadata"]["channel"] for s in running) == ["news", "sport"]
    assert {"channel": "news", "deviceId": "d1"} in [s["metadata"] for s in running]
    r = await client.post(SESSIONS, auth=DEMO2, content=b"channel=x", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415

async def test_a_granted_video_plays_through_a_token_until_the_session_is_deleted(stage):
    sid = await stage.session("alice")
    url = await stage.url("alice", sid)
    r = await stage.c.get(url)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/vnd.apple.mpegurl"
    first = [line for line in r.text.splitlines() if line and not line.startswith("#")][0]
    seg = await stage.c.get(url.rsplit("/", 1)[0] + "/" + first)
    assert seg.status_code == 200 and seg.content[0] == 0x47
    r = await stage.c.delete(f"/v2/sessions/adobe/alice/{sid}", auth=("demo-app", ""))
    assert r.status_code == 202
    r = await stage.c.get(url)
    assert r.status_code == 403 and r.text == "session ended: stopped by its player"

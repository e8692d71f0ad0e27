"""The media plane in several processes: one server with two workers, two servers sharing
PostgreSQL, Redis and a media directory. Every media call gives the same answer whichever process
takes it (each request on a fresh connection, the answering process identified through /proc),
each source is received by exactly one process, a scheduled event runs once, and when the
receiving server is killed another one takes over the sources and the recording in progress."""

from __future__ import annotations

import asyncio
import io
import json
import os
import socket
import time
import uuid
import zipfile
from pathlib import Path

import av
import httpx
import pytest

from streamkeeper.media.testsignal import UdpSender, make_clip
from tests.conftest import PG_URL, REDIS_URL, drop_redis_keys, redis_available, redis_prefix_for_test, run_pg
from tests.process import free_udp_port

from .servers import Server
from .workers import _children, _owner, _socket_inode, worker_pids

PASSWORD = "admin-password-1"
TAKEOVER_BOUND = 10.0  # what the issue asks: another server receives within 10 s


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """20 s of numbered pictures and a tone at a constant 1 Mbit/s."""
    return make_clip(tmp_path_factory.mktemp("clips") / "clip.ts", seconds=20, muxrate=1_000_000)


def _fleet(root: Path, kind: str):
    redis_available()
    schema = f"skmedia_{uuid.uuid4().hex[:10]}"
    run_pg(f'CREATE SCHEMA "{schema}"')
    prefix = redis_prefix_for_test()
    env = {"STREAMKEEPER_DATABASE_URL": PG_URL, "STREAMKEEPER_DATABASE_SCHEMA": schema,
           "STREAMKEEPER_REDIS_URL": REDIS_URL, "STREAMKEEPER_REDIS_PREFIX": prefix,
           "STREAMKEEPER_ADMIN_KEY": "k" * 32, "STREAMKEEPER_SECRET": "m" * 32,
           "STREAMKEEPER_ADMIN_PASSWORD": PASSWORD, "STREAMKEEPER_MEDIA_DIR": str(root / "shared-media"),
           "STREAMKEEPER_PLAYBACK_KEYS": "k1700000000:" + "Pk3" * 14 + "x"}  # shared, like the secret
    if kind == "two-workers":
        servers = [Server(root / "data", env, workers=2)]
    else:
        servers = [Server(root / "a", env), Server(root / "b", env)]

    def cleanup() -> None:
        for s in servers:
            s.stop()
        asyncio.run(drop_redis_keys(REDIS_URL, prefix))
        run_pg(f'DROP SCHEMA "{schema}" CASCADE')

    try:
        for s in servers:
            s.spawn()
            s.wait_ready()  # one after the other: the first start creates the catalog
    except BaseException:
        cleanup()
        raise
    return servers, cleanup


@pytest.fixture(scope="module", params=["two-workers", "two-servers"])
def fleet(request, tmp_path_factory):
    servers, cleanup = _fleet(tmp_path_factory.mktemp(request.param), request.param)
    yield servers
    cleanup()


# -- requests on fresh connections ------------------------------------------------------------------

def login(server: Server) -> str:
    r = httpx.post(f"{server.url}/apis/authentication/login", json={"username": "admin", "password": PASSWORD},
                   timeout=30)
    assert r.status_code == 201, r.text
    return r.cookies["calypso-session-id"]


class Answer:
    def __init__(self, status: int, headers: dict, body: bytes, pid: int | None) -> None:
        self.status, self.headers, self.body, self.pid = status, headers, body, pid

    def json(self):
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"<{self.status} from {self.pid}: {self.body[:300]!r}>"


def _read(sock: socket.socket) -> tuple[int, dict, bytes]:
    f = sock.makefile("rb")
    status = int(f.readline().split()[1])
    headers = {}
    while True:
        line = f.readline().strip()
        if not line:
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding") == "chunked":
        body = b""
        while True:
            size = int(f.readline().strip().split(b";")[0], 16)
            if not size:
                break
            body += f.read(size)
            f.readline()
    else:
        body = f.read(int(headers.get("content-length", 0)))
    return status, headers, body


def ask(server: Server, cookie: str, method: str, path: str, body=None, extra: tuple = ()) -> Answer:
    """One request on a new connection; the answer and the pid of the process that gave it."""
    data = b"" if body is None else json.dumps(body).encode()
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{server.port}", f"Content-Length: {len(data)}",
             f"Cookie: calypso-session-id={cookie}", *extra]
    if body is not None:
        lines.append("Content-Type: application/json")
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
        client_port = sock.getsockname()[1]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + data)
        status, headers, payload = _read(sock)
        inode = _socket_inode(server.port, client_port)  # the server's end is still open
        pid = _owner([server.proc.pid, *_children(server.proc.pid)], inode) if inode else None
    return Answer(status, headers, payload, pid)


def same_everywhere(servers: list[Server], cookie: str, path: str, what, *, method: str = "GET", body=None,
                    each: int = 2, max_probes: int = 80, extra: tuple = ()):
    """`what(answer)` is the same for every probe until every serving process answered `each`
    times; that common value."""
    everyone = set().union(*(worker_pids(s) for s in servers))
    seen: dict[int, int] = {}
    values = []
    for n in range(max_probes):
        answer = ask(servers[n % len(servers)], cookie, method, path, body, extra)
        values.append((answer, what(answer)))
        assert values[-1][1] == values[0][1], (path, values[0], values[-1])
        if answer.pid is not None:
            seen[answer.pid] = seen.get(answer.pid, 0) + 1
        if set(seen) >= everyone and min(seen.values()) >= each:
            return values[0][1]
    raise AssertionError(f"processes {everyone - set(seen)} never answered {path} in {max_probes} probes")


def wait_for(check, timeout: float = 20.0, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(every)


def receivers(servers: list[Server], udp_port: int) -> set[int]:
    """The processes with a socket bound to the source's UDP port."""
    inodes = set()
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == udp_port:
                inodes.add(fields[9])
    pids = set()
    for s in servers:
        if not s.alive:
            continue
        for pid in [s.proc.pid, *_children(s.proc.pid)]:
            for inode in inodes:
                if _owner([pid], inode):
                    pids.add(pid)
    return pids


def studio(server: Server, cookie: str, udp_port: int) -> tuple[str, str]:
    """A UDP source on `udp_port` and a session showing it."""
    r = ask(server, cookie, "POST", "/apis/sources",
            {"name": "cam", "type": "UDP", "host": "127.0.0.1", "port": udp_port, "multicast": False})
    assert r.status == 201, r
    source = r.json()["data"]["id"]
    r = ask(server, cookie, "POST", "/apis/sessions", {"title": "Studio"})
    assert r.status == 201, r
    session = r.json()["data"]["id"]
    assert ask(server, cookie, "POST", f"/apis/sessions/{session}/sources", {"sourceId": source}).status < 300
    return source, session


def decoded_frames(data: bytes, fmt: str) -> int:
    with av.open(io.BytesIO(data), format=fmt) as got:
        return sum(1 for _ in got.decode(video=0))


def download(server: Server, cookie: str, asset: str, file_type: str) -> bytes:
    r = ask(server, cookie, "GET", f"/apis/assets/{asset}/download?fileType={file_type}")
    assert r.status == 200, r
    archive = zipfile.ZipFile(io.BytesIO(r.body))
    return archive.read(f"track-1.{file_type}")


# -- the tests ------------------------------------------------------------------------------------------

def test_every_media_call_answers_the_same_on_every_process(fleet, clip):
    cookie = login(fleet[0])
    udp_port = free_udp_port()
    source, session = studio(fleet[-1], cookie, udp_port)
    with UdpSender(clip, ("127.0.0.1", udp_port), loops=3):
        wait_for(lambda: ask(fleet[0], cookie, "GET", f"/apis/sources/{source}").json()["data"]["active"])
        time.sleep(2.5)  # a whole bitrate window
        assert same_everywhere(fleet, cookie, f"/apis/sources/{source}",
                               lambda a: (a.status, a.json()["data"]["active"],
                                          200_000 < a.json()["data"]["bitrate"] < 2_000_000)) == (200, True, True)
        assert len(receivers(fleet, udp_port)) == 1  # received by exactly one process

        r = ask(fleet[-1], cookie, "POST", f"/apis/sessions/{session}/recordings", {})
        assert r.status == 201, r
        rec = r.json()["data"]["id"]
        state = lambda a: (a.status, a.json()["data"]["state"])  # noqa: E731
        assert same_everywhere(fleet, cookie, f"/apis/recordings/{rec}", state) == (200, "RECORDING")
        # The header that marks a forwarded request is not believed from a client.
        assert same_everywhere(fleet, cookie, f"/apis/recordings/{rec}", state,
                               extra=("X-Streamkeeper-Media: forged",)) == (200, "RECORDING")
        assert same_everywhere(fleet, cookie, f"/apis/sessions/{session}/recordings",
                               lambda a: [x["id"] for x in a.json()["data"]]) == [rec]
        time.sleep(0.5)  # the others read the owner's status four times a second
        assert same_everywhere(fleet, cookie, f"/apis/sessions/{session}",
                               lambda a: a.json()["data"]["recording"]) is True
        assert ask(fleet[0], cookie, "PUT", f"/apis/recordings/{rec}", {"state": "PAUSED"}).status == 200
        assert same_everywhere(fleet, cookie, f"/apis/recordings/{rec}", state) == (200, "PAUSED")
        assert ask(fleet[-1], cookie, "PUT", f"/apis/recordings/{rec}", {"state": "RECORDING"}).status == 200
        assert same_everywhere(fleet, cookie, f"/apis/recordings/{rec}", state) == (200, "RECORDING")
        time.sleep(2)
        for n in range(4):  # HotMarks, each on a fresh connection to another process; the first at "now"
            mark = {"title": f"m{n}"} if n == 0 else {"title": f"m{n}", "timestamp": 100_000 + n * 1000}
            r = ask(fleet[n % len(fleet)], cookie, "POST", f"/apis/recordings/{rec}/hotmarks", mark)
            assert r.status == 201, (n, r)
        assert same_everywhere(fleet, cookie, f"/apis/sources/{source}/thumbnail",
                               lambda a: (a.status, a.body[:2])) == (200, b"\xff\xd8")
        assert same_everywhere(fleet, cookie, f"/apis/sessions/{session}/thumbnail",
                               lambda a: (a.status, a.body[:2])) == (200, b"\xff\xd8")
        live = f"/apis/sources/{source}/hls/live.m3u8"
        assert same_everywhere(fleet, cookie, live, lambda a: (a.status, a.body[:7])) == (200, b"#EXTM3U")
        segment = ask(fleet[0], cookie, "GET", live).body.decode().strip().splitlines()[-1]
        assert same_everywhere(fleet, cookie, f"/apis/sources/{source}/hls/{segment}",
                               lambda a: (a.status, a.body[:1])) == (200, b"G")
        assert same_everywhere(fleet, cookie, f"/apis/assets/{rec}/hls/index.m3u8",
                               lambda a: (a.status, b"#EXT-X-PLAYLIST-TYPE:EVENT" in a.body)) == (200, True)
        # Enforced playback of the live source (`/play`, a hot route) from any process.
        r = httpx.post(f"{fleet[0].url}/admin/v1/playback-grants", json={"application": "demo-app", "source": source},
                       headers={"X-Admin-Key": "k" * 32}, timeout=30)
        assert r.status_code == 201, r.text
        r = httpx.post(f"{fleet[0].url}/v2/sessions/adobe/viewer", auth=("demo-app", ""), timeout=30)
        assert r.status_code == 202, r.text
        r = httpx.post(f"{fleet[-1].url}/v2/sessions/adobe/viewer/{r.headers['Location']}/playback",
                       auth=("demo-app", ""), data={"source": source}, timeout=30)
        assert r.status_code == 201, r.text
        assert same_everywhere(fleet, cookie, r.json()["path"], lambda a: (a.status, a.body[:7])) == (200, b"#EXTM3U")
        time.sleep(2)
        assert ask(fleet[0], cookie, "DELETE", f"/apis/recordings/{rec}").status == 200
    assert same_everywhere(fleet, cookie, f"/apis/recordings/{rec}", lambda a: a.status) == 404
    video = same_everywhere(fleet, cookie, f"/apis/assets/{rec}", lambda a: a.json()["data"])
    assert not video["recording"] and video["duration"] > 3
    hotmarks = same_everywhere(fleet, cookie, f"/apis/assets/{rec}/hotmarks",
                               lambda a: sorted(m["title"] for m in a.json()["data"]))
    assert hotmarks == ["m0", "m1", "m2", "m3"]
    assert same_everywhere(fleet, cookie, f"/apis/assets/{rec}/thumbnail",
                           lambda a: (a.status, a.body[:2])) == (200, b"\xff\xd8")
    assert same_everywhere(fleet, cookie, f"/apis/assets/{rec}/hls/index.m3u8",
                           lambda a: (a.status, b"#EXT-X-ENDLIST" in a.body)) == (200, True)
    for server in fleet:  # the files are the same from every server
        assert decoded_frames(download(server, cookie, rec, "ts"), "mpegts") > 50
        assert decoded_frames(download(server, cookie, rec, "mp4"), "mp4") > 50

    # A re-stream and its control, from any connection.
    target = free_udp_port()
    r = ask(fleet[-1], cookie, "POST", f"/apis/assets/{rec}/streams",
            {"address": "127.0.0.1", "port": target, "state": "paused"})
    assert r.status == 201, r
    stream = r.json()["data"]["id"]
    view = lambda a: (a.status, a.json()["data"]["state"])  # noqa: E731
    assert same_everywhere(fleet, cookie, f"/apis/streams/{stream}", view) == (200, "paused")
    assert same_everywhere(fleet, cookie, f"/apis/assets/{rec}/streams",
                           lambda a: [s["id"] for s in a.json()["data"]]) == [stream]
    assert ask(fleet[0], cookie, "PUT", f"/apis/streams/{stream}", {"state": "playing"}).status == 200
    assert same_everywhere(fleet, cookie, f"/apis/streams/{stream}", view) == (200, "playing")
    assert ask(fleet[-1], cookie, "POST", f"/apis/streams/{stream}/seek", {"time": 1}).status == 200
    assert ask(fleet[0], cookie, "DELETE", f"/apis/streams/{stream}").status == 200
    assert same_everywhere(fleet, cookie, f"/apis/streams/{stream}", lambda a: a.status) == 404


def test_a_scheduled_event_runs_once(fleet, clip):
    cookie = login(fleet[0])
    udp_port = free_udp_port()
    _, session = studio(fleet[0], cookie, udp_port)
    with UdpSender(clip, ("127.0.0.1", udp_port)):
        r = ask(fleet[-1], cookie, "POST", f"/apis/sessions/{session}/events",
                {"title": "show", "startTime": int(time.time()) + 2, "duration": 3, "type": "one-time",
                 "command": "record"})
        assert r.status == 201, r
        time.sleep(8)
    videos = same_everywhere(fleet, cookie, f"/apis/sessions/{session}/assets",
                             lambda a: [(v["id"], v["recording"]) for v in a.json()["data"]])
    assert len(videos) == 1 and videos[0][1] is False  # one video, finished


def test_the_receiving_server_killed_mid_recording_is_taken_over(clip, tmp_path):
    servers, cleanup = _fleet(tmp_path, "two-servers")
    try:
        cookie = login(servers[0])
        udp_port = free_udp_port()
        source, session = studio(servers[0], cookie, udp_port)
        with UdpSender(clip, ("127.0.0.1", udp_port), loops=2):
            wait_for(lambda: ask(servers[1], cookie, "GET", f"/apis/sources/{source}").json()["data"]["active"])
            r = ask(servers[1], cookie, "POST", f"/apis/sessions/{session}/recordings", {})
            assert r.status == 201, r
            rec = r.json()["data"]["id"]
            live = f"/apis/sources/{source}/hls/live.m3u8"
            assert ask(servers[1], cookie, "GET", live).status == 200  # live HLS is being cut
            time.sleep(5)
            seen = ask(servers[0], cookie, "GET", f"/apis/recordings/{rec}").json()["data"]
            before = seen["duration"]
            assert before > 3 and seen["startTime"] is not None
            (receiver,) = receivers(servers, udp_port)
            victim = next(s for s in servers if s.proc.pid == receiver)
            survivor = next(s for s in servers if s is not victim)
            victim.kill()
            killed = time.monotonic()
            wait_for(lambda: receivers(servers, udp_port) == {survivor.proc.pid} and
                     ask(survivor, cookie, "GET", f"/apis/sources/{source}").json()["data"]["active"],
                     timeout=30, every=0.1)
            takeover = time.monotonic() - killed
            print(f"\ntakeover: the source received again {takeover:.2f} s after kill -9 of its receiver")
            Path(os.environ.get("STREAMKEEPER_TAKEOVER_LOG", tmp_path / "takeover.txt")).write_text(f"{takeover:.2f}\n")
            assert takeover <= TAKEOVER_BOUND
            r = ask(survivor, cookie, "GET", f"/apis/recordings/{rec}")
            assert r.status == 200 and r.json()["data"]["state"] == "RECORDING", r
            assert r.json()["data"]["startTime"] == seen["startTime"]  # the same recording, started then
            playlist = wait_for(lambda: (lambda a: a.status == 200 and a.body)(ask(survivor, cookie, "GET", live)))
            assert b"#EXT-X-DISCONTINUITY" in playlist  # live HLS goes on after a discontinuity
            time.sleep(5)
            assert ask(survivor, cookie, "DELETE", f"/apis/recordings/{rec}").status == 200
        video = ask(survivor, cookie, "GET", f"/apis/assets/{rec}").json()["data"]
        assert not video["recording"] and video["movieTrackCount"] == 1
        assert video["duration"] > before + 3  # the same video went on
        vod = ask(survivor, cookie, "GET", f"/apis/assets/{rec}/hls/index.m3u8")
        assert vod.status == 200 and b"#EXT-X-DISCONTINUITY" in vod.body  # the gap is flagged
        ts_frames = decoded_frames(download(survivor, cookie, rec, "ts"), "mpegts")
        mp4_frames = decoded_frames(download(survivor, cookie, rec, "mp4"), "mp4")
        # Every picture on both sides of the gap decodes (25 frames a second, within a frame or two).
        assert ts_frames >= (before + 3) * 25 and abs(mp4_frames - ts_frames) <= 2, (ts_frames, mp4_frames)
    finally:
        cleanup()


def _requests_counted(servers: list[Server], route: str, status: int) -> int:
    """GET `route` answers with `status` counted by /metrics, summed over the servers (each one scrape)."""
    total = 0
    for s in servers:
        text = httpx.get(f"{s.url}/metrics", timeout=10).text
        for line in text.splitlines():
            if line.startswith("streamkeeper_http_requests_total{") and f'route="{route}"' in line \
                    and 'method="GET"' in line and f'status="{status}"' in line:
                total += int(float(line.rsplit(" ", 1)[1]))
    return total


def test_a_forwarded_media_call_is_counted_once_in_metrics(fleet):
    """The process a client reached counts the request; the media owner it was forwarded to does
    not count it again (the scrape sums every worker)."""
    cookie = login(fleet[0])
    route = "/apis/streams"  # a media route: answered by the owner (404 NoResults: no re-stream)
    before = _requests_counted(fleet, route, 404)
    everyone = set().union(*(worker_pids(s) for s in fleet))
    pids: set = set()
    sent = 0
    while sent < 12 or (pids < everyone and sent < 80):  # until every process answered some
        answer = ask(fleet[sent % len(fleet)], cookie, "GET", route)
        assert answer.status == 404 and answer.json()["name"] == "NoResults", answer
        pids.add(answer.pid)
        sent += 1
    assert pids >= everyone, "some process never answered"
    wait_for(lambda: _requests_counted(fleet, route, 404) - before >= sent, timeout=10)
    time.sleep(1.5)  # every worker has written its counters again: nothing more comes
    assert _requests_counted(fleet, route, 404) - before == sent

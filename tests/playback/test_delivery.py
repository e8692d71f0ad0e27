"""Segments delivered by a real `streamkeeper serve` over real sockets are exactly the segments cut
from the track file: through sendfile (segments kept as files), on one keep-alive connection,
and through the fallbacks (a reader too slow for the socket to take a whole segment at once,
pipelined requests, TLS, where the socket cannot be written directly)."""

from __future__ import annotations

import socket
import ssl
import time
from pathlib import Path

import httpx
import pytest

from streamkeeper.media.hls import FileSegments
from tests.certificates import self_signed
from tests.playback.test_processes import KEY, _env, import_video, playback_url
from tests.scale.servers import Server


def cut_segments(data: Path, video: str) -> list[bytes]:
    """The video's segments cut from its track file here, in this process."""
    segments = FileSegments(data / "media" / "videos" / video / "track-1.ts")
    segments.refresh()
    return [segments.read(first, end) for _, first, end in segments.segments(True)]


def start(tmp_path: Path, clip: Path, **env: str) -> tuple[Server, str, str, str]:
    """A server with the clip imported and granted: (server, its URL, the video, a playback path)."""
    server = Server(tmp_path / "data", _env(**env)).spawn()
    scheme = "https" if env else "http"
    url = f"{scheme}://127.0.0.1:{server.port}"
    deadline = time.monotonic() + 90
    with httpx.Client(base_url=url, timeout=30, verify=False) as c:
        while True:
            try:
                if c.get("/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.alive and time.monotonic() < deadline, server.log.read_text()[-3000:]
            time.sleep(0.1)
        video = import_video(c, clip)
        r = c.post("/admin/v1/playback-grants", json={"application": "demo-app", "video": video},
                   headers={"X-Admin-Key": KEY})
        assert r.status_code == 201, r.text
        _, _, path = playback_url(c, video, "alice")
    return server, url, video, path


def read_answer(f) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 answer from a socket's file: status, headers (lower-case names), body."""
    status = int(f.readline().split()[1])
    headers = {}
    while (line := f.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = f.read(int(headers["content-length"]))
    return status, headers, body


def get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode()


def test_segments_on_one_keep_alive_connection_are_the_segments_cut_from_the_track(tmp_path, clip):
    server, url, video, path = start(tmp_path, clip)
    try:
        expected = cut_segments(tmp_path / "data", video)
        assert len(expected) >= 4
        base = path.rsplit("/", 1)[0]
        with socket.create_connection(("127.0.0.1", server.port)) as sock, sock.makefile("rb") as f:
            for _ in range(3):  # cut (and kept as a file) at the first request, then sent from the file
                for seq, segment in enumerate(expected):
                    sock.sendall(get(f"{base}/track-1/{seq}.ts"))
                    status, headers, body = read_answer(f)
                    assert status == 200, body[:200]
                    assert headers["content-type"] == "video/mp2t"
                    assert len(body) == len(segment) and body == segment, f"segment {seq}"
            # the same connection still answers a refusal after the files
            sock.sendall(get("/play/forged/track-1/0.ts"))
            status, _, body = read_answer(f)
            assert (status, body) == (403, b"forged token")
        kept = list((tmp_path / "data" / "media" / "cache" / "segments").glob("*/*.ts"))
        assert len(kept) == len(expected)  # every segment kept once as a file
    finally:
        server.stop()
    assert not list((tmp_path / "data" / "media" / "cache" / "segments").glob("*/*.ts"))  # removed at exit


def test_a_slow_reader_and_pipelined_requests_get_the_same_bytes(tmp_path, clip):
    """A client whose socket takes a segment only bit by bit (sendfile sends what it can, the
    transport the rest), and requests pipelined on one connection (answered in order)."""
    server, url, video, path = start(tmp_path, clip)
    try:
        expected = cut_segments(tmp_path / "data", video)
        base = path.rsplit("/", 1)[0]
        with httpx.Client(base_url=url) as c:  # every segment cut and kept as a file first
            for seq in range(len(expected)):
                assert c.get(f"{base}/track-1/{seq}.ts").content == expected[seq]
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", server.port))
        with sock, sock.makefile("rb") as f:
            for seq in range(len(expected)):
                sock.sendall(get(f"{base}/track-1/{seq}.ts"))
                time.sleep(0.2)  # the server meets a full socket
                status, _, body = read_answer(f)
                assert status == 200 and body == expected[seq], f"segment {seq}"
            order = [2, 0, 3, 1, 2]
            sock.sendall(b"".join(get(f"{base}/track-1/{seq}.ts") for seq in order))
            for seq in order:
                status, _, body = read_answer(f)
                assert status == 200 and body == expected[seq], f"pipelined segment {seq}"
    finally:
        server.stop()


def test_over_tls_segments_go_through_the_transport_and_are_the_same_bytes(tmp_path, clip):
    cert, key = self_signed(tmp_path)
    server, url, video, path = start(tmp_path, clip, STREAMKEEPER_TLS_CERT=str(cert),
                                     STREAMKEEPER_TLS_KEY=str(key))
    try:
        expected = cut_segments(tmp_path / "data", video)
        base = path.rsplit("/", 1)[0]
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        with socket.create_connection(("127.0.0.1", server.port)) as raw, \
                context.wrap_socket(raw, server_hostname="127.0.0.1") as sock, sock.makefile("rb") as f:
            for _ in range(2):
                for seq, segment in enumerate(expected):
                    sock.sendall(get(f"{base}/track-1/{seq}.ts"))
                    status, _, body = read_answer(f)
                    assert status == 200 and body == segment, f"segment {seq}"
    finally:
        server.stop()

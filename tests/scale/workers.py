"""Which server process answered a request: each probe opens a fresh TCP connection, and the
process holding the server end of that connection (found through /proc) is the one that
answered. Lets a test insist that every worker of `serve --workers N` has seen a change,
rather than hoping the kernel spread the requests."""

from __future__ import annotations

import base64
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .servers import Server


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                found.append(int(entry.name))
    return found


def _socket_inode(server_port: int, client_port: int) -> str | None:
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, remote = fields[1], fields[2]
            if int(local.rsplit(":", 1)[1], 16) == server_port and int(remote.rsplit(":", 1)[1], 16) == client_port:
                return fields[9]
    return None


def _owner(candidates: list[int], inode: str) -> int | None:
    target = f"socket:[{inode}]"
    for pid in candidates:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                        return pid
                except OSError:
                    continue
        except OSError:
            continue
    return None


@dataclass
class Answer:
    status: int
    body: bytes
    pid: int | None


def _read_response(sock: socket.socket) -> tuple[int, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, body


def request(server: Server, method: str, path: str, *, user: str | None = None, bearer: str | None = None,
            body: bytes = b"", content_type: str | None = None) -> Answer:
    """One HTTP/1.1 request on a new connection; the answer and the pid of the process that gave it."""
    headers = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{server.port}", f"Content-Length: {len(body)}"]
    if user is not None:
        headers.append("Authorization: Basic " + base64.b64encode(f"{user}:".encode()).decode())
    if bearer is not None:
        headers.append(f"Authorization: Bearer {bearer}")
    if content_type:
        headers.append(f"Content-Type: {content_type}")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        client_port = sock.getsockname()[1]
        sock.sendall(("\r\n".join(headers) + "\r\n\r\n").encode() + body)
        status, data = _read_response(sock)
        assert server.proc is not None
        candidates = [server.proc.pid, *_children(server.proc.pid)]
        inode = _socket_inode(server.port, client_port)
        pid = _owner(candidates, inode) if inode else None
    return Answer(status, data, pid)


def worker_pids(server: Server) -> set[int]:
    """The processes that serve HTTP: the server itself, or its uvicorn workers."""
    assert server.proc is not None
    if server.workers <= 1:
        return {server.proc.pid}
    # uvicorn's workers are the children that listen on the port (not its resource tracker).
    return {pid for pid in _children(server.proc.pid) if _listens(pid)}


def _listens(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"resource_tracker" not in cmdline


PROPAGATION_BOUND = 1.0  # what the catalog watcher promises
SLACK = 0.5  # for a busy test machine


def everyone_answers(servers: list[Server], probe: Callable[[Server], Answer], expected: int,
                     since: float, max_probes: int = 400) -> dict[int, int]:
    """From `since` (time.monotonic() when a change was acknowledged) plus the propagation bound,
    every serving process of every server answers `probe` with `expected`: probes over fresh
    connections until each process has answered at least once; any other answer fails."""
    time.sleep(max(0.0, since + PROPAGATION_BOUND + SLACK - time.monotonic()))
    everyone = set().union(*(worker_pids(s) for s in servers))
    answers: dict[int, list[int]] = {}
    for n in range(max_probes):
        answer = probe(servers[n % len(servers)])
        if answer.pid is None:
            continue
        answers.setdefault(answer.pid, []).append(answer.status)
        assert answer.status == expected, (
            f"process {answer.pid} answered {answer.status} {answer.body[:300]!r}, expected {expected}")
        if set(answers) >= everyone:
            return {pid: len(statuses) for pid, statuses in answers.items()}
    raise AssertionError(f"processes {sorted(everyone - set(answers))} never answered in {max_probes} probes")

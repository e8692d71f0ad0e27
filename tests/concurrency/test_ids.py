"""Session ids: unique, verifiable, and never shared by a forked process."""

from __future__ import annotations

import os

import pytest

from streamkeeper.concurrency.ids import SessionIds

IDS = SessionIds(b"s" * 32)


def test_ids_are_unique_and_bound_to_their_viewer():
    issued = {IDS.issue("app", "idp", "viewer") for _ in range(20_000)}
    assert len(issued) == 20_000
    sid = next(iter(issued))
    assert IDS.issued(sid, "app", "idp", "viewer")
    assert not IDS.issued(sid, "app", "idp", "someone-else")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX")
def test_a_forked_child_never_issues_the_parents_next_ids():
    IDS.issue("app", "idp", "viewer")  # the parent holds a partly used pool of random bytes
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report its next ids and leave at once
        os.close(read)
        os.write(write, ",".join(IDS.issue("app", "idp", "viewer") for _ in range(50)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = set(pipe.read().split(","))
    os.waitpid(pid, 0)
    parent = {IDS.issue("app", "idp", "viewer") for _ in range(50)}
    assert len(child) == 50 and not child & parent

"""Session ids: unique, verifiable, and never shared by a forked process."""

from __future__ import annotations

import os

import pytest

from streamkeeper.concurrency.ids import SessionIds

IDS = SessionIds(b"s" * 32)


def test_ids_are_unique_and_bound_to_their_viewer():
    issued = {IDS.new("app", "idp", "viewer")[0] for _ in range(20_000)}
    assert len(issued) == 20_000
    sid = next(iter(issued))
    assert IDS.issued(sid, "app", "idp", "viewer")
    assert not IDS.issued(sid, "app", "idp", "someone-else")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX")
def test_a_forked_child_never_issues_the_parents_next_ids():
    IDS.new("app", "idp", "viewer")[0]  # the parent holds a partly used pool of random bytes
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report its next ids and leave at once
        os.close(read)
        os.write(write, ",".join(IDS.new("app", "idp", "viewer")[0] for _ in range(50)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = set(pipe.read().split(","))
    os.waitpid(pid, 0)
    parent = {IDS.new("app", "idp", "viewer")[0] for _ in range(50)}
    assert len(child) == 50 and not child & parent


def test_ids_minted_before_the_keyed_mac_still_verify_and_codes_come_with_each_id():
    """An id minted as earlier versions did (a one-shot HMAC of the viewer and the random part)
    still verifies, so sessions survive an upgrade; each new id comes with its own code."""
    import base64
    import hmac

    rand = b"0123456789"
    tag = hmac.digest(b"s" * 32, b"\x00".join((b"app", b"idp", b"viewer", rand)), "sha256")[:8]
    old = base64.urlsafe_b64encode(rand + tag).rstrip(b"=").decode()
    assert IDS.issued(old, "app", "idp", "viewer")
    assert not SessionIds(b"t" * 32).issued(old, "app", "idp", "viewer")
    pairs = [IDS.new("app", "idp", "viewer") for _ in range(1000)]
    codes = {code for _, code in pairs}
    assert len(codes) == 1000
    assert all(len(code) == 8 and base64.urlsafe_b64decode(code) for code in codes)
    assert all(IDS.issued(sid, "app", "idp", "viewer") for sid, _ in pairs)

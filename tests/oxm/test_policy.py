"""`GET/PUT /oxm/v1/streampolicy/{tenant}`: roles, tenants, malformed bodies, persistence."""

from __future__ import annotations

POLICY = "/oxm/v1/streampolicy"


async def test_unset_policy_reads_as_not_enforced(oxm):
    r = await oxm.client.get(f"{POLICY}/acme", headers=oxm.auth("ann"))
    assert r.status_code == 200
    assert r.json() == {"maxPerUser": 0, "maxPerAsset": 0, "maxDevices": 0}


async def test_admin_sets_policy_and_every_user_of_the_tenant_reads_it(oxm):
    r = await oxm.set_policy(5, 2, 0)
    assert r.status_code == 200
    assert r.json() == {"maxPerUser": 5, "maxPerAsset": 2, "maxDevices": 0}
    read = await oxm.client.get(f"{POLICY}/acme", headers=oxm.auth("ann"))
    assert read.json() == {"maxPerUser": 5, "maxPerAsset": 2, "maxDevices": 0}
    # Replaced, not merged.
    assert (await oxm.set_policy(1, 1, 1)).status_code == 200
    assert (await oxm.client.get(f"{POLICY}/acme", headers=oxm.auth("ann"))).json() == {
        "maxPerUser": 1, "maxPerAsset": 1, "maxDevices": 1}


async def test_policy_survives_a_restart(tmp_path, clock, es_keys, catalog_db):
    from .conftest import start_oxm

    first = await start_oxm(tmp_path, clock, es_keys, catalog_db)
    try:
        assert (await first.set_policy(2, 1, 0)).status_code == 200
    finally:
        await first.running.__aexit__(None, None, None)
    second = await start_oxm(tmp_path, clock, es_keys, catalog_db)
    try:
        assert (await second.streaming("ann", "a", device="tv")).status_code == 204
        assert (await second.streaming("ann", "a", device="phone")).status_code == 409
    finally:
        await second.running.__aexit__(None, None, None)


async def test_only_the_tenant_admin_may_change_it(oxm_lite):
    oxm = oxm_lite
    body = {"maxPerUser": 1, "maxPerAsset": 1, "maxDevices": 1}
    plain_user = await oxm.client.put(f"{POLICY}/acme", json=body, headers=oxm.auth("ann"))
    assert plain_user.status_code == 403
    assert plain_user.json()["code"] == 1004
    other_admin = await oxm.client.put(f"{POLICY}/acme", json=body, headers=oxm.auth("boss", "globex", admin=True))
    assert other_admin.status_code == 403
    assert other_admin.json()["code"] == 1004
    assert (await oxm.client.get(f"{POLICY}/acme", headers=oxm.auth("ann"))).json()["maxPerUser"] == 0


async def test_another_tenants_policy_cannot_be_read(oxm_lite):
    oxm = oxm_lite
    assert (await oxm.set_policy(4, 2, 0)).status_code == 200
    r = await oxm.client.get(f"{POLICY}/acme", headers=oxm.auth("ann", "globex", admin=True))
    assert r.status_code == 403
    assert r.json()["code"] == 1003
    assert "maxPerUser" not in r.json()


async def test_unknown_tenant_is_404_1040(oxm_lite):
    oxm = oxm_lite
    r = await oxm.client.get(f"{POLICY}/nobody", headers=oxm.auth("ann"))
    assert r.status_code == 404
    assert r.json()["code"] == 1040
    body = {"maxPerUser": 1, "maxPerAsset": 1, "maxDevices": 1}
    r = await oxm.client.put(f"{POLICY}/nobody", json=body, headers=oxm.auth("boss", admin=True))
    assert (r.status_code, r.json()["code"]) == (404, 1040)


async def test_malformed_bodies(oxm_lite):
    oxm = oxm_lite
    admin = oxm.auth("boss", admin=True)
    cases = [
        (b"not json", 1103),
        (b"[1, 2, 3]", 1103),
        (b"", 1103),
        (b'{"maxPerUser": 1, "maxPerAsset": 1}', 1104),
        (b'{"maxPerUser": "5", "maxPerAsset": 1, "maxDevices": 0}', 1104),
        (b'{"maxPerUser": -1, "maxPerAsset": 0, "maxDevices": 0}', 1104),
        (b'{"maxPerUser": 1.5, "maxPerAsset": 0, "maxDevices": 0}', 1104),
        (b'{"maxPerUser": true, "maxPerAsset": 0, "maxDevices": 0}', 1104),
        (b'{"maxPerUser": 1, "maxPerAsset": 0, "maxDevices": 0, "maxFun": 1}', 1104),
        (b'{"maxPerUser": 2, "maxPerAsset": 3, "maxDevices": 0}', 1105),
    ]
    for raw, code in cases:
        r = await oxm.client.put(f"{POLICY}/acme", content=raw,
                                 headers={**admin, "Content-Type": "application/json"})
        assert r.status_code == 400, raw
        assert r.json()["code"] == code, raw
    # 0 means "not enforced": per-asset limits under an unlimited per-user limit are fine.
    ok = await oxm.client.put(f"{POLICY}/acme", json={"maxPerUser": 0, "maxPerAsset": 3, "maxDevices": 0},
                              headers=admin)
    assert ok.status_code == 200


async def test_config_file_sets_stream_policies(tmp_path, clock, es_keys):
    from .conftest import start_oxm

    extra = '\n[[oxm.streamPolicies]]\ntenant = "acme"\nmaxPerUser = 1\n'
    api = await start_oxm(tmp_path, clock, es_keys, {}, config_extra=extra)
    try:
        r = await api.client.get(f"{POLICY}/acme", headers=api.auth("ann"))
        assert r.json() == {"maxPerUser": 1, "maxPerAsset": 0, "maxDevices": 0}
        assert (await api.streaming("ann", "a", device="tv")).status_code == 204
        assert (await api.streaming("ann", "b", device="tv")).status_code == 409
    finally:
        await api.running.__aexit__(None, None, None)


async def test_config_file_with_a_broken_oxm_section_stops_the_start(tmp_path, clock, es_keys):
    import pytest

    from streamkeeper.admin.config_file import ConfigFileError

    from .conftest import start_oxm

    for extra in ('\n[[oxm.streamPolicies]]\ntenant = "acme"\nmaxPerUser = 1\nmaxPerAsset = 2\n',
                  '\n[[oxm.streamPolicies]]\ntenant = "nobody"\nmaxPerUser = 1\n',
                  '\n[[oxm.tokenKeys]]\nid = "k"\ntenant = "acme"\nalgorithm = "HS256"\nsecret = "short"\n'):
        with pytest.raises(ConfigFileError):
            await start_oxm(tmp_path / str(abs(hash(extra))), clock, es_keys, {}, config_extra=extra)

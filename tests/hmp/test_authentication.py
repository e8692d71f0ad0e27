"""Logging in and out with the `calypso-session-id` cookie, first-start administrator, throttle."""

from __future__ import annotations

from tests.hmp.conftest import ADMIN_PASSWORD, PASSWORD, assert_error, start
from tests.conftest import Running, make_settings


async def test_login_sets_an_httponly_cookie_and_describes_the_session(hmp):
    client = hmp.new_client()
    r = await client.post("/apis/authentication/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert r.status_code == 201
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("calypso-session-id=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Max-Age=7200" in cookie
    data = r.json()["data"]
    assert data["username"] == "admin" and data["admin"] is True
    assert data["sessionId"] == client.cookies["calypso-session-id"]
    assert [role["name"] for role in data["roles"]] == ["Administrator"]
    assert data["expires"].endswith("Z")
    info = await client.get("/apis/authentication/login")
    assert info.status_code == 200
    assert info.json()["data"]["username"] == "admin"


async def test_session_info_without_or_with_a_bad_cookie_is_401(hmp):
    client = hmp.new_client()
    assert_error(await client.get("/apis/authentication/login"), 401, "020001", "UserNotAuthorized")
    client.cookies.set("calypso-session-id", "forged")
    assert_error(await client.get("/apis/authentication/login"), 401, "020001", "UserNotAuthorized")
    assert_error(await client.get("/apis/users/enabled"), 401, "020001", "UserNotAuthorized")


async def test_wrong_password_and_unknown_user_are_invalid_credentials(hmp):
    client = hmp.new_client()
    for body in ({"username": "admin", "password": "nope"}, {"username": "ghost", "password": "nope"}):
        r = await client.post("/apis/authentication/login", json=body)
        assert_error(r, 401, "020002", "InvalidCredentials")
        assert "set-cookie" not in r.headers


async def test_missing_or_mistyped_credentials_are_input_validation(hmp):
    client = hmp.new_client()
    for body in ({"username": "admin"}, {"password": "x"}, {"username": 5, "password": "x"},
                 {"username": "admin", "password": None}, [], "admin"):
        assert_error(await client.post("/apis/authentication/login", json=body), 400, "010001", "InputValidation")
    r = await client.post("/apis/authentication/login", content=b"{not json", headers={"content-type": "application/json"})
    assert_error(r, 400, "010001", "InputValidation")
    r = await client.post("/apis/authentication/login")
    assert_error(r, 400, "010001", "InputValidation")


async def test_user_without_any_role_cannot_log_in(hmp):
    await hmp.add_user("norole", roles=())
    r = await hmp.new_client().post("/apis/authentication/login", json={"username": "norole", "password": PASSWORD})
    body = assert_error(r, 401, "020001", "UserNotAuthorized")
    assert body["message"] == "User has no roles assigned"


async def test_role_through_a_group_is_enough_to_log_in(hmp):
    r = await hmp.manage("POST", "/groups", {"groupname": "editors", "roles": ["content-creator"]})
    assert r.status_code == 201
    await hmp.add_user("member", roles=(), groups=("editors",))
    client = await hmp.login("member")
    data = (await client.get("/apis/authentication/login")).json()["data"]
    assert data["roleIds"] == ["content-creator"] and data["groups"] == [r.json()["id"]]


async def test_disabled_user_cannot_log_in_and_is_logged_out(hmp):
    user = await hmp.add_user("leaver")
    client = await hmp.login("leaver")
    assert (await hmp.manage("PUT", f"/users/{user['id']}", {"enabled": False})).status_code == 200
    assert_error(await client.get("/apis/authentication/login"), 401, "020001", "UserNotAuthorized")
    r = await hmp.new_client().post("/apis/authentication/login", json={"username": "leaver", "password": PASSWORD})
    assert_error(r, 401, "020002", "InvalidCredentials")


async def test_logout_ends_the_session_and_a_second_logout_is_404(hmp):
    client = await hmp.user("bye")
    r = await client.delete("/apis/authentication/login")
    assert r.status_code == 200 and r.content == b""
    assert_error(await client.get("/apis/authentication/login"), 401, "020001", "UserNotAuthorized")
    assert_error(await client.delete("/apis/authentication/login"), 404, "040022", "AuthSessionNotFound")


async def test_session_expires_when_idle_and_slides_when_used(hmp, clock):
    client = await hmp.user("idle")
    clock.advance(7000)
    r = await client.get("/apis/authentication/login")
    assert r.status_code == 200 and "Max-Age=7200" in r.headers["set-cookie"]
    clock.advance(7000)
    assert (await client.get("/apis/authentication/login")).status_code == 200
    clock.advance(7201)
    assert_error(await client.get("/apis/authentication/login"), 401, "020001", "UserNotAuthorized")


async def test_failed_logins_are_throttled_per_user_then_released(hmp, clock):
    await hmp.add_user("target")
    client = hmp.new_client()
    for _ in range(5):
        r = await client.post("/apis/authentication/login", json={"username": "target", "password": "wrong"})
        assert_error(r, 401, "020002", "InvalidCredentials")
    r = await client.post("/apis/authentication/login", json={"username": "target", "password": PASSWORD})
    assert_error(r, 401, "020003", "TooManyFailedLogins")
    assert int(r.headers["retry-after"]) > 0
    clock.advance(15 * 60)
    assert (await client.post("/apis/authentication/login",
                              json={"username": "target", "password": PASSWORD})).status_code == 201


async def test_generated_admin_password_is_logged_once(tmp_path, clock, caplog):
    """The generated password is in the log of the first start only (one log line: on a terminal
    or in a JSON log alike, nothing else prints it)."""
    settings = make_settings(tmp_path)
    caplog.set_level("INFO")
    async with Running(settings, clock) as client:
        lines = [r.getMessage() for r in caplog.records if "password '" in r.getMessage()]
        assert len(lines) == 1
        password = lines[0].split("password '")[1].split("'")[0]
        r = await client.post("/apis/authentication/login", json={"username": "admin", "password": password})
        assert r.status_code == 201
    caplog.clear()
    async with Running(settings, clock):
        assert not [r for r in caplog.records if "password '" in r.getMessage()]


async def test_logins_survive_a_restart(tmp_path, clock, catalog_db):
    first = await start(tmp_path, clock, catalog_db)
    cookie = first.admin.cookies["calypso-session-id"]
    await first.running.__aexit__(None, None, None)
    second = await start(tmp_path, clock, catalog_db)
    try:
        client = second.new_client()
        client.cookies.set("calypso-session-id", cookie)
        assert (await client.get("/apis/authentication/login")).status_code == 200
    finally:
        await second.close()
        await second.running.__aexit__(None, None, None)


async def test_unsupported_content_type_is_415_and_wrong_method_405(hmp):
    r = await hmp.new_client().post("/apis/authentication/login", content=b"username=admin",
                                    headers={"content-type": "application/x-www-form-urlencoded"})
    assert_error(r, 415, "100000", "UnsupportedMediaType")
    assert_error(await hmp.admin.patch("/apis/authentication/login"), 405, "050000", "MethodNotAllowed")
    assert_error(await hmp.admin.get("/apis/no/such/thing"), 404, "040000", "NotFound")

"""The `streamkeeper admin` commands and declarative config files."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import Running, basic, make_settings


def cli(data_dir, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "streamkeeper", "admin", "--data-dir", str(data_dir), *args],
        capture_output=True, text=True, timeout=60,
    )


CONFIG = """
[[tenants]]
id = "acme"
name = "Acme"

[[policies]]
id = "family"
tenant = "acme"
name = "Family plan"
  [[policies.rules]]
  name = "4 streams"
  threshold = 4
  [[policies.rules]]
  name = "1 live per channel"
  threshold = 1
  scope = ["channel"]
  condition = "contentType = live"

[[applications]]
id = "acme-web"
tenant = "acme"
name = "Acme web"
heartbeatInterval = 30
policies = ["family"]
"""


def test_cli_creates_and_lists(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    assert cli(data, "tenant", "create", "acme", "--name", "Acme").returncode == 0
    rule = json.dumps({"tenant": "acme", "name": "Two", "rules": [{"name": "2", "threshold": 2}]})
    assert cli(data, "policy", "create", "two", "--json", rule).returncode == 0
    made = cli(data, "app", "create", "web", "--tenant", "acme", "--name", "Web", "--policies", "two")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["policies"] == ["two"]
    upd = cli(data, "app", "update", "web", "--disable", "--interval", "15")
    assert json.loads(upd.stdout)["enabled"] is False and json.loads(upd.stdout)["heartbeatInterval"] == 15
    listed = json.loads(cli(data, "app", "list").stdout)
    assert [a["id"] for a in listed] == ["web"]
    bad = cli(data, "app", "create", "x", "--tenant", "acme", "--name", "X", "--policies", "nope")
    assert bad.returncode == 1 and "nope" in bad.stderr
    assert cli(data, "tenant", "delete", "acme").returncode == 1  # still owns things


async def test_config_file_is_applied_at_start(tmp_path, clock):
    path = tmp_path / "streamkeeper.toml"
    path.write_text(CONFIG)
    async with Running(make_settings(tmp_path, config=path), clock) as c:
        assert (await c.get("/v2/metadata", auth=basic("acme-web"))).json() == ["contentType", "channel"]
        live = {"contentType": "live", "channel": "news"}
        assert (await c.post("/v2/sessions/acme/u", auth=basic("acme-web"), data=live)).status_code == 202
        assert (await c.post("/v2/sessions/acme/u", auth=basic("acme-web"), data=live)).status_code == 409
        vod = {"contentType": "vod", "channel": "news"}
        assert (await c.post("/v2/sessions/acme/u", auth=basic("acme-web"), data=vod)).status_code == 202
        # A config file names what it manages; the demo is not loaded alongside it.
        assert (await c.get("/v2/metadata", auth=basic("demo-app"))).status_code == 401


def test_cli_apply_reads_the_same_file(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(CONFIG)
    data = tmp_path / "data"
    applied = cli(data, "apply", str(path))  # apply may make the data dir: it prepares a catalog
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.splitlines() == ["created   tenant acme", "created   policy family",
                                           "created   application acme-web"]
    path.write_text(CONFIG.replace("heartbeatInterval = 30", "heartbeatInterval = 20"))
    again = cli(data, "apply", str(path))
    assert again.stdout.splitlines() == ["unchanged tenant acme", "unchanged policy family",
                                         "changed   application acme-web"]
    policy = json.loads(cli(data, "policy", "show", "family").stdout)
    assert policy["rules"][1]["condition"] == "contentType = live"
    broken = tmp_path / "broken.toml"
    broken.write_text("[[tenants]]\nid = 3\n")
    out = cli(data, "apply", str(broken))
    assert out.returncode == 1 and "broken.toml" in out.stderr

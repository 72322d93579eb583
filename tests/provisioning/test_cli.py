"""Every huduma-provision command, run as the technician runs it; errors are one line, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from PIL import Image

from centre_server.contract import DeviceBundle
from provisioning.cli import cli

BIN = Path(sys.executable).parent


def run(*args: str, ok: bool = True):
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code != 0, result.output
        assert "Traceback" not in result.output
    return result


def all_commands(group: click.Group = cli, path: tuple[str, ...] = ()):
    for name, command in sorted(group.commands.items()):
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from all_commands(command, (*path, name))


def test_every_command_has_help_ending_with_an_example():
    names = {" ".join(p) for p, _ in all_commands()}
    for verb in ("init", "show", "services", "services list", "services enable", "services disable",
                 "services edit", "services export", "services import", "counters", "counters add",
                 "counters remove", "counters assign", "add-device", "list-devices", "revoke-device",
                 "rotate-device", "add-staff", "reset-password", "disable-staff", "broker-config", "bundle",
                 "audit"):
        assert verb in names, f"missing command {verb}"
    for path, command in all_commands():
        result = run(*path, "--help")
        assert "Usage: " in result.output
        last = command.help.strip().splitlines()[-1].strip()
        prefix = "Example: huduma-provision " + (" ".join(path) if not isinstance(command, click.Group) else "")
        assert last.startswith(prefix.rstrip()), f"{' '.join(path)}: help must end with an example, got {last!r}"
        assert "Example:" in result.output
        assert run(*path, "-h").output == result.output


def test_init_demo_and_refusals(tmp_path):
    d = tmp_path / "c"
    out = run("init", d, "--demo", "--centre-id", "kisumu", "--name", "Huduma Centre Kisumu",
              "--public-url", "http://192.168.8.10:8000").output
    assert "created Huduma Centre Kisumu (kisumu)" in out and "staff clerk" in out
    demo = run("init", tmp_path / "demo", "--demo").output  # the demo's name already says "(demo)": once
    assert "created Huduma Centre GPO (demo) in" in demo and "(demo) (demo)" not in demo
    bundle = DeviceBundle.model_validate_json((d / "devices" / "kiosk-1.json").read_text())
    assert bundle.centre_id == "kisumu" and bundle.server_url == "http://192.168.8.10:8000"
    assert bundle.mqtt_url == "mqtt://192.168.8.10:1883"  # devices reach the broker on the LAN address
    toml = (d / "centre.toml").read_text()
    assert 'username = "centre-server"' in toml and (d / "centre.toml").stat().st_mode & 0o077 == 0
    assert "already holds a centre" in run("init", d, ok=False).output
    assert "centre id" in run("init", tmp_path / "x", "--centre-id", "Bad Id", ok=False).output
    assert "mqtt://host:port" in run("init", tmp_path / "y", "--mqtt", "localhost", ok=False).output
    run("init", d, "--force")
    assert not (d / "devices" / "kiosk-1.json").exists()
    assert "not found" in run("show", tmp_path / "nowhere", ok=False).output


def test_show_and_audit(centre):
    out = run("show", centre.path).output
    assert "Huduma Centre GPO (demo) (demo)" in out and "2 kiosk, 1 display, 1 bridge" in out
    info = json.loads(run("show", centre.path, "--json").stdout)
    assert info["services"] == 39 and info["counters"] == 30 and info["staff"]["clerk"] == 1
    run("revoke-device", centre.path, "kiosk-2", "--reason", "stolen")
    rows = json.loads(run("audit", centre.path, "--json", "--limit", "1").stdout)
    assert rows[0]["action"] == "revoke-device" and rows[0]["detail"]["reason"] == "stolen"
    assert "revoke-device" in run("audit", centre.path, "--action", "revoke-device").output
    assert "(no entries)" in run("audit", centre.path, "--action", "nothing-like-this").output


def test_services_commands(centre, tmp_path):
    d = centre.path
    rows = json.loads(run("services", "list", d, "--json").stdout)
    assert len(rows) == 39 and all(r["enabled"] for r in rows)
    assert "passport" in run("services", "list", d).output
    run("services", "disable", d, "passport", "work-permit")
    rows = {r["id"]: r for r in json.loads(run("services", "list", d, "--json").stdout)}
    assert not rows["passport"]["enabled"] and not rows["work-permit"]["enabled"]
    run("services", "enable", d, "passport")
    assert json.loads(run("services", "list", d, "--json").stdout)[[r["id"] for r in rows.values()].index(
        "passport")]["enabled"]
    assert "no such service: nope" in run("services", "disable", d, "nope", ok=False).output
    run("services", "edit", d, "good-conduct", "--target-min", "20", "--name-sw", "Cheti cha tabia njema")
    rows = {r["id"]: r for r in json.loads(run("services", "list", d, "--json").stdout)}
    assert rows["good-conduct"]["target_wait_min"] == 20 and rows["good-conduct"]["name_sw"] == "Cheti cha tabia njema"
    assert "nothing to change" in run("services", "edit", d, "good-conduct", ok=False).output
    assert "already used" in run("services", "edit", d, "good-conduct", "--prefix", "A", ok=False).output
    assert "between 1 and 600" in run("services", "edit", d, "good-conduct", "--target-min", "0", ok=False).output
    # export, edit in a "spreadsheet", import
    csv_path = tmp_path / "menu.csv"
    assert "wrote 39 services" in run("services", "export", d, "--out", csv_path).output
    assert run("services", "export", d).output == csv_path.read_text()
    lines = csv_path.read_text().splitlines()
    kept = [ln for ln in lines if not ln.startswith("kplc,")]
    kept.append("huduma-card,HU,Huduma Card,Kadi ya Huduma,Identity,Utambulisho,20,5,1")
    csv_path.write_text("\n".join(kept) + "\n")
    out = run("services", "import", d, csv_path).output
    assert "added 1, updated 38, disabled 1 (kplc)" in out
    rows = {r["id"]: r for r in json.loads(run("services", "list", d, "--json").stdout)}
    assert rows["huduma-card"]["prefix"] == "HU" and not rows["kplc"]["enabled"]
    bad = tmp_path / "bad.csv"
    bad.write_text("id,prefix\nx,Y\n")
    assert "menu lacks columns" in run("services", "import", d, bad, ok=False).output
    bad.write_bytes(b"\xff\xfe\x00garbage")
    assert "not UTF-8" in run("services", "import", d, bad, ok=False).output
    assert len(json.loads(run("services", "list", d, "--json").stdout)) == 40  # nothing lost


def test_counters_commands(centre):
    d = centre.path
    rows = json.loads(run("counters", "list", d, "--json").stdout)
    assert len(rows) == 30 and rows[0]["bridges"] == ["bridge-1"]
    run("counters", "add", d, "c31", "--services", "kra-pin,kra-returns")
    rows = {r["id"]: r for r in json.loads(run("counters", "list", d, "--json").stdout)}
    assert rows["c31"] == {"id": "c31", "name": "31", "state": "closed", "services": ["kra-pin", "kra-returns"],
                           "bridges": []}
    assert "already exists" in run("counters", "add", d, "c31", ok=False).output
    assert "no such service" in run("counters", "add", d, "c32", "--services", "nope", ok=False).output
    run("counters", "assign", d, "c31", "--services", "helb", "--name", "31A")
    rows = {r["id"]: r for r in json.loads(run("counters", "list", d, "--json").stdout)}
    assert rows["c31"]["services"] == ["helb"] and rows["c31"]["name"] == "31A"
    assert "no such counter" in run("counters", "assign", d, "c99", "--services", "helb", ok=False).output
    assert "driven by bridge-1" in run("counters", "remove", d, "c01", ok=False).output
    run("counters", "remove", d, "c31")
    assert "c31" not in run("counters", "list", d).output


def test_device_commands(centre, tmp_path):
    d = centre.path
    out = run("add-device", d, "--kind", "bridge", "--id", "bridge-2", "--counters", "c04,c05",
              "--note", "hall B").output
    bundle = json.loads(out)
    assert bundle["token"] and bundle["counters"] == ["c04", "c05"] and bundle["role"] == "bridge"
    assert (d / "devices" / "bridge-2.png").is_file()
    assert "already enrolled" in run("add-device", d, "--kind", "kiosk", "--id", "bridge-2", ok=False).output
    assert "needs the counters" in run("add-device", d, "--kind", "bridge", "--id", "b3", ok=False).output
    assert "no such counter" in run("add-device", d, "--kind", "bridge", "--id", "b3", "--counters", "c77",
                                    ok=False).output
    assert "only a bridge" in run("add-device", d, "--kind", "kiosk", "--id", "k3", "--counters", "c01",
                                  ok=False).output
    assert "server's own" in run("add-device", d, "--kind", "kiosk", "--id", "centre-server", ok=False).output
    # a 300-character id is told it is too long, not that it holds a forbidden character
    assert "too long (300 characters; at most 40)" in run("add-device", d, "--kind", "kiosk", "--id", "k" * 300,
                                                          ok=False).output
    assert "letters, digits" in run("add-device", d, "--kind", "kiosk", "--id", "Kiosk 3", ok=False).output
    listing = run("list-devices", d).output
    assert "bridge-2" in listing and "c04,c05" in listing and "centre-server" in listing
    run("revoke-device", d, "bridge-2", "--reason", "replaced")
    rows = {r["id"]: r for r in json.loads(run("list-devices", d, "--json").stdout)}
    assert rows["bridge-2"]["state"] == "revoked" and not (d / "devices" / "bridge-2.json").exists()
    assert "bridge-2" not in run("list-devices", d, "--active").output
    assert "already revoked" in run("revoke-device", d, "bridge-2", ok=False).output
    assert "cannot be revoked" in run("revoke-device", d, "centre-server", ok=False).output
    assert "no such device" in run("revoke-device", d, "ghost", ok=False).output
    assert "--reinstate" in run("rotate-device", d, "bridge-2", ok=False).output
    fresh = json.loads(run("rotate-device", d, "bridge-2", "--reinstate", "--counters", "c06").stdout)
    assert fresh["counters"] == ["c06"] and fresh["token"] != bundle["token"]
    # rotating the server's own broker user rewrites centre.toml
    before = (d / "centre.toml").read_text()
    assert "restart the centre server" in run("rotate-device", d, "centre-server").output
    assert (d / "centre.toml").read_text() != before


def test_bundle_writes_json_and_a_qr_that_reads_back(centre, tmp_path):
    import zxingcpp

    d, usb = centre.path, tmp_path / "usb"
    before = centre.bundle("display-1")
    out = run("bundle", d, "display-1", "--out", usb).output
    assert "new credentials" not in out  # the enrolment copy is still valid: no rotation
    written = json.loads((usb / "display-1.json").read_text())
    assert written["token"] == before["token"]
    png = Image.open(usb / "display-1.png")
    decoded = zxingcpp.read_barcodes(png)
    # zxing may report the same symbol twice (two finder-pattern fits): one distinct QR payload is what counts
    texts = {d.text for d in decoded if "QR" in str(d.format)}
    assert len(texts) == 1 and json.loads(texts.pop()) == written
    DeviceBundle.model_validate(written)
    png.save(artifacts() / "bundle-display-1.png")
    # the enrolment copy is gone (lost laptop, wiped folder): bundle must issue new credentials
    (d / "devices" / "display-1.json").unlink()
    out = run("bundle", d, "display-1").output
    assert "new credentials" in out
    assert centre.bundle("display-1")["token"] != before["token"]
    assert "new credentials" in run("bundle", d, "kiosk-1", "--rotate").output
    assert "server has no bundle" in run("bundle", d, "centre-server", ok=False).output


def artifacts() -> Path:
    from tests.conftest import artifacts_dir

    return artifacts_dir("provisioning")


def test_staff_commands(centre):
    d = centre.path
    created = json.loads(run("add-staff", d, "--username", "wanjiku", "--role", "clerk",
                             "--full-name", "Wanjiku Kamau").stdout)
    assert created["role"] == "clerk" and len(created["password"]) == 14
    assert "already exists" in run("add-staff", d, "--username", "wanjiku", "--role", "clerk", ok=False).output
    assert "wanjiku" in run("list-staff", d).output
    reset = json.loads(run("reset-password", d, "wanjiku").stdout)
    assert reset["password"] != created["password"]
    assert "no such member" in run("reset-password", d, "ghost", ok=False).output
    assert "disabled wanjiku (clerk)" in run("disable-staff", d, "wanjiku").output
    rows = {r["username"]: r for r in json.loads(run("list-staff", d, "--json").stdout)}
    assert rows["wanjiku"]["disabled"]
    assert "enabled wanjiku" in run("disable-staff", d, "wanjiku", "--enable").output


def test_broker_config_writes_a_locked_down_mosquitto(centre, tmp_path):
    d, out_dir = centre.path, tmp_path / "mosq"
    out = run("broker-config", d, "--out", out_dir, "--port", "1884", "--bind", "127.0.0.1").output
    assert "5 users" in out
    conf = (out_dir / "mosquitto.conf").read_text()
    for line in ("allow_anonymous false", f"password_file {out_dir.resolve()}/passwd",
                 f"acl_file {out_dir.resolve()}/acl", "listener 1884 127.0.0.1", "persistence true"):
        assert line in conf
    passwd = (out_dir / "passwd").read_text().splitlines()
    assert sorted(line.split(":")[0] for line in passwd) == ["bridge-1", "centre-server", "display-1",
                                                              "kiosk-1", "kiosk-2"]
    assert all(line.split(":", 1)[1].startswith("$7$101$") for line in passwd)
    assert (out_dir / "passwd").stat().st_mode & 0o077 == 0
    assert "ExecStart=/usr/sbin/mosquitto -c" in (out_dir / "mosquitto.service.d" / "huduma.conf").read_text()
    # the folder is remembered: revoking rewrites the files
    run("revoke-device", d, "kiosk-2")
    assert "kiosk-2" not in (out_dir / "passwd").read_text() and "kiosk-2" not in (out_dir / "acl").read_text()
    assert "bind address" in run("broker-config", d, "--out", out_dir, "--bind", "everywhere", ok=False).output


def test_the_installed_command_runs_and_fails_cleanly(centre):
    exe = str(BIN / "huduma-provision")
    ok = subprocess.run([exe, "list-devices", str(centre.path)], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and "display-1" in ok.stdout
    bad = subprocess.run([exe, "revoke-device", str(centre.path), "ghost"], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 1 and bad.stderr.strip() == \
        "Error: no such device: ghost (see `huduma-provision list-devices`)"
    assert "Traceback" not in bad.stderr


@pytest.mark.parametrize("args", [["services", "import"], ["counters", "add"], ["bundle"]])
def test_missing_arguments_are_usage_errors(centre, args):
    result = CliRunner().invoke(cli, [*args, str(centre.path)])
    assert result.exit_code == 2 and "Missing argument" in result.output

"""The rules themselves: Mosquitto's hash format, topic-filter cover, and the table of roles."""

from __future__ import annotations

import subprocess

import pytest

from centre_server.contract import Topics
from centre_server.mqtt.access import (
    MqttUser,
    Registry,
    acl_for,
    filter_covers,
    may_read,
    may_write,
    mosquitto_hash,
    verify_mosquitto_hash,
)
from provisioning import settings_file
from provisioning.devices import revoke_device, rotate_device
from provisioning.staff import set_staff_disabled
from tests.conftest import need_tool

T = Topics("demo")


def test_our_hashes_and_mosquitto_passwd_agree(tmp_path):
    """A hash mosquitto_passwd wrote verifies here; ours has its exact shape (real Mosquitto logins prove the rest)."""
    exe = need_tool("mosquitto_passwd")
    path = tmp_path / "pw"
    subprocess.run([exe, "-c", "-b", str(path), "kiosk-1", "s3cret-Pass"], check=True, capture_output=True)
    theirs = path.read_text().strip().split(":", 1)[1]
    assert verify_mosquitto_hash(theirs, "s3cret-Pass")
    assert not verify_mosquitto_hash(theirs, "s3cret-pass")
    ours = mosquitto_hash("s3cret-Pass")
    assert [len(p) for p in ours.split("$")] == [len(p) for p in theirs.split("$")]
    assert ours.startswith("$7$101$") and verify_mosquitto_hash(ours, "s3cret-Pass")
    for junk in ("", "$7$x$y$z", "$6$!!$??", "plain", None):
        assert not verify_mosquitto_hash(junk, "s3cret-Pass")


@pytest.mark.parametrize("allowed,requested,covered", [
    ("a/state/#", "a/state/counter/c01", True),
    ("a/state/#", "a/state/counter/+", True),
    ("a/state/#", "a/state", True),
    ("a/state/#", "a/#", False),
    ("a/state/#", "a/+/counter/c01", False),
    ("a/cmd/counter/c01", "a/cmd/counter/c01", True),
    ("a/cmd/counter/c01", "a/cmd/counter/+", False),
    ("a/cmd/counter/c01", "a/cmd/counter/c01/x", False),
    ("a/+/x", "a/b/x", True),
    ("a/+/x", "a/+/x", True),
    ("a/+/x", "a/#", False),
    ("#", "anything/at/all", True),
])
def test_filter_cover(allowed, requested, covered):
    assert filter_covers(allowed, requested) is covered


def test_role_table():
    display = acl_for(MqttUser("display-1", "display-1", "display", ""), T)
    kiosk = acl_for(MqttUser("kiosk-1", "kiosk-1", "kiosk", ""), T)
    bridge = acl_for(MqttUser("bridge-1", "bridge-1", "bridge", "", ("c01", "c02")), T)
    server = acl_for(MqttUser("centre-server", "centre-server", "server", ""), T)
    revoked = acl_for(MqttUser("kiosk-2", "kiosk-2", "kiosk", "", revoked=True), T)
    assert may_read(display, T.all_events) and may_read(display, T.hall_state)
    assert not may_write(display, T.cmd_counter("c01")) and may_write(display, T.device_status("display-1"))
    assert not may_write(display, T.device_status("display-2"))
    assert not may_read(kiosk, T.all_events) and may_read(kiosk, T.all_service_states)
    assert may_write(bridge, T.cmd_counter("c02")) and not may_write(bridge, T.cmd_counter("c03"))
    assert may_write(bridge, T.cmd_feedback("c02")) and may_read(bridge, T.reply("bridge-1"))
    assert not may_write(bridge, T.cmd_feedback("c03"))  # another bridge's counter: the broker refuses
    assert not may_read(bridge, T.reply("bridge-2")) and not may_read(bridge, T.counter_state("c03"))
    assert not may_write(bridge, T.base + "/cmd/counter/+")  # never a wildcard publish
    assert may_write(server, "anything") and may_read(server, "#")
    assert revoked.read == () and revoked.write == () and not revoked.everything
    assert acl_for(MqttUser("x", "x", "mystery", ""), T).read == ()


def test_registry_sees_changes_at_once(centre):
    import json

    settings_db = centre.path / "centre.db"
    reg = Registry(settings_db, "demo")
    b = json.loads((centre.path / "devices" / "kiosk-1.json").read_text())
    assert reg.authenticate("kiosk-1", b["mqtt_password"])
    assert may_write(reg.acl("kiosk-1"), T.device_status("kiosk-1"))
    revoke_device(centre.path, "kiosk-1")
    assert reg.authenticate("kiosk-1", b["mqtt_password"]) is None
    assert not may_write(reg.acl("kiosk-1"), T.device_status("kiosk-1"))  # open connections lose their rights
    fresh = rotate_device(centre.path, "kiosk-1", reinstate=True)
    assert reg.authenticate("kiosk-1", fresh["mqtt_password"]) and not reg.authenticate("kiosk-1", b["mqtt_password"])
    rotate_device(centre.path, "bridge-1", counters="c07")
    assert may_write(reg.acl("bridge-1"), T.cmd_counter("c07")) and not may_write(reg.acl("bridge-1"),
                                                                                   T.cmd_counter("c01"))
    assert reg.authenticate(None, None) is None and reg.authenticate("ghost", "x") is None
    reg.close()


def test_toml_values_are_set_in_place(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('a = 1\n\n[mqtt]\nurl = ""   # keep me\nusername = ""\n\n[queue]\nusername = "other"\n')
    settings_file.set_values(path, "mqtt", {"username": "centre-server", "password": 'p"q'})
    text = path.read_text()
    assert 'url = ""   # keep me' in text and 'username = "centre-server"' in text
    assert 'password = "p\\"q"' in text and '[queue]\nusername = "other"' in text
    import tomllib

    data = tomllib.loads(text)
    assert data["mqtt"] == {"url": "", "username": "centre-server", "password": 'p"q'}


def test_the_token_cache_lets_go_the_moment_access_changes(centre_dir):
    """The server remembers tokens (PrincipalCache) until access.epoch moves; revoking, rotating,
    disabling staff with the technician's tool moves it, seen through shared memory at once."""
    import sqlite3 as _sqlite

    import sqlite_utils

    from centre_server.store.accounts import AccessEpoch, PrincipalCache, login, token_hash

    centre = centre_dir
    db = sqlite_utils.Database(_sqlite.connect(centre.path / "centre.db"))
    epoch = AccessEpoch(centre.path)
    cache = PrincipalCache(epoch)
    token, other = centre.bundle("kiosk-1")["token"], centre.bundle("kiosk-2")["token"]
    assert cache.lookup(db, token).name == "kiosk-1" and cache.lookup(db, other).name == "kiosk-2"
    before = epoch()
    revoke_device(centre.path, "kiosk-1")
    assert epoch() == before + 1
    assert cache.lookup(db, token) is None  # the very next look-up
    assert cache.lookup(db, other).name == "kiosk-2"
    fresh = rotate_device(centre.path, "kiosk-2")
    assert cache.lookup(db, other) is None and cache.lookup(db, fresh["token"]).name == "kiosk-2"
    assert cache.lookup(db, "not-a-token") is None and "not-a-token" not in str(cache._entries)
    # a remembered device still expires after ttl, should the epoch file ever be replaced
    short = PrincipalCache(lambda: 0, ttl=5.0)
    assert short.lookup(db, fresh["token"], now=1000.0).name == "kiosk-2"
    assert len(short._entries) == 1 and next(iter(short._entries.values()))[2] == 1005.0
    session, *_ = login(db, "clerk", centre.staff_password("clerk"), session_minutes=60, lockout_after=5,
                        lockout_minutes=5)
    assert cache.lookup(db, session).name == "clerk"
    set_staff_disabled(centre.path, "clerk")  # the tool moves the epoch: the session ends at once
    assert cache.lookup(db, session) is None
    set_staff_disabled(centre.path, "clerk", disabled=False)
    session, *_ = login(db, "clerk", centre.staff_password("clerk"), session_minutes=60, lockout_after=5,
                        lockout_minutes=5)
    assert cache.lookup(db, session, now=1000.0).name == "clerk"
    expires = db.execute("SELECT expires_at FROM sessions").fetchone()[0]
    assert cache.lookup(db, session, now=expires + 1) is None  # never past the session's expiry
    cache.lookup(db, session)
    cache.forget(token_hash(session))  # a logout through the API
    db.execute("DELETE FROM sessions")
    db.conn.commit()
    assert cache.lookup(db, session) is None
    epoch.close()
    db.conn.close()


def test_moving_the_epoch_never_kills_a_server_reading_it(tmp_path):
    """A server reads access.epoch through mmap on every request; the tool rewrites it in place.

    The tool once truncated the file before writing: a request in that instant read past the
    end of the mapping and the server died of SIGBUS (a whole centre down because a clerk's
    password was reset). A real reader process reads in a tight loop while the counter moves.
    """
    import sys
    import textwrap

    from centre_server.store.accounts import AccessEpoch, bump_access_epoch

    AccessEpoch(tmp_path).close()  # made as the server makes it at start-up
    reader = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from centre_server.store.accounts import AccessEpoch
        epoch, seen, until = AccessEpoch({str(tmp_path)!r}), 0, time.monotonic() + 3.0
        while time.monotonic() < until:
            seen = max(seen, epoch())
        print(seen)
    """)], stdout=subprocess.PIPE, text=True)
    bumps = 0
    while reader.poll() is None and bumps < 20_000:
        bump_access_epoch(tmp_path)
        bumps += 1
    out, _ = reader.communicate(timeout=30)
    assert reader.returncode == 0, f"the reader died (signal {-reader.returncode})"
    assert bumps > 100 and 1 < int(out) <= bumps + 1
    assert (tmp_path / "access.epoch").stat().st_size == 8

"""Every refusal of the queue engine that reaches a citizen says it in English and in real Kiswahili.

A kiosk once showed "Hitilafu imetokea: K005 is cancelled": the engine's English inside the
Kiswahili answer. Here every refusal code the engine raises is walked through the channels'
translation, and a ticket cancelled at the day's close is checked in at a kiosk against the real
app on a real SQLite file.
"""

from __future__ import annotations

import ast
import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import centre_server.queue.engine as engine
from centre_server.channels.core import _from_queue_error
from centre_server.contract import TicketState
from centre_server.http.app import create_app

ENGLISH = "engine words only staff read"


def engine_refusal_codes() -> set[str]:
    """Every code the engine raises (``QueueError("code", ...)``), read from its source."""
    tree = ast.parse(Path(engine.__file__).read_text())
    return {node.args[0].value for node in ast.walk(tree)
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "QueueError"
            and node.args and isinstance(node.args[0], ast.Constant)}


def test_the_walk_finds_the_engines_refusals() -> None:
    codes = engine_refusal_codes()
    assert {"ticket_not_waiting", "ticket_final", "unknown_ticket", "already_rated", "counter_closed"} <= codes


@pytest.mark.parametrize("code", sorted(engine_refusal_codes()))
def test_every_engine_refusal_has_its_own_kiswahili(code: str) -> None:
    variants: list[dict[str, object]] = [{}]
    variants += [{"number": "K005", "state": s.value, "at_close": False} for s in TicketState]
    variants.append({"number": "K005", "state": "cancelled", "at_close": True})
    for extra in variants:
        refused = _from_queue_error(engine.QueueError(code, ENGLISH, 409, **extra))
        en, sw = refused.message("en"), refused.message("sw")
        assert en and sw and en != sw, (code, extra, en, sw)
        assert ENGLISH not in en and ENGLISH not in sw, (code, extra)
        assert "{" not in en + sw, (code, extra, en, sw)
        body = refused.body()["error"]
        assert body["message"] == en and body["message_sw"] == sw


def test_a_ticket_cancelled_at_the_close_is_said_so_at_the_kiosk(centre_dir) -> None:
    with TestClient(create_app(centre_dir.path), raise_server_exceptions=False) as c:
        r = c.post("/join", data={"service_id": "passport", "phone": "0733444556", "lang": "sw"},
                   follow_redirects=False)
        assert r.status_code in (200, 303), r.text[:300]
        con = sqlite3.connect(centre_dir.path / "centre.db")
        (code,) = con.execute("SELECT code FROM remote_codes").fetchone()
        con.close()
        token = c.post("/api/v1/auth/login", json={"username": "manager",
                                                   "password": centre_dir.staff_password("manager")}).json()["token"]
        r = c.post("/api/v1/day/close", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        kiosk = {"Authorization": f"Bearer {centre_dir.bundle('kiosk-1')['token']}"}
        r = c.post("/api/v1/check-in", json={"code": code}, headers=kiosk)
        assert 400 <= r.status_code < 500, r.text
        err = r.json()["error"]
        assert "cancelled when the centre closed" in err["message"] and "new ticket" in err["message"], err
        assert "ilifutwa kituo kilipofungwa" in err["message_sw"] and "tiketi mpya" in err["message_sw"], err
        assert "is cancelled" not in err["message_sw"] and "Hitilafu" not in err["message_sw"]

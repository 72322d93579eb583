"""Check-in codes cannot be guessed through a kiosk token (issue 16: all 10,000 codes tried in 80 s).

Against the real app on a real SQLite file: a remote ticket's code is 6 digits, and a device
trying codes meets 429 after a handful, as does anyone trying codes that share a prefix.
"""

from __future__ import annotations

import sqlite3

from fastapi.testclient import TestClient

from centre_server.http.app import create_app
from centre_server.runtime.ratelimit import CHECK_IN_PER_DEVICE_PER_MIN, CHECK_IN_PER_PREFIX_PER_MIN


def test_guessing_codes_meets_a_limit_long_before_a_hit(centre_dir):
    with TestClient(create_app(centre_dir.path), raise_server_exceptions=False) as c:
        r = c.post("/join", data={"service_id": "passport", "phone": "0733444555", "lang": "en"},
                   follow_redirects=False)
        assert r.status_code in (200, 303), r.text[:300]
        con = sqlite3.connect(centre_dir.path / "centre.db")
        (code,) = con.execute("SELECT code FROM remote_codes").fetchone()
        con.close()
        assert len(code) == 6 and code.isdigit()
        kiosk = {"Authorization": f"Bearer {centre_dir.bundle('kiosk-1')['token']}"}
        statuses = []
        for n in range(CHECK_IN_PER_DEVICE_PER_MIN + 5):
            guess = f"{(int(code) + 1 + n) % 900000 + 100000}"
            statuses.append(c.post("/api/v1/check-in", json={"code": guess}, headers=kiosk).status_code)
        assert set(statuses[:CHECK_IN_PER_DEVICE_PER_MIN]) == {404}
        assert set(statuses[CHECK_IN_PER_DEVICE_PER_MIN:]) == {429}
        # the same prefix from another device: limited too, across devices
        other = {"Authorization": f"Bearer {centre_dir.bundle('kiosk-2')['token']}"}
        prefix_statuses = [c.post("/api/v1/check-in", json={"code": f"{code[:3]}{n:03d}"}, headers=other).status_code
                           for n in range(CHECK_IN_PER_PREFIX_PER_MIN)]
        assert 429 in prefix_statuses

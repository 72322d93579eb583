"""Only the gateway may call the USSD and SMS webhooks (issue 16: spoofed phones took tickets).

The attack as written: POST /ussd with an invented phoneNumber and text=1*1*1*1*1 took a
ticket for any number; /sms/inbound with the default empty key joined queues for any
``from``. Run against the real app on a real SQLite file (TestClient runs its lifespan).
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from centre_server.http.app import create_app

KEY = "gw-3f9a2c1d7e"


def configure(path, demo: bool, **channels: str) -> None:
    config = path / "centre.toml"
    text = re.sub(r"(?m)^demo = \w+", f"demo = {str(demo).lower()}", config.read_text())
    if not demo:  # a real centre refuses the demo's M-Pesa credentials: these tests are about the SMS gateway
        text = re.sub(r"(?m)^(\[payments\]\nenabled = )true", r"\1false", text)
    if channels:
        lines = "\n".join(f"{k} = {v}" for k, v in channels.items())
        if "[channels]" in text:
            text = text.replace("[channels]", "[channels]\n" + lines, 1)
        else:
            text += "\n[channels]\nsms_gateway = \"none\"\n" + lines + "\n"
    config.write_text(text)


@pytest.fixture
def client_for(centre_dir):
    made: list[TestClient] = []

    def make(demo: bool, **channels: str) -> TestClient:
        configure(centre_dir.path, demo, **channels)
        c = TestClient(create_app(centre_dir.path), raise_server_exceptions=False)
        c.__enter__()
        made.append(c)
        return c

    yield make
    for c in made:
        c.__exit__(None, None, None)


def ussd(client: TestClient, phone: str, text: str, key: str | None = None, header: bool = False):
    params = {"key": key} if key and not header else {}
    headers = {"X-Gateway-Key": key} if key and header else {}
    return client.post("/ussd", params=params, headers=headers,
                       data={"sessionId": f"ATUid_{phone[-6:]}_{len(text)}", "serviceCode": "*384*482#",
                             "phoneNumber": phone, "text": text})


def tickets_waiting(client: TestClient) -> int:
    return sum(s["waiting"] for s in client.get("/api/v1/services").json())


def test_a_production_centre_without_a_gateway_key_refuses_every_callback(client_for):
    c = client_for(demo=False)
    for n in range(10):
        assert ussd(c, f"+2547000000{n:02d}", "1*1*1*1*1").status_code == 403
    r = c.post("/sms/inbound", data={"from": "+254700000001", "text": "KR SW"})
    assert r.status_code == 403
    assert tickets_waiting(c) == 0


def test_only_the_gateway_with_its_key_is_heard(client_for):
    c = client_for(demo=False, gateway_key=f'"{KEY}"')
    spoofed = ussd(c, "+254700000002", "1*1*1*1*1", key="guess")
    assert spoofed.status_code == 403 and tickets_waiting(c) == 0
    assert ussd(c, "+254700000002", "1*1*1*1*1").status_code == 403
    assert c.post("/sms/inbound", params={"key": "guess"},
                  data={"from": "+254700000003", "text": "KR SW"}).status_code == 403
    # the gateway itself, by the callback URL's key or by header
    assert ussd(c, "+254700000004", "", key=KEY).text.startswith("CON")
    assert ussd(c, "+254700000005", "", key=KEY, header=True).text.startswith("CON")


def test_the_gateways_networks_and_a_per_address_limit(client_for):
    c = client_for(demo=False, gateway_key=f'"{KEY}"', gateway_networks='["196.201.214.0/24"]')
    # TestClient's address is not in the gateway's range: refused even with the key
    assert ussd(c, "+254700000006", "", key=KEY).status_code == 403


def test_callbacks_are_limited_per_address(client_for):
    c = client_for(demo=False, gateway_key=f'"{KEY}"', webhook_per_minute="3")
    codes = [ussd(c, "+254700000007", "", key=KEY).status_code for _ in range(5)]
    assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]

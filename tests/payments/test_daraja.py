"""The Daraja client against the simulator served over HTTP (uvicorn in a thread): Daraja's shapes both ways."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from centre_server.payments.daraja import DarajaClient, GatewayRefused, GatewayUnreachable, password
from centre_server.payments.settings import (
    PaymentConfigError,
    PaymentSettings,
    load_payment_settings,
    placeholder_refusal,
)
from mpesa_sim.app import Simulator, create_app
from tests.conftest import free_port, wait_until


@pytest.fixture
def sim() -> Iterator[tuple[str, Simulator]]:
    import uvicorn

    simulator = Simulator("key", "secret", "passkey", delay_s=0.2, lose_callbacks=True)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(simulator), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, 30, "the simulator serving")
    try:
        yield f"http://127.0.0.1:{port}", simulator
    finally:
        server.should_exit = True
        thread.join(15)


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def settings(url: str, **kw) -> PaymentSettings:
    return PaymentSettings(enabled=True, base_url=url, consumer_key="key", consumer_secret="secret",
                           passkey="passkey", **kw)


def test_the_token_is_asked_once_until_it_is_about_to_expire(sim):
    url, simulator = sim
    import time

    clock = Clock(time.time())
    client = DarajaClient(settings(url), clock=clock)
    for n in range(3):
        client.stk_push(amount=200, phone_msisdn="254712345678", account=f"B00{n}", description="Huduma B001",
                        callback_url="http://127.0.0.1:9/mpesa/callback/x")
    assert (client.tokens_fetched, simulator.tokens_issued) == (1, 1)
    clock.t += 3599 - 30  # inside the last minute of its hour: a new one
    client.stk_query(next(iter(simulator.pushes)))
    assert client.tokens_fetched == 2
    client.close()


def test_the_push_carries_darajas_fields_and_the_query_waits_then_answers(sim):
    url, simulator = sim
    client = DarajaClient(settings(url))
    resp = client.stk_push(amount=4550, phone_msisdn="254712345672", account="P0421234567890",
                           description="Huduma P042 passport", callback_url="https://relay.example/mpesa/callback/t")
    assert resp.ResponseCode == "0" and resp.CheckoutRequestID.startswith("ws_CO_")
    req = simulator.pushes[resp.CheckoutRequestID].request
    assert (req["AccountReference"], req["TransactionDesc"]) == ("P04212345678", "Huduma P042 p")  # Daraja's limits
    assert req["Password"] == password("174379", "passkey", req["Timestamp"])
    assert req["TransactionType"] == "CustomerPayBillOnline" and req["PartyB"] == "174379"
    assert client.stk_query(resp.CheckoutRequestID) is None  # 500.001.1001: the citizen has not answered yet
    answer = wait_until(lambda: client.stk_query(resp.CheckoutRequestID), 5, "the query's result")
    assert (answer.ResultCode, answer.CheckoutRequestID) == ("1032", resp.CheckoutRequestID)
    client.close()


def test_wrong_credentials_and_a_dead_address_are_told_apart(sim):
    url, _ = sim
    bad = DarajaClient(PaymentSettings(enabled=True, base_url=url, consumer_key="key", consumer_secret="wrong"))
    with pytest.raises(GatewayRefused) as refused:
        bad.token()
    assert refused.value.error.errorCode == "400.008.01"
    wrong_passkey = DarajaClient(settings(url).model_copy(update={"passkey": "other"}))
    with pytest.raises(GatewayRefused, match="Invalid Password"):
        wrong_passkey.stk_push(amount=1, phone_msisdn="254712345678", account="A001", description="x",
                               callback_url="http://127.0.0.1:9/cb")
    dead = DarajaClient(settings(f"http://127.0.0.1:{free_port()}", timeout_s=2))
    with pytest.raises(GatewayUnreachable):
        dead.token()


def test_a_bad_payments_section_names_the_key(tmp_path, monkeypatch):
    (tmp_path / "centre.toml").write_text('[payments]\nenabled = true\nshortcode = "12"\n')
    with pytest.raises(PaymentConfigError, match=r"\[payments\] shortcode"):
        load_payment_settings(tmp_path)
    monkeypatch.setenv("HUDUMA_PAYMENTS__SHORTCODE", "600000")
    assert load_payment_settings(tmp_path).payee == "600000"
    monkeypatch.setenv("HUDUMA_PAYMENTS__BASE_URL", "ftp://x")
    with pytest.raises(PaymentConfigError, match="base_url"):
        load_payment_settings(tmp_path)


def test_a_real_centre_is_refused_the_demos_credentials():
    demo_like = PaymentSettings(enabled=True, consumer_key="demo", consumer_secret="demo", passkey="demo-passkey")
    assert placeholder_refusal(demo_like, demo=True) is None
    why = placeholder_refusal(demo_like, demo=False)
    assert why is not None and "consumer_key, consumer_secret, passkey" in why
    assert placeholder_refusal(PaymentSettings(enabled=False), demo=False) is None
    assert placeholder_refusal(PaymentSettings(enabled=True, consumer_key="k", consumer_secret="s", passkey="p"),
                               demo=False) is None

"""Fixtures for the channels: a fake SMS aggregator on loopback, a real centre server pointed at it."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest

from centre_server.contract.catalogue import (
    MAX_DESCRIPTION,
    MAX_DOCUMENTS,
    MAX_ITEM,
    MAX_NAME,
    Catalogue,
    CatalogueService,
    Fee,
    Text,
)
from tests.conftest import (
    Centre,
    CentreProcess,
    Mosquitto,
    artifacts_dir,
    free_port,
    need_tool,
    provision,
    set_upstream,
    wait_until,
)

API_KEY = "test-api-key-123"


class FakeAggregator:
    """Africa's Talking's SMS API, as far as the server uses it, recording every message it is sent.

    ``fail_next`` answers that many requests with HTTP 500, ``fail_for[number]`` that many
    requests to one number (unaffected by other tests' traffic); numbers in
    ``blacklisted`` get recipient status 406 (UserInBlacklist: permanent).
    """

    def __init__(self) -> None:
        self.sent: list[dict[str, str]] = []
        self.requests = 0
        self.fail_next = 0
        self.fail_for: dict[str, int] = {}
        self.blacklisted: set[str] = set()
        self.lock = threading.Lock()
        agg = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0)).decode()
                form = {k: v[0] for k, v in parse_qs(body).items()}
                with agg.lock:
                    agg.requests += 1
                    failing = agg.fail_next > 0
                    if failing:
                        agg.fail_next -= 1
                    elif agg.fail_for.get(form.get("to", ""), 0) > 0:
                        agg.fail_for[form["to"]] -= 1
                        failing = True
                if self.path != "/version1/messaging" or self.headers.get("apiKey") != API_KEY:
                    return self._answer(401, {"error": "bad key"})
                if failing:
                    return self._answer(500, {"error": "gateway down"})
                if form.get("to") in agg.blacklisted:
                    rec = {"statusCode": 406, "number": form.get("to"), "status": "UserInBlacklist", "cost": "0",
                           "messageId": "None"}
                else:
                    with agg.lock:
                        agg.sent.append({**form, "at": str(time.time())})
                        n = len(agg.sent)
                    rec = {"statusCode": 101, "number": form.get("to"), "status": "Success", "cost": "KES 0.8000",
                           "messageId": f"ATXid_{n}"}
                self._answer(201, {"SMSMessageData": {"Message": "Sent to 1/1 Total Cost: KES 0.8000",
                                                      "Recipients": [rec]}})

            def _answer(self, status: int, data: dict) -> None:
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def messages_to(self, phone: str) -> list[str]:
        with self.lock:
            return [m["message"] for m in self.sent if m.get("to") == phone]

    def wait_for(self, phone: str, contains: str, timeout: float = 10.0) -> str:
        return wait_until(lambda: next((text for text in self.messages_to(phone) if contains in text), None),
                          timeout, lambda: f"an SMS to {phone} containing {contains!r}; got {self.messages_to(phone)}")

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


CHANNELS_TOML = """
[channels]
sms_gateway = "africastalking"
at_base_url = "{url}"
at_username = "huduma-test"
at_api_key = "{key}"
sms_backoff_s = 0.2
sms_backoff_max_s = 1.0
sms_max_attempts = 4
sms_notify_ahead = 2
remote_per_service_per_hour = 3
slot_capacity = 2
"""


class ChannelCentre(CentreProcess):
    """The real server process with a fake aggregator, and helpers a test reads better with."""

    aggregator: FakeAggregator

    def kiosk(self) -> httpx.Client:
        return self.client(self.centre.bundle("kiosk-1")["token"])

    def ussd(self, session: str, phone: str, text: str) -> httpx.Response:
        if getattr(self, "_ussd_client", None) is None:
            self._ussd_client = httpx.Client(base_url=self.url, timeout=10)
        return self._ussd_client.post("/ussd", data={"sessionId": session, "serviceCode": "*384*482#",
                                                     "phoneNumber": phone, "text": text})


def set_day(toml: str, day: dict[str, str], table: str = "day") -> str:
    """centre.toml with these ``[day]`` (or ``table``) keys set (each value already in TOML syntax)."""
    head, sep, rest = toml.partition(f"[{table}]\n")
    assert sep, f"no [{table}] table in centre.toml"
    section, nxt, tail = rest.partition("\n[")
    lines = [ln for ln in section.splitlines() if ln.split("=")[0].strip() not in day]
    lines = [f"{k} = {v}" for k, v in day.items()] + lines
    return head + sep + "\n".join(lines) + nxt + tail


@contextmanager
def serve_channels(tmp: Path, day: dict[str, str] | None = None, extra: str = "",
                   channels: dict[str, str] | None = None,
                   queue: dict[str, str] | None = None,
                   before_start: Callable[[Path], None] | None = None) -> Iterator[ChannelCentre]:
    """A provisioned demo centre served for real, SMS going to a fake Africa's Talking on loopback;
    ``day`` sets ``[day]`` keys (hours, closing), ``extra`` adds ``[channels]`` keys, ``channels`` sets
    them (replacing the test centre's own, each value already in TOML syntax); ``before_start`` gets the
    centre's directory before the server starts (e.g. to store a catalogue version)."""
    need_tool("mosquitto")
    path = tmp / "centre"
    provision(path, "init", str(path), "--demo")
    set_upstream(path)  # never a neighbour's demo headquarters on :8100
    agg = FakeAggregator()
    toml = (path / "centre.toml").read_text()
    if day:
        toml = set_day(toml, day)
    if queue:  # [queue] keys (the check-in grace, say)
        toml = set_day(toml, queue, table="queue")
    section = CHANNELS_TOML.format(url=agg.url, key=API_KEY)
    if channels:
        section = "\n".join(ln for ln in section.splitlines() if ln.split("=")[0].strip() not in channels)
        section += "\n" + "".join(f"{k} = {v}\n" for k, v in channels.items())
    (path / "centre.toml").write_text(toml + section + extra)
    if before_start is not None:
        before_start(path)
    broker = Mosquitto(port=free_port(), workdir=tmp)
    broker.start()
    creds = json.loads((path / "demo-credentials.json").read_text())
    server = ChannelCentre(centre=Centre(path=path, credentials=creds), port=free_port(),
                           args=["--mqtt", broker.url], log_path=tmp / "centre.log")
    server.aggregator = agg
    try:
        server.start()
        yield server
    finally:
        server.stop()
        broker.stop()
        agg.close()


@pytest.fixture(scope="session")
def channel_server(tmp_path_factory) -> Iterator[ChannelCentre]:
    """The demo centre, open all day (no closing time), for most channel tests."""
    with serve_channels(tmp_path_factory.mktemp("channels")) as server:
        yield server


_phone_counter = iter(range(100000, 999999, 7))


@pytest.fixture
def new_phone() -> Callable[[], str]:
    """A fresh Kenyan mobile number in its +254 form, per call."""
    return lambda: f"+254712{next(_phone_counter):06d}"


def ussd_ok(r: httpx.Response) -> str:
    """The screen, after the checks every USSD answer must pass."""
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert text.startswith(("CON ", "END ")), text
    assert len(text) <= 182, (len(text), text)
    assert text.isascii(), text
    return text


@pytest.fixture
def shot() -> Callable[..., Path]:
    out = artifacts_dir("channels")

    def save(page, name: str, full_page: bool = True) -> Path:
        path = out / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return save


def confirmation_code(server: ChannelCentre, phone: str) -> str:
    """The 6-digit code that confirms a booking, as the fake aggregator carried it to ``phone`` (the latest)."""
    server.aggregator.wait_for(phone, "Huduma: ")
    def latest_code() -> str | None:
        for text in server.aggregator.messages_to(phone)[::-1]:
            m = re.search(r"(?:code|nambari) (\d{6}) (?:confirms|inathibitisha)", text)
            if m:
                return m.group(1)
        return None

    return wait_until(latest_code, 10, lambda: f"a confirmation code among {server.aggregator.messages_to(phone)}")


def book_confirmed(server: ChannelCentre, service_id: str, slot: str, phone: str, lang: str = "en") -> str:
    """Book on /book over HTTP and confirm with the code sent by SMS, as a citizen does; the booking's id."""
    r = httpx.post(server.url + "/book", data={"service_id": service_id, "slot": slot, "phone": phone, "lang": lang})
    assert r.status_code == 303, r.text
    appt_id = r.headers["location"].split("/book/")[1].split("?")[0]
    norm = phone if phone.startswith("+") else "+254" + phone.lstrip("0")
    r = httpx.post(f"{server.url}/book/{appt_id}/confirm", data={"code": confirmation_code(server, norm)})
    assert r.status_code == 303, r.text
    return appt_id


def whole_day(server: CentreProcess, service_id: str) -> str:
    """A bookable day (ISO) whose every slot is still ahead: the second day ``/book`` offers, never today.

    The first may be today: late in the afternoon it has only a slot or two left (none after 16:00 in
    Nairobi), and a slot stops being offered when its check-in opens, between reading a page and posting it.
    """
    page = httpx.get(f"{server.url}/book", params={"service": service_id, "lang": "en"}).text
    days = re.findall(r'&amp;day=([\d-]+)&amp;lang=', page)
    assert len(days) >= 2, f"fewer than two bookable days for {service_id}: {days}"
    return days[1]


def free_slots(server: CentreProcess, service_id: str, day: str | None = None) -> list[str]:
    """The free times (POSIX seconds, as the form posts them) ``/book`` offers for the service on ``day``
    (by default ``whole_day``'s: a whole day of them, whatever the hour the test runs)."""
    day = day or whole_day(server, service_id)
    page = httpx.get(f"{server.url}/book", params={"service": service_id, "day": day, "lang": "en"}).text
    return re.findall(r'name="slot" value="(\d+)"\s+required', page)


def clerk(server: CentreProcess) -> httpx.Client:
    return server.client(server.login("clerk"))


def kiosk_ticket(server: ChannelCentre, service_id: str, phone: str | None = None) -> dict:
    body = {"service_id": service_id, **({"phone": phone} if phone else {})}
    r = server.kiosk().post("/api/v1/tickets", json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
    assert r.status_code == 201, r.text
    return r.json()


def longest(word_en: str, word_sw: str, limit: int) -> Text:
    """A text of exactly ``limit`` characters in each language, real words, no spaces lost."""
    def fill(word: str) -> str:
        out = ""
        while len(out) + len(word) + 1 <= limit:
            out = (out + " " + word).strip()
        return (out + " " + "x" * limit)[:limit]
    return Text(en=fill(word_en), sw=fill(word_sw))


def longest_catalogue(shipped: Catalogue) -> Catalogue:
    """The shipped catalogue with every text at the contract's longest (and a fee that needs separators)."""
    services = []
    for s in shipped.services:
        services.append(CatalogueService.model_validate({
            **s.model_dump(), "name": longest("Registration", "Usajili", MAX_NAME).model_dump(),
            "description": longest("description", "maelezo", MAX_DESCRIPTION).model_dump(),
            "documents": [longest("Certificate", "Cheti", MAX_ITEM).model_dump() for _ in range(MAX_DOCUMENTS)],
            "eligibility": longest("applicants", "waombaji", MAX_DESCRIPTION).model_dump(),
            "in_person": longest("applicant", "mwombaji", MAX_DESCRIPTION).model_dump(),
            "fee": Fee(amount_ksh=1_000_000, payer=longest("applicant", "mwombaji", MAX_DESCRIPTION),
                       waivers=longest("exempt", "msamaha", MAX_DESCRIPTION),
                       note=longest("pages", "kurasa", MAX_DESCRIPTION)).model_dump(),
            "where_to_get": longest("office", "ofisi", MAX_DESCRIPTION).model_dump()}))
    return Catalogue(version=99, demo=True, services=services, outcome_codes=shipped.outcome_codes)

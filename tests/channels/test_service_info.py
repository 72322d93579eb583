"""Service information by USSD and SMS, and the suspension SMS (issue 19), on a real Centre and ChannelHub.

A real SQLite centre (the demo), the real channels hub with the log SMS gateway and
its outbox. The catalogue is the one the centre runs, and also one with the
longest texts the contract allows (what the real catalogue's long entries look
like at their worst), so every USSD screen and every INFO answer is checked at
its limits in both languages. The suspension listener hears the real event
objects over the real state: every waiting ticket with a phone is told once.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from centre_server.channels.core import ChannelHub
from centre_server.channels.info import SMS_LIMIT, sms_messages
from centre_server.channels.settings import ChannelSettings
from centre_server.channels.ussd import MAX_SCREEN, respond
from centre_server.config import load_settings
from centre_server.contract import Channel, Event
from centre_server.contract.events import ServiceSuspended
from centre_server.queue import engine
from centre_server.runtime.centre import Centre
from tests.channels.conftest import longest_catalogue

NAIROBI = ZoneInfo("Africa/Nairobi")
PHONE = "+254711000201"


def at(hh: int, mm: int) -> float:
    return datetime(2030, 1, 7, hh, mm, tzinfo=NAIROBI).timestamp()  # a Monday: the demo centre is open


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def hub(centre_dir):
    clock = Clock(at(8, 0))
    centre = Centre(load_settings(centre_dir.path), clock=clock)
    hub = ChannelHub(centre, ChannelSettings(sms_gateway="log", remote_per_service_per_hour=50), centre_dir.path)
    yield hub
    hub.stop()
    centre.close()


def outbox(hub: ChannelHub, phone: str) -> list[str]:
    return [r[0] for r in hub.db.execute("SELECT text FROM sms_outbox WHERE phone=? ORDER BY id", [phone])]


def screen(text: str) -> str:
    assert text.startswith(("CON ", "END ")), text
    assert len(text) <= MAX_SCREEN, (len(text), text)
    assert text.isascii(), text
    return text


def items(text: str) -> list[str]:
    """The numbers of a menu screen's items (not More or Back)."""
    return [m for m in re.findall(r"^(\d+)\. ", text, re.M) if m not in ("98", "0")]


def pages_of(hub: ChannelHub, path: list[str]) -> list[tuple[list[str], str]]:
    """Each page of the menu at ``path``: (the path to it, its screen)."""
    out = []
    while True:
        text = screen(respond(hub, "info-walk", PHONE, "*".join(path)))
        out.append((path, text))
        if "\n98. " not in text:
            return out
        path = path + ["98"]


def walk_every_info_screen(hub: ChannelHub, lang_key: str) -> dict[str, list[str]]:
    """Every information screen of every service, reached through the menus as a citizen types them:
    the service's first line -> its pages. Each screen (and each with "Invalid choice." in front) is checked."""
    seen: dict[str, list[str]] = {}
    for cat_path, cat_screen in pages_of(hub, [lang_key, "4"]):
        for c in items(cat_screen):
            for svc_path, svc_screen in pages_of(hub, cat_path + [c]):
                for n in items(svc_screen):
                    pages = pages_of(hub, svc_path + [n])
                    for p, _ in pages:
                        screen(respond(hub, "info-walk", PHONE, "*".join(p + ["77"])))  # invalid: same screen
                    first = pages[0][1].splitlines()[0]
                    seen[first + f" #{len(seen)}"] = [text for _, text in pages]
    return seen


@pytest.mark.parametrize("lang_key,lang", [("1", "en"), ("2", "sw")])
def test_every_info_screen_of_every_service_fits_with_the_longest_texts(hub, lang_key, lang):
    shipped = hub.centre.catalogue
    for catalogue in (shipped, longest_catalogue(shipped)):
        hub.centre.catalogue = catalogue  # the centre runs it (what a sync applies)
        seen = walk_every_info_screen(hub, lang_key)
        assert len(seen) == len(hub.services()) == 39
        for first, pages in seen.items():
            assert re.search(rf"\(1/{len(pages)}\) #", first), first
            body = "\n".join(line for p in pages for line in p.splitlines()[1:]
                              if not line.startswith(("98. ", "0. ")))
            fee = ""
            if catalogue is not shipped:
                fee = "KSh 1,000,000"
                assert len(pages) > 3  # the longest texts take several screens, nothing is cut
                assert "exempt" in body or "msamaha" in body.lower()
            assert (("Fee: " if lang == "en" else "Ada: ") + fee) in body, body
            bring = ("Bring:", "No documents needed") if lang == "en" else ("Leta:", "Hakuna hati")
            assert any(b in body for b in bring), body
            assert body.index("Fee: " if lang == "en" else "Ada: ") < 40  # the fee comes first
            assert pages[-1].endswith("0. Back" if lang == "en" else "0. Rudi")
    # Back from the second page returns to the first; back from the first to the list of services
    first = respond(hub, "s", PHONE, "1*4*1*1")
    assert respond(hub, "s", PHONE, "1*4*1*1*98*0") == first
    assert "Choose a service:" in respond(hub, "s", PHONE, "1*4*1*1*0")
    # from the take-a-ticket screen, "2" shows what to bring before the ticket, and Back returns to it
    confirm = screen(respond(hub, "t", PHONE, f"{lang_key}*1*1*1"))
    assert ("2. What you need" if lang == "en" else "2. Unachohitaji") in confirm
    info = screen(respond(hub, "t", PHONE, f"{lang_key}*1*1*1*2"))
    assert info.splitlines()[0].endswith(")") and ("Fee: " in info or "Ada: " in info), info
    assert respond(hub, "t", PHONE, f"{lang_key}*1*1*1*2*0") == confirm


def test_info_sms_in_english_and_kiswahili_within_two_messages(hub):
    shipped = hub.centre.catalogue
    prefixes = {s.id: s.prefix for s in hub.services()}
    for catalogue in (shipped, longest_catalogue(shipped)):
        hub.centre.catalogue = catalogue
        for n, (sid, prefix) in enumerate(prefixes.items()):
            for word, lang in (("INFO", "en"), ("TAARIFA", "sw")):
                phone = f"+2547111{n:02d}{len(word):03d}"
                hub.db.execute("DELETE FROM sms_outbox WHERE phone=?", [phone])
                assert hub.inbound_sms(phone, f"{word} {prefix.lower()}") == "info_sent"
                sent = outbox(hub, phone)
                assert 1 <= len(sent) <= 2, sent
                for text in sent:
                    assert len(text) <= SMS_LIMIT and text.isascii(), (len(text), text)
                whole = " ".join(sent)
                assert whole.startswith(f"Huduma {prefix}: ")
                assert any(b in whole for b in (("Bring: ", "No documents") if lang == "en" else ("Leta: ", "Hakuna")))
                assert f"/join?service={sid}&lang={lang}" in sent[-1]
    # the language word after the letter wins; an unknown letter, or none, says how to find the letters
    assert hub.inbound_sms(PHONE, "INFO K SW") == "info_sent"
    assert outbox(hub, PHONE)[0].startswith("Huduma K: ") and "Leta: " in " ".join(outbox(hub, PHONE))
    assert hub.inbound_sms("+254711000202", "info zz") == "info_unknown"
    reply = outbox(hub, "+254711000202")[0]
    assert "no service has the letter ZZ" not in reply and "letter zz" in reply and "*384*482#" in reply
    assert len(reply) <= SMS_LIMIT
    assert hub.inbound_sms("+254711000203", "TAARIFA") == "info_help"
    assert "TAARIFA" in outbox(hub, "+254711000203")[0] and len(outbox(hub, "+254711000203")[0]) <= SMS_LIMIT
    # hostile or odd words get the same helpful answer, plain and within one SMS
    for n, text in enumerate(("INFO " + "\u0416" * 900, "info: <script>", "Taarifa, ZZ kiswahili", "INFO 123456")):
        phone = f"+25471100030{n}"
        assert hub.inbound_sms(phone, text) == "info_unknown"
        reply = outbox(hub, phone)[0]
        assert len(reply) <= SMS_LIMIT and reply.isascii() and ("INFO" in reply or "TAARIFA" in reply), reply
    # a ticket by SMS still works beside it (the letter alone)
    assert hub.inbound_sms("+254711000204", "K") == "joined"


def test_sms_messages_never_exceed_two_even_with_a_long_address(hub):
    info = longest_catalogue(hub.centre.catalogue).services[0]
    payload = hub.info(info.id)
    assert payload is not None
    url = "http://huduma-centre-nairobi-gpo.example.go.ke:8000/join?service=id-card-replace&lang=sw"
    for lang in ("en", "sw"):
        sent = sms_messages(payload, lang, "AR", url)
        assert len(sent) <= 2 and all(len(t) <= SMS_LIMIT for t in sent) and url in sent[-1]


def suspend_event(hub: ChannelHub, service_id: str, seq: int) -> Event:
    return Event(seq, hub.now(), ServiceSuspended(
        service_id=service_id, reason_en="The agency's system is down until further notice.",
        reason_sw="Mfumo wa idara haufanyi kazi hadi itakapotangazwa.", waiting=3))


def test_a_suspension_reaches_every_waiting_ticket_with_a_phone_once(hub):
    centre = hub.centre
    _, code_en = hub.issue_remote("kra-pin", "+254711000301", "en", Channel.web)
    t_sw, code_sw = hub.issue_remote("kra-pin", "+254711000302", "sw", Channel.sms)
    hub.check_in(code=code_en)  # both arrived (a remote ticket not checked in is skipped when its turn comes)
    hub.check_in(code=code_sw)
    centre.execute(engine.IssueTicket(ticket_id="kiosk-with-phone", service_id="kra-pin", phone="+254711000303"))
    centre.execute(engine.IssueTicket(ticket_id="kiosk-no-phone", service_id="kra-pin"))
    hub.issue_remote("passport", "+254711000304", "en", Channel.web)
    centre.execute(engine.OpenCounter("c05", services=("kra-pin",), clerk="otieno"))
    centre.execute(engine.CallNext("c05"))  # one ticket is at the counter now: no longer waiting
    called = centre.state.tickets[centre.state.counters["c05"].ticket_id]
    phones = ("+254711000301", "+254711000302", "+254711000303", "+254711000304")
    waiting = {t.phone for t in centre.state.queues["kra-pin"].values() if t.phone}
    assert called.phone in phones and called.phone not in waiting and len(waiting) == 2
    before = {p: len(outbox(hub, p)) for p in phones}
    ev = suspend_event(hub, "kra-pin", 9001)
    with centre.lock:  # as the centre calls its listeners: after the commit, under its lock
        hub.on_events([ev])
        hub.on_events([ev])  # heard twice (a replay): still once per ticket
    new = {p: outbox(hub, p)[n:] for p, n in before.items()}
    for p in phones:
        assert len(new[p]) == (1 if p in waiting else 0), (p, new[p])
    assert new["+254711000304"] == [], "another service's citizen hears nothing"
    assert "+254711000302" in waiting  # the Kiswahili citizen is told in Kiswahili, the others in English
    assert "imesitishwa sasa: Mfumo wa idara" in new["+254711000302"][0]
    assert f"Tiketi {t_sw.number} bado ipo" in new["+254711000302"][0] and "/t/" in new["+254711000302"][0]
    for p in waiting - {"+254711000302"}:
        assert "is suspended now: The agency's system is down" in new[p][0]
    for texts in new.values():
        assert all(len(t) <= 2 * 153 for t in texts)
    hub.worker.send_due(100)  # through the real outbox and gateway
    sent = hub.db.execute("SELECT COUNT(*) FROM sms_outbox WHERE kind='suspended' AND sent_at IS NOT NULL")
    assert sent.fetchone()[0] == 2


def test_information_is_open_after_the_day_closes(hub):
    hub.centre.execute(engine.CloseDay(reason="closed_by_manager"))
    closed = screen(respond(hub, "c", PHONE, "1*1"))
    assert closed.startswith("END ") and "closed" in closed
    info = screen(respond(hub, "c", PHONE, "1*4*1*1"))
    assert info.startswith("CON ") and "Fee: " in info
    assert hub.inbound_sms("+254711000601", "INFO K") == "info_sent"


def test_info_sms_never_doubles_a_full_stop(hub):
    """A citizen read "The applicant.. More:" as a typo: a cut text ends with "...", a sentence with one stop."""
    import re

    url = "http://centre.example/join?service=x"
    catalogues = [hub.centre.catalogue, longest_catalogue(hub.centre.catalogue)]
    seen = 0
    for cat in catalogues:
        for service in cat.services:
            payload = hub.info(service.id) if cat is hub.centre.catalogue else None
            if payload is None:
                continue
            for lang in ("en", "sw"):
                for text in sms_messages(payload, lang, "AR", url):
                    seen += 1
                    assert not re.search(r"(?<!\.)\.\.(?!\.)", text), text
                    assert not re.search(r"\.\s+\.", text), text
    long_info = hub.info(longest_catalogue(hub.centre.catalogue).services[0].id)
    assert long_info is not None
    for lang in ("en", "sw"):
        for text in sms_messages(long_info, lang, "AR", url):
            assert not re.search(r"(?<!\.)\.\.(?!\.)", text), text
    assert seen > 10

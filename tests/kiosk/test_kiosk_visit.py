"""One-stop visits at the kiosk (issue 21, item 1): a citizen chooses a new ID and a KRA PIN on one
ticket under Xvfb; the server plans the visit and the printed ticket lists the next step and where."""

from __future__ import annotations

import pytest

from tests.kiosk.conftest import ARTIFACTS, kiosk_config
from tests.kiosk.escpos_decode import decode, render

pytestmark = pytest.mark.timeout(240)


def test_kiosk_takes_one_ticket_for_two_services(centre_server, mosquitto, tmp_path, run_kiosk):
    tickets_file = tmp_path / "tickets.bin"
    config = kiosk_config(centre_server, mosquitto, tmp_path, {"kind": "file", "path": str(tickets_file)},
                          offer_visits=True)
    with centre_server.client(centre_server.login("clerk")) as http:  # the KRA counter is open: "where" is known
        assert http.post("/api/v1/counters/c12/open").status_code == 200
    with centre_server.client(centre_server.login("manager")) as http:  # one person holds one counter
        assert http.post("/api/v1/counters/c01/open").status_code == 200  # and an ID counter: the visit's estimate
    data = run_kiosk(config, "visit_two_services").result()["data"]

    # "Anything else today?" offers the menu's services after a new ID, in the menu's order
    assert data["offered_en"][:3] == ["kra-pin", "sha-registration", "nssf-registration"]
    # after the KRA PIN: what follows it, never a service already on the ticket
    assert "kra-pin" not in data["offered_after_en"] and "id-card-new" not in data["offered_after_en"]
    assert data["offered_after_en"][0] == "sha-registration"
    # "What you need" covers both services, each under its name, in the citizen's language
    needs = data["needs_en"]
    assert needs["service"] == "Your 2 services on one ticket: what each needs"
    assert "1. New national ID card" in needs["documents"] and "2. KRA PIN registration" in needs["documents"]
    assert needs["documents"].index("1. New national ID card") < needs["documents"].index("2. KRA PIN registration")
    assert needs["documents"].count("Bring these documents") == 2 and needs["documents"].count("Fee") >= 2
    assert needs["orientation"] == "vertical" and needs["facts"] == ""
    sw = data["needs_sw-large"]
    assert sw["service"] == "Huduma zako 2 kwenye tiketi moja: kila moja inahitaji nini"
    assert "1. Kitambulisho kipya cha taifa" in sw["documents"] and "2. Usajili wa PIN ya KRA" in sw["documents"]
    assert sw["documents"].count("Leta nyaraka hizi") == 2 and "Ada" in sw["documents"]
    assert sw["have"].startswith("Ninavyo")
    # "No, that is all" fits the count: in Kiswahili "ni hiyo tu" for one service, "ni hizo tu" for two
    assert (data["done_one_en"], data["done_two_en"]) == ("No, that is all", "No, that is all")
    assert (data["done_one_sw-large"], data["done_two_sw-large"]) == ("Hapana, ni hiyo tu", "Hapana, ni hizo tu")
    # the confirm screen states no priority as a value, not as the question's answer ("No, thank you")
    assert "Priority: [b]None[/b]" in data["confirm_en"] and "thank you" not in data["confirm_en"]
    assert "Kipaumbele: [b]Hakuna[/b]" in data["confirm_sw-large"] and "asante" not in data["confirm_sw-large"]
    for tag in ("en", "sw-large"):
        t = data[f"ticket_{tag}"]
        assert t["service_id"] == "id-card-new"
        assert [(s["service_id"], s["state"]) for s in t["visit"]] == [("id-card-new", "now"), ("kra-pin", "next")]
    with centre_server.client() as http:
        live = http.get(f"/api/v1/tickets/{data['ticket_en']['id']}").json()
    assert [s["service_id"] for s in live["visit"]] == ["id-card-new", "kra-pin"]

    raw = tickets_file.read_bytes()
    (ARTIFACTS / "kiosk-visit-tickets.bin").write_bytes(raw)
    printed = decode(raw)
    assert printed.cuts == 2
    assert "Also on this ticket:" in printed.texts and "2. KRA PIN registration (counter 12)" in printed.texts
    # the whole visit's estimate: every step's wait, summed
    assert any(line.startswith("Until your last service is called: ") for line in printed.texts)
    assert any(line.startswith("Hadi huduma yako ya mwisho iitwe:") for line in printed.texts)
    assert "dakika" not in printed.texts  # the figure never wraps away from its unit
    assert "Pia kwenye tiketi hii:" in printed.texts and "2. Usajili wa PIN ya KRA (kaunta 12)" in printed.texts
    # the checklist of each service on paper, under its name, in each ticket's language
    first, second = (decode(job) for job in raw.split(b"\x1dV\x00")[:2])
    for job, bring, names, fee in ((first, "BRING:", ("1. New national ID card", "2. KRA PIN registration"), "Fee: "),
                                   (second, "LETA:", ("1. Kitambulisho kipya cha taifa", "2. Usajili wa PIN ya KRA"),
                                    "Ada: ")):
        texts = job.texts
        assert texts.count(bring) == 1, texts
        at = [texts.index(n) for n in names]
        assert texts.index(bring) < at[0] < at[1], texts
        boxes = [i for i, line in enumerate(texts) if line.startswith("[ ] ")]
        assert any(at[0] < i < at[1] for i in boxes) and any(i > at[1] for i in boxes), texts
        assert sum(1 for line in texts if line.strip().startswith(fee)) >= 2, texts
    render(decode(raw.split(b"\x1dV\x00")[0] + b"\x1dV\x00")).save(ARTIFACTS / "kiosk-visit-printed-ticket.png")

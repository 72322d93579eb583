"""The day's reconciliation, defined once (``figures.payment_figures``), and its place in the summary to HQ."""

from __future__ import annotations

from centre_server.contract import summary as schema
from centre_server.reports import figures


def story(tid: str, service: str, outcome: str | None = "served") -> figures.TicketStory:
    return figures.TicketStory(ticket_id=tid, issued_at=0.0, visits=[
        figures.Visit(ticket_id=tid, service_id=service, entered_at=0.0, kind="issued", outcome=outcome)])


FEES = {"passport": (4550, False), "land-rates": (0, True), "kra-pin": (0, False)}


def test_fees_due_are_for_served_tickets_and_money_received_is_counted_whatever_became_of_the_ticket():
    stories = [story("a", "passport"), story("b", "passport"), story("c", "passport", "cancelled"),
               story("d", "land-rates"), story("e", "kra-pin")]
    pays = [{"ticket_id": "a", "service_id": "passport", "state": "paid", "amount_ksh": 4550},
            {"ticket_id": "b", "service_id": "passport", "state": "failed", "amount_ksh": 4550},
            {"ticket_id": "c", "service_id": "passport", "state": "paid", "amount_ksh": 4550},  # paid, then left
            {"ticket_id": "d", "service_id": "land-rates", "state": "cash", "amount_ksh": None}]
    out = figures.payment_figures(stories, pays, FEES, (1, 950))
    rows = {r["service_id"]: r for r in out["services"]}
    assert set(rows) == {"passport", "land-rates"}  # a free service owes nothing and is not listed
    p = rows["passport"]
    assert (p["served"], p["due_ksh"], p["mpesa_count"], p["mpesa_ksh"], p["unpaid_served"], p["failed_attempts"]) \
        == (2, 9100, 2, 9100, 1, 1)
    assert (rows["land-rates"]["due_ksh"], rows["land-rates"]["cash_count"], rows["land-rates"]["unpaid_served"]) \
        == (0, 1, 0)
    assert (out["received_ksh"], out["unmatched_count"], out["unmatched_ksh"]) == (9100, 1, 950)


def test_a_transfer_moves_the_debt_to_the_service_that_served():
    s = figures.TicketStory(ticket_id="t", issued_at=0.0, visits=[
        figures.Visit(ticket_id="t", service_id="kra-pin", entered_at=0.0, kind="issued", outcome="transferred"),
        figures.Visit(ticket_id="t", service_id="passport", entered_at=1.0, kind="transfer", outcome="served")])
    out = figures.payment_figures([s], [], FEES)
    assert [(r["service_id"], r["due_ksh"], r["unpaid_served"]) for r in out["services"]] == [("passport", 4550, 1)]


def test_a_fee_paid_stays_with_the_service_it_was_paid_for_after_a_transfer():
    """newuser finding 4: P002 paid KSh 4,550 for a passport, was transferred to a birth certificate (nothing due
    here) and served there; the reconciliation showed passport "Due 4,550 · M-Pesa 9,100" and nothing said why.
    The fee stays with the passport, served through the transfer; a transfer to a service with its own fee
    owes that one too."""
    def transferred(tid: str, to: str) -> figures.TicketStory:
        return figures.TicketStory(ticket_id=tid, issued_at=0.0, visits=[
            figures.Visit(ticket_id=tid, service_id="passport", entered_at=0.0, kind="issued", outcome="transferred"),
            figures.Visit(ticket_id=tid, service_id=to, entered_at=1.0, kind="transfer", outcome="served")])

    fees = {**FEES, "birth-cert": (0, False)}
    stories = [story("p1", "passport"), transferred("p2", "birth-cert"), transferred("p3", "land-rates")]
    pays = [{"ticket_id": t, "service_id": "passport", "state": "paid", "amount_ksh": 4550} for t in ("p1", "p2", "p3")]
    out = figures.payment_figures(stories, pays, fees)
    rows = {r["service_id"]: r for r in out["services"]}
    p = rows["passport"]
    assert (p["served"], p["due_ksh"], p["mpesa_count"], p["mpesa_ksh"], p["unpaid_served"], p["refund_count"]) \
        == (3, 3 * 4550, 3, 3 * 4550, 0, 0)
    assert set(rows) == {"passport", "land-rates"}  # the birth certificate owes nothing here
    assert (rows["land-rates"]["served"], rows["land-rates"]["unpaid_served"]) == (1, 1)  # its own fee: not paid


def test_paid_and_never_served_is_a_refund_due_with_its_receipt():
    """Found walking a day: P001 paid KSh 4,550, was cancelled at the close, and the reconciliation showed no
    refund. A waiting ticket (it may still be served) owes nothing yet; a one-stop visit paid for a service it
    was served in, then cancelled in the next, owes nothing back; cash counts as M-Pesa does."""
    visit = figures.TicketStory(ticket_id="v", issued_at=0.0, visits=[
        figures.Visit(ticket_id="v", service_id="passport", entered_at=0.0, kind="issued", outcome="served"),
        figures.Visit(ticket_id="v", service_id="kra-pin", entered_at=1.0, kind="step", outcome="cancelled")])
    stories = [story("c", "passport", "cancelled"), story("n", "passport", "no_show"),
               story("w", "passport", None), story("s", "passport"), visit]
    pays = [{"ticket_id": "c", "service_id": "passport", "state": "paid", "amount_ksh": 4550, "receipt": "SPCQ4AITJP"},
            {"ticket_id": "n", "service_id": "passport", "state": "cash", "amount_ksh": 4550, "receipt": None},
            {"ticket_id": "w", "service_id": "passport", "state": "paid", "amount_ksh": 4550, "receipt": "SW1"},
            {"ticket_id": "s", "service_id": "passport", "state": "paid", "amount_ksh": 4550, "receipt": "SS1"},
            {"ticket_id": "v", "service_id": "passport", "state": "paid", "amount_ksh": 4550, "receipt": "SV1"}]
    out = figures.payment_figures(stories, pays, FEES)
    p = {r["service_id"]: r for r in out["services"]}["passport"]
    assert (p["refund_count"], p["refund_ksh"], p["refund_receipts"]) == (2, 9100, ["SPCQ4AITJP"])
    assert out["refund_ksh"] == 9100 and out["received_ksh"] == 5 * 4550  # received is received, whatever after


def test_the_payments_block_is_optional_and_checked_at_headquarters():
    day = figures.summarise(centre_id="demo", centre_name="Demo", day="2026-12-07", tz="Africa/Nairobi",
                            ticket_events=[], counter_prior={}, counter_events=[], services={}, counters={},
                            now=0.0)
    assert schema.problem(day) is None  # an older centre sends none
    day["payments"] = figures.payment_figures([story("a", "passport")], [], FEES)
    assert schema.problem(day) is None
    day["payments"] = {"services": "all of them"}
    assert "payments" in (schema.problem(day) or "")

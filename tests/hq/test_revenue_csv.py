"""HQ's revenue as CSV (issue 20): one row per centre, service and day, streamed from real PostgreSQL, under the
revenue page's own role rule; its figures are the page's (the JSON's) to the shilling."""

from __future__ import annotations

import csv
import io

import httpx

from centre_server.contract.payments import PaymentsDay, ServicePayments
from centre_server.sim.daysim import simulate_engine_day
from tests.hq.conftest import HqProcess
from tests.hq.test_board import send

DAYS = ["2026-03-02", "2026-03-03"]


def with_payments(data: dict, day_index: int, unmatched: int) -> dict:
    """The day's summary with a payments block on its first two services (fees 1,050 and 300 KSh)."""
    ids = [s["service_id"] for s in data["services"]][:2]
    services = [
        ServicePayments(service_id=ids[0], fee_ksh=1050, served=10 + day_index, due_ksh=1050 * (10 + day_index),
                        mpesa_count=7, mpesa_ksh=7 * 1050, cash_count=2, cash_ksh=2 * 1050, waived_count=1,
                        waived_ksh=1050, unpaid_served=day_index, failed_attempts=3,
                        refund_count=day_index, refund_ksh=1050 * day_index,
                        refund_receipts=["SREFUND001"] if day_index else []),
        ServicePayments(service_id=ids[1], fee_ksh=300, served=4, due_ksh=1200, mpesa_count=4, mpesa_ksh=1200),
    ]
    pay = PaymentsDay(services=services, unmatched_count=unmatched, unmatched_ksh=unmatched * 1050,
                      received_ksh=sum(s.mpesa_ksh + s.cash_ksh for s in services))
    return {**data, "payments": pay.model_dump()}


def test_revenue_csv_has_a_row_per_centre_service_and_day_as_the_page_counts(hq: HqProcess) -> None:
    sent = 0
    for cid, name in (("nairobi-gpo", "Huduma Centre GPO"), ("mombasa", "=HYPERLINK(\"x\") Mombasa")):
        token = hq.add_centre(cid, name)
        for i, day in enumerate(DAYS):
            data = simulate_engine_day(day, centre_id=cid, centre_name=name, citizens=30, seed=i)
            if cid == "mombasa" and i == 0:  # an older centre: no payment figures that day
                assert send(hq, token, data).status_code == 201
                continue
            assert send(hq, token, with_payments(data, i, unmatched=1 if cid == "nairobi-gpo" and i else 0)
                        ).status_code == 201
            sent += 1

    viewer = hq.client("viewer")
    r = viewer.get("/revenue.csv", params={"from": DAYS[0], "to": DAYS[-1]})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert f'filename="huduma-revenue-{DAYS[0]}-to-{DAYS[-1]}.csv"' in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    services = [row for row in rows if row["service_id"] != "(unmatched)"]
    unmatched = [row for row in rows if row["service_id"] == "(unmatched)"]
    assert len(services) == 2 * sent  # two services with a fee per day that carried payments; none for the older
    assert [(u["centre_id"], u["date"], u["unmatched_count"], u["unmatched_ksh"]) for u in unmatched] == [
        ("nairobi-gpo", DAYS[1], "1", "1050")]
    assert {(row["centre_id"], row["date"]) for row in services} == {
        ("nairobi-gpo", DAYS[0]), ("nairobi-gpo", DAYS[1]), ("mombasa", DAYS[1])}
    # a centre's name that starts like a formula stays text in a spreadsheet
    assert {row["centre_name"] for row in rows if row["centre_id"] == "mombasa"} == {"'=HYPERLINK(\"x\") Mombasa"}
    one = next(row for row in services if row["centre_id"] == "nairobi-gpo" and row["date"] == DAYS[1]
               and row["fee_ksh"] == "1050")
    assert (one["served"], one["due_ksh"], one["mpesa_ksh"], one["cash_ksh"], one["received_ksh"],
            one["waived_count"], one["unpaid_served"]) == ("11", "11550", "7350", "2100", "9450", "1", "1")
    assert (one["refund_count"], one["refund_ksh"]) == ("1", "1050")  # paid, not served: owed back
    assert one["name_en"] and one["name_sw"]

    # the CSV adds up to the page's figures (its JSON), per centre and in all
    page = viewer.get("/api/v1/revenue", params={"from": DAYS[0], "to": DAYS[-1]}).json()
    for c in page["centres"]:
        mine = [row for row in services if row["centre_id"] == c["centre_id"]]
        for k in ("served", "due_ksh", "mpesa_ksh", "cash_ksh", "received_ksh", "waived_count", "unpaid_served",
                  "refund_ksh"):
            assert sum(int(row[k]) for row in mine) == c[k], (c["centre_id"], k)
        assert sum(int(u["unmatched_ksh"]) for u in unmatched if u["centre_id"] == c["centre_id"]) == \
            c["unmatched_ksh"]
    assert sum(int(row["received_ksh"]) for row in services) == page["total"]["received_ksh"]

    # the page's role rule: staff only; a bad day is a 422 in the one error shape, never a 500
    assert httpx.get(f"{hq.url}/revenue.csv", timeout=10).status_code == 401
    bad = viewer.get("/revenue.csv", params={"from": "2026-02-30"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "bad_date"
    # and the page links to it for the days it shows
    html = viewer.get("/revenue", params={"from": DAYS[0], "to": DAYS[-1], "lang": "sw"}).text
    assert f'href="/revenue.csv?from={DAYS[0]}&amp;to={DAYS[-1]}"' in html and "Pakua kama CSV" in html
    assert "Kurejesha (walilipa, hawakuhudumiwa)" in html and page["total"]["refund_ksh"] == 2 * 1050

"""The forecast on simulated history with known rates: weekdays, a payday window, a public holiday, growth."""

from __future__ import annotations

from datetime import date

import pytest

from centre_server.menu import builtin_menu
from centre_server.queue.hours import OpeningHours, public_holidays
from centre_server.staffing import forecast as fc
from centre_server.staffing.calendar import day_kind, holiday_name
from centre_server.staffing.simulate import demo_rates, draw_history

FIRST = date(2026, 8, 31)  # a Monday; 9 weeks to 1 November, over Mashujaa Day (20 October) and two paydays
DAYS = 63
HOLIDAYS = OpeningHours(holidays=public_holidays("KE", range(2026, 2027)))


@pytest.fixture(scope="module")
def history():
    rates = demo_rates([s.id for s in builtin_menu()], start=FIRST)
    return rates, draw_history(rates, FIRST, DAYS, seed=5, open_on=lambda d: holiday_name(d) is None)


def test_the_calendar_knows_kenyan_holidays_and_paydays():
    assert holiday_name(date(2026, 10, 20)) is not None  # Mashujaa Day
    kind = day_kind(date(2026, 10, 21))
    assert kind.after_holiday and not kind.payday and kind.holiday is None
    assert day_kind(date(2026, 10, 27)).payday and day_kind(date(2026, 10, 31)).month_end
    assert not day_kind(date(2026, 10, 15)).payday


def test_the_forecast_beats_seasonal_naive_on_held_out_weeks(history):
    _, hist = history
    bt = fc.backtest(hist, weeks=2)
    assert bt.days == 13  # two weeks, less the holiday the centre was shut
    assert bt.wape_model < bt.wape_naive, bt
    assert bt.wape_model < 0.9 * bt.wape_naive, bt  # not by a hair: the naive copies the shut holiday's zeros


def test_the_model_finds_the_known_effects_again(history):
    rates, hist = history
    model = fc.fit(hist)
    e = model.effects
    assert e["payday"] == pytest.approx(rates.payday, abs=0.12)
    assert e["after_holiday"] == pytest.approx(rates.after_holiday, abs=0.25)
    assert e["sat"] == pytest.approx(0.6 / 1.3, abs=0.08) and e["sun"] == pytest.approx(0.35 / 1.3, abs=0.08)
    day = date(2026, 11, 2)  # the Monday after: payday window
    got = fc.forecast_day(hist, day, hours=HOLIDAYS, model=model)
    truth = sum(sum(v) for v in rates.rate(day).values())
    assert got.total() == pytest.approx(truth, rel=0.12)
    busiest = max(got.slots, key=got.slot_total)
    assert busiest in (17, 18, 19)  # the morning peak, 08:30-10:00


def test_a_holiday_the_centre_keeps_is_forecast_closed_not_quiet(history):
    _, hist = history
    got = fc.forecast_day(hist.before(date(2026, 10, 20)), date(2026, 10, 20), hours=HOLIDAYS)
    assert got.closed == holiday_name(date(2026, 10, 20))
    assert got.total() == 0


def test_too_little_history_says_so():
    rates = demo_rates(["kra-pin", "passport"], start=FIRST)
    with pytest.raises(fc.NotEnoughHistory, match="3 open day"):
        fc.fit(draw_history(rates, FIRST, 3))

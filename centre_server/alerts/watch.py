"""What is wrong now, since when, and which SMS that deserves: the managers' alerts, step by step.

``conditions`` reads the centre (a service over its target wait, by the board's
one definition in ``reports.live``) and the devices' presence (offline, printer
out of paper). ``AlertBook.step`` compares them with what it knew: a condition
that has held for its threshold is told by SMS, at most once per kind and
subject every ``repeat_minutes``, and told again when it clears. The book is
a table (``manager_alerts``), so a restart keeps both the start of an ongoing
breach and the rate limit.

A device's silence is not its recovery: a device the server has not heard of
since it started (its presence unknown) keeps its alert as it was. While the
centre is closed nothing about devices is raised (kiosks are switched off at
night), and what was not yet told is forgotten, so a morning counts from the
opening.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

import sqlite_utils

from centre_server.channels.i18n import STRINGS, ascii_fit
from centre_server.config import AlertSettings
from centre_server.contract import Availability, PrinterStatus
from centre_server.reports.live import service_breaches

logger = logging.getLogger(__name__)

SERVICE_BREACH = "service_breach"
DEVICE_OFFLINE = "device_offline"
PRINTER_PAPER_OUT = "printer_paper_out"
KINDS = (SERVICE_BREACH, DEVICE_OFFLINE, PRINTER_PAPER_OUT)
SMS_LIMIT = 160  # one SMS of GSM-7 text
NAME_LIMITS = {"centre": 28, "service": 44, "device": 40}  # so every text fits one SMS with the longest names


@dataclass(frozen=True)
class Condition:
    """Something wrong now: ``kind`` about ``subject`` (a service id, a device id)."""

    kind: str
    subject: str
    detail: dict[str, Any] = field(default_factory=dict)
    began_at: float | None = None  # when it began, when that is known (a breach: its citizen's wait passed the target)


@dataclass(frozen=True)
class Message:
    """One alert SMS to send: the condition raised (``cleared`` False) or cleared."""

    kind: str
    subject: str
    cleared: bool
    since: float
    at: float
    detail: dict[str, Any]
    previous_sms_at: float | None = None  # the SMS before this one about the same alert (the rate limit's)


def threshold_s(settings: AlertSettings, kind: str) -> float:
    minutes = {SERVICE_BREACH: settings.breach_minutes, DEVICE_OFFLINE: settings.offline_minutes,
               PRINTER_PAPER_OUT: settings.paper_minutes}[kind]
    return minutes * 60


def conditions(centre: Any, devices: dict[str, dict[str, Any]] | None) -> tuple[list[Condition], set[tuple[str, str]]]:
    """What is wrong now, and which (kind, subject) are known to be fine (the rest is unknown).

    ``devices`` is the presence the board shows (None: no broker link, nothing known of devices).
    """
    now = centre.clock()
    found: list[Condition] = []
    fine: set[tuple[str, str]] = set()
    with centre.lock:
        state = centre.state
        breached = {b["service_id"]: b for b in service_breaches(state, now)}
        for sid, s in state.services.items():
            if sid in breached:
                b = breached[sid]
                found.append(Condition(SERVICE_BREACH, sid, {
                    "name_en": s.name_en, "name_sw": s.name_sw or s.name_en, "waiting": b["waiting"],
                    "longest_wait_s": b["longest_wait_s"], "target_wait_s": b["target_wait_s"]},
                    began_at=now - (b["longest_wait_s"] - b["target_wait_s"])))
            else:
                fine.add((SERVICE_BREACH, sid))
    for dev in (devices or {}).values():
        device_id = str(dev.get("device_id", ""))
        availability = dev.get("availability")
        printer = (dev.get("status") or {}).get("printer")
        if availability == Availability.offline.value:
            found.append(Condition(DEVICE_OFFLINE, device_id, {}))
        elif availability == Availability.online.value:
            fine.add((DEVICE_OFFLINE, device_id))
        if printer == PrinterStatus.paper_out.value:
            found.append(Condition(PRINTER_PAPER_OUT, device_id, {}))
        elif printer is not None and availability == Availability.online.value:
            fine.add((PRINTER_PAPER_OUT, device_id))
    return found, fine


class AlertBook:
    """The ``manager_alerts`` table: each alert's start, whether it was told, the last SMS about it."""

    def __init__(self, db: sqlite_utils.Database, settings: AlertSettings) -> None:
        self.db, self.settings = db, settings

    def rows(self) -> list[dict[str, Any]]:
        cur = self.db.execute("SELECT kind, subject, since, detail, told_at, last_sms_at, cleared_at "
                              "FROM manager_alerts ORDER BY since")
        return [{"kind": r[0], "subject": r[1], "since": r[2], "detail": json.loads(r[3] or "{}"), "told_at": r[4],
                 "last_sms_at": r[5], "cleared_at": r[6]} for r in cur.fetchall()]

    def step(self, found: list[Condition], fine: set[tuple[str, str]], now: float,
             centre_open: bool = True, budget: int | None = None) -> list[Message]:
        """Bring the book to ``now``; the SMS that are due (raised past their threshold, or cleared after an SMS).

        ``budget``: how many raised alerts may be told now (the phones' hourly cap); the rest wait, untold.
        """
        out: list[Message] = []
        repeat = self.settings.repeat_minutes * 60
        if not centre_open:  # devices are switched off at night: nothing new is raised about them
            found = [c for c in found if c.kind == SERVICE_BREACH]
        with self.db.conn:
            known = {(r["kind"], r["subject"]): r for r in self.rows()}
            for c in found:
                key = (c.kind, c.subject)
                row = known.pop(key, None)
                if row is None or row["cleared_at"] is not None:  # a new episode
                    since, told, last = min(now, c.began_at or now), None, (row or {}).get("last_sms_at")
                else:
                    since, told, last = row["since"], row["told_at"], row["last_sms_at"]
                if told is None and now - since >= threshold_s(self.settings, c.kind) and (
                        last is None or now - last >= repeat) and (budget is None or budget > 0):
                    budget = None if budget is None else budget - 1
                    out.append(Message(c.kind, c.subject, False, since, now, c.detail, previous_sms_at=last))
                    told = last = now
                self.db.conn.execute(
                    "INSERT OR REPLACE INTO manager_alerts(kind, subject, since, detail, told_at, last_sms_at,"
                    " cleared_at) VALUES (?, ?, ?, ?, ?, ?, NULL)",
                    [c.kind, c.subject, since, json.dumps(c.detail), told, last])
            for (kind, subject), row in known.items():
                if row["cleared_at"] is not None:
                    continue
                if (kind, subject) in fine:
                    self.db.conn.execute("UPDATE manager_alerts SET cleared_at=? WHERE kind=? AND subject=?",
                                         [now, kind, subject])
                    if row["told_at"] is not None and (centre_open or kind != SERVICE_BREACH):
                        # (a day closed with citizens waiting empties its queues: not "back within target")
                        out.append(Message(kind, subject, True, row["since"], now, row["detail"]))
                elif not centre_open and kind != SERVICE_BREACH and row["told_at"] is None:
                    # not told before closing: the morning counts afresh from the opening
                    self.db.conn.execute("UPDATE manager_alerts SET cleared_at=? WHERE kind=? AND subject=?",
                                         [now, kind, subject])
        return out

    def untold(self, message: Message) -> None:
        """The raise ``message`` could not go (every phone over its hourly cap): tell it at a later step."""
        self.db.execute("UPDATE manager_alerts SET told_at=NULL, last_sms_at=? WHERE kind=? AND subject=? "
                        "AND told_at=?", [message.previous_sms_at, message.kind, message.subject, message.at])

    def current(self, now: float) -> list[dict[str, Any]]:
        """The open alerts for the board: since when, and whether an SMS told it (or when one will)."""
        repeat = self.settings.repeat_minutes * 60
        out = []
        for r in self.rows():
            if r["cleared_at"] is not None:
                continue
            due = r["since"] + threshold_s(self.settings, r["kind"])
            if r["told_at"] is None and r["last_sms_at"] is not None:
                due = max(due, r["last_sms_at"] + repeat)
            out.append({"kind": r["kind"], "subject": r["subject"], "since": r["since"], "detail": r["detail"],
                        "told_at": r["told_at"], "sms_due_at": None if r["told_at"] is not None else due})
        return out


def sms_text(message: Message, lang: str, centre_name: str, tz: tzinfo) -> str:
    """The alert in one SMS (160 GSM-7 characters), in ``lang``: names are cut, never the facts."""
    d = message.detail

    def hhmm(ts: float) -> str:
        return datetime.fromtimestamp(ts, tz).strftime("%H:%M")

    def cut(text: str, kind: str) -> str:
        return ascii_fit(text, NAME_LIMITS[kind])

    args: dict[str, Any] = {"centre": cut(centre_name, "centre"), "since": hhmm(message.since),
                            "time": hhmm(message.at)}
    if message.kind == SERVICE_BREACH:
        name = d.get("name_sw" if lang == "sw" else "name_en") or message.subject
        args |= {"service": cut(name, "service"), "n": d.get("waiting", 0),
                 "wait": round(d.get("longest_wait_s", 0) / 60), "target": round(d.get("target_wait_s", 0) / 60)}
    else:
        args["device"] = cut(message.subject, "device")
    key = f"alert_sms_{message.kind}" + ("_clear" if message.cleared else "")
    return ascii_fit(STRINGS.tr(key, lang, **args), SMS_LIMIT)

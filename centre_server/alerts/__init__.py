"""SMS alerts to the managers who are not looking at the board (issue 21).

``AlertsExtension`` is this room as a part of the running server: a thread looks
at the centre every ``[alerts] check_every_s`` (``watch.conditions``), keeps the
book of what is wrong since when (``watch.AlertBook``) and queues the SMS that
are due on the channels' SMS outbox, so they leave through the centre's one SMS
gateway with its retries (the demo's gateway writes them to ``sms.log``).

It knows the devices' presence only through the function it is given (the MQTT
link's, wired by ``create_app``): this room sits below the MQTT room.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from centre_server.alerts.watch import AlertBook, Message, conditions, sms_text

if TYPE_CHECKING:
    from starlette.routing import Mount

    from centre_server.channels import ChannelsExtension
    from centre_server.config import CentreSettings
    from centre_server.runtime.centre import Centre

logger = logging.getLogger(__name__)

Presence = Callable[[], dict[str, dict[str, Any]] | None]


class AlertsExtension:
    """The managers' SMS alerts of one centre: thresholds and phones from ``[alerts]``."""

    name = "alerts"
    on_committed = None  # it looks at the centre on its own clock: a breach begins with nobody acting

    def __init__(self, settings: CentreSettings, channels: ChannelsExtension, presence: Presence | None = None) -> None:
        self.settings = settings.alerts
        self.centre_name = settings.centre_name
        self.channels = channels
        self.presence: Presence = presence or (lambda: None)
        self.centre: Centre | None = None
        self.book: AlertBook | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def mounts(self) -> Sequence[Mount]:
        return ()

    def start(self, centre: Centre) -> None:
        self.centre = centre
        self.book = AlertBook(centre.db, self.settings)
        self._thread = threading.Thread(target=self._run, name="manager-alerts", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.settings.check_every_s):
            try:
                self.check()
            except Exception:  # one bad round is logged; the next looks again
                logger.exception("alert check failed")

    def check(self) -> list[Message]:
        """One look at the centre: the alert SMS that were due, queued."""
        assert self.centre is not None and self.book is not None
        found, fine = conditions(self.centre, self.presence())
        now = self.centre.clock()
        phones = self.settings.phones
        budget = min((self.settings.max_per_hour - self.sent_last_hour(p) for p in phones), default=None)
        due = self.book.step(found, fine, now, centre_open=self.centre.day_payload().open,
                             budget=None if budget is None else max(0, budget))
        for message in due:
            if not self._send(message) and not message.cleared:
                self.book.untold(message)  # held by the hourly cap: it goes once the hour allows
        return due

    def _send(self, message: Message) -> bool:
        """Queue the SMS to every manager; False when the hourly cap held it back from all of them."""
        assert self.centre is not None
        text = sms_text(message, self.settings.language, self.centre_name, self.centre.tz)
        hub = self.channels.hub
        if hub is None or not self.settings.phones:
            return True  # nobody to tell: the board says so
        queued = False
        for phone in self.settings.phones:
            if self.sent_last_hour(phone) >= self.settings.max_per_hour:
                logger.info("alert SMS to %s held back: %s sent in the last hour", phone, self.settings.max_per_hour)
                continue
            phase = "clear" if message.cleared else "raise"
            key = f"alert:{message.kind}:{message.subject}:{phase}:{message.at}:{phone}"
            hub.enqueue(key, phone, "alert", None, text)
            queued = True
        if queued:
            logger.info("alert SMS %s %s %s: %s", message.kind, message.subject,
                        "cleared" if message.cleared else "raised", text)
        return queued

    def sent_last_hour(self, phone: str) -> int:
        assert self.centre is not None
        return self.centre.db.execute(
            "SELECT COUNT(*) FROM sms_outbox WHERE kind='alert' AND phone=? AND created_at > ?",
            [phone, self.centre.clock() - 3600]).fetchone()[0]

    def view(self) -> dict[str, Any]:
        """What the board shows: the thresholds, who is told, and the open alerts with their SMS."""
        s = self.settings
        gateway = self.channels.settings.sms_gateway
        alerts = self.book.current(self.centre.clock()) if self.book is not None and self.centre is not None else []
        return {"phones": [mask(p) for p in s.phones], "language": s.language, "sms_gateway": gateway,
                "presence_known": self.presence() is not None,
                "thresholds": {"breach_minutes": s.breach_minutes, "offline_minutes": s.offline_minutes,
                               "paper_minutes": s.paper_minutes, "repeat_minutes": s.repeat_minutes,
                               "max_per_hour": s.max_per_hour},
                "alerts": alerts}


def mask(phone: str) -> str:
    """A manager's number as the board shows it: enough to tell whose, not to copy (+254 7•• ••• 001)."""
    return phone[:5] + "•" * max(0, len(phone) - 8) + phone[-3:]


__all__ = ["AlertsExtension"]

"""SMS gateways and the outbox worker: messages leave off the request path, with retries.

A gateway is anything with ``send(phone, text) -> reference``; it raises
``SmsError`` (``permanent`` when retrying cannot help). The worker sends what is
due in ``sms_outbox``, one message at a time, and reschedules failures with an
exponential backoff: a gateway that is down delays its messages, never the queue
of tickets, and never the other messages once it recovers.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, Protocol

import httpx

logger = logging.getLogger(__name__)


class SmsError(Exception):
    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class SmsGateway(Protocol):
    name: str

    def send(self, phone: str, text: str) -> str:
        """Hand one message to the gateway; the gateway's reference for it."""
        ...

    def close(self) -> None: ...


_LOG_LOCKS: dict[str, threading.Lock] = {}
_LOG_LOCKS_GUARD = threading.Lock()
ERASED = "[erased]"


def _log_lock(path: Path) -> threading.Lock:
    """One lock per log file in this process: the gateway's appends and the day close's erasure never interleave."""
    with _LOG_LOCKS_GUARD:
        return _LOG_LOCKS.setdefault(str(Path(path).resolve()), threading.Lock())


def log_path(settings: Any, directory: Path) -> Path | None:
    """The log gateway's file (``[channels] sms_log``), or None when SMS go elsewhere."""
    if settings.sms_gateway != "log":
        return None
    path = Path(settings.sms_log)
    return path if path.is_absolute() else Path(directory) / path


def erase_log_phones(path: Path, before: float) -> int:
    """Replace the phone number of every logged message sent before ``before`` (a timestamp) with ``[erased]``.

    A closed day keeps no phone numbers (docs/design.md §7), and the demo gateway's
    log held every number the centre ever texted. The file is rewritten
    whole (a temporary file, then a rename) under the gateway's lock; lines
    whose time cannot be read are erased too (a number kept by mistake is
    the worse error). Returns how many numbers were erased.
    """
    path = Path(path)
    if not path.is_file():
        return 0
    erased = 0
    with _log_lock(path):
        out = []
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True):
            parts = line.split("\t", 2)
            if len(parts) == 3 and parts[1] != ERASED:
                try:
                    when = datetime.fromisoformat(parts[0]).timestamp()
                except ValueError:
                    when = before - 1
                if when < before:
                    parts[1] = ERASED
                    erased += 1
                    line = "\t".join(parts)
            out.append(line)
        if erased:
            tmp = path.with_name(path.name + ".erasing")
            tmp.write_text("".join(out), encoding="utf-8")
            os.replace(tmp, path)
    if erased:
        logger.info("erased %s phone numbers from %s", erased, path)
    return erased


class LogGateway:
    """The demo gateway: appends each message to a file a person can read (``tail -f DIR/sms.log``)."""

    name = "log"

    def __init__(self, path: Path, tz: tzinfo | None = None) -> None:
        self.path = path
        self.tz = tz
        self._lock = _log_lock(path)
        self._n = 0

    def send(self, phone: str, text: str) -> str:
        stamp = datetime.now(UTC).astimezone(self.tz).isoformat(timespec="seconds")
        line = f"{stamp}\t{phone}\t{text.replace(chr(10), ' ')}\n"
        try:
            with self._lock, open(self.path, "a", encoding="utf-8") as f:
                f.write(line)
                self._n += 1
        except OSError as err:
            raise SmsError(f"cannot write {self.path}: {err}") from None
        return f"log-{self._n}"

    def close(self) -> None:
        pass


# Africa's Talking recipient status codes: 100 Processed, 101 Sent, 102 Queued are accepted.
AT_OK = {100, 101, 102}
AT_PERMANENT = {403, 404, 406}  # InvalidPhoneNumber, UnsupportedNumberType, UserInBlacklist


class AfricasTalkingGateway:
    """Africa's Talking's bulk SMS API: POST a form to ``{base_url}/version1/messaging`` with an ``apiKey`` header."""

    name = "africastalking"

    def __init__(self, base_url: str, username: str, api_key: str, sender_id: str = "",
                 timeout: float = 10.0) -> None:
        self.url = base_url.rstrip("/") + "/version1/messaging"
        self.username = username
        self.sender_id = sender_id
        self.client = httpx.Client(timeout=timeout, headers={"apiKey": api_key, "Accept": "application/json"})

    def send(self, phone: str, text: str) -> str:
        form = {"username": self.username, "to": phone, "message": text}
        if self.sender_id:
            form["from"] = self.sender_id
        try:
            r = self.client.post(self.url, data=form)
        except httpx.HTTPError as err:
            raise SmsError(f"gateway unreachable: {type(err).__name__}: {err}") from None
        if r.status_code == 401:
            raise SmsError("gateway refused the API key (401)")
        if r.status_code >= 400:
            raise SmsError(f"gateway answered {r.status_code}: {r.text[:200]}")
        try:
            data = r.json()["SMSMessageData"]
            recipients: list[dict[str, Any]] = data.get("Recipients") or []
        except (ValueError, KeyError, TypeError, AttributeError):
            raise SmsError(f"unreadable gateway answer: {r.text[:200]}") from None
        if not recipients:
            raise SmsError(f"gateway sent to nobody: {data.get('Message', '')[:200]}")
        rec = recipients[0]
        code = int(rec.get("statusCode", 0) or 0)
        if code in AT_OK:
            return str(rec.get("messageId", ""))
        raise SmsError(f"{rec.get('status', 'failed')} ({code})", permanent=code in AT_PERMANENT)

    def close(self) -> None:
        self.client.close()


def make_gateway(settings: Any, directory: Path, tz: tzinfo | None = None) -> SmsGateway | None:
    if settings.sms_gateway == "none":
        return None
    if settings.sms_gateway == "africastalking":
        return AfricasTalkingGateway(settings.at_base_url, settings.at_username, settings.at_api_key,
                                     settings.at_sender_id, settings.sms_timeout_s)
    path = Path(settings.sms_log)
    return LogGateway(path if path.is_absolute() else directory / path, tz)


class OutboxWorker:
    """One background thread: sends due SMS, and runs ``periodic`` jobs (appointment release)."""

    def __init__(self, db: Any, gateway: SmsGateway | None, settings: Any,
                 periodic: list[tuple[float, Callable[[], object]]] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.gateway = gateway
        self.settings = settings
        self.clock = clock
        self.periodic: list[list[Any]] = [[every, job, 0.0] for every, job in (periodic or [])]  # every, job, last
        self.wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sending = threading.Lock()  # the worker's round and a flush never send one message twice

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sms-outbox", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.wake.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
        if self.gateway is not None:
            self.gateway.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._run_periodic()
                sent = self.send_due()
            except Exception:  # the worker must outlive any one bad row or closed database
                logger.exception("SMS outbox round failed")
                sent = 0
            if not sent:
                self.wake.wait(self._idle_wait())
                self.wake.clear()

    def _run_periodic(self) -> None:
        now = self.clock()
        for entry in self.periodic:
            every, job, last = entry
            if now - last >= every:
                entry[2] = now
                try:
                    job()
                except Exception:
                    logger.exception("periodic job %r failed", job)

    def _idle_wait(self) -> float:
        row = self.db.execute("SELECT MIN(next_attempt_at) FROM sms_outbox WHERE sent_at IS NULL AND failed_at IS NULL"
                              ).fetchone()
        wait = 1.0
        if row and row[0] is not None:
            wait = min(wait, max(0.05, row[0] - self.clock()))
        return wait

    def send_due(self, limit: int = 20) -> int:
        """Send what is due now; the number of messages tried."""
        if self.gateway is None:
            return 0
        with self._sending:
            rows = self.db.execute(
                "SELECT id, phone, text, attempts FROM sms_outbox WHERE sent_at IS NULL AND failed_at IS NULL "
                "AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?", [self.clock(), limit]).fetchall()
            for msg_id, phone, text, attempts in rows:
                if self._stop.is_set():
                    break
                self._send_one(msg_id, phone, text, attempts)
        return len(rows)

    def flush(self, kind: str, budget_s: float = 60.0) -> int:
        """Try every pending message of ``kind`` once now, whatever its next attempt time (the day close:
        the numbers are erased next, so a later retry could not happen). Stops after ``budget_s``, so a
        dead gateway cannot hold the close; what is left is given up by the erasure. Returns how many went."""
        if self.gateway is None:
            return 0
        sent = 0
        until = time.monotonic() + budget_s
        with self._sending:
            rows = self.db.execute("SELECT id, phone, text, attempts FROM sms_outbox WHERE sent_at IS NULL "
                                   "AND failed_at IS NULL AND kind=? AND phone != '' ORDER BY id", [kind]).fetchall()
            for msg_id, phone, text, attempts in rows:
                if self._stop.is_set() or time.monotonic() > until:
                    logger.warning("%s message(s) of kind %s not tried before the deadline", len(rows) - sent, kind)
                    break
                self._send_one(msg_id, phone, text, attempts)
                went, given_up = self.db.execute("SELECT sent_at IS NOT NULL, failed_at IS NOT NULL FROM sms_outbox "
                                                 "WHERE id=?", [msg_id]).fetchone()
                sent += went
                if not went and not given_up:  # the gateway is down (a bad number is given up): the rest would
                    logger.warning("SMS gateway down at the close: %s message(s) of kind %s not sent",
                                   len(rows) - sent, kind)  # wait a timeout each, holding the close
                    break
        return sent

    def _send_one(self, msg_id: int, phone: str, text: str, attempts: int) -> None:
        assert self.gateway is not None
        attempts += 1
        try:
            ref = self.gateway.send(phone, text)
        except Exception as err:  # a gateway bug is one more failed attempt, not a dead worker
            permanent = isinstance(err, SmsError) and err.permanent
            s = self.settings
            if permanent or attempts >= s.sms_max_attempts:
                self.db.execute("UPDATE sms_outbox SET attempts=?, failed_at=?, last_error=? WHERE id=?",
                                [attempts, self.clock(), str(err)[:500], msg_id])
                logger.warning("SMS %s to %s given up after %s attempt(s): %s", msg_id, phone, attempts, err)
            else:
                delay = min(s.sms_backoff_max_s, s.sms_backoff_s * 2 ** (attempts - 1))
                self.db.execute("UPDATE sms_outbox SET attempts=?, next_attempt_at=?, last_error=? WHERE id=?",
                                [attempts, self.clock() + delay, str(err)[:500], msg_id])
                logger.info("SMS %s failed (attempt %s), retry in %.1fs: %s", msg_id, attempts, delay, err)
            return
        self.db.execute("UPDATE sms_outbox SET attempts=?, sent_at=?, gateway_ref=?, last_error=NULL WHERE id=?",
                        [attempts, self.clock(), ref[:200], msg_id])

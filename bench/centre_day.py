"""The parts of a simulated centre day that ``day.py`` and ``soak.py`` share.

A :class:`CentreDay` provisions a demo centre in a temporary folder, starts a
private Mosquitto and a real ``huduma-centre serve``, plans the citizens'
arrivals (a morning peak, a lunch dip) and runs kiosks (HTTP), clerks (HTTP or a
keypad's ``cmd/counter`` MQTT message) and hall displays (MQTT subscribers that
count sequence gaps) as threads of the load process. ``soak.py`` hands some
counters to other workers (real bridges) through ``run(workers=...)``.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from latency import BIN, free_port, percentile, start_mosquitto, stop, wait_http  # noqa: E402,F401

from centre_server.contract import QOS, CounterAction, CounterCommand, Topics  # noqa: E402
from centre_server.menu import demo_counters  # noqa: E402

logger = logging.getLogger(__name__)

OPEN_H, LAST_ARRIVAL_H = 8.0, 16.0
KIOSKS, DISPLAYS = 4, 6
KEYPAD_DEVICE = "bench-keypads"


def arrival_profile(h: float) -> float:
    """Relative arrival intensity by hour of day: a morning peak, a lunch dip."""
    if h < 9:
        return 1.4
    if h < 11:
        return 1.8
    if h < 12:
        return 1.1
    if h < 14:
        return 0.5
    if h < 15:
        return 0.9
    return 0.6


def arrival_hours(rng: random.Random, n: int) -> list[float]:
    """``n`` arrival times (hours) from the profile, by thinning."""
    out: list[float] = []
    while len(out) < n:
        h = rng.uniform(OPEN_H, LAST_ARRIVAL_H)
        if rng.random() * 1.8 <= arrival_profile(h):
            out.append(h)
    return sorted(out)


class Http(httpx.Client):
    """A keep-alive client that sends again once when the server had closed an idle connection."""

    reconnects = 0

    def request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        try:
            return super().request(*args, **kwargs)
        except httpx.TransportError:
            Http.reconnects += 1
            return super().request(*args, **kwargs)


class Clock:
    """Simulated hours of the day, running ``speed`` times faster than the wall."""

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self.t0 = time.monotonic()

    def hour(self) -> float:
        return OPEN_H + (time.monotonic() - self.t0) * self.speed / 3600.0

    def sleep_until(self, hour: float, stop: threading.Event) -> bool:
        delay = (hour - OPEN_H) * 3600.0 / self.speed - (time.monotonic() - self.t0)
        return not stop.wait(max(0.0, delay))


class Display:
    """A hall display: every event, seq gaps counted, call-to-display times recorded."""

    def __init__(self, port: int, topics: Topics, index: int, calls: dict[str, float], lock: threading.Lock) -> None:
        self.seqs: list[int] = []
        self.topics = topics
        self.calls = calls
        self.lock = lock
        self.call_ms: list[float] = []
        self.ready = threading.Event()
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-display-{index}-{uuid.uuid4().hex[:4]}")
        c.on_connect = lambda cl, u, f, rc, p: cl.subscribe([(topics.all_events, QOS), (topics.hall_state, QOS)])
        c.on_subscribe = lambda *a: self.ready.set()
        c.on_message = self.on_message
        c.connect("127.0.0.1", port)
        c.loop_start()
        self.client = c

    def on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        now = time.perf_counter()
        if "/event/" not in msg.topic:
            return
        ev = json.loads(msg.payload)
        self.seqs.append(int(ev["seq"]))
        if ev.get("type") == "ticket_called":
            with self.lock:
                t0 = self.calls.get(ev.get("counter_id", ""))
            if t0 is not None:
                self.call_ms.append((now - t0) * 1000.0)

    def gaps(self) -> int:
        s = sorted(set(self.seqs))
        missing = sum(b - a - 1 for a, b in zip(s, s[1:]))
        return missing + (len(self.seqs) - len(set(self.seqs)))

    def lost(self, first: int, last: int) -> int:
        """Sequence numbers in ``first..last`` this display never heard, plus any heard twice."""
        heard = set(self.seqs)
        return sum(1 for s in range(first, last + 1) if s not in heard) + (len(self.seqs) - len(heard))

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class CentreDay:
    """One simulated day: its processes, its plan, its workers and what they measured.

    Use ``setup()``, ``run()``, ``finish()`` inside ``try``/``finally: cleanup()``,
    so every process started is stopped even when the run fails.
    """

    def __init__(self, citizens: int, speed: float, seed: int, prefix: str = "huduma-day-") -> None:
        self.citizens, self.speed, self.seed = citizens, speed, seed
        self.rng = random.Random(seed)
        self.work = Path(tempfile.mkdtemp(prefix=prefix))
        self.centre = self.work / "centre"
        self.procs: list[subprocess.Popen] = []
        self.stop_all = threading.Event()
        self.lock = threading.Lock()
        self.calls: dict[str, float] = {}  # counter -> when its last call was sent
        self.issue_ms: list[float] = []
        self.call_http_ms: list[float] = []
        self.keypad_reply_ms: list[float] = []
        self.errors: list[str] = []
        self.issued = 0
        self.served = 0
        self.displays: list[Display] = []
        self.keypad: mqtt.Client | None = None
        self.replies: dict[str, tuple[float, str, str]] = {}
        self.reply_event = threading.Condition()

    # ------------------------------------------------------------------ processes

    def provision(self, extra_devices: list[list[str]] = ()) -> None:  # type: ignore[assignment]
        """A demo centre with ``KIOSKS`` kiosks (plus ``extra_devices`` add-device arguments)."""
        subprocess.run([str(BIN / "huduma-provision"), "init", str(self.centre), "--demo"], check=True,
                       capture_output=True, timeout=120)
        adds = [["--kind", "kiosk", "--id", f"kiosk-{i}"] for i in range(2, KIOSKS + 1)
                if not (self.centre / "devices" / f"kiosk-{i}.json").exists()]
        # the keypads' commands are answered only for a registered bridge whose bundle lists the counter
        adds.append(["--kind", "bridge", "--id", KEYPAD_DEVICE, "--counters", ",".join(c.id for c in demo_counters())])
        for add in adds + list(extra_devices):
            subprocess.run([str(BIN / "huduma-provision"), "add-device", str(self.centre), *add], check=True,
                           capture_output=True, timeout=60)
        # a kiosk may issue 120 tickets a real minute; at accelerated time a minute lasts a fraction of a second
        toml = self.centre / "centre.toml"
        toml.write_text(re.sub(r"(?m)^issue_per_device_per_minute = \d+", "issue_per_device_per_minute = 100000000",
                               toml.read_text()))

    def start_server(self) -> None:
        broker, self.mqtt_port = start_mosquitto(self.work)
        self.procs.append(broker)
        port = free_port()
        log = open(self.work / "server.log", "wb")
        self.server = subprocess.Popen([str(BIN / "huduma-centre"), "serve", str(self.centre), "--host", "127.0.0.1",
                                        "--port", str(port), "--mqtt", f"mqtt://127.0.0.1:{self.mqtt_port}"],
                                       stdout=log, stderr=log)
        self.procs.append(self.server)
        self.url = f"http://127.0.0.1:{port}"
        wait_http(self.url + "/healthz", self.server)
        self.sp = psutil.Process(self.server.pid)
        self.rss_start = self.rss()

    def rss(self) -> float:
        """The server's resident memory in MB."""
        return self.sp.memory_info().rss / 2**20

    def setup(self) -> None:
        """Provisioned centre, server, plan, displays and the keypads' MQTT client."""
        self.provision()
        self.start_server()
        self.load()

    def load(self) -> None:
        """Read the centre back (services, counters, tokens) and plan the day."""
        url, rng = self.url, self.rng
        self.creds = json.loads((self.centre / "demo-credentials.json").read_text())
        self.kiosks = [json.loads((self.centre / "devices" / f"kiosk-{i}.json").read_text())
                       for i in range(1, KIOSKS + 1)]
        self.topics = Topics(self.kiosks[0]["centre_id"])
        self.services = httpx.get(url + "/api/v1/services").json()
        from centre_server.menu import builtin_menu

        self.menu_times = {s.id: s.service_time_s for s in builtin_menu()}
        self.token = httpx.post(url + "/api/v1/auth/login", json={
            "username": "clerk", "password": self.creds["staff"]["clerk"]["password"]}).json()["token"]
        self.counters = httpx.get(url + "/api/v1/counters", headers={"Authorization": f"Bearer {self.token}"}).json()
        services, counters, menu_times = self.services, self.counters, self.menu_times
        # demand follows the counters that serve each service (some far busier than others), with a spread
        skill = {s["id"]: sum(1.0 / len(c["services"]) for c in counters if s["id"] in c["services"]) for s in services}
        weights = [skill[s["id"]] / menu_times.get(s["id"], 480.0) * rng.uniform(0.6, 1.4) for s in services]
        # the menu's typical times, scaled so the 30 counters are about 85% busy over the day
        mean_menu = sum(w * menu_times.get(s["id"], 480.0) for w, s in zip(weights, services)) / sum(weights)
        self.scale = 0.85 * len(counters) * (LAST_ARRIVAL_H - OPEN_H) * 3600.0 / self.citizens / mean_menu

        self.displays = [Display(self.mqtt_port, self.topics, i, self.calls, self.lock) for i in range(DISPLAYS)]
        for d in self.displays:
            d.ready.wait(10)
        hours = arrival_hours(rng, self.citizens)
        self.plan = [(h, rng.choices(services, weights)[0]["id"], rng.random() < 0.12) for h in hours]

        keypad = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-keypads-{uuid.uuid4().hex[:4]}")
        keypad.on_connect = lambda cl, u, f, rc, p: cl.subscribe(self.topics.reply(KEYPAD_DEVICE), QOS)
        keypad.on_message = self._on_reply
        keypad.connect("127.0.0.1", self.mqtt_port)
        keypad.loop_start()
        self.keypad = keypad

    def _on_reply(self, cl: mqtt.Client, u: object, msg: mqtt.MQTTMessage) -> None:
        rep = json.loads(msg.payload)
        with self.reply_event:
            self.replies[rep["request_id"]] = (time.perf_counter(), rep.get("status"),
                                               str((rep.get("data") or {}).get("code") or ""))
            self.reply_event.notify_all()

    def error(self, text: str) -> None:
        with self.lock:
            self.errors.append(text)

    # ------------------------------------------------------------------ workers

    def kiosk(self, k: int) -> None:
        """Kiosk ``k`` issues every ``KIOSKS``-th ticket of the plan at its arrival time."""
        client = Http(base_url=self.url, headers={"Authorization": f"Bearer {self.kiosks[k]['token']}"}, timeout=30)
        for i, (h, sid, priority) in enumerate(self.plan):
            if i % KIOSKS != k:
                continue
            if not self.clock.sleep_until(h, self.stop_all):
                return
            body = {"service_id": sid, "priority": "elderly" if priority else "none",
                    "language": "sw" if i % 3 == 0 else "en"}
            t0 = time.perf_counter()
            r = client.post("/api/v1/tickets", json=body, headers={"Idempotency-Key": f"{k}-{i}"})
            self.issue_ms.append((time.perf_counter() - t0) * 1000.0)
            if r.status_code != 201:
                self.error(f"issue {r.status_code} {r.text[:100]}")
            else:
                with self.lock:
                    self.issued += 1

    def staff(self, client: Http, cid: str, action: str) -> None:
        """A clerk's terminal action that must succeed (open, pause, resume, close)."""
        r = client.post(f"/api/v1/counters/{cid}/{action}", json={})
        if r.status_code != 200:
            self.error(f"{action} {cid} {r.status_code} {r.text[:100]}")

    def call_http(self, client: Http, cid: str) -> tuple[bool, str]:
        """Call next from the clerk's terminal; (called, service id)."""
        t0 = time.perf_counter()
        r = client.post(f"/api/v1/counters/{cid}/call-next")
        self.call_http_ms.append((time.perf_counter() - t0) * 1000.0)
        if r.status_code not in (200, 404):
            self.error(f"call-next {r.status_code} {r.text[:100]}")
        called = r.status_code == 200
        return called, r.json()["service_id"] if called else ""

    def call_keypad(self, c: dict, n: int) -> tuple[bool, str] | None:
        """Call next as a keypad's ``cmd/counter`` message; None when no reply came."""
        cid = c["id"]
        rid = f"{cid}-{n}"
        cmd = CounterCommand(action=CounterAction.call_next, request_id=rid, device_id=KEYPAD_DEVICE)
        t0 = time.perf_counter()
        assert self.keypad is not None
        self.keypad.publish(self.topics.cmd_counter(cid), cmd.to_bytes(), qos=QOS)
        with self.reply_event:
            self.reply_event.wait_for(lambda: rid in self.replies, timeout=10)
            got = self.replies.pop(rid, None)
        if got is None:
            self.error(f"keypad {cid}: no reply")
            return None
        self.keypad_reply_ms.append((got[0] - t0) * 1000.0)
        if got[1] != "ok" and got[2] != "nothing_waiting":
            self.error(f"keypad {cid}: {got[2] or got[1]}")
        return got[1] == "ok", c["services"][0] if c["services"] else ""

    def work_counter(self, index: int, c: dict, call: Callable[[int], tuple[bool, str] | None],
                     after_service: Callable[[bool, random.Random], None] = lambda called, rng: None,
                     pause: Callable[[], None] | None = None, resume: Callable[[], None] | None = None) -> None:
        """A clerk's day at one counter: open, call, serve for the menu's time, a lunch break, go home.

        ``call(n)`` calls the next citizen (None: no answer, try again); ``after_service``
        finishes the service (the keypad's DONE, a rating); ``pause``/``resume`` default to
        the clerk's terminal.
        """
        cid = c["id"]
        crng = random.Random(self.seed * 1000 + index)
        lunch = (12.0 + (index % 3) * 0.5, 12.5 + (index % 3) * 0.5) if index % 3 == 0 else None
        client = Http(base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=30)
        start = OPEN_H + crng.uniform(0, 0.25)  # clerks arrive within the first quarter hour
        if not self.clock.sleep_until(start, self.stop_all):
            return
        client.post(f"/api/v1/counters/{cid}/open", json={}).raise_for_status()
        n = 0
        while not self.stop_all.is_set():
            h = self.clock.hour()
            if lunch and lunch[0] <= h < lunch[1]:
                (pause or (lambda: self.staff(client, cid, "pause")))()
                self.clock.sleep_until(lunch[1], self.stop_all)
                (resume or (lambda: self.staff(client, cid, "resume")))()
                continue
            n += 1
            with self.lock:
                # before the call: a ticket issued meanwhile is called next time
                all_issued = self.issued >= len(self.plan)
            got = call(n)
            if got is None:
                continue
            called, sid = got
            if called:  # the citizen comes to the counter: a call over one only called is refused
                client.post(f"/api/v1/counters/{cid}/start")
            # serve for the service's typical time (exponential), or wait a little for someone to come
            mean = self.menu_times.get(sid, 480.0) * self.scale if called else 90.0  # idle: look again in a while
            with self.lock:
                self.served += 1 if called else 0
            self.stop_all.wait(crng.expovariate(1.0 / mean) / self.speed)
            after_service(called, crng)
            if not called and self.clock.hour() > LAST_ARRIVAL_H and (all_issued or self.errors):
                break  # doors closed and nobody left for this counter: the clerk goes home
            if self.clock.hour() > LAST_ARRIVAL_H + 4:
                break
        self.staff(client, cid, "close")

    def clerk(self, index: int, c: dict) -> None:
        """day.py's clerk: even counters by HTTP, odd ones by a keypad's MQTT message."""
        cid = c["id"]
        http = Http(base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=30)

        def call(n: int) -> tuple[bool, str] | None:
            with self.lock:
                self.calls[cid] = time.perf_counter()
            return self.call_keypad(c, n) if index % 2 == 1 else self.call_http(http, cid)

        self.work_counter(index, c, call)

    def run(self, workers: dict[str, Callable[[int, dict], None]] | None = None) -> None:
        """The whole day: kiosks and one worker per counter (``workers`` by counter id, else a clerk)."""
        workers = workers or {}
        self.clock = Clock(self.speed)
        threads = [threading.Thread(target=self.kiosk, args=(k,), daemon=True) for k in range(KIOSKS)]
        threads += [threading.Thread(target=workers.get(c["id"], self.clerk), args=(i, c), daemon=True)
                    for i, c in enumerate(self.counters)]
        began = time.monotonic()
        cpu0 = sum(self.sp.cpu_times()[:2])
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.took = time.monotonic() - began
        self.cpu = sum(self.sp.cpu_times()[:2]) - cpu0

    def finish(self) -> None:
        """Stop listening and gather the end-of-day figures."""
        time.sleep(0.5)
        self.rss_end = self.rss()
        if self.keypad is not None:
            self.keypad.loop_stop()
        for d in self.displays:
            d.stop()
        self.seen = [len(d.seqs) for d in self.displays]
        self.call_display = [x for d in self.displays for x in d.call_ms]
        self.still = sum(s["waiting"] for s in httpx.get(self.url + "/api/v1/services").json())

    def close_day(self) -> tuple[float, str]:
        """Close the day through the running server if the close-day command exists; (seconds, how)."""
        help_text = subprocess.run([str(BIN / "huduma-centre"), "--help"], capture_output=True, text=True).stdout
        t0 = time.perf_counter()
        if "close-day" in help_text:
            r = subprocess.run([str(BIN / "huduma-centre"), "close-day", str(self.centre), "--url", self.url,
                                "--user", "manager", "--password", self.creds["staff"]["manager"]["password"],
                                "--json"], capture_output=True, text=True, timeout=300)
            close_s = time.perf_counter() - t0
            note = "huduma-centre close-day --url (a process of its own, start-up included)"
            if r.returncode != 0:
                note += f": FAILED {r.stderr.strip()[:200]}"
            return close_s, note
        from centre_server.config import load_settings
        from centre_server.queue import engine
        from centre_server.runtime.centre import Centre

        copy = self.work / "copy"
        shutil.copytree(self.centre, copy)
        t0 = time.perf_counter()
        c2 = Centre(load_settings(copy))
        c2.execute(engine.CloseDay())
        c2.close()
        return time.perf_counter() - t0, "engine CloseDay in-process on a copy of the database"

    def db_mb(self) -> float:
        return sum(p.stat().st_size for p in self.centre.glob("centre.db*")) / 2**20

    def cleanup(self) -> None:
        """Stop every process this day started (newest first) and remove its folder."""
        self.stop_all.set()
        for p in reversed(self.procs):
            try:
                stop(p)
            except Exception:  # noqa: BLE001 - keep stopping the others
                logger.exception("could not stop %s", p.args)
        if os.environ.get("KEEP_BENCH_DIR"):
            print(f"kept {self.work}")
        else:
            shutil.rmtree(self.work, ignore_errors=True)


def row(what: str, value: str, target: str = "(report)") -> None:
    """One line of a bench's figures."""
    print(f"  {what:50} {value:>26}   target {target}")


if __name__ == "__main__":  # `make bench` runs every bench/*.py; this one is a library
    print("centre_day.py holds the parts day.py and soak.py share; run one of those")

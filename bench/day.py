"""A whole centre day through the real processes, at accelerated time.

2,500 citizens (a morning peak, a lunch dip) take tickets at 4 kiosks over
HTTP for the 39 services of the demo menu; 30 counters with shared skills call
next (half by the clerk's HTTP terminal, half by a keypad's ``cmd/counter`` MQTT
message), serve for the menu's typical times (exponential), and a third of them
take a lunch break; 6 hall displays subscribe to every event and check that no
sequence number is missing. The server is a real ``huduma-centre serve`` against
a private Mosquitto; the load runs in this separate process. Time runs
``--speed`` times faster than a real day (default 200: an 8-hour day in 2.4 min).

Usage: ``python bench/day.py [--citizens 2500] [--speed 200]``.
"""

from __future__ import annotations

import argparse
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
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from latency import BIN, free_port, percentile, start_mosquitto, stop, wait_http  # noqa: E402

from centre_server.contract import QOS, CounterAction, CounterCommand, Topics  # noqa: E402

logger = logging.getLogger(__name__)

OPEN_H, LAST_ARRIVAL_H = 8.0, 16.0
KIOSKS, DISPLAYS = 4, 6


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

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--citizens", type=int, default=2500)
    ap.add_argument("--speed", type=float, default=200.0)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="huduma-day-"))
    procs: list[subprocess.Popen] = []
    stop_all = threading.Event()
    try:
        centre = work / "centre"
        subprocess.run([str(BIN / "huduma-provision"), "init", str(centre), "--demo"], check=True,
                       capture_output=True, timeout=120)
        for i in range(2, KIOSKS + 1):
            if (centre / "devices" / f"kiosk-{i}.json").exists():
                continue
            subprocess.run([str(BIN / "huduma-provision"), "add-device", str(centre), "--kind", "kiosk",
                            "--id", f"kiosk-{i}"], check=True, capture_output=True, timeout=60)
        # a kiosk may issue 120 tickets a real minute; at accelerated time a minute lasts a fraction of a second
        toml = centre / "centre.toml"
        toml.write_text(re.sub(r"(?m)^issue_per_device_per_minute = \d+", "issue_per_device_per_minute = 100000000",
                               toml.read_text()))
        broker, mqtt_port = start_mosquitto(work)
        procs.append(broker)
        port = free_port()
        log = open(work / "server.log", "wb")
        server = subprocess.Popen([str(BIN / "huduma-centre"), "serve", str(centre), "--host", "127.0.0.1",
                                   "--port", str(port), "--mqtt", f"mqtt://127.0.0.1:{mqtt_port}"],
                                  stdout=log, stderr=log)
        procs.append(server)
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/healthz", server)
        sp = psutil.Process(server.pid)
        rss_start = sp.memory_info().rss / 2**20

        creds = json.loads((centre / "demo-credentials.json").read_text())
        kiosks = [json.loads((centre / "devices" / f"kiosk-{i}.json").read_text()) for i in range(1, KIOSKS + 1)]
        topics = Topics(kiosks[0]["centre_id"])
        services = httpx.get(url + "/api/v1/services").json()
        menu_times = {}
        from centre_server.menu import builtin_menu

        for s in builtin_menu():
            menu_times[s.id] = s.service_time_s
        token = httpx.post(url + "/api/v1/auth/login", json={"username": "clerk",
                                                               "password": creds["staff"]["clerk"]["password"]}).json()["token"]
        counters = httpx.get(url + "/api/v1/counters", headers={"Authorization": f"Bearer {token}"}).json()
        # demand follows the counters that serve each service (some far busier than others), with a spread
        skill = {s["id"]: sum(1.0 / len(c["services"]) for c in counters if s["id"] in c["services"]) for s in services}
        weights = [skill[s["id"]] / menu_times.get(s["id"], 480.0) * rng.uniform(0.6, 1.4) for s in services]
        # the menu's typical times, scaled so the 30 counters are about 85% busy over the day
        mean_menu = sum(w * menu_times.get(s["id"], 480.0) for w, s in zip(weights, services)) / sum(weights)
        scale = 0.85 * len(counters) * (LAST_ARRIVAL_H - OPEN_H) * 3600.0 / args.citizens / mean_menu

        lock = threading.Lock()
        calls: dict[str, float] = {}  # counter -> when its last call was sent
        displays = [Display(mqtt_port, topics, i, calls, lock) for i in range(DISPLAYS)]
        for d in displays:
            d.ready.wait(10)
        issue_ms: list[float] = []
        call_http_ms: list[float] = []
        keypad_reply_ms: list[float] = []
        errors: list[str] = []
        issued = [0]
        served = [0]
        clock = Clock(args.speed)
        hours = arrival_hours(rng, args.citizens)
        plan = [(h, rng.choices(services, weights)[0]["id"], rng.random() < 0.12) for h in hours]

        def kiosk(k: int) -> None:
            client = Http(base_url=url, headers={"Authorization": f"Bearer {kiosks[k]['token']}"}, timeout=30)
            for i, (h, sid, priority) in enumerate(plan):
                if i % KIOSKS != k:
                    continue
                if not clock.sleep_until(h, stop_all):
                    return
                body = {"service_id": sid, "priority": "elderly" if priority else "none",
                        "language": "sw" if i % 3 == 0 else "en"}
                t0 = time.perf_counter()
                r = client.post("/api/v1/tickets", json=body, headers={"Idempotency-Key": f"{k}-{i}"})
                issue_ms.append((time.perf_counter() - t0) * 1000.0)
                if r.status_code != 201:
                    errors.append(f"issue {r.status_code} {r.text[:100]}")
                else:
                    with lock:
                        issued[0] += 1

        replies: dict[str, tuple[float, str]] = {}
        reply_event = threading.Condition()
        keypad = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-keypads-{uuid.uuid4().hex[:4]}")

        def on_reply(cl: mqtt.Client, u: object, msg: mqtt.MQTTMessage) -> None:
            rep = json.loads(msg.payload)
            with reply_event:
                replies[rep["request_id"]] = (time.perf_counter(), rep.get("status"))
                reply_event.notify_all()

        keypad.on_connect = lambda cl, u, f, rc, p: cl.subscribe(topics.reply("bench-keypads"), QOS)
        keypad.on_message = on_reply
        keypad.connect("127.0.0.1", mqtt_port)
        keypad.loop_start()

        def clerk(index: int, c: dict) -> None:
            cid = c["id"]
            crng = random.Random(args.seed * 1000 + index)
            by_mqtt = index % 2 == 1
            lunch = (12.0 + (index % 3) * 0.5, 12.5 + (index % 3) * 0.5) if index % 3 == 0 else None
            client = Http(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
            start = OPEN_H + crng.uniform(0, 0.25)  # clerks arrive within the first quarter hour
            if not clock.sleep_until(start, stop_all):
                return
            client.post(f"/api/v1/counters/{cid}/open", json={}).raise_for_status()
            n = 0
            while not stop_all.is_set():
                h = clock.hour()
                if lunch and lunch[0] <= h < lunch[1]:
                    client.post(f"/api/v1/counters/{cid}/pause")
                    clock.sleep_until(lunch[1], stop_all)
                    client.post(f"/api/v1/counters/{cid}/resume")
                    continue
                n += 1
                with lock:
                    calls[cid] = time.perf_counter()
                    all_issued = issued[0] >= len(plan)  # before the call: a ticket issued meanwhile is called next time
                t0 = time.perf_counter()
                if by_mqtt:
                    rid = f"{cid}-{n}"
                    cmd = CounterCommand(action=CounterAction.call_next, request_id=rid, device_id="bench-keypads")
                    keypad.publish(topics.cmd_counter(cid), cmd.to_bytes(), qos=QOS)
                    with reply_event:
                        reply_event.wait_for(lambda: rid in replies, timeout=10)
                        got = replies.pop(rid, None)
                    if got is None:
                        errors.append(f"keypad {cid}: no reply")
                        continue
                    keypad_reply_ms.append((got[0] - t0) * 1000.0)
                    called = got[1] == "ok"
                    sid = c["services"][0] if c["services"] else ""
                else:
                    r = client.post(f"/api/v1/counters/{cid}/call-next")
                    call_http_ms.append((time.perf_counter() - t0) * 1000.0)
                    called = r.status_code == 200
                    if r.status_code not in (200, 404):
                        errors.append(f"call-next {r.status_code} {r.text[:100]}")
                    sid = r.json()["service_id"] if called else ""
                # serve for the service's typical time (exponential), or wait a little for someone to come
                mean = menu_times.get(sid, 480.0) * scale if called else 90.0  # idle: look again in a while
                with lock:
                    served[0] += 1 if called else 0
                stop_all.wait(crng.expovariate(1.0 / mean) / args.speed)
                if not called and clock.hour() > LAST_ARRIVAL_H and (all_issued or errors):
                    break  # doors closed and nobody left for this counter: the clerk goes home
                if clock.hour() > LAST_ARRIVAL_H + 4:
                    break
            client.post(f"/api/v1/counters/{cid}/close")

        threads = [threading.Thread(target=kiosk, args=(k,), daemon=True) for k in range(KIOSKS)]
        threads += [threading.Thread(target=clerk, args=(i, c), daemon=True) for i, c in enumerate(counters)]
        began = time.monotonic()
        cpu0 = sum(sp.cpu_times()[:2])
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        took = time.monotonic() - began
        cpu = sum(sp.cpu_times()[:2]) - cpu0
        time.sleep(0.5)
        rss_end = sp.memory_info().rss / 2**20
        keypad.loop_stop()
        for d in displays:
            d.stop()
        lost = [d.gaps() for d in displays]
        seen = [len(d.seqs) for d in displays]
        call_display = [x for d in displays for x in d.call_ms]
        stats = httpx.get(url + "/api/v1/services").json()
        still = sum(s["waiting"] for s in stats)

        # closing the day: through the running server if the close-day command exists
        help_text = subprocess.run([str(BIN / "huduma-centre"), "--help"], capture_output=True, text=True).stdout
        close_note = ""
        t0 = time.perf_counter()
        if "close-day" in help_text:
            r = subprocess.run([str(BIN / "huduma-centre"), "close-day", str(centre), "--url", url, "--user", "manager",
                                "--password", creds["staff"]["manager"]["password"], "--json"],
                               capture_output=True, text=True, timeout=300)
            close_s = time.perf_counter() - t0
            close_note = "huduma-centre close-day --url (a process of its own, start-up included)"
            if r.returncode != 0:
                close_note += f": FAILED {r.stderr.strip()[:200]}"
        else:
            from centre_server import engine
            from centre_server.centre import Centre
            from centre_server.config import load_settings

            copy = work / "copy"
            shutil.copytree(centre, copy)
            t0 = time.perf_counter()
            c2 = Centre(load_settings(copy))
            c2.execute(engine.CloseDay())
            c2.close()
            close_s = time.perf_counter() - t0
            close_note = "engine CloseDay in-process on a copy of the database"
        db_mb = sum(p.stat().st_size for p in centre.glob("centre.db*")) / 2**20

        def row(what: str, value: str, target: str = "(report)") -> None:
            print(f"  {what:50} {value:>26}   target {target}")

        print(f"A centre day at {args.speed:.0f}x speed through the real server and Mosquitto "
              f"({os.cpu_count()} cores): {len(plan)} citizens, {len(services)} services, {len(counters)} counters "
              f"(shared skills), {KIOSKS} kiosks, {DISPLAYS} displays")
        row("wall time of the day", f"{took:.0f} s ({took * args.speed / 3600:.1f} simulated hours)")
        row("tickets issued / called / still waiting at the end", f"{issued[0]} / {served[0]} / {still}")
        row("ticket issue latency p50 / p99 / max",
            f"{percentile(issue_ms, 50):.1f} / {percentile(issue_ms, 99):.1f} / {max(issue_ms):.1f} ms")
        row("call-next over HTTP p50 / p99",
            f"{percentile(call_http_ms, 50):.1f} / {percentile(call_http_ms, 99):.1f} ms")
        row("keypad cmd/counter to reply p50 / p99",
            f"{percentile(keypad_reply_ms, 50):.1f} / {percentile(keypad_reply_ms, 99):.1f} ms")
        row("call to hall display p50 / p99 (6 displays)",
            f"{percentile(call_display, 50):.1f} / {percentile(call_display, 99):.1f} ms", "p99 <= 10 ms")
        row("events seen per display", f"{min(seen)}..{max(seen)}")
        row("events lost (seq gaps at any display)", f"{sum(lost)}", "0  " + ("ok" if sum(lost) == 0 else "MISSED"))
        row("errors (HTTP or keypad)", f"{len(errors)}", "0  " + ("ok" if not errors else "MISSED"))
        row("idle keep-alive connections the server had closed", f"{Http.reconnects}")
        row("machine load average (1 min) at the end", f"{os.getloadavg()[0]:.1f}", "(2 cores: above 2 means "
            "other work competed)")
        row("server CPU over the day", f"{cpu:.1f} s ({cpu * 1000 / max(1, issued[0]):.2f} ms per citizen)")
        row("server memory (RSS) at start / end", f"{rss_start:.0f} / {rss_end:.0f} MB")
        row("day close time", f"{close_s:.2f} s", close_note)
        row("database size after the day (with WAL)", f"{db_mb:.1f} MB")
        for e in errors[:5]:
            print("   error:", e)
    finally:
        stop_all.set()
        for p in reversed(procs):
            stop(p)
        if os.environ.get("KEEP_BENCH_DIR"):
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

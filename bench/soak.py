"""Soak: a whole centre day through every kind of real client, at accelerated time.

``day.py``'s day (2,500 citizens, the demo menu's services, 30 counters, 4 kiosks
over HTTP, 6 hall displays checking sequence numbers, clerks calling by HTTP and
by keypad MQTT messages) plus two REAL bridges: ``huduma-bridge --config FILE``
processes, ``bridge-a`` for counters c25-c27 and ``bridge-b`` for c28-c30, each
on its own pty with simulated hardware (``firmware_bridge.simulate.Simulator``):
a keypad, an LED board and a feedback unit per counter. Those six counters are
worked only by keys: NEXT, DONE after the service, PAUSE/RESUME for lunch, and
a citizen's rating after a third of the services. Prints errors (HTTP, keypad,
bridge), events lost at each display, the server's and bridges' memory, latency
percentiles and a last line ``soak: N errors, M lost events`` (ok / MISSED).

Usage: ``python bench/soak.py [--citizens 2500] [--speed 200] [--seed 1]``.
Every process it starts is stopped again, also when the run fails.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from centre_day import BIN, DISPLAYS, KIOSKS, CentreDay, Http, percentile, row  # noqa: E402

from firmware_bridge.simulate import SimDevice, Simulator  # noqa: E402

logger = logging.getLogger(__name__)

BRIDGES = {"bridge-a": ["c25", "c26", "c27"], "bridge-b": ["c28", "c29", "c30"]}
BAUD = 19200
KEY_TIMEOUT_S = 15.0  # the bridge answers every key within its 5 s reply timeout
RATE_SHARE = 0.35  # citizens who press a feedback button after their service


class BridgeRig:
    """One real bridge process and the simulated hardware on its pty."""

    def __init__(self, day: CentreDay, bridge_id: str, counters: list[str]) -> None:
        self.day, self.bridge_id, self.counters = day, bridge_id, counters
        # keypad, LED, feedback
        self.addresses = {cid: (3 * i + 1, 3 * i + 2, 3 * i + 3) for i, cid in enumerate(counters)}
        devices = []
        for kp, led, fb in self.addresses.values():
            devices += [SimDevice("keypad", kp), SimDevice("led", led), SimDevice("feedback", fb)]
        self.show_at: dict[int, float] = {}  # LED address -> when its last SHOW arrived
        self.sim = Simulator(devices, link=str(day.work / f"{bridge_id}.tty"), on_event=self._on_event)
        self.proc: subprocess.Popen | None = None
        self.ps: psutil.Process | None = None

    def _on_event(self, text: str) -> None:
        if text.startswith("LED ") and ": [" in text:  # a SHOW (a number or blank), not a blink or beep
            self.show_at[int(text[4:text.index(":")])] = time.perf_counter()

    def start(self) -> None:
        self.sim.start()
        bundle = json.loads((self.day.centre / "devices" / f"{self.bridge_id}.json").read_text())
        bundle["mqtt_url"] = f"mqtt://127.0.0.1:{self.day.mqtt_port}"
        bundle["server_url"] = self.day.url
        bundle["ports"] = [{"url": str(self.sim.link), "baudrate": BAUD, "devices": [
            {"address": a, "kind": kind, "counter_id": cid}
            for cid, addrs in self.addresses.items() for a, kind in zip(addrs, ("keypad", "led", "feedback"))]}]
        cfg = self.day.work / f"{self.bridge_id}.json"
        cfg.write_text(json.dumps(bundle, indent=2))
        log = open(self.day.work / f"{self.bridge_id}.log", "wb")
        self.proc = subprocess.Popen([str(BIN / "huduma-bridge"), "--config", str(cfg)], stdout=log, stderr=log)
        self.day.procs.append(self.proc)
        self.ps = psutil.Process(self.proc.pid)

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Every device polled by the bridge (so its port is open and the map is live)."""
        addrs = [a for t in self.addresses.values() for a in t]
        if not self.sim.wait_for(lambda: all(self.sim.frames_to(a, "PING") for a in addrs), timeout=timeout):
            raise RuntimeError(f"{self.bridge_id} never polled all its devices (see {self.bridge_id}.log)")

    def rss(self) -> float:
        return self.ps.memory_info().rss / 2**20 if self.ps and self.ps.is_running() else float("nan")

    def stop(self) -> None:
        self.sim.stop()


class Soak:
    """The day of ``CentreDay`` with two bridges' counters worked by keypads."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.day = CentreDay(args.citizens, args.speed, args.seed, prefix="huduma-soak-")
        self.rigs: list[BridgeRig] = []
        self.key_led_ms: list[float] = []
        self.bridge_errors: list[str] = []
        self.naks: dict[str, int] = {}
        self.ratings = 0
        self.rss_samples: list[tuple[float, float, list[float]]] = []  # (wall s, server MB, bridges MB)
        self.lock = threading.Lock()

    def bridge_error(self, text: str) -> None:
        with self.lock:
            self.bridge_errors.append(text)

    def setup(self) -> None:
        day = self.day
        day.provision([["--kind", "bridge", "--id", bid, "--counters", ",".join(cs)] for bid, cs in BRIDGES.items()])
        day.start_server()
        self.rigs = [BridgeRig(day, bid, cs) for bid, cs in BRIDGES.items()]
        for rig in self.rigs:
            rig.start()
        day.load()
        for rig in self.rigs:
            rig.wait_ready()
        self.bridge_rss_start = [rig.rss() for rig in self.rigs]

    def press(self, rig: BridgeRig, kind: str, address: int, key: str | int) -> str | None:
        """Press a key (or a rating) and wait for the device's ACK/NAK; None when none came."""
        dev = rig.sim.devices[address]
        n = len(dev.acks)
        if kind == "keypad":
            rig.sim.press(str(key), address)
        else:
            rig.sim.rate(int(key), address)
        if not rig.sim.wait_for(lambda: len(dev.acks) > n, timeout=KEY_TIMEOUT_S):
            return None
        answer = dev.acks[n]
        if answer.startswith("NAK,"):
            reason = answer[4:]
            with self.lock:
                self.naks[reason] = self.naks.get(reason, 0) + 1
        return answer

    def expect(self, rig: BridgeRig, cid: str, kind: str, address: int, key: str | int) -> bool:
        answer = self.press(rig, kind, address, key)
        if answer is None:
            self.bridge_error(f"{cid} {key}: no ACK/NAK within {KEY_TIMEOUT_S:.0f} s")
        elif not answer.startswith("ACK"):
            self.bridge_error(f"{cid} {key}: {answer}")
        return bool(answer and answer.startswith("ACK"))

    def worker(self, rig: BridgeRig) -> Callable[[int, dict], None]:
        def work(index: int, c: dict) -> None:
            cid = c["id"]
            kp, led_addr, fb = rig.addresses[cid]
            led = rig.sim.devices[led_addr]
            sid = c["services"][0] if c["services"] else ""

            def call(n: int) -> tuple[bool, str] | None:
                before = led.shown
                t0 = time.perf_counter()
                answer = self.press(rig, "keypad", kp, "NEXT")
                if answer is None:
                    self.bridge_error(f"{cid} NEXT: no ACK/NAK within {KEY_TIMEOUT_S:.0f} s")
                    return None
                if answer == "NAK,NOTHING_WAITING":
                    return False, ""
                if not answer.startswith("ACK"):
                    self.bridge_error(f"{cid} NEXT: {answer}")
                    return False, ""
                if rig.sim.wait_for(lambda: rig.show_at.get(led_addr, 0.0) > t0 and led.shown
                                    and led.shown != before, timeout=KEY_TIMEOUT_S):
                    self.key_led_ms.append((rig.show_at[led_addr] - t0) * 1000.0)
                else:
                    self.bridge_error(f"{cid} NEXT: ACK but the LED board still shows {led.shown!r}")
                return True, sid

            def after_service(called: bool, rng: random.Random) -> None:
                if not called:
                    return
                if (self.expect(rig, cid, "keypad", kp, "DONE") and rng.random() < RATE_SHARE
                        and self.expect(rig, cid, "feedback", fb, rng.randint(1, 4))):
                        with self.lock:
                            self.ratings += 1

            self.day.work_counter(index, c, call, after_service,
                                  pause=lambda: self.expect(rig, cid, "keypad", kp, "PAUSE"),
                                  resume=lambda: self.expect(rig, cid, "keypad", kp, "RESUME"))
        return work

    def sample_memory(self, stop: threading.Event) -> None:
        began = time.monotonic()
        while True:
            try:
                self.rss_samples.append((time.monotonic() - began, self.day.rss(), [r.rss() for r in self.rigs]))
            except psutil.Error:
                pass
            if stop.wait(1.0):
                return

    def bridge_status(self) -> dict[str, dict]:
        """Each bridge's own retained status (its counters of keys, NAKs and rejected frames)."""
        got: dict[str, dict] = {}
        done = threading.Event()
        topics = {self.day.topics.device_status(r.bridge_id): r.bridge_id for r in self.rigs}

        def on_message(cl: mqtt.Client, u: object, msg: mqtt.MQTTMessage) -> None:
            got[topics[msg.topic]] = json.loads(msg.payload)
            if len(got) == len(topics):
                done.set()

        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"soak-status-{uuid.uuid4().hex[:4]}")
        c.on_connect = lambda cl, u, f, rc, p: cl.subscribe([(t, 1) for t in topics])
        c.on_message = on_message
        c.connect("127.0.0.1", self.day.mqtt_port)
        c.loop_start()
        done.wait(10)
        c.loop_stop()
        c.disconnect()
        return got

    def run(self) -> int:
        day = self.day
        self.began = time.monotonic()
        self.setup()
        sampling = threading.Event()
        sampler = threading.Thread(target=self.sample_memory, args=(sampling,), daemon=True)
        sampler.start()
        workers = {cid: self.worker(rig) for rig in self.rigs for cid in rig.counters}
        day.run(workers)
        sampling.set()
        sampler.join(5)
        bridge_rss_end = [rig.rss() for rig in self.rigs]
        exited = [rig.bridge_id for rig in self.rigs if rig.proc and rig.proc.poll() is not None]
        time.sleep(1.5)  # a bridge publishes its status at most once a second
        status = self.bridge_status()
        day.finish()

        first = min((min(d.seqs) for d in day.displays if d.seqs), default=0)
        last = max((max(d.seqs) for d in day.displays if d.seqs), default=-1)
        lost = [d.lost(first, last) for d in day.displays]
        reported: dict[str, int] = {}
        for bid, st in status.items():
            for what in ("errors", "frame_errors", "port_errors"):
                for k, v in (st.get(what) or {}).items():
                    reported[f"{bid} {k}"] = reported.get(f"{bid} {k}", 0) + int(v)
        bridge_errors = list(self.bridge_errors) + [f"{k}: {v}" for k, v in reported.items() if v]
        bridge_errors += [f"{b}: exited early" for b in exited]
        bridge_errors += [f"{r.bridge_id}: no status on MQTT" for r in self.rigs if r.bridge_id not in status]
        n_errors = len(day.errors) + len(bridge_errors)
        mid_t = self.rss_samples[-1][0] / 2 if self.rss_samples else 0.0
        mid = min(self.rss_samples, key=lambda s: abs(s[0] - mid_t)) if self.rss_samples else (0.0, float("nan"), [])
        peak = max((s[1] for s in self.rss_samples), default=float("nan"))
        bridge_peak = [max((s[2][i] for s in self.rss_samples), default=float("nan")) for i in range(len(self.rigs))]
        counts = {bid: st.get("counts", {}) for bid, st in status.items()}
        keys = sum(int(c.get("keys", 0)) for c in counts.values())

        print(f"Soak: a centre day at {day.speed:.0f}x speed, every client real ({os.cpu_count()} cores): "
              f"{len(day.plan)} citizens, {len(day.services)} services, {len(day.counters)} counters, {KIOSKS} kiosks, "
              f"{DISPLAYS} displays, {len(self.rigs)} bridges "
              f"(counters {', '.join(c for r in self.rigs for c in r.counters)}"
              f" on keypads at {BAUD} baud)")
        row("wall time of the day", f"{day.took:.0f} s ({day.took * day.speed / 3600:.1f} simulated hours)")
        row("tickets issued / served / still waiting at the end", f"{day.issued} / {day.served} / {day.still}")
        row("keys pressed / ratings given at the bridges", f"{keys} / {self.ratings}")
        row("NAKs at the keypads", ", ".join(f"{k} {v}" for k, v in sorted(self.naks.items())) or "none",
            "only NOTHING_WAITING")
        row("ticket issue p50 / p99 / max",
            f"{percentile(day.issue_ms, 50):.1f} / {percentile(day.issue_ms, 99):.1f} / {max(day.issue_ms):.1f} ms")
        row("call-next over HTTP p50 / p99",
            f"{percentile(day.call_http_ms, 50):.1f} / {percentile(day.call_http_ms, 99):.1f} ms")
        row("keypad cmd/counter (MQTT) to reply p50 / p99",
            f"{percentile(day.keypad_reply_ms, 50):.1f} / {percentile(day.keypad_reply_ms, 99):.1f} ms")
        row("bridge key NEXT to LED shows the number p50 / p99",
            f"{percentile(self.key_led_ms, 50):.1f} / {percentile(self.key_led_ms, 99):.1f} ms "
            f"({len(self.key_led_ms)})")
        row("call to hall display p50 / p99 (6 displays)",
            f"{percentile(day.call_display, 50):.1f} / {percentile(day.call_display, 99):.1f} ms", "p99 <= 10 ms")
        row("events seen per display", f"{min(day.seen)}..{max(day.seen)} (seq {first}..{last})")
        row("events lost at each display", " ".join(str(x) for x in lost),
            "0  " + ("ok" if not any(lost) else "MISSED"))
        row("errors: HTTP or keypad MQTT", f"{len(day.errors)}", "0  " + ("ok" if not day.errors else "MISSED"))
        row("errors: bridge (keys, LED, bridge's own counters)", f"{len(bridge_errors)}",
            "0  " + ("ok" if not bridge_errors else "MISSED"))
        row("server RSS start / middle / end (peak)",
            f"{day.rss_start:.0f} / {mid[1]:.0f} / {day.rss_end:.0f} ({peak:.0f}) MB")
        row("server RSS growth over the day", f"{day.rss_end - day.rss_start:+.0f} MB")
        row("bridge RSS start / end (peak)", "; ".join(
            f"{a:.0f} / {b:.0f} ({p:.0f})" for a, b, p in zip(self.bridge_rss_start, bridge_rss_end, bridge_peak))
            + " MB")
        row("server CPU over the day", f"{day.cpu:.1f} s ({day.cpu * 1000 / max(1, day.issued):.2f} ms per citizen)")
        row("idle keep-alive connections the server had closed", f"{Http.reconnects}")
        row("machine load average (1 min) at the end", f"{os.getloadavg()[0]:.1f}", "(2 cores)")
        row("whole run, start-up included", f"{time.monotonic() - self.began:.0f} s", "~5 min")
        for e in (day.errors + bridge_errors)[:10]:
            print("   error:", e)
        ok = n_errors == 0 and sum(lost) == 0
        print(f"soak: {n_errors} errors, {sum(lost)} lost events  {'ok' if ok else 'MISSED'}")
        return 0 if ok else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--citizens", type=int, default=2500)
    ap.add_argument("--speed", type=float, default=200.0)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    # SIGTERM (a CI timeout) unwinds like Ctrl-C, so the finally below still stops every process
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    soak = Soak(args)
    try:
        return soak.run()
    finally:
        soak.day.cleanup()  # bridges first (newest), then the server and the broker
        for rig in soak.rigs:
            try:
                rig.stop()
            except Exception:  # noqa: BLE001 - keep cleaning up
                logger.exception("could not stop the simulator of %s", rig.bridge_id)


if __name__ == "__main__":
    sys.exit(main())

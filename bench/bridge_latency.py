"""Benchmark: key press on a counter keypad -> number on the counter's LED board.

Starts its own parts (a private Mosquitto, or the server's embedded broker when
Mosquitto is missing; a provisioned demo centre; the centre server; the bridge
process) and simulated hardware on a real pty, then times NEXT -> SHOW round
trips: pty -> bridge -> MQTT cmd/counter -> server (SQLite transaction) -> MQTT
retained state/counter -> bridge -> pty. Prints p50/p90/p99 for Mosquitto with and without
set_tcp_nodelay and for the embedded broker of `make run`. Not a test.

    .venv/bin/python bench/bridge_latency.py [--calls 150]
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from latency import free_port, stop  # the bench's one way to pick a port and stop a process

from firmware_bridge.simulate import Simulator, parse_devices

logger = logging.getLogger(__name__)
BIN = Path(sys.executable).parent
DEADLINE_S = 110  # the whole run, start-up included, stays under two minutes


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=0.5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer")


def wait_port(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing on port {port}")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


MODES = {
    "mosquitto, set_tcp_nodelay true": "nodelay",
    "mosquitto, default config": "default",
    "embedded amqtt broker (make run)": "embedded",
}


def run_once(label: str, mode: str, calls: int, started: float) -> list[float]:
    """One full set-up, ``calls`` timed NEXT presses, then everything stopped again."""
    procs: list[subprocess.Popen] = []
    sim: Simulator | None = None
    with tempfile.TemporaryDirectory(prefix="bridge-bench-") as tmp:
        work = Path(tmp)
        try:
            centre = work / "centre"
            subprocess.run([str(BIN / "huduma-provision"), "init", str(centre), "--demo"], check=True,
                           capture_output=True, timeout=60)
            http_port, mqtt_port = free_port(), free_port()
            serve = [str(BIN / "huduma-centre"), "serve", str(centre), "--port", str(http_port)]
            if mode == "embedded":
                serve += ["--mqtt-port", str(mqtt_port)]
            else:
                conf = work / "mosquitto.conf"
                conf.write_text(f"listener {mqtt_port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                                + ("set_tcp_nodelay true\n" if mode == "nodelay" else ""))
                procs.append(subprocess.Popen([shutil.which("mosquitto") or "mosquitto", "-c", str(conf)],
                                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
                wait_port(mqtt_port)
                serve += ["--mqtt", f"mqtt://127.0.0.1:{mqtt_port}"]
            server_log = open(work / "server.log", "wb")
            procs.append(subprocess.Popen(serve, stdout=server_log, stderr=server_log))
            url = f"http://127.0.0.1:{http_port}"
            wait_http(url + "/healthz")

            creds = json.loads((centre / "demo-credentials.json").read_text())
            clerk = httpx.post(url + "/api/v1/auth/login", json={
                "username": "clerk", "password": creds["staff"]["clerk"]["password"]}).json()["token"]
            staff = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {clerk}"}, timeout=10)
            staff.post("/api/v1/counters/c01/open", json={}).raise_for_status()
            service = next(c for c in staff.get("/api/v1/counters").json() if c["id"] == "c01")["services"][0]
            kiosk_token = json.loads((centre / "devices" / "kiosk-1.json").read_text())["token"]
            kiosk = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {kiosk_token}"}, timeout=10)
            for _ in range(calls + 5):
                kiosk.post("/api/v1/tickets", json={"service_id": service},
                           headers={"Idempotency-Key": uuid.uuid4().hex}).raise_for_status()

            link = work / "keypad.tty"
            sim = Simulator(parse_devices("keypad:1,led:2"), link=str(link)).start()
            bundle = json.loads((centre / "devices" / "bridge-1.json").read_text())
            bundle["mqtt_url"] = f"mqtt://127.0.0.1:{mqtt_port}"
            bundle["ports"] = [{"url": str(link), "baudrate": 115200, "devices": [
                {"address": 1, "kind": "keypad", "counter_id": "c01"},
                {"address": 2, "kind": "led", "counter_id": "c01"}]}]
            cfg = work / "bridge.json"
            cfg.write_text(json.dumps(bundle))
            bridge_log = open(work / "bridge.log", "wb")
            procs.append(subprocess.Popen([str(BIN / "huduma-bridge"), "-q", "--config", str(cfg)],
                                          stdout=bridge_log, stderr=bridge_log))
            if not sim.wait_for(lambda: sim.frames_to(2, "PING"), timeout=20):
                raise RuntimeError("the bridge never polled the simulated board")
            time.sleep(0.5)  # let the retained state's first SHOW pass

            led, keypad = sim.led(2), sim.devices[1]
            latencies: list[float] = []
            for i in range(calls):
                if time.monotonic() - started > DEADLINE_S:
                    print(f"  ({label}: stopping after {i} calls to stay within two minutes)")
                    break
                before = led.shown
                shows = len(sim.frames_to(2, "SHOW"))
                t0 = time.perf_counter()
                sim.press("NEXT")
                if not sim.wait_for(lambda: len(sim.frames_to(2, "SHOW")) > shows and led.shown
                                    and led.shown != before, timeout=10):
                    raise RuntimeError(f"call {i}: the board never showed a new number "
                                       f"(keypad heard {keypad.acks[-1:]})")
                latencies.append((time.perf_counter() - t0) * 1000)
                # let the ACK land before the next press, as a clerk would
                sim.wait_for(lambda: len(keypad.acks) >= i + 1, timeout=10)
            return latencies
        finally:
            if sim is not None:
                sim.stop()
            for proc in reversed(procs):
                stop(proc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=100, help="timed calls per broker set-up")
    args = parser.parse_args()
    started = time.monotonic()
    print(f"bridge latency: key press NEXT on a pty -> SHOW on the LED board's pty ({args.calls} calls each)")
    print(f"  {'broker':<36} {'p50':>8} {'p90':>8} {'p99':>8} {'max':>8}")
    for label, mode in MODES.items():
        if mode != "embedded" and not shutil.which("mosquitto"):
            print(f"  {label:<36} skipped: mosquitto is not installed")
            continue
        if time.monotonic() - started > DEADLINE_S - 20:
            print(f"  {label:<36} skipped: out of time")
            continue
        ms = run_once(label, mode, args.calls, started)
        if not ms:
            continue
        print(f"  {label:<36} {statistics.median(ms):6.1f}ms {percentile(ms, 90):6.1f}ms "
              f"{percentile(ms, 99):6.1f}ms {max(ms):6.1f}ms", flush=True)
    print(f"  total run {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Speed of the centre server against the limit of its own stack, through real processes.

A provisioned demo centre in a temporary folder is served by a real
``huduma-centre serve`` process against a private Mosquitto. ``wrk`` (another
process, C, keep-alive) drives ticket issue over HTTP; the same wrk run against a
bare ``async def`` FastAPI endpoint served the same way (uvicorn, same flags)
is the ceiling. Then a load process calls next at 50 calls/s, over HTTP and as a
keypad's ``cmd/counter`` MQTT message, and times each call until the
``ticket_called`` event reaches an MQTT subscriber (as a hall display would).

Usage: ``python bench/latency.py [--duration 8] [--connections 16]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing as mp
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

logger = logging.getLogger(__name__)

TARGET_SHARE = 0.30
TARGET_RATE = 750.0
TARGET_CALL_P99_MS = 10.0
TARGET_CPU_MS = 1.0


# ---------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=0.5).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer")


def start_mosquitto(workdir: Path) -> tuple[subprocess.Popen, int]:
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    port = free_port()
    conf = workdir / "mosquitto.conf"
    # set_tcp_nodelay: without it Nagle's algorithm holds small MQTT packets ~40 ms (see bridge_latency.py)
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    "max_queued_messages 100000\nset_tcp_nodelay true\n")
    proc = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, port
        except OSError:
            time.sleep(0.05)
    raise TimeoutError("mosquitto did not start")


def provision(workdir: Path) -> Path:
    centre = workdir / "centre"
    subprocess.run([str(BIN / "huduma-provision"), "init", str(centre), "--demo"], check=True,
                   capture_output=True, timeout=120)
    # keypad commands are answered only for a registered bridge whose bundle lists the counter
    from centre_server.menu import demo_counters  # after sys.path has the project

    counters = ",".join(c.id for c in demo_counters())
    subprocess.run([str(BIN / "huduma-provision"), "add-device", str(centre), "--kind", "bridge", "--id",
                    "bench-keypad", "--counters", counters], check=True, capture_output=True, timeout=60)
    # a kiosk may issue 120 tickets a minute (abuse guard); the bench's one "kiosk" is thousands of them
    toml = centre / "centre.toml"
    toml.write_text(re.sub(r"(?m)^issue_per_device_per_minute = \d+", "issue_per_device_per_minute = 100000000",
                           toml.read_text()))
    return centre


def stop(proc: subprocess.Popen | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---------------------------------------------------------------------------- the bare ceiling


def serve_bare(port: int) -> None:
    """A bare async FastAPI endpoint: validate a small JSON body, answer a small JSON object."""
    import uvicorn
    from fastapi import FastAPI
    from pydantic import BaseModel, ConfigDict, Field

    class Body(BaseModel):
        model_config = ConfigDict(extra="forbid")
        service_id: str = Field(min_length=1, max_length=64)
        language: str = "en"

    app = FastAPI()

    @app.post("/echo", status_code=201)
    async def echo(body: Body) -> dict[str, str]:
        return {"service_id": body.service_id, "number": "A001", "state": "waiting"}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    # the very flags huduma-centre serve uses
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# ---------------------------------------------------------------------------- wrk

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not m:
        raise ValueError(f"wrk latency {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def wrk(url: str, path: str, bodies: list[str], headers: dict[str, str], duration: float,
        connections: int, workdir: Path) -> dict[str, float]:
    """Run wrk (one thread: the other core is the server's) and parse its figures."""
    script = workdir / f"wrk-{uuid.uuid4().hex[:6]}.lua"
    lua_bodies = ", ".join(json.dumps(b) for b in bodies)
    lua_headers = ", ".join(f"[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items())
    run_id = uuid.uuid4().hex[:8]
    script.write_text(f"""
local bodies = {{{lua_bodies}}}
local i = 0
request = function()
  i = i + 1
  local h = {{{lua_headers}}}
  h["Content-Type"] = "application/json"
  h["Idempotency-Key"] = "{run_id}-" .. i
  return wrk.format("POST", "{path}", h, bodies[(i % #bodies) + 1])
end
""")
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{duration:.0f}s", "--latency", "-s", str(script),
                          url], capture_output=True, text=True, timeout=duration + 60).stdout
    res: dict[str, float] = {}
    m = re.search(r"Latency\s+(\S+)\s+(\S+)\s+(\S+)", out)
    if m:
        res["max_ms"] = _ms(m.group(3))
    for pct in ("50", "99"):
        m = re.search(rf"\s{pct}%\s+(\S+)", out)
        if m:
            res[f"p{pct}_ms"] = _ms(m.group(1))
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    if m:
        res["requests"] = float(m.group(1))
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if m:
        res["rate"] = float(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    res["errors"] = float(m.group(1)) if m else 0.0
    m = re.search(r"Socket errors: (.*)", out)
    res["socket_errors"] = 1.0 if m else 0.0
    if "rate" not in res:
        raise RuntimeError(f"wrk printed no figures:\n{out}")
    return res


def cpu_s(pid: int) -> float:
    t = psutil.Process(pid).cpu_times()
    return t.user + t.system


# ---------------------------------------------------------------------------- calls until the display hears


def call_load(url: str, token: str, mqtt_port: int, centre_id: str, counters: list[str], mode: str,
              rate: float, count: int, out: mp.Queue) -> None:
    """In its own process: call next ``count`` times at ``rate``/s; time each to its ticket_called event."""
    import threading

    import paho.mqtt.client as mqtt

    from centre_server.contract import QOS, CounterAction, CounterCommand, Topics

    topics = Topics(centre_id)
    sent: dict[str, float] = {}
    lat: list[float] = []
    seqs: list[int] = []
    lock = threading.Lock()
    ready = threading.Event()

    requests: dict[str, str] = {}  # request id -> counter, for the keypad's replies
    refused_mqtt = [0]

    def on_connect(c, userdata, flags, rc, props):  # type: ignore[no-untyped-def]
        c.subscribe([(topics.event("ticket_called"), QOS), (topics.reply("bench-keypad"), QOS)])

    def on_subscribe(c, userdata, mid, rcs, props):  # type: ignore[no-untyped-def]
        ready.set()

    def on_message(c, userdata, msg):  # type: ignore[no-untyped-def]
        now = time.perf_counter()
        ev = json.loads(msg.payload)
        if "/reply/" in msg.topic:
            if ev.get("status") == "error":  # nothing waiting for that counter: not a lost event
                with lock:
                    refused_mqtt[0] += 1
                    sent.pop(requests.get(ev.get("request_id", ""), ""), None)
            return
        with lock:
            seqs.append(ev["seq"])
            t0 = sent.pop(ev.get("counter_id", ""), None)
            if t0 is not None:
                lat.append((now - t0) * 1000.0)

    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-display-{uuid.uuid4().hex[:6]}")
    sub.on_connect, sub.on_subscribe, sub.on_message = on_connect, on_subscribe, on_message
    sub.connect("127.0.0.1", mqtt_port)
    sub.loop_start()
    pub = None
    if mode == "mqtt":
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-keypad-{uuid.uuid4().hex[:6]}")
        pub.connect("127.0.0.1", mqtt_port)
        pub.loop_start()
    ready.wait(10)
    http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    http_ms: list[float] = []
    refused = 0
    start = time.perf_counter()
    for i in range(count):
        due = start + i / rate
        while (delay := due - time.perf_counter()) > 0:
            time.sleep(delay)
        cid = counters[i % len(counters)]
        if i >= len(counters):  # the citizen called last time came (a call over one only called is refused)
            http.post(f"/api/v1/counters/{cid}/start")
        with lock:
            sent[cid] = time.perf_counter()
        if mode == "http":
            t0 = time.perf_counter()
            r = http.post(f"/api/v1/counters/{cid}/call-next")
            http_ms.append((time.perf_counter() - t0) * 1000.0)
            if r.status_code != 200:
                refused += 1
                with lock:
                    sent.pop(cid, None)
        else:
            assert pub is not None
            with lock:
                requests[f"r{i}"] = cid
            cmd = CounterCommand(action=CounterAction.call_next, request_id=f"r{i}", device_id="bench-keypad")
            pub.publish(topics.cmd_counter(cid), cmd.to_bytes(), qos=QOS)
    took = time.perf_counter() - start
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with lock:
            if not sent:
                break
        time.sleep(0.01)
    sub.loop_stop()
    if pub is not None:
        pub.loop_stop()
    with lock:
        gaps = sum(1 for a, b in zip(seqs, seqs[1:]) if b <= a)
        out.put({"lat": lat, "http_ms": http_ms, "refused": refused + refused_mqtt[0], "lost": len(sent),
                 "rate": count / took,
                 "disorder": gaps})


def percentile(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


# ---------------------------------------------------------------------------- group commit, measured


def fresh_template(work: Path) -> Path:
    """A freshly provisioned demo centre (made once), copied for each commit option."""
    template = work / "template"
    if not (template / "centre.toml").exists():
        subprocess.run([str(BIN / "huduma-provision"), "init", str(template), "--demo"], check=True,
                       capture_output=True, timeout=120)
    return template


def commit_option(template: Path, workdir: Path, per_commit: int, synchronous: str = "FULL",
                  total: int = 960) -> tuple[float, float]:
    """Issue ``total`` tickets in-process through the real engine and storage, ``per_commit`` per transaction.

    Returns (tickets per second, CPU ms per ticket). With ``per_commit`` 1 and FULL this is
    what the server does today; more per commit is what group commit would give (each
    caller still answered only after its fsync), NORMAL is what weakening durability would.
    """
    from centre_server.config import load_settings
    from centre_server.queue import engine
    from centre_server.runtime.centre import Centre, new_ticket_id
    from centre_server.store import database as storage

    d = workdir / f"gc-{per_commit}-{synchronous}"
    shutil.copytree(template, d)
    centre = Centre(load_settings(d))
    centre.db.conn.execute(f"PRAGMA synchronous={synchronous}")
    sids = list(centre.state.services)
    wall, cpu = time.perf_counter(), time.process_time()
    for b in range(total // per_commit):
        with centre.lock:
            events = []
            for i in range(per_commit):
                events += engine.apply(centre.state, engine.IssueTicket(
                    ticket_id=new_ticket_id(), service_id=sids[(b * per_commit + i) % len(sids)]), time.time())
            storage.commit_events(centre.db, centre.state, events)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    centre.close()
    return total / wall, cpu * 1000.0 / total


# ---------------------------------------------------------------------------- the disk's own floor


def slow_commits(log: Path, offset: int) -> list[float]:
    """The server warns of every batch that took over 50 ms, saying how long it waited on the disk."""
    with open(log, "rb") as f:
        f.seek(offset)
        text = f.read().decode(errors="replace")
    return [float(m) for m in re.findall(r"took \d+ ms: \d+ ms deciding, (\d+) ms on disk", text)]


def disk_sync_ms(folder: Path, count: int = 500, rate: float = 50.0) -> list[float]:
    """fdatasync of a 16 KB overwrite, ``count`` times at ``rate``/s: what a call's commit waits for at
    the least. Every call is committed before anyone hears of it, so the disk's tail is the call's."""
    path = folder / "disk-probe"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        block = os.urandom(16384)
        os.pwrite(fd, block * 64, 0)
        os.fsync(fd)
        out = []
        for i in range(count):
            t0 = time.perf_counter()
            os.pwrite(fd, block, (i % 64) * 16384)
            os.fdatasync(fd)
            out.append((time.perf_counter() - t0) * 1000.0)
            time.sleep(max(0.0, 1.0 / rate - (time.perf_counter() - t0)))
        return out
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)


# ---------------------------------------------------------------------------- the run


def line(what: str, value: str, target: str, ok: bool | None) -> None:
    mark = "" if ok is None else ("ok" if ok else "MISSED")
    print(f"  {what:52} {value:>16}   target {target:18} {mark}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=float, default=8.0, help="seconds of each wrk run")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--calls", type=int, default=500, help="calls per call-to-display run (at 50/s)")
    ap.add_argument("--issue-only", action="store_true", help="measure ticket issue only (for quick comparisons)")
    ap.add_argument("--open-first", action="store_true",
                    help="open every counter before the issue run (the wait forecaster then runs beside it)")
    ap.add_argument("--bare", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.bare:
        serve_bare(args.bare)
        return 0
    if not shutil.which("wrk"):
        print("wrk is not installed: `make system-deps` installs it (Debian package wrk)")
        return 1
    logging.basicConfig(level=logging.WARNING)
    work = Path(tempfile.mkdtemp(prefix="huduma-bench-"))
    procs: list[subprocess.Popen] = []
    try:
        centre = provision(work)
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
        bare_port = free_port()
        bare = subprocess.Popen([sys.executable, __file__, "--bare", str(bare_port)])
        procs.append(bare)
        bare_url = f"http://127.0.0.1:{bare_port}"
        wait_http(bare_url + "/healthz", bare)

        kiosk = json.loads((centre / "devices" / "kiosk-1.json").read_text())
        creds = json.loads((centre / "demo-credentials.json").read_text())
        services = [s["id"] for s in httpx.get(url + "/api/v1/services").json()]
        bodies = [json.dumps({"service_id": s, "language": "en"}, separators=(",", ":")) for s in services]
        auth = {"Authorization": f"Bearer {kiosk['token']}"}
        if args.open_first:  # counters open while tickets pour in: the wait forecaster works meanwhile
            staff = {"username": "clerk", "password": creds["staff"]["clerk"]["password"]}
            first = httpx.post(url + "/api/v1/auth/login", json=staff).json()["token"]
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {first}"}) as opener:
                for c in opener.get("/api/v1/counters").json():
                    opener.post(f"/api/v1/counters/{c['id']}/open", json={}).raise_for_status()
        # warm both up (imports, first connections), then measure
        wrk(bare_url, "/echo", bodies, {}, 2, args.connections, work)
        wrk(url, "/api/v1/tickets", bodies, auth, 1, 4, work)

        c0 = cpu_s(bare.pid)
        ceiling = wrk(bare_url, "/echo", bodies, {}, args.duration, args.connections, work)
        ceiling["cpu_ms"] = (cpu_s(bare.pid) - c0) * 1000.0 / ceiling["requests"]
        c0, b0 = cpu_s(server.pid), cpu_s(broker.pid)
        issue = wrk(url, "/api/v1/tickets", bodies, auth, args.duration, args.connections, work)
        issue["cpu_ms"] = (cpu_s(server.pid) - c0) * 1000.0 / issue["requests"]
        issue["broker_cpu_ms"] = (cpu_s(broker.pid) - b0) * 1000.0 / issue["requests"]
        rss_mb = psutil.Process(server.pid).memory_info().rss / 2**20
        waiting = sum(s["waiting"] for s in httpx.get(url + "/api/v1/services").json())

        login = {"username": "clerk", "password": creds["staff"]["clerk"]["password"]}
        token = httpx.post(url + "/api/v1/auth/login", json=login).json()["token"]
        clerk = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"})
        counters = [c["id"] for c in clerk.get("/api/v1/counters").json()]
        for cid in counters:
            clerk.post(f"/api/v1/counters/{cid}/open", json={}).raise_for_status()
        centre_id = kiosk["centre_id"]
        results = {}
        disk = [] if args.issue_only else disk_sync_ms(centre)
        for mode in () if args.issue_only else ("http", "mqtt"):
            q: mp.Queue = mp.Queue()
            p = mp.Process(target=call_load, args=(url, token, mqtt_port, centre_id, counters, mode, 50.0,
                                                   args.calls, q))
            c0 = cpu_s(server.pid)
            log.flush()
            log_from = (work / "server.log").stat().st_size
            p.start()
            results[mode] = q.get(timeout=args.calls / 50.0 + 60)
            p.join(10)
            results[mode]["cpu_ms"] = (cpu_s(server.pid) - c0) * 1000.0 / args.calls
            results[mode]["disk_waits"] = slow_commits(work / "server.log", log_from)

        share = issue["rate"] / ceiling["rate"]
        print(f"Centre server latency and throughput ({os.cpu_count()} cores, {args.connections} keep-alive "
              f"connections, wrk -t1, {args.duration:.0f} s runs; SQLite synchronous=FULL, group commit; "
              "Mosquitto with set_tcp_nodelay true)")
        print("ceiling: bare async FastAPI endpoint (uvicorn, same flags)")
        line("bare endpoint rate", f"{ceiling['rate']:,.0f} req/s", "(reference)", None)
        line("bare endpoint latency p50 / p99", f"{ceiling['p50_ms']:.2f} / {ceiling['p99_ms']:.2f} ms",
             "(reference)", None)
        line("bare endpoint CPU per request", f"{ceiling['cpu_ms']:.3f} ms", "(reference)", None)
        print("ticket issue: POST /api/v1/tickets (kiosk token, Idempotency-Key, 39 services in turn)")
        line("issue rate", f"{issue['rate']:,.0f} req/s", f">= {TARGET_RATE:.0f}/s", issue["rate"] >= TARGET_RATE)
        line("issue rate as a share of the bare endpoint", f"{share:.0%}", f">= {TARGET_SHARE:.0%}",
             share >= TARGET_SHARE)
        line("issue latency p50", f"{issue['p50_ms']:.2f} ms", "(report)", None)
        line("issue latency p99", f"{issue['p99_ms']:.2f} ms", "(report)", None)
        line("issue latency max", f"{issue['max_ms']:.2f} ms", "(report)", None)
        line("server CPU per issued ticket", f"{issue['cpu_ms']:.3f} ms", f"<= {TARGET_CPU_MS:.1f} ms",
             issue["cpu_ms"] <= TARGET_CPU_MS)
        line("broker CPU per issued ticket (Mosquitto)", f"{issue['broker_cpu_ms']:.3f} ms", "(report)", None)
        line("failed requests", f"{issue['errors'] + issue['socket_errors']:.0f}", "0",
             issue["errors"] + issue["socket_errors"] == 0)
        line("tickets issued / waiting after the run", f"{issue['requests']:.0f} / {waiting}", "(report)", None)
        line("server memory after the run (RSS)", f"{rss_mb:.0f} MB", "(report)", None)
        for mode, label in (("http", "call-next over HTTP"), ("mqtt", "call-next as a keypad's cmd/counter")):
            if mode not in results:
                continue
            r = results[mode]
            p99 = percentile(r["lat"], 99)
            print(f"{label}, {r['rate']:.0f} calls/s, until ticket_called reaches an MQTT subscriber")
            line("call to display p50", f"{percentile(r['lat'], 50):.2f} ms", "(report)", None)
            line("call to display p99", f"{p99:.2f} ms", f"<= {TARGET_CALL_P99_MS:.0f} ms",
                 p99 <= TARGET_CALL_P99_MS)
            line("call to display max", f"{max(r['lat'], default=float('nan')):.2f} ms", "(report)", None)
            if mode == "http":
                line("HTTP call-next response p50 / p99",
                     f"{percentile(r['http_ms'], 50):.2f} / {percentile(r['http_ms'], 99):.2f} ms", "(report)", None)
            line("server CPU per call", f"{r['cpu_ms']:.3f} ms", "(report)", None)
            line("calls refused (nothing waiting for that counter)", f"{r['refused']}", "(report)", None)
            line("calls whose event never arrived", f"{r['lost']}", "0", r["lost"] == 0)
            waits = r["disk_waits"]
            line("commits the disk held > 50 ms (server's own log)",
                 f"{len(waits)}" + (f", longest {max(waits):.0f} ms" if waits else ""), "(report)", None)
        if disk:
            print("the disk's own floor: fdatasync of a 16 KB overwrite at 50/s, in the centre's folder "
                  "(a call is on disk before any display hears of it)")
            line("fdatasync p50 / p99 / max", f"{percentile(disk, 50):.2f} / {percentile(disk, 99):.2f} / "
                 f"{max(disk):.0f} ms", "(report)", None)
        if not args.issue_only:
            print("why group commit: in-process, real engine and storage, no HTTP, fresh day, k tickets per "
                  "transaction (the server commits whatever arrived meanwhile, each caller answered after the fsync):")
        for k, sync in () if args.issue_only else ((1, "FULL"), (4, "FULL"), (16, "FULL"), (64, "FULL"), (1, "NORMAL")):
            rate, cpu = commit_option(fresh_template(work), work, k, sync)
            label = (f"{k} ticket(s) per fsync" if sync == "FULL"
                     else "synchronous=NORMAL (NOT durable on power loss)")
            print(f"    {label:50} {rate:>16,.0f} tickets/s   {cpu:.3f} ms CPU each")
        load = os.getloadavg()[0]
        print(f"machine load average (1 min) at the end: {load:.1f} on {os.cpu_count()} cores"
              + (" (above the core count: other work competed with the bench)" if load > (os.cpu_count() or 1)
                 else ""))
    finally:
        for p in reversed(procs):
            stop(p)
        if os.environ.get("KEEP_BENCH_DIR"):
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

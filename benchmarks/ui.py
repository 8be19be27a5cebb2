"""The web front end's speed, every figure measured in one run beside its budget.

- ``GET /api/runs`` over a store of 10,000 runs (the first page of 500 rows,
  newest first; then searched; then sorted by the headline metric): the
  server's own time (its ``Server-Timing`` header) and the time a client waits.
- A metric of 1,000,000 points served thinned to 2,000 (LTTB): the first
  request, which reads every row from SQLite, and the next ones, which read
  only new rows and thin the cached arrays.
- Event to curve: a probe worker emits one metric every 0.4 s while eight
  flood workers write metrics as fast as they can; Chromium shows the probe's
  run page, and each point's latency is from the event's timestamp (when the
  worker emitted it) to when the page drew it.
- The first page load: bytes transferred and time until the run table is on
  screen, in Chromium.

Everything is real: ``mosaic ui`` in its own process, detached supervisors,
the system Chromium through Playwright.

    python benchmarks/ui.py [--runs N] [--points N] [--flood N] [--strict]

Speed is reported, not asserted: exit 1 when something failed, or, with
``--strict``, when a budget was missed.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any

HERE = pathlib.Path(__file__).resolve().parent
TOKEN = "benchmark-token-0123456789"
CHROMIUM = os.environ.get("MOSAIC_UI_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BUDGETS = {
    "runs_ms": 150.0,
    "curve_ms": 200.0,
    "latency_ms": 500.0,
    "page_kb": 300.0,
    "page_s": 1.0,
}


def _load() -> str:
    return f"{os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else "unknown"


def install_workers(root: pathlib.Path) -> pathlib.Path:
    """The flood and probe workers as installed distributions (for the server's children)."""
    site = root / "site"
    site.mkdir()
    for module, worker in (("_flood_worker", "bench-flood"), ("_ui_probe_worker", "bench-probe")):
        shutil.copy(HERE / f"{module}.py", site / f"{module}.py")
        info = site / f"mosaic_{module.strip('_')}-0.0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.0.1\n")
        (info / "entry_points.txt").write_text(f"[mosaic.workers]\n{worker} = {module}\n")
    return site


def build_store(home: pathlib.Path, runs: int, points: int) -> str:
    """``runs`` finished runs with ten metric points each, and one run with ``points``
    points of one metric; returns that run's id."""
    from mosaic_core.runs import RunStore
    from mosaic_core.runs.reader import TelemetryReader

    store = RunStore(home)

    def lines(run_id: str, steps: range, key: str) -> bytes:
        out = [
            json.dumps(
                {
                    "v": 1,
                    "event": "run_started",
                    "run_id": run_id,
                    "seq": 0,
                    "timestamp": 1.0,
                    "payload": {},
                }
            )
        ]
        out += [
            json.dumps(
                {
                    "v": 1,
                    "event": "metrics",
                    "run_id": run_id,
                    "seq": i + 1,
                    "timestamp": 1.0 + i,
                    "payload": {"step": s, "values": {key: (s % 97) / 97}},
                },
                separators=(",", ":"),
            )
            for i, s in enumerate(steps)
        ]
        return ("\n".join(out) + "\n").encode()

    for i in range(runs):
        run_id = f"R{i:06d}"
        store.create_run(
            run_id,
            "bench-flood",
            {"env_id": "Flood-v0", "algorithm": "flood", "seed": i % 5, "lr": 1e-3 * (1 + i % 4)},
            group=f"sweep-{i // 50}",
        )
        reader = TelemetryReader(expected_run_id=run_id)
        data = lines(run_id, range(0, 1000, 100), "charts/episodic_return")
        store.ingest(run_id, reader.feed(data), len(data), reader.next_seq)
        store.update(run_id, status="completed")
    big = "BIGCURVE"
    store.create_run(big, "bench-flood", {"env_id": "Flood-v0", "algorithm": "flood"})
    (home / "runs" / big / "events.jsonl").write_bytes(lines(big, range(points), "loss"))
    store.catch_up(big, final=True)
    store.update(big, status="completed")
    store.close()
    return big


class Server:
    def __init__(self, home: pathlib.Path, site: pathlib.Path) -> None:
        env = dict(
            os.environ,
            MOSAIC_HOME=str(home),
            PYTHONUNBUFFERED="1",
            PYTHONPATH=os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
        )
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys; from mosaic_core.cli import main; sys.exit(main())",
                "ui",
                "--port",
                "0",
                "--token",
                TOKEN,
            ],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert self.proc.stdout is not None
        line = ""
        while not line.startswith("http://"):
            line = self.proc.stdout.readline().strip()
            if self.proc.poll() is not None:
                raise SystemExit("mosaic ui did not start")
        self.url = line
        self.base = line.split("/?")[0]

    def call(self, method: str, path: str, body: Any = None) -> tuple[Any, float, float]:
        """``(json, server ms, client ms)``."""
        head = {"authorization": f"Bearer {TOKEN}", "origin": self.base}
        data = None
        if body is not None:
            data, head["content-type"] = json.dumps(body).encode(), "application/json"
        started = time.perf_counter()
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=head)
        with urllib.request.urlopen(request, timeout=120) as response:
            raw = response.read()
            timing = response.headers.get("server-timing", "app;dur=nan")
        client = (time.perf_counter() - started) * 1e3
        return json.loads(raw), float(timing.split("dur=")[1]), client

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _median_calls(server: Server, path: str, n: int) -> tuple[float, float]:
    server_ms, client_ms = [], []
    for _ in range(n):
        _, s, c = server.call("GET", path)
        server_ms.append(s)
        client_ms.append(c)
    return statistics.median(server_ms), statistics.median(client_ms)


def measure_api(server: Server, runs: int, big: str, results: dict[str, Any]) -> None:
    deadline = time.monotonic() + 300
    while server.call("GET", "/api/session")[0]["runs"] < runs + 1:
        if time.monotonic() > deadline:
            raise SystemExit("the server's run index did not fill in 300 s")
        time.sleep(0.5)
    for name, path in (
        ("runs", "/api/runs"),
        ("runs_search", "/api/runs?q=sweep-7"),
        ("runs_sorted", "/api/runs?sort=-metric"),
    ):
        results[name] = _median_calls(server, path, 15)
    path = f"/api/runs/{big}/metrics?key=loss&points=2000"
    data, cold_server, cold_client = server.call("GET", path)
    assert len(data["series"]["loss"]["steps"]) == 2000, data["series"]["loss"]["count"]
    results["curve_cold"] = (cold_server, cold_client)
    results["curve_warm"] = _median_calls(server, path, 10)
    results["curve_count"] = data["series"]["loss"]["count"]


def measure_browser(server: Server, flood: int, results: dict[str, Any]) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        warm = browser.new_context().new_page()
        warm.goto(server.url)  # the server's first page and discovery, before measuring
        warm.locator("table#runs tbody tr").first.wait_for(timeout=60_000)
        warm.context.close()
        context = browser.new_context()  # empty cache, no cookie: a first visit
        page = context.new_page()
        sizes: list[int] = []

        def record(request: Any) -> None:
            done = request.sizes()
            sizes.append(done["responseBodySize"] + done["responseHeadersSize"])

        page.on("requestfinished", record)
        started = time.perf_counter()
        page.goto(server.url)
        page.locator("table#runs tbody tr").first.wait_for(timeout=60_000)
        results["page_s"] = time.perf_counter() - started
        results["page_kb"] = sum(sizes) / 1024
        results["page_requests"] = len(sizes)
        page.remove_listener("requestfinished", record)
        floods, _, _ = server.call(
            "POST",
            "/api/launch",
            {
                "worker": "bench-flood",
                "config": {"total_steps": 2_000_000},
                "seeds": list(range(flood)),
            },
        )
        probe, _, _ = server.call(
            "POST",
            "/api/launch",
            {"worker": "bench-probe", "config": {"total_steps": 30, "interval": 0.4}},
        )
        probe_id = probe["runs"][0]["run_id"]
        page.goto(f"{server.base}/#/run/{probe_id}")
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            run, _, _ = server.call("GET", f"/api/runs/{probe_id}")
            if run["status"] not in ("pending", "running"):
                break
            time.sleep(0.5)
        time.sleep(1.5)
        drawn = page.evaluate("window.__mosaicCurve")
        following = page.evaluate("window.__mosaicFollowing || 0") / 1e3
        for item in floods["runs"]:
            server.call("POST", f"/api/runs/{item['run_id']}/cancel")
        events, _, _ = server.call("GET", f"/api/runs/{probe_id}/events?limit=1000")
        browser.close()
    emitted = {
        e["payload"]["step"]: e["timestamp"] for e in events["events"] if e["event"] == "metrics"
    }
    latencies, before = [], 0
    for step, at in emitted.items():
        if at < following:  # emitted before the page was following the run: caught up
            before += 1
            continue
        shown = [d["at"] for d in drawn if d["key"] == "probe/value" and d["step"] >= step]
        if shown:
            latencies.append(min(shown) - at * 1e3)
    results["latency"] = latencies
    results["latency_before"] = before
    results["latency_missed"] = len(emitted) - before - len(latencies)
    results["flood_events"] = sum(
        server.call("GET", f"/api/runs/{r['run_id']}")[0]["events"] for r in floods["runs"]
    )


def report(results: dict[str, Any], args: argparse.Namespace) -> bool:
    ok = True

    def line(what: str, value: float, unit: str, budget: float | None, note: str = "") -> None:
        nonlocal ok
        verdict = ""
        if budget is not None:
            verdict = "ok" if value < budget else "OVER"
            ok &= value < budget
        shown = f"{value:,.1f} {unit}"
        limit = f"< {budget:,.0f} {unit}" if budget is not None else ""
        print(f"  {what:<52} {shown:>14}   {limit:<12} {verdict:<4} {note}")

    print(
        f"\nmosaic-ui speed ({os.cpu_count()} CPUs, load {results['load_before']} before, "
        f"{_load()} after; {args.runs:,} runs, {results['curve_count']:,} points)"
    )
    s, c = results["runs"]
    line(
        "GET /api/runs, first 500 of all runs (server)",
        s,
        "ms",
        BUDGETS["runs_ms"],
        f"client {c:.0f} ms",
    )
    s, c = results["runs_search"]
    line("GET /api/runs?q=... (server)", s, "ms", BUDGETS["runs_ms"], f"client {c:.0f} ms")
    s, c = results["runs_sorted"]
    line("GET /api/runs?sort=-metric (server)", s, "ms", BUDGETS["runs_ms"], f"client {c:.0f} ms")
    s, c = results["curve_warm"]
    line(
        "1M-point metric to 2,000 points, cached (server)",
        s,
        "ms",
        BUDGETS["curve_ms"],
        f"client {c:.0f} ms",
    )
    s, c = results["curve_cold"]
    line(
        "1M-point metric to 2,000 points, first read (server)",
        s,
        "ms",
        None,
        "reads every row from SQLite once",
    )
    lat = sorted(results["latency"])
    if lat:
        p90 = lat[int(0.9 * (len(lat) - 1))]
        line(
            f"event -> curve in Chromium, median ({args.flood}-run flood)",
            statistics.median(lat),
            "ms",
            BUDGETS["latency_ms"],
            f"p90 {p90:.0f} ms, {len(lat)} points ({results['latency_before']} earlier, "
            f"caught up when the page opened), {results['latency_missed']} missed, "
            f"flood wrote {results['flood_events']:,} events",
        )
    else:
        print("  event -> curve: no point reached the page")
        ok = False
    line(
        "first page load, transferred",
        results["page_kb"],
        "KB",
        BUDGETS["page_kb"],
        f"{results['page_requests']} requests",
    )
    line("first page load, until the run table shows", results["page_s"], "s", BUDGETS["page_s"])
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--flood", type=int, default=8)
    parser.add_argument("--strict", action="store_true", help="exit 1 when a budget is missed")
    args = parser.parse_args()
    results: dict[str, Any] = {"load_before": _load()}
    with tempfile.TemporaryDirectory(prefix="mosaic-ui-bench-") as tmp:
        root = pathlib.Path(tmp)
        home = root / "home"
        site = install_workers(root)
        sys.path.insert(0, str(site))
        importlib.invalidate_caches()
        started = time.perf_counter()
        big = build_store(home, args.runs, args.points)
        print(
            f"store: {args.runs:,} runs and a {args.points:,}-point metric in "
            f"{time.perf_counter() - started:.0f} s",
            flush=True,
        )
        server = Server(home, site)
        try:
            started = time.perf_counter()
            measure_api(server, args.runs, big, results)
            print(
                f"server: run index of {args.runs + 1:,} runs ready, API measured in "
                f"{time.perf_counter() - started:.0f} s",
                flush=True,
            )
            measure_browser(server, args.flood, results)
        finally:
            server.stop()
    ok = report(results, args)
    return 0 if ok or not args.strict else 1


if __name__ == "__main__":
    sys.exit(main())

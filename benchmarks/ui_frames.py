"""Frames of the operators page, from operator processes to paint in the browser.

A task of 256x256 RGB frames (``_frames_family.py``, installed as an
environment family for the server and its operator processes) is played by
the random operator as fast as it goes, in one pane and then in four panes
side by side; the system Chromium shows the session page. Measured over
``--seconds`` each:

- frames/s delivered to the browser per pane (decoded and drawn on its
  canvas), budget >= 30 for one pane and >= 15 for each of four;
- step->paint latency: from the server receiving the step whose frame it is
  to the browser's next animation frame after drawing it (one machine, one
  clock), median budget < 100 ms;
- beside them, the in-process step rate (the environment stepped and
  rendered in this process, no protocol, no frames sent) and the machine's
  load average.

    python benchmarks/ui_frames.py [--seconds S] [--strict]

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
TASK = "Frames256-v0"
NAN = float("nan")
BUDGETS = {"one_fps": 30.0, "four_fps": 15.0, "latency_ms": 100.0}


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"


def install_family(root: pathlib.Path) -> pathlib.Path:
    site = root / "site"
    site.mkdir()
    shutil.copy(HERE / "_frames_family.py", site / "_frames_family.py")
    info = site / "mosaic_bench_frames-0.0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: mosaic-bench-frames\nVersion: 0.0.1\n"
    )
    (info / "entry_points.txt").write_text("[mosaic.env_families]\nbench_frames = _frames_family\n")
    return site


def in_process_rate(seconds: float) -> float:
    """Steps per second of the environment stepped and rendered here, nothing else."""
    from _frames_family import make

    env = make("rgb_array")
    env.reset(seed=0)
    steps, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        _, _, terminated, truncated, _ = env.step(0)
        env.render()
        steps += 1
        if terminated or truncated:
            env.reset()
    return steps / (time.perf_counter() - started)


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
        self.url, self.base = line, line.split("/?")[0]

    def call(self, method: str, path: str, body: Any = None) -> Any:
        head = {"authorization": f"Bearer {TOKEN}", "origin": self.base}
        data = None
        if body is not None:
            data, head["content-type"] = json.dumps(body).encode(), "application/json"
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=head)
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def measure(server: Server, page: Any, panes: int, seconds: float) -> dict[str, Any]:
    session = server.call(
        "POST",
        "/api/play",
        {
            "task": TASK,
            "seed": 0,
            "panes": [{"seats": {"agent": "random"}}] * panes,
        },
    )
    sid = session["id"]
    page.goto(f"{server.base}/#/operators/{sid}")
    page.locator("#run").wait_for()
    deadline = time.monotonic() + 60
    while server.call("GET", f"/api/play/{sid}")["panes"][-1]["status"] != "ready":
        if time.monotonic() > deadline:
            raise SystemExit(f"the panes did not start: {server.call('GET', f'/api/play/{sid}')}")
        time.sleep(0.2)
    page.locator("#pace").fill("0")
    page.locator("#run").click()
    time.sleep(2.0)  # warm up: the encoders choose their format, the page its canvas size
    first = page.evaluate(
        "({f: [...window.__mosaicPlay.frames], n: window.__mosaicPlay.latency.length})"
    )
    steps0 = [p["steps"] for p in server.call("GET", f"/api/play/{sid}")["panes"]]
    started = time.monotonic()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    time.sleep(seconds)
    elapsed = time.monotonic() - started
    last = page.evaluate(
        "({f: [...window.__mosaicPlay.frames], l: window.__mosaicPlay.latency.slice(),"
        " formats: window.__mosaicPlay.formats, bytes: window.__mosaicPlay.bytes})"
    )
    state = server.call("GET", f"/api/play/{sid}")
    steps = [p["steps"] - s for p, s in zip(state["panes"], steps0, strict=True)]
    server.call("DELETE", f"/api/play/{sid}")
    fps = [(b - a) / elapsed for a, b in zip(first["f"], last["f"], strict=True)]
    latency = last["l"][first["n"] :] or last["l"]
    return {
        "fps": fps,
        "steps_per_s": [s / elapsed for s in steps],
        "latency_median": statistics.median(latency) if latency else float("nan"),
        "latency_p90": statistics.quantiles(latency, n=10)[-1]
        if len(latency) > 10
        else float("nan"),
        "formats": last["formats"],
        "load": load,
        "failed": [p["error"] for p in state["panes"] if p["status"] == "failed"],
    }


def report(rate: float, one: dict[str, Any], four: dict[str, Any], load: str) -> bool:
    ok = True

    def line(what: str, value: float, unit: str, budget: str, met: bool) -> None:
        nonlocal ok
        ok = ok and met
        print(f"  {what:<44} {value:>9.1f} {unit:<5} {budget:<10} {'ok' if met else 'MISSED'}")

    print(f"\nin-process step+render rate: {rate:,.0f} steps/s (256x256 RGB)")
    for name, result, budget in (
        ("one pane", one, BUDGETS["one_fps"]),
        ("four panes", four, BUDGETS["four_fps"]),
    ):
        print(
            f"{name} (load average during: {result['load']:.2f}; frames as "
            f"{', '.join(result['formats'])}):"
        )
        for i, fps in enumerate(result["fps"]):
            line(
                f"pane {i + 1}: frames painted in the browser",
                fps,
                "fps",
                f">= {budget:.0f}",
                fps >= budget,
            )
            print(f"  {'':<44} {result['steps_per_s'][i]:>9.1f} steps/s (the operator's rate)")
        line(
            "step->paint latency, median",
            result["latency_median"],
            "ms",
            f"< {BUDGETS['latency_ms']:.0f}",
            result["latency_median"] < BUDGETS["latency_ms"],
        )
        print(f"  {'step->paint latency, 90th percentile':<44} {result['latency_p90']:>9.1f} ms")
        if result["failed"]:
            print(f"  failed panes: {result['failed']}")
            ok = False
    print(f"load average (1, 5, 15 min) at the end: {load}; {os.cpu_count()} cores")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--strict", action="store_true", help="exit 1 when a budget is missed")
    args = parser.parse_args()
    print(f"load average before: {_load()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="mosaic-ui-frames-") as tmp:
        root = pathlib.Path(tmp)
        site = install_family(root)
        sys.path.insert(0, str(site))
        importlib.invalidate_caches()
        rate = in_process_rate(3.0)
        server = Server(root / "home", site)
        from playwright.sync_api import sync_playwright

        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                page = browser.new_context(viewport={"width": 1360, "height": 860}).new_page()
                page.goto(server.url)
                one = measure(server, page, 1, args.seconds)
                four = measure(server, page, 4, args.seconds)
                browser.close()
        finally:
            server.stop()
    ok = report(rate, one, four, _load())
    return 0 if ok or not args.strict else 1


if __name__ == "__main__":
    sys.exit(main())

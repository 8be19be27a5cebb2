"""Supervisor ingest speed, beside MLflow logging the same metrics, measured in one run.

1. MOSAIC: the real supervisor (``prepare_runs`` + ``Supervisor``, in this
   process) runs ``--workers`` worker processes at once, started as ``mosaic
   run`` starts them (by forking, where that starts the same worker;
   ``--exec-workers``: by executing their commands). Each is the
   benchmark's own worker plugin (``benchmarks/_flood_worker.py``, installed
   as a distribution in a temporary site directory) emitting ``--events``
   metrics events of three values each, as fast as ``TelemetryEmitter``
   takes them. Reported: durable events/s (lines in the runs'
   ``events.jsonl`` over the time from launch to the last worker's exit) and
   indexed events/s (events in ``mosaic.db`` when ``wait()`` returns, over
   the time from launch). Then the proof that none was lost: per run,
   ``mosaic.db`` holds ``seq`` 0..n-1 exactly, n being the metrics events
   plus ``run_started`` and ``run_completed``, three metric rows per metrics
   event, and ``events.jsonl`` holds n lines.
2. MLflow's tracking API logging the same metrics (workers x events steps x
   3 keys) into a SQLite store, one process and one MLflow run per worker,
   all in parallel: ``MlflowClient.log_batch`` with 999 metrics (333 steps)
   per call, the fastest API it has. Its clock starts when every process has
   imported MLflow and created its run, and stops at the last one's end.
   Then, for scale, ``mlflow.log_metrics`` once per step, on fewer steps.
3. How long ``mosaic run`` (the CLI, a fresh process) takes to reach a
   trivial worker's ``run_started``: from ``Popen`` to the event's timestamp
   (``--startup-only``: this part alone).

    python benchmarks/ingest.py [--events N] [--workers W] [--startup-only] [--strict]

Speed is reported, not asserted: the exit status is 1 only when an event
was lost, or, with ``--strict``, when a target was missed too. Without
MLflow installed, part 2 says so and the rest still runs.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import pathlib
import platform
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from importlib.metadata import PackageNotFoundError, version
from typing import Any

HERE = pathlib.Path(__file__).resolve().parent
WORKER = "bench-flood"
LIFECYCLE = 2  # run_started + run_completed; the flood worker sends no heartbeats
KEYS = ("charts/episodic_return", "losses/value_loss", "charts/SPS")
TARGET_RATE = 100_000.0
TARGET_CPU_US = 9.5  # the supervisor's CPU per event: half of the 18-20 us measured before
TARGET_LAG_MEDIAN, TARGET_LAG_P99 = 0.1, 1.0  # seconds, appended -> queryable
TARGET_STARTUP_MS = 150.0  # mosaic run: Popen -> run_started of a light worker
MLFLOW_BATCH_STEPS = 333  # 999 metrics: MLflow takes at most 1000 per log_batch
MLFLOW_INSTALL = "pip install mlflow-skinny sqlalchemy alembic, or run python3 -m tox -e benchmarks"


def _values(i: int) -> dict[str, float]:
    """What the flood worker sends at step i."""
    return {KEYS[0]: (i % 500) * 0.731, KEYS[1]: 1.0 / (i + 1), KEYS[2]: float(1000 + i % 3000)}


def _load() -> str:
    return f"{os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else "unknown"


# -- 1. MOSAIC: the supervisor under a flood ----------------------------------------


def install_worker(root: pathlib.Path) -> None:
    """The flood worker as an installed distribution, for this process and its children."""
    site = root / "site"
    site.mkdir()
    shutil.copy(HERE / "_flood_worker.py", site / "_flood_worker.py")
    info = site / "mosaic_bench_flood-0.0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: mosaic-bench-flood\nVersion: 0.0.1\n"
    )
    (info / "entry_points.txt").write_text(f"[mosaic.workers]\n{WORKER} = _flood_worker\n")
    sys.path.insert(0, str(site))
    paths = [str(site), os.environ.get("PYTHONPATH", "")]
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    importlib.invalidate_caches()


def run_mosaic(
    home: pathlib.Path, workers: int, events: int, *, fork: bool = True
) -> dict[str, Any]:
    """Every worker at once under one in-process supervisor; returns times and run ids."""
    from mosaic_core.runs import RunStore, Supervisor, forking, prepare_runs, resolve_worker

    store = RunStore(home)
    # As `mosaic run` does: the worker is told its entry point's module, and imports it
    # instead of reading every installed distribution's entry points again.
    resolved = resolve_worker(store, WORKER)
    prepared = prepare_runs(
        store, WORKER, resolved.spec, {"total_steps": events}, seeds=range(1, workers + 1),
        worker_module=resolved.module,
    )  # fmt: skip
    supervisor = Supervisor(store, parallel=workers)
    for run in prepared:
        supervisor.submit(run.launch)
    probe = _start_lag_probe(home, [run.run_id for run in prepared])
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    sched = _schedstat()
    launched = time.time()
    # As `mosaic run` does: this script owns its interpreter too.
    with forking.allowed() if fork else contextlib.nullcontext():
        results = supervisor.wait()
    indexed = time.time()
    used = resource.getrusage(resource.RUSAGE_SELF)
    sched_after = _schedstat()
    lags, probe_cpu = _stop_lag_probe(probe, home)
    run_ids = [run.run_id for run in prepared]
    exits = [_exit_time(store.run_dir(run_id)) or 0.0 for run_id in run_ids]
    store.close()
    return {
        "launched": launched,
        "indexed": indexed,
        "last_exit": max(exits) if all(exits) else None,
        "statuses": {run_id: results[run_id].status for run_id in run_ids},
        "run_ids": run_ids,
        "cpu": used.ru_utime + used.ru_stime - cpu.ru_utime - cpu.ru_stime,
        "lags": lags,
        "probe_cpu": probe_cpu,
        "sched": None
        if sched is None or sched_after is None
        else (sched_after[0] - sched[0], sched_after[1] - sched[1]),
    }


def _schedstat() -> tuple[float, float] | None:
    """Seconds this thread has spent on a CPU and runnable but waiting for one (Linux)."""
    try:
        with open(f"/proc/self/task/{threading.get_native_id()}/schedstat") as handle:
            on_cpu, waiting, _ = handle.read().split()
    except (OSError, ValueError):
        return None
    return int(on_cpu) / 1e9, int(waiting) / 1e9


# -- lag: a line appended to events.jsonl -> queryable in mosaic.db ---------------------


def _start_lag_probe(home: pathlib.Path, run_ids: list[str]) -> subprocess.Popen[str]:
    """A process of its own (it must not take this one's GIL) watching the runs' files;
    samples still waiting when the runs end are settled by then and count as such."""
    command = [sys.executable, "-I", "-S", str(HERE / "_lag_probe.py"), str(home), *run_ids]
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True)


def _stop_lag_probe(probe: subprocess.Popen[str], home: pathlib.Path) -> tuple[list[float], float]:
    """The lags the probe saw, in seconds, and the CPU time it used (its own start included)."""
    stop = home / "lag-probe.stop"
    stop.touch()
    out, _ = probe.communicate(timeout=60)
    stop.unlink()  # the next run's probe, in the same home, must not stop at once
    result = json.loads(out or "{}")
    return [float(x) for x in result.get("lags", [])], float(result.get("cpu", float("nan")))


def _exit_time(run_dir: pathlib.Path) -> float | None:
    """The ``exit <Unix seconds>`` line the flood worker prints as its process ends."""
    for line in reversed((run_dir / "stdout.log").read_text(errors="replace").splitlines()):
        if line.startswith("exit "):
            return float(line.split()[1])
    return None


def check_runs(home: pathlib.Path, run_ids: list[str], events: int) -> dict[str, Any]:
    """Per run: seq 0..n-1 indexed (the run's count of events and next seq; its lifecycle
    rows at seq 0 and n-1), 3 metric points per metrics event, n lines on disk.

    ``metrics`` events have no row of their own in ``events`` since mosaic-core 1.1 (their
    values are the chunks' points, their lines stay in events.jsonl); an older store has
    one per event, and is checked by its rows' seqs instead."""
    expected = events + LIFECYCLE
    problems: list[str] = []
    in_db = on_disk = 0
    emitting = [float("inf"), 0.0]  # first run_started, last run_completed (Unix seconds)
    db = sqlite3.connect(f"file:{home / 'mosaic.db'}?mode=ro", uri=True)
    chunks = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'metric_chunks'").fetchone()
    try:
        for run_id in run_ids:
            ((counted, next_seq),) = db.execute(
                "SELECT events, next_seq FROM runs WHERE run_id = ?", (run_id,)
            )
            rows = dict(db.execute(
                "SELECT seq, event FROM events WHERE run_id = ? AND event != 'metrics'",
                (run_id,),
            ).fetchall())  # fmt: skip
            ((metric_rows,),) = db.execute(
                "SELECT COALESCE(SUM(points), 0) FROM metric_chunks WHERE run_id = ?"
                if chunks  # the schema before mosaic-core 1.1 had a row per value
                else "SELECT COUNT(*) FROM metrics WHERE run_id = ?",
                (run_id,),
            )
            ((metric_events, metric_seqs),) = db.execute(
                "SELECT COUNT(*), COALESCE(SUM(seq), 0) FROM events"
                " WHERE run_id = ? AND event = 'metrics'",
                (run_id,),
            )
            ((anomalies,),) = db.execute(
                "SELECT COUNT(*) FROM anomalies WHERE run_id = ?", (run_id,)
            )
            for event, stamp in db.execute(
                "SELECT event, timestamp FROM events WHERE run_id = ?"
                " AND event IN ('run_started', 'run_completed')",
                (run_id,),
            ):
                if event == "run_started":
                    emitting[0] = min(emitting[0], stamp)
                else:
                    emitting[1] = max(emitting[1], stamp)
            with open(home / "runs" / run_id / "events.jsonl", "rb") as handle:
                lines = sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b""))
            in_db += counted
            on_disk += lines
            lifecycle = {0: "run_started", expected - 1: "run_completed"}
            rows_ok = (
                rows == lifecycle
                and metric_events in (0, events)
                and (metric_events == 0 or metric_seqs == sum(range(1, expected - 1)))
            )
            if counted != expected or next_seq != expected or not rows_ok:
                problems.append(
                    f"run {run_id}: {counted:,} events indexed up to seq {next_seq - 1}, "
                    f"expected seq 0..{expected - 1}; lifecycle rows {rows}"
                )
            if metric_rows != len(KEYS) * events:
                problems.append(
                    f"run {run_id}: {metric_rows:,} metric rows, expected {len(KEYS) * events:,}"
                )
            if lines != expected:
                problems.append(f"run {run_id}: {lines:,} lines in events.jsonl, not {expected:,}")
            if anomalies:
                problems.append(f"run {run_id}: {anomalies} anomalies recorded")
    finally:
        db.close()
    return {"problems": problems, "in_db": in_db, "on_disk": on_disk, "emitting": emitting}


def parse_ceiling(home: pathlib.Path, run_ids: list[str]) -> list[tuple[str, float]]:
    """CPU microseconds per line to parse every run's lines, bare: json.loads, and orjson
    where installed (what the supervisor decodes with then)."""
    lines = []
    for run_id in run_ids:
        lines.extend((home / "runs" / run_id / "events.jsonl").read_bytes().splitlines())
    out = []
    decoders: list[tuple[str, Any]] = [("json.loads", lambda b: json.loads(b.decode()))]
    try:
        import orjson

        decoders.append(("orjson.loads", orjson.loads))
    except ImportError:
        pass
    for name, loads in decoders:
        began = time.process_time()
        for line in lines:
            loads(line)
        out.append((name, (time.process_time() - began) / len(lines) * 1e6))
    return out


def store_sizes(home: pathlib.Path, run_ids: list[str]) -> dict[str, int]:
    """Bytes of mosaic.db (checkpointed into one file first) and of the runs' events.jsonl."""
    db = sqlite3.connect(home / "mosaic.db")
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    jsonl = sum((home / "runs" / r / "events.jsonl").stat().st_size for r in run_ids)
    return {"db": (home / "mosaic.db").stat().st_size, "jsonl": jsonl}


# -- 2. MLflow, the same metrics ------------------------------------------------------

MLFLOW_INIT = r"""
import sys, mlflow
mlflow.set_tracking_uri(sys.argv[1])
print(mlflow.MlflowClient().create_experiment("ingest-benchmark"))
"""
PHASES = ("batch", "step")


def _barrier(sync: pathlib.Path, phase: str) -> None:
    (sync / f"ready.{phase}.{os.getpid()}").touch()
    while not (sync / f"go.{phase}").exists():
        time.sleep(0.002)


def mlflow_writer(uri: str, steps: int, step_steps: int, sync: str) -> None:
    """Both phases in one process, each in its own MLflow run; prints one JSON line per phase."""
    import mlflow
    from mlflow.entities import Metric

    where = pathlib.Path(sync)
    while not (where / "experiment").exists():  # written once the store's schema exists
        time.sleep(0.01)
    experiment = (where / "experiment").read_text()
    mlflow.set_tracking_uri(uri)
    client = mlflow.MlflowClient()

    run_id = client.create_run(experiment).info.run_id
    _barrier(where, "batch")
    started = time.time()
    for first in range(0, steps, MLFLOW_BATCH_STEPS):
        now = int(time.time() * 1000)
        batch = [
            Metric(key, value, now, i)
            for i in range(first, min(first + MLFLOW_BATCH_STEPS, steps))
            for key, value in _values(i).items()
        ]
        client.log_batch(run_id, metrics=batch)
    ended = time.time()
    print(json.dumps({"phase": "batch", "run_id": run_id, "started": started, "ended": ended}))

    run_id = mlflow.start_run(experiment_id=experiment).info.run_id
    _barrier(where, "step")
    started = time.time()
    for i in range(step_steps):
        mlflow.log_metrics(_values(i), step=i)
    ended = time.time()
    mlflow.end_run()
    print(json.dumps({"phase": "step", "run_id": run_id, "started": started, "ended": ended}))


def run_mlflow(root: pathlib.Path, workers: int, steps: int, step_steps: int) -> dict[str, Any]:
    """``workers`` processes log into one SQLite store; per phase: seconds and rows per run."""
    root.mkdir()
    path = root / "mlflow.db"
    uri = f"sqlite:///{path}"
    command = [sys.executable, __file__, "--mlflow-writer", "--uri", uri, "--sync", str(root),
               "--events", str(steps), "--mlflow-step-events", str(step_steps)]  # fmt: skip
    procs = []
    for k in range(workers):  # stderr to a file: MLflow's logging must never fill a pipe
        with open(root / f"writer{k}.err", "w") as err:
            procs.append(
                subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err, text=True, cwd=root)
            )
    # While the writers import MLflow, the schema is made once, so that they do not race to
    # migrate it; they start when its experiment id is in the file "experiment".
    init = subprocess.run(
        [sys.executable, "-c", MLFLOW_INIT, uri], capture_output=True, text=True, cwd=root
    )
    if init.returncode:
        for proc in procs:
            proc.kill()
            proc.wait()
        return {"error": "creating the MLflow store failed: " + init.stderr.strip()[-800:]}
    (root / "experiment.tmp").write_text(init.stdout.split()[-1])
    (root / "experiment.tmp").rename(root / "experiment")
    for phase in PHASES:
        while len(list(root.glob(f"ready.{phase}.*"))) < workers:
            if any(p.poll() is not None for p in procs):
                break
            time.sleep(0.005)
        (root / f"go.{phase}").touch()
    windows: dict[str, list[dict[str, Any]]] = {phase: [] for phase in PHASES}
    for k, proc in enumerate(procs):
        out, _ = proc.communicate()
        if proc.returncode:
            for other in procs:
                other.kill()
                other.wait()
            err = (root / f"writer{k}.err").read_text(errors="replace").strip()
            return {"error": f"an MLflow writer exited {proc.returncode}: {err[-800:]}"}
        for line in out.splitlines():
            if line.startswith("{"):
                record = json.loads(line)
                windows[record["phase"]].append(record)
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = dict(db.execute("SELECT run_uuid, COUNT(*) FROM metrics GROUP BY run_uuid"))
    finally:
        db.close()
    return {
        phase: {
            "seconds": max(w["ended"] for w in runs) - min(w["started"] for w in runs),
            "rows": [rows.get(w["run_id"], 0) for w in runs],
        }
        for phase, runs in windows.items()
    }


def mlflow_distribution() -> str | None:
    for name in ("mlflow", "mlflow-skinny"):
        try:
            return f"{name} {version(name)}"
        except PackageNotFoundError:
            continue
    return None


# -- 3. mosaic run -> run_started -----------------------------------------------------

BARE_PROBE = "import time; print(repr(time.time()))"


def run_startup(home: pathlib.Path, runs: int) -> tuple[list[float], list[float], list[float], str]:
    """Milliseconds from Popen to run_started (mosaic run), to a bare interpreter's print,
    and the CPU time of each whole ``mosaic run`` (its processes: host, worker, git)."""
    env = dict(os.environ, MOSAIC_HOME=str(home))
    command = [sys.executable, "-m", "mosaic_core", "run", WORKER, "--json",
               "--set", "total_steps=1"]  # fmt: skip
    to_started, bare, cpu = [], [], []
    for _ in range(runs):
        launched = time.time()
        out = subprocess.run([sys.executable, "-c", BARE_PROBE], capture_output=True, text=True)
        bare.append((float(out.stdout) - launched) * 1e3)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        launched = time.time()
        done = subprocess.run(command, capture_output=True, text=True, env=env)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append((after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1e3)
        if done.returncode:
            error = f"mosaic run exited {done.returncode}: {done.stderr[-800:]}"
            return to_started, bare, cpu, error
        run_dir = pathlib.Path(json.loads(done.stdout)["run_dir"])
        with open(run_dir / "events.jsonl", "rb") as handle:
            first = json.loads(handle.readline())
        if first.get("event") != "run_started":
            error = f"the first event of {run_dir.name} is {first.get('event')}"
            return to_started, bare, cpu, error
        to_started.append((first["timestamp"] - launched) * 1e3)
    return to_started, bare, cpu, ""


def report_startup(home: pathlib.Path, runs: int) -> tuple[list[str], list[str]]:
    """Part 3; returns (problems, missed targets)."""
    print(f"\n3. mosaic run -> run_started of a trivial worker, median of {runs}")
    to_started, bare, cpu, error = run_startup(home, runs)
    if not to_started:
        return [error] if error else [], []
    median = statistics.median(to_started)
    ok = median <= TARGET_STARTUP_MS
    print(
        f"  Popen -> run_started{median:>13.0f} ms   target <= {TARGET_STARTUP_MS:.0f}  "
        f"{_mark(ok)}   (runs: {' '.join(f'{ms:.0f}' for ms in to_started)})"
    )
    print(f"  Popen -> bare python -c{statistics.median(bare):>10.0f} ms   (for scale)")
    print(
        f"  CPU of a whole mosaic run{statistics.median(cpu):>8.0f} ms   (host, worker and git "
        "together, to its exit: less moved by the load than the wall time)"
    )
    return [error] if error else [], [] if ok else [f"mosaic run -> run_started {median:.0f} ms"]


# -- the report -----------------------------------------------------------------------


def _mark(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report_mosaic(
    home: pathlib.Path, args: argparse.Namespace
) -> tuple[float, list[str], list[str]]:
    """Part 1; returns (metrics events indexed per second, lost, missed)."""
    w, n = args.workers, args.events
    print(f"\n1. MOSAIC supervisor: {w} workers emitting flat out, in parallel")
    run = run_mosaic(home, w, n, fork=not args.exec_workers)
    check = check_runs(home, run["run_ids"], n)
    lost = check["problems"] + [
        f"run {k} ended {v}" for k, v in run["statuses"].items() if v != "completed"
    ]
    missed = []
    launched = run["launched"]
    durable_s = run["last_exit"] - launched if run["last_exit"] else float("nan")
    indexed_s = run["indexed"] - launched
    for label, count, seconds, how in (
        ("durable", check["on_disk"], durable_s, "lines in events.jsonl, launch -> last exit"),
        ("indexed", check["in_db"], indexed_s, "events in mosaic.db, launch -> wait() returns"),
    ):
        rate = count / seconds
        ok = rate >= TARGET_RATE
        print(
            f"  {label:<9}{rate:>9,.0f} events/s  target >= {TARGET_RATE:,.0f}  {_mark(ok)}"
            f"   ({count:,} {how}: {seconds:.2f} s)"
        )
        if not ok:
            missed.append(f"{label} {rate:,.0f} events/s")
    first, last = check["emitting"]
    print(
        f"  emitting {check['on_disk'] / (last - first):>9,.0f} events/s"
        f"   (first run_started -> last run_completed: {last - first:.2f} s)"
    )
    print(f"  the index was complete {indexed_s - durable_s:.2f} s after the last worker exited")
    per_event = run["cpu"] / check["in_db"] * 1e6
    ok = per_event <= TARGET_CPU_US
    print(
        f"  supervisor CPU {per_event:>6.1f} us/event  target <= {TARGET_CPU_US:.1f} (half of"
        f" the 18-20 us before)  {_mark(ok)}   ({run['cpu']:.2f} s of CPU in this process)"
    )
    if not ok:
        missed.append(f"supervisor CPU {per_event:.1f} us/event")
    if run["sched"] is not None:
        on_cpu, waiting = run["sched"]
        print(
            f"  the supervisor's thread, of the {indexed_s:.2f} s: "
            f"on a CPU {on_cpu / indexed_s:.0%},"
            f" runnable but waiting for one {waiting / indexed_s:.0%}, asleep the rest"
            f" ({per_event:.1f} us/event on a CPU of its own would be"
            f" {1e6 / per_event:,.0f} events/s)"
        )
    ceiling = parse_ceiling(home, run["run_ids"])
    print(
        "  the ceiling, bare parsing of the same lines in one process: "
        + ", ".join(f"{name} {us:.2f} us/event ({1e6 / us:,.0f}/s)" for name, us in ceiling)
    )
    lags = sorted(run["lags"])
    if lags:
        median, p99 = statistics.median(lags), lags[min(len(lags) - 1, int(len(lags) * 0.99))]
        ok = median < TARGET_LAG_MEDIAN and p99 < TARGET_LAG_P99
        print(
            f"  lag, appended -> queryable: median {median * 1e3:.0f} ms, p99 {p99 * 1e3:.0f} ms"
            f"  target < {TARGET_LAG_MEDIAN * 1e3:.0f} ms, < {TARGET_LAG_P99 * 1e3:.0f} ms"
            f"  {_mark(ok)}   ({len(lags)} probes, a process of their own:"
            f" {run['probe_cpu']:.2f} s of CPU)"
        )
        if not ok:
            missed.append(f"lag median {median * 1e3:.0f} ms, p99 {p99 * 1e3:.0f} ms")
    sizes = store_sizes(home, run["run_ids"])
    print(
        f"  size per metrics event: mosaic.db {sizes['db'] / check['in_db']:.0f} bytes,"
        f" events.jsonl {sizes['jsonl'] / check['on_disk']:.0f} bytes"
    )
    if args.alone_events:
        alone = run_mosaic(home, 1, args.alone_events, fork=not args.exec_workers)
        alone_check = check_runs(home, alone["run_ids"], args.alone_events)
        lost += alone_check["problems"] + [
            f"run {k} ended {v}" for k, v in alone["statuses"].items() if v != "completed"
        ]
        seconds = alone["indexed"] - alone["launched"]
        print(
            f"  one worker alone{alone_check['in_db'] / seconds:>9,.0f} events/s indexed"
            f"   ({alone_check['in_db']:,} events in {seconds:.2f} s: the worker writes while"
            " the supervisor indexes, each on a core)"
        )
    expected = n + LIFECYCLE
    if not check["problems"]:
        print(
            f"  none lost: each of {w} runs has seq 0..{expected - 1} in mosaic.db "
            f"({n:,} metrics + {LIFECYCLE} lifecycle), {len(KEYS) * n:,} metric rows and "
            f"{expected:,} lines in events.jsonl, no anomaly  PASS"
        )
    else:
        print("  events lost  FAIL")
    return w * n / indexed_s, lost, missed


def report_mlflow(root: pathlib.Path, args: argparse.Namespace, mosaic_rate: float) -> list[str]:
    """Part 2; returns problems with MLflow's own counts."""
    w, n, m = args.workers, args.events, args.mlflow_step_events
    print(f"\n2. MLflow tracking API, same metrics: {w} processes x {n:,} steps x {len(KEYS)} keys")
    dist = mlflow_distribution()
    if args.no_mlflow:
        print("  skipped (--no-mlflow): no MLflow numbers")
        return []
    if dist is None:
        print(f"  MLflow is not installed here: no MLflow numbers ({MLFLOW_INSTALL})")
        return []
    print(f"  {dist}, SQLite store, one MLflow run per process, clock from a common start")
    result = run_mlflow(root / "mlflow", w, n, m)
    if "error" in result:
        print(f"  MLflow could not run here, so no MLflow numbers: {result['error']}")
        return []
    problems = []
    batch, step = result["batch"], result["step"]
    rate = w * n / batch["seconds"]
    ok = all(r == len(KEYS) * n for r in batch["rows"])
    print(
        f"  MlflowClient.log_batch, {MLFLOW_BATCH_STEPS * len(KEYS)} metrics per call "
        f"{rate:>9,.0f} steps/s   ({w * n:,} steps in {batch['seconds']:.2f} s; "
        f"{len(KEYS) * n:,} metric rows in each run {_mark(ok)})"
    )
    if not ok:
        problems.append(f"MLflow log_batch stored {batch['rows']} metric rows per run")
    print(
        f"  MOSAIC indexed / MLflow log_batch: {mosaic_rate / rate:.1f}x   (MOSAIC "
        f"{mosaic_rate:,.0f} metrics events/s timed from process launch, MLflow from after "
        "import and create_run)"
    )
    rate = w * m / step["seconds"]
    print(
        f"  mlflow.log_metrics, one call per step, {m} steps per run only "
        f"{rate:>9,.0f} steps/s   ({w * m:,} steps in {step['seconds']:.2f} s)"
    )
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000, help="metrics events per worker")
    parser.add_argument("--workers", type=int, default=8, help="worker processes at once")
    parser.add_argument(
        "--mlflow-step-events", type=int, default=30, help="steps per run for mlflow.log_metrics"
    )
    parser.add_argument("--startup-runs", type=int, default=5)
    parser.add_argument(
        "--alone-events",
        type=int,
        default=100_000,
        help="part 1: then one worker alone, this many events (0: skip)",
    )
    parser.add_argument(
        "--exec-workers",
        action="store_true",
        help="part 1: execute the workers' commands instead of forking as mosaic run does",
    )
    parser.add_argument("--no-mlflow", action="store_true", help="skip part 2")
    parser.add_argument("--startup-only", action="store_true", help="part 3 alone")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--strict", action="store_true", help="exit 1 on a missed target")
    parser.add_argument("--mlflow-writer", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--uri", help=argparse.SUPPRESS)
    parser.add_argument("--sync", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mlflow_writer:
        mlflow_writer(args.uri, args.events, args.mlflow_step_events, args.sync)
        return 0

    what = (
        "part 3 alone"
        if args.startup_only
        else f"{args.workers} workers x {args.events:,} metrics events ({len(KEYS)} values each)"
    )
    print(
        f"ingest benchmark: {what}\n"
        f"python {platform.python_version()}, {os.cpu_count()} CPUs, load {_load()}"
    )
    began = time.monotonic()
    root = pathlib.Path(tempfile.mkdtemp(prefix="mosaic-ingest-"))
    try:
        install_worker(root)
        home = root / "mosaic-home"
        os.environ["MOSAIC_HOME"] = str(home)
        lost: list[str] = []
        missed: list[str] = []
        if not args.startup_only:
            rate, lost, missed = report_mosaic(home, args)
            lost += report_mlflow(root, args, rate)
        problems, slow = report_startup(home, args.startup_runs)
        lost += problems
        missed += slow
    finally:
        if args.keep:
            print(f"\nkept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)

    print(f"\ntook {time.monotonic() - began:.0f} s; load at the end {_load()}")
    for problem in lost:
        print(f"LOST EVENTS: {problem}")
    if not lost and not args.startup_only:
        print("events: every event of every run is on disk and in the index, in order")
    if missed:
        print(
            f"targets missed: {'; '.join(missed)}"
            + ("" if args.strict else " (reported only; --strict fails on them)")
        )
    return 1 if lost or (args.strict and missed) else 0


if __name__ == "__main__":
    sys.exit(main())

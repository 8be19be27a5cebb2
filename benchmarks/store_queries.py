"""Reading the run store back: ``mosaic runs`` over many runs, and one long curve.

1. ``--runs`` runs (10,000) in a real store, each made by ``RunStore.create_run``
   with ``--points-per-run`` metrics events of its headline key written to its
   ``events.jsonl`` and indexed from there, then marked completed. Timed: the
   wall time of ``mosaic runs`` (the CLI, a fresh process, its table printed to
   a pipe), median of ``--repeat``, beside a bare ``python -c`` for scale; and,
   each in a fresh process doing what the command does, its part in process:
   opening the store (and reconciling), the rows with their headline metric
   (``run_columns``, or ``run_table`` in a version without it) and the table's
   text printed, apart from the interpreter's start, imports and parser.
2. One run with ``--points`` (1,000,000) points of one key, indexed as the
   supervisor does (``RunStore.ingest`` of parsed lines, 1 MiB at a time).
   Timed, median of ``--repeat``, in this process: the whole curve read back
   as arrays (``RunStore.metric_series``), the same as ``{"step", "value", ...}``
   dicts (``RunStore.metrics``), and read and downsampled to 2,000 points
   (``mosaic_core.query.run_curves(points=2000)``, what ``mosaic plot`` and a
   web front end ask for).

    python benchmarks/store_queries.py [--runs N] [--points N] [--strict]
    python benchmarks/store_queries.py --against OTHER/packages/mosaic-core/src

The store is built in a temporary directory first (about a minute for 10,000
runs); the times are reported with the machine's load. ``--against SRC`` times
part 1 with the ``mosaic_core`` sources in SRC too (a checkout of another
commit), the two alternating on the same store, and prints both. The commands
run with their bytecode cached, as an installed package has it.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

KEY = "charts/episodic_return"
TARGET_RUNS_MS = 200.0
TARGET_CURVE_MS = 100.0


def _load() -> str:
    return f"{os.getloadavg()[0]:.2f}"


def _line(run_id: str, seq: int, step: int, value: float) -> str:
    return json.dumps(
        {"v": 1, "event": "metrics", "run_id": run_id, "seq": seq, "timestamp": 1e9 + seq,
         "payload": {"step": step, "values": {KEY: value}}},
        separators=(",", ":"),
    )  # fmt: skip


def build_runs(home: pathlib.Path, runs: int, points: int) -> None:
    from mosaic_core.runs import RunStore

    with RunStore(home) as store:
        for n in range(runs):
            run_id = f"run{n:06d}"
            store.create_run(
                run_id, "bench", {"algorithm": "ppo", "env_id": "CartPole-v1", "seed": n % 10},
                headline_metric=KEY,
            )  # fmt: skip
            lines = [_line(run_id, i, i * 100, (n + i) % 500 * 0.5) for i in range(points)]
            (store.run_dir(run_id) / "events.jsonl").write_text("\n".join(lines) + "\n")
            store.catch_up(run_id, final=True)
            store.update(run_id, status="completed", ended_at=time.time())


def build_curve(home: pathlib.Path, points: int) -> str:
    """One run with ``points`` metrics events of one key, written and indexed as a
    supervisor would: appended to events.jsonl, parsed and ingested 1 MiB at a time."""
    from mosaic_core.runs import RunStore, TelemetryReader

    run_id = "long-curve"
    with RunStore(home) as store:
        store.create_run(run_id, "bench", {})
        path = store.run_dir(run_id) / "events.jsonl"
        with path.open("w") as handle:
            for i in range(points):
                handle.write(_line(run_id, i, i * 10, (i % 1000) * 0.25 - (i % 7)) + "\n")
        reader = TelemetryReader(expected_run_id=run_id)
        offset = 0
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                items = reader.feed(chunk)
                offset += len(chunk)
                store.ingest(run_id, items, offset - reader.buffered, reader.next_seq)
    return run_id


# What `mosaic runs` does once its imports are done, timed in a fresh process: the rest of
# its wall time is the interpreter's start, the imports and the parser.
_IN_PROCESS = r"""
import contextlib, json, sys, time
from mosaic_core.cli import results
from mosaic_core.cli.stores import open_store
from mosaic_core.query import table
# As the command of either version does it: with the collector paused, the table made of
# run_columns where there is one, else of run_table's rows.
try:
    from mosaic_core._gc import collector_paused as paused
except ImportError:  # a version without the pause
    paused = contextlib.nullcontext
columns = getattr(table, "run_columns", None)
began = time.perf_counter()
with paused(), open_store(write=False, reconciled=True) as store:
    opened = time.perf_counter()
    made = columns(store) if columns else table.run_table(store, details=False)
    tabled = time.perf_counter()
    text = results._table_text if columns else results.runs_text
    print(text(made, None, "tail"), flush=True)
done = time.perf_counter()
times = {"open": opened - began, "table": tabled - opened, "text": done - tabled}
print(json.dumps({k: v * 1e3 for k, v in times.items()}), file=sys.stderr)
"""


def _in_process(env: dict[str, str]) -> dict[str, float]:
    """The in-process phases of ``mosaic runs``, once (see ``_IN_PROCESS``)."""
    done = subprocess.run([sys.executable, "-c", _IN_PROCESS], capture_output=True,
                          text=True, env=env, check=True)  # fmt: skip
    return dict(json.loads(done.stderr.splitlines()[-1]))


def _listing(versions: dict[str, dict[str, str]], repeat: int) -> dict[str, dict[str, Any]]:
    """Per version (its environment): the wall times of ``mosaic runs`` and its in-process
    phases, ``repeat`` of each, the versions alternating; and its last output."""
    command = [sys.executable, "-m", "mosaic_core", "runs"]
    found: dict[str, dict[str, Any]] = {name: {"wall": [], "phases": {}} for name in versions}
    for env in versions.values():  # warm the caches (and write each version's bytecode)
        subprocess.run(command, capture_output=True, env=env, check=True)
    for turn in range(repeat):
        names = list(versions) if turn % 2 == 0 else list(reversed(versions))
        for name in names:
            began = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, env=versions[name],
                                  check=True)  # fmt: skip
            found[name]["wall"].append((time.perf_counter() - began) * 1e3)
            found[name]["out"] = done.stdout
            for phase, ms in _in_process(versions[name]).items():
                found[name]["phases"].setdefault(phase, []).append(ms)
    return found


def _median_ms(func: Any, repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        result = func()
        times.append((time.perf_counter() - began) * 1e3)
    return statistics.median(times), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--points-per-run", type=int, default=20)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument(
        "--against", metavar="SRC",
        help="time part 1 with the mosaic_core sources in SRC too, alternating with these",
    )  # fmt: skip
    parser.add_argument("--strict", action="store_true", help="exit 1 on a missed target")
    args = parser.parse_args()
    print(
        f"store queries: {args.runs:,} runs; one curve of {args.points:,} points\n"
        f"python {platform.python_version()}, {os.cpu_count()} CPUs, load {_load()}"
    )
    root = pathlib.Path(tempfile.mkdtemp(prefix="mosaic-queries-"))
    missed = []
    try:
        home = root / "home"
        # Bytecode written once and read after, as an installed package has it: not each
        # command compiling every module it imports.
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["MOSAIC_HOME"] = str(home)
        versions = {"this": env}
        if args.against:
            versions[args.against] = dict(env, PYTHONPATH=args.against)
        began = time.monotonic()
        build_runs(home, args.runs, args.points_per_run)
        print(
            f"\n1. mosaic runs over {args.runs:,} runs (built in {time.monotonic() - began:.0f} s)"
        )
        bare, _ = _median_ms(
            lambda: subprocess.run([sys.executable, "-c", "pass"], check=True), args.repeat
        )
        found = _listing(versions, args.repeat)
        for name, times in found.items():
            wall = statistics.median(times["wall"])
            rows = len(times["out"].splitlines()) - 1
            phases = {phase: statistics.median(ms) for phase, ms in times["phases"].items()}
            inside = sum(phases.values())
            ok = wall < TARGET_RUNS_MS and rows == args.runs
            if len(versions) > 1:
                print(f"  {name}:")
            print(
                f"  mosaic runs {wall:>8.0f} ms  target < {TARGET_RUNS_MS:.0f}  "
                f"{'PASS' if ok else 'FAIL'}   ({rows:,} rows printed; bare python -c "
                f"{bare:.0f} ms)"
            )
            print(
                f"    in process {inside:>5.0f} ms: open the store {phases['open']:.0f}, the rows "
                f"{phases['table']:.0f}, the table's text printed {phases['text']:.0f}; the rest "
                f"(interpreter, imports, parser) {wall - inside:.0f} ms   (load {_load()})"
            )
            if not ok and name == "this":
                missed.append(f"mosaic runs {wall:.0f} ms")
        if args.against:
            this, other = (statistics.median(found[n]["wall"]) for n in versions)
            print(f"  this / {args.against}: {this / other:.2f}")

        from mosaic_core.query import run_curves
        from mosaic_core.runs import RunStore

        began = time.monotonic()
        run_id = build_curve(home, args.points)
        built = time.monotonic() - began
        print(f"\n2. one curve of {args.points:,} points (indexed in {built:.0f} s)")
        with RunStore(home) as store:
            cases = [
                ("read all, arrays (RunStore.metric_series)",
                 lambda: len(store.metric_series(run_id, KEY)), True),
                ("read all, dicts (RunStore.metrics)",
                 lambda: len(store.metrics(run_id, KEY)), False),
                ("read all and downsample to 2,000 (run_curves)",
                 lambda: run_curves(store, [run_id], [KEY], points=2000)[0]["count"], True),
            ]  # fmt: skip
            for label, func, targeted in cases:
                ms, count = _median_ms(func, args.repeat)
                ok = ms < TARGET_CURVE_MS and count == args.points
                mark = (f"target < {TARGET_CURVE_MS:.0f}  {'PASS' if ok else 'FAIL'}"
                        if targeted else "(for scale)")  # fmt: skip
                print(f"  {label:<48}{ms:>8.0f} ms  {mark}   ({count:,} points)")
                if targeted and not ok:
                    missed.append(f"{label} {ms:.0f} ms")
        size = (home / "mosaic.db").stat().st_size
        print(f"\n  mosaic.db {size / 1e6:.1f} MB for both parts")
    finally:
        if args.keep:
            print(f"\nkept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    print(f"\nload at the end {_load()}")
    if missed:
        print(f"targets missed: {'; '.join(missed)}")
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())

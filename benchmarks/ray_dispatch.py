"""Runs sent to a Ray cluster: dispatch overhead beside the local launcher, and the relay's
throughput home, measured side by side in one run.

The cluster is this machine's own: ``ray.cluster_utils.Cluster`` on
127.0.0.1, a head that runs nothing and two nodes of 2 CPUs, everything in
a private temporary directory, removed at the end. The worker is the ingest
benchmark's flood worker (``_flood_worker.py``, installed as a distribution
on this machine and on the nodes).

1. **Dispatch**: ``mosaic run bench-flood --set total_steps=1 --json`` as a
   user types it (a fresh process), from ``Popen`` to the run's
   ``run_started`` timestamp, local and ``--launcher ray`` alternating,
   ``--rounds`` times each; then a sweep of ``--sweep`` runs (``--seeds``)
   each way, every run from the command's start to its ``run_started``.
2. **Relay**: ``--runs`` runs, each flooding ``--events`` metrics events as
   fast as the emitter takes them, under the real supervisor in this
   process, sent to the cluster and then, the same runs, run here with the
   local launcher, side by side: *emitted* events/s (the workers' own pace,
   first ``run_started`` to last ``run_completed``), *home, flooding* events/s
   (lines in the runs' ``events.jsonl`` at home, first ``run_started`` to the
   last line home), *indexed* events/s (in ``mosaic.db`` when ``wait()``
   returns) and how long after the last ``run_completed`` the last line was
   home. While the runs flood, the workers' pace bounds what arrives, so the
   relay's own throughput is measured apart: the same runs flood to their
   end on the nodes first, and are then brought home, timed (target >=
   50,000 events/s). Every run is checked whole (``seq`` 0..n-1 indexed, n
   lines).
3. The machine's load (1-minute average) before and after, and its CPUs.

    python benchmarks/ray_dispatch.py [--events N] [--runs R] [--strict]

Needs mosaic-core, mosaic-ray-launcher (Ray 2.58) installed: ``tox exec -e
mosaic-ray-launcher -- python ../../benchmarks/ray_dispatch.py``. The exit
status is 1 when an event was lost; a missed target prints FAIL, and exits
1 only with ``--strict``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pathlib
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import ingest  # noqa: E402 - the flood worker's installer and the run checks

TARGET_HOME_RATE = 50_000.0
RAY_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0",
           "RAY_AUTH_MODE": "disabled", "OMP_NUM_THREADS": "1"}  # fmt: skip


def load() -> str:
    return f"{os.getloadavg()[0]:.2f}"


@contextlib.contextmanager
def cluster(root: pathlib.Path) -> Iterator[str]:
    """A head and two nodes of 2 CPUs on 127.0.0.1; yields its address."""
    # Before Ray is imported: it reads RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER then, and without
    # it swaps 127.0.0.1 for the machine's external address.
    os.environ.update(RAY_ENV, RAY_TMPDIR=str(root / "ray"))
    (root / "ray").mkdir()
    from ray.cluster_utils import Cluster

    made = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 0, "node_ip_address": "127.0.0.1", "include_dashboard": False,
        "object_store_memory": 80 * 2**20,
    })  # fmt: skip
    try:
        for name in ("node_a", "node_b"):
            made.add_node(num_cpus=2, resources={name: 100}, node_ip_address="127.0.0.1",
                          object_store_memory=80 * 2**20)  # fmt: skip
        yield str(made.address)
    finally:
        made.shutdown()


# -- 1. dispatch ---------------------------------------------------------------------------


def started_after(home: pathlib.Path, args: list[str]) -> tuple[float, list[float]]:
    """Run ``mosaic run ARGS --json``; seconds from Popen to each run's run_started."""
    env = {**os.environ, "MOSAIC_HOME": str(home)}
    began = time.time()
    command = [sys.executable, "-m", "mosaic_core", "run", ingest.WORKER, "--json", *args]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"mosaic run {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    data = json.loads(done.stdout)
    runs = data.get("runs", [data])
    times = []
    for run in runs:
        first = (pathlib.Path(run["run_dir"]) / "events.jsonl").open().readline()
        times.append(json.loads(first)["timestamp"] - began)
    return began, sorted(times)


def dispatch(root: pathlib.Path, ray: list[str], rounds: int, sweep: int) -> dict[str, Any]:
    one = ["--set", "total_steps=1"]
    singles: dict[str, list[float]] = {"local": [], "ray": []}
    for i in range(rounds):
        for name in ("local", "ray") if i % 2 == 0 else ("ray", "local"):
            extra = ray if name == "ray" else []
            singles[name] += started_after(root / f"home-{name}", [*one, *extra])[1]
    seeds = ",".join(str(s) for s in range(1, sweep + 1))
    sweeps = {name: started_after(root / f"home-{name}", [*one, "--seeds", seeds,
                                  *(ray if name == "ray" else [])])[1]
              for name in ("local", "ray")}  # fmt: skip
    return {"single": singles, "sweep": sweeps}


# -- 2. relay ------------------------------------------------------------------------------


def lines_home(home: pathlib.Path, run_ids: list[str]) -> int:
    return sum((home / "runs" / r / "events.jsonl").read_bytes().count(b"\n") for r in run_ids)


def flood(home: pathlib.Path, launcher: str, options: dict[str, Any], runs: int, events: int
          ) -> dict[str, Any]:  # fmt: skip
    """The runs under the real supervisor, sent by ``launcher``: when they emitted (their
    first run_started, last run_completed), when the last line was home and when it was
    indexed, and the proof of none lost."""
    from mosaic_core.plugins import discover_workers
    from mosaic_core.runs import RunStore, Supervisor, prepare_runs

    store = RunStore(home)
    spec = discover_workers(load=[ingest.WORKER]).runnable(ingest.WORKER)
    prepared = prepare_runs(store, ingest.WORKER, spec, {"total_steps": events},
                            seeds=range(1, runs + 1), launcher=launcher,
                            launcher_options=options)  # fmt: skip
    supervisor = Supervisor(store, parallel=runs)
    for run in prepared:
        supervisor.submit(run.launch)
    launched = time.time()
    results = supervisor.wait()
    indexed = time.time()
    run_ids = [run.run_id for run in prepared]
    last_home = max((store.run_dir(r) / "events.jsonl").stat().st_mtime for r in run_ids)
    store.close()
    check = ingest.check_runs(home, run_ids, events)
    first_started, last_completed = check["emitting"]
    count = lines_home(home, run_ids)
    return {"launched": launched, "indexed": indexed, "last_home": last_home,
            "first_started": first_started, "last_completed": last_completed,
            "statuses": [results[r].status for r in run_ids], "problems": check["problems"],
            "events": count,
            "home_rate": count / (last_home - first_started),
            "emit_rate": count / (last_completed - first_started),
            "indexed_rate": count / (indexed - first_started),
            "lag": last_home - last_completed}  # fmt: skip


def relay_alone(home: pathlib.Path, options: dict[str, Any], runs: int, events: int
                ) -> dict[str, Any]:  # fmt: skip
    """The same runs flood to their end on the nodes, then come home: the relay alone."""
    from mosaic_core.plugins import discover_workers
    from mosaic_core.runs import RunStore, prepare_runs
    from mosaic_core.runs.local import worker_variables
    from mosaic_ray_launcher.launcher import RayLauncher

    store = RunStore(home)
    spec = discover_workers(load=[ingest.WORKER]).runnable(ingest.WORKER)
    prepared = prepare_runs(store, ingest.WORKER, spec, {"total_steps": events},
                            seeds=range(1, runs + 1), launcher="ray",
                            launcher_options=options)  # fmt: skip
    launcher = RayLauncher(relay_thread=False)  # nothing comes home before it is timed
    started = []
    for run in prepared:
        run_dir = store.run_dir(run.run_id)
        variables = worker_variables(run.launch, run_dir, store.home, None)
        started.append(launcher.start(run.launch, run_dir, variables))
    while not all(r.started for r in started):  # placed, nothing relayed yet
        for r in started:
            if not r.started:
                r.pump()
        time.sleep(0.01)
    for r in started:  # every run floods to its end on its node
        while not (pathlib.Path(r.placement["node_run_dir"]) / "exit.json").exists():
            time.sleep(0.05)
    began = time.time()
    while any(r.poll() is None for r in started):
        for r in started:
            r.pump()
    took = time.time() - began
    launcher.close()
    run_ids = [run.run_id for run in prepared]
    count = lines_home(home, run_ids)
    store.close()
    return {"events": count, "seconds": took, "expected": runs * (events + ingest.LIFECYCLE)}


# -- report ------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="per flooding run")
    parser.add_argument("--runs", type=int, default=4, help="remote runs flooding at once")
    parser.add_argument("--rounds", type=int, default=5, help="single dispatches each way")
    parser.add_argument("--sweep", type=int, default=8, help="runs in the dispatched sweep")
    parser.add_argument("--strict", action="store_true", help="exit 1 on a missed target")
    args = parser.parse_args()
    # SIGTERM (a timeout, a kill) unwinds like Ctrl-C: the cluster is shut down on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    root = pathlib.Path(tempfile.mkdtemp(prefix="mrb-", dir="/tmp"))  # short: Ray's sockets
    load_before = load()
    try:
        ingest.install_worker(root)
        with cluster(root) as address:
            from mosaic_core.plugins import discover_workers
            from mosaic_ray_launcher.plugin import check

            node_dir = str(root / "nodes")
            ray = ["--launcher", "ray", "--address", address, "--launcher-option",
                   f"node_dir={node_dir}"]  # fmt: skip
            spec = discover_workers(load=[ingest.WORKER]).runnable(ingest.WORKER)
            options = check({"address": address, "node_dir": node_dir}, spec.capabilities)
            timed = dispatch(root, ray, args.rounds, args.sweep)
            flooded = {
                "ray": flood(root / "home-flood-ray", "ray", options, args.runs, args.events),
                "local": flood(root / "home-flood-local", "local", {}, args.runs, args.events),
            }
            alone = relay_alone(root / "home-alone", options, args.runs, args.events)
    finally:
        load_after = load()
        shutil.rmtree(root, ignore_errors=True)

    print(f"machine: {os.cpu_count()} CPUs, load {load_before} before, {load_after} after; "
          f"cluster: head + 2 nodes of 2 CPUs on 127.0.0.1")  # fmt: skip
    print("\n1. dispatch: `mosaic run` to the run's run_started (a fresh process each time)")
    single = {k: statistics.median(v) for k, v in timed["single"].items()}
    print(f"   one run, median of {args.rounds}:  local {single['local']:.2f} s   "
          f"ray {single['ray']:.2f} s   (+{single['ray'] - single['local']:.2f} s, "
          f"x{single['ray'] / single['local']:.2f})")  # fmt: skip
    for name, times in timed["sweep"].items():
        print(f"   sweep of {args.sweep}, {name:>5}: median {statistics.median(times):.2f} s, "
              f"last {max(times):.2f} s")  # fmt: skip

    total = args.runs * (args.events + ingest.LIFECYCLE)
    ray, local = flooded["ray"], flooded["local"]
    alone_rate = alone["events"] / alone["seconds"]
    verdict = "ok" if alone_rate >= TARGET_HOME_RATE else "FAIL"
    keeps_up = ray["home_rate"] / local["home_rate"]
    print(f"\n2. relay: {args.runs} runs x {args.events:,} metrics events ({total:,} events), "
          "the same runs sent to the cluster and run here")  # fmt: skip
    print(f"   {'':28}{'ray':>10}{'local':>10}")
    rows = [("emitted (workers)", "emit_rate"), ("home, flooding", "home_rate"),
            ("indexed", "indexed_rate")]  # fmt: skip
    for label, key in rows:
        print(f"   {label + ' events/s':28}{ray[key]:>10,.0f}{local[key]:>10,.0f}")
    print(f"   {'last line home after (s)':28}{ray['lag']:>10.2f}{local['lag']:>10.2f}"
          "   (after the last run_completed)")  # fmt: skip
    print(f"   home while flooding, ray / local: x{keeps_up:.2f} (from the first run_started; "
          "the workers' emitting bounds both)")  # fmt: skip
    print(
        f"   relay alone {alone_rate:>10,.0f} events/s   (target >= {TARGET_HOME_RATE:,.0f}: "
        f"{verdict}; {args.runs} runs flooded to their end on the nodes, then "
        f"{alone['events']:,} events home in {alone['seconds']:.2f} s)"
    )
    lost = ray["problems"] + local["problems"] + (
        [] if alone["events"] == alone["expected"] else
        [f"relay alone: {alone['events']} of {alone['expected']} events home"]
    )  # fmt: skip
    for name, flood_ in flooded.items():
        if any(s != "completed" for s in flood_["statuses"]):
            lost.append(f"{name} statuses: {flood_['statuses']}")
    print(f"   none lost: {'yes' if not lost else 'NO: ' + '; '.join(lost)}")
    if lost:
        return 1
    return 1 if args.strict and verdict == "FAIL" else 0


if __name__ == "__main__":
    sys.exit(main())

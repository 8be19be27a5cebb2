"""How PPO's throughput scales with RLlib env runners, and what the ray worker costs.

For 0, 1 and 2 env runners, PPO trains on CartPole twice, alternating:

- ``mosaic``: ``mosaic run ray`` (supervisor, worker process, telemetry, TensorBoard, the
  final checkpoint), throughput read from its metrics events;
- ``direct``: the very same ``AlgorithmConfig`` (built by the worker's own translation,
  with RLlib's default callbacks instead of MOSAIC's) driven by a plain loop of
  ``algo.train()`` on a local Ray started with the same settings.

Throughput is steady-state env steps per second: the median over iterations of env steps
per second between consecutive iterations' ends (Ray's start and the first iteration's
warm-up excluded, one iteration slowed by other work on the machine discounted); wall time
is the whole command. Printed: each throughput, the scaling of each runner count against 0
runners, and mosaic/direct ratios (target: mosaic >= 0.95 x direct in steady state).
On a 2-core machine two env runners and the learner share two cores, so more runners
need not mean more steps per second: the numbers say what this machine does.

    python benchmarks/ray_scaling.py [--runners 0,1,2] [--iterations 10] [--batch 1000]
        [--rounds 3] [--strict]

Needs mosaic-core and the ray worker installed: ``python3 -m tox exec -e ray-worker --
python ../../benchmarks/ray_scaling.py`` (tox runs it in packages/ray-worker).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET = 0.95


def fields(runners: int, iterations: int, batch: int) -> dict[str, Any]:
    return {
        "algorithm": "ppo",
        "env_id": "CartPole-v1",
        "total_steps": iterations * batch,
        "num_env_runners": runners,
        "train_batch_size_per_learner": batch,
        "minibatch_size": 128,
        "num_epochs": 2,
        "seed": 1,
        "object_store_memory_mb": 256,
    }


def steady(points: list[tuple[float, int]]) -> float:
    """The median over iterations after the first of env steps per second, from the times
    at which consecutive iterations ended (robust to one iteration slowed by other work)."""
    rates = [(s1 - s0) / (t1 - t0) for (t0, s0), (t1, s1) in itertools.pairwise(points) if t1 > t0]
    return statistics.median(rates) if rates else float("nan")


def through_mosaic(config: dict[str, Any], home: Path) -> tuple[float, float]:
    """``mosaic run ray``: (steady env steps/s, wall seconds)."""
    command = [sys.executable, "-m", "mosaic_core", "run", "ray", "--json"]
    for key, value in config.items():
        command += ["--set", f"{key}={json.dumps(value)}"]
    started = time.perf_counter()
    done = subprocess.run(command, env={**os.environ, "MOSAIC_HOME": str(home)},
                          capture_output=True, text=True)  # fmt: skip
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"mosaic run failed ({done.returncode}):\n{done.stdout}\n{done.stderr[-3000:]}")
    run_dir = Path(json.loads(done.stdout)["run_dir"])
    points = []
    for line in (run_dir / "events.jsonl").read_text().splitlines():
        event = json.loads(line)
        if event["event"] == "metrics":
            points.append((event["timestamp"], event["payload"]["step"]))
    return steady(points), wall


def direct(config: dict[str, Any]) -> tuple[float, float]:
    """The same AlgorithmConfig in a plain driver process: (steady env steps/s, wall seconds)."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, "--drive", json.dumps(config)],
                          capture_output=True, text=True)  # fmt: skip
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"the direct driver failed ({done.returncode}):\n{done.stderr[-3000:]}")
    points = [tuple(p) for p in json.loads(done.stdout.strip().splitlines()[-1])]
    return steady(points), wall  # type: ignore[arg-type]


def drive(document: str) -> None:
    """Child process: build the worker's AlgorithmConfig, train with a bare loop."""
    from mosaic_ray.cluster import prepare_environment, temp_dir_for
    from mosaic_ray.config import RayConfig

    config = RayConfig.from_dict({"run_id": f"direct{os.getpid()}", **json.loads(document)})
    prepare_environment(config)  # the same OMP_NUM_THREADS, usage stats and loopback settings
    import ray
    from ray.rllib.callbacks.callbacks import RLlibCallback

    from mosaic_ray.translate import plan

    made = plan(config)
    made.algo_config.callbacks(RLlibCallback)  # RLlib's own no-op callbacks
    temp_dir = temp_dir_for(config.run_id)
    ray.init(address="local", num_cpus=max(os.cpu_count() or 1, made.cpus_needed),
             object_store_memory=config.object_store_memory_mb * 1024 * 1024,
             include_dashboard=False, _temp_dir=temp_dir)  # fmt: skip
    try:
        algo = made.algo_config.build_algo()
        points = []
        while not points or points[-1][1] < config.total_steps:
            result = algo.train()
            points.append((time.time(), int(result["num_env_steps_sampled_lifetime"])))
        algo.stop()
    finally:
        ray.shutdown()
        import shutil

        shutil.rmtree(temp_dir, ignore_errors=True)
    print(json.dumps(points))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runners", default="0,1,2")
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--strict", action="store_true")
    parser.add_argument("--drive", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drive:
        drive(args.drive)
        return 0

    runners = [int(n) for n in args.runners.split(",")]
    rows: dict[int, dict[str, list[float]]] = {n: {} for n in runners}
    with tempfile.TemporaryDirectory(prefix="ray-scaling-") as home:
        for round_ in range(args.rounds):
            for n in runners:
                config = fields(n, args.iterations, args.batch)
                order = ("direct", "mosaic") if (round_ + n) % 2 == 0 else ("mosaic", "direct")
                for who in order:
                    rate, wall = (
                        direct(config) if who == "direct" else through_mosaic(config, Path(home))
                    )
                    rows[n].setdefault(f"{who}_rate", []).append(rate)
                    rows[n].setdefault(f"{who}_wall", []).append(wall)
                    print(f"  runners={n} {who:6s} {rate:8.0f} env steps/s  {wall:6.1f} s wall",
                          flush=True)  # fmt: skip

    def median(n: int, key: str) -> float:
        return statistics.median(rows[n][key])

    base = median(runners[0], "mosaic_rate")
    print(f"\nPPO on CartPole, {args.iterations} iterations of {args.batch} env steps, "
          f"{os.cpu_count()} CPUs, median of {args.rounds} round(s)")  # fmt: skip
    print(f"{'runners':>7}  {'mosaic/s':>9}  {'direct/s':>9}  {'mosaic/direct':>13}  "
          f"{'wall ratio':>10}  {'vs ' + str(runners[0]) + ' runners':>14}")  # fmt: skip
    missed = []
    for n in runners:
        ours, theirs = median(n, "mosaic_rate"), median(n, "direct_rate")
        wall = median(n, "mosaic_wall") / median(n, "direct_wall")
        print(f"{n:>7}  {ours:>9.0f}  {theirs:>9.0f}  {ours / theirs:>12.2f}x  "
              f"{wall:>9.2f}x  {ours / base:>13.2f}x")  # fmt: skip
        if ours / theirs < TARGET:
            missed.append(n)
    print(
        f"target: mosaic >= {TARGET:.2f} x direct in steady state: "
        + ("met" if not missed else f"missed with {missed} runner(s)")
    )
    return 1 if missed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())

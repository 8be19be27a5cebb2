"""What the XuanCe worker costs, and proof that it does not change the training.

MAPPO on MPE simple_spread_v3 for a fixed budget, the same config both ways,
alternating, several rounds, in one run:

- direct: a fresh interpreter does what a XuanCe user does,
  ``xuance.get_runner("mappo", "mpe", "simple_spread_v3", parser_args=...)``
  then ``runner.run(mode="train")``;
- through MOSAIC: ``mosaic run xuance`` with the same settings (the
  supervisor, the run store, the worker process, telemetry, manifest).

Both get the ``parser_args`` the worker's config produces (discrete
actions, the dummy vector env, one torch thread). Prints the wall-time
ratio (target <= 1.05), the telemetry volume of a run, and checks that both
ways trained the same network: the saved weights must be identical.

Needs the xuance worker installed, as in the environment ``tox -e
xuance-worker`` builds. A missed speed target is printed; ``--strict`` makes
it exit 1. Different weights always exit 1.

    .tox/xuance-worker/bin/python benchmarks/xuance_overhead.py \
        [--steps 20000] [--parallels 8] [--rounds 3] [--strict]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET = 1.05


def settings(steps: int, parallels: int, seed: int) -> dict[str, Any]:
    return {"algorithm": "mappo", "env_id": "simple_spread_v3", "total_steps": steps,
            "parallels": parallels, "seed": seed}  # fmt: skip


def direct_child(config: dict[str, Any], workdir: Path) -> None:
    """The direct contender, in its own interpreter: plain XuanCe, as its docs show."""
    import types

    from mosaic_xuance.config import XuanCeConfig
    from mosaic_xuance.runtime import find_yaml

    typed = XuanCeConfig.from_dict({"run_id": "direct", **config})
    args = typed.xuance_args()
    args.update(log_dir=str(workdir / "logs"), model_dir=str(workdir / "models"))
    import xuance

    runner = xuance.get_runner(
        "mappo", "mpe", "simple_spread_v3", config_path=str(find_yaml(typed)),
        parser_args=types.SimpleNamespace(**args),
    )  # fmt: skip
    runner.run(mode="train")


def direct(config: dict[str, Any], workdir: Path) -> tuple[float, Path]:
    env = dict(os.environ, OMP_NUM_THREADS="1", SDL_VIDEODRIVER="dummy")
    command = [sys.executable, __file__, "--direct-child", json.dumps(config), str(workdir)]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"direct XuanCe run failed ({done.returncode}):\n{done.stderr[-3000:]}")
    (model,) = (workdir / "models").rglob("final_train_model.pth")
    return elapsed, model


def through_mosaic(config: dict[str, Any], home: Path) -> tuple[float, Path]:
    env = dict(os.environ, MOSAIC_HOME=str(home))
    command = [sys.executable, "-m", "mosaic_core", "run", "xuance", "--json"]
    for key, value in config.items():
        command += ["--set", f"{key}={value}"]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"mosaic run failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return elapsed, Path(json.loads(done.stdout)["run_dir"])


def same_weights(a: Path, b: Path) -> bool:
    import torch

    left = torch.load(a, map_location="cpu", weights_only=True)["policy"]
    right = torch.load(b, map_location="cpu", weights_only=True)["policy"]
    return left.keys() == right.keys() and all(torch.equal(left[k], right[k]) for k in left)


def volume(run_dir: Path, seconds: float) -> str:
    lines = (run_dir / "events.jsonl").read_bytes().splitlines()
    events = [json.loads(line) for line in lines]
    kinds: dict[str, int] = {}
    for event in events:
        kinds[event["event"]] = kinds.get(event["event"], 0) + 1
    values = sum(len(e["payload"]["values"]) for e in events if e["event"] == "metrics")
    size = sum(len(line) + 1 for line in lines)
    shown = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
    return (f"{len(events)} events ({shown}); {values} values; {size / 1024:.1f} KiB, "
            f"{len(events) / seconds:.1f} events/s of wall time")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--parallels", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--strict", action="store_true")
    parser.add_argument("--direct-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.direct_child:
        direct_child(json.loads(args.direct_child[0]), Path(args.direct_child[1]))
        return 0
    config = settings(args.steps, args.parallels, args.seed)
    machine = f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}"
    print(f"xuance overhead: MAPPO simple_spread_v3, {args.steps:,} steps, {args.parallels} "
          f"envs, seed {args.seed}, {args.rounds} rounds alternating; python "
          f"{sys.version.split()[0]}, {machine}")  # fmt: skip
    times: dict[str, list[float]] = {"direct": [], "mosaic": []}
    identical = True
    with tempfile.TemporaryDirectory(prefix="mosaic-xuance-bench-") as tmp:
        root = Path(tmp)
        for round_ in range(args.rounds):
            order = ["direct", "mosaic"] if round_ % 2 == 0 else ["mosaic", "direct"]
            models = {}
            for who in order:
                if who == "direct":
                    workdir = root / f"direct-{round_}"
                    workdir.mkdir()
                    seconds, models[who] = direct(config, workdir)
                else:
                    seconds, run_dir = through_mosaic(config, root / "home")
                    models[who] = run_dir / "checkpoints" / "final_train_model.pth"
                times[who].append(seconds)
                print(f"  round {round_ + 1}: {who:<6} {seconds:7.2f} s")
            identical &= same_weights(models["direct"], models["mosaic"])
        direct_s, mosaic_s = statistics.median(times["direct"]), statistics.median(times["mosaic"])
        ratio = mosaic_s / direct_s
        print(f"telemetry of the last run: {volume(run_dir, times['mosaic'][-1])}")
    verdict = "ok" if ratio <= TARGET else "FAIL"
    print(f"wall time, median: direct {direct_s:.2f} s, through mosaic {mosaic_s:.2f} s; "
          f"ratio {ratio:.3f} (target <= {TARGET}) {verdict}")  # fmt: skip
    print(f"trained weights identical both ways: {'yes' if identical else 'NO'}")
    if not identical:
        return 1
    return 1 if args.strict and ratio > TARGET else 0


if __name__ == "__main__":
    sys.exit(main())

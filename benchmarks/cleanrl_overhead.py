"""What the CleanRL worker costs, and proof that it does not change the algorithm.

1. Overhead: PPO on CartPole for a fixed budget, run directly as
   ``python -m cleanrl.ppo`` and through ``mosaic run cleanrl`` with the same
   seed, alternating, several rounds. Prints the wall-time ratio (target
   <= 1.03) and checks that both produced the same episodic-return sequence.
2. Learning: one PPO run through ``mosaic run`` of 200k steps must reach a
   mean episodic return >= 400 over its last 20 episodes (CleanRL's
   published curve reaches ~490 by 500k).

Needs the cleanrl worker installed with CleanRL (``tox -e benchmarks`` does
it). Speed is reported; ``--strict`` makes a missed target exit 1. A
difference in returns always exits 1.

    python benchmarks/cleanrl_overhead.py [--steps 20000] [--rounds 3] [--learn-steps 200000]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RETURN_LINE = re.compile(rb"global_step=(\d+), episodic_return=([-\d.e+]+)")


def direct(steps: int, seed: int, workdir: Path) -> tuple[float, list[tuple[int, float]]]:
    """``python -m cleanrl.ppo`` as a user would run it; returns (seconds, returns)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", SDL_VIDEODRIVER="dummy")
    command = [sys.executable, "-m", "cleanrl.ppo", "--total-timesteps", str(steps),
               "--seed", str(seed), "--cuda", "False"]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, cwd=workdir, env=env, capture_output=True, check=True)
    elapsed = time.perf_counter() - started
    returns = [(int(s), float(r)) for s, r in RETURN_LINE.findall(done.stdout)]
    return elapsed, returns


def through_mosaic(steps: int, seed: int, home: Path) -> tuple[float, list[tuple[int, float]]]:
    """``mosaic run cleanrl``; returns (seconds, returns from its metrics events)."""
    env = dict(os.environ, MOSAIC_HOME=str(home))
    command = [sys.executable, "-m", "mosaic_core", "run", "cleanrl", "--json",
               "--set", "algorithm=ppo", "--set", "env_id=CartPole-v1",
               "--set", f"total_steps={steps}", "--set", f"seed={seed}"]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"mosaic run failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    result = json.loads(done.stdout)
    returns = []
    events = Path(result["run_dir"], "events.jsonl").read_text().splitlines()
    for line in events:
        event = json.loads(line)
        if event["event"] == "metrics":
            value = event["payload"]["values"].get("charts/episodic_return")
            if value is not None:
                returns.append((event["payload"]["step"], value))
    return elapsed, returns


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--learn-steps", type=int, default=200_000, help="0 skips learning")
    parser.add_argument("--strict", action="store_true")
    args = parser.parse_args()
    print(f"cleanrl overhead: PPO CartPole-v1, {args.steps:,} steps, seed {args.seed}, "
          f"{args.rounds} rounds alternating; python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")  # fmt: skip
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        work, home = Path(tmp, "direct"), Path(tmp, "home")
        work.mkdir()
        times: dict[str, list[float]] = {"direct": [], "mosaic": []}
        sequences: dict[str, list[list[tuple[int, float]]]] = {"direct": [], "mosaic": []}
        for round_ in range(args.rounds):
            order = ["direct", "mosaic"] if round_ % 2 == 0 else ["mosaic", "direct"]
            for name in order:
                if name == "direct":
                    elapsed, returns = direct(args.steps, args.seed, work)
                else:
                    elapsed, returns = through_mosaic(args.steps, args.seed, home)
                times[name].append(elapsed)
                sequences[name].append(returns)
                print(f"  round {round_ + 1} {name:<6} {elapsed:6.2f} s  {len(returns)} episodes")
        ratio = statistics.median(times["mosaic"]) / statistics.median(times["direct"])
        ok = ratio <= 1.03
        failed |= args.strict and not ok
        print(f"wall time  direct {statistics.median(times['direct']):.2f} s  mosaic "
              f"{statistics.median(times['mosaic']):.2f} s  ratio {ratio:.3f}  "
              f"target <= 1.03  {'PASS' if ok else 'FAIL'}")  # fmt: skip
        reference = sequences["direct"][0]
        same = all(seq == reference for seq in sequences["direct"] + sequences["mosaic"])
        print(f"episodic returns identical across all {2 * args.rounds} runs "
              f"({len(reference)} episodes each): {'PASS' if same else 'FAIL'}")  # fmt: skip
        if not same:
            for name in ("direct", "mosaic"):
                print(f"  {name} first returns: {sequences[name][0][:8]}")
            failed = True
        if args.learn_steps:
            elapsed, returns = through_mosaic(args.learn_steps, args.seed, home)
            last = [r for _, r in returns[-20:]]
            mean = statistics.fmean(last) if last else float("nan")
            ok = mean >= 400
            failed |= args.strict and not ok
            print(f"learning   PPO {args.learn_steps:,} steps through mosaic run in "
                  f"{elapsed:.1f} s: mean return of the last {len(last)} episodes {mean:.1f}  "
                  f"target >= 400  {'PASS' if ok else 'FAIL'}")  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

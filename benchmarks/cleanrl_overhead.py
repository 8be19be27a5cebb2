"""What the CleanRL worker costs, and proof that it does not change the algorithm.

1. Overhead: PPO on CartPole for a fixed budget, run directly as
   ``python -m cleanrl.ppo`` and through ``mosaic run cleanrl`` with the same
   seed, alternating, several rounds. Prints the wall-time ratio (target
   <= 1.03) and checks that both produced the same episodic-return sequence.
2. The cost of intercepting ``SummaryWriter.add_scalar``: the same loop of
   calls in a plain interpreter and in one with the worker's hooks, whose
   scalars the worker's own relay turns into ``metrics`` events (into a
   file); prints microseconds per call in the script and per scalar in the
   worker, and what that comes to over the run above.
3. Learning: one PPO run through ``mosaic run`` of 200k steps must reach a
   mean episodic return >= 400 over its last 20 episodes (CleanRL's
   published curve reaches ~490 by 500k).

Needs the cleanrl worker installed with CleanRL (``tox -e benchmarks`` does
it). Speed is reported; ``--strict`` makes a missed target exit 1. A
difference in returns always exits 1.

    python benchmarks/cleanrl_overhead.py [--steps 20000] [--rounds 7] [--learn-steps 200000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RETURN_LINE = re.compile(rb"global_step=(\d+), episodic_return=([-\d.e+]+)")
#: A script's own scalars: ``add_scalar`` with a new step every other call, as CleanRL logs
#: an episode's return and length. Prints the seconds the timed calls took. (The worker's
#: hooks move the writer's directory to the run's ``tensorboard/``; it is that already.)
ADD_SCALAR_LOOP = """
import sys, time
from torch.utils.tensorboard import SummaryWriter
calls = int(sys.argv[1])
writer = SummaryWriter("tensorboard")
tags = ("charts/episodic_return", "charts/episodic_length")
for i in range(1000):
    writer.add_scalar(tags[i & 1], float(i), i // 2)
started = time.perf_counter()
for i in range(1000, 1000 + calls):
    writer.add_scalar(tags[i & 1], float(i), i // 2)
print(time.perf_counter() - started)
writer.close()
"""


def direct(steps: int, seed: int, workdir: Path) -> tuple[float, float, list[tuple[int, float]]]:
    """``python -m cleanrl.ppo`` as a user would run it; returns (seconds, CPU seconds,
    returns)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", SDL_VIDEODRIVER="dummy")
    command = [sys.executable, "-m", "cleanrl.ppo", "--total-timesteps", str(steps),
               "--seed", str(seed), "--cuda", "False"]  # fmt: skip
    cpu, started = _children_cpu(), time.perf_counter()
    done = subprocess.run(command, cwd=workdir, env=env, capture_output=True, check=True)
    elapsed, cpu = time.perf_counter() - started, _children_cpu() - cpu
    returns = [(int(s), float(r)) for s, r in RETURN_LINE.findall(done.stdout)]
    return elapsed, cpu, returns


def through_mosaic(
    steps: int, seed: int, home: Path
) -> tuple[float, float, list[tuple[int, float]], int, tuple[float, float]]:
    """``mosaic run cleanrl``; returns (seconds, CPU seconds, returns from its metrics
    events, how many scalars they carried, and the fixed costs at both ends: seconds from
    the launch to ``run_started`` and from ``run_completed`` to ``mosaic run``'s exit)."""
    env = dict(os.environ, MOSAIC_HOME=str(home))
    command = [sys.executable, "-m", "mosaic_core", "run", "cleanrl", "--json",
               "--set", "algorithm=ppo", "--set", "env_id=CartPole-v1",
               "--set", f"total_steps={steps}", "--set", f"seed={seed}"]  # fmt: skip
    cpu, started, launched = _children_cpu(), time.perf_counter(), time.time()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    elapsed, cpu, ended = time.perf_counter() - started, _children_cpu() - cpu, time.time()
    if done.returncode != 0:
        sys.exit(f"mosaic run failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    result = json.loads(done.stdout)
    returns, scalars, stamps = [], 0, {}
    events = Path(result["run_dir"], "events.jsonl").read_text().splitlines()
    for line in events:
        event = json.loads(line)
        stamps[event["event"]] = event["timestamp"]
        if event["event"] == "metrics":
            scalars += len(event["payload"]["values"])
            value = event["payload"]["values"].get("charts/episodic_return")
            if value is not None:
                returns.append((event["payload"]["step"], value))
    ends = (stamps["run_started"] - launched, ended - stamps["run_completed"])
    return elapsed, cpu, returns, scalars, ends


def _children_cpu() -> float:
    """CPU seconds (user and system) of this process's finished children and theirs: for
    ``mosaic run``, the host, the worker and the script."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def add_scalar_plain(calls: int, workdir: Path) -> float:
    """Seconds per ``add_scalar`` call in a plain interpreter."""
    command = [sys.executable, "-c", ADD_SCALAR_LOOP, str(calls)]
    done = subprocess.run(command, cwd=workdir, capture_output=True, text=True, check=True)
    return float(done.stdout) / calls


def add_scalar_observed(calls: int, workdir: Path) -> tuple[float, float, int]:
    """Seconds per ``add_scalar`` call with the worker's hooks installed, the worker's CPU
    seconds per scalar relayed (its relay, writing real events to a file), and how many
    metrics events that made."""
    from mosaic_cleanrl.config import CleanRLConfig
    from mosaic_cleanrl.runtime import CleanRLRuntime, _StopRequest
    from mosaic_core import RunContext, RunHandle, TelemetryEmitter

    config = CleanRLConfig.from_dict({"run_id": "bench", "algorithm": "ppo"})
    context = RunContext(run_id="bench", run_dir=workdir, worker_type="cleanrl",
                         worker_version="bench")  # fmt: skip
    runtime = CleanRLRuntime(config, context)
    read_fd, write_fd = os.pipe()
    command = [sys.executable, "-c", ADD_SCALAR_LOOP, str(calls)]
    proc = subprocess.Popen(command, cwd=workdir, env=runtime._child_env(write_fd),
                            pass_fds=(write_fd,), stdout=subprocess.PIPE, text=True)  # fmt: skip
    os.close(write_fd)
    with open(workdir / "events.jsonl", "wb") as sink, os.fdopen(read_fd, "rb") as channel:
        emitter = TelemetryEmitter("bench", stream=sink)
        cpu = time.thread_time()
        runtime._relay(channel, RunHandle(emitter), proc, _StopRequest())
        cpu = time.thread_time() - cpu
        emitter.close()
    out, _ = proc.communicate()
    if proc.returncode != 0:
        sys.exit(f"the add_scalar loop with the worker's hooks failed ({proc.returncode})")
    return float(out) / calls, cpu / (calls + 1000), emitter.metrics_emitted


def _interval(direct: list[float], mosaic: list[float], draws: int = 2000) -> tuple[float, float]:
    """Where the ratio of medians falls for 90% of resamplings of the rounds (each round's
    pair kept together: they ran a minute apart, on the same machine's mood)."""
    rng = random.Random(0)
    rounds = range(len(direct))
    ratios = sorted(
        statistics.median(mosaic[i] for i in pick) / statistics.median(direct[i] for i in pick)
        for pick in ([rng.choice(rounds) for _ in rounds] for _ in range(draws))
    )
    return ratios[int(0.05 * draws)], ratios[int(0.95 * draws) - 1]


def interception(calls: int, rounds: int, scalars: int) -> None:
    """Prints the per-call cost of intercepting add_scalar, alternating plain and observed."""
    plain, observed, relay = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(rounds):
            for name in ("plain", "observed") if round_ % 2 == 0 else ("observed", "plain"):
                if name == "plain":
                    plain.append(add_scalar_plain(calls, Path(tmp)))
                else:
                    per_call, per_scalar, events = add_scalar_observed(calls, Path(tmp))
                    observed.append(per_call)
                    relay.append(per_scalar)
    base, hooked = statistics.median(plain) * 1e6, statistics.median(observed) * 1e6
    per_scalar = statistics.median(relay) * 1e6
    print(f"add_scalar {calls:,} calls x {rounds}: plain {base:.1f} us/call, with the hooks "
          f"{hooked:.1f} us/call ({hooked - base:+.1f} us in the script); the worker's relay "
          f"{per_scalar:.1f} us of CPU per scalar ({events:,} metrics events)")  # fmt: skip
    if scalars:
        print(f"  over the {scalars:,} scalars of one run above: "
              f"{(hooked - base) * scalars / 1e6:+.3f} s in the script, "
              f"{per_scalar * scalars / 1e6:.3f} s of CPU in the worker")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--calls", type=int, default=20_000, help="add_scalar calls; 0 skips")
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
        cpus: dict[str, list[float]] = {"direct": [], "mosaic": []}
        scalars, ends = 0, []
        sequences: dict[str, list[list[tuple[int, float]]]] = {"direct": [], "mosaic": []}
        for round_ in range(args.rounds):
            order = ["direct", "mosaic"] if round_ % 2 == 0 else ["mosaic", "direct"]
            for name in order:
                if name == "direct":
                    elapsed, cpu, returns = direct(args.steps, args.seed, work)
                else:
                    elapsed, cpu, returns, scalars, fixed = through_mosaic(
                        args.steps, args.seed, home
                    )
                    ends.append(fixed)
                times[name].append(elapsed)
                cpus[name].append(cpu)
                sequences[name].append(returns)
                print(f"  round {round_ + 1} {name:<6} {elapsed:6.2f} s  CPU {cpu:6.2f} s  "
                      f"{len(returns)} episodes  load {os.getloadavg()[0]:.2f}")  # fmt: skip
        ratio = statistics.median(times["mosaic"]) / statistics.median(times["direct"])
        ok = ratio <= 1.03
        failed |= args.strict and not ok
        print(f"wall time  direct {statistics.median(times['direct']):.2f} s  mosaic "
              f"{statistics.median(times['mosaic']):.2f} s  ratio {ratio:.3f}  "
              f"target <= 1.03  {'PASS' if ok else 'FAIL'}")  # fmt: skip
        low, high = _interval(times["direct"], times["mosaic"])
        pairs = [m / d for d, m in zip(times["direct"], times["mosaic"], strict=True)]
        print(f"           per round {min(pairs):.3f}-{max(pairs):.3f} (median "
              f"{statistics.median(pairs):.3f}); the ratio of medians over the rounds "
              f"resampled: 90% within {low:.3f}-{high:.3f}")  # fmt: skip
        print(f"CPU time   direct {statistics.median(cpus['direct']):.2f} s  mosaic "
              f"{statistics.median(cpus['mosaic']):.2f} s (every process of the run)")  # fmt: skip
        start, end = statistics.median(e[0] for e in ends), statistics.median(e[1] for e in ends)
        share = (start + end) / statistics.median(times["direct"])
        print(f"ends       launch -> run_started {start:.3f} s, run_completed -> mosaic run's "
              f"exit {end:.3f} s (medians; the script's own start and teardown lie between): "
              f"{share:.1%} of the direct run")  # fmt: skip
        reference = sequences["direct"][0]
        same = all(seq == reference for seq in sequences["direct"] + sequences["mosaic"])
        print(f"episodic returns identical across all {2 * args.rounds} runs "
              f"({len(reference)} episodes each): {'PASS' if same else 'FAIL'}")  # fmt: skip
        if not same:
            for name in ("direct", "mosaic"):
                print(f"  {name} first returns: {sequences[name][0][:8]}")
            failed = True
        if args.calls:
            interception(args.calls, args.rounds, scalars)
        if args.learn_steps:
            elapsed, _, returns, _, _ = through_mosaic(args.learn_steps, args.seed, home)
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

"""Operator step speed, measured side by side in one run.

CartPole-v1 with the random operator:

- in-process: :class:`mosaic_core._session.Session` stepped in this process,
  the very loop an operator process runs, against two plain Gymnasium loops
  (``env.step(space.sample())``): one that resets without a seed, and one
  that reseeds every episode as a session must (episode ``k`` after
  ``reset(0)``: the environment reset with seed ``k``, the random action
  stream seeded with ``k``), which is the cost of the contract itself; and
  a session reset with no seed (``reset(None)``: nothing to reseed), the
  like-for-like counterpart of the unseeded loop;
- protocol: the same operator in its own process
  (``python -m mosaic_core.operator_main --interactive``) driven over
  stdin/stdout by :class:`mosaic_core.OperatorClient`, pipelined (up to 64
  ``step`` commands in flight, as ``mosaic eval`` drives it) and lockstep
  (one command, one answer);
- frames: every step rendered (600x400 RGB), sent as JSON lists the way the
  system MOSAIC grew from did, decoded into an array, against fastlane: the
  step carries a reference and the client copies the frame out of shared
  memory into an array. Both driven lockstep.

Operator processes are started once; rounds alternate the order and report
medians, and each ratio is also shown per round (measured back to back,
under about the same load).

    python benchmarks/operator_step.py [--steps N] [--rounds R] [--seconds S] [--strict]

Speed is reported, not asserted: the exit status is 1 only when something
failed, or, with ``--strict``, when a target was missed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

ENV_ID = "CartPole-v1"
TARGET_IN_PROCESS = 0.8
TARGET_PROTOCOL = 0.5
TARGET_FASTLANE = 20.0
WINDOW = 64


def _session() -> Any:
    from mosaic_core import OperatorContext
    from mosaic_core.operators import RandomOperator, Session, make_arena, make_env

    arena = make_arena(make_env(ENV_ID), ENV_ID)
    operator = RandomOperator(OperatorContext(action_space=arena.action_space(None)))
    return Session(arena, {None: operator})


def in_process(steps: int, seed: int | None = 0) -> float:
    session = _session()
    session.reset(seed)
    step = session.step
    started = time.perf_counter()
    for _ in range(steps):
        step()
    rate = steps / (time.perf_counter() - started)
    session.close()
    return rate


def plain_loop(steps: int, *, seeded: bool = False) -> float:
    """Gymnasium alone; ``seeded``: each episode reseeded as a session after ``reset(0)``
    does (the session tests check that this loop plays the session's very episodes)."""
    import gymnasium as gym

    env = gym.make(ENV_ID)
    space = env.action_space
    space.seed(0)
    env.reset(seed=0)
    episode = 0
    started = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(space.sample())
        if terminated or truncated:
            if seeded:
                episode += 1
                space.seed(episode)
                env.reset(seed=episode)
            else:
                env.reset()
    rate = steps / (time.perf_counter() - started)
    env.close()
    return rate


def pipelined(client: Any, steps: int) -> float:
    started = time.perf_counter()
    for _ in client.steps(steps, window=WINDOW):
        pass
    return steps / (time.perf_counter() - started)


def lockstep(client: Any, steps: int) -> float:
    step = client.step
    started = time.perf_counter()
    for _ in range(steps):
        step()
    return steps / (time.perf_counter() - started)


def frames_json(client: Any, seconds: float) -> tuple[float, float]:
    """Steps/s and bytes per answer, each frame decoded into an array as a viewer would."""
    import numpy as np

    steps, size = 0, 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds or steps < 3:
        response = client.step()
        frame = np.asarray(response["render"]["rgb"], dtype=np.uint8)
        assert frame.shape == (400, 600, 3), frame.shape
        size += len(json.dumps(response))
        steps += 1
    return steps / (time.perf_counter() - started), size / steps


def frames_fastlane(client: Any, seconds: float) -> tuple[float, float]:
    from mosaic_core.operators import FastlaneReader

    readers: dict[str, Any] = {}
    steps, size, missed = 0, 0, 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds or steps < 3:
        response = client.step()
        ref = response["render"]
        reader = readers.get(ref["fastlane"]) or readers.setdefault(
            ref["fastlane"], FastlaneReader(ref["fastlane"])
        )
        frame = reader.read(ref["frame"])
        if frame is None:
            missed += 1
        else:
            assert frame.to_array().shape == (400, 600, 3)
        size += len(json.dumps(response))
        steps += 1
    rate = steps / (time.perf_counter() - started)
    for reader in readers.values():
        reader.close()
    if missed:
        raise RuntimeError(f"fastlane: {missed} of {steps} frames could not be read")
    return rate, size / steps


def _mark(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _rounds(rounds: int, contenders: dict[str, Callable[[], Any]]) -> dict[str, list[Any]]:
    names = list(contenders)
    results: dict[str, list[Any]] = {name: [] for name in names}
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        if r % 2:
            order.reverse()
        for name in order:
            results[name].append(contenders[name]())
    return results


def _ratio_line(
    label: str, num: list[float], den: list[float], target: float | None
) -> tuple[str, float]:
    ratio = statistics.median(num) / statistics.median(den)
    per_round = " ".join(f"{a / b:.2f}" for a, b in zip(num, den, strict=True))
    verdict = f"target >= {target:g}x   {_mark(ratio >= target)}" if target else "no target"
    return f"  {label:<34}{ratio:>7.2f}x   {verdict}   (per round: {per_round})", ratio


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000, help="steps per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, order alternating")
    parser.add_argument("--seconds", type=float, default=3.0, help="per frame measurement")
    parser.add_argument("--strict", action="store_true", help="exit 1 on a missed target")
    args = parser.parse_args()
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

    from mosaic_core.operators import OperatorClient

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"operator step benchmark: {ENV_ID}, random operator, {args.rounds} rounds, medians\n"
        f"python {platform.python_version()}, {os.cpu_count()} CPUs, load {load:.2f}"
    )
    missed: list[str] = []

    with OperatorClient.spawn("random", ENV_ID, render="none") as client:
        client.reset(0)
        lock_steps = max(args.steps // 4, 100)
        results = _rounds(
            args.rounds,
            {
                "in-process": lambda: in_process(args.steps),
                "unseeded": lambda: in_process(args.steps, seed=None),
                "plain": lambda: plain_loop(args.steps),
                "seeded": lambda: plain_loop(args.steps, seeded=True),
                "protocol": lambda: pipelined(client, args.steps),
                "lockstep": lambda: lockstep(client, lock_steps),
            },
        )
    labels = {
        "in-process": "Session.step() in this process, the loop the server runs",
        "unseeded": "the same after reset(None): no episode reseeded",
        "plain": "gymnasium step + random action, no MOSAIC (reference)",
        "seeded": "the same, each episode reseeded as a session's is",
        "protocol": f"over stdin/stdout, pipelined ({WINDOW} in flight)",
        "lockstep": "over stdin/stdout, one command then its answer",
    }
    print("\nsteps per second, no frames")
    for name, label in labels.items():
        runs = " ".join(f"{x / 1e3:.1f}k" for x in results[name])
        print(f"  {name:<12}{label:<58}{statistics.median(results[name]):>9,.0f}   ({runs})")
    line, ratio = _ratio_line(
        "protocol / in-process", results["protocol"], results["in-process"], TARGET_PROTOCOL
    )
    print(line)
    if ratio < TARGET_PROTOCOL:
        missed.append(f"protocol {ratio:.2f}x < {TARGET_PROTOCOL}x")
    print(_ratio_line("lockstep / in-process", results["lockstep"], results["in-process"], None)[0])
    for session, name, label in (
        ("in-process", "plain", "plain loop"),
        ("in-process", "seeded", "plain, same seeding"),
        ("unseeded", "plain", "plain loop"),
    ):
        line, ratio = _ratio_line(
            f"{session} / {label}", results[session], results[name], TARGET_IN_PROCESS
        )
        print(line)
        if ratio < TARGET_IN_PROCESS:
            missed.append(f"{session} {ratio:.2f}x < {TARGET_IN_PROCESS}x the {label}")

    print(f"\nframes: {ENV_ID} rendered every step (600x400 RGB), lockstep")
    try:
        with (
            OperatorClient.spawn("random", ENV_ID, render="json", timeout=120) as as_json,
            OperatorClient.spawn("random", ENV_ID, render="fastlane") as fast,
        ):
            as_json.reset(0)
            fast.reset(0)
            frames = _rounds(
                args.rounds,
                {
                    "json": lambda: frames_json(as_json, args.seconds),
                    "fastlane": lambda: frames_fastlane(fast, args.seconds),
                },
            )
    except Exception as exc:  # e.g. no pygame to render CartPole: say so, keep the rest
        print(f"  could not measure frames: {type(exc).__name__}: {exc}")
        missed.append("frames not measured")
        return 1
    for name, label in (
        ("json", "frames as JSON lists, decoded to an array (the upstream way)"),
        ("fastlane", "a frame reference; the frame copied out of shared memory"),
    ):
        rates = [r for r, _ in frames[name]]
        size = statistics.median(s for _, s in frames[name])
        print(
            f"  {name:<12}{label:<62}{statistics.median(rates):>9,.1f} steps/s"
            f"   {size:>11,.0f} bytes/answer"
        )
    line, ratio = _ratio_line(
        "fastlane / json frames",
        [r for r, _ in frames["fastlane"]],
        [r for r, _ in frames["json"]],
        TARGET_FASTLANE,
    )
    print(line)
    if ratio < TARGET_FASTLANE:
        missed.append(f"fastlane {ratio:.1f}x < {TARGET_FASTLANE}x")

    if missed:
        print("\nmissed: " + "; ".join(missed))
    return 1 if missed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())

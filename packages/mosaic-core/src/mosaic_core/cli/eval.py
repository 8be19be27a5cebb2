"""``mosaic eval``: operators side by side on the same seeded episodes, recorded as a run.

Each evaluation is a run of worker type ``eval`` in the run store: its
``events.jsonl`` holds ``run_started``, one ``metrics`` event per episode
and operator (``<operator>/episodic_return``, ``<operator>/episode_length``,
step = episode index), heartbeats, and one terminal event whose payload is
the summary, so ``mosaic show``, ``mosaic metrics`` and ``mosaic events``
work on it as on any training run.

Exit status: 0 when every operator finished, 1 when one failed, 2 for a bad
spec or argument, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from mosaic_core.cli.argtypes import whole_number

__all__ = ["register"]


def _cmd_eval(args: argparse.Namespace) -> int:
    from mosaic_core import _procs as procs
    from mosaic_core._telemetry import TelemetryEmitter
    from mosaic_core._ulid import new_ulid
    from mosaic_core.operators.eval import evaluate
    from mosaic_core.operators.specs import parse_operator_spec
    from mosaic_core.operators.trained import check_fits, env_for
    from mosaic_core.runs.store import RunStore

    store = RunStore()
    try:
        specs = [parse_operator_spec(text, store) for text in args.operator]
        env_from = None
        if args.env is None:
            args.env, env_from = env_for(specs)
        check_fits(args.env, specs)  # an operator trained on other spaces: exit 2, no run
        seats = _seats(args.seat, store, parse_operator_spec)
        if seats:
            # A family task's agents are known before anything is made: bad seats are bad input.
            from mosaic_core._family_registry import find_env_task
            from mosaic_core.operators.eval import check_seats

            task = find_env_task(args.env)
            if task is not None:
                check_seats(seats, task.agents or (None,), args.env)
        run_id = new_ulid()
        config = {
            "env_id": args.env,
            "algorithm": "eval",
            "seed": args.seed,
            "operators": [s.text for s in specs],
            "seats": {agent: spec.text for agent, spec in seats.items()},
            "episodes": args.episodes,
            "parallel": args.parallel,
            "record": args.record,
        }
        run_dir = store.create_run(run_id, "eval", config, python=sys.executable)
        record_dir = args.record if args.record else (run_dir / "videos")
        pid = os.getpid()
        started_at = time.time()
        store.update(
            run_id, status="running", started_at=started_at, pid=pid,
            pid_start=procs.start_time(pid), supervisor_pid=pid,
            supervisor_start=procs.start_time(pid),
        )  # fmt: skip
        if not args.json:
            source = f" (the environment {env_from} was trained on)" if env_from else ""
            print(
                f"eval {run_id}: {len(specs)} operator(s) on {args.env}{source}, "
                f"{args.episodes} episode(s) from seed {args.seed}",
                file=sys.stderr,
            )
        with open(run_dir / "events.jsonl", "ab") as events:
            emitter = TelemetryEmitter(run_id, stream=events)
            outcome = _evaluate(args, specs, seats, emitter, run_id, record_dir, evaluate)
        run = store.catch_up(run_id, final=True)
        status = {"run_completed": "completed", "run_cancelled": "cancelled"}.get(
            run["terminal_event"] or "", "failed"
        )
        store.update(run_id, status=status, ended_at=time.time(), reason=outcome.get("reason"))
    finally:
        store.close()
    results = outcome["results"]
    report = {
        "run_id": run_id,
        "run_dir": str(run_dir),
        "env_id": args.env,
        "episodes": args.episodes,
        "seed": args.seed,
        "operators": [r.summary() for r in results],
    }
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        _print_table(report)
    if outcome.get("interrupted"):
        return 130
    return 1 if any(r.error for r in results) else 0


def _seats(items: list[str], store: Any, parse: Any) -> dict[str, Any]:
    """``["player_2=human"]`` -> ``{"player_2": <the human spec>}``."""
    from mosaic_core._errors import ConfigError

    seats: dict[str, Any] = {}
    for item in items:
        agent, sep, text = item.partition("=")
        if not sep or not agent.strip() or not text.strip():
            raise ConfigError.bad_value("--seat", item, "AGENT=SPEC, such as player_2=human")
        if agent.strip() in seats:
            raise ConfigError(f"--seat {item!r}: agent {agent!r} is seated twice", field="--seat")
        seats[agent.strip()] = parse(text.strip(), store)
    return seats


def _evaluate(
    args: argparse.Namespace,
    specs: list[Any],
    seats: dict[str, Any],
    emitter: Any,
    run_id: str,
    record_dir: Any,
    evaluate: Any,
) -> dict[str, Any]:
    def on_episode(result: Any, episode: Any) -> None:
        values: dict[str, Any] = {f"{result.label}/episode_length": episode.length}
        total = episode.total_reward
        if isinstance(total, dict):
            for agent, value in total.items():
                values[f"{result.label}/{agent}/episodic_return"] = value
        else:
            values[f"{result.label}/episodic_return"] = total
        if episode.invalid_actions:
            values[f"{result.label}/invalid_actions"] = episode.invalid_actions
        emitter.metrics(episode.episode, values)

    emitter.run_started(
        worker_type="eval",
        algorithm="eval",
        env_id=args.env,
        seed=args.seed,
        operators=[s.text for s in specs],
        episodes=args.episodes,
    )
    emitter.start_heartbeat(5.0)
    try:
        results = evaluate(
            args.env,
            specs,
            episodes=args.episodes,
            seed=args.seed,
            parallel=args.parallel,
            record_dir=record_dir if args.record is not None else None,
            record_episodes=args.record_episodes,
            run_id=run_id,
            on_episode=on_episode,
            seats=seats,
        )
    except KeyboardInterrupt:
        emitter.run_cancelled(reason="interrupted")
        return {"results": [], "interrupted": True, "reason": "cancelled"}
    except BaseException as exc:
        emitter.run_failed(exc)
        raise
    summary = {"operators": [r.summary() for r in results]}
    failed = [r for r in results if r.error]
    if failed:
        message = "; ".join(f"{r.label}: {r.error}" for r in failed)
        emitter.run_failed({"error": message, "error_type": "OperatorFailed", **summary})
        return {"results": results, "reason": f"OperatorFailed: {message}"}
    emitter.run_completed(summary)
    return {"results": results}


def _print_table(report: dict[str, Any]) -> None:
    from mosaic_core.cli.output import print_table
    from mosaic_core.operators.eval import format_return

    rows = report["operators"]
    seated = rows[0].get("seats") if rows else None
    if seated:
        print("seated for every operator: " + ", ".join(f"{a}={s}" for a, s in seated.items()))
    invalid = any(r["invalid_actions"] for r in rows)
    header = ["OPERATOR", "EPISODES", "RETURN (mean ± std)", "LENGTH"]
    if invalid:
        header.append("INVALID")
    header.append("STEPS/S")
    table = [tuple(header)]
    for r in rows:
        if r["returns_by_agent"]:
            shown = ", ".join(
                f"{agent} {format_return(s['mean'], s['std'])}"
                for agent, s in r["returns_by_agent"].items()
            )
        else:
            shown = format_return(r["mean_return"], r["std_return"])
        row = [
            r["operator"],
            str(r["episodes"]),
            shown if not r["error"] else "failed",
            f"{r['mean_length']:.1f}" if r["mean_length"] is not None else "-",
        ]
        if invalid:
            row.append(str(r["invalid_actions"]))
        sps = r["steps_per_second"]
        row.append(f"{sps:,.0f}" if sps else "-")
        table.append(tuple(row))
    print_table(table)
    for r in rows:
        if r["error"]:
            print(f"\n{r['operator']}: failed: {r['error']}")
        for path in r["recordings"]:
            print(f"{r['operator']}: recorded {path}")
    print(f"\nrun {report['run_id']}: mosaic show {report['run_id']}")


def register(commands: Any) -> None:
    """Add ``mosaic eval`` to the ``mosaic`` parser's sub-command group."""
    cmd = commands.add_parser(
        "eval",
        help="evaluate operators side by side on the same seeded episodes",
        description=(
            "Play the same seeded episodes with every operator and compare them. SPEC is "
            "random, human, WORKER:RUN_ID, WORKER:PATH (a run directory or a checkpoint "
            "file), RUN_ID or llm:MODEL@URL. An operator of a run is refused on an "
            "environment whose spaces differ from those it was trained on."
        ),
    )
    cmd.add_argument(
        "--env",
        help="a task of `mosaic envs`, a Gymnasium id or module:factory (default: the "
        "environment the operators' run was trained on)",
    )
    cmd.add_argument(
        "--operator", action="append", required=True, metavar="SPEC", help="repeat to compare"
    )
    cmd.add_argument(
        "--seat",
        action="append",
        default=[],
        metavar="AGENT=SPEC",
        help="seat another operator on one agent for every contender, e.g. player_2=human "
        "(repeatable); the operators under evaluation play the other agents",
    )
    cmd.add_argument("--episodes", type=whole_number(1), default=10, help="default %(default)s")
    cmd.add_argument("--seed", type=int, default=0, help="episode k uses seed + k (default 0)")
    cmd.add_argument("--parallel", action="store_true", help="each operator in its own process")
    cmd.add_argument(
        "--record",
        nargs="?",
        const="",
        default=None,
        metavar="DIR",
        help="write GIFs of the first episodes to DIR (default: the run's videos/)",
    )
    cmd.add_argument(
        "--record-episodes",
        type=whole_number(1),
        default=1,
        help="how many episodes per operator --record writes (default %(default)s)",
    )
    cmd.add_argument("--json", action="store_true", help="print the report as JSON")
    cmd.set_defaults(func=_cmd_eval)

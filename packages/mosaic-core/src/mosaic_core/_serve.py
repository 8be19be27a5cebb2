"""``serve_main``: a worker's own operator, served over the step protocol (version 1).

A worker offers its trained policy through its console module, supplying
only how to load it (``WorkerSpec.operator_factory``)::

    if "--interactive" in sys.argv:
        sys.exit(serve_main(SPEC))

The session loop, the server and the environment are the SDK's own, so every
worker's operator speaks the protocol the same way; ``python -m
mosaic_core.operator_main`` (the host's) serves any operator spec with the
same code. Without ``--interactive`` the operator plays ``--episodes``
episodes from ``--seed`` and prints one ``episode_end`` JSON line per episode.

Exit status: 0 when input ended or the episodes are done, 2 for a bad
command line, spec or environment, 1 for any other failure to start.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any

from mosaic_core._errors import ConfigError, MosaicError
from mosaic_core._jsonable import jsonable
from mosaic_core._operator import Operator, OperatorContext, call_operator_factory
from mosaic_core._session import Session

__all__ = ["build_session", "run_session", "serve_main"]

_ASSIGN = re.compile(r"([A-Za-z0-9_.\-]+)=(.+)\Z", re.DOTALL)

Builder = Callable[[str, OperatorContext], Operator]


def parser(prog: str, *, worker: bool) -> argparse.ArgumentParser:
    out = argparse.ArgumentParser(prog=prog, description="Serve an operator (step protocol v1).")
    out.add_argument(
        "--interactive", action="store_true", help="serve the step protocol on stdin/stdout"
    )
    if worker:
        out.add_argument(
            "--checkpoint",
            help="a run id of the run store, or the directory to load the policy from",
        )
        out.add_argument(
            "--option",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="an option for the operator factory (VALUE parsed as JSON, else a string)",
        )
    else:
        out.add_argument(
            "--operator",
            action="append",
            required=True,
            metavar="[AGENT=]SPEC",
            help="random, human, WORKER:RUN_ID, RUN_ID or llm:MODEL@URL; AGENT= for one agent",
        )
    out.add_argument("--env", help="Gymnasium id or module:factory (PettingZoo envs too)")
    out.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting of the environment family's task (VALUE parsed as JSON, else a string)",
    )
    out.add_argument(
        "--render",
        choices=("fastlane", "json", "none"),
        default="fastlane",
        help="frames through fastlane (default), as JSON lists (debugging only), or none",
    )
    out.add_argument("--run-id", help="names the fastlane ring (default $MOSAIC_RUN_ID)")
    out.add_argument("--episodes", type=int, default=1, help="without --interactive")
    out.add_argument("--seed", type=int, default=None, help="without --interactive")
    return out


def _assignments(items: Sequence[str], agents: Sequence[str]) -> dict[str | None, str]:
    """``["random", "p1=human"]`` -> ``{None: "random", "p1": "human"}``."""
    out: dict[str | None, str] = {}
    for item in items:
        match = _ASSIGN.match(item)
        if match and ":" not in match.group(1) and "?" not in match.group(1):
            agent, spec = match.group(1), match.group(2)
            if agents and agent not in agents:
                raise ConfigError(
                    f"--operator {item!r}: no agent {agent!r} in this environment; "
                    f"agents: {', '.join(agents)}",
                    field="--operator",
                    value=item,
                )
            out[agent] = spec
        else:
            out[None] = item
    missing = [a for a in agents if a not in out] if None not in out else []
    if missing or not out:
        raise ConfigError(
            f"--operator: no operator for {', '.join(missing) or 'the agent'}; give SPEC for "
            "every agent or AGENT=SPEC for each",
            field="--operator",
        )
    return out


def build_session(
    args: argparse.Namespace, specs: Sequence[str], build: Builder, *, run_id: str
) -> Session:
    """The environment from ``args.env`` and one operator per agent, built by ``build``."""
    from mosaic_core._arena import make_arena
    from mosaic_core._family_registry import find_env_task, make_env, seats

    arena = None
    task = None
    if args.env:
        from mosaic_core._worker import parse_set

        render_mode = "rgb_array" if args.render != "none" else None
        settings = parse_set(getattr(args, "setting", None) or [])
        arena = make_arena(make_env(args.env, render_mode=render_mode, **settings), args.env)
        task = find_env_task(args.env)
    agents = seats(arena, task) if arena else (None,)
    named = _assignments(specs, [a for a in agents if a is not None])
    operators: dict[str | None, Operator] = {}
    for agent in agents:
        spec = named.get(agent) or named[None]
        context = OperatorContext.for_seat(arena, agent, args.env, task)
        operators[agent] = build(spec, context)
    return Session(arena, operators, run_id=run_id, render=args.render)


def run_session(session: Session, args: argparse.Namespace) -> int:
    if args.interactive:
        from mosaic_core._server import InteractiveServer

        return InteractiveServer(session=session).serve()
    if session.arena is None:
        raise ConfigError("--env is required without --interactive", field="--env")
    try:
        session.reset(args.seed)
        done = 0
        while done < args.episodes:
            _, end = session.step(render=False)
            if end is not None:
                print(json.dumps({"type": "episode_end", **jsonable(end)}), flush=True)
                done += 1
    finally:
        session.close()
    return 0


def guard(prog: str, start: Callable[[], int]) -> int:
    try:
        return start()
    except ConfigError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except MosaicError as exc:
        if os.environ.get("MOSAIC_DEBUG"):
            raise
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def session_run_id(args: argparse.Namespace) -> str:
    if args.run_id:
        return str(args.run_id)
    from mosaic_core._ulid import new_ulid

    return os.environ.get("MOSAIC_RUN_ID") or new_ulid()


def serve_main(spec: Any, argv: Sequence[str] | None = None) -> int:
    """A worker's ``--interactive`` mode: its ``operator_factory`` on ``--checkpoint``.

    ``spec`` is the worker's :class:`~mosaic_core._spec.WorkerSpec`;
    ``--checkpoint`` is a run id of the run store or a directory, passed to
    ``spec.operator_factory(checkpoint, **options)`` once per agent (with
    ``context=`` the agent's seat when the factory takes it).
    """
    prog = f"{spec.worker_type} --interactive"
    args = parser(prog, worker=True).parse_args(argv)

    def start() -> int:
        from mosaic_core._worker import parse_set

        factory = spec.operator_factory
        if factory is None:
            raise MosaicError(f"worker {spec.worker_type!r} has no operator_factory")
        checkpoint = _checkpoint(args.checkpoint, spec.worker_type)
        options = parse_set(args.option)

        def build(text: str, context: OperatorContext) -> Operator:
            operator: Operator = call_operator_factory(factory, checkpoint, context, options)
            return operator

        return run_session(
            build_session(args, [spec.worker_type], build, run_id=session_run_id(args)), args
        )

    return guard(prog, start)


def _checkpoint(ref: str | None, worker_type: str) -> str | None:
    """A directory as given, or the directory of run ``ref`` (an id or an unambiguous
    prefix) under ``$MOSAIC_HOME/runs``: read from the file system, not the run index."""
    if ref is None or os.path.isdir(ref):
        return ref
    import pathlib

    runs = pathlib.Path(os.environ.get("MOSAIC_HOME") or pathlib.Path.home() / ".mosaic") / "runs"
    try:
        found = sorted(p.name for p in runs.iterdir() if p.name.startswith(ref) and p.is_dir())
    except OSError:
        found = []
    if ref in found:
        return str(runs / ref)
    if len(found) == 1:
        return str(runs / found[0])
    raise ConfigError(
        f"--checkpoint {ref!r}: "
        + (f"ambiguous run id prefix ({', '.join(found[:3])})" if found else f"no run in {runs}")
        + f"; expected a directory or the id of a {worker_type} run",
        field="--checkpoint",
        value=ref,
    )

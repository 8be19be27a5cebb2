"""``mosaic env``: make and list virtual environments for workers."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from mosaic_core.cli.output import print_table
from mosaic_core.runs import RunStore
from mosaic_core.runs.database import StoreReadOnly
from mosaic_core.venvs import create_env

__all__ = ["register"]


def _cmd_create(args: argparse.Namespace) -> int:
    with RunStore() as store:
        record = create_env(
            store,
            args.worker,
            name=args.name,
            python=args.python,
            requirements=args.requirement,
            force=args.force,
        )
    workers = ", ".join(w["worker_type"] for w in record["workers"])
    print(f"environment {record['name']!r}: Python {record['python_version']}, workers "
          f"{workers}; use it with `mosaic run {args.worker} --env {record['name']}`")  # fmt: skip
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    try:
        store = RunStore()
    except StoreReadOnly:  # listing reads only: a read-only home will do
        store = RunStore(readonly=True)
    with store:
        envs = store.envs()
    for env in envs:
        env["exists"] = os.path.exists(env["python"])
    if args.json:
        print(json.dumps(envs, indent=2))
        return 0
    if not envs:
        print("No environments yet. Make one with `mosaic env create WORKER`.")
        return 0
    table = [("NAME", "PYTHON", "WORKERS", "PATH")]
    for env in envs:
        workers = ", ".join(w["worker_type"] for w in env["workers"])
        path = env["path"] if env["exists"] else f"{env['path']} (missing)"
        table.append((env["name"], env["python_version"], workers, path))
    print_table(table)
    return 0


def register(commands: Any) -> None:
    env = commands.add_parser("env", help="virtual environments for workers")
    sub = env.add_subparsers(dest="env_command", metavar="COMMAND", required=True)
    create = sub.add_parser(
        "create",
        help="make an environment for a worker",
        description="Make a virtual environment under $MOSAIC_HOME/envs/ for a worker, with "
        "its own Python and pins, and record it for `mosaic run WORKER --env NAME`.",
    )
    create.add_argument("worker", help="the worker type the environment is for")
    create.add_argument("--name", help="environment name (default: the worker type)")
    create.add_argument("--python", help="Python version, command or path, e.g. 3.10")
    create.add_argument("--requirement", "-r", action="append", default=[], metavar="SPEC",
                        help="an extra pip requirement: a name, a path, a URL, or '-e PATH' "
                        "(repeatable); one naming mosaic-core or the worker's own "
                        "distribution replaces the copy from here")  # fmt: skip
    create.add_argument("--force", action="store_true", help="replace an existing environment")
    create.set_defaults(func=_cmd_create)
    listing = sub.add_parser("list", help="list environments")
    listing.add_argument("--json", action="store_true", help="the environments as JSON")
    listing.set_defaults(func=_cmd_list)

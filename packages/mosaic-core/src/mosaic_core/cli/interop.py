"""``mosaic tensorboard`` and ``mosaic export mlflow``: runs in the tools people already use."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
from collections.abc import Iterator
from typing import Any

from mosaic_core._errors import MosaicError
from mosaic_core.runs.store import RunStore
from mosaic_core.runs.supervisor import reconcile

__all__ = ["register"]


@contextlib.contextmanager
def _store() -> Iterator[RunStore]:
    store = RunStore()
    try:
        reconcile(store)
        yield store
    finally:
        store.close()


def _rows(store: RunStore, args: argparse.Namespace) -> list[dict[str, Any]]:
    from mosaic_core.query import run_row, select_runs

    if args.runs or args.group:
        return select_runs(store, args.runs, group=args.group)
    return [run_row(r) for r in reversed(store.list_runs())]


def _cmd_tensorboard(args: argparse.Namespace) -> int:
    from mosaic_core.interop import tensorboard_logdir

    program = shutil.which("tensorboard")
    if program is None and not args.prepare_only:
        raise MosaicError("TensorBoard is not installed here: pip install tensorboard")
    with _store() as store:
        rows = _rows(store, args)
        logdir = args.logdir or str(store.home / "tensorboard")
        entries = tensorboard_logdir(store, rows, logdir)
    for entry in entries:
        how = "its own event files" if entry["source"] == "tensorboard" else (
            f"{entry['scalars']} scalars from the run store")  # fmt: skip
        print(f"{entry['name']}: {how}")
    print(f"log directory: {logdir}")
    if args.prepare_only:
        return 0
    assert program is not None
    command = [program, "--logdir", logdir, "--port", str(args.port), "--host", args.host]
    print(" ".join(command), flush=True)
    return os.execv(program, command)  # never returns: TensorBoard takes the process


def _cmd_export_mlflow(args: argparse.Namespace) -> int:
    from mosaic_core.interop import export_mlflow

    with _store() as store:
        rows = _rows(store, args)
        results = export_mlflow(store, rows, args.tracking_uri, experiment=args.experiment)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for item in results:
        if item["exported"]:
            print(f"{item['run_id']} -> MLflow run {item['mlflow_run_id']} "
                  f"({item['params']} params, {item['metrics']} metric points)")  # fmt: skip
        else:
            print(f"{item['run_id']}: already in MLflow as {item['mlflow_run_id']}; skipped")
    print(f"experiment {args.experiment!r} at {args.tracking_uri}", file=sys.stderr)
    return 0


def register(commands: Any) -> None:
    """Add ``mosaic tensorboard`` and ``mosaic export`` to the ``mosaic`` parser."""
    board = commands.add_parser(
        "tensorboard",
        help="start TensorBoard over runs, each named algorithm-env-seed-id",
        description="Start TensorBoard over the runs named (default: every run). Runs whose "
        "worker wrote TensorBoard files are linked; the others' metrics are written as "
        "TensorBoard events, so TensorBoard reads every run. Needs tensorboard installed.",
    )
    board.add_argument("runs", nargs="*", metavar="RUN", help="run ids (or prefixes)")
    board.add_argument("--group", help="the runs of this group (as well)")
    board.add_argument(
        "--logdir", help="the log directory to make (default: $MOSAIC_HOME/tensorboard)"
    )
    board.add_argument(
        "--port", type=int, default=6006, help="TensorBoard's port (default %(default)s)"
    )
    board.add_argument(
        "--host", default="127.0.0.1", help="the address to serve on (default %(default)s)"
    )
    board.add_argument(
        "--prepare-only", action="store_true",
        help="make the log directory and print it, without starting TensorBoard",
    )  # fmt: skip
    board.set_defaults(func=_cmd_tensorboard)

    export = commands.add_parser("export", help="copy runs into another tracking tool")
    targets = export.add_subparsers(dest="export_target", metavar="TARGET", required=True)
    mlflow = targets.add_parser(
        "mlflow",
        help="runs, params and metrics into MLflow",
        description="Export runs (default: every run) into an MLflow tracking store; a run "
        "already exported is skipped. Needs mlflow: pip install 'mosaic-core[mlflow]'.",
    )
    mlflow.add_argument("runs", nargs="*", metavar="RUN", help="run ids (or prefixes)")
    mlflow.add_argument("--group", help="the runs of this group (as well)")
    mlflow.add_argument(
        "--tracking-uri", required=True, metavar="URI",
        help="the MLflow tracking store, e.g. sqlite:///mlflow.db or http://127.0.0.1:5000",
    )  # fmt: skip
    mlflow.add_argument(
        "--experiment", default="mosaic", help="the experiment to add them to (default mosaic)"
    )
    mlflow.add_argument("--json", action="store_true", help="what was exported, as JSON")
    mlflow.set_defaults(func=_cmd_export_mlflow)

"""A TensorBoard log directory over runs, one readable name per run.

Each run appears as ``ALGORITHM-ENV-seedN-IDTAIL``. A run whose worker
wrote TensorBoard files itself (CleanRL's scripts do) is linked as it is; a
run that did not has its metrics from the store written as scalar events,
so TensorBoard reads every run. The directory is made again each time, so
a run still going shows what it had then.
"""

from __future__ import annotations

import math
import pathlib
import re
import shutil
from collections.abc import Mapping, Sequence
from typing import Any

from mosaic_core.query.figures import MissingExtra
from mosaic_core.runs.store import RunStore

__all__ = ["readable_name", "tensorboard_logdir"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def readable_name(row: Mapping[str, Any]) -> str:
    """``ppo-CartPole-v1-seed1-4XK2M9QZ``: algorithm, env, seed and the end of the run id."""
    parts = [row.get("algorithm") or row.get("worker_type"), row.get("env_id")]
    if row.get("seed") is not None:
        parts.append(f"seed{row['seed']}")
    parts.append(str(row["run_id"])[-8:])
    return "-".join(_UNSAFE.sub("_", str(p)) for p in parts if p)


def _has_events(directory: pathlib.Path) -> bool:
    return directory.is_dir() and any(directory.rglob("events.out.tfevents*"))


def _write_events(store: RunStore, run_id: str, target: pathlib.Path) -> int:
    try:
        from tensorboard.compat.proto.event_pb2 import Event
        from tensorboard.compat.proto.summary_pb2 import Summary
        from tensorboard.summary.writer.event_file_writer import EventFileWriter
    except ImportError:
        raise MissingExtra(
            "writing TensorBoard events needs the tensorboard package: pip install tensorboard"
        ) from None
    target.mkdir(parents=True)
    writer = EventFileWriter(str(target))
    written = 0
    try:
        for row in store.metrics(run_id):
            value = row["value"]
            if value is None or not math.isfinite(value):
                continue
            summary = Summary(value=[Summary.Value(tag=row["key"], simple_value=value)])
            writer.add_event(Event(wall_time=row["timestamp"], step=row["step"], summary=summary))
            written += 1
    finally:
        writer.close()
    return written


def tensorboard_logdir(
    store: RunStore, rows: Sequence[Mapping[str, Any]], logdir: str | pathlib.Path
) -> list[dict[str, Any]]:
    """Fill ``logdir`` (emptied first) with one entry per run; returns what each is:
    ``{"run_id", "name", "source"}``, source ``"tensorboard"`` (the run's own files,
    linked) or ``"metrics"`` (the store's metrics, written as events)."""
    root = pathlib.Path(logdir)
    if root.is_symlink() or root.is_file():
        root.unlink()
    elif root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    out = []
    names: set[str] = set()
    for row in rows:
        name = readable_name(row)
        while name in names:
            name += "_"
        names.add(name)
        own = store.run_dir(row["run_id"]) / "tensorboard"
        if _has_events(own):
            (root / name).symlink_to(own.resolve(), target_is_directory=True)
            out.append({"run_id": row["run_id"], "name": name, "source": "tensorboard"})
        else:
            count = _write_events(store, row["run_id"], root / name)
            out.append({"run_id": row["run_id"], "name": name, "source": "metrics",
                        "scalars": count})  # fmt: skip
    return out

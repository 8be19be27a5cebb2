"""Re-indexing run directories one by one, safely beside live runs.

Each run is re-indexed in its own transaction: its row is replaced in one
statement (never missing, so a supervisor looking it up always finds it),
``run.json`` is read inside that transaction (a supervisor writes it inside
its own), and the events are then caught up from ``events.jsonl`` with the
same compare-and-swap a supervisor uses, so the two never index a line
twice. A directory that cannot be read is skipped and reported, and left
out of the index. :func:`rebuild_lock` serialises whole rebuilds.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import pathlib
import sqlite3
from collections.abc import Collection, Iterator, Mapping
from typing import Any, Protocol

from mosaic_core.runs import series
from mosaic_core.runs.database import explain
from mosaic_core.runs.migrations import read_config

__all__ = ["archive_attempt", "rebuild_envs", "rebuild_lock", "rebuild_runs", "run_record"]

_TEXT = ("reason", "pid_start", "supervisor_start", "signal", "env_name", "python",
         "algorithm", "env_id", "error", "group_name", "headline_metric")  # fmt: skip
_INTEGER = ("pid", "supervisor_pid", "exit_code", "seed", "total_steps", "cancel_requested")
_REAL = ("started_at", "ended_at")


class _Store(Protocol):
    """What re-indexing needs of a :class:`~mosaic_core.runs.store.RunStore`."""

    home: pathlib.Path
    runs_dir: pathlib.Path

    def transaction(self) -> contextlib.AbstractContextManager[sqlite3.Connection]: ...

    def catch_up(self, run_id: str, *, final: bool = False) -> dict[str, Any]: ...

    def save_env(self, record: Mapping[str, Any]) -> None: ...


@contextlib.contextmanager
def rebuild_lock(home: pathlib.Path) -> Iterator[None]:
    """Hold the store's rebuild lock: one rebuild at a time, the next one waits."""
    try:
        home.mkdir(parents=True, exist_ok=True)
        lock = os.open(home / ".rebuild.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise explain(exc, home) or exc from None
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
    finally:
        os.close(lock)  # releases the lock


def rebuild_runs(
    store: _Store, statuses: Collection[str], active: Collection[str]
) -> tuple[int, list[tuple[str, str]]]:
    """Re-index every run directory; returns the count and the directories skipped
    (``statuses``: those a run may have; ``active``: those of a run still going)."""
    count, skipped = 0, []
    try:
        directories = sorted(p for p in store.runs_dir.iterdir() if p.is_dir())
    except FileNotFoundError:
        directories = []
    for directory in directories:
        try:
            problem = _rebuild_run(store, directory, statuses, active)
        except (OSError, ValueError, sqlite3.Error) as exc:
            if isinstance(exc, sqlite3.Error) and explain(exc, store.home) is not None:
                raise  # the index itself failed (full disk...): not this run's fault
            problem = f"{type(exc).__name__}: {exc}"
        if problem is None:
            count += 1
        else:
            skipped.append((directory.name, problem))
    _forget_missing(store)
    return count, skipped


def _rebuild_run(
    store: _Store, directory: pathlib.Path, statuses: Collection[str], active: Collection[str]
) -> str | None:
    run_id = directory.name
    with store.transaction() as db:
        record = run_record(directory, statuses)
        if isinstance(record, str):
            return record
        record["config"] = read_config(directory / "config.json")
        existing = db.execute(
            "SELECT cancel_requested FROM runs WHERE run_id = ?", (run_id,)
        ).fetchone()
        if existing is not None and existing[0]:
            record["cancel_requested"] = 1  # a cancel asked for meanwhile is not forgotten
        for table in ("events", *series.TABLES, "anomalies"):
            db.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))
        # One statement replaces the row: no reader ever finds the run missing.
        db.execute(
            f"INSERT OR REPLACE INTO runs ({', '.join(record)}) VALUES"
            f" ({', '.join('?' for _ in record)})",
            list(record.values()),
        )
    try:
        store.catch_up(run_id, final=record["status"] not in active)
    except (OSError, ValueError) as exc:
        with store.transaction() as db:  # skipped means left out, not half in
            for table in ("events", *series.TABLES, "anomalies", "runs"):
                db.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))
        return f"events.jsonl cannot be read: {type(exc).__name__}: {exc}"
    return None


#: What moves to ``attempts/<n>/`` when a run starts again: its streams, and where it ran.
ATTEMPT_FILES = ("events.jsonl", "stdout.log", "stderr.log", "placement.json")


def archive_attempt(
    store: _Store, run_id: str, statuses: Collection[str], active: Collection[str]
) -> pathlib.Path:
    """Move a run's telemetry, logs and placement to ``attempts/<n>/``, leave an empty
    ``events.jsonl``, and index the run again from there; returns the attempt's directory.

    For a run that starts over (its node was lost): its stream is then one whole
    attempt, and the lost one stays readable beside it.
    """
    directory = store.runs_dir / run_id
    attempts = directory / "attempts"
    attempts.mkdir(exist_ok=True)
    target = attempts / str(sum(1 for p in attempts.iterdir() if p.is_dir()))
    target.mkdir()
    for name in ATTEMPT_FILES:
        with contextlib.suppress(FileNotFoundError):
            os.replace(directory / name, target / name)
    (directory / "events.jsonl").touch()
    problem = _rebuild_run(store, directory, statuses, active)
    if problem is not None:
        raise OSError(f"run {run_id} could not be indexed again: {problem}")
    return target


def run_record(directory: pathlib.Path, statuses: Collection[str]) -> dict[str, Any] | str:
    """The columns ``run.json`` restores, checked; or why the directory is skipped."""
    path = directory / "run.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return "no run.json: not a run directory"
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        return f"run.json cannot be read: {type(exc).__name__}: {exc}"
    if not isinstance(data, dict) or data.get("run_id") != directory.name:
        return "run.json does not describe this run (its run_id is another)"
    record: dict[str, Any] = {"run_id": directory.name}
    worker, status, created = data.get("worker_type"), data.get("status"), data.get("created_at")
    if not isinstance(worker, str) or not worker:
        return "run.json has no worker_type"
    if status not in statuses:
        return f"run.json has status {status!r}; expected one of {', '.join(statuses)}"
    created_at = _finite(created)
    if created_at is None:
        return "run.json has no created_at time"
    record.update(worker_type=worker, status=status, created_at=created_at)
    for key in _TEXT:
        value = data.get(key)
        record[key] = value if isinstance(value, str) and _unicode(value) else None
    for key in _INTEGER:
        value = data.get(key)
        ok = type(value) is int and -(2**63) <= value < 2**63
        record[key] = value if ok else None
    record["cancel_requested"] = record["cancel_requested"] or 0
    for key in _REAL:
        record[key] = _finite(data.get(key))
    return record


def _finite(value: Any) -> float | None:
    """``value`` as a finite float (a time), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _forget_missing(store: _Store) -> None:
    """Drop the rows of runs whose directory is gone (checked inside the transaction, so a
    run made during the rebuild, directory first, is never dropped)."""
    with store.transaction() as db:
        for (run_id,) in db.execute("SELECT run_id FROM runs").fetchall():
            if not (store.runs_dir / run_id).is_dir():
                for table in ("events", *series.TABLES, "anomalies", "runs"):
                    db.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))


def rebuild_envs(store: _Store) -> int:
    count = 0
    for env_file in sorted((store.home / "envs").glob("*/mosaic-env.json")):
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError, sqlite3.InterfaceError):
            env = json.loads(env_file.read_text(encoding="utf-8"))
            if isinstance(env, dict) and env.get("name") == env_file.parent.name:
                store.save_env(env)
                count += 1
    return count

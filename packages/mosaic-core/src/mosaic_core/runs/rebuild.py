"""``mosaic db rebuild``: the index made again from the run directories, safely.

Safe while runs go on (see :mod:`mosaic_core.runs.reindex`), serialised by a
lock file (a second rebuild waits for the first), and the way out of a
damaged database: a ``mosaic.db`` that is not a sound database is moved
aside (``mosaic.db.damaged-<time>``) and a new one made. Run directories
that cannot be read are skipped and reported; the others are indexed.
"""

from __future__ import annotations

import os
import pathlib
import sqlite3
import time

import attrs

from mosaic_core.runs.database import StoreDamaged, is_damage
from mosaic_core.runs.reindex import rebuild_envs, rebuild_lock, rebuild_runs
from mosaic_core.runs.store import ACTIVE_STATUSES, STATUSES, RunStore, mosaic_home

__all__ = ["RebuildReport", "rebuild_index"]


@attrs.frozen(kw_only=True)
class RebuildReport:
    """What a rebuild did."""

    runs: int
    #: ``(directory name, why)`` for every directory under ``runs/`` left out.
    skipped: tuple[tuple[str, str], ...] = ()
    #: Where a damaged ``mosaic.db`` (and its WAL files) went.
    moved_aside: tuple[str, ...] = ()
    environments: int = 0


def rebuild_index(home: str | os.PathLike[str] | None = None) -> RebuildReport:
    """Make ``$MOSAIC_HOME/mosaic.db`` again from the run and environment directories."""
    root = pathlib.Path(home) if home is not None else mosaic_home()
    with rebuild_lock(root):
        moved: tuple[str, ...] = ()
        store = _open_sound(root)
        if store is None:
            moved = _move_aside(root / "mosaic.db")
            store = RunStore(root)
        with store:
            count, skipped = rebuild_runs(store, STATUSES, ACTIVE_STATUSES)
            environments = rebuild_envs(store)
    return RebuildReport(
        runs=count, skipped=tuple(skipped), moved_aside=moved, environments=environments
    )


def _open_sound(home: pathlib.Path) -> RunStore | None:
    """The store, or None when its database is damaged (a full check: rebuilds are rare)."""
    try:
        store = RunStore(home)
    except StoreDamaged:
        return None
    try:
        problems = [row[0] for row in store._db.execute("PRAGMA quick_check").fetchall()]
    except sqlite3.DatabaseError as exc:
        if not is_damage(exc):
            store.close()
            raise
        problems = [str(exc)]
    if problems == ["ok"]:
        return store
    store.close()
    return None


def _move_aside(db: pathlib.Path) -> tuple[str, ...]:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    moved = []
    for suffix in ("", "-wal", "-shm"):
        source = db.with_name(db.name + suffix)
        if source.exists():
            target = db.with_name(f"{db.name}.damaged-{stamp}{suffix}")
            os.replace(source, target)
            moved.append(str(target))
    return tuple(moved)

"""Numbered changes to the schema of ``mosaic.db``, recorded in ``PRAGMA user_version``.

The base schema (``store._SCHEMA``) is version 0, what mosaic-core 1.0 made.
Each step below takes the database from version ``i`` to ``i + 1``; opening
a store runs the steps it has not yet had, each in its own ``BEGIN
IMMEDIATE`` transaction, so two processes opening an old store at once run
each step once. A step may read the run directories: the index is made from
them, and a new column learns its old rows' values there.
"""

from __future__ import annotations

import json
import pathlib
import sqlite3
from collections.abc import Callable

__all__ = ["MIGRATIONS", "migrate", "schema_version"]

Step = Callable[[sqlite3.Connection, pathlib.Path], None]


def _v1_groups_configs_headline(db: sqlite3.Connection, runs_dir: pathlib.Path) -> None:
    """Runs gain ``group_name`` (a sweep or named group), ``config`` (the config as run, a
    JSON object, for filtering) and ``headline_metric`` (the worker's headline metric key)."""
    db.execute("ALTER TABLE runs ADD COLUMN group_name TEXT")
    db.execute("ALTER TABLE runs ADD COLUMN config TEXT")
    db.execute("ALTER TABLE runs ADD COLUMN headline_metric TEXT")
    db.execute("CREATE INDEX IF NOT EXISTS runs_by_group ON runs (group_name)")
    for (run_id,) in db.execute("SELECT run_id FROM runs").fetchall():
        config = read_config(runs_dir / run_id / "config.json")
        if config is not None:
            db.execute("UPDATE runs SET config = ? WHERE run_id = ?", (config, run_id))


def read_config(path: pathlib.Path) -> str | None:
    """A run's ``config.json`` as compact JSON text, or None if it is not a JSON object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return json.dumps(data, separators=(",", ":")) if isinstance(data, dict) else None


def _v2_metric_chunks(db: sqlite3.Connection, runs_dir: pathlib.Path) -> None:
    """Metrics move from one row per value (``metrics``) to columnar chunks per run and key
    (``metric_chunks``, see :mod:`mosaic_core.runs.series`); runs gain ``metric_points``,
    how many points they have. Every value is carried over, in the order it was indexed."""
    from mosaic_core.runs import series

    for statement in series.SCHEMA.split(";"):  # executescript would commit
        if statement.strip():
            db.execute(statement)
    db.execute("ALTER TABLE runs ADD COLUMN metric_points INTEGER NOT NULL DEFAULT 0")
    run_ids = [r[0] for r in db.execute("SELECT DISTINCT run_id FROM metrics").fetchall()]
    for run_id in run_ids:
        rows = db.execute(
            "SELECT step, key, value, timestamp FROM metrics WHERE run_id = ? ORDER BY rowid",
            (run_id,),
        )
        count = 0
        while block := rows.fetchmany(series.CHUNK_POINTS):
            batch = series.Batch()
            for step, key, value, stamp in block:
                batch.add(step, stamp, {key: value})
            series.write_batch(db, run_id, count, batch, figures=False)
            count += batch.count
        db.execute("UPDATE runs SET metric_points = ? WHERE run_id = ?", (count, run_id))
    db.execute("DROP TABLE metrics")


def _v3_metric_keys(db: sqlite3.Connection, runs_dir: pathlib.Path) -> None:
    """Per run and key, ``metric_keys`` keeps what a summary needs (count, minimum,
    maximum, sum, the last numbers by step), made here from the chunks there are."""
    from mosaic_core.runs import figures

    figures.fill(db)


#: ``MIGRATIONS[i]`` takes a database at version ``i`` to ``i + 1``. Append; never edit.
MIGRATIONS: tuple[Step, ...] = (_v1_groups_configs_headline, _v2_metric_chunks, _v3_metric_keys)


def schema_version(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate(db: sqlite3.Connection, runs_dir: pathlib.Path) -> int:
    """Run the steps ``db`` has not had; returns the version it is at now.

    A database newer than this mosaic-core (made by a later version) is left
    as it is: its columns are a superset of what this version reads.
    """
    version = schema_version(db)
    while version < len(MIGRATIONS):
        db.execute("BEGIN IMMEDIATE")
        try:
            version = schema_version(db)  # another process may have got here first
            if version < len(MIGRATIONS):
                MIGRATIONS[version](db, runs_dir)
                version += 1
                db.execute(f"PRAGMA user_version = {version}")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
    return version

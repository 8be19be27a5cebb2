"""The run store: ``$MOSAIC_HOME/runs/<run_id>/`` on disk, indexed in ``mosaic.db``.

The run directory is the source of truth: ``events.jsonl`` holds every line
the worker wrote on its telemetry channel, ``run.json`` what the supervisor
saw (status, reason, exit code, times). ``mosaic.db`` (SQLite, WAL) indexes
runs, events, metrics and anomalies for queries, and :meth:`RunStore.rebuild`
makes it again from the directories. Several supervisors may share one
store: SQLite serialises their writes. A store opened ``readonly`` (a
read-only home) reads and refuses to write; see :mod:`mosaic_core.runs.database`
for how opening fails.
"""

from __future__ import annotations

import array
import contextlib
import heapq
import json
import operator
import os
import pathlib
import re
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence

from mosaic_core._errors import ConfigError, MosaicError, short_repr
from mosaic_core._ulid import check_run_id
from mosaic_core.runs import figures, series
from mosaic_core.runs.database import StoreReadOnly, connect, explain
from mosaic_core.runs.migrations import MIGRATIONS, migrate, schema_version
from mosaic_core.runs.series import _chunks
from mosaic_core.runs.series import as_text as _text

TYPE_CHECKING = False  # not typing's: `mosaic runs` imports this module, typing 3 ms more
if TYPE_CHECKING:  # the reader (and orjson) only for indexing: listing runs does without
    from typing import IO, Any, Protocol

    from mosaic_core._secrets import Scrubber
    from mosaic_core.runs.reader import Item, TelemetryEvent

    class Progress(Protocol):
        """What :meth:`RunStore.ingest` keeps up to date for a live run's progress display
        (:class:`~mosaic_core.runs.RunProgress` is one): the events indexed, the last step,
        the newest value of each metric key and the ``total_steps`` of its ``run_started``."""

        events: int
        step: int | None
        total_steps: int | None
        metrics: dict[str, Any]


__all__ = ["ACTIVE_STATUSES", "STATUSES", "RunNotFound", "RunStore", "mosaic_home", "write_json"]

STATUSES = ("pending", "running", "completed", "failed", "cancelled")
ACTIVE_STATUSES = ("pending", "running")
_TERMINAL_STATUS = {
    "run_completed": "completed",
    "run_failed": "failed",
    "run_cancelled": "cancelled",
}


_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    worker_type TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    created_at REAL NOT NULL,
    started_at REAL,
    ended_at REAL,
    pid INTEGER,
    pid_start TEXT,
    supervisor_pid INTEGER,
    supervisor_start TEXT,
    exit_code INTEGER,
    signal TEXT,
    env_name TEXT,
    python TEXT,
    algorithm TEXT,
    env_id TEXT,
    seed INTEGER,
    total_steps INTEGER,
    last_step INTEGER,
    last_event_at REAL,
    events INTEGER NOT NULL DEFAULT 0,
    anomalies INTEGER NOT NULL DEFAULT 0,
    next_seq INTEGER NOT NULL DEFAULT 0,
    ingested_bytes INTEGER NOT NULL DEFAULT 0,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    terminal_event TEXT,
    summary TEXT,
    error TEXT
);
CREATE TABLE IF NOT EXISTS events (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    event TEXT NOT NULL,
    timestamp REAL NOT NULL,
    raw TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_run ON events (run_id, seq);
CREATE TABLE IF NOT EXISTS metrics (
    run_id TEXT NOT NULL,
    step INTEGER NOT NULL,
    key TEXT NOT NULL,
    value REAL,
    timestamp REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS metrics_by_run ON metrics (run_id, key, step);
CREATE TABLE IF NOT EXISTS anomalies (
    run_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL,
    raw BLOB,
    recorded_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS anomalies_by_run ON anomalies (run_id);
CREATE TABLE IF NOT EXISTS envs (
    name TEXT PRIMARY KEY,
    worker_type TEXT NOT NULL,
    path TEXT NOT NULL,
    python TEXT NOT NULL,
    python_version TEXT NOT NULL,
    requirements TEXT NOT NULL,
    workers TEXT NOT NULL,
    created_at REAL NOT NULL
);
"""

# Columns a caller may set through update(); the rest are the store's own.
_UPDATABLE = frozenset(
    {
        "status", "reason", "started_at", "ended_at", "pid", "pid_start", "supervisor_pid",
        "supervisor_start", "exit_code", "signal", "env_name", "python", "cancel_requested",
        "terminal_event", "summary", "error",
    }
)  # fmt: skip


class RunNotFound(MosaicError, KeyError):
    """No run with that id (or id prefix) is in the store."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "run not found"


def mosaic_home() -> pathlib.Path:
    """``$MOSAIC_HOME``, or ``~/.mosaic``."""
    return pathlib.Path(os.environ.get("MOSAIC_HOME") or pathlib.Path.home() / ".mosaic")


def _migrated(db: sqlite3.Connection, runs_dir: pathlib.Path, readonly: bool) -> sqlite3.Connection:
    """``db`` at the schema this mosaic-core reads (see :mod:`mosaic_core.runs.migrations`).

    A read-only store an older mosaic-core made is migrated as a copy in memory:
    the reading commands work on it, and nothing is written.
    """
    try:
        if schema_version(db) >= len(MIGRATIONS):
            return db
        if readonly:
            copy = sqlite3.connect(":memory:", isolation_level=None)
            db.backup(copy)
            db.close()
            db = copy
        migrate(db, runs_dir)
    except sqlite3.Error as exc:
        db.close()
        raise explain(exc, runs_dir.parent) or exc from None
    return db


class RunStore:
    """One ``$MOSAIC_HOME``: run directories plus their SQLite index.

    A store object holds one connection; use one per thread. ``readonly``
    opens the index without ever writing (the reading commands on a
    read-only home); its writing methods raise
    ``StoreReadOnly``.
    """

    def __init__(
        self, home: str | os.PathLike[str] | None = None, *, readonly: bool = False
    ) -> None:
        self.home = pathlib.Path(home) if home is not None else mosaic_home()
        self.readonly = readonly
        self.runs_dir = self.home / "runs"
        self.db_path = self.home / "mosaic.db"
        if not readonly:
            try:
                self.runs_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise explain(exc, self.home) or exc from None
        self._db = _migrated(
            connect(self.db_path, readonly=readonly, schema=_SCHEMA), self.runs_dir, readonly
        )
        self._db.row_factory = sqlite3.Row

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``: one writer at a time across processes."""
        if self.readonly:
            raise StoreReadOnly(
                f"the run store {self.home} was opened read-only: this command writes to it"
            )
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
            self._db.execute("COMMIT")
        except BaseException:
            # A failed COMMIT (a full disk) leaves the transaction open, and SQLite may
            # have rolled it back already: either way, end it, and report the first error.
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")
            raise

    # -- runs ------------------------------------------------------------------

    def run_dir(self, run_id: str) -> pathlib.Path:
        return self.runs_dir / check_run_id(run_id)

    def create_run(
        self,
        run_id: str,
        worker_type: str,
        config: Mapping[str, Any],
        *,
        env_name: str | None = None,
        python: str | None = None,
        group: str | None = None,
        headline_metric: str | None = None,
    ) -> pathlib.Path:
        """Make the run directory, write ``config.json`` and ``run.json``, index the run.

        ``group`` names the sweep or group the run belongs to; ``headline_metric``
        is the metric key its worker reports as its headline (see
        :attr:`mosaic_core.WorkerSpec.headline_metric`).

        All or nothing: a config no index can hold (see
        ``check_json``) is a ConfigError before anything
        is made, and a failure half-way removes the directory again.
        """
        from mosaic_core._fields import check_json  # dataclasses, inspect: not to list runs

        check_json(config)
        directory = self.run_dir(run_id)
        try:
            directory.mkdir(parents=True)
        except FileExistsError:
            raise ConfigError(
                f"run {run_id!r} already exists in {self.runs_dir}; choose another run id",
                field="run_id",
                value=run_id,
                expected="a new run id",
            ) from None
        # All or nothing: a run the index never learns of must not stay on disk.
        try:
            for sub in ("checkpoints", "tensorboard", "videos"):
                (directory / sub).mkdir()
            write_json(directory / "config.json", config)
            (directory / "events.jsonl").touch()
            record = {
                "run_id": run_id,
                "worker_type": worker_type,
                "status": "pending",
                "created_at": time.time(),
                "env_name": env_name,
                "python": python,
                "algorithm": _str_or_none(config.get("algorithm")),
                "env_id": _str_or_none(config.get("env_id")),
                "seed": _int64(config.get("seed")),
                "total_steps": _int64(config.get("total_steps")),
                "group_name": group,
                "headline_metric": headline_metric,
            }
            write_json(directory / "run.json", record)
            indexed = {**record, "config": json.dumps(config, separators=(",", ":"), default=str)}
            with self.transaction() as db:
                columns = ", ".join(indexed)
                marks = ", ".join("?" for _ in indexed)
                db.execute(f"INSERT INTO runs ({columns}) VALUES ({marks})", list(indexed.values()))
        except BaseException as exc:
            shutil.rmtree(directory, ignore_errors=True)
            if isinstance(exc, (OSError, sqlite3.Error)):
                raise explain(exc, self.home) or exc from None
            raise
        return directory

    def update(self, run_id: str, **fields: Any) -> None:
        """Set supervisor-owned fields, in the database and in ``run.json``."""
        unknown = set(fields) - _UPDATABLE
        if unknown:
            raise ValueError(f"cannot update run columns {sorted(unknown)}")
        if not fields:
            return
        # run.json is written inside the transaction: a rebuild, which reads it inside
        # its own, sees the database and the file agree.
        with self.transaction() as db:
            assignments = ", ".join(f"{k} = ?" for k in fields)
            db.execute(
                f"UPDATE runs SET {assignments} WHERE run_id = ?", [*fields.values(), run_id]
            )
            row = db.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            directory = self.runs_dir / run_id
            if row is not None and directory.is_dir():
                write_json(directory / "run.json", {k: row[k] for k in _RUN_JSON})

    def get(self, run_id: str) -> dict[str, Any]:
        """The run whose id is ``run_id`` or starts with it (unambiguously)."""
        if not isinstance(run_id, str) or not _RUN_REF.match(run_id):
            raise RunNotFound(
                f"no run {short_repr(run_id, 60)} in {self.home}: a run id is 1-128 letters, "
                "digits, '.', '_' or '-' (see `mosaic runs`)"
            )
        row = self._db.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None and run_id:
            rows = self._db.execute(
                "SELECT * FROM runs WHERE run_id LIKE ? ESCAPE '\\' LIMIT 3",
                (run_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",),
            ).fetchall()
            if len(rows) > 1:
                raise RunNotFound(
                    f"run id prefix {run_id!r} is ambiguous: "
                    + ", ".join(r["run_id"] for r in rows)
                    + "; give more characters"
                )
            row = rows[0] if rows else None
        if row is None:
            raise RunNotFound(f"no run {run_id!r} in {self.home} (see `mosaic runs`)")
        return dict(row)

    def list_runs(
        self,
        *,
        worker_type: str | None = None,
        status: str | None = None,
        group: str | None = None,
        limit: int | None = None,
        columns: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """The runs, newest first; with ``columns`` only those of each (cheaper by far
        than all of them, with each run's config, for a table of 10,000 runs)."""
        names, rows = self._select_runs(columns, worker_type, status, group, limit)
        return [dict(zip(names, row, strict=True)) for row in rows]

    def run_tuples(
        self,
        columns: Sequence[str],
        *,
        worker_type: str | None = None,
        status: str | None = None,
        group: str | None = None,
        limit: int | None = None,
        headline: str | None = None,
        tail: int = 10,
    ) -> tuple[list[tuple[Any, ...]], Callable[[Any], float | None]]:
        """:meth:`list_runs` as tuples of ``columns`` and one value more, of which a table
        of many runs makes its rows without a dict per run first; and the function that
        makes that last value the run's ``headline`` figure (a stat of :meth:`metric_stat`)
        of its declared headline metric, as :meth:`headline_stat` gives it: None where it
        declares none, has not reported it, or no ``headline`` is asked. For ``tail``,
        ``last``, ``min`` and ``max`` the statement that reads the runs reads the figures,
        which are made as the caller makes its rows, not first in tuples of their own."""
        join, extra = False, "NULL"
        figure: Callable[[Any], float | None] = _nothing
        if headline is not None:
            selected = figures.headline_column(headline, tail)
            if selected is None:  # not one column: the runs' summaries, by run id
                extra, figure = "runs.run_id", self.headline_stat(headline, tail=tail).get
            else:
                join, (extra, figure) = True, selected
        return self._select_runs(columns, worker_type, status, group, limit, extra, join)[1], figure

    def _select_runs(
        self,
        columns: Sequence[str] | None,
        worker_type: str | None,
        status: str | None,
        group: str | None,
        limit: int | None,
        extra: str | None = None,
        join: bool = False,
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """The names of ``columns`` (all without), then of ``extra`` if given, which may
        name ``metric_keys`` if ``join`` (see ``figures.HEADLINE_JOIN``); and the runs
        newest first, as tuples of them."""
        if status is not None and status not in STATUSES:
            raise ConfigError.bad_value("--status", status, f"one of {', '.join(STATUSES)}")
        if columns is not None and not all(name.isidentifier() for name in columns):
            raise ValueError(f"list_runs(columns={list(columns)!r}): expected column names")
        selected = ", ".join(f"runs.{name}" for name in columns) if columns else "runs.*"
        if extra is not None:
            selected += f", {extra}"
        query = f"SELECT {selected} FROM runs" + (f" {figures.HEADLINE_JOIN}" if join else "")
        clauses, params = [], []
        if worker_type:
            clauses.append("runs.worker_type = ?")
            params.append(_text(worker_type))
        if status:
            clauses.append("runs.status = ?")
            params.append(status)
        if group is not None:
            clauses.append("runs.group_name = ?")
            params.append(group)
        if clauses:
            query += " WHERE " + " AND ".join(clauses)
        # Every run: sorted here, as SQLite would (created_at is a number, run_id unique),
        # in half the time its sorter takes over 10,000 runs (they come nearly in order).
        here = not limit and (not columns or {"created_at", "run_id"} <= set(columns))
        if not here:
            query += " ORDER BY runs.created_at DESC, runs.run_id DESC"
            if limit:
                query += f" LIMIT {int(limit)}"
        cursor = self._db.cursor()
        cursor.row_factory = None  # tuples: sqlite3.Row, then made a dict, is slower
        rows = cursor.execute(query, params).fetchall()
        names = [column[0] for column in cursor.description]
        if here:
            newest = operator.itemgetter(names.index("created_at"), names.index("run_id"))
            rows.sort(key=newest, reverse=True)
        return names, rows

    def cancel_requests(self, run_ids: Sequence[str]) -> dict[str, bool]:
        """``{run id: cancel requested}`` for those of ``run_ids`` still in the store."""
        out: dict[str, bool] = {}
        for chunk in _chunks(list(run_ids)):
            marks = ", ".join("?" for _ in chunk)
            rows = self._db.execute(
                f"SELECT run_id, cancel_requested FROM runs WHERE run_id IN ({marks})", chunk
            )
            out.update((row[0], bool(row[1])) for row in rows)
        return out

    def run_marks(self) -> dict[str, tuple[Any, ...]]:
        """Per run, the columns that change while it lives (status, reason, step, events,
        anomalies, end): compare two readings to know which runs changed, cheaply."""
        rows = self._db.execute(
            "SELECT run_id, status, reason, last_step, events, anomalies, ended_at FROM runs"
        )
        return {row[0]: tuple(row[1:]) for row in rows}

    def get_many(self, run_ids: Sequence[str]) -> list[dict[str, Any]]:
        """The records of the runs with these exact ids (those that exist), newest first."""
        out: list[dict[str, Any]] = []
        for chunk in _chunks(list(run_ids)):
            marks = ", ".join("?" for _ in chunk)
            out += [dict(r) for r in self._db.execute(
                f"SELECT * FROM runs WHERE run_id IN ({marks})", chunk)]  # fmt: skip
        out.sort(key=lambda r: (r["created_at"], r["run_id"]), reverse=True)
        return out

    def delete(self, run_id: str) -> None:
        with self.transaction() as db:
            for table in ("events", *series.TABLES, "anomalies", "runs"):
                db.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))
        shutil.rmtree(self.runs_dir / check_run_id(run_id), ignore_errors=True)

    # -- telemetry ---------------------------------------------------------------

    def ingest(
        self,
        run_id: str,
        items: Sequence[Item],
        ingested_bytes: int,
        next_seq: int,
        *,
        expect_offset: int | None = None,
        scrub: Scrubber | None = None,
        progress: Progress | None = None,
    ) -> bool:
        """Index parsed telemetry of one run, and remember how far the file was read.

        With ``expect_offset`` nothing is written unless the index still
        stands at that offset (another process may have caught up first, or a
        rebuild started over); returns whether the items were indexed.
        ``scrub`` replaces the run's secret values wherever they appear.
        ``progress``, once the items are indexed, is brought up to date with
        them (in the pass that indexes them: a flood's events are not gone
        through twice).
        """
        from mosaic_core.runs.reader import Anomaly, TelemetryEvent

        # Event rows as one flat list of column values, five per row: see _insert_events.
        events: list[Any] = []
        batch = series.Batch()
        anomalies: list[tuple[Any, ...]] = []
        started: dict[str, Any] | None = None
        terminal: TelemetryEvent | None = None
        last_step: int | None = None
        last_ts: float | None = None
        latest: dict[str, Any] = {}  # each metric key's newest value, for ``progress``
        count = 0
        now = time.time()
        add, note = batch.add, latest.update
        for item in items:
            if type(item) is TelemetryEvent:
                count += 1
                event, _, seq, ts, payload, raw, _ = item
                if scrub and scrub.hits(raw.decode()):
                    item = _scrubbed(item, scrub)
                    payload = item.payload
                    events += (run_id, seq, event, ts, item.raw.decode())
                elif event != "metrics":  # a metrics event's line stays in events.jsonl
                    events += (run_id, seq, event, ts, raw.decode())
                last_ts = ts
                step = payload.get("step")  # the reader has flagged one beyond 64 bits
                if type(step) is int:
                    last_step = step
                else:
                    step = None
                if event == "metrics":
                    values = payload.get("values")
                    if type(values) is dict:
                        note(values)
                        if step is not None:
                            add(step, ts, values)
                elif event == "run_started":
                    started = payload
                elif item.is_terminal:
                    terminal = item
            elif isinstance(item, Anomaly):
                raw = item.raw
                if scrub and raw and scrub.hits(raw.decode("utf-8", "replace")):
                    raw = scrub.text(raw.decode("utf-8", "replace")).encode()
                anomalies.append((run_id, item.kind, _text(item.detail), raw, now))
        with self.transaction() as db:
            row = db.execute(
                "SELECT ingested_bytes, metric_points FROM runs WHERE run_id = ?", (run_id,)
            ).fetchone()
            if expect_offset is not None and (row is None or row[0] != expect_offset):
                return False
            _insert_events(db, events)
            if batch.count and row is not None:
                series.write_batch(db, run_id, row[1], batch)
            if anomalies:
                db.executemany("INSERT INTO anomalies VALUES (?, ?, ?, ?, ?)", anomalies)
            db.execute(
                "UPDATE runs SET events = events + ?, anomalies = anomalies + ?,"
                " metric_points = metric_points + ?, ingested_bytes = ?, next_seq = ?,"
                " last_step = COALESCE(?, last_step), last_event_at = COALESCE(?, last_event_at)"
                " WHERE run_id = ?",
                (count, len(anomalies), batch.count, ingested_bytes, next_seq,
                 last_step, last_ts, run_id),
            )  # fmt: skip
            if started is not None:
                db.execute(
                    "UPDATE runs SET algorithm = COALESCE(?, algorithm),"
                    " env_id = COALESCE(?, env_id), total_steps = COALESCE(?, total_steps),"
                    " seed = COALESCE(seed, ?) WHERE run_id = ?",
                    (
                        _str_or_none(started.get("algorithm")),
                        _str_or_none(started.get("env_id")),
                        _int64(started.get("total_steps")),
                        _int64(started.get("seed")),
                        run_id,
                    ),
                )
            if terminal is not None:
                db.execute(
                    "UPDATE runs SET terminal_event = ?, summary = ?, error = COALESCE(?, error)"
                    " WHERE run_id = ? AND terminal_event IS NULL",
                    (
                        terminal.event,
                        json.dumps(terminal.payload),
                        _str_or_none(terminal.payload.get("error")),
                        run_id,
                    ),
                )
        if progress is not None:
            progress.events += count
            progress.metrics.update(latest)
            if last_step is not None:
                progress.step = last_step
            total = None if started is None else _int64(started.get("total_steps"))
            if total is not None:  # as the index keeps it
                progress.total_steps = total
        return True

    def catch_up(
        self, run_id: str, *, final: bool = False, scrub: Scrubber | None = None
    ) -> dict[str, Any]:
        """Index whatever ``events.jsonl`` holds beyond what the database has; returns the run.

        With ``final`` the stream is over: a last line without its newline
        is recorded as a truncated line.
        """
        run = self.get(run_id)
        from mosaic_core.runs.reader import TelemetryReader

        reader = TelemetryReader(expected_run_id=run["run_id"])
        reader.next_seq = run["next_seq"]
        path = self.runs_dir / run["run_id"] / "events.jsonl"
        offset = run["ingested_bytes"]
        try:
            with path.open("rb") as handle:
                handle.seek(offset)
                indexed = offset
                while chunk := handle.read(1 << 22):
                    items = reader.feed(chunk)
                    offset += len(chunk)
                    end = offset - reader.buffered
                    if not self.ingest(
                        run["run_id"], items, end, reader.next_seq, expect_offset=indexed,
                        scrub=scrub,
                    ):  # fmt: skip
                        return self.get(run["run_id"])  # someone else is catching up
                    indexed = end
        except FileNotFoundError:
            return self.get(run["run_id"])
        if final:
            items = reader.close()
            if items:
                self.ingest(
                    run["run_id"], items, offset, reader.next_seq, expect_offset=indexed,
                    scrub=scrub,
                )  # fmt: skip
        return self.get(run["run_id"])

    def events(self, run_id: str) -> list[dict[str, Any]]:
        """Every event of a run the index has read, in order of ``seq``.

        ``events`` holds a row for each event but ``metrics`` (whose values are
        in ``metric_chunks``, and whose lines stay in ``events.jsonl``: a row
        per value doubled what indexing a flood cost), and for a ``metrics``
        event whose line held a secret, scrubbed. The other ``metrics`` events
        are read back from ``events.jsonl``, up to where the index stands.
        """
        from mosaic_core.runs.reader import TelemetryEvent

        rows = self._db.execute(
            "SELECT seq, event, raw FROM events WHERE run_id = ? ORDER BY rowid", (run_id,)
        ).fetchall()
        kept = [(row[0], json.loads(row[2])) for row in rows]
        have = {row[0] for row in rows if row[1] == "metrics"}
        found = self._db.execute(
            "SELECT ingested_bytes FROM runs WHERE run_id = ?", (run_id,)
        ).fetchone()
        if found is None or not found[0]:
            return [event for _, event in kept]
        lines = [
            (item.seq, json.loads(item.raw))
            for item in _read_indexed(self.run_dir(run_id) / "events.jsonl", found[0], run_id)
            if type(item) is TelemetryEvent and item.event == "metrics" and item.seq not in have
        ]
        return [event for _, event in heapq.merge(kept, lines, key=operator.itemgetter(0))]

    def anomalies(self, run_id: str) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT kind, detail, recorded_at FROM anomalies WHERE run_id = ? ORDER BY rowid",
            (run_id,),
        ).fetchall()
        return [dict(r) for r in rows]

    def metrics(self, run_id: str, key: str | None = None) -> list[dict[str, Any]]:
        """``{"step", "key", "value", "timestamp"}`` per point of a run (or of its ``key``),
        in the order reported; ``value`` is None where the event gave no number."""
        return series.points(self._db, run_id, key)

    def metric_series(self, run_id: str, key: str) -> series.Series:
        """One metric of a run as arrays (steps, values with NaN for no number, timestamps),
        in the order reported: the fast way to read a long curve."""
        return series.read_series(self._db, run_id, key).get(key) or series.Series()

    def metric_since(
        self, run_id: str, key: str, *, after: int = 0
    ) -> tuple[array.array[int], array.array[float], array.array[float], int]:
        """``(steps, values, timestamps, next)``: one metric's points from place ``after`` on
        among the run's points, in the order written (NaN where a point had no number).
        Pass ``next`` back as ``after`` to read only what was written since."""
        return series.read_since(self._db, run_id, key, after)

    def data_version(self) -> int:
        """A number that changes whenever another connection commits to the database:
        a cheap way to know whether to look again (SQLite's ``PRAGMA data_version``)."""
        return int(self._db.execute("PRAGMA data_version").fetchone()[0])

    def final_metrics(self, run_id: str) -> dict[str, float | None]:
        """The last value of every metric key of a run."""
        return figures.last_values(self._db, run_id)

    def metric_keys(self, run_ids: Sequence[str]) -> dict[str, list[str]]:
        """The metric keys each run has, sorted; a run without metrics has none."""
        return figures.keys(self._db, run_ids)

    def metric_summary(
        self, run_ids: Sequence[str], key: str, *, tail: int = 10
    ) -> dict[str, dict[str, Any]]:
        """Per run with metric ``key``: ``count``, ``min``, ``max``, ``mean``, ``last``,
        ``last_step`` and ``tail`` (the mean of its last ``tail`` values, by step)."""
        return figures.summaries(self._db, run_ids, key, tail)

    def metric_stat(
        self, run_ids: Sequence[str], key: str, stat: str, *, tail: int = 10
    ) -> dict[str, float | None]:
        """One figure of :meth:`metric_summary` (``tail``, ``last``, ``max`` ...) per run
        with metric ``key``: it reads only what that figure needs."""
        return figures.figure(self._db, run_ids, key, stat, tail)

    def headline_stat(self, stat: str, *, tail: int = 10) -> dict[str, float | None]:
        """:meth:`metric_stat` of each run's declared headline metric, for every run in the
        store that has reported it: a listing of every run asks this once."""
        return figures.headline_figures(self._db, stat, tail)

    def groups(self) -> list[dict[str, Any]]:
        """Every group with its number of runs and when its first and last runs were made."""
        rows = self._db.execute(
            "SELECT group_name AS name, COUNT(*) AS runs, MIN(created_at) AS first_created,"
            " MAX(created_at) AS last_created FROM runs WHERE group_name IS NOT NULL"
            " GROUP BY group_name ORDER BY last_created DESC"
        )
        return [dict(r) for r in rows]

    # -- environments --------------------------------------------------------------

    def save_env(self, record: Mapping[str, Any]) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO envs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record["name"], record["worker_type"], record["path"], record["python"],
                    record["python_version"], json.dumps(record["requirements"]),
                    json.dumps(record["workers"]), record["created_at"],
                ),
            )  # fmt: skip

    def envs(self) -> list[dict[str, Any]]:
        out = []
        for row in self._db.execute("SELECT * FROM envs ORDER BY name"):
            record = dict(row)
            record["requirements"] = json.loads(record["requirements"])
            record["workers"] = json.loads(record["workers"])
            out.append(record)
        return out

    def get_env(self, name: str) -> dict[str, Any]:
        for record in self.envs():
            if record["name"] == name:
                return record
        known = ", ".join(r["name"] for r in self.envs()) or "none"
        raise ConfigError(
            f"no environment named {name!r}; known: {known} (make one with `mosaic env create`)",
            field="--env",
            value=name,
        )

    # -- rebuild -------------------------------------------------------------------

    def rebuild(self) -> int:
        """Index every run directory again, and the environments' ``mosaic-env.json``;
        returns the number of runs indexed (see ``mosaic_core.runs.reindex``)."""
        from mosaic_core.runs.reindex import rebuild_envs, rebuild_lock, rebuild_runs

        with rebuild_lock(self.home):
            count, _skipped = rebuild_runs(self, STATUSES, ACTIVE_STATUSES)
            rebuild_envs(self)
        return count


# What run.json holds: the supervisor's view of a run.
_RUN_JSON = (
    "run_id", "worker_type", "status", "reason", "created_at", "started_at", "ended_at",
    "pid", "pid_start", "supervisor_pid", "supervisor_start", "exit_code", "signal",
    "env_name", "python", "algorithm", "env_id", "seed", "total_steps", "terminal_event",
    "error", "group_name", "headline_metric",
)  # fmt: skip
# A run id, or a prefix of one: anything else names no run (and is never a LIKE pattern).
_RUN_REF = re.compile(r"[A-Za-z0-9._-]{1,128}\Z")


def _nothing(value: Any) -> float | None:
    """No figure, whatever the value (:meth:`RunStore.run_tuples` without a headline)."""
    return None


def terminal_status(event: str | None) -> str | None:
    return _TERMINAL_STATUS.get(event) if event else None


_ROWS_PER_INSERT = 100  # 500 parameters: under SQLite's oldest limit of 999
_INSERT_ONE = "INSERT INTO events VALUES (?, ?, ?, ?, ?)"
_INSERT_MANY = "INSERT INTO events VALUES " + ", ".join(["(?, ?, ?, ?, ?)"] * _ROWS_PER_INSERT)


def _insert_events(db: sqlite3.Connection, flat: list[Any]) -> None:
    """Insert event rows of five columns, given one after another in ``flat``, in order.

    A hundred rows per statement: SQLite then runs one statement where
    ``executemany`` of single rows would step and reset one per row.
    """
    width = 5 * _ROWS_PER_INSERT
    whole = len(flat) - len(flat) % width
    if whole:
        db.executemany(_INSERT_MANY, [flat[i : i + width] for i in range(0, whole, width)])
    if whole < len(flat):
        db.executemany(_INSERT_ONE, [flat[i : i + 5] for i in range(whole, len(flat), 5)])


def _read_indexed(path: pathlib.Path, size: int, run_id: str) -> list[Item]:
    """The items of the first ``size`` bytes of ``path`` (where the index stands), or none
    if the file is gone."""
    from mosaic_core.runs.reader import read_events

    def upto(handle: IO[bytes], left: int) -> Iterator[bytes]:
        while left > 0 and (chunk := handle.read(min(left, 1 << 22))):
            left -= len(chunk)
            yield chunk

    try:
        with path.open("rb") as handle:
            return list(read_events(upto(handle, size), expected_run_id=run_id))
    except FileNotFoundError:
        return []


def _int64(value: Any) -> int | None:
    """``value`` if it is an integer SQLite can hold, else None."""
    if type(value) is int and -(2**63) <= value < 2**63:
        return value
    return None


def _str_or_none(value: Any) -> str | None:
    return _text(value) if isinstance(value, str) else None


def _scrubbed(event: TelemetryEvent, scrub: Scrubber) -> TelemetryEvent:
    """The event with every secret value replaced by ``***``, raw line included."""
    payload = scrub.value(event.payload)
    envelope = {
        "v": event.v, "event": event.event, "run_id": event.run_id, "seq": event.seq,
        "timestamp": event.timestamp, "payload": payload,
    }  # fmt: skip
    raw = json.dumps(envelope, separators=(",", ":")).encode()
    return event._replace(payload=payload, raw=raw)


def write_json(path: pathlib.Path, data: Any) -> None:
    """Write whole or not at all (a full disk leaves the old file, never half a new one)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise

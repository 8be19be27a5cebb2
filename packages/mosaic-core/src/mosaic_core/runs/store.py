"""The run store: ``$MOSAIC_HOME/runs/<run_id>/`` on disk, indexed in ``mosaic.db``.

The run directory is the source of truth: ``events.jsonl`` holds every line
the worker wrote on its telemetry channel, ``run.json`` what the supervisor
saw (status, reason, exit code, times). ``mosaic.db`` (SQLite, WAL) indexes
runs, events, metrics and anomalies for queries, and :meth:`RunStore.rebuild`
makes it again from the directories. Several supervisors may share one
store: SQLite serialises their writes.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import shutil
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from mosaic_core._config import check_run_id
from mosaic_core._errors import ConfigError, MosaicError
from mosaic_core.runs.migrations import migrate, read_config
from mosaic_core.runs.reader import Anomaly, Item, TelemetryEvent, TelemetryReader

__all__ = ["ACTIVE_STATUSES", "STATUSES", "RunNotFound", "RunStore", "mosaic_home"]

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


class RunStore:
    """One ``$MOSAIC_HOME``: run directories plus their SQLite index.

    A store object holds one connection; use one per thread.
    """

    def __init__(self, home: str | os.PathLike[str] | None = None) -> None:
        self.home = pathlib.Path(home) if home is not None else mosaic_home()
        self.runs_dir = self.home / "runs"
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self.db_path = self.home / "mosaic.db"
        self._db = sqlite3.connect(self.db_path, timeout=30.0, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA busy_timeout = 30000")
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.executescript(_SCHEMA)
        migrate(self._db, self.runs_dir)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``: one writer at a time across processes."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

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
        """
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
        for sub in ("checkpoints", "tensorboard", "videos"):
            (directory / sub).mkdir()
        _write_json(directory / "config.json", config)
        (directory / "events.jsonl").touch()
        now = time.time()
        record = {
            "run_id": run_id,
            "worker_type": worker_type,
            "status": "pending",
            "created_at": now,
            "env_name": env_name,
            "python": python,
            "algorithm": config.get("algorithm"),
            "env_id": config.get("env_id"),
            "seed": config.get("seed") if isinstance(config.get("seed"), int) else None,
            "total_steps": config.get("total_steps")
            if isinstance(config.get("total_steps"), int)
            else None,
            "group_name": group,
            "headline_metric": headline_metric,
        }
        _write_json(directory / "run.json", record)
        indexed = {**record, "config": json.dumps(config, separators=(",", ":"), default=str)}
        with self.transaction() as db:
            columns = ", ".join(indexed)
            marks = ", ".join("?" for _ in indexed)
            db.execute(f"INSERT INTO runs ({columns}) VALUES ({marks})", list(indexed.values()))
        return directory

    def update(self, run_id: str, **fields: Any) -> None:
        """Set supervisor-owned fields, in the database and in ``run.json``."""
        unknown = set(fields) - _UPDATABLE
        if unknown:
            raise ValueError(f"cannot update run columns {sorted(unknown)}")
        if not fields:
            return
        with self.transaction() as db:
            assignments = ", ".join(f"{k} = ?" for k in fields)
            db.execute(
                f"UPDATE runs SET {assignments} WHERE run_id = ?", [*fields.values(), run_id]
            )
        self._sync_run_json(run_id)

    def _sync_run_json(self, run_id: str) -> None:
        row = self._db.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            return
        keep = (
            "run_id", "worker_type", "status", "reason", "created_at", "started_at", "ended_at",
            "pid", "pid_start", "supervisor_pid", "supervisor_start", "exit_code", "signal",
            "env_name", "python", "algorithm", "env_id", "seed", "total_steps", "terminal_event",
            "error", "group_name", "headline_metric",
        )  # fmt: skip
        record = {k: row[k] for k in keep}
        directory = self.runs_dir / run_id
        if directory.is_dir():
            _write_json(directory / "run.json", record)

    def get(self, run_id: str) -> dict[str, Any]:
        """The run whose id is ``run_id`` or starts with it (unambiguously)."""
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
    ) -> list[dict[str, Any]]:
        if status is not None and status not in STATUSES:
            raise ConfigError.bad_value("--status", status, f"one of {', '.join(STATUSES)}")
        query = "SELECT * FROM runs"
        clauses, params = [], []
        if worker_type:
            clauses.append("worker_type = ?")
            params.append(worker_type)
        if status:
            clauses.append("status = ?")
            params.append(status)
        if group is not None:
            clauses.append("group_name = ?")
            params.append(group)
        if clauses:
            query += " WHERE " + " AND ".join(clauses)
        query += " ORDER BY created_at DESC, run_id DESC"
        if limit:
            query += f" LIMIT {int(limit)}"
        return [dict(r) for r in self._db.execute(query, params)]

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
            for table in ("events", "metrics", "anomalies", "runs"):
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
    ) -> bool:
        """Index parsed telemetry of one run, and remember how far the file was read.

        With ``expect_offset`` nothing is written unless the index still
        stands at that offset (another process may have caught up first);
        returns whether the items were indexed.
        """
        # Rows as flat lists of column values, five per row: see _insert_rows.
        events: list[Any] = []
        metrics: list[Any] = []
        anomalies: list[tuple[Any, ...]] = []
        started: dict[str, Any] | None = None
        terminal: TelemetryEvent | None = None
        last_step: int | None = None
        last_ts: float | None = None
        now = time.time()
        for item in items:
            if isinstance(item, TelemetryEvent):
                event, ts, payload = item.event, item.timestamp, item.payload
                events += (run_id, item.seq, event, ts, item.raw.decode())
                last_ts = ts
                step = payload.get("step")
                if type(step) is int:
                    last_step = step
                if event == "metrics":
                    values = payload.get("values")
                    if isinstance(values, dict) and type(step) is int:
                        for key, value in values.items():
                            if type(value) is not float:
                                value = _number(value)
                            metrics += (run_id, step, key, value, ts)
                elif event == "run_started":
                    started = payload
                elif item.is_terminal:
                    terminal = item
            elif isinstance(item, Anomaly):
                anomalies.append((run_id, item.kind, item.detail, item.raw, now))
        with self.transaction() as db:
            if expect_offset is not None:
                row = db.execute(
                    "SELECT ingested_bytes FROM runs WHERE run_id = ?", (run_id,)
                ).fetchone()
                if row is None or row[0] != expect_offset:
                    return False
            _insert_rows(db, "events", events)
            _insert_rows(db, "metrics", metrics)
            if anomalies:
                db.executemany("INSERT INTO anomalies VALUES (?, ?, ?, ?, ?)", anomalies)
            db.execute(
                "UPDATE runs SET events = events + ?, anomalies = anomalies + ?,"
                " ingested_bytes = ?, next_seq = ?,"
                " last_step = COALESCE(?, last_step), last_event_at = COALESCE(?, last_event_at)"
                " WHERE run_id = ?",
                (len(events) // 5, len(anomalies), ingested_bytes, next_seq, last_step, last_ts,
                 run_id),
            )  # fmt: skip
            if started is not None:
                db.execute(
                    "UPDATE runs SET algorithm = COALESCE(?, algorithm),"
                    " env_id = COALESCE(?, env_id), total_steps = COALESCE(?, total_steps),"
                    " seed = COALESCE(seed, ?) WHERE run_id = ?",
                    (
                        _str_or_none(started.get("algorithm")),
                        _str_or_none(started.get("env_id")),
                        started.get("total_steps")
                        if type(started.get("total_steps")) is int
                        else None,
                        started.get("seed") if type(started.get("seed")) is int else None,
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
        return True

    def catch_up(self, run_id: str, *, final: bool = False) -> dict[str, Any]:
        """Index whatever ``events.jsonl`` holds beyond what the database has; returns the run.

        With ``final`` the stream is over: a last line without its newline
        is recorded as a truncated line.
        """
        run = self.get(run_id)
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
                        run["run_id"], items, end, reader.next_seq, expect_offset=indexed
                    ):
                        return self.get(run["run_id"])  # someone else is catching up
                    indexed = end
        except FileNotFoundError:
            return self.get(run["run_id"])
        if final:
            items = reader.close()
            if items:
                self.ingest(run["run_id"], items, offset, reader.next_seq, expect_offset=indexed)
        return self.get(run["run_id"])

    def events(self, run_id: str) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT raw FROM events WHERE run_id = ? ORDER BY rowid", (run_id,)
        ).fetchall()
        return [json.loads(r["raw"]) for r in rows]

    def anomalies(self, run_id: str) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT kind, detail, recorded_at FROM anomalies WHERE run_id = ? ORDER BY rowid",
            (run_id,),
        ).fetchall()
        return [dict(r) for r in rows]

    def metrics(self, run_id: str, key: str | None = None) -> list[dict[str, Any]]:
        query = "SELECT step, key, value, timestamp FROM metrics WHERE run_id = ?"
        params: list[Any] = [run_id]
        if key is not None:
            query += " AND key = ?"
            params.append(key)
        query += " ORDER BY rowid"
        return [dict(r) for r in self._db.execute(query, params)]

    def metric_rows(
        self, run_id: str, key: str, *, after: int = 0
    ) -> list[tuple[int, int, float | None, float]]:
        """``(rowid, step, value, timestamp)`` of one metric, in the order written, from
        after row ``after`` on: a reader that keeps the last rowid reads only what is new."""
        if not after:
            return self._db.execute(
                "SELECT rowid, step, value, timestamp FROM metrics"
                " WHERE run_id = ? AND key = ? ORDER BY rowid",
                (run_id, key),
            ).fetchall()
        # Rows after ``after`` by the table's own order: the (run_id, key, step) index
        # would visit every earlier row of the metric to check its rowid.
        return self._db.execute(
            "SELECT rowid, step, value, timestamp FROM metrics NOT INDEXED"
            " WHERE rowid > ? AND run_id = ? AND key = ? ORDER BY rowid",
            (after, run_id, key),
        ).fetchall()

    def data_version(self) -> int:
        """A number that changes whenever another connection commits to the database:
        a cheap way to know whether to look again (SQLite's ``PRAGMA data_version``)."""
        return int(self._db.execute("PRAGMA data_version").fetchone()[0])

    def final_metrics(self, run_id: str) -> dict[str, float | None]:
        """The last value of every metric key of a run."""
        rows = self._db.execute(
            "SELECT key, value FROM metrics WHERE rowid IN"
            " (SELECT MAX(rowid) FROM metrics WHERE run_id = ? GROUP BY key) ORDER BY key",
            (run_id,),
        ).fetchall()
        return {r["key"]: r["value"] for r in rows}

    def metric_keys(self, run_ids: Sequence[str]) -> dict[str, list[str]]:
        """The metric keys each run has, sorted; a run without metrics has none."""
        out: dict[str, list[str]] = {run_id: [] for run_id in run_ids}
        for chunk in _chunks(list(run_ids)):
            marks = ", ".join("?" for _ in chunk)
            rows = self._db.execute(
                f"SELECT DISTINCT run_id, key FROM metrics WHERE run_id IN ({marks})"
                " ORDER BY run_id, key",
                chunk,
            )
            for run_id, key in rows:
                out[run_id].append(key)
        return out

    def metric_summary(
        self, run_ids: Sequence[str], key: str, *, tail: int = 10
    ) -> dict[str, dict[str, Any]]:
        """Per run with metric ``key``: ``count``, ``min``, ``max``, ``mean``, ``last``,
        ``last_step`` and ``tail`` (the mean of its last ``tail`` values)."""
        out: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(list(run_ids)):
            marks = ", ".join("?" for _ in chunk)
            for row in self._db.execute(
                "SELECT run_id, COUNT(value) AS count, MIN(value) AS min, MAX(value) AS max,"
                f" AVG(value) AS mean FROM metrics WHERE key = ? AND run_id IN ({marks})"
                " GROUP BY run_id",
                [key, *chunk],
            ):
                out[row["run_id"]] = dict(row)
            recent: dict[str, list[tuple[int, float]]] = {}
            for run_id, step, value in self._db.execute(
                "SELECT run_id, step, value FROM (SELECT run_id, step, value, ROW_NUMBER()"
                " OVER (PARTITION BY run_id ORDER BY rowid DESC) AS back FROM metrics"
                f" WHERE key = ? AND value IS NOT NULL AND run_id IN ({marks}))"
                " WHERE back <= ? ORDER BY run_id, back DESC",
                [key, *chunk, tail],
            ):
                recent.setdefault(run_id, []).append((step, value))
            for run_id, pairs in recent.items():
                values = [v for _, v in pairs]
                out[run_id].update(
                    last=values[-1], last_step=pairs[-1][0], tail=sum(values) / len(values)
                )
        for record in out.values():
            record.pop("run_id", None)
            record.setdefault("last", None)
            record.setdefault("last_step", None)
            record.setdefault("tail", None)
        return out

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
        """Drop the index and make it again from the run directories and the
        environments' ``mosaic-env.json``; returns the number of runs."""
        with self.transaction() as db:
            for table in ("events", "metrics", "anomalies", "runs"):
                db.execute(f"DELETE FROM {table}")
        count = 0
        for directory in sorted(p for p in self.runs_dir.iterdir() if p.is_dir()):
            record = _read_json(directory / "run.json")
            if not isinstance(record, dict) or record.get("run_id") != directory.name:
                continue
            columns = [k for k in record if k in _REBUILD_COLUMNS]
            values = [record[k] for k in columns]
            columns.append("config")
            values.append(read_config(directory / "config.json"))
            with self.transaction() as db:
                db.execute(
                    f"INSERT INTO runs ({', '.join(columns)}) VALUES"
                    f" ({', '.join('?' for _ in columns)})",
                    values,
                )
            self.catch_up(directory.name, final=record.get("status") not in ACTIVE_STATUSES)
            count += 1
        for env_file in sorted((self.home / "envs").glob("*/mosaic-env.json")):
            env = _read_json(env_file)
            if isinstance(env, dict) and env.get("name") == env_file.parent.name:
                self.save_env(env)
        return count


# What run.json restores; the terminal event and summary come back from events.jsonl.
_REBUILD_COLUMNS = frozenset(
    (_UPDATABLE - {"terminal_event", "summary"})
    | {
        "run_id",
        "worker_type",
        "created_at",
        "algorithm",
        "env_id",
        "seed",
        "total_steps",
        "group_name",
        "headline_metric",
    }
)


def terminal_status(event: str | None) -> str | None:
    return _TERMINAL_STATUS.get(event) if event else None


_ROWS_PER_INSERT = 100  # 500 parameters: under SQLite's oldest limit of 999
_INSERT = {
    table: (
        f"INSERT INTO {table} VALUES (?, ?, ?, ?, ?)",
        f"INSERT INTO {table} VALUES " + ", ".join(["(?, ?, ?, ?, ?)"] * _ROWS_PER_INSERT),
    )
    for table in ("events", "metrics")
}


def _insert_rows(db: sqlite3.Connection, table: str, flat: list[Any]) -> None:
    """Insert rows of five columns, given one after another in ``flat``, in order.

    A hundred rows per statement: SQLite then runs one statement where
    ``executemany`` of single rows would step and reset one per row, which
    is most of the cost of indexing a flood of metrics.
    """
    one, many = _INSERT[table]
    width = 5 * _ROWS_PER_INSERT
    whole = len(flat) - len(flat) % width
    if whole:
        db.executemany(many, [flat[i : i + width] for i in range(0, whole, width)])
    if whole < len(flat):
        db.executemany(one, [flat[i : i + 5] for i in range(whole, len(flat), 5)])


def _chunks(items: list[str], size: int = 500) -> Iterator[list[str]]:
    """``items`` in slices small enough for one statement's parameters."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    return None


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _write_json(path: pathlib.Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _read_json(path: pathlib.Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None

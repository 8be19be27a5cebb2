"""Metrics in ``mosaic.db``: per run and key, columnar chunks instead of one row per value.

A row of ``metric_chunks`` holds consecutive points of one run's key as
packed little-endian arrays: ``steps`` (int64), ``vals`` (float64; NaN where
the event gave no number, which reads back as None, as SQLite's NULL did),
``stamps`` (float64, the event's timestamp) and ``ords`` (uint32 offsets
from the chunk's ``base``: ``base + offset`` is the point's place among all
of the run's points, in the order they were reported, so every key's points
merge back into that order). Per chunk it keeps the count of numbers, their
minimum, maximum and sum and the range of steps, so that a summary over many
runs seldom unpacks a chunk.

Indexing appends a batch to the key's last chunk while that is small
(``||`` makes text of blobs: ``CAST(... AS BLOB)`` keeps their bytes)
(under :data:`CHUNK_POINTS`), so a slow run does not leave a row per value
and a flood writes a few rows per batch instead of three per event.
"""

from __future__ import annotations

import array
import sqlite3
import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

__all__ = [
    "CHUNK_POINTS",
    "SCHEMA",
    "Batch",
    "Series",
    "keys",
    "last_values",
    "points",
    "read_series",
    "summaries",
    "write_batch",
]

#: A key's last chunk takes further points while it has fewer than this.
CHUNK_POINTS = 8192

SCHEMA = """
CREATE TABLE IF NOT EXISTS metric_chunks (
    run_id TEXT NOT NULL,
    key TEXT NOT NULL,
    base INTEGER NOT NULL,
    points INTEGER NOT NULL,
    numbers INTEGER NOT NULL,
    vmin REAL,
    vmax REAL,
    vsum REAL,
    min_step INTEGER NOT NULL,
    max_step INTEGER NOT NULL,
    ords BLOB NOT NULL,
    steps BLOB NOT NULL,
    vals BLOB NOT NULL,
    stamps BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS metric_chunks_by_run ON metric_chunks (run_id, key);
"""

_SWAP = sys.byteorder != "little"
_NAN = float("nan")
assert array.array("I").itemsize == 4 and array.array("q").itemsize == 8


def _pack(typecode: str, values: Iterable[Any]) -> bytes:
    packed = array.array(typecode, values)
    if _SWAP:
        packed.byteswap()
    return packed.tobytes()


def _unpack(typecode: str, blob: bytes) -> array.array[Any]:
    packed = array.array(typecode)
    packed.frombytes(blob)
    if _SWAP:
        packed.byteswap()
    return packed


class Batch:
    """The metric points of one ingest, grouped by key; ``ord`` counts from 0 in the batch."""

    __slots__ = ("count", "keys")

    def __init__(self) -> None:
        #: key -> [ords, steps, values, stamps]
        self.keys: dict[str, tuple[list[int], list[int], list[float], list[float]]] = {}
        self.count = 0

    def add(self, key: str, step: int, value: float | None, stamp: float) -> None:
        columns = self.keys.get(key)
        if columns is None:
            columns = self.keys[key] = ([], [], [], [])
        columns[0].append(self.count)
        columns[1].append(step)
        columns[2].append(_NAN if value is None else value)
        columns[3].append(stamp)
        self.count += 1


def _stats(values: Sequence[float]) -> tuple[int, float | None, float | None, float | None]:
    numbers = [v for v in values if v == v]  # NaN is no number
    if not numbers:
        return 0, None, None, None
    return len(numbers), min(numbers), max(numbers), sum(numbers)


def write_batch(db: sqlite3.Connection, run_id: str, base: int, batch: Batch) -> None:
    """Store ``batch``, whose first point is the run's point number ``base``."""
    for key, (ords, steps, values, stamps) in batch.keys.items():
        numbers, vmin, vmax, vsum = _stats(values)
        last = db.execute(
            "SELECT rowid, base, points FROM metric_chunks WHERE run_id = ? AND key = ?"
            " ORDER BY rowid DESC LIMIT 1",
            (run_id, key),
        ).fetchone()
        if last is not None and last[2] < CHUNK_POINTS:
            shift = base - last[1]
            db.execute(
                "UPDATE metric_chunks SET points = points + ?, numbers = numbers + ?,"
                " vmin = CASE WHEN vmin IS NULL OR vmin > ? THEN ? ELSE vmin END,"
                " vmax = CASE WHEN vmax IS NULL OR vmax < ? THEN ? ELSE vmax END,"
                " vsum = CASE WHEN ? IS NULL THEN vsum ELSE COALESCE(vsum, 0.0) + ? END,"
                " min_step = min(min_step, ?), max_step = max(max_step, ?),"
                " ords = CAST(ords || ? AS BLOB), steps = CAST(steps || ? AS BLOB),"
                " vals = CAST(vals || ? AS BLOB), stamps = CAST(stamps || ? AS BLOB)"
                " WHERE rowid = ?",
                (
                    len(steps), numbers, vmin, vmin, vmax, vmax, vsum, vsum,
                    min(steps), max(steps), _pack("I", [o + shift for o in ords]),
                    _pack("q", steps), _pack("d", values), _pack("d", stamps), last[0],
                ),
            )  # fmt: skip
            continue
        db.execute(
            "INSERT INTO metric_chunks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                run_id, key, base + ords[0], len(steps), numbers, vmin, vmax, vsum,
                min(steps), max(steps), _pack("I", [o - ords[0] for o in ords]),
                _pack("q", steps), _pack("d", values), _pack("d", stamps),
            ),
        )  # fmt: skip


class Series:
    """One key's points of one run, in the order they were reported."""

    __slots__ = ("_offsets", "stamps", "steps", "values")

    def __init__(self) -> None:
        self.steps: array.array[int] = array.array("q")
        self.values: array.array[float] = array.array("d")
        self.stamps: array.array[float] = array.array("d")
        self._offsets: list[tuple[int, bytes]] = []

    def __len__(self) -> int:
        return len(self.steps)

    def extend(self, row: Sequence[Any]) -> None:
        """Append a chunk: ``(base, ords, steps, vals, stamps)``."""
        base, ords, steps, vals, stamps = row
        self._offsets.append((base, ords))
        self.steps.extend(_unpack("q", steps))
        self.values.extend(_unpack("d", vals))
        self.stamps.extend(_unpack("d", stamps))

    def places(self) -> list[int]:
        """Each point's place among all of the run's points (to merge keys in order)."""
        out: list[int] = []
        for base, ords in self._offsets:
            out.extend(base + o for o in _unpack("I", ords))
        return out

    def value_list(self) -> list[float | None]:
        """The values, None where there was no number."""
        return [v if v == v else None for v in self.values.tolist()]


def read_series(db: sqlite3.Connection, run_id: str, key: str | None = None) -> dict[str, Series]:
    """``{key: Series}`` of a run (or of its ``key`` alone)."""
    query = "SELECT key, base, ords, steps, vals, stamps FROM metric_chunks WHERE run_id = ?"
    params: list[Any] = [run_id]
    if key is not None:
        query += " AND key = ?"
        params.append(key)
    out: dict[str, Series] = {}
    for row in db.execute(query + " ORDER BY rowid", params):
        series = out.get(row[0])
        if series is None:
            series = out[row[0]] = Series()
        series.extend(row[1:])
    return out


def points(db: sqlite3.Connection, run_id: str, key: str | None = None) -> list[dict[str, Any]]:
    """``{"step", "key", "value", "timestamp"}`` per point, in the order they were reported."""
    found = read_series(db, run_id, key)
    if len(found) == 1:
        ((name, one),) = found.items()
        return [
            {"step": s, "key": name, "value": v, "timestamp": t}
            for s, v, t in zip(one.steps, one.value_list(), one.stamps, strict=True)
        ]
    rows: list[tuple[int, int, str, float | None, float]] = []
    for name, series in found.items():
        rows.extend(
            zip(series.places(), series.steps, [name] * len(series), series.value_list(),
                series.stamps, strict=True)
        )  # fmt: skip
    rows.sort(key=lambda r: r[0])
    return [{"step": s, "key": k, "value": v, "timestamp": t} for _, s, k, v, t in rows]


def last_values(db: sqlite3.Connection, run_id: str) -> dict[str, float | None]:
    """The last value reported of every key of a run, by key."""
    rows = db.execute(
        "SELECT key, substr(vals, length(vals) - 7, 8) FROM metric_chunks WHERE rowid IN"
        " (SELECT MAX(rowid) FROM metric_chunks WHERE run_id = ? GROUP BY key) ORDER BY key",
        (run_id,),
    )
    out: dict[str, float | None] = {}
    for key, tail in rows:
        value = _unpack("d", tail)[0]
        out[key] = value if value == value else None
    return out


def summaries(
    db: sqlite3.Connection, run_ids: Sequence[str], key: str, tail: int
) -> dict[str, dict[str, Any]]:
    """Per run with ``key``: ``count``, ``min``, ``max``, ``mean`` of its numbers, and
    ``last``, ``last_step`` and ``tail`` (the mean of the last ``tail`` numbers by step,
    equal steps in the order reported)."""
    out: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(list(run_ids)):
        marks = ", ".join("?" for _ in chunk)
        for run_id, count, low, high, total in db.execute(
            "SELECT run_id, SUM(numbers), MIN(vmin), MAX(vmax), SUM(vsum) FROM metric_chunks"
            f" WHERE key = ? AND run_id IN ({marks}) GROUP BY run_id",
            [key, *chunk],
        ):
            out[run_id] = {
                "count": count, "min": low, "max": high,
                "mean": total / count if count else None,
            }  # fmt: skip
    for run_id, record in out.items():
        recent = _last_numbers(db, run_id, key, tail) if record["count"] else []
        values = [v for _, _, v in recent]
        record["last"] = values[0] if values else None
        record["last_step"] = recent[0][0] if recent else None
        record["tail"] = sum(values) / len(values) if values else None
    return out


def _last_numbers(
    db: sqlite3.Connection, run_id: str, key: str, tail: int
) -> list[tuple[int, int, float]]:
    """The last ``tail`` ``(step, ord, value)`` with a number, by step then order, newest
    first: chunks are unpacked from the highest steps down until no other can hold one."""
    best: list[tuple[int, int, float]] = []
    if tail < 1:
        return best
    for max_step, base, ords, steps, vals in db.execute(
        "SELECT max_step, base, ords, steps, vals FROM metric_chunks"
        " WHERE run_id = ? AND key = ? AND numbers > 0 ORDER BY max_step DESC",
        (run_id, key),
    ):
        if len(best) >= tail and max_step < best[tail - 1][0]:
            break
        offsets = _unpack("I", ords)
        best.extend(
            (s, base + o, v)
            for s, o, v in zip(_unpack("q", steps), offsets, _unpack("d", vals), strict=True)
            if v == v
        )
        best.sort(reverse=True)
        del best[tail:]
    return best


def keys(db: sqlite3.Connection, run_ids: Sequence[str]) -> dict[str, list[str]]:
    """The metric keys each run has, sorted."""
    out: dict[str, list[str]] = {run_id: [] for run_id in run_ids}
    for chunk in _chunks(list(run_ids)):
        marks = ", ".join("?" for _ in chunk)
        for run_id, key in db.execute(
            f"SELECT DISTINCT run_id, key FROM metric_chunks WHERE run_id IN ({marks})"
            " ORDER BY run_id, key",
            chunk,
        ):
            out[run_id].append(key)
    return out


def _chunks(items: list[str], size: int = 500) -> Iterator[list[str]]:
    """``items`` in slices small enough for one statement's parameters."""
    for start in range(0, len(items), size):
        yield items[start : start + size]

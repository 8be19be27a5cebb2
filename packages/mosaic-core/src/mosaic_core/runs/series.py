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
from collections.abc import Iterator, Sequence
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
    "read_since",
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


def _bytes(packed: array.array[Any]) -> bytes:
    if _SWAP:
        packed = array.array(packed.typecode, packed)
        packed.byteswap()
    return packed.tobytes()


def _unpack(typecode: str, blob: bytes) -> array.array[Any]:
    packed = array.array(typecode)
    packed.frombytes(blob)
    if _SWAP:
        packed.byteswap()
    return packed


def as_number(value: Any) -> float | None:
    """A metric value as the index keeps it: a float, or None for anything else."""
    if isinstance(value, (int, float)):
        try:
            return float(value)
        except OverflowError:  # an integer beyond any float
            return None
    return None


def as_text(value: str) -> str:
    """``value`` as text SQLite can hold: a lone surrogate becomes its ``\\ud800`` escape."""
    if value.isascii():
        return value
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


def _floats(values: Sequence[Any]) -> array.array[float]:
    """The values as float64, NaN for what is not a number (as :func:`as_number` says)."""
    try:
        return array.array("d", values)  # numbers, the usual case: at C speed
    except (TypeError, OverflowError):
        return array.array("d", [_NAN if (v := as_number(x)) is None else v for x in values])


class _Piece:
    """Points of one key from consecutive events with the same keys: the point of event
    ``i`` is the batch's point number ``first + i * width``."""

    __slots__ = ("first", "stamps", "steps", "values", "width")

    def __init__(self, first: int, width: int, steps: array.array[int],
                 values: array.array[float], stamps: array.array[float]) -> None:  # fmt: skip
        self.first, self.width = first, width
        self.steps, self.values, self.stamps = steps, values, stamps


class Batch:
    """The metric points of one ingest. Events whose values have the same keys in the same
    order (the usual case) are kept as rows and turned into columns once, at the end."""

    __slots__ = ("_collided", "_count", "_names", "_pieces", "_rows", "_stamps", "_steps")

    def __init__(self) -> None:
        self._count = 0  # points of the events closed into pieces
        self._names: tuple[str, ...] = ()
        self._rows: list[tuple[Any, ...]] = []
        self._steps: list[int] = []
        self._stamps: list[float] = []
        self._pieces: dict[str, list[_Piece]] = {}
        self._collided = False

    def add(self, step: int, stamp: float, values: dict[str, Any]) -> None:
        """The values of one metrics event at ``step``, reported at ``stamp``."""
        names = tuple(values)
        if names != self._names:
            self._close()
            self._names = names
        self._rows.append(tuple(values.values()))
        self._steps.append(step)
        self._stamps.append(stamp)

    def _close(self) -> None:
        rows, names = self._rows, self._names
        if rows and names:
            width = len(names)
            texts = [as_text(name) for name in names]
            self._collided |= len(set(texts)) < width
            steps, stamps = array.array("q", self._steps), array.array("d", self._stamps)
            for j, column in enumerate(zip(*rows, strict=True)):
                piece = _Piece(self._count + j, width, steps, _floats(column), stamps)
                self._pieces.setdefault(texts[j], []).append(piece)
            self._count += width * len(rows)
        self._rows, self._steps, self._stamps = [], [], []

    @property
    def count(self) -> int:
        """How many points the batch holds."""
        self._close()
        return self._count

    def pieces(self) -> dict[str, list[_Piece]]:
        """Each key's pieces, in order."""
        self._close()
        return self._pieces

    @property
    def collided(self) -> bool:
        """Did two keys of one event read alike as text (their points then need sorting)?"""
        return self._collided


def _ords(pieces: list[_Piece], offset: int) -> array.array[int]:
    """Each point's number in the batch plus ``offset``, in the pieces' order."""
    ords = array.array("q")
    for p in pieces:
        start = p.first + offset
        ords.extend(range(start, start + p.width * len(p.steps), p.width))
    return ords


def _stats(values: array.array[float]) -> tuple[int, float | None, float | None, float | None]:
    total = sum(values)
    numbers: Sequence[float] = values
    if total != total:  # a NaN (no number) among them, or inf - inf
        numbers = [v for v in values if v == v]
        total = sum(numbers)
    if not numbers:
        return 0, None, None, None
    return len(numbers), min(numbers), max(numbers), total


def write_batch(db: sqlite3.Connection, run_id: str, base: int, batch: Batch) -> None:
    """Store ``batch``, whose first point is the run's point number ``base``."""
    for key, pieces in batch.pieces().items():
        last = db.execute(
            "SELECT rowid, base, points FROM metric_chunks WHERE run_id = ? AND key = ?"
            " ORDER BY rowid DESC LIMIT 1",
            (run_id, key),
        ).fetchone()
        append = (
            last is not None
            and last[2] < CHUNK_POINTS
            and base - last[1] + batch.count < 2**32  # offsets are uint32
        )
        # ords are kept as offsets from their chunk's base: the last one's, or this first's
        offset = base - last[1] if append else -pieces[0].first
        ords = _ords(pieces, offset)
        if len(pieces) == 1:
            steps, values, stamps = pieces[0].steps, pieces[0].values, pieces[0].stamps
        else:
            steps, values, stamps = array.array("q"), array.array("d"), array.array("d")
            for p in pieces:
                steps.extend(p.steps)
                values.extend(p.values)
                stamps.extend(p.stamps)
        if batch.collided:
            order = sorted(range(len(ords)), key=ords.__getitem__)
            ords = array.array("q", [ords[i] for i in order])
            steps = array.array("q", [steps[i] for i in order])
            values = array.array("d", [values[i] for i in order])
            stamps = array.array("d", [stamps[i] for i in order])
        numbers, vmin, vmax, vsum = _stats(values)
        blobs = (_bytes(array.array("I", ords)), _bytes(steps), _bytes(values), _bytes(stamps))
        if append:
            db.execute(
                "UPDATE metric_chunks SET points = points + ?, numbers = numbers + ?,"
                " vmin = CASE WHEN vmin IS NULL OR vmin > ? THEN ? ELSE vmin END,"
                " vmax = CASE WHEN vmax IS NULL OR vmax < ? THEN ? ELSE vmax END,"
                " vsum = CASE WHEN ? IS NULL THEN vsum ELSE COALESCE(vsum, 0.0) + ? END,"
                " min_step = min(min_step, ?), max_step = max(max_step, ?),"
                " ords = CAST(ords || ? AS BLOB), steps = CAST(steps || ? AS BLOB),"
                " vals = CAST(vals || ? AS BLOB), stamps = CAST(stamps || ? AS BLOB)"
                " WHERE rowid = ?",
                (len(steps), numbers, vmin, vmin, vmax, vmax, vsum, vsum, min(steps),
                 max(steps), *blobs, last[0]),
            )  # fmt: skip
        else:
            db.execute(
                "INSERT INTO metric_chunks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, key, base + pieces[0].first, len(steps), numbers, vmin, vmax, vsum,
                 min(steps), max(steps), *blobs),
            )  # fmt: skip


class Series:
    """One key's points of one run, in the order they were reported."""

    __slots__ = ("_offsets", "stamps", "steps", "values")

    def __init__(self, chunks: Sequence[Sequence[Any]] = ()) -> None:
        """From chunks ``(base, ords, steps, vals, stamps)`` in order, each column's blobs
        joined and unpacked once."""
        self._offsets: list[tuple[int, bytes]] = [(c[0], c[1]) for c in chunks]
        self.steps: array.array[int] = _unpack("q", b"".join(c[2] for c in chunks))
        self.values: array.array[float] = _unpack("d", b"".join(c[3] for c in chunks))
        self.stamps: array.array[float] = _unpack("d", b"".join(c[4] for c in chunks))

    def __len__(self) -> int:
        return len(self.steps)

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
    chunks: dict[str, list[Sequence[Any]]] = {}
    for row in db.execute(query + " ORDER BY rowid", params):
        chunks.setdefault(row[0], []).append(row[1:])
    return {name: Series(found) for name, found in chunks.items()}


def read_since(
    db: sqlite3.Connection, run_id: str, key: str, after: int = 0
) -> tuple[array.array[int], array.array[float], array.array[float], int]:
    """The steps, values (NaN for no number) and timestamps of ``key``'s points whose place
    among the run's points is ``after`` or later, and the place after the last of them.

    A reader that passes the returned place back as ``after`` reads only what came
    since, from the chunks that hold it: a live curve costs what it adds.
    """
    heads = db.execute(
        "SELECT rowid, base, substr(ords, -4) FROM metric_chunks"
        " WHERE run_id = ? AND key = ? ORDER BY rowid",
        (run_id, key),
    ).fetchall()
    # A chunk's places rise, and each chunk's come after the one before it.
    wanted = [r[0] for r in heads if r[2] and r[1] + _unpack("I", bytes(r[2]))[0] >= after]
    steps, values, stamps = array.array("q"), array.array("d"), array.array("d")
    end = after
    for chunk in _chunks(wanted):
        marks = ", ".join("?" for _ in chunk)
        rows = db.execute(
            f"SELECT base, ords, steps, vals, stamps FROM metric_chunks WHERE rowid IN ({marks})"
            " ORDER BY rowid",
            chunk,
        )
        for base, ords, chunk_steps, chunk_vals, chunk_stamps in rows:
            places = _unpack("I", ords)
            skip = 0
            if base + places[0] < after:  # the first chunk may begin before ``after``
                skip = next(i for i, o in enumerate(places) if base + o >= after)
            steps.extend(_unpack("q", chunk_steps)[skip:])
            values.extend(_unpack("d", chunk_vals)[skip:])
            stamps.extend(_unpack("d", chunk_stamps)[skip:])
            end = base + places[-1] + 1
    return steps, values, stamps, end


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
    equal steps in the order reported).

    A few statements for any number of runs: the chunks' own figures first, then the
    chunks that can hold a run's last numbers (those of the highest steps), unpacked."""
    out: dict[str, dict[str, Any]] = {}
    chunks: dict[str, list[tuple[int, int, int]]] = {}  # run -> [(max_step, rowid, numbers)]
    for part in _chunks(list(run_ids)):
        marks = ", ".join("?" for _ in part)
        for run_id, rowid, numbers, low, high, total, max_step in db.execute(
            "SELECT run_id, rowid, numbers, vmin, vmax, vsum, max_step FROM metric_chunks"
            f" WHERE key = ? AND run_id IN ({marks})",
            [key, *part],
        ):
            record = out.get(run_id)
            if record is None:
                record = out[run_id] = {"count": 0, "min": None, "max": None, "mean": 0.0}
                chunks[run_id] = []
            if numbers:
                record["count"] += numbers
                record["mean"] += total  # the sum, until it is divided below
                record["min"] = low if record["min"] is None else min(record["min"], low)
                record["max"] = high if record["max"] is None else max(record["max"], high)
                chunks[run_id].append((max_step, rowid, numbers))
    for record in out.values():
        record["mean"] = record["mean"] / record["count"] if record["count"] else None
    for run_id, recent in _last_numbers(db, chunks, tail).items():
        values = [v for _, _, v in recent]
        record = out[run_id]
        record["last"] = values[0] if values else None
        record["last_step"] = recent[0][0] if recent else None
        record["tail"] = sum(values) / len(values) if values else None
    return out


def _last_numbers(
    db: sqlite3.Connection, chunks: dict[str, list[tuple[int, int, int]]], tail: int
) -> dict[str, list[tuple[int, int, float]]]:
    """Per run, its last ``tail`` ``(step, place, value)`` with a number, newest first (by
    step, then the order reported). The chunks with the highest steps holding ``tail``
    numbers are unpacked first; then any other whose steps reach the ``tail``-th step found,
    which could hold one of the last (with steps that go back and forth)."""
    best: dict[str, list[tuple[int, int, float]]] = {run_id: [] for run_id in chunks}
    if tail < 1:
        return best
    pending = {run_id: sorted(found, reverse=True) for run_id, found in chunks.items()}
    while pending:
        wanted: dict[int, str] = {}
        for run_id, found in list(pending.items()):
            held = best[run_id]  # newest first, at most tail
            if len(held) >= tail:  # what else may hold a step as high as the tail-th
                take = [c for c in found if c[0] >= held[tail - 1][0]]  # a prefix
            else:  # too few yet: the next chunks, until their numbers make up tail
                take, count = [], len(held)
                for chunk in found:
                    if count >= tail:
                        break
                    take.append(chunk)
                    count += chunk[2]
            if not take:
                del pending[run_id]
                continue
            del found[: len(take)]
            wanted.update((rowid, run_id) for _, rowid, _ in take)
        if not wanted:
            break
        for part in _chunks(list(wanted)):
            marks = ", ".join("?" for _ in part)
            for rowid, base, ords, steps, vals in db.execute(
                "SELECT rowid, base, ords, steps, vals FROM metric_chunks"
                f" WHERE rowid IN ({marks})",
                part,
            ):
                best[wanted[rowid]].extend(
                    _newest(_unpack("q", steps), _unpack("I", ords), _unpack("d", vals), base, tail)
                )
        for run_id in {wanted[r] for r in wanted}:
            held = best[run_id]
            held.sort(reverse=True)
            del held[tail:]
    return best


def _newest(
    steps: array.array[int], ords: array.array[int], vals: array.array[float], base: int, tail: int
) -> list[tuple[int, int, float]]:
    """A chunk's candidates for the last ``tail`` numbers: ``(step, place, value)``. Where
    its steps never go back (the usual case) those are its last ``tail`` numbers, found
    from the end; otherwise every number it holds."""
    listed = steps.tolist()
    if listed == sorted(listed):  # in C: steps in order, so the newest are at the end
        out: list[tuple[int, int, float]] = []
        for i in range(len(listed) - 1, -1, -1):
            if vals[i] == vals[i]:
                out.append((listed[i], base + ords[i], vals[i]))
                if len(out) == tail:
                    break
        return out
    return [(s, base + o, v) for s, o, v in zip(listed, ords, vals, strict=True) if v == v]


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


def _chunks(items: list[Any], size: int = 500) -> Iterator[list[Any]]:
    """``items`` in slices small enough for one statement's parameters."""
    for start in range(0, len(items), size):
        yield items[start : start + size]

"""Metrics in ``mosaic.db``: per run and key, columnar chunks instead of one row per value.

A row of ``metric_chunks`` holds consecutive points of one run's key as
packed little-endian arrays: ``steps`` (int64), ``vals`` (float64; NaN where
the event gave no number, which reads back as None, as SQLite's NULL did),
``stamps`` (float64, the event's timestamp) and ``ords`` (uint32 offsets
from the chunk's ``base``: ``base + offset`` is the point's place among all
of the run's points, in the order they were reported, so every key's points
merge back into that order). Per chunk it keeps the count of numbers, their
minimum, maximum and sum and the range of steps, and per run and key
``metric_keys`` keeps what a summary needs (:data:`FIGURES_SCHEMA`), so that
``mosaic runs`` over many runs unpacks no chunk.

Indexing appends a batch to the key's last chunk while that is small
(``||`` makes text of blobs: ``CAST(... AS BLOB)`` keeps their bytes)
(under :data:`CHUNK_POINTS`), so a slow run does not leave a row per value
and a flood writes a few rows per batch instead of three per event.
"""

from __future__ import annotations

import array
import heapq
import sqlite3
import sys
from collections.abc import Iterator, Sequence

TYPE_CHECKING = False  # not typing's: `mosaic runs` imports this module, typing 3 ms more
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "CHUNK_POINTS",
    "FIGURES_SCHEMA",
    "SCHEMA",
    "TABLES",
    "TAIL_KEPT",
    "Batch",
    "Series",
    "points",
    "read_series",
    "read_since",
    "write_batch",
]

#: A key's last chunk takes further points while it has fewer than this. Appending
#: rewrites the whole row (SQLite writes a changed row again, overflow pages and all),
#: so a small limit keeps a run's many small batches from writing their chunk over and
#: over: at 8,192 a flood of small batches wrote about a kilobyte per value.
CHUNK_POINTS = 512

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

#: Per run and key, what a summary needs, kept as chunks are written (schema step 3):
#: the count, minimum and maximum of its numbers; their sum as the chunks' sums added
#: in order (``closed``: 0.0 plus each chunk's before the last; ``open``: the last
#: chunk's); and its last :data:`TAIL_KEPT` numbers by step (then the order reported),
#: newest first, as packed steps, places and values.
FIGURES_SCHEMA = """
CREATE TABLE metric_keys (
    run_id TEXT NOT NULL,
    key TEXT NOT NULL,
    numbers INTEGER NOT NULL,
    vmin REAL,
    vmax REAL,
    closed REAL NOT NULL,
    open REAL,
    tail_steps BLOB NOT NULL,
    tail_places BLOB NOT NULL,
    tail_vals BLOB NOT NULL,
    PRIMARY KEY (run_id, key)
) WITHOUT ROWID
"""

#: How many of a key's last numbers ``metric_keys`` keeps (``mosaic runs``' ``tail`` is 10).
TAIL_KEPT = 10

#: The tables that hold a run's metrics (to delete a run's rows from).
TABLES = ("metric_chunks", "metric_keys")

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


def write_batch(
    db: sqlite3.Connection, run_id: str, base: int, batch: Batch, *, figures: bool = True
) -> None:
    """Store ``batch``, whose first point is the run's point number ``base``, and (unless
    ``figures`` is false: schema step 2, before ``metric_keys``) each key's figures."""
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
        stats = _stats(values)
        numbers, vmin, vmax, vsum = stats
        if figures:
            chunk_base = last[1] if append else base + pieces[0].first
            _note_figures(db, run_id, key, append, chunk_base, ords, steps, values, stats)
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


def _note_figures(
    db: sqlite3.Connection, run_id: str, key: str, append: bool, base: int,
    ords: array.array[int], steps: array.array[int], values: array.array[float],
    stats: tuple[int, float | None, float | None, float | None],
) -> None:  # fmt: skip
    """Bring the key's row of ``metric_keys`` up to date with points written to a chunk
    (``append``: to its last one) whose base is ``base``: the same figures, added in the
    same order, as a summary over the chunks themselves would find."""
    numbers, vmin, vmax, vsum = stats
    row = db.execute(
        "SELECT numbers, vmin, vmax, closed, open, tail_steps, tail_places, tail_vals"
        " FROM metric_keys WHERE run_id = ? AND key = ?",
        (run_id, key),
    ).fetchone()
    if row is None:
        count, low, high, closed, open_ = 0, None, None, 0.0, None
        kept: list[tuple[int, int, float]] = []
    else:
        count, low, high, closed, open_ = row[0], row[1], row[2], row[3], row[4]
        columns = _unpack("q", row[5]), _unpack("q", row[6]), _unpack("d", row[7])
        kept = list(zip(*columns, strict=True))
    count += numbers
    if vmin is not None and (low is None or low > vmin):  # as the chunk's own CASE
        low = vmin
    if vmax is not None and (high is None or high < vmax):
        high = vmax
    if append:
        if vsum is not None:
            open_ = (0.0 if open_ is None else open_) + vsum
    else:  # a new chunk: the last one's sum is added to the rest
        if open_ is not None:
            closed += open_
        open_ = vsum
    kept = _newest_kept(kept, base, ords, steps, values)
    db.execute(
        "INSERT OR REPLACE INTO metric_keys VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (run_id, key, count, low, high, closed, open_,
         _bytes(array.array("q", [k[0] for k in kept])),
         _bytes(array.array("q", [k[1] for k in kept])),
         _bytes(array.array("d", [k[2] for k in kept]))),
    )  # fmt: skip


def _newest_kept(
    kept: list[tuple[int, int, float]], base: int, ords: array.array[int],
    steps: array.array[int], values: array.array[float],
) -> list[tuple[int, int, float]]:  # fmt: skip
    """The last :data:`TAIL_KEPT` ``(step, place, value)`` with a number, newest first, of
    ``kept`` (the key's, so far) and of new points. Where the new steps never go back and
    start at the newest kept step or later (the usual case), they are newer than all kept,
    and are looked at from the end."""
    listed = steps.tolist()
    if listed == sorted(listed) and (not kept or listed[0] >= kept[0][0]):
        new: list[tuple[int, int, float]] = []
        for i in range(len(listed) - 1, -1, -1):
            value = values[i]
            if value == value:
                new.append((listed[i], base + ords[i], value))
                if len(new) == TAIL_KEPT:
                    return new
        return new + kept[: TAIL_KEPT - len(new)]
    found = [(s, base + o, v) for s, o, v in zip(listed, ords, values, strict=True) if v == v]
    return heapq.nlargest(TAIL_KEPT, kept + found)  # places differ: values never compared


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


def _chunks(items: list[Any], size: int = 500) -> Iterator[list[Any]]:
    """``items`` in slices small enough for one statement's parameters."""
    for start in range(0, len(items), size):
        yield items[start : start + size]

"""Metric summaries of many runs: from ``metric_keys``, the figures kept per run and key.

``mosaic runs`` shows every run's headline metric reduced to one number
(by default the mean of its last ten numbers by step). ``metric_keys`` (see
:data:`~mosaic_core.runs.series.FIGURES_SCHEMA`) keeps what that takes, as
chunks are written, so a summary of 10,000 runs is one indexed read and no
chunk is unpacked; a longer tail than it keeps is found in the chunks.
Schema step 3 (:func:`fill`) makes the figures of an index made before.
"""

from __future__ import annotations

import array
import sqlite3
import struct
from collections.abc import Callable, Sequence

from mosaic_core.runs import series
from mosaic_core.runs.series import _bytes, _chunks, _unpack

TYPE_CHECKING = False  # not typing's: `mosaic runs` imports this module, typing 3 ms more
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "HEADLINE_JOIN", "figure", "fill", "headline_column", "headline_figures", "keys", "last_values",
    "summaries",
]  # fmt: skip

# Up to TAIL_KEPT little-endian float64s, unpacked by one call.
_DOUBLES = [struct.Struct(f"<{count}d") for count in range(series.TAIL_KEPT + 1)]


def summaries(
    db: sqlite3.Connection, run_ids: Sequence[str], key: str, tail: int
) -> dict[str, dict[str, Any]]:
    """Per run with ``key``: ``count``, ``min``, ``max``, ``mean`` of its numbers, and
    ``last``, ``last_step`` and ``tail`` (the mean of the last ``tail`` numbers by step,
    equal steps in the order reported)."""
    if tail > series.TAIL_KEPT:
        return _from_chunks(db, run_ids, key, tail)
    out: dict[str, dict[str, Any]] = {}
    for part in _chunks(list(run_ids)):
        marks = ", ".join("?" for _ in part)
        rows = db.execute(
            "SELECT run_id, numbers, vmin, vmax, closed, open, substr(tail_steps, 1, 8),"
            f" substr(tail_vals, 1, ?) FROM metric_keys WHERE key = ? AND run_id IN ({marks})",
            [8 * max(tail, 0), key, *part],
        )
        for run_id, numbers, low, high, closed, open_, newest, vals in rows:
            vals = vals or b""  # substr of an empty blob is NULL
            values = _DOUBLES[len(vals) // 8].unpack(vals)  # substr: at most ``tail``
            total = closed if open_ is None else closed + open_
            out[run_id] = {
                "count": numbers, "min": low, "max": high,
                "mean": total / numbers if numbers else None,
                "last": values[0] if values else None,
                "last_step": int.from_bytes(newest, "little", signed=True) if values else None,
                "tail": sum(values) / len(values) if values else None,
            }  # fmt: skip
    return out


def figure(
    db: sqlite3.Connection, run_ids: Sequence[str], key: str, stat: str, tail: int
) -> dict[str, float | None]:
    """One figure of :func:`summaries` (``stat``) per run with ``key``, as it gives it.

    ``tail``, ``last``, ``min`` and ``max`` read only their column of ``metric_keys``:
    what ``mosaic runs`` shows of 10,000 runs without making their summaries."""
    selected = _column(stat, tail)
    if selected is None:
        return {run_id: found[stat] for run_id, found in summaries(db, run_ids, key, tail).items()}
    column, make = selected
    out: dict[str, float | None] = {}
    for part in _chunks(list(run_ids)):
        marks = ", ".join("?" for _ in part)
        rows = db.execute(
            f"SELECT run_id, {column} FROM metric_keys WHERE key = ? AND run_id IN ({marks})",
            [key, *part],
        )
        out.update((run_id, make(value)) for run_id, value in rows)
    return out


def headline_figures(db: sqlite3.Connection, stat: str, tail: int) -> dict[str, float | None]:
    """:func:`figure` of each run's declared headline (``runs.headline_metric``), for every
    run that has reported it: one statement for all the runs in the store, where asking
    key by key would name each run."""
    selected = headline_column(stat, tail)
    if selected is None:
        declared: dict[str, list[str]] = {}
        for run_id, key in db.execute(
            "SELECT run_id, headline_metric FROM runs WHERE headline_metric != ''"
        ):
            declared.setdefault(key, []).append(run_id)
        return {
            r: v
            for key, ids in declared.items()
            for r, v in figure(db, ids, key, stat, tail).items()
        }
    column, make = selected
    rows = db.execute(
        f"SELECT runs.run_id, {column} FROM runs {HEADLINE_JOIN} WHERE m.key IS NOT NULL"
    )
    return {run_id: make(value) for run_id, value in rows}


# The figures one column of metric_keys gives, for a tail as long as it keeps.
_ONE_COLUMN = ("tail", "last", "min", "max")

#: Joined to ``runs``, the row of ``metric_keys`` (as ``m``) of the run's declared headline.
HEADLINE_JOIN = (
    "LEFT JOIN metric_keys m ON m.run_id = runs.run_id AND m.key = runs.headline_metric"
    " AND runs.headline_metric != ''"
)


def headline_column(stat: str, tail: int) -> tuple[str, Callable[[Any], float | None]] | None:
    """What a statement over ``runs`` joined by :data:`HEADLINE_JOIN` selects for ``stat``
    of each run's headline, and what makes a value of it the figure; None where one column
    of ``metric_keys`` does not give ``stat``."""
    return _column(stat, tail, "m.")


def _column(
    stat: str, tail: int, table: str = ""
) -> tuple[str, Callable[[Any], float | None]] | None:
    """The column of ``metric_keys`` (``table``: its name in the statement, with a dot)
    that gives ``stat`` of a key's numbers, and what makes a value of it the figure; None
    where no one column does (a tail longer than the one kept, a mean of all, a count)."""
    if tail > series.TAIL_KEPT or stat not in _ONE_COLUMN:
        return None
    if stat in ("min", "max"):
        return f"{table}v{stat}", _as_it_is
    return f"substr({table}tail_vals, 1, {8 * max(int(tail), 0)})", _TAIL_FIGURES[stat]


def _as_it_is(value: float | None) -> float | None:
    return value


def _tail(vals: bytes | None) -> float | None:
    """The mean of ``vals``, the newest numbers of a key (``substr(tail_vals, ...)``)."""
    if not vals:  # substr of an empty blob is NULL
        return None
    values: tuple[float, ...] = _DOUBLES[len(vals) // 8].unpack(vals)
    return sum(values) / len(values)


def _last(vals: bytes | None) -> float | None:
    """The first of ``vals``, the newest numbers of a key: its last."""
    return _DOUBLES[len(vals) // 8].unpack(vals)[0] if vals else None


_TAIL_FIGURES: dict[str, Callable[[bytes | None], float | None]] = {"tail": _tail, "last": _last}


def keys(db: sqlite3.Connection, run_ids: Sequence[str]) -> dict[str, list[str]]:
    """The metric keys each run has, sorted."""
    out: dict[str, list[str]] = {run_id: [] for run_id in run_ids}
    for chunk in _chunks(list(run_ids)):
        marks = ", ".join("?" for _ in chunk)
        for run_id, key in db.execute(
            f"SELECT run_id, key FROM metric_keys WHERE run_id IN ({marks}) ORDER BY run_id, key",
            chunk,
        ):
            out[run_id].append(key)
    return out


def fill(db: sqlite3.Connection) -> None:
    """Make ``metric_keys`` and its rows from the chunks there are: what indexing them
    would have kept (schema step 3)."""
    db.execute(series.FIGURES_SCHEMA)
    figures: dict[tuple[str, str], list[Any]] = {}  # [count, min, max, closed, open]
    chunks: dict[str, dict[str, list[tuple[int, int, int]]]] = {}  # key -> run -> chunks
    for run_id, key, rowid, numbers, low, high, total, max_step in db.execute(
        "SELECT run_id, key, rowid, numbers, vmin, vmax, vsum, max_step FROM metric_chunks"
        " ORDER BY run_id, key, rowid"
    ):
        record = figures.get((run_id, key))
        if record is None:
            record = figures[(run_id, key)] = [0, None, None, 0.0, None]
            chunks.setdefault(key, {})[run_id] = []
        elif record[4] is not None:  # a chunk after it: the last one's sum is added
            record[3] += record[4]
        record[0] += numbers
        if low is not None and (record[1] is None or record[1] > low):
            record[1] = low
        if high is not None and (record[2] is None or record[2] < high):
            record[2] = high
        record[4] = total
        if numbers:
            chunks[key][run_id].append((max_step, rowid, numbers))
    for key, runs in chunks.items():
        for run_id, kept in _last_numbers(db, runs, series.TAIL_KEPT).items():
            db.execute(
                "INSERT INTO metric_keys VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, key, *figures[(run_id, key)],
                 _bytes(array.array("q", [k[0] for k in kept])),
                 _bytes(array.array("q", [k[1] for k in kept])),
                 _bytes(array.array("d", [k[2] for k in kept]))),
            )  # fmt: skip


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


def _from_chunks(
    db: sqlite3.Connection, run_ids: Sequence[str], key: str, tail: int
) -> dict[str, dict[str, Any]]:
    """:func:`summaries` from the chunks, for a ``tail`` longer than ``metric_keys`` keeps.

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

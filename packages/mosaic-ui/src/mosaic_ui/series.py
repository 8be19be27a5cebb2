"""Learning curves served fast: each metric read once and then only its new rows, LTTB
on arrays (:func:`mosaic_core.query.lttb_arrays`) to a few thousand points."""

from __future__ import annotations

import collections
import math
import threading
from typing import Any

import numpy as np

from mosaic_core.query import lttb_arrays
from mosaic_core.runs import RunStore

__all__ = ["Series", "SeriesCache"]


class Series:
    """One metric of one run: steps, values and timestamps in the order written."""

    def __init__(self) -> None:
        self.steps = np.empty(0, dtype=np.int64)
        self.values = np.empty(0, dtype=np.float64)
        self.stamps = np.empty(0, dtype=np.float64)
        self.last_row = 0
        self.lock = threading.Lock()

    def extend(self, rows: list[tuple[int, int, float | None, float]]) -> None:
        kept = [r for r in rows if r[2] is not None and math.isfinite(r[2])]
        if kept:
            block = np.array([(r[1], r[2], r[3]) for r in kept], dtype=np.float64)
            self.steps = np.concatenate([self.steps, block[:, 0].astype(np.int64)])
            self.values = np.concatenate([self.values, block[:, 1]])
            self.stamps = np.concatenate([self.stamps, block[:, 2]])
        if rows:
            self.last_row = rows[-1][0]

    @property
    def nbytes(self) -> int:
        return int(self.steps.nbytes + self.values.nbytes + self.stamps.nbytes)

    def view(self, points: int | None, after_row: int = 0) -> dict[str, Any]:
        """``steps``, ``values``, ``timestamps`` (LTTB-thinned to ``points``), ``count``
        (points before thinning) and ``last_row`` (pass it back as ``after`` for more)."""
        order = np.argsort(self.steps, kind="stable")
        if not np.all(order[:-1] <= order[1:]):
            steps, values, stamps = self.steps[order], self.values[order], self.stamps[order]
        else:
            steps, values, stamps = self.steps, self.values, self.stamps
        count = len(steps)
        if points is not None and count > points:
            keep = lttb_arrays(steps, values, points)
            steps, values, stamps = steps[keep], values[keep], stamps[keep]
        return {"steps": steps.tolist(), "values": values.tolist(),
                "timestamps": stamps.tolist(), "count": count,
                "last_row": self.last_row}  # fmt: skip


class SeriesCache:
    """Series by ``(run_id, key)``, the least recently used dropped past ``max_bytes``."""

    def __init__(self, max_bytes: int = 256 << 20) -> None:
        self.max_bytes = max_bytes
        self._items: collections.OrderedDict[tuple[str, str], Series] = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, store: RunStore, run_id: str, key: str) -> Series:
        with self._lock:
            series = self._items.pop((run_id, key), None) or Series()
            self._items[(run_id, key)] = series
        with series.lock:
            series.extend(store.metric_rows(run_id, key, after=series.last_row))
        self._trim()
        return series

    def drop(self, run_id: str) -> None:
        with self._lock:
            for item in [k for k in self._items if k[0] == run_id]:
                del self._items[item]

    def _trim(self) -> None:
        with self._lock:
            total = sum(s.nbytes for s in self._items.values())
            while total > self.max_bytes and len(self._items) > 1:
                _, dropped = self._items.popitem(last=False)
                total -= dropped.nbytes


def new_rows(store: RunStore, run_id: str, key: str, after: int) -> dict[str, Any]:
    """The rows of a metric written after row ``after``, unthinned: what a live curve adds."""
    series = Series()
    series.extend(store.metric_rows(run_id, key, after=after))
    if not series.last_row:
        series.last_row = after
    return series.view(None)

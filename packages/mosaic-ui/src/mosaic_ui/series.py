"""Learning curves served fast: each metric read once and then only its new rows, LTTB
on arrays (:func:`mosaic_core.query.lttb_arrays`) to a few thousand points."""

from __future__ import annotations

import collections
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
        self._views: dict[int | None, dict[str, Any]] = {}

    def extend(self, steps: Any, values: Any, stamps: Any, last_row: int) -> None:
        """Append points read from the store (arrays of the same length; points with no
        number are left out); ``last_row`` is where the next read begins."""
        if len(steps):
            kept = np.isfinite(np.frombuffer(values, dtype=np.float64))
            self.steps = np.concatenate([self.steps, np.frombuffer(steps, dtype=np.int64)[kept]])
            self.values = np.concatenate(
                [self.values, np.frombuffer(values, dtype=np.float64)[kept]]
            )
            self.stamps = np.concatenate(
                [self.stamps, np.frombuffer(stamps, dtype=np.float64)[kept]]
            )
            self._views.clear()
        self.last_row = last_row

    @property
    def nbytes(self) -> int:
        return int(self.steps.nbytes + self.values.nbytes + self.stamps.nbytes)

    def view(self, points: int | None) -> dict[str, Any]:
        """``steps``, ``values``, ``timestamps`` (LTTB-thinned to ``points``), ``count``
        (points before thinning) and ``last_row`` (pass it back as ``after`` for more)."""
        cached = self._views.get(points)
        if cached is not None:
            return cached
        steps, values, stamps = self.steps, self.values, self.stamps
        if len(steps) > 1 and bool(np.any(steps[1:] < steps[:-1])):
            order = np.argsort(steps, kind="stable")
            steps, values, stamps = steps[order], values[order], stamps[order]
        count = len(steps)
        if points is not None and count > points:
            keep = lttb_arrays(steps, values, points)
            steps, values, stamps = steps[keep], values[keep], stamps[keep]
        view = {"steps": steps.tolist(), "values": values.tolist(),
                "timestamps": stamps.tolist(), "count": count,
                "last_row": self.last_row}  # fmt: skip
        self._views = {points: view}  # the last one asked for: a page opened again
        return view


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
            series.extend(*store.metric_since(run_id, key, after=series.last_row))
        self._trim()
        return series

    def view(self, store: RunStore, run_id: str, key: str, points: int | None) -> dict[str, Any]:
        """The metric's curve as :meth:`Series.view` makes it, its new rows read first."""
        series = self.get(store, run_id, key)
        with series.lock:
            return series.view(points)

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
    series.extend(*store.metric_since(run_id, key, after=after))
    return series.view(None)

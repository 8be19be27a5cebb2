"""Fewer points with the same shape: Largest-Triangle-Three-Buckets and smoothing.

LTTB (Steinarsson, 2013, "Downsampling Time Series for Visual
Representation") keeps the first and last point and, from each of the
``n - 2`` buckets between them, the point that makes the largest triangle
with the point kept before it and the mean of the next bucket: peaks and
dips survive where taking every k-th point would drop them. It is what
plotting front ends (uPlot's demos, Grafana, TimescaleDB's ``lttb``) use.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Sequence
from typing import Any

__all__ = ["VECTOR_FROM", "lttb", "lttb_arrays", "moving_average", "numpy_or_none"]


def lttb(xs: Sequence[float], ys: Sequence[float], points: int) -> list[int]:
    """The indices of at most ``points`` points of ``(xs, ys)`` that keep its shape.

    ``xs`` must be sorted. With ``points`` >= ``len(xs)`` every index comes
    back; ``points`` must be at least 3 (the first, the last and one between).
    """
    n = len(xs)
    if len(ys) != n:
        raise ValueError(f"xs and ys differ in length: {n} and {len(ys)}")
    if points < 3:
        raise ValueError(f"points must be at least 3, got {points}")
    if points >= n:
        return list(range(n))
    if n >= VECTOR_FROM:
        np = _numpy()
        if np is not None:
            return _lttb_vector(np, xs, ys, points)
    kept = [0]
    size = (n - 2) / (points - 2)
    a = 0
    for i in range(points - 2):
        start = math.floor(i * size) + 1
        end = math.floor((i + 1) * size) + 1
        # The mean of the next bucket (the last point for the last bucket).
        nxt_start, nxt_end = end, min(math.floor((i + 2) * size) + 1, n)
        if nxt_start >= n - 1 or i == points - 3:
            avg_x, avg_y = float(xs[n - 1]), float(ys[n - 1])
        else:
            span = nxt_end - nxt_start
            avg_x = math.fsum(xs[nxt_start:nxt_end]) / span
            avg_y = math.fsum(ys[nxt_start:nxt_end]) / span
        ax, ay = float(xs[a]), float(ys[a])
        best, best_area = start, -1.0
        for j in range(start, min(end, n - 1)):
            area = abs((ax - avg_x) * (ys[j] - ay) - (ax - xs[j]) * (avg_y - ay))
            if area > best_area:
                best, best_area = j, area
        kept.append(best)
        a = best
    kept.append(n - 1)
    return kept


def lttb_arrays(xs: Any, ys: Any, points: int) -> Any:
    """:func:`lttb` on numpy arrays, vectorised within each bucket: the same indices
    (as an integer array), for series of a million points in tens of milliseconds."""
    import numpy as np

    n = len(xs)
    if len(ys) != n:
        raise ValueError(f"xs and ys differ in length: {n} and {len(ys)}")
    if points < 3:
        raise ValueError(f"points must be at least 3, got {points}")
    if points >= n:
        return np.arange(n)
    x = np.asarray(xs, dtype=np.float64)
    y = np.asarray(ys, dtype=np.float64)
    size = (n - 2) / (points - 2)
    edges = (np.floor(np.arange(points - 1) * size) + 1).astype(np.int64)
    edges[-1] = n - 1
    cx, cy = np.cumsum(np.r_[0.0, x]), np.cumsum(np.r_[0.0, y])
    kept = np.empty(points, dtype=np.int64)
    kept[0], kept[-1] = 0, n - 1
    a = 0
    for i in range(points - 2):
        start, end = int(edges[i]), int(edges[i + 1])
        if i == points - 3:
            avg_x, avg_y = x[n - 1], y[n - 1]
        else:
            nxt_end = min(int(np.floor((i + 2) * size)) + 1, n)
            span = nxt_end - end
            avg_x = (cx[nxt_end] - cx[end]) / span
            avg_y = (cy[nxt_end] - cy[end]) / span
        ax, ay = x[a], y[a]
        area = np.abs((ax - avg_x) * (y[start:end] - ay) - (ax - x[start:end]) * (avg_y - ay))
        a = start + int(np.argmax(area))
        kept[i + 1] = a
    return kept


# From this many points a bucket's triangles are worked out by numpy, where installed
# (mosaic-core's eval extra): the same arithmetic, in the same order, so the same picks.
VECTOR_FROM = 10_000


def numpy_or_none() -> Any:
    """numpy if it is installed, else None."""
    return _numpy()


def _numpy() -> Any:
    try:
        return importlib.import_module("numpy")
    except ImportError:
        return None


def _lttb_vector(np: Any, xs: Sequence[float], ys: Sequence[float], points: int) -> list[int]:
    """:func:`lttb` with each bucket's areas as one numpy expression (an order faster)."""
    n = len(xs)
    xa, ya = np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
    xl, yl = memoryview(xa), memoryview(ya)  # slices iterate as floats: fsum, as lttb does
    kept = [0]
    size = (n - 2) / (points - 2)
    a = 0
    for i in range(points - 2):
        start = math.floor(i * size) + 1
        end = math.floor((i + 1) * size) + 1
        nxt_start, nxt_end = end, min(math.floor((i + 2) * size) + 1, n)
        if nxt_start >= n - 1 or i == points - 3:
            avg_x, avg_y = float(xl[n - 1]), float(yl[n - 1])
        else:
            span = nxt_end - nxt_start
            avg_x = math.fsum(xl[nxt_start:nxt_end]) / span
            avg_y = math.fsum(yl[nxt_start:nxt_end]) / span
        ax, ay = float(xl[a]), float(yl[a])
        stop = min(end, n - 1)
        best = start
        if stop > start:
            area = np.abs(
                (ax - avg_x) * (ya[start:stop] - ay) - (ax - xa[start:stop]) * (avg_y - ay)
            )
            if np.isnan(area).any():  # the loop skips a NaN where argmax would take it
                best, best_area = start, -1.0
                for j in range(start, stop):
                    if area[j - start] > best_area:
                        best, best_area = j, float(area[j - start])
            else:
                best = start + int(np.argmax(area))
        kept.append(best)
        a = best
    kept.append(n - 1)
    return kept


def moving_average(values: Sequence[float], window: int) -> list[float]:
    """The trailing mean of the last ``window`` values at each point (fewer at the start)."""
    if window < 1:
        raise ValueError(f"the smoothing window must be at least 1, got {window}")
    out: list[float] = []
    total = 0.0
    for i, value in enumerate(values):
        total += value
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out

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
from collections.abc import Iterable, Sequence, Sized
from typing import Any

__all__ = ["VECTOR_FROM", "lttb", "lttb_arrays", "moving_average", "numpy_or_none"]


def lttb(xs: Sequence[float], ys: Sequence[float], points: int) -> list[int]:
    """The indices of at most ``points`` points of ``(xs, ys)`` that keep its shape.

    ``xs`` must be sorted. With ``points`` >= ``len(xs)`` every index comes
    back; ``points`` must be at least 3 (the first, the last and one between).
    From ``VECTOR_FROM`` (10,000) points, where numpy is installed, the work is
    ``lttb_arrays``' of this module (the same indices).
    """
    n = _check(xs, ys, points)
    if points >= n:
        return list(range(n))
    if n >= VECTOR_FROM and _numpy() is not None:
        return list(lttb_arrays(xs, ys, points).tolist())
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
            avg_x = _mean(xs[nxt_start:nxt_end])
            avg_y = _mean(ys[nxt_start:nxt_end])
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


def _check(xs: Sized, ys: Sized, points: int) -> int:
    n = len(xs)
    if len(ys) != n:
        raise ValueError(f"xs and ys differ in length: {n} and {len(ys)}")
    if points < 3:
        raise ValueError(f"points must be at least 3, got {points}")
    return n


def _mean(values: Iterable[float]) -> float:
    """The mean, from the correctly rounded sum (``math.fsum``; its plain sum where that
    has none: an infinity of each sign, or an overflow on the way)."""
    listed = list(values)
    try:
        total = math.fsum(listed)
    except (ValueError, OverflowError):
        total = 0.0
        for value in listed:
            total += value
    return total / len(listed)


# From this many points (and where numpy is installed) lttb is lttb_arrays.
VECTOR_FROM = 10_000
_U = 2.0**-53  # the unit roundoff of a float64


def lttb_arrays(xs: Any, ys: Any, points: int) -> Any:
    """:func:`lttb` on numpy arrays, the same indices (as an integer array), for a
    million points in tens of milliseconds.

    A bucket's triangles are one numpy expression. The next bucket's mean is
    taken from numpy's sum, with a bound on how far that can be from the
    correctly rounded one :func:`lttb` uses (none for integer steps, summed
    exactly); where the largest triangle beats the next by more than that bound
    can move them, it is the one :func:`lttb` picks; otherwise (rarely: a near
    tie, a NaN) the bucket is worked out again with ``math.fsum``, as there.
    """
    import numpy as np

    n = _check(xs, ys, points)
    if points >= n:
        return np.arange(n)
    with np.errstate(all="ignore"):  # NaN and infinities count as in lttb, silently
        return _lttb_numpy(np, xs, ys, points, n)


def _lttb_numpy(np: Any, xs: Any, ys: Any, points: int, n: int) -> Any:
    x = np.ascontiguousarray(xs, dtype=np.float64)
    y = np.ascontiguousarray(ys, dtype=np.float64)
    size = (n - 2) / (points - 2)  # > 1: every bucket holds a point
    edges = (np.floor(np.arange(points) * size) + 1).astype(np.int64)  # bucket i from edges[i]
    edge = edges.tolist()
    # Bucket i's next is [edge[i + 1], min(edge[i + 2], n)); only those starting before
    # n - 1 give a mean (else the last point does), and they follow one another.
    nxt = edges[1 : points - 2]
    nxt = nxt[nxt < n - 1]
    means = _means(np, xs, x, y, nxt, min(edge[len(nxt) + 1], n))
    # Over bucket i and a little more (to the next start): bounds for how far points lie.
    low_x, high_x = (f.reduceat(x, edges[:-2]).tolist() for f in (np.minimum, np.maximum))
    low_y, high_y = (f.reduceat(y, edges[:-2]).tolist() for f in (np.minimum, np.maximum))
    xv, yv = memoryview(x), memoryview(y)
    kept = [0]
    a = 0
    for i in range(points - 2):
        start, stop = edge[i], min(edge[i + 1], n - 1)
        if stop - start < 2:  # one point (or none): lttb keeps the first
            kept.append(a := start)
            continue
        ax, ay = xv[a], yv[a]
        if i < len(means) and i < points - 3:
            avg_x, avg_y, err_x, err_y = means[i]
        else:
            avg_x, avg_y, err_x, err_y = xv[n - 1], yv[n - 1], 0.0, 0.0
        area = _areas(np, x, y, start, stop, ax, ay, avg_x, avg_y)
        best = int(area.argmax())
        top = float(area[best])
        if err_x or err_y:
            area[best] = -math.inf
            second = float(area.max())
            p, q = abs(ax - avg_x), abs(avg_y - ay)
            dp, dq = err_x + 2 * _U * (p + err_x), err_y + 2 * _U * (q + err_y)
            dx = max(abs(ax - high_x[i]), abs(ax - low_x[i]))
            dy = max(abs(high_y[i] - ay), abs(low_y[i] - ay))
            slack = 1.1 * (dy * dp + dx * dq + 8 * _U * ((p + dp) * dy + dx * (q + dq)))
            if not top - second > 2 * slack:  # too close to call, or a NaN: as lttb does
                span = slice(edge[i + 1], min(edge[i + 2], n))
                avg_x, avg_y = _mean(xv[span]), _mean(yv[span])
                area = _areas(np, x, y, start, stop, ax, ay, avg_x, avg_y)
                best = int(area.argmax())
                top = float(area[best])
        if top != top:  # a NaN: lttb's loop passes over it where argmax takes it
            best, top = 0, -1.0
            for j, value in enumerate(area.tolist()):
                if value > top:
                    best, top = j, value
        kept.append(a := start + best)
    kept.append(n - 1)
    return np.array(kept, dtype=np.int64)


def _means(
    np: Any, xs: Any, x: Any, y: Any, starts: Any, end: int
) -> list[tuple[float, float, float, float]]:
    """Per bucket from each of ``starts`` to the next (the last to ``end``): the mean of
    x and of y from numpy's sums, and how far each may be from :func:`_mean`'s."""
    if not len(starts):
        return []
    cuts = starts if end == len(x) else np.append(starts, end)
    spans = np.diff(np.append(starts, end)).tolist()
    sums_y = np.add.reduceat(y, cuts)[: len(starts)].tolist()
    sizes_y = np.add.reduceat(np.abs(y), cuts)[: len(starts)].tolist()
    whole = np.asarray(xs)
    big = max(abs(int(whole.min())), abs(int(whole.max()))) if whole.dtype.kind in "iu" else -1
    if 0 <= big <= 2**53 and big * len(x) < 2**62:  # integers, summed exactly: as fsum does
        sums_x = np.add.reduceat(whole.astype(np.int64), cuts)[: len(starts)]
        sums_xl, sizes_x = sums_x.astype(np.float64).tolist(), [0.0] * len(spans)
    else:
        sums_xl = np.add.reduceat(x, cuts)[: len(starts)].tolist()
        sizes_x = np.add.reduceat(np.abs(x), cuts)[: len(starts)].tolist()
    # |numpy's sum - the exact| <= (k - 1) u sum|v|; fsum's is within u sum|v| of it; then
    # the divisions: within 1.1 u (k + 5) sum|v| / k of each other, for any k here.
    return [
        (sx / k, sy / k, 1.1 * _U * (k + 5) * zx / k, 1.1 * _U * (k + 5) * zy / k)
        for sx, sy, zx, zy, k in zip(sums_xl, sums_y, sizes_x, sizes_y, spans, strict=True)
    ]


def _areas(
    np: Any, x: Any, y: Any, start: int, stop: int, ax: float, ay: float, avg_x: float,
    avg_y: float,
) -> Any:  # fmt: skip
    """Twice the triangles of ``(ax, ay)``, each point of ``[start, stop)`` and the next
    bucket's mean, with :func:`lttb`'s operations in its order."""
    left = y[start:stop] - ay
    left *= ax - avg_x
    right = ax - x[start:stop]
    right *= avg_y - ay
    left -= right
    return np.abs(left, out=left)


def numpy_or_none() -> Any:
    """numpy if it is installed, else None."""
    return _numpy()


def _numpy() -> Any:
    try:
        return importlib.import_module("numpy")
    except ImportError:
        return None


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

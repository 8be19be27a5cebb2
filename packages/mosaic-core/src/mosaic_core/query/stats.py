"""Statistics over runs as rliable reports them: IQM and stratified bootstrap CIs.

Pure Python. numpy, when it is installed, only does the arithmetic faster:
the resampling indices come from one seeded :class:`random.Random` in both
paths, so a result does not depend on whether numpy is there (up to the last
bits of a floating-point sum), and the same seed gives the same interval.

Definitions follow rliable (Agarwal et al., 2021, "Deep RL at the Edge of the
Statistical Precipice"): the IQM is ``scipy.stats.trim_mean(x, 0.25)`` (a
quarter of the values, rounded down, cut from each end); a confidence
interval is the percentile interval of a stratified bootstrap, where each
stratum (a task, such as an environment) is resampled with replacement on
its own and the statistic is taken over all of them together; percentiles
interpolate linearly, as numpy's default does.
"""

from __future__ import annotations

import array
import math
import random
from collections.abc import Callable, Sequence
from typing import Any, Literal

__all__ = [
    "STATISTICS",
    "bootstrap_ci",
    "bootstrap_intervals",
    "curve_band",
    "iqm",
    "mean",
    "median",
    "percentile",
    "summarize",
]

Statistic = Literal["mean", "iqm", "median"]
Backend = Literal["auto", "python", "numpy"]


def mean(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("mean of no values")
    return math.fsum(values) / len(values)


def iqm(values: Sequence[float]) -> float:
    """The interquartile mean: the mean of what is left once ``floor(n/4)`` values are
    cut from each end (``scipy.stats.trim_mean(values, 0.25)``, as rliable)."""
    if not values:
        raise ValueError("IQM of no values")
    ordered = sorted(values)
    cut = len(ordered) // 4
    return mean(ordered[cut : len(ordered) - cut])


def median(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("median of no values")
    return percentile(sorted(values), 50.0)


STATISTICS: dict[str, Callable[[Sequence[float]], float]] = {
    "mean": mean,
    "iqm": iqm,
    "median": median,
}


def percentile(ordered: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of sorted values, interpolated linearly."""
    if not ordered:
        raise ValueError("percentile of no values")
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _numpy(backend: Backend) -> Any:
    if backend == "python":
        return None
    try:
        import numpy
    except ImportError:
        if backend == "numpy":
            raise
        return None
    return numpy


def _draws(rng: random.Random, sizes: Sequence[int], reps: int) -> list[bytes]:
    """For each stratum size n, ``reps * n`` random 32-bit words (native byte order).

    Word ``w`` picks index ``(w * n) >> 32``: one draw with replacement. Bytes
    from the seeded generator, turned into indices by :func:`_indices` or by
    numpy the same way, so both paths resample the same runs.
    """
    return [rng.randbytes(4 * reps * n) for n in sizes]


def _indices(raw: bytes, n: int) -> list[int]:
    words = array.array("I")
    if words.itemsize != 4:  # pragma: no cover - 'I' is 4 bytes on every platform we run
        words = array.array("L")
    words.frombytes(raw)
    return [(w * n) >> 32 for w in words]


def _np_indices(np: Any, raw: bytes, n: int, reps: int) -> Any:
    words = np.frombuffer(raw, dtype=np.dtype("=u4")).astype(np.uint64)
    return ((words * np.uint64(n)) >> np.uint64(32)).astype(np.intp).reshape(reps, n)


def bootstrap_ci(
    strata: Sequence[Sequence[float]],
    statistic: Statistic = "mean",
    *,
    reps: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
    backend: Backend = "auto",
) -> tuple[float, float]:
    """The percentile interval of ``statistic`` under a stratified bootstrap.

    ``strata`` holds one sequence of scores per task (one run per score); a
    plain bootstrap is one stratum. Each replicate resamples every stratum
    with replacement on its own, then applies ``statistic`` to all of them.
    """
    intervals = bootstrap_intervals(
        strata, (statistic,), reps=reps, confidence=confidence, seed=seed, backend=backend
    )
    return intervals[statistic]


def bootstrap_intervals(
    strata: Sequence[Sequence[float]],
    statistics: Sequence[Statistic] = ("mean", "iqm"),
    *,
    reps: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
    backend: Backend = "auto",
) -> dict[str, tuple[float, float]]:
    """:func:`bootstrap_ci` of several statistics over the same resamples."""
    strata = [list(map(float, s)) for s in strata if len(s)]
    if not strata:
        raise ValueError("a confidence interval of no values")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    if reps < 1:
        raise ValueError(f"reps must be at least 1, got {reps}")
    draws = _draws(random.Random(seed), [len(s) for s in strata], reps)
    tail = (1 - confidence) / 2 * 100
    out: dict[str, tuple[float, float]] = {}
    np = _numpy(backend)
    if np is not None:
        columns = [
            np.asarray(s)[_np_indices(np, d, len(s), reps)]
            for s, d in zip(strata, draws, strict=True)
        ]
        sample = np.sort(np.concatenate(columns, axis=1), axis=1)
        for statistic in statistics:
            if statistic == "mean":
                values = sample.mean(axis=1)
            elif statistic == "iqm":
                cut = sample.shape[1] // 4
                values = sample[:, cut : sample.shape[1] - cut].mean(axis=1)
            else:
                values = np.median(sample, axis=1)
            replicates = sorted(values.tolist())
            out[statistic] = (percentile(replicates, tail), percentile(replicates, 100 - tail))
        return out
    picks = [_indices(d, len(s)) for s, d in zip(strata, draws, strict=True)]
    results: dict[str, list[float]] = {statistic: [] for statistic in statistics}
    for r in range(reps):
        sample_list: list[float] = []
        for s, chosen in zip(strata, picks, strict=True):
            n = len(s)
            sample_list.extend(s[i] for i in chosen[r * n : (r + 1) * n])
        for statistic in statistics:
            results[statistic].append(STATISTICS[statistic](sample_list))
    for name, replicates in results.items():
        replicates.sort()
        out[name] = (percentile(replicates, tail), percentile(replicates, 100 - tail))
    return out


def summarize(
    values: Sequence[float],
    *,
    strata: Sequence[Sequence[float]] | None = None,
    reps: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
    backend: Backend = "auto",
) -> dict[str, Any]:
    """Mean and IQM of ``values`` with bootstrap intervals, as one JSON-ready dict.

    ``strata``, when given, splits the same values by task for the bootstrap.
    With no values every statistic is None.
    """
    values = [float(v) for v in values]
    if not values:
        return {"n": 0, "mean": None, "mean_ci": None, "iqm": None, "iqm_ci": None,
                "median": None, "min": None, "max": None, "confidence": confidence}  # fmt: skip
    groups = strata if strata is not None else [values]
    intervals = bootstrap_intervals(
        groups, ("mean", "iqm"), reps=reps, confidence=confidence, seed=seed, backend=backend
    )
    return {
        "n": len(values),
        "mean": mean(values),
        "mean_ci": list(intervals["mean"]),
        "iqm": iqm(values),
        "iqm_ci": list(intervals["iqm"]),
        "median": median(values),
        "min": min(values),
        "max": max(values),
        "confidence": confidence,
    }


def curve_band(
    rows: Sequence[Sequence[float]],
    *,
    reps: int = 2_000,
    confidence: float = 0.95,
    seed: int = 0,
    backend: Backend = "auto",
) -> tuple[list[float], list[float], list[float]]:
    """``(mean, low, high)`` at each point of equally long curves (one row per run).

    Runs are resampled as wholes, so a replicate is a mean curve of real
    runs, and the band at each point is the percentile interval of those.
    """
    if not rows:
        raise ValueError("a band of no curves")
    width = len(rows[0])
    if any(len(row) != width for row in rows):
        raise ValueError("curves of different lengths; put them on one grid first")
    n = len(rows)
    center = [math.fsum(column) / n for column in zip(*rows, strict=True)]
    (raw,) = _draws(random.Random(seed), [n], reps)
    np = _numpy(backend)
    if np is not None:
        matrix = np.asarray(rows, dtype=float)
        idx = _np_indices(np, raw, n, reps)
        replicates = matrix[idx].mean(axis=1)  # reps x width
        replicates.sort(axis=0)
        columns = replicates.T.tolist()
    else:
        # The same multiset of runs gives the same mean curve: compute each once.
        draws = _indices(raw, n)
        cache: dict[tuple[int, ...], list[float]] = {}
        curves = []
        for r in range(reps):
            chosen = tuple(sorted(draws[r * n : (r + 1) * n]))
            curve = cache.get(chosen)
            if curve is None:
                curve = [math.fsum(rows[i][j] for i in chosen) / n for j in range(width)]
                cache[chosen] = curve
            curves.append(curve)
        columns = [sorted(column) for column in zip(*curves, strict=True)]
    tail = (1 - confidence) / 2 * 100
    low = [percentile(c, tail) for c in columns]
    high = [percentile(c, 100 - tail) for c in columns]
    return center, low, high

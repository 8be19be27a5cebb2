"""Learning curves: one run's series, and runs grouped into a mean with a bootstrap band.

x is the step the worker reported with each metric, which the telemetry
contract makes environment steps. A group's runs are put on one grid of
``points`` steps over the range every one of them covers (so a run still
going shortens it), each by linear interpolation of its own (optionally
smoothed) points; the band is the 95% percentile interval of a bootstrap
over the runs (:func:`mosaic_core.query.stats.curve_band`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from mosaic_core._errors import ConfigError, did_you_mean
from mosaic_core.query.downsample import VECTOR_FROM, lttb, moving_average, numpy_or_none
from mosaic_core.query.filters import canonical, check_field, flatten, lookup
from mosaic_core.query.stats import curve_band
from mosaic_core.runs.store import RunStore

__all__ = ["check_keys", "group_curves", "group_runs", "run_curves"]

# Fields that name a run, not a choice of its config: never a reason to split a group.
_IDENTITY = frozenset({"run_id", "seed"})


def check_keys(
    store: RunStore, run_ids: Sequence[str], keys: Sequence[str]
) -> dict[str, list[str]]:
    """Every run's keys; a key no run has is a ConfigError naming the keys there are."""
    have = store.metric_keys(run_ids)
    every = sorted({k for ks in have.values() for k in ks})
    for key in keys:
        if not any(key in ks for ks in have.values()):
            which = (f"run {run_ids[0]} has no" if len(run_ids) == 1
                     else f"none of the {len(run_ids)} runs has")  # fmt: skip
            raise ConfigError(
                f"{which} metric {key!r}{did_you_mean(key, every)}; "
                f"{'it has' if len(run_ids) == 1 else 'they have'}: {', '.join(every) or 'none'}",
                field="--key",
                value=key,
            )
    return have


def _series(store: RunStore, run_id: str, key: str) -> tuple[Any, Any, Any]:
    """Steps, values and timestamps of one metric, in step order, without missing values:
    lists, or numpy arrays for a long curve where numpy is installed."""
    curve = store.metric_series(run_id, key)
    np = numpy_or_none() if len(curve) >= VECTOR_FROM else None
    if np is not None:
        steps = np.frombuffer(curve.steps, dtype=np.int64)
        values = np.frombuffer(curve.values, dtype=np.float64)
        stamps = np.frombuffer(curve.stamps, dtype=np.float64)
        finite = np.isfinite(values)
        if not finite.all():  # NaN (no number) and infinities are left out
            steps, values, stamps = steps[finite], values[finite], stamps[finite]
        if len(steps) > 1 and bool((steps[1:] < steps[:-1]).any()):
            order = np.argsort(steps, kind="stable")  # equal steps keep their order
            steps, values, stamps = steps[order], values[order], stamps[order]
        return steps, values, stamps
    steps, values, stamps = curve.steps.tolist(), curve.values.tolist(), curve.stamps.tolist()
    if not all(map(math.isfinite, values)):
        keep = [i for i, v in enumerate(values) if math.isfinite(v)]
        steps, values = [steps[i] for i in keep], [values[i] for i in keep]
        stamps = [stamps[i] for i in keep]
    if steps != sorted(steps):
        order = sorted(range(len(steps)), key=steps.__getitem__)  # stable: equal steps keep
        steps, values = [steps[i] for i in order], [values[i] for i in order]  # their order
        stamps = [stamps[i] for i in order]
    return steps, values, stamps


def _take(column: Any, keep: list[int] | None) -> list[Any]:
    """``column`` (a list or a numpy array) at ``keep`` (None: all of it), as a list."""
    if isinstance(column, list):
        return column if keep is None else [column[i] for i in keep]
    return list(column.tolist() if keep is None else column[keep].tolist())


def run_curves(
    store: RunStore,
    run_ids: Sequence[str],
    keys: Sequence[str],
    *,
    points: int | None = None,
    smooth: int | None = None,
) -> list[dict[str, Any]]:
    """``{"run_id", "key", "steps", "values", "timestamps", "count"}`` per run and key that
    has data; ``count`` is the number of points before ``points`` (LTTB) thinned them."""
    if points is not None and points < 3:
        raise ConfigError.bad_value("--points", points, "a whole number >= 3")
    out = []
    for run_id in run_ids:
        for key in keys:
            steps, values, stamps = _series(store, run_id, key)
            if len(steps) == 0:
                continue
            if smooth and smooth > 1:
                values = moving_average(values, smooth)
            count = len(steps)
            keep = lttb(steps, values, points) if points is not None else None
            steps, values, stamps = _take(steps, keep), _take(values, keep), _take(stamps, keep)
            out.append({"run_id": run_id, "key": key, "steps": steps, "values": values,
                        "timestamps": stamps, "count": count})  # fmt: skip
    return out


def group_runs(rows: Sequence[Mapping[str, Any]], by: str = "seed") -> list[dict[str, Any]]:
    """Runs split into groups: ``{"label", "fields", "rows"}`` each, in the order first seen.

    ``by`` is ``seed`` (runs whose configs differ only in seed: the usual
    mean over seeds), ``none`` (each run alone), a column such as
    ``algorithm`` or ``group``, or ``config.FIELD`` (several joined by commas).
    """
    if by == "none":
        groups = [{"key": r["run_id"], "fields": _config_fields(r), "rows": [r]} for r in rows]
    else:
        fields = (
            [] if by == "seed" else [check_field(f.strip(), "--group-by") for f in by.split(",")]
        )
        found: dict[str, dict[str, Any]] = {}
        for row in rows:
            if by == "seed":
                values = _config_fields(row)
                key = canonical([row.get("worker_type"), values])
            else:
                values = {f: lookup(row, f) for f in fields}
                key = canonical(list(values.values()))
            group = found.setdefault(key, {"key": key, "fields": values, "rows": []})
            group["rows"].append(row)
        groups = list(found.values())
    _label(groups, by)
    return groups


def _config_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    """``{"config.FIELD": value}`` of a run, without the fields that only name it."""
    config = flatten(row.get("config") or {})
    return {f"config.{k}": v for k, v in config.items() if k not in _IDENTITY}


def _label(groups: list[dict[str, Any]], by: str) -> None:
    """Labels from algorithm, env and seed, plus the config fields that tell groups apart."""
    differing: list[str] = []
    if by in ("seed", "none"):
        names = sorted({f for g in groups for f in g["fields"]})
        for name in names:
            if len(groups) > 1 and len({canonical(g["fields"].get(name)) for g in groups}) > 1:
                differing.append(name)
        for group in groups:
            group["fields"] = {n: group["fields"].get(n) for n in differing}
    for group in groups:
        rows = group["rows"]
        first = rows[0]
        parts = []
        if by in ("seed", "none"):
            parts += [str(first[c]) for c in ("algorithm", "env_id") if first.get(c)]
            parts += [f"{n.removeprefix('config.')}={_show(v)}" for n, v in group["fields"].items()
                      if n not in ("config.algorithm", "config.env_id")]  # fmt: skip
        else:
            parts += [f"{n.removeprefix('config.')}={_show(v)}" for n, v in group["fields"].items()]
        if len(rows) == 1:
            seed = first.get("seed")
            parts.append(f"seed {seed}" if seed is not None else first["run_id"][-8:])
        else:
            seeds = {r.get("seed") for r in rows}
            noun = "seeds" if by in ("seed", "none") and len(seeds) == len(rows) else "runs"
            parts.append(f"({len(rows)} {noun})")
        group["label"] = " ".join(parts) or first["run_id"]


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return value if isinstance(value, str) else json.dumps(value)


def _interpolate(xs: Sequence[float], ys: Sequence[float], grid: Sequence[float]) -> list[float]:
    out, j = [], 0
    for x in grid:
        while j + 1 < len(xs) - 1 and xs[j + 1] < x:
            j += 1
        x0, x1, y0, y1 = xs[j], xs[j + 1], ys[j], ys[j + 1]
        out.append(y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0))
    return out


def _dedupe(steps: list[int], values: list[float]) -> tuple[list[int], list[float]]:
    """One point per step (the mean of its values), so interpolation is well defined."""
    xs: list[int] = []
    ys: list[float] = []
    counts: list[int] = []
    for x, y in zip(steps, values, strict=True):
        if xs and xs[-1] == x:
            counts[-1] += 1
            ys[-1] += (y - ys[-1]) / counts[-1]
        else:
            xs.append(x)
            ys.append(y)
            counts.append(1)
    return xs, ys


def group_curves(
    store: RunStore,
    rows: Sequence[Mapping[str, Any]],
    keys: Sequence[str],
    *,
    group_by: str = "seed",
    points: int = 200,
    smooth: int | None = None,
    reps: int = 2_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Per key and group: ``{"key", "label", "fields", "run_ids", "n", "steps", "mean",
    "low", "high"}``; ``low``/``high`` are None for a group of one run, and ``note``
    says why a group has no curve."""
    if points < 2:
        raise ConfigError.bad_value("--points", points, "a whole number >= 2")
    groups = group_runs(rows, group_by)
    out = []
    for key in keys:
        for group in groups:
            members = []
            for row in group["rows"]:
                steps, values, _ = _series(store, row["run_id"], key)
                steps, values = _take(steps, None), _take(values, None)
                if smooth and smooth > 1:
                    values = moving_average(values, smooth)
                xs, ys = _dedupe(steps, values)
                if xs:
                    members.append((row["run_id"], xs, ys))
            item: dict[str, Any] = {
                "key": key, "label": group["label"], "fields": group["fields"],
                "run_ids": [m[0] for m in members], "n": len(members),
                "steps": [], "mean": [], "low": None, "high": None,
            }  # fmt: skip
            out.append(item)
            if not members:
                item["note"] = f"no run of this group has {key!r} yet"
                continue
            if len(members) == 1:
                _, xs, ys = members[0]
                keep = lttb(xs, ys, points) if points >= 3 else list(range(len(xs)))
                item.update(steps=[xs[i] for i in keep], mean=[ys[i] for i in keep])
                continue
            start = max(m[1][0] for m in members)
            stop = min(m[1][-1] for m in members)
            if stop <= start or any(len(m[1]) < 2 for m in members):
                item["note"] = "its runs share no range of steps yet"
                continue
            grid = [start + (stop - start) * i / (points - 1) for i in range(points)]
            matrix = [_interpolate(xs, ys, grid) for _, xs, ys in members]
            center, low, high = curve_band(matrix, reps=reps, confidence=confidence, seed=seed)
            item.update(steps=grid, mean=center, low=low, high=high)
    return out

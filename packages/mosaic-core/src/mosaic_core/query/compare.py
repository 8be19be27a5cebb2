"""Runs side by side, and a group's configurations with their statistics.

:func:`compare_runs` shows the config fields that differ and each run's
final and best value of every metric. :func:`group_statistics` is the table
a sweep ends with: per configuration (runs that differ only in seed), how
many runs, and the mean and IQM of a summary metric with stratified
bootstrap 95% confidence intervals, as rliable reports them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mosaic_core._errors import ConfigError
from mosaic_core.query.curves import group_runs
from mosaic_core.query.filters import canonical, flatten
from mosaic_core.query.stats import summarize
from mosaic_core.query.table import TAIL, metric_values, pick_headline, run_row
from mosaic_core.runs.store import RunStore

__all__ = ["compare_runs", "group_statistics", "lower_is_better"]

_LOWER_WORDS = ("loss", "regret", "error")


def lower_is_better(key: str) -> bool:
    """Is a smaller value of ``key`` the better one? Losses, regret and errors; the rest
    (returns, rewards, success rates) are better larger."""
    name = key.lower()
    return any(word in name for word in _LOWER_WORDS)


def config_diff(
    configs: Sequence[Mapping[str, Any]],
) -> tuple[dict[str, list[Any]], dict[str, Any]]:
    """``(differ, same)``: per flattened field, every config's value where they differ,
    the shared value where they agree. A field a config lacks is None there."""
    flats = [flatten(c) for c in configs]
    names = sorted({n for f in flats for n in f} - {"run_id"})
    differ: dict[str, list[Any]] = {}
    same: dict[str, Any] = {}
    for name in names:
        values = [f.get(name) for f in flats]
        if len({canonical(v) for v in values}) > 1:
            differ[name] = values
        else:
            same[name] = values[0]
    return differ, same


def compare_runs(
    store: RunStore, run_ids: Sequence[str], keys: Sequence[str] | None = None
) -> dict[str, Any]:
    """The config fields that differ, side by side, and every run's metrics.

    ``metrics[key]`` holds one entry per run (None where it lacks the key):
    ``final`` (its last value), ``best`` (the largest, or the smallest for a
    loss, regret or error: see :func:`lower_is_better`), ``min``, ``max``,
    ``tail`` (the mean of the last ten) and ``last_step``.
    """
    if len(run_ids) < 1:
        raise ConfigError("mosaic compare: name at least one run", field="RUN")
    rows = [run_row(store.get(r)) for r in run_ids]
    ids = [r["run_id"] for r in rows]
    have = store.metric_keys(ids)
    every = sorted({k for ks in have.values() for k in ks})
    if keys:
        missing = [k for k in keys if k not in every]
        if missing:
            from mosaic_core._errors import did_you_mean

            raise ConfigError(
                f"none of the runs has metric {missing[0]!r}{did_you_mean(missing[0], every)}; "
                f"they have: {', '.join(every) or 'none'}",
                field="--key",
                value=missing[0],
            )
        chosen = list(keys)
    else:
        headlines = [pick_headline(have[r["run_id"]], r.get("headline_metric")) for r in rows]
        first = [h for h in dict.fromkeys(headlines) if h]
        chosen = first + [k for k in every if k not in first]
    metrics: dict[str, list[dict[str, Any] | None]] = {}
    for key in chosen:
        found = store.metric_summary(ids, key, tail=TAIL)
        entries: list[dict[str, Any] | None] = []
        for run_id in ids:
            stats = found.get(run_id)
            if stats is None:
                entries.append(None)
                continue
            best = stats["min"] if lower_is_better(key) else stats["max"]
            entries.append({"final": stats["last"], "best": best, "min": stats["min"],
                            "max": stats["max"], "tail": stats["tail"],
                            "last_step": stats["last_step"], "count": stats["count"]})  # fmt: skip
        metrics[key] = entries
    differ, same = config_diff([r["config"] for r in rows])
    labels = group_runs(rows, "none")
    return {
        "runs": [
            {
                k: r.get(k)
                for k in (
                    "run_id",
                    "worker_type",
                    "status",
                    "algorithm",
                    "env_id",
                    "seed",
                    "group",
                    "step",
                    "total_steps",
                    "summary",
                )
            }
            | {"label": g["label"]}
            for r, g in zip(rows, labels, strict=True)
        ],
        "config": {"differ": differ, "same": same},
        "metrics": metrics,
        "lower_is_better": [k for k in chosen if lower_is_better(k)],
    }


def group_statistics(
    store: RunStore,
    rows: Sequence[Mapping[str, Any]],
    *,
    group: str | None = None,
    metric: str | None = None,
    stat: str = "tail",
    reps: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """Per configuration of ``rows``: runs, and the mean and IQM of the summary metric
    with their bootstrap intervals (strata: environments). Runs without a value yet
    are counted in ``runs`` but not in ``n``."""
    values = metric_values(store, rows, metric, stat)
    configurations = group_runs(rows, "seed")
    fields = sorted({f for c in configurations for f in c["fields"]})
    out = []
    for conf in configurations:
        members = conf["rows"]
        scores: dict[str, list[float]] = {}
        kept = []
        for row in members:
            value = values[row["run_id"]]["value"]
            if value is not None:
                scores.setdefault(str(row.get("env_id")), []).append(float(value))
                kept.append(value)
        statuses: dict[str, int] = {}
        for row in members:
            statuses[row["status"]] = statuses.get(row["status"], 0) + 1
        stats = summarize(kept, strata=list(scores.values()), reps=reps,
                          confidence=confidence, seed=seed)  # fmt: skip
        keys = sorted({values[r["run_id"]]["key"] for r in members if values[r["run_id"]]["key"]})
        out.append({
            "label": conf["label"],
            "fields": {f.removeprefix("config."): conf["fields"].get(f) for f in fields},
            "run_ids": [r["run_id"] for r in members],
            "runs": len(members),
            "statuses": statuses,
            "seeds": [r.get("seed") for r in members],
            "metric_keys": keys,
            "values": kept,
            **stats,
        })  # fmt: skip
    return {
        "group": group,
        "metric": metric,
        "stat": None if metric and metric.startswith("summary.") else stat,
        "fields": [f.removeprefix("config.") for f in fields],
        "configurations": out,
        "bootstrap": {"reps": reps, "seed": seed, "confidence": confidence},
    }

"""One run in full: what ``mosaic show`` prints and a front end's run page shows."""

from __future__ import annotations

import json
import pathlib
from typing import Any

from mosaic_core.query.table import metric_values, run_row
from mosaic_core.runs.store import RunStore

__all__ = ["run_details"]


def _read_json(path: pathlib.Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def run_details(store: RunStore, ref: str) -> dict[str, Any]:
    """The run's row (see :func:`~mosaic_core.query.run_row`) with ``run_dir``, its
    headline ``metric``, ``final_metrics`` (the last value of every key),
    ``metric_keys``, ``anomalies`` (the records, not their count), and the
    ``manifest`` and ``provenance`` it wrote (None where it wrote none)."""
    run = run_row(store.get(ref))
    run_dir = store.run_dir(run["run_id"])
    run["run_dir"] = str(run_dir)
    run["metric"] = metric_values(store, [run])[run["run_id"]]
    run["final_metrics"] = store.final_metrics(run["run_id"])
    run["metric_keys"] = sorted(run["final_metrics"])
    run["anomalies"] = store.anomalies(run["run_id"])
    run["manifest"] = _read_json(run_dir / "analytics.json")
    run["provenance"] = _read_json(run_dir / "provenance.json")
    return run

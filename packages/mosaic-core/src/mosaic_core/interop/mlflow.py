"""``mosaic export mlflow``: runs, their params and metrics into an MLflow tracking store.

Each MOSAIC run becomes one MLflow run in an experiment (``mosaic`` by
default), named as TensorBoard names it (``ppo-CartPole-v1-seed1-...``),
tagged with ``mosaic.run_id`` and its worker, algorithm, env, seed, group
and status; its config, flattened to dotted names, as params; every metric
point with its step and time. A run already exported (same
``mosaic.run_id`` in that experiment) is skipped, so exporting again only
adds what is new. A run still going stays RUNNING in MLflow.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from mosaic_core.interop.tensorboard import readable_name
from mosaic_core.query.figures import MissingExtra
from mosaic_core.query.filters import flatten
from mosaic_core.runs.store import RunStore

__all__ = ["export_mlflow"]

_STATUS = {"completed": "FINISHED", "failed": "FAILED", "cancelled": "KILLED"}
_KEY = re.compile(r"[^A-Za-z0-9_\-. :/]")
_PARAM_LENGTH = 6000  # MLflow's limit for a param value
_BATCH = 1000  # MLflow's limit of metrics per log_batch


def _client(tracking_uri: str) -> Any:
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise MissingExtra(
            "exporting to MLflow needs mlflow (or mlflow-skinny, with SQLAlchemy and Alembic "
            "for a database store): pip install 'mosaic-core[mlflow]'"
        ) from None
    return MlflowClient(tracking_uri=tracking_uri)


def _text(value: Any) -> str:
    import json

    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text[:_PARAM_LENGTH]


def export_mlflow(
    store: RunStore,
    rows: Sequence[Mapping[str, Any]],
    tracking_uri: str,
    *,
    experiment: str = "mosaic",
) -> list[dict[str, Any]]:
    """Export ``rows`` (run rows of :mod:`mosaic_core.query`); returns per run
    ``{"run_id", "mlflow_run_id", "exported": bool, "metrics": n, "params": n}``."""
    client = _client(tracking_uri)  # first: without mlflow, MissingExtra says what to install
    from mlflow.entities import Metric, Param

    found = client.get_experiment_by_name(experiment)
    experiment_id = found.experiment_id if found else client.create_experiment(experiment)
    out = []
    for row in rows:
        run_id = row["run_id"]
        existing = client.search_runs(
            [experiment_id], filter_string=f"tags.`mosaic.run_id` = '{run_id}'", max_results=1
        )
        if existing:
            out.append({"run_id": run_id, "mlflow_run_id": existing[0].info.run_id,
                        "exported": False, "metrics": 0, "params": 0})  # fmt: skip
            continue
        tags = {"mosaic.run_id": run_id, "mosaic.worker": row.get("worker_type"),
                "mosaic.algorithm": row.get("algorithm"), "mosaic.env_id": row.get("env_id"),
                "mosaic.seed": row.get("seed"), "mosaic.group": row.get("group"),
                "mosaic.status": row.get("status")}  # fmt: skip
        created = client.create_run(
            experiment_id,
            start_time=int((row.get("started_at") or row["created_at"]) * 1000),
            tags={k: str(v) for k, v in tags.items() if v is not None},
            run_name=readable_name(row),
        )
        mlflow_id = created.info.run_id
        config = flatten(row.get("config") or {})
        params = [Param(_KEY.sub("_", k), _text(v)) for k, v in config.items() if k != "run_id"]
        for start in range(0, len(params), 100):
            client.log_batch(mlflow_id, params=params[start : start + 100])
        metrics = []
        for point in store.metrics(run_id):
            value = point["value"]
            if value is None or not math.isfinite(value):
                continue
            metrics.append(Metric(_KEY.sub("_", point["key"]), value,
                                  int(point["timestamp"] * 1000), point["step"]))  # fmt: skip
        for start in range(0, len(metrics), _BATCH):
            client.log_batch(mlflow_id, metrics=metrics[start : start + _BATCH])
        status = _STATUS.get(row.get("status") or "")
        if status is not None:
            ended = row.get("ended_at")
            client.set_terminated(
                mlflow_id, status=status, end_time=int(ended * 1000) if ended else None
            )
        out.append({"run_id": run_id, "mlflow_run_id": mlflow_id, "exported": True,
                    "metrics": len(metrics), "params": len(params)})  # fmt: skip
    return out

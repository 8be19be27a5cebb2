"""A real run store filled with runs whose telemetry a real emitter wrote.

Each run is made as the supervisor makes one (``create_run``), its events
written by :class:`~mosaic_core.TelemetryEmitter` into ``events.jsonl`` and
indexed by ``catch_up``, as after a real run; only the worker process is
left out, since these tests are about reading runs, not running them.
"""

from __future__ import annotations

import io
import pathlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest

from mosaic_core import TelemetryEmitter
from mosaic_core.runs import RunStore


class Runs:
    def __init__(self, store: RunStore) -> None:
        self.store = store
        self.count = 0

    def make(
        self,
        config: Mapping[str, Any],
        points: Sequence[tuple[int, Mapping[str, float]]],
        *,
        worker: str = "toy",
        status: str = "completed",
        summary: Mapping[str, Any] | None = None,
        group: str | None = None,
        headline: str | None = None,
        created_at: float | None = None,
    ) -> str:
        self.count += 1
        run_id = f"run{self.count:03d}"
        full = {"run_id": run_id, **config}
        self.store.create_run(run_id, worker, full, group=group, headline_metric=headline)
        buffer = io.BytesIO()
        emitter = TelemetryEmitter(run_id, stream=buffer)
        emitter.run_started(algorithm=config.get("algorithm"), env_id=config.get("env_id"),
                            seed=config.get("seed"))  # fmt: skip
        for step, values in points:
            emitter.metrics(step, values)
        if status == "completed":
            emitter.run_completed(dict(summary or {}))
        elif status == "failed":
            emitter.run_failed(RuntimeError("on purpose"))
        emitter.close()
        path = self.store.run_dir(run_id) / "events.jsonl"
        path.write_bytes(buffer.getvalue())
        self.store.catch_up(run_id, final=status != "running")
        self.store.update(run_id, status=status)
        if created_at is not None:
            with self.store.transaction() as db:
                db.execute("UPDATE runs SET created_at = ? WHERE run_id = ?", (created_at, run_id))
        return run_id


@pytest.fixture
def store(tmp_path: pathlib.Path) -> Iterator[RunStore]:
    with RunStore(tmp_path / "home") as s:
        yield s


@pytest.fixture
def runs(store: RunStore) -> Runs:
    return Runs(store)


def curve(values: Sequence[float], every: int = 100) -> list[tuple[int, dict[str, float]]]:
    """``charts/episodic_return`` points at steps every, 2*every, ..."""
    return [((i + 1) * every, {"charts/episodic_return": float(v)}) for i, v in enumerate(values)]

"""A local worker hears how far its telemetry has been read as soon as the supervisor
reads it, not once it is indexed: it writes its next lines while the last are indexed.
(Heard only after the index, one flooding worker and the supervisor took turns.)
A real worker process under an in-process supervisor."""

from __future__ import annotations

import os

from mosaic_core._window import IndexAck
from mosaic_core.runs import RunStore, Supervisor, prepare_runs


def test_each_chunk_is_acknowledged_before_it_is_indexed(store: RunStore, monkeypatch) -> None:
    from mosaic_core.plugins import discover_workers

    told: list[int] = []  # every offset the supervisor told the worker, in order
    ingested: list[tuple[int, int]] = []  # (ingested_bytes, offsets told before it)
    real_tell, real_ingest = IndexAck.tell, RunStore.ingest

    def tell(self: IndexAck, offset: int) -> None:
        told.append(offset)
        real_tell(self, offset)

    def ingest(self, run_id, items, ingested_bytes, *args, **kwargs):  # type: ignore[no-untyped-def]
        ingested.append((ingested_bytes, max(told, default=-1)))
        return real_ingest(self, run_id, items, ingested_bytes, *args, **kwargs)

    monkeypatch.setattr(IndexAck, "tell", tell)
    monkeypatch.setattr(RunStore, "ingest", ingest)
    spec = discover_workers(load=["fixture"]).runnable("fixture")
    (run,) = prepare_runs(store, "fixture", spec, {"total_steps": 3000, "seed": 1})
    supervisor = Supervisor(store, parallel=1)
    supervisor.submit(run.launch)

    assert supervisor.wait()[run.run_id].status == "completed"
    size = os.path.getsize(store.run_dir(run.run_id) / "events.jsonl")
    assert ingested and ingested[-1][0] == size  # the whole file was indexed
    for indexed_to, heard in ingested:
        assert heard >= indexed_to, (indexed_to, heard)  # told before it was indexed
    assert told == sorted(told) and told[-1] == size

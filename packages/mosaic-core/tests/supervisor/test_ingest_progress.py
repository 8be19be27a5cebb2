"""A live run's progress comes from the pass that indexes its telemetry: what the display
shows is what the index holds, step, newest metric values, total steps and event count."""

from __future__ import annotations

import json
import pathlib
from typing import Any

from mosaic_core._secrets import Scrubber
from mosaic_core.runs import RunProgress, RunStore, TelemetryReader

RUN = "01JABCDEFGHJKMNPQRSTVWXY00"


def _lines(*events: tuple[str, dict[str, Any]]) -> bytes:
    return b"".join(
        json.dumps(
            {"v": 1, "event": event, "run_id": RUN, "seq": seq, "timestamp": 100.0 + seq,
             "payload": payload}
        ).encode() + b"\n"
        for seq, (event, payload) in enumerate(events)
    )  # fmt: skip


def _ingest(store: RunStore, data: bytes, progress: RunProgress, **options: Any) -> bool:
    reader = TelemetryReader(expected_run_id=RUN)
    items = reader.feed(data)
    return store.ingest(RUN, items, len(data), reader.next_seq, progress=progress, **options)


def test_progress_holds_the_last_step_the_newest_values_and_the_total(
    tmp_path: pathlib.Path,
) -> None:
    data = _lines(
        ("run_started", {"total_steps": 500, "algorithm": "ppo"}),
        ("metrics", {"step": 10, "values": {"loss": 1.5, "return": 3.0}}),
        ("log", {"message": "hello"}),
        ("metrics", {"values": {"lr": 0.1}}),  # no step: its values still show
        ("metrics", {"step": 20, "values": {"loss": 0.5}}),
        ("heartbeat", {"step": 25}),  # any event's step moves the display on
        ("metrics", {"step": True, "values": {"flag": 1.0}}),  # a bool is no step
    )
    with RunStore(tmp_path) as store:
        store.create_run(RUN, "fixture", {})
        progress = RunProgress(RUN, "fixture", started=0.0)
        assert _ingest(store, data, progress)
        assert (progress.step, progress.total_steps, progress.events) == (25, 500, 7)
        assert progress.metrics == {"loss": 0.5, "return": 3.0, "lr": 0.1, "flag": 1.0}
        assert store.get(RUN)["last_step"] == 25  # the index says the same


def test_items_another_process_indexed_first_leave_the_progress_as_it_was(
    tmp_path: pathlib.Path,
) -> None:
    data = _lines(("run_started", {"total_steps": 9}), ("metrics", {"step": 1, "values": {"a": 1}}))
    with RunStore(tmp_path) as store:
        store.create_run(RUN, "fixture", {})
        progress = RunProgress(RUN, "fixture", started=0.0)
        assert not _ingest(store, data, progress, expect_offset=123)  # the index is elsewhere
        assert (progress.step, progress.total_steps, progress.events, progress.metrics) == (
            None, None, 0, {},
        )  # fmt: skip


def test_a_secret_in_a_metric_value_never_reaches_the_display(tmp_path: pathlib.Path) -> None:
    secret = "sk-live-0123456789abcdef"
    data = _lines(("metrics", {"step": 3, "values": {"note": secret, "loss": 2.0}}))
    with RunStore(tmp_path) as store:
        store.create_run(RUN, "fixture", {})
        progress = RunProgress(RUN, "fixture", started=0.0)
        assert _ingest(store, data, progress, scrub=Scrubber([secret]))
        assert progress.metrics == {"note": "***", "loss": 2.0} and progress.step == 3

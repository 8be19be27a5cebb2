"""What the index keeps of each event: a row for every event but ``metrics``, whose values
are chunks and whose lines stay in ``events.jsonl``; ``RunStore.events`` gives every event
the index has read, in order, either way. A real store, a real run directory."""

from __future__ import annotations

import json
from typing import Any

from mosaic_core._secrets import Scrubber
from mosaic_core.runs.store import RunStore


def _line(run_id: str, seq: int, event: str, payload: dict[str, Any]) -> bytes:
    envelope = {"v": 1, "event": event, "run_id": run_id, "seq": seq,
                "timestamp": 1_700_000_000.0 + seq, "payload": payload}  # fmt: skip
    return json.dumps(envelope, separators=(",", ":")).encode() + b"\n"


def _run(store: RunStore, lines: list[bytes]) -> str:
    run_id = "rows-1"
    store.create_run(run_id, "fixture", {})
    (store.run_dir(run_id) / "events.jsonl").write_bytes(b"".join(lines))
    return run_id


def _rows(store: RunStore, run_id: str) -> list[tuple[int, str]]:
    return [tuple(r) for r in store._db.execute(
        "SELECT seq, event FROM events WHERE run_id = ? ORDER BY rowid", (run_id,)
    )]  # fmt: skip


def test_metrics_events_are_read_back_from_the_file_in_order(mosaic_home: Any) -> None:
    store = RunStore()
    lines = [_line("rows-1", 0, "run_started", {"total_steps": 3})]
    lines += [_line("rows-1", i, "metrics", {"step": i, "values": {"a": i / 2}}) for i in (1, 2)]
    lines += [_line("rows-1", 3, "heartbeat", {"step": 2})]
    lines += [_line("rows-1", 4, "metrics", {"step": 3, "values": {"a": 1.5}, "note": "kept"})]
    lines += [b"a library's print\n", _line("rows-1", 5, "run_completed", {})]
    run_id = _run(store, lines)
    run = store.catch_up(run_id, final=True)
    assert run["events"] == 6 and run["next_seq"] == 6
    assert _rows(store, run_id) == [(0, "run_started"), (3, "heartbeat"), (5, "run_completed")]
    got = store.events(run_id)
    assert got == [json.loads(line) for line in lines if line.startswith(b"{")]
    assert got[4]["payload"]["note"] == "kept"  # the whole line, not what the chunks keep
    assert [p["value"] for p in store.metrics(run_id, "a")] == [0.5, 1.0, 1.5]


def test_events_stop_where_the_index_stands(mosaic_home: Any) -> None:
    store = RunStore()
    lines = [_line("rows-1", 0, "run_started", {})]
    lines += [_line("rows-1", i, "metrics", {"step": i, "values": {"a": 1.0}}) for i in (1, 2)]
    run_id = _run(store, lines)
    store.catch_up(run_id)
    path = store.run_dir(run_id) / "events.jsonl"
    with path.open("ab") as handle:  # written after the index read: not indexed yet
        handle.write(_line("rows-1", 3, "metrics", {"step": 3, "values": {"a": 1.0}}))
    assert [e["seq"] for e in store.events(run_id)] == [0, 1, 2]
    store.catch_up(run_id)
    assert [e["seq"] for e in store.events(run_id)] == [0, 1, 2, 3]
    path.unlink()  # the file gone: what has rows is still there
    assert [e["seq"] for e in store.events(run_id)] == [0]


def test_a_metrics_line_with_a_secret_is_kept_scrubbed_and_never_read_back(
    mosaic_home: Any,
) -> None:
    store = RunStore()
    secret = "sk-verysecret-123"
    lines = [
        _line("rows-1", 0, "run_started", {}),
        _line("rows-1", 1, "metrics", {"step": 1, "values": {"a": 1.0}, "note": secret}),
        _line("rows-1", 2, "metrics", {"step": 2, "values": {"a": 2.0}}),
    ]
    run_id = _run(store, lines)
    store.catch_up(run_id, scrub=Scrubber([secret]))
    assert _rows(store, run_id) == [(0, "run_started"), (1, "metrics")]
    got = store.events(run_id)
    assert [e["seq"] for e in got] == [0, 1, 2]
    assert secret not in json.dumps(got)
    assert got[1]["payload"]["note"] == "***"


def test_a_store_with_a_row_per_metrics_event_reads_each_once(mosaic_home: Any) -> None:
    """Stores indexed before metrics events lost their rows keep them: read, not doubled."""
    store = RunStore()
    lines = [_line("rows-1", i, "metrics", {"step": i, "values": {"a": 1.0}}) for i in range(3)]
    run_id = _run(store, lines)
    store.catch_up(run_id)
    with store.transaction() as db:
        db.executemany(
            "INSERT INTO events VALUES (?, ?, 'metrics', ?, ?)",
            [(run_id, i, 0.0, line.decode().strip()) for i, line in enumerate(lines)],
        )
    assert [e["seq"] for e in store.events(run_id)] == [0, 1, 2]

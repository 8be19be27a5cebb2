"""Metrics are indexed as columnar chunks (schema step 2): every reader sees what the
rows of the schema before it gave, an old index migrates without losing a value, and a
rebuild makes the same answers as indexing live did."""

from __future__ import annotations

import json
import math
import pathlib
import random
import sqlite3
from typing import Any

import pytest

from mosaic_core.runs import RunStore, series
from mosaic_core.runs.migrations import MIGRATIONS, schema_version
from mosaic_core.runs.store import _SCHEMA

KEYS = ("charts/episodic_return", "losses/value_loss", "charts/SPS")


def _line(run_id: str, seq: int, event: str, payload: dict[str, Any]) -> str:
    return json.dumps(
        {"v": 1, "event": event, "run_id": run_id, "seq": seq, "timestamp": 100.0 + seq,
         "payload": payload}, allow_nan=True,
    )  # fmt: skip


def _stream(run_id: str, events: int, rng: random.Random) -> list[str]:
    """Metrics with keys in changing order, missing values, NaN, steps that go back."""
    lines = [_line(run_id, 0, "run_started", {"total_steps": events})]
    for i in range(events):
        keys = list(KEYS[: 1 + i % 3])
        rng.shuffle(keys)
        values: dict[str, Any] = {k: rng.uniform(-5, 5) for k in keys}
        if i % 7 == 0:
            values[keys[0]] = None
        if i % 11 == 0:
            values[keys[-1]] = float("nan")
        if i % 13 == 0:
            values["text"] = "not a number"
        step = i * 10 - (30 if i % 17 == 0 else 0)
        lines.append(_line(run_id, i + 1, "metrics", {"step": step, "values": values}))
    lines.append(_line(run_id, events + 1, "run_completed", {}))
    return lines


def _answers(store: RunStore, run_ids: list[str]) -> dict[str, Any]:
    """Everything a reader can ask of the metrics, as comparable text (NaN-safe)."""
    out: dict[str, Any] = {"keys": store.metric_keys(run_ids)}
    for run_id in run_ids:
        out[run_id] = {
            "all": store.metrics(run_id),
            "final": store.final_metrics(run_id),
            **{key: store.metrics(run_id, key) for key in (*KEYS, "text", "absent")},
        }
    for key in (*KEYS, "text"):
        for tail in (1, 10, 1000):
            out[f"summary {key} {tail}"] = _rounded(store.metric_summary(run_ids, key, tail=tail))
    return json.loads(json.dumps(out, default=repr))


def _rounded(found: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    # A mean or a sum may differ in its last bits with the order of summation.
    return {
        run_id: {k: round(v, 9) if isinstance(v, float) else v for k, v in record.items()}
        for run_id, record in found.items()
    }


def _index_live(store: RunStore, run_id: str, lines: list[str], pieces: int) -> None:
    """Append the stream in ``pieces`` and catch up after each, as a supervisor would."""
    path = store.run_dir(run_id) / "events.jsonl"
    step = max(1, len(lines) // pieces)
    for start in range(0, len(lines), step):
        with path.open("a") as handle:
            handle.write("".join(line + "\n" for line in lines[start : start + step]))
        store.catch_up(run_id)
    store.catch_up(run_id, final=True)


@pytest.mark.parametrize("chunk_points", [4, series.CHUNK_POINTS])
def test_a_rebuild_answers_every_metrics_question_as_indexing_live_did(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, chunk_points: int
) -> None:
    monkeypatch.setattr(series, "CHUNK_POINTS", chunk_points)  # small: many chunks, appends
    rng = random.Random(7)
    run_ids = ["a1", "b2", "c3"]
    with RunStore(tmp_path) as store:
        for n, run_id in enumerate(run_ids):
            store.create_run(run_id, "toy", {})
            _index_live(store, run_id, _stream(run_id, 40 + 30 * n, rng), pieces=9 + n)
        live = _answers(store, run_ids)
        chunks = store._db.execute("SELECT COUNT(*) FROM metric_chunks").fetchone()[0]
        store.rebuild()
        assert _answers(store, run_ids) == live
    assert chunks > len(run_ids) * (4 if chunk_points == 4 else 1)  # appends and new chunks
    assert len(live["a1"]["all"]) > 40  # and the answers compared hold the points


def test_points_merge_back_in_the_order_reported_with_none_for_no_number(
    tmp_path: pathlib.Path,
) -> None:
    lines = [
        _line("r1", 0, "metrics", {"step": 5, "values": {"b": 1.0, "a": 2}}),
        _line("r1", 1, "metrics", {"step": 3, "values": {"a": None, "b": float("nan")}}),
        _line("r1", 2, "metrics", {"step": 9, "values": {"c": True, "a": 4.5}}),
    ]
    with RunStore(tmp_path) as store:
        store.create_run("r1", "toy", {})
        _index_live(store, "r1", lines, pieces=3)
        got = [(p["step"], p["key"], p["value"]) for p in store.metrics("r1")]
        assert got == [
            (5, "b", 1.0), (5, "a", 2.0), (3, "a", None), (3, "b", None), (9, "c", 1.0),
            (9, "a", 4.5),
        ]  # fmt: skip
        assert store.final_metrics("r1") == {"a": 4.5, "b": None, "c": 1.0}
        summary = store.metric_summary(["r1"], "a", tail=2)["r1"]
        assert summary == {"count": 2, "min": 2.0, "max": 4.5, "mean": 3.25, "last": 4.5,
                           "last_step": 9, "tail": 3.25}  # fmt: skip
        curve = store.metric_series("r1", "a")
        assert list(curve.steps) == [5, 3, 9] and curve.value_list() == [2.0, None, 4.5]
        assert len(store.metric_series("r1", "absent")) == 0


# -- the migration from the schema before (one row per value) -------------------------

_V1_QUERIES = {
    "all": "SELECT step, key, value, timestamp FROM metrics WHERE run_id = ? ORDER BY rowid",
    "final": "SELECT key, value FROM metrics WHERE rowid IN (SELECT MAX(rowid) FROM metrics"
    " WHERE run_id = ? GROUP BY key) ORDER BY key",
}


def _v1_store(home: pathlib.Path, rng: random.Random) -> dict[str, Any]:
    """A home as the schema before chunks (version 1) left it; returns what its rows say."""
    db = sqlite3.connect(home / "mosaic.db", isolation_level=None)
    db.executescript(_SCHEMA)
    MIGRATIONS[0](db, home / "runs")
    db.execute("PRAGMA user_version = 1")
    db.execute("BEGIN")
    expected: dict[str, Any] = {}
    for run_id in ("old1", "old2", "empty"):
        (home / "runs" / run_id).mkdir(parents=True)
        db.execute(
            "INSERT INTO runs (run_id, worker_type, status, created_at) VALUES (?, 'toy',"
            " 'completed', 1.0)",
            (run_id,),
        )
        count = 0 if run_id == "empty" else 3000
        for i in range(count):
            key = rng.choice(KEYS)
            value = None if i % 9 == 0 else rng.uniform(-1, 1)
            db.execute(
                "INSERT INTO metrics VALUES (?, ?, ?, ?, ?)",
                (run_id, i - (5 if i % 4 == 0 else 0), key, value, 50.0 + i),
            )
        rows = db.execute(_V1_QUERIES["all"], (run_id,)).fetchall()
        expected[run_id] = {
            "all": [dict(zip(("step", "key", "value", "timestamp"), r, strict=True)) for r in rows],
            "final": dict(db.execute(_V1_QUERIES["final"], (run_id,)).fetchall()),
            "summary": _v1_summary(db, run_id, KEYS[0]),
        }
    db.execute("COMMIT")
    db.close()
    return expected


def _v1_summary(db: sqlite3.Connection, run_id: str, key: str) -> dict[str, Any] | None:
    row = db.execute(
        "SELECT COUNT(value), MIN(value), MAX(value), AVG(value) FROM metrics"
        " WHERE key = ? AND run_id = ? GROUP BY run_id",
        (key, run_id),
    ).fetchone()
    if row is None:
        return None
    recent = db.execute(
        "SELECT step, value FROM metrics WHERE run_id = ? AND key = ? AND value IS NOT NULL"
        " ORDER BY step DESC, rowid DESC LIMIT 10",
        (run_id, key),
    ).fetchall()
    values = [v for _, v in recent]
    return {"count": row[0], "min": row[1], "max": row[2], "mean": row[3], "last": values[0],
            "last_step": recent[0][0], "tail": sum(values) / len(values)}  # fmt: skip


def test_an_index_of_metric_rows_migrates_to_chunks_without_losing_a_value(
    tmp_path: pathlib.Path,
) -> None:
    expected = _v1_store(tmp_path, random.Random(3))
    with RunStore(tmp_path) as store:
        assert schema_version(store._db) == len(MIGRATIONS) == 3
        tables = {r[0] for r in store._db.execute("SELECT name FROM sqlite_master")}
        assert "metrics" not in tables and "metric_chunks" in tables
        for run_id, old in expected.items():
            assert store.metrics(run_id) == old["all"]
            assert store.final_metrics(run_id) == old["final"]
            summary = store.metric_summary([run_id], KEYS[0]).get(run_id)
            if old["summary"] is None:
                assert summary is None
            else:
                assert summary is not None
                assert summary.pop("mean") == pytest.approx(old["summary"].pop("mean"))
                assert summary.pop("tail") == pytest.approx(old["summary"].pop("tail"))
                assert summary == old["summary"]
            assert store.get(run_id)["metric_points"] == len(old["all"])
    # Reopened, it stays migrated: the base schema does not bring the old table back.
    with RunStore(tmp_path) as store:
        tables = {r[0] for r in store._db.execute("SELECT name FROM sqlite_master")}
        assert "metrics" not in tables
        assert store.metrics("old1") == expected["old1"]["all"]


def test_a_run_indexed_after_the_migration_goes_on_counting_its_points(
    tmp_path: pathlib.Path,
) -> None:
    expected = _v1_store(tmp_path, random.Random(5))
    with RunStore(tmp_path) as store:
        before = len(expected["old1"]["all"])
        assert store.ingest("old1", [], 0, 0) is True  # nothing new: nothing changes
        line = _line("old1", 0, "metrics", {"step": 10_000, "values": {KEYS[0]: 42.0}})
        (store.run_dir("old1") / "events.jsonl").write_text(line + "\n")
        store.catch_up("old1", final=True)
        points = store.metrics("old1")
        assert len(points) == before + 1 and points[-1]["value"] == 42.0
        assert store.final_metrics("old1")[KEYS[0]] == 42.0
        assert not any(math.isnan(p["value"] or 0.0) for p in points)


def _reference(points: list[dict[str, Any]], tail: int) -> dict[str, Any]:
    """What the summary must say, from every point (as the rows of the old schema did)."""
    numbers = [(p["step"], i, p["value"]) for i, p in enumerate(points) if p["value"] is not None]
    values = [v for _, _, v in numbers]
    last = sorted(numbers, reverse=True)[:tail]
    return {
        "count": len(values), "min": min(values, default=None), "max": max(values, default=None),
        "mean": sum(values) / len(values) if values else None,
        "last": last[0][2] if last else None, "last_step": last[0][0] if last else None,
        "tail": sum(v for _, _, v in last) / len(last) if last else None,
    }  # fmt: skip


@pytest.mark.parametrize("tail", [1, 3, 10, 500])
def test_summaries_of_many_runs_match_every_point_however_steps_go(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, tail: int
) -> None:
    """Runs whose steps go back, repeat, jump, with values missing, in many small chunks:
    the last numbers are found by step (then order reported), whichever chunk holds them."""
    monkeypatch.setattr(series, "CHUNK_POINTS", 5)
    rng = random.Random(tail)
    run_ids = [f"r{n}" for n in range(12)]
    with RunStore(tmp_path) as store:
        for n, run_id in enumerate(run_ids):
            store.create_run(run_id, "toy", {})
            lines = []
            for i in range(rng.randrange(0, 80)):
                step = rng.choice([i, i * 3, 50 - i, 7, rng.randrange(-5, 200)]) if n % 2 else i
                value = None if rng.random() < 0.2 else rng.uniform(-9, 9)
                lines.append(_line(run_id, i, "metrics", {"step": step, "values": {"k": value}}))
            if lines:
                _index_live(store, run_id, lines, pieces=rng.randrange(1, 9))
        found = store.metric_summary(run_ids, "k", tail=tail)
        for run_id in run_ids:
            points = store.metrics(run_id, "k")
            if not points:
                assert run_id not in found
                continue
            want = _reference(points, tail)
            got = found[run_id]
            assert got.pop("mean") == pytest.approx(want.pop("mean"))
            assert got.pop("tail") == pytest.approx(want.pop("tail"))
            assert got == want, run_id


def test_a_long_curve_reads_and_downsamples_alike_with_numpy_and_without(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From VECTOR_FROM points, curves are read and thinned with numpy where installed."""
    pytest.importorskip("numpy")
    from mosaic_core.query import curves, downsample, run_curves

    rng = random.Random(11)
    n = downsample.VECTOR_FROM + 2_345
    lines = []
    for i in range(n):
        value = float("nan") if i % 101 == 0 else rng.uniform(-1, 1) * (i % 50)
        step = i - 40 if i % 1_000 == 999 else i  # now and then a step goes back
        lines.append(_line("r1", i, "metrics", {"step": step, "values": {"k": value}}))
    with RunStore(tmp_path) as store:
        store.create_run("r1", "toy", {})
        _index_live(store, "r1", lines, pieces=4)
        got = {p: run_curves(store, ["r1"], ["k"], points=p) for p in (None, 500)}
        monkeypatch.setattr(curves, "numpy_or_none", lambda: None)
        monkeypatch.setattr(downsample, "_numpy", lambda: None)
        for points, vector in got.items():
            plain = run_curves(store, ["r1"], ["k"], points=points)
            assert vector == plain
            assert all(type(s) is int for s in vector[0]["steps"])  # lists of plain numbers
    assert got[None][0]["count"] == n - len(range(0, n, 101))
    assert len(got[500][0]["steps"]) == 500


@pytest.mark.parametrize("chunk_points", [4, series.CHUNK_POINTS])
def test_a_reader_that_follows_a_run_reads_each_point_once(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, chunk_points: int
) -> None:
    # What a live curve does: read, remember the place it reached, read what came since.
    monkeypatch.setattr(series, "CHUNK_POINTS", chunk_points)  # appends to chunks it read
    lines = _stream("f1", 120, random.Random(3))
    key = KEYS[0]
    with RunStore(tmp_path) as store:
        store.create_run("f1", "toy", {})
        path = store.run_dir("f1") / "events.jsonl"
        steps: list[int] = []
        values: list[float] = []
        after = 0
        for start in range(0, len(lines), 13):
            with path.open("a") as handle:
                handle.write("".join(line + "\n" for line in lines[start : start + 13]))
            store.catch_up("f1")
            new_steps, new_values, stamps, after = store.metric_since("f1", key, after=after)
            assert len(new_steps) == len(new_values) == len(stamps)
            steps += new_steps
            values += new_values
        assert store.metric_since("f1", key, after=after)[3] == after  # nothing new
        every = store.metrics("f1", key)
        assert steps == [p["step"] for p in every]
        assert [None if v != v else v for v in values] == [p["value"] for p in every]
        assert len(every) > 60

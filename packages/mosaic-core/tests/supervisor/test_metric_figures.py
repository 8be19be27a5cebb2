"""Per run and key, ``metric_keys`` keeps what a summary needs (schema step 3): its
answers are exactly those the chunks give, kept live, made by the migration from an
index of chunks alone, and made again by a rebuild."""

from __future__ import annotations

import json
import pathlib
import random
from typing import Any

import pytest

from mosaic_core.runs import RunStore, figures, series
from mosaic_core.runs.migrations import MIGRATIONS, schema_version


def _line(run_id: str, seq: int, step: int, values: dict[str, Any]) -> str:
    return json.dumps(
        {"v": 1, "event": "metrics", "run_id": run_id, "seq": seq, "timestamp": 10.0 + seq,
         "payload": {"step": step, "values": values}}, allow_nan=True,
    )  # fmt: skip


def _lines(run_id: str, n: int, rng: random.Random, forward: bool) -> list[str]:
    """Steps that only go forward (repeating now and then), or that go back and forth;
    values missing, NaN, infinite, negative zero; two keys in changing order."""
    lines = []
    for i in range(n):
        step = i // 2 if forward else rng.choice([i, 3 * i, 40 - i, 7, rng.randrange(-9, 99)])
        value: Any = rng.uniform(-9, 9)
        if i % 9 == 0:
            value = None
        elif i % 13 == 0:
            value = float("nan")
        elif i % 29 == 0:
            value = rng.choice([float("inf"), -0.0])
        values = {"k": value, "j": rng.random()}
        if i % 2:
            values = dict(reversed(values.items()))
        lines.append(_line(run_id, i, step, values))
    return lines


def _fill(store: RunStore, rng: random.Random, runs: int) -> list[str]:
    run_ids = [f"r{n}" for n in range(runs)]
    for n, run_id in enumerate(run_ids):
        store.create_run(run_id, "toy", {})
        lines = _lines(run_id, rng.randrange(0, 90), rng, forward=n % 3 != 0)
        path = store.run_dir(run_id) / "events.jsonl"
        pieces = rng.randrange(1, 8)
        size = max(1, len(lines) // pieces)
        for start in range(0, len(lines), size):  # catching up piece by piece: appends
            with path.open("a") as handle:
                handle.write("".join(line + "\n" for line in lines[start : start + size]))
            store.catch_up(run_id)
        store.catch_up(run_id, final=True)
    return run_ids


def _kept_and_from_chunks(store: RunStore, run_ids: list[str]) -> list[Any]:
    """Every summary ``metric_keys`` answers, beside the same asked of the chunks."""
    pairs = []
    for key in ("k", "j", "absent"):
        for tail in range(series.TAIL_KEPT + 1):
            kept = figures.summaries(store._db, run_ids, key, tail)
            chunks = figures._from_chunks(store._db, run_ids, key, tail)
            pairs.append((json.dumps(kept, sort_keys=True), json.dumps(chunks, sort_keys=True)))
    return pairs


@pytest.mark.parametrize("chunk_points", [3, series.CHUNK_POINTS])
def test_kept_figures_answer_exactly_as_the_chunks_do(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, chunk_points: int
) -> None:
    monkeypatch.setattr(series, "CHUNK_POINTS", chunk_points)
    with RunStore(tmp_path) as store:
        run_ids = _fill(store, random.Random(chunk_points), 15)
        pairs = _kept_and_from_chunks(store, run_ids)
        for kept, chunks in pairs:
            assert kept == chunks  # the same floats, to the last bit (json: NaN, inf, -0.0)
        assert any('"count": 0' not in kept and '"tail": null' not in kept for kept, _ in pairs)
        assert store.metric_keys(run_ids) == {
            r: sorted({row[0] for row in store._db.execute(
                "SELECT key FROM metric_chunks WHERE run_id = ?", (r,))}) for r in run_ids
        }  # fmt: skip


def test_an_index_of_chunks_alone_migrates_to_the_same_figures(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(series, "CHUNK_POINTS", 4)
    with RunStore(tmp_path) as store:
        run_ids = _fill(store, random.Random(21), 12)
        live = store._db.execute("SELECT * FROM metric_keys ORDER BY run_id, key").fetchall()
        answers = _kept_and_from_chunks(store, run_ids)
        # The index as schema step 2 left it: chunks, and no metric_keys.
        store._db.execute("DROP TABLE metric_keys")
        store._db.execute("PRAGMA user_version = 2")
    with RunStore(tmp_path) as store:
        assert schema_version(store._db) == len(MIGRATIONS) == 3
        migrated = store._db.execute("SELECT * FROM metric_keys ORDER BY run_id, key").fetchall()
        assert [tuple(r) for r in migrated] == [tuple(r) for r in live]
        assert _kept_and_from_chunks(store, run_ids) == answers
        assert len(live) > 12  # most runs have both keys


def test_a_rebuild_keeps_the_same_figures_but_for_the_sums_rounding(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(series, "CHUNK_POINTS", 5)
    with RunStore(tmp_path) as store:
        run_ids = _fill(store, random.Random(8), 10)
        query = "SELECT * FROM metric_keys ORDER BY run_id, key"
        live = [dict(r) for r in store._db.execute(query)]
        store.rebuild()
        rebuilt = [dict(r) for r in store._db.execute(query)]
        for record in (*live, *rebuilt):  # sums are added in other batches, other chunks
            total = record.pop("closed") + (record.pop("open") or 0.0)
            record["sum"] = round(total, 9) if total == total else "nan"
        assert rebuilt == live
        assert all(k[0] for k in store.metric_keys(run_ids).values() if k)


def test_a_deleted_run_leaves_no_figures(tmp_path: pathlib.Path) -> None:
    with RunStore(tmp_path) as store:
        _fill(store, random.Random(2), 3)
        store.delete("r1")
        left = {r[0] for r in store._db.execute("SELECT run_id FROM metric_keys")}
        assert "r1" not in left and left <= {"r0", "r2"}
        assert figures.summaries(store._db, ["r1"], "k", 10) == {}


def test_one_figure_is_what_the_whole_summary_gives(tmp_path: pathlib.Path) -> None:
    # metric_stat reads one column where it can (mosaic runs shows one figure per run).
    with RunStore(tmp_path) as store:
        run_ids = [*_fill(store, random.Random(5), 12), "not-a-run"]
        for key in ("k", "j", "absent"):
            for tail in range(-1, series.TAIL_KEPT + 3):
                whole = store.metric_summary(run_ids, key, tail=tail)
                for stat in ("tail", "last", "min", "max", "mean", "count", "last_step"):
                    one = store.metric_stat(run_ids, key, stat, tail=tail)
                    expected = {run_id: found[stat] for run_id, found in whole.items()}
                    assert json.dumps(one, sort_keys=True) == json.dumps(expected, sort_keys=True)
        assert store.metric_stat(run_ids, "k", "tail")  # not all of them empty


def test_every_run_s_declared_headline_in_one_statement_is_what_each_key_gives(
    tmp_path: pathlib.Path,
) -> None:
    with RunStore(tmp_path) as store:
        run_ids = _fill(store, random.Random(11), 12)
        declared = {
            run_id: ("k", "j", "absent", "", None)[n % 5] for n, run_id in enumerate(run_ids)
        }
        with store.transaction() as db:
            for run_id, key in declared.items():
                db.execute("UPDATE runs SET headline_metric = ? WHERE run_id = ?", (key, run_id))
        for tail in (0, 1, 3, series.TAIL_KEPT, series.TAIL_KEPT + 2):
            for stat in ("tail", "last", "min", "max", "mean", "count"):
                expected: dict[str, Any] = {}
                for key in ("k", "j", "absent"):
                    ids = [r for r, declared_key in declared.items() if declared_key == key]
                    expected.update(store.metric_stat(ids, key, stat, tail=tail))
                found = store.headline_stat(stat, tail=tail)
                assert json.dumps(found, sort_keys=True) == json.dumps(expected, sort_keys=True)
                assert set(found) == {r for r, k in declared.items() if k in ("k", "j")}


def test_runs_listed_as_tuples_end_with_what_makes_their_declared_headline_s_figure(
    tmp_path: pathlib.Path,
) -> None:
    # run_tuples reads the runs and their headline's figure in one statement (mosaic runs):
    # the runs are list_runs' and the figures headline_stat's, whatever the runs asked for.
    with RunStore(tmp_path) as store:
        run_ids = _fill(store, random.Random(13), 15)
        with store.transaction() as db:
            for n, run_id in enumerate(run_ids):  # made out of order, some at the same time
                db.execute(
                    "UPDATE runs SET headline_metric = ?, worker_type = ?, group_name = ?,"
                    " created_at = ? WHERE run_id = ?",
                    (("k", "j", "absent", "", None)[n % 5], ("toy", "other")[n % 2],
                     ("g", None, None)[n % 3], (7.5, -0.0, 0.0, 1e9, 3)[n * 7 % 5], run_id),
                )  # fmt: skip
        columns = ("run_id", "worker_type", "headline_metric", "group_name", "last_step")
        asked: list[dict[str, Any]] = [
            {}, {"worker_type": "other"}, {"group": "g"}, {"limit": 4}, {"status": "pending"},
            {"status": "completed"},
        ]  # fmt: skip
        newest = [r for (r,) in store._db.execute(
            "SELECT run_id FROM runs ORDER BY created_at DESC, run_id DESC")]  # fmt: skip
        assert [r["run_id"] for r in store.list_runs()] == newest
        assert [r["run_id"] for r in store.list_runs(limit=6)] == newest[:6]
        for kw in asked:
            listed = [tuple(r.values()) for r in store.list_runs(columns=columns, **kw)]
            rows, figure = store.run_tuples(columns, **kw)
            assert [row[:-1] for row in rows] == listed
            assert [figure(row[-1]) for row in rows] == [None] * len(listed)
            for tail in (0, 1, 3, series.TAIL_KEPT, series.TAIL_KEPT + 2):
                for stat in ("tail", "last", "min", "max", "mean", "count"):
                    found = store.headline_stat(stat, tail=tail)
                    rows, figure = store.run_tuples(columns, headline=stat, tail=tail, **kw)
                    assert [row[:-1] for row in rows] == listed
                    expected = [found.get(run_id) for run_id, *_ in listed]
                    assert json.dumps([figure(row[-1]) for row in rows]) == json.dumps(expected)
        rows, figure = store.run_tuples(columns, headline="tail")
        assert any(figure(row[-1]) is not None for row in rows)
        with pytest.raises(ValueError, match="expected column names"):
            store.run_tuples(["run_id; DROP TABLE runs"])

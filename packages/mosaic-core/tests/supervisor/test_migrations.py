"""The index's schema moves forward by numbered steps, from what mosaic-core 1.0 made."""

from __future__ import annotations

import json
import pathlib
import sqlite3
import threading

from mosaic_core.runs import RunStore
from mosaic_core.runs.migrations import MIGRATIONS, schema_version
from mosaic_core.runs.store import _SCHEMA


def _old_store(home: pathlib.Path) -> None:
    """A home as mosaic-core 1.0 left it: the base schema at user_version 0, one run."""
    (home / "runs" / "old1").mkdir(parents=True)
    (home / "runs" / "old1" / "config.json").write_text(
        json.dumps({"run_id": "old1", "learning_rate": 0.001, "seed": 4})
    )
    db = sqlite3.connect(home / "mosaic.db")
    db.executescript(_SCHEMA)
    db.execute(
        "INSERT INTO runs (run_id, worker_type, status, created_at, seed)"
        " VALUES ('old1', 'toy', 'completed', 1.0, 4)"
    )
    db.commit()
    assert schema_version(db) == 0
    db.close()


def test_an_old_index_gains_the_new_columns_and_learns_configs_from_disk(
    tmp_path: pathlib.Path,
) -> None:
    _old_store(tmp_path)
    with RunStore(tmp_path) as store:
        run = store.get("old1")
        assert run["group_name"] is None and run["headline_metric"] is None
        assert json.loads(run["config"])["learning_rate"] == 0.001
        assert schema_version(store._db) == len(MIGRATIONS)
        assert store.list_runs(group="nothing") == []


def test_stores_opened_at_once_run_each_step_once(tmp_path: pathlib.Path) -> None:
    _old_store(tmp_path)
    errors: list[BaseException] = []

    def open_store() -> None:
        try:
            RunStore(tmp_path).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with RunStore(tmp_path) as store:
        assert schema_version(store._db) == len(MIGRATIONS)


def test_a_rebuild_restores_group_config_and_headline_exactly(tmp_path: pathlib.Path) -> None:
    with RunStore(tmp_path) as store:
        config = {"run_id": "r1", "seed": None, "lr": 0.5, "net": {"hidden": [64, 64]}}
        store.create_run("r1", "toy", config, group="sweep-a", headline_metric="charts/x")
        events = store.run_dir("r1") / "events.jsonl"
        events.write_text(
            json.dumps({"v": 1, "event": "run_started", "run_id": "r1", "seq": 0,
                        "timestamp": 2.0, "payload": {"seed": 17}}) + "\n"
        )  # fmt: skip
        store.catch_up("r1", final=True)
        before = store.get("r1")
        assert before["seed"] == 17  # the seed the worker reported choosing
        store.rebuild()
        after = store.get("r1")
    assert after == before

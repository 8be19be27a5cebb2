"""The run table, curves, comparisons and group statistics over a real store."""

from __future__ import annotations

import json

import pytest

from mosaic_core import ConfigError
from mosaic_core.query import (
    compare_runs,
    group_curves,
    group_statistics,
    metric_values,
    parse_filter,
    run_curves,
    run_table,
    select_runs,
)
from mosaic_core.runs import RunStore

from .conftest import Runs, curve

PPO = {"algorithm": "ppo", "env_id": "CartPole-v1"}


def test_rows_are_json_ready_with_config_and_summary_as_objects(runs: Runs) -> None:
    done = runs.make({**PPO, "seed": 1}, curve([1, 2, 3]), summary={"episodes": 3})
    going = runs.make({**PPO, "seed": 2}, curve([1]), status="running")
    rows = {r["run_id"]: r for r in run_table(runs.store)}
    json.dumps(list(rows.values()))  # nothing that JSON cannot hold
    assert rows[done]["summary"] == {"episodes": 3} and rows[done]["config"]["seed"] == 1
    assert rows[going]["summary"] == {} and rows[going]["step"] == 100
    assert rows[done]["group"] is None and rows[done]["seed"] == 1


def test_the_metric_is_the_headline_s_tail_mean_unless_asked_otherwise(runs: Runs) -> None:
    values = list(range(1, 21))  # 1..20: the last ten average 15.5
    rid = runs.make({**PPO, "seed": 1}, curve(values), summary={"mean_return_last_10": 15.5})
    (row,) = run_table(runs.store)
    assert row["metric"] == {"key": "charts/episodic_return", "stat": "tail", "value": 15.5}
    assert metric_values(runs.store, [row], stat="last")[rid]["value"] == 20.0
    assert metric_values(runs.store, [row], stat="max")[rid]["value"] == 20.0
    assert metric_values(runs.store, [row], stat="mean")[rid]["value"] == 10.5
    by_summary = metric_values(runs.store, [row], "summary.mean_return_last_10")[rid]
    assert by_summary["value"] == 15.5
    with pytest.raises(ConfigError, match="--stat"):
        metric_values(runs.store, [row], stat="median")


def test_a_declared_headline_wins_over_the_guess(runs: Runs) -> None:
    points = [(i, {"charts/episodic_return": 1.0, "charts/mean_reward": 0.5}) for i in range(3)]
    runs.make(PPO, points, headline="charts/mean_reward")
    runs.make(PPO, [(0, {"loss": 2.0})])
    rows = run_table(runs.store)
    metrics = {r["run_id"]: r["metric"] for r in rows}
    assert metrics["run001"]["key"] == "charts/mean_reward"
    assert metrics["run002"] == {"key": None, "stat": "tail", "value": None}


def test_filters_sort_limit_and_group_select_the_runs(runs: Runs) -> None:
    for lr, seed, score in ((1e-3, 1, 10), (1e-3, 2, 30), (1e-4, 1, 20), (1e-4, 2, 40)):
        runs.make({**PPO, "learning_rate": lr, "seed": seed}, curve([score]), group="g")
    runs.make({**PPO, "learning_rate": 1e-2}, curve([99]), status="failed")
    low = run_table(runs.store, filters=[parse_filter("config.learning_rate<1e-3")])
    assert sorted(r["metric"]["value"] for r in low) == [20.0, 40.0]
    best = run_table(runs.store, group="g", sort="metric:desc", limit=2)
    assert [r["metric"]["value"] for r in best] == [40.0, 30.0]
    assert [r["metric"]["value"] for r in run_table(runs.store, sort="-metric", limit=1)] == [99]
    good = run_table(runs.store, filters=[parse_filter("metric>=25"), parse_filter("seed==2")])
    assert sorted(r["metric"]["value"] for r in good) == [30.0, 40.0]
    assert [r["status"] for r in run_table(runs.store, status="failed")] == ["failed"]
    with pytest.raises(ConfigError, match="--sort"):
        run_table(runs.store, sort="nonsense")


def test_select_runs_takes_ids_and_groups_and_refuses_nothing(runs: Runs) -> None:
    a = runs.make(PPO, curve([1]), group="g", created_at=1.0)
    b = runs.make(PPO, curve([1]), group="g", created_at=2.0)
    c = runs.make(PPO, curve([1]))
    assert [r["run_id"] for r in select_runs(runs.store, [c], group="g")] == [c, a, b]
    with pytest.raises(ConfigError, match="no runs in that group"):
        select_runs(runs.store, group="nope")
    with pytest.raises(ConfigError, match="at least one run"):
        select_runs(runs.store)


def test_curves_downsample_to_the_points_asked_and_keep_the_ends(runs: Runs) -> None:
    rid = runs.make(PPO, curve([float(i % 7) for i in range(500)], every=10))
    (item,) = run_curves(runs.store, [rid], ["charts/episodic_return"], points=50)
    assert item["count"] == 500 and len(item["steps"]) == 50
    assert item["steps"][0] == 10 and item["steps"][-1] == 5000
    assert len(item["timestamps"]) == 50


def test_seeds_of_one_config_become_one_line_with_a_band(runs: Runs) -> None:
    for lr in (1e-3, 1e-4):
        for seed in (1, 2, 3):
            offset = seed * (2 if lr == 1e-3 else 1)
            values = [i + offset for i in range(10)]
            runs.make({**PPO, "learning_rate": lr, "seed": seed}, curve(values))
    rows = select_runs(runs.store, [f"run{i:03d}" for i in range(1, 7)])
    items = group_curves(runs.store, rows, ["charts/episodic_return"], points=10)
    assert [i["label"] for i in items] == [
        "ppo CartPole-v1 learning_rate=0.001 (3 seeds)",
        "ppo CartPole-v1 learning_rate=0.0001 (3 seeds)",
    ]
    first = items[0]
    assert first["n"] == 3 and first["steps"][0] == 100 and first["steps"][-1] == 1000
    assert first["mean"][0] == pytest.approx(0 + 4.0)  # seeds add 2, 4, 6
    assert all(lo <= m <= hi for lo, m, hi in zip(first["low"], first["mean"], first["high"],
                                                  strict=True))  # fmt: skip
    assert first["high"][0] > first["low"][0]
    alone = group_curves(runs.store, rows[:1], ["charts/episodic_return"], group_by="none")
    assert alone[0]["label"] == "ppo CartPole-v1 seed 1" and alone[0]["low"] is None
    by_lr = group_curves(runs.store, rows, ["charts/episodic_return"],
                         group_by="config.learning_rate")  # fmt: skip
    assert [i["label"] for i in by_lr] == ["learning_rate=0.001 (3 runs)",
                                           "learning_rate=0.0001 (3 runs)"]  # fmt: skip


def test_a_group_s_curve_stops_where_its_slowest_run_is(runs: Runs) -> None:
    runs.make({**PPO, "seed": 1}, curve(range(10)))
    runs.make({**PPO, "seed": 2}, curve(range(4)), status="running")
    rows = select_runs(runs.store, ["run001", "run002"])
    (item,) = group_curves(runs.store, rows, ["charts/episodic_return"], points=5)
    assert item["steps"][-1] == 400


def test_compare_shows_the_fields_that_differ_and_final_and_best(runs: Runs) -> None:
    a = runs.make({**PPO, "learning_rate": 1e-3, "seed": 1},
                  [(1, {"charts/episodic_return": 5.0, "losses/loss": 3.0}),
                   (2, {"charts/episodic_return": 9.0, "losses/loss": 1.0}),
                   (3, {"charts/episodic_return": 7.0, "losses/loss": 2.0})])  # fmt: skip
    b = runs.make({**PPO, "learning_rate": 1e-4, "seed": 1}, curve([1, 2]))
    data = compare_runs(runs.store, [a, b])
    assert data["config"]["differ"] == {"learning_rate": [1e-3, 1e-4]}
    assert data["config"]["same"]["env_id"] == "CartPole-v1"
    ret = data["metrics"]["charts/episodic_return"]
    assert ret[0] == {"final": 7.0, "best": 9.0, "min": 5.0, "max": 9.0, "tail": 7.0,
                      "last_step": 3, "count": 3}  # fmt: skip
    assert (
        data["metrics"]["losses/loss"][0]["best"] == 1.0
        and data["metrics"]["losses/loss"][1] is None
    )
    assert next(iter(data["metrics"])) == "charts/episodic_return"  # the headline first
    with pytest.raises(ConfigError, match="did you mean"):
        compare_runs(runs.store, [a], ["charts/episodic_retrun"])


def test_group_statistics_give_one_row_per_configuration(runs: Runs) -> None:
    scores = {1e-3: [10.0, 12.0, 14.0, 100.0], 1e-4: [1.0, 2.0, 3.0, 4.0]}
    for lr, values in scores.items():
        for seed, score in enumerate(values):
            runs.make({**PPO, "learning_rate": lr, "seed": seed}, curve([score]), group="sweep")
    runs.make({**PPO, "learning_rate": 1e-4, "seed": 9}, [], status="failed", group="sweep")
    rows = select_runs(runs.store, group="sweep")
    stats = group_statistics(runs.store, rows, group="sweep", reps=2000)
    assert stats["fields"] == ["learning_rate"]
    high, low = stats["configurations"]
    assert high["fields"] == {"learning_rate": 1e-3} and high["n"] == 4
    assert high["mean"] == 34.0 and high["iqm"] == 13.0  # the outlier moves the mean only
    assert high["mean_ci"][0] <= 34.0 <= high["mean_ci"][1]
    assert low["runs"] == 5 and low["n"] == 4 and low["statuses"] == {"completed": 4, "failed": 1}
    again = group_statistics(runs.store, rows, group="sweep", reps=2000)
    assert again == stats  # seeded: the same intervals every time
    json.dumps(stats)


def test_the_store_lists_groups(store: RunStore, runs: Runs) -> None:
    runs.make(PPO, curve([1]), group="a")
    runs.make(PPO, curve([1]), group="a")
    runs.make(PPO, curve([1]), group="b")
    assert {g["name"]: g["runs"] for g in store.groups()} == {"a": 2, "b": 1}

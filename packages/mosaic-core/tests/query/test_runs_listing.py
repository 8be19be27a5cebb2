"""What ``mosaic runs`` prints, pinned line for line over runs of every kind: the rows it
reads (the table's columns only, unless a filter or the sort reads a run's config or
summary), each run's headline, the columns' text, and a dead supervisor's run settled."""

from __future__ import annotations

import gc
import json
import time
from typing import Any

import pytest

from mosaic_core import ConfigError
from mosaic_core.cli.app import main
from mosaic_core.query import parse_filter, run_table
from mosaic_core.query.filters import COLUMNS, lookup
from mosaic_core.query.table import run_columns

from .conftest import Runs, curve

PPO = {"algorithm": "ppo", "env_id": "CartPole-v1"}
DAY = 86400.0


def _varied(runs: Runs) -> None:
    """A declared headline, one declared but not reported, each way of guessing one, none,
    a run whose supervisor died, a failed run with NaN, one with nothing but its worker."""
    now = time.time()
    runs.make({**PPO, "seed": 1, "lr": 1e-3, "total_steps": 2000}, curve(range(1, 13)),
              summary={"episodes": 12}, group="g", created_at=now - 9 * DAY)  # fmt: skip
    runs.make({"algorithm": "dqn", "env_id": "LunarLander-v3", "seed": 2, "lr": 0.02},
              [(i * 10, {"charts/episodic_return": 1.0, "charts/mean_reward": 0.25 * i})
               for i in range(15)], worker="other", headline="charts/mean_reward",
              summary={"episodes": 3}, created_at=now - 8 * DAY)  # fmt: skip
    runs.make({"algorithm": "a2c", "seed": 3}, [(0, {"loss": 2.0})], headline="never/reported",
              created_at=now - 7 * DAY)  # fmt: skip
    runs.make(
        {"env_id": "Pong"},
        [(s, {"env_runners/episode_return_mean": s - 21.0}) for s in range(5)],
        worker="ray",
        created_at=now - 5 * 3600,
    )
    runs.make({"algorithm": "x"}, [(1, {"eval/Episode-Rewards": 123456.789}),
                                   (2, {"eval/Episode-Rewards": 1e-7})],
              created_at=now - 150)  # fmt: skip
    runs.make({"algorithm": "y", "seed": 0}, [(1, {"loss": 0.5}), (2, {"loss": 0.25})],
              created_at=now - 6 * DAY)  # fmt: skip
    runs.make(
        {**PPO, "seed": 4},
        curve([3.0, 4.0]),
        status="running",
        group="g",
        created_at=now - 2 * 3600,
    )  # its supervisor is gone: settled as it is listed
    runs.make({**PPO, "seed": 5, "lr": 3e-4}, curve([float("nan"), 1.0, -5.5]),
              status="failed", created_at=now - 4 * DAY)  # fmt: skip
    runs.make({}, [], worker="bare", status="cancelled", created_at=now - 3 * DAY)


LISTED = """\
RUN     WORKER  ALGORITHM  ENV             SEED  GROUP  STATUS     STEP       HEADLINE   AGE  REASON
run005  toy     x          -               -     -      completed  2          6.173e+04  2m
run007  toy     ppo        CartPole-v1     4     g      failed     200        3.5        2h   supervisor_lost
run004  ray     -          Pong            -     -      completed  4          -19        5h
run009  bare    -          -               -     -      cancelled  -          -          3d
run008  toy     ppo        CartPole-v1     5     -      failed     300        -2.25      4d
run006  toy     y          -               0     -      completed  2          -          6d
run003  toy     a2c        -               3     -      completed  0          -          7d
run002  other   dqn        LunarLander-v3  2     -      completed  140        2.375      8d
run001  toy     ppo        CartPole-v1     1     g      completed  1200/2000  7.5        9d
"""  # noqa: E501

OPTIONS = {
    ("--metric", "loss", "--stat", "max"): """\
RUN     WORKER  ALGORITHM  ENV             SEED  GROUP  STATUS     STEP       loss (max)  AGE  REASON
run005  toy     x          -               -     -      completed  2          -           2m
run007  toy     ppo        CartPole-v1     4     g      failed     200        -           2h   supervisor_lost
run004  ray     -          Pong            -     -      completed  4          -           5h
run009  bare    -          -               -     -      cancelled  -          -           3d
run008  toy     ppo        CartPole-v1     5     -      failed     300        -           4d
run006  toy     y          -               0     -      completed  2          0.5         6d
run003  toy     a2c        -               3     -      completed  0          2           7d
run002  other   dqn        LunarLander-v3  2     -      completed  140        -           8d
run001  toy     ppo        CartPole-v1     1     g      completed  1200/2000  -           9d
""",  # noqa: E501
    ("--sort", "metric:desc", "--limit", "3"): """\
RUN     WORKER  ALGORITHM  ENV          SEED  GROUP  STATUS     STEP       HEADLINE   AGE  REASON
run005  toy     x          -            -     -      completed  2          6.173e+04  2m
run001  toy     ppo        CartPole-v1  1     g      completed  1200/2000  7.5        9d
run007  toy     ppo        CartPole-v1  4     g      failed     200        3.5        2h   supervisor_lost
""",  # noqa: E501
    ("--filter", "config.lr<0.01", "--stat", "last"): """\
RUN     WORKER  ALGORITHM  ENV          SEED  GROUP  STATUS     STEP       charts/episodic_return  AGE
run008  toy     ppo        CartPole-v1  5     -      failed     300        -5.5                    4d
run001  toy     ppo        CartPole-v1  1     g      completed  1200/2000  12                      9d
""",  # noqa: E501
    ("--metric", "summary.episodes", "--sort", "metric"): """\
RUN     WORKER  ALGORITHM  ENV             SEED  GROUP  STATUS     STEP       summary.episodes  AGE  REASON
run002  other   dqn        LunarLander-v3  2     -      completed  140        3                 8d
run001  toy     ppo        CartPole-v1     1     g      completed  1200/2000  12                9d
run005  toy     x          -               -     -      completed  2          -                 2m
run007  toy     ppo        CartPole-v1     4     g      failed     200        -                 2h   supervisor_lost
run004  ray     -          Pong            -     -      completed  4          -                 5h
run009  bare    -          -               -     -      cancelled  -          -                 3d
run008  toy     ppo        CartPole-v1     5     -      failed     300        -                 4d
run006  toy     y          -               0     -      completed  2          -                 6d
run003  toy     a2c        -               3     -      completed  0          -                 7d
""",  # noqa: E501
    ("--worker", "ray"): """\
RUN     WORKER  ALGORITHM  ENV   SEED  GROUP  STATUS     STEP  env_runners/episode_return_mean  AGE
run004  ray     -          Pong  -     -      completed  4     -19                              5h
""",
    ("--group", "g", "--sort", "seed:desc"): """\
RUN     WORKER  ALGORITHM  ENV          SEED  GROUP  STATUS     STEP       charts/episodic_return  AGE  REASON
run007  toy     ppo        CartPole-v1  4     g      failed     200        3.5                     2h   supervisor_lost
run001  toy     ppo        CartPole-v1  1     g      completed  1200/2000  7.5                     9d
""",  # noqa: E501
}


def _printed(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(["runs", *argv]) == 0
    return capsys.readouterr().out


def test_mosaic_runs_prints_every_kind_of_run_as_it_did(
    runs: Runs, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _varied(runs)
    monkeypatch.setenv("MOSAIC_HOME", str(runs.store.home))
    assert _printed(capsys) == LISTED
    for argv, text in OPTIONS.items():
        assert _printed(capsys, *argv) == text, argv


def test_rows_without_details_hold_the_table_s_columns_with_the_full_rows_values(
    runs: Runs,
) -> None:
    _varied(runs)
    full = run_table(runs.store)
    plain = run_table(runs.store, details=False)
    assert [r["run_id"] for r in plain] == [r["run_id"] for r in full]
    for row, whole in zip(plain, full, strict=True):
        assert row == {k: whole[k] for k in row}
        assert list(row) == [k for k in whole if k in row]  # in the same order (--json)
        assert "config" not in row and "summary" not in row and "pid" not in row
        for field in COLUMNS:  # what a filter or a sort may name is there
            assert lookup(row, field) == lookup(whole, field), field
    # What a filter, the sort or the metric reads is read all the same.
    (picked,) = run_table(runs.store, details=False, filters=[parse_filter("config.lr>0.01")])
    assert picked["config"]["lr"] == 0.02 and "pid" in picked
    assert run_table(runs.store, details=False, sort="summary.episodes")[0]["seed"] == 2
    by_summary = run_table(runs.store, details=False, metric="summary.episodes")
    assert sorted(r["metric"]["value"] for r in by_summary if r["metric"]["value"]) == [3, 12]
    json.dumps(plain)


def test_mosaic_runs_pauses_the_collector_and_leaves_it_as_it_found_it(
    runs: Runs, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import mosaic_core.query.table as table

    _varied(runs)
    monkeypatch.setenv("MOSAIC_HOME", str(runs.store.home))
    real, seen = table.run_columns, []

    def watched(*args: Any, **kwargs: Any) -> Any:
        seen.append(gc.isenabled())
        return real(*args, **kwargs)

    monkeypatch.setattr(table, "run_columns", watched)
    assert gc.isenabled()
    assert _printed(capsys) == LISTED
    assert seen == [False] and gc.isenabled()
    assert main(["runs", "--sort", "nonsense"]) == 2  # a failed listing turns it on again
    assert gc.isenabled() and "nonsense" in capsys.readouterr().err
    gc.disable()  # and one that was off stays off
    try:
        assert json.loads(_printed(capsys, "--json"))
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_table_s_columns_are_its_rows_without_details(runs: Runs) -> None:
    # mosaic runs without a filter or a sort prints run_columns: the rows run_table gives.
    _varied(runs)
    asked: list[dict[str, Any]] = [
        {}, {"worker": "toy"}, {"status": "completed"}, {"group": "g"}, {"limit": 3},
        {"stat": "max"}, {"stat": "last", "limit": 4}, {"stat": "mean", "group": "g"},
        {"worker": "nobody"},
    ]  # fmt: skip
    for kw in asked:
        rows = run_table(runs.store, details=False, **kw)
        columns = run_columns(runs.store, **kw)
        if rows:
            assert set(columns) == {*rows[0], "metric_key", "metric_value"} - {"metric"}
        for key in columns.keys() - {"metric_key", "metric_value"}:
            assert list(columns[key]) == [row[key] for row in rows], (kw, key)
        assert list(columns["metric_key"]) == [row["metric"]["key"] for row in rows], kw
        values = [row["metric"]["value"] for row in rows]
        assert json.dumps(list(columns["metric_value"])) == json.dumps(values), kw
    assert any(v is not None for v in run_columns(runs.store)["metric_value"])
    with pytest.raises(ConfigError, match="--stat 'bogus'"):
        run_columns(runs.store, stat="bogus")
    with pytest.raises(ConfigError, match="--limit"):
        run_columns(runs.store, limit=0)

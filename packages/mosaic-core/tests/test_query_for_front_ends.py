"""What the query layer gives a front end: one run in full, new metric rows only, and
LTTB on arrays with the same choice of points as the pure-Python one."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import pytest

from mosaic_core import TelemetryEmitter
from mosaic_core.query import lttb, lttb_arrays, run_details
from mosaic_core.runs import RunStore

np = pytest.importorskip("numpy")


@pytest.mark.parametrize(("n", "points"), [(10, 5), (100, 7), (1001, 50), (5000, 2000), (997, 3)])
def test_lttb_arrays_keeps_the_same_points_as_lttb(n: int, points: int) -> None:
    rng = random.Random(n)
    xs = sorted(rng.sample(range(n * 3), n))
    ys = [rng.gauss(0, 1) for _ in range(n)]
    assert list(lttb_arrays(np.array(xs), np.array(ys), points)) == lttb(xs, ys, points)


def _hard(kind: str, n: int, rng: random.Random) -> tuple[list[Any], list[float]]:
    """Curves where numpy's sums and fsum's part: near ties, cancellation, NaN, huge steps."""
    xs: list[Any] = list(range(n))
    if kind == "periodic":  # many triangles alike
        return [i * 10 for i in range(n)], [(i % 1000) * 0.25 - (i % 7) for i in range(n)]
    if kind == "cancelling":
        return xs, [rng.choice([1e15, -1e15, 1.0, 3e-9]) for _ in range(n)]
    if kind == "not numbers":
        return xs, [rng.choice([math.nan, math.inf, -math.inf, 2.0, -0.0]) for _ in range(n)]
    if kind == "float steps":
        return sorted(rng.uniform(0, 1e6) for _ in range(n)), [rng.uniform(-1, 1) * 1e300
                                                                for _ in range(n)]  # fmt: skip
    return [2**60 + 3 * i for i in range(n)], [rng.gauss(0, 1) for _ in range(n)]  # huge steps


@pytest.mark.parametrize("kind", ["periodic", "cancelling", "not numbers", "float steps", "huge"])
@pytest.mark.parametrize(("n", "points"), [(40, 9), (3_000, 100), (20_000, 2_000)])
def test_lttb_arrays_keeps_lttbs_points_where_sums_round_apart(
    monkeypatch: pytest.MonkeyPatch, kind: str, n: int, points: int
) -> None:
    from mosaic_core.query import downsample

    xs, ys = _hard(kind, n, random.Random(n))
    got = lttb_arrays(np.array(xs), np.array(ys), points).tolist()
    assert lttb(xs, ys, points) == got  # from VECTOR_FROM points, lttb is lttb_arrays
    monkeypatch.setattr(downsample, "_numpy", lambda: None)  # the loop, whatever the length
    assert lttb(xs, ys, points) == got
    assert len(got) == points and got[0] == 0 and got[-1] == n - 1


def test_lttb_arrays_refuses_what_lttb_refuses() -> None:
    with pytest.raises(ValueError, match="at least 3"):
        lttb_arrays(np.arange(10), np.arange(10), 2)
    with pytest.raises(ValueError, match="differ in length"):
        lttb_arrays(np.arange(10), np.arange(9), 5)


def _store_with_run(tmp_path: Path) -> tuple[RunStore, str]:
    store = RunStore(tmp_path / "home")
    store.create_run("R1", "toy", {"env_id": "E", "seed": 1})
    with open(store.run_dir("R1") / "events.jsonl", "ab") as events:
        emitter = TelemetryEmitter("R1", stream=events)
        emitter.run_started(worker_type="toy", env_id="E")
        for step in range(5):
            emitter.metrics(step, {"charts/episodic_return": float(step), "loss": 1.0 / (step + 1)})
        emitter.close()
    store.catch_up("R1")
    return store, "R1"


def test_metric_since_reads_only_what_came_after_the_place_it_returned(tmp_path: Path) -> None:
    store, run_id = _store_with_run(tmp_path)
    key = "charts/episodic_return"
    steps, values, stamps, after = store.metric_since(run_id, key)
    assert (list(steps), list(values)) == (list(range(5)), [float(s) for s in range(5)])
    assert len(stamps) == 5
    assert list(store.metric_since(run_id, key, after=after)[0]) == []  # nothing new
    with open(store.run_dir(run_id) / "events.jsonl", "a") as events:
        for seq, step in ((6, 5), (7, 6)):  # the run goes on after the reader's first look
            payload = {"step": step, "values": {key: float(step), "loss": 0.0}}
            events.write(json.dumps({"v": 1, "event": "metrics", "run_id": run_id, "seq": seq,
                                     "timestamp": 1.0, "payload": payload}) + "\n")  # fmt: skip
    store.catch_up(run_id)
    steps, values, _, later = store.metric_since(run_id, key, after=after)
    assert (list(steps), list(values), later > after) == ([5, 6], [5.0, 6.0], True)


def test_data_version_changes_when_another_connection_writes(tmp_path: Path) -> None:
    store, run_id = _store_with_run(tmp_path)
    other = RunStore(store.home)
    before = store.data_version()
    assert store.data_version() == before
    other.update(run_id, status="running")
    assert store.data_version() != before


def test_run_details_has_the_run_its_metrics_anomalies_and_files(tmp_path: Path) -> None:
    store, run_id = _store_with_run(tmp_path)
    gap = b'{"v":1,"event":"heartbeat","run_id":"R1","seq":99,"timestamp":1.0,"payload":{}}\n'
    with (store.run_dir(run_id) / "events.jsonl").open("ab") as events:
        events.write(gap)  # seq 99 after 6 events: a gap, recorded as an anomaly
    store.catch_up(run_id)
    details = run_details(store, run_id[:2])
    assert details["run_id"] == run_id
    assert details["config"] == {"env_id": "E", "seed": 1}
    assert details["metric_keys"] == ["charts/episodic_return", "loss"]
    assert details["final_metrics"]["charts/episodic_return"] == 4.0
    assert details["metric"]["key"] == "charts/episodic_return"
    assert len(details["anomalies"]) == 1
    assert details["manifest"] is None and details["provenance"] is None
    assert details["run_dir"] == str(store.run_dir(run_id))


def test_run_index_follows_new_changed_and_deleted_runs(tmp_path: Path) -> None:
    from mosaic_core.query import RunIndex, parse_filter

    store, run_id = _store_with_run(tmp_path)
    index = RunIndex()
    assert index.refresh(store) == ([run_id], [])
    assert index.refresh(store) == ([], [])
    store.create_run("R2", "toy", {"env_id": "F", "seed": 2}, group="sweep-a")
    store.update(run_id, status="completed")
    changed, deleted = index.refresh(store)
    assert sorted(changed) == ["R1", "R2"] and deleted == []
    rows, total = index.table(store)
    assert [r["run_id"] for r in rows] == ["R2", "R1"] and total == 2
    assert rows[1]["metric"]["value"] == 2.0  # the headline: mean of the last ten returns
    rows, total = index.table(store, sort="-metric")
    assert rows[0]["run_id"] == "R1"
    assert index.table(store, search="sweep")[1] == 1
    assert index.table(store, filters=[parse_filter("env_id==F")])[0][0]["run_id"] == "R2"
    assert index.table(store, status="completed")[1] == 1
    page, total = index.table(store, offset=1, limit=1)
    assert [r["run_id"] for r in page] == ["R1"] and total == 2
    assert index.table(store, metric="loss", stat="last")[0][1]["metric"] == {
        "key": "loss", "stat": "last", "value": 0.2
    }  # fmt: skip
    store.delete("R2")
    assert index.refresh(store) == ([], ["R2"])
    assert len(index) == 1


def test_run_index_refuses_bad_arguments_as_mosaic_runs_does(tmp_path: Path) -> None:
    from mosaic_core import ConfigError
    from mosaic_core.query import RunIndex

    store, _ = _store_with_run(tmp_path)
    index = RunIndex()
    index.refresh(store)
    for kwargs, field in [({"status": "done"}, "--status"), ({"stat": "median"}, "--stat"),
                          ({"sort": "colour"}, "--sort"), ({"offset": -1}, "offset"),
                          ({"limit": 0}, "--limit")]:  # fmt: skip
        with pytest.raises(ConfigError) as caught:
            index.table(store, **kwargs)
        assert caught.value.field == field


def test_run_index_reads_a_live_runs_metric_again_only_now_and_then(tmp_path: Path) -> None:
    from mosaic_core.query import RunIndex

    store, run_id = _store_with_run(tmp_path)
    store.update(run_id, status="running")
    index = RunIndex(metric_every=3600)
    index.refresh(store)
    assert index.rows([run_id])[0]["metric"]["value"] == 2.0
    with open(store.run_dir(run_id) / "events.jsonl", "ab") as events:
        line = {"v": 1, "event": "metrics", "run_id": run_id, "seq": 7, "timestamp": 2.0,
                "payload": {"step": 9, "values": {"charts/episodic_return": 100.0}}}  # fmt: skip
        events.write((json.dumps(line) + "\n").encode())
    store.catch_up(run_id)
    assert index.refresh(store)[0] == [run_id]
    row = index.rows([run_id])[0]
    assert row["step"] == 9 and row["metric"]["value"] == 2.0  # the step now, the metric later
    store.update(run_id, status="completed")
    index.refresh(store)
    assert index.rows([run_id])[0]["metric"]["value"] == pytest.approx(110 / 6)  # once it ends

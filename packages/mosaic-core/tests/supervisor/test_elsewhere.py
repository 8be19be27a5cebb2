"""Runs that a launcher plugin sends elsewhere go through the same supervisor: what it
brings home is indexed, a run counts as running only once it started, a run whose place
was lost fails with the launcher's reason, and ``--retries`` starts exactly that run again,
its lost attempt kept in ``attempts/0`` and its index started over.

The plugin (``elsewhere_launcher.py``, installed as a distribution beside the fixture
worker) stands a directory of this machine for a node; the Ray launcher's tests do the
same on a real cluster.
"""

from __future__ import annotations

import json
import pathlib
import shutil

import pytest

from mosaic_core.runs import RunStore

from .conftest import HERE, Mosaic

RUN = ["run", "fixture", "--json", "--launcher", "elsewhere", "--seeds", "1,2,3",
       "--set", "total_steps=6", "--set", "step_sleep=0.05"]  # fmt: skip


@pytest.fixture(autouse=True)
def elsewhere(site: pathlib.Path) -> None:
    shutil.copy(HERE / "elsewhere_launcher.py", site / "elsewhere_launcher.py")
    info = site / "mosaic_elsewhere-0.0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: mosaic-elsewhere\nVersion: 0.0.1\n"
    )
    (info / "entry_points.txt").write_text("[mosaic.launchers]\nelsewhere = elsewhere_launcher\n")


def lines(path: pathlib.Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def by_seed(home: pathlib.Path, runs: list[dict[str, object]]) -> dict[int, dict[str, object]]:
    return {
        json.loads((pathlib.Path(str(r["run_dir"])) / "config.json").read_text())["seed"]: r
        for r in runs
    }


def test_a_lost_run_fails_with_the_launchers_reason_and_the_others_complete(
    mosaic: Mosaic, home: pathlib.Path
) -> None:
    code, out = mosaic.run_json(*RUN[3:], "--launcher-option", "lose=[2]")
    runs = by_seed(home, out["runs"])
    assert code == 1
    assert runs[2]["status"] == "failed" and runs[2]["reason"] == "node_lost: the test's node"
    for seed in (1, 3):
        assert runs[seed]["status"] == "completed", runs[seed]
    with RunStore(home) as store:
        for run in out["runs"]:
            indexed = store.get(str(run["run_id"]))
            on_disk = lines(pathlib.Path(str(run["run_dir"])) / "events.jsonl")
            assert indexed["events"] == len(on_disk) and indexed["started_at"] is not None
            assert indexed["pid"] is None  # nothing of this machine to watch


def test_retries_start_exactly_the_lost_run_again(mosaic: Mosaic, home: pathlib.Path) -> None:
    code, out = mosaic.run_json(*RUN[3:], "--launcher-option", "lose=[2]", "--retries", "1")
    runs = by_seed(home, out["runs"])
    assert code == 0, out
    with RunStore(home) as store:
        for seed, run in runs.items():
            run_dir = pathlib.Path(str(run["run_dir"]))
            stream = lines(run_dir / "events.jsonl")
            assert [e["seq"] for e in stream] == list(range(len(stream)))
            assert stream[-1]["event"] == "run_completed"
            assert store.get(str(run["run_id"]))["events"] == len(stream)
            assert store.anomalies(str(run["run_id"])) == []
            lost = run_dir / "attempts" / "0"
            if seed == 2:
                assert lines(lost / "events.jsonl")[0]["event"] == "run_started"
                assert json.loads((lost / "placement.json").read_text())["node"].endswith(".0")
                assert json.loads((run_dir / "placement.json").read_text())["node"].endswith(".1")
            else:
                assert not lost.exists()

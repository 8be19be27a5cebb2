"""The commands that look at results, run for real against runs of the fixture worker.

The fixture reports ``charts/episodic_return`` = step at steps 0..total_steps-1,
so a run's headline (the mean of its last ten values) is known in advance.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import time

import pytest

from mosaic_core.runs import STATUSES, RunStore

from .conftest import Mosaic


def _tail_mean(total_steps: int) -> float:
    values = list(range(total_steps))[-10:]
    return sum(values) / len(values)


@pytest.fixture
def sweep(mosaic: Mosaic) -> dict:
    done = mosaic("run", "fixture", "--sweep", "total_steps=5,12", "--seeds", "1,2",
                  "--group", "g1", "--json", "--parallel", "4")  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_sweep_crossed_with_seeds_is_one_group_with_one_table(
    mosaic: Mosaic, sweep: dict, store: RunStore
) -> None:
    assert sweep["group"] == "g1" and len(sweep["runs"]) == 4
    assert {(r["seed"], r["status"]) for r in sweep["runs"]} == {(1, "completed"), (2, "completed")}
    confs = sweep["statistics"]["configurations"]
    assert [c["fields"] for c in confs] == [{"total_steps": 5}, {"total_steps": 12}]
    assert [c["mean"] for c in confs] == [_tail_mean(5), _tail_mean(12)]
    assert [c["n"] for c in confs] == [2, 2]
    table = mosaic("group", "g1", check=True).stdout
    lines = table.splitlines()
    assert lines[0].startswith("group g1: charts/episodic_return (mean of the last 10 values")
    assert lines[1].split() == ["TOTAL_STEPS", "RUNS", "MEAN", "[95%", "CI]", "IQM", "[95%", "CI]"]
    assert lines[2].split()[:3] == ["5", "2", "2"]
    assert lines[3].split()[:3] == ["12", "2", "6.5"]
    listed = json.loads(mosaic("runs", "--group", "g1", "--json", check=True).stdout)
    assert len(listed) == 4 and {r["group"] for r in listed} == {"g1"}
    assert json.loads(mosaic("group", "--json", check=True).stdout)[0]["name"] == "g1"


def test_the_end_of_a_sweep_prints_the_table_not_a_summary_per_run(mosaic: Mosaic) -> None:
    done = mosaic("run", "fixture", "--sweep", "total_steps=3,4", "--no-progress")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("run directory") == 0
    assert "TOTAL_STEPS  RUNS  MEAN [95% CI]" in done.stdout
    assert "mosaic group fixture-" in done.stdout  # the group got a name of its own


def test_runs_filters_sorts_and_says_when_nothing_matches(mosaic: Mosaic, sweep: dict) -> None:
    big = json.loads(mosaic("runs", "--filter", "config.total_steps>5", "--json",
                            check=True).stdout)  # fmt: skip
    assert {r["config"]["total_steps"] for r in big} == {12}
    ranked = json.loads(mosaic("runs", "--sort", "metric:desc", "--json", check=True).stdout)
    values = [r["metric"]["value"] for r in ranked]
    assert values == sorted(values, reverse=True)
    text = mosaic("runs", check=True).stdout.splitlines()
    assert text[0].split() == ["RUN", "WORKER", "ALGORITHM", "ENV", "SEED", "GROUP", "STATUS",
                               "STEP", "charts/episodic_return", "AGE"]  # fmt: skip
    none = mosaic("runs", "--status", "failed")
    assert none.returncode == 0 and none.stdout.startswith("No runs match --status failed")
    bad = mosaic("runs", "--filter", "learning_rate<1")
    assert bad.returncode == 2 and "not a field of a run" in bad.stderr


def test_metrics_of_several_runs_and_keys_with_a_run_id_column(mosaic: Mosaic, sweep: dict) -> None:
    ids = [r["run_id"] for r in sweep["runs"][:2]]
    rows = mosaic("metrics", *ids, "--key", "charts/episodic_return", "--key", "seed",
                  "--csv", check=True).stdout.splitlines()  # fmt: skip
    assert rows[0] == "run_id,step,key,value,timestamp"
    seen = {(r.split(",")[0], r.split(",")[2]) for r in rows[1:]}
    assert seen == {(i, k) for i in ids for k in ("charts/episodic_return", "seed")}
    thin = json.loads(mosaic("metrics", ids[0], "--key", "charts/episodic_return",
                             "--points", "3", "--json", check=True).stdout)  # fmt: skip
    assert thin[0]["steps"] == [0, 1, 4] or len(thin[0]["steps"]) == 3
    assert thin[0]["count"] == 5 and thin[0]["steps"][0] == 0 and thin[0]["steps"][-1] == 4
    missing = mosaic("metrics", *ids, "--key", "charts/episodic_retrun")
    assert missing.returncode == 2 and "did you mean 'charts/episodic_return'" in missing.stderr


def test_compare_puts_the_differing_fields_side_by_side(mosaic: Mosaic, sweep: dict) -> None:
    ids = [r["run_id"] for r in sweep["runs"]]
    data = json.loads(mosaic("compare", ids[0], ids[3], "--json", check=True).stdout)
    assert data["config"]["differ"] == {"seed": [1, 2], "total_steps": [5, 12]}
    finals = [e["final"] for e in data["metrics"]["charts/episodic_return"]]
    assert finals == [4.0, 11.0]
    text = mosaic("compare", "--group", "g1", check=True).stdout
    assert "config.total_steps" in text and "charts/episodic_return best (max)" in text


def test_plot_draws_a_picture_of_the_group(
    mosaic: Mosaic, sweep: dict, tmp_path: pathlib.Path
) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "curves.png"
    done = mosaic("plot", "--group", "g1", "-o", str(out), check=True)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "total_steps=5 (2 seeds)" in done.stdout and f"wrote {out}" in done.stdout
    svg = tmp_path / "curves.svg"
    mosaic("plot", sweep["runs"][0]["run_id"], "--key", "seed", "-o", str(svg), check=True)
    assert "<svg" in svg.read_text()
    bad = mosaic("plot", "--group", "g1", "-o", str(tmp_path / "curves.gif"))
    assert bad.returncode == 2 and ".png, .svg, .pdf" in bad.stderr


def test_plot_without_matplotlib_names_the_extra(mosaic: Mosaic, sweep: dict) -> None:
    hide = (
        "import sys; sys.modules['matplotlib'] = None; sys.modules['matplotlib.figure'] = None;"
        "from mosaic_core.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", hide, "plot", "--group", "g1"],
        capture_output=True, text=True, env=dict(os.environ), timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert "pip install 'mosaic-core[plot]'" in done.stderr and "Traceback" not in done.stderr


def test_export_without_mlflow_names_the_extra(mosaic: Mosaic, sweep: dict) -> None:
    hide = (
        "import sys; sys.modules['mlflow'] = None; sys.modules['mlflow.tracking'] = None;"
        "sys.modules['mlflow.entities'] = None;"
        "from mosaic_core.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", hide, "export", "mlflow", "--group", "g1", "--tracking-uri",
         "sqlite:///x.db"],
        capture_output=True, text=True, env=dict(os.environ), timeout=60,
    )  # fmt: skip
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "pip install 'mosaic-core[mlflow]'" in done.stderr


def test_show_prints_the_config_and_provenance(
    mosaic: Mosaic, home: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    repo = tmp_path / "project"
    repo.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q", str(repo)], check=True)
    (repo / "train.txt").write_text("x")
    subprocess.run([*git, "-C", str(repo), "add", "."], check=True)
    subprocess.run([*git, "-C", str(repo), "commit", "-qm", "one"], check=True)
    commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True,
                            text=True, check=True).stdout.strip()  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "mosaic_core", "run", "fixture", "--set", "total_steps=3",
         "--set", "seed=5", "--json"],
        cwd=repo, capture_output=True, text=True, env=dict(os.environ), timeout=120,
    )  # fmt: skip
    run_id = json.loads(done.stdout)["run_id"]
    shown = json.loads(mosaic("show", run_id, "--json", check=True).stdout)
    prov = shown["provenance"]
    assert prov["git"]["commit"] == commit and prov["git"]["dirty"] is False
    assert prov["worker"] == {"type": "fixture", "distribution": "mosaic-fixture",
                              "version": "0.0.1"}  # fmt: skip
    assert prov["python"] == sys.version.split()[0] and prov["host"]
    assert "mosaic-core" in prov["packages"] and "mosaic-fixture" in prov["packages"]
    assert shown["config"]["total_steps"] == 3 and shown["summary"]["steps"] == 3
    text = mosaic("show", run_id, check=True).stdout
    assert "total_steps = 3" in text and f"git = {commit}" in text
    assert "worker = mosaic-fixture 0.0.1" in text


def test_run_from_an_existing_run_with_changes(mosaic: Mosaic) -> None:
    _, first = mosaic.run_json("--set", "total_steps=4", "--set", "seed=1")
    done = mosaic("run", "--from", first["run_id"][:10], "--set", "seed=2", "--json")
    assert done.returncode == 0, done.stderr
    second = json.loads(done.stdout)
    assert second["seed"] == 2 and second["run_id"] != first["run_id"]
    shown = json.loads(mosaic("show", second["run_id"], "--json", check=True).stdout)
    assert shown["config"]["total_steps"] == 4 and shown["worker_type"] == "fixture"
    other = mosaic("run", "toy", "--from", first["run_id"])
    assert other.returncode == 2 and "is a fixture run, not toy" in other.stderr


def test_json_reports_the_seed_and_an_object_summary_whatever_the_outcome(
    mosaic: Mosaic,
) -> None:
    code, ok = mosaic.run_json("--set", "total_steps=2", "--set", "seed=9")
    assert code == 0 and ok["seed"] == 9 and isinstance(ok["summary"], dict)
    code, failed = mosaic.run_json("--set", "behavior=fail")
    assert code == 1 and isinstance(failed["summary"], dict) and failed["seed"] is None


def test_detach_json_reports_a_documented_status(mosaic: Mosaic, store: RunStore) -> None:
    done = mosaic("run", "fixture", "--set", "total_steps=2", "--detach", "--json", check=True)
    started = json.loads(done.stdout)
    assert started["status"] == "pending" and started["status"] in STATUSES
    deadline = time.monotonic() + 60
    while store.get(started["run_id"])["status"] != "completed":
        assert time.monotonic() < deadline
        time.sleep(0.2)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("run", "fixture", "--parallel", "0"), "expected a whole number >= 1"),
        (("run", "fixture", "--sweep", "total_steps"), "expected KEY=V1,V2"),
        (("run", "fixture", "--sweep", "total_steps=1,,2"), "an empty value"),
        (("run", "fixture", "--group", "a/b"), "--group 'a/b'"),
        (("runs", "--sort", "colour"), "not a field of a run"),
        (("group", "nope"), "no runs in that group"),
    ],
)
def test_bad_options_exit_2_with_one_line(mosaic: Mosaic, args: tuple[str, ...], says: str) -> None:
    done = mosaic(*args)
    assert done.returncode == 2 and says in done.stderr and "Traceback" not in done.stderr


def test_an_unknown_event_type_exits_2_like_an_unknown_key(mosaic: Mosaic) -> None:
    _, result = mosaic.run_json("--set", "total_steps=2")
    done = mosaic("events", result["run_id"], "--event", "metric")
    assert done.returncode == 2 and "invalid choice: 'metric'" in done.stderr
    assert mosaic("events", result["run_id"], "--event", "metrics", check=True).stdout


def test_export_to_a_real_mlflow_store(mosaic: Mosaic, sweep: dict, tmp_path: pathlib.Path) -> None:
    pytest.importorskip("mlflow")
    pytest.importorskip("sqlalchemy")
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    run_id = sweep["runs"][3]["run_id"]
    done = mosaic("export", "mlflow", run_id, "--tracking-uri", uri, "--json", timeout=300)
    assert done.returncode == 0, done.stderr
    (exported,) = json.loads(done.stdout)
    client = MlflowClient(tracking_uri=uri)
    run = client.get_run(exported["mlflow_run_id"])
    assert run.data.tags["mosaic.run_id"] == run_id and run.data.tags["mosaic.group"] == "g1"
    assert run.data.params["total_steps"] == "12" and run.info.status == "FINISHED"
    history = client.get_metric_history(run.info.run_id, "charts/episodic_return")
    assert [m.step for m in history] == list(range(12)) and history[-1].value == 11.0
    again = json.loads(mosaic("export", "mlflow", run_id, "--tracking-uri", uri, "--json",
                              timeout=300, check=True).stdout)  # fmt: skip
    assert again[0]["exported"] is False and again[0]["mlflow_run_id"] == run.info.run_id


def test_tensorboard_reads_every_run_under_a_readable_name(
    mosaic: Mosaic, sweep: dict, tmp_path: pathlib.Path
) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logdir = tmp_path / "tb"
    run_id = sweep["runs"][0]["run_id"]
    done = mosaic("tensorboard", run_id, "--logdir", str(logdir), "--prepare-only", check=True)
    name = f"count-Nothing-v0-seed1-{run_id[-8:]}"
    assert f"{name}: 10 scalars from the run store" in done.stdout
    events = EventAccumulator(str(logdir / name))
    events.Reload()
    scalars = events.Scalars("charts/episodic_return")
    assert [s.step for s in scalars] == [0, 1, 2, 3, 4] and scalars[-1].value == 4.0

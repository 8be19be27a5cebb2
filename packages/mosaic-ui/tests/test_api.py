"""Every endpoint of the JSON API against a real server, real runs and a real store,
the unhappy paths as carefully as the happy ones."""

from __future__ import annotations

import json
import pathlib
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import TOKEN, Server
from mosaic_ui.app import create_app
from mosaic_ui.openapi import document


def _launch(server: Server, **body: Any) -> list[str]:
    status, data = server.request("POST", "/api/launch", {"worker": "bandit", **body})
    assert status == 201, data
    return [r["run_id"] for r in data["runs"]]


@pytest.fixture
def finished(server: Server) -> list[str]:
    """Three finished bandit runs of one group (seeds 1, 2, 3)."""
    ids = _launch(server, config={"total_steps": 3000, "log_every": 100}, seeds="1,2,3",
                  group="three")  # fmt: skip
    for run_id in ids:
        assert server.wait_for(run_id, ("completed", "failed"))["status"] == "completed"
    return ids


def test_the_run_table_filters_searches_sorts_and_pages(
    server: Server, finished: list[str]
) -> None:
    status, table = server.get("/api/runs")
    assert status == 200 and table["total"] == 3
    session = server.get("/api/session")[1]
    assert session["home"] == str(server.home) and session["runs"] == 3
    assert {r["run_id"] for r in table["runs"]} == set(finished)
    row = table["runs"][0]
    assert row["metric"]["key"] == "charts/mean_reward" and row["metric"]["value"] > 0
    assert "config" not in row  # the table row is slim; the run page has the config
    assert [r["seed"] for r in server.get("/api/runs?sort=-seed")[1]["runs"]] == [3, 2, 1]
    assert [r["seed"] for r in server.get("/api/runs?sort=seed:asc")[1]["runs"]] == [1, 2, 3]
    assert server.get("/api/runs?filter=seed>=2")[1]["total"] == 2
    assert server.get("/api/runs?filter=config.total_steps==3000&filter=seed==1")[1]["total"] == 1
    assert server.get(f"/api/runs?q={finished[1][-6:].lower()}")[1]["total"] == 1
    assert server.get("/api/runs?status=running")[1]["total"] == 0
    assert server.get("/api/runs?group=three&worker=bandit")[1]["total"] == 3
    page = server.get("/api/runs?sort=seed&limit=1&offset=1")[1]
    assert [r["seed"] for r in page["runs"]] == [2] and page["total"] == 3
    status, error = server.get("/api/runs?filter=seed>>2")
    assert status == 422 and error["field"] == "--filter" and "two operators" in error["error"]
    status, error = server.get("/api/runs?status=done")
    assert status == 422 and error["field"] == "--status"
    status, error = server.get("/api/runs?limit=0")
    assert status == 422 and error["field"] == "limit"
    status, error = server.get("/api/runs?sort=colour")
    assert status == 422 and "not a field of a run" in error["error"]
    groups = server.get("/api/groups")[1]["groups"]
    assert [(g["name"], g["runs"]) for g in groups] == [("three", 3)]


def test_a_run_its_metrics_events_logs_and_files(server: Server, finished: list[str]) -> None:
    run_id = finished[0]
    status, run = server.get(f"/api/runs/{run_id[:-2]}")  # a prefix finds it
    assert status == 200 and run["run_id"] == run_id
    assert run["config"]["seed"] == 1 and run["metric_keys"] == ["charts/mean_reward",
                                                                  "charts/regret"]  # fmt: skip
    assert run["manifest"]["worker_type"] == "bandit" and run["provenance"]["worker"]
    paths = {f["path"] for f in run["files"]}
    assert {"config.json", "events.jsonl", "checkpoints/final.json"} <= paths
    metrics = server.get(f"/api/runs/{run_id}/metrics")[1]
    series = metrics["series"]["charts/mean_reward"]
    assert series["count"] == 30 and series["steps"][:2] == [100, 200]
    thin = server.get(f"/api/runs/{run_id}/metrics?key=charts/regret&points=5")[1]
    assert len(thin["series"]["charts/regret"]["steps"]) == 5
    assert thin["series"]["charts/regret"]["steps"][0] == 100  # LTTB keeps both ends
    after = series["last_row"]
    more = server.get(f"/api/runs/{run_id}/metrics?key=charts/mean_reward&after={after}")[1]
    assert more["series"]["charts/mean_reward"]["steps"] == []
    assert server.get(f"/api/runs/{run_id}/metrics?key=nope")[1]["series"] == {"nope": None}
    assert server.get(f"/api/runs/{run_id}/metrics?points=2")[0] == 422
    events = server.get(f"/api/runs/{run_id}/events?limit=2")[1]
    assert events["total"] >= 32 and [e["event"] for e in events["events"]][-1] == "run_completed"
    assert events["anomalies"] == []
    logs = server.get(f"/api/runs/{run_id}/logs?name=stdout")[1]
    assert logs["offset"] == 0 and logs["next"] == logs["size"]
    assert server.get(f"/api/runs/{run_id}/logs?name=secrets")[0] == 422
    status, body = server.get(f"/api/runs/{run_id}/files/checkpoints/final.json")
    assert status == 200 and set(body) == {"values", "counts"}
    assert server.get("/api/runs/NOSUCHRUN")[0] == 404
    assert server.get("/api/runs/NOSUCHRUN/metrics")[0] == 404


def test_launch_checks_everything_before_anything_starts(server: Server) -> None:
    cases = [
        ({"worker": "bandit", "config": {"epsilonn": 0.1}}, "epsilonn", "did you mean 'epsilon'"),
        ({"worker": "bandit", "config": {"epsilon": 2}}, "epsilon",
         "config field 'epsilon': got 2.0 (float); expected a number >= 0 and <= 1"),
        ({"worker": "bandit", "config": {"total_steps": 10, "log_every": 100}}, "log_every",
         "at most total_steps (10)"),
        ({"worker": "bandit", "seeds": "1,two"}, "--seeds", "comma-separated integers"),
        ({"worker": "bandit", "sweep": ["epsilon"]}, "--sweep", "expected KEY=V1,V2"),
        ({"worker": "bandit", "group": "../up"}, "--group", "letters, digits"),
        ({"worker": "bandit", "env": "nosuchenv"}, "--env", "no environment named"),
        ({"worker": "bandt"}, "worker", "did you mean 'bandit'"),
        ({"worker": "bandit", "colour": 1}, "colour", "unknown key"),
        ({"worker": "bandit", "config": [1]}, "config", "an object"),
        ({"worker": "bandit", "sweep": ["epsilon=0.1,0.2"] * 1, "seeds": list(range(600))},
         "--sweep", "at most 1000"),
    ]  # fmt: skip
    for body, field, words in cases:
        status, error = server.request("POST", "/api/launch", body)
        assert status == 422, (body, error)
        assert error["field"] == field and words in error["error"], (body, error)
    status, error = server.request("POST", "/api/launch", None,
                                   headers={"content-type": "text/plain"})  # fmt: skip
    assert status == 415
    assert server.get("/api/runs")[1]["total"] == 0
    assert not any((server.home / "runs").iterdir())


def test_launch_a_sweep_starts_a_grid_as_mosaic_run_does(server: Server) -> None:
    status, data = server.request("POST", "/api/launch", {
        "worker": "bandit", "config": {"total_steps": 500}, "seeds": [1, 2],
        "sweep": ["epsilon=0.1,0.2"]})  # fmt: skip
    assert status == 201 and data["group"].startswith("bandit-") and len(data["runs"]) == 4
    configs = set()
    for item in data["runs"]:
        run = server.wait_for(item["run_id"], ("completed", "failed"))
        assert run["status"] == "completed" and run["group"] == data["group"]
        configs.add((run["config"]["epsilon"], run["config"]["seed"]))
        assert (pathlib.Path(item["run_dir"]) / "launch.json").exists()
    assert configs == {(0.1, 1), (0.1, 2), (0.2, 1), (0.2, 2)}


def test_cancel_then_delete(server: Server) -> None:
    (run_id,) = _launch(server, config={"total_steps": 50_000_000, "log_every": 100_000})
    server.wait_for(run_id, ("running",))
    assert server.request("DELETE", f"/api/runs/{run_id}")[0] == 409  # still running
    status, data = server.request("POST", f"/api/runs/{run_id}/cancel")
    assert status == 200 and data["cancel_requested"] is True
    assert server.wait_for(run_id, ("cancelled",), timeout=30)["status"] == "cancelled"
    status, error = server.request("POST", f"/api/runs/{run_id}/cancel")
    assert status == 409 and "already cancelled" in error["error"]
    status, data = server.request("DELETE", f"/api/runs/{run_id}")
    assert status == 200 and data == {"removed": run_id}
    assert not (server.home / "runs" / run_id).exists()
    assert server.get(f"/api/runs/{run_id}")[0] == 404
    assert server.request("POST", "/api/runs/NOSUCHRUN/cancel")[0] == 404


def test_compare_runs_and_a_group(server: Server, finished: list[str]) -> None:
    data = server.get("/api/compare?group=three")[1]
    assert [r["run_id"] for r in data["compare"]["runs"]] == sorted(finished)
    assert data["keys"] == ["charts/mean_reward"]
    (curve,) = data["curves"]
    assert curve["n"] == 3 and len(curve["low"]) == len(curve["mean"]) == 200
    assert all(lo <= m <= hi for lo, m, hi in zip(curve["low"], curve["mean"], curve["high"],
                                                  strict=True))  # fmt: skip
    (conf,) = data["statistics"]["configurations"]
    assert conf["n"] == 3 and conf["iqm_ci"][0] <= conf["iqm"] <= conf["iqm_ci"][1]
    two = server.get(f"/api/compare?run={finished[0]}&run={finished[1]}&key=charts/regret"
                     "&group_by=none")[1]  # fmt: skip
    assert two["compare"]["config"]["differ"] == {"seed": [1, 2]} and len(two["curves"]) == 2
    status, error = server.get("/api/compare")
    assert status == 422 and "name at least one run" in error["error"]
    status, error = server.get(f"/api/compare?run={finished[0]}&key=nope")
    assert status == 422 and "none of the runs has metric 'nope'" in error["error"]


def test_workers_schemas_and_broken_plugins(home: pathlib.Path, plugins: pathlib.Path) -> None:
    server = Server(home, pythonpath=plugins)
    try:
        data = server.get("/api/workers")[1]
        assert {"bandit", "secretive"} <= {w["worker_type"] for w in data["workers"]}
        (broken,) = [b for b in data["broken"] if b["worker_type"] == "broken"]
        assert broken["error_type"] == "ModuleNotFoundError"
        assert "mosaic_ui_no_such_dependency" in broken["error"] and broken["hint"]
        schema = server.get("/api/workers/bandit/schema")[1]
        assert schema["schema"]["properties"]["epsilon"]["maximum"] == 1
        secret = server.get("/api/workers/secretive/schema")[1]["schema"]["properties"]["api_key"]
        assert secret["writeOnly"] is True and "default" not in secret
        status, error = server.get("/api/workers/broken/schema")
        assert status == 422 and "installed but broken" in error["error"]
        assert server.get("/api/workers/nosuch/schema")[0] == 422
    finally:
        server.stop()


def test_evaluate_in_the_background(server: Server) -> None:
    status, job = server.request("POST", "/api/evals", {"env": "CartPole-v1",
                                 "operators": ["random"], "episodes": 2, "seed": 3})  # fmt: skip
    assert status == 202 and job["status"] == "running"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status, done = server.get(f"/api/evals/{job['job']}")
        if done["status"] != "running":
            break
        time.sleep(0.5)
    assert done["status"] == "completed", done["stderr"]
    (row,) = done["report"]["operators"]
    assert row["operator"] == "random" and row["episodes"] == 2
    run = server.get(f"/api/runs/{done['report']['run_id']}")[1]
    assert run["worker_type"] == "eval" and run["status"] == "completed"
    assert [e["job"] for e in server.get("/api/evals")[1]["evals"]] == [job["job"]]
    for body, field in [
        ({"env": "CartPole-v1", "operators": ["human"]}, "--operator"),
        ({"env": "CartPole-v1", "operators": [f"bandit:{server.home}"]}, "--operator"),
        ({"env": "CartPole-v1", "operators": ["NOSUCHRUN"]}, "--operator"),
        ({"env": "CartPole-v1", "operators": []}, "--operator"),
        ({"env": "--help", "operators": ["random"]}, "--env"),
        ({"env": "CartPole-v1", "operators": ["random"], "episodes": 0}, "--episodes"),
    ]:
        status, error = server.request("POST", "/api/evals", body)
        assert (status, error["field"]) == (422, field), (body, error)
    assert server.get("/api/evals/0123456789abcdef")[0] == 404
    assert server.get("/api/evals/..")[0] == 404


def test_server_sent_events_tell_of_new_and_changed_runs(server: Server) -> None:
    request = urllib.request.Request(server.base + "/api/stream",
                                     headers={"authorization": f"Bearer {TOKEN}"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert stream.readline() == b"event: hello\n"
        stream.readline(), stream.readline()
        # A run long enough to be seen running (a short one may end before the index
        # publishes anything but its end), then cancelled: its new state comes too.
        (run_id,) = _launch(server, config={"total_steps": 30_000_000, "log_every": 200_000})
        seen: list[str] = []  # the run's statuses as the stream told them, in order
        asked = False
        deadline = time.monotonic() + 90
        while "cancelled" not in seen and time.monotonic() < deadline:
            line = stream.readline()
            if line.startswith(b"data: "):
                message = json.loads(line[6:])
                for run in message.get("runs", ()):
                    if run["run_id"] == run_id and run["status"] not in seen[-1:]:
                        seen.append(run["status"])
                if "running" in seen and not asked:
                    assert server.request("POST", f"/api/runs/{run_id}/cancel")[0] == 200
                    asked = True
    assert seen[0] in ("pending", "running") and seen[-1] == "cancelled", seen
    assert "running" in seen


def test_a_live_run_is_followed_from_its_file_past_the_index(server: Server) -> None:
    (run_id,) = _launch(server, config={"total_steps": 30_000_000, "log_every": 200_000})
    server.wait_for(run_id, ("running",))
    first = server.get(f"/api/runs/{run_id}/metrics?key=charts/mean_reward")[1]
    start = first["follow"]
    request = urllib.request.Request(
        server.base + f"/api/runs/{run_id}/stream?offset={start['offset']}&seq={start['seq']}",
        headers={"authorization": f"Bearer {TOKEN}"},
    )
    steps: list[int] = []
    with urllib.request.urlopen(request, timeout=60) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        while len(steps) < 3:
            line = stream.readline()
            if line.startswith(b"data: ") and b'"points"' in line:
                steps += [p["step"] for p in json.loads(line[6:])["points"]]
    assert steps == sorted(steps) and all(s % 200_000 == 0 for s in steps)
    known = first["series"].get("charts/mean_reward")
    if known:  # what the stream brought comes after what the index held, or repeats its end
        assert steps[0] >= known["steps"][-1]
    server.request("POST", f"/api/runs/{run_id}/cancel")
    server.wait_for(run_id, ("cancelled",), timeout=30)
    ended = urllib.request.Request(server.base + f"/api/runs/{run_id}/stream",
                                   headers={"authorization": f"Bearer {TOKEN}"})  # fmt: skip
    with urllib.request.urlopen(ended, timeout=30) as stream:
        text = stream.read().decode()
    assert "event: end" in text and '"status":"cancelled"' in text
    assert server.get("/api/runs/NOSUCHRUN/stream")[0] == 404
    assert server.get(f"/api/runs/{run_id}/stream?offset=-1")[0] == 422


def _routes() -> Iterator[tuple[str, str]]:
    app = create_app(home=None, token=TOKEN)
    for route in app.routes:
        path = getattr(route, "path", "")
        if path.startswith("/api"):
            for method in sorted(getattr(route, "methods", None) or ()):
                if method != "HEAD":
                    yield path.replace("{path:path}", "{path}"), method.lower()


def test_the_openapi_document_describes_every_route(
    home: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOSAIC_HOME", str(home))
    documented = {(p, m) for p, ops in document()["paths"].items() for m in ops}
    assert set(_routes()) == documented
    for path, ops in document()["paths"].items():
        for method, op in ops.items():
            assert op["summary"] and "401" in op["responses"], (path, method)

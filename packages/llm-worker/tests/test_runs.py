"""Whole runs through ``mosaic run`` against the scripted server: records, metrics, secrets,
invalid replies, resuming."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

from .conftest import mosaic, read_jsonl, run_llm
from .scripted_server import ScriptedServer

KEY = "sk-test-7f3a9c-NEVER-WRITE-ME"


def base(server: ScriptedServer, *more: str) -> list[str]:
    return [f"base_url={server.url}", "model=scripted", "backoff=0.01", *more]


def all_text(root: pathlib.Path) -> str:
    """Every byte under ``root`` (run directories, logs, the database), as text."""
    out = []
    for path in root.rglob("*"):
        if path.is_file():
            out.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(out)


def test_a_run_records_every_step_and_episode_and_emits_metrics(
    mosaic_home: pathlib.Path, server: ScriptedServer
) -> None:
    code, result, stderr = run_llm(*base(server, "env_id=FrozenLake-v1", "episodes=2",
                                         "max_episode_steps=4", "seed=3"))  # fmt: skip
    assert code == 0, stderr
    run_dir = pathlib.Path(result["run_dir"])
    episodes = read_jsonl(run_dir / "episodes.jsonl")
    assert [(e["episode"], e["seed"]) for e in episodes] == [(0, 3), (1, 4)]
    for episode in episodes:
        assert episode["length"] == 4 and episode["ended_by"] == "max_episode_steps"
        assert episode["model_calls"] == 4 and episode["invalid_actions"] == 0
        assert episode["prompt_tokens"] > 0 and episode["mean_latency_s"] > 0
    steps = read_jsonl(run_dir / "steps.jsonl")
    assert len(steps) == 8
    first = steps[0]
    assert first["observation"].startswith("Map, top row first")
    assert first["reply"] == '{"action": "left"}' and first["action"] == "left"
    assert first["valid"] and first["reward"] == 0.0 and first["form"] == "json_object"
    summary = result["summary"]
    assert summary["format_fallbacks"] == 1 and summary["action_formats"] == {
        "FrozenLake-v1": "json_object"
    }
    events = read_jsonl(run_dir / "events.jsonl")
    metrics = [e["payload"] for e in events if e["event"] == "metrics"]
    assert [m["step"] for m in metrics] == [4, 8]
    assert metrics[-1]["values"]["charts/episodic_length"] == 4
    assert metrics[-1]["values"]["llm/format_fallbacks_total"] == 1
    manifest = json.loads((run_dir / "analytics.json").read_text())
    assert manifest["worker_type"] == "llm"
    assert manifest["metadata"]["records"] == {"steps": "steps.jsonl", "episodes": "episodes.jsonl"}


def test_retries_are_counted_in_telemetry(mosaic_home: pathlib.Path) -> None:
    with ScriptedServer(faults=["500", "429", ("slow", 2.0), "malformed"]) as server:
        sets = base(server, "env_id=FrozenLake-v1", "episodes=1", "max_episode_steps=2")
        code, result, stderr = run_llm(
            *sets, "timeout=0.5", "max_retries=4", "action_format=json_object"
        )
    assert code == 0, stderr
    summary = result["summary"]
    assert summary["retries"] == 4
    assert summary["retry_reasons"] == {"5xx": 1, "429": 1, "timeout": 1, "malformed": 1}
    values = result["final_metrics"]
    assert values["llm/retries_total"] == 4 and values["llm/retries_timeout_total"] == 1
    assert "retry 1 of 4" in (pathlib.Path(result["run_dir"]) / "stderr.log").read_text()


def test_the_api_key_reaches_the_server_and_is_written_nowhere(
    mosaic_home: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOSAIC_TEST_LLM_KEY", KEY)
    with ScriptedServer() as server:
        code, result, stderr = run_llm(*base(server, "env_id=FrozenLake-v1", "episodes=1",
                                             "max_episode_steps=2",
                                             "api_key_env=MOSAIC_TEST_LLM_KEY"))  # fmt: skip
        assert code == 0, stderr
        assert {r["headers"]["Authorization"] for r in server.requests} == {f"Bearer {KEY}"}
        # A service that quotes the key back in an error: the failure is recorded, the key not.
        server.faults.append("echo_auth")
        code, failed, stderr = run_llm(*base(server, "env_id=FrozenLake-v1", "episodes=1",
                                             "action_format=json_object",
                                             "api_key_env=MOSAIC_TEST_LLM_KEY"))  # fmt: skip
    assert code == 1 and "HTTP 400" in failed["reason"]
    worker_stderr = (pathlib.Path(failed["run_dir"]) / "stderr.log").read_text()
    assert "bad request with Bearer ***" in worker_stderr
    assert KEY not in stderr + worker_stderr + json.dumps(result) + json.dumps(failed)
    assert KEY not in all_text(mosaic_home)
    config = json.loads((pathlib.Path(result["run_dir"]) / "config.json").read_text())
    assert config["api_key_env"] == "MOSAIC_TEST_LLM_KEY"


def test_a_missing_key_variable_fails_the_run_with_its_name(mosaic_home: pathlib.Path) -> None:
    with ScriptedServer() as server:
        code, result, _ = run_llm(*base(server, "api_key_env=MOSAIC_TEST_NO_SUCH_VAR"))
    assert code == 1 and "MOSAIC_TEST_NO_SUCH_VAR" in result["reason"]


def test_an_invalid_reply_ends_the_episode_by_default_and_is_recorded(
    mosaic_home: pathlib.Path,
) -> None:
    faults = [("text", "I refuse"), ("text", "still no")]
    with ScriptedServer(faults=faults) as server:
        code, result, stderr = run_llm(*base(server, "env_id=FrozenLake-v1", "episodes=2",
                                             "max_episode_steps=3", "action_format=text",
                                             "invalid_retries=1"))  # fmt: skip
    assert code == 0, stderr
    run_dir = pathlib.Path(result["run_dir"])
    first, second = read_jsonl(run_dir / "episodes.jsonl")
    assert first["ended_by"] == "invalid" and first["length"] == 0
    assert first["invalid_actions"] == 2 and not first["success"]
    assert second["ended_by"] == "max_episode_steps" and second["invalid_actions"] == 0
    bad = [s for s in read_jsonl(run_dir / "steps.jsonl") if not s["valid"]]
    assert [s["reply"] for s in bad] == ["I refuse", "still no"]
    assert all(s["action"] is None and s["reward"] is None for s in bad)
    assert result["summary"]["invalid_actions"] == 2


def test_on_invalid_random_takes_a_random_action_marked_as_random(
    mosaic_home: pathlib.Path,
) -> None:
    with ScriptedServer(faults=[("text", "no idea")]) as server:
        code, result, stderr = run_llm(*base(server, "env_id=FrozenLake-v1", "episodes=1",
                                             "max_episode_steps=2", "action_format=text",
                                             "invalid_retries=0", "on_invalid=random"))  # fmt: skip
    assert code == 0, stderr
    steps = read_jsonl(pathlib.Path(result["run_dir"]) / "steps.jsonl")
    assert steps[0]["source"] == "random" and not steps[0]["valid"] and steps[0]["action"]
    assert steps[1]["source"] == "model" and steps[1]["valid"]
    (episode,) = read_jsonl(pathlib.Path(result["run_dir"]) / "episodes.jsonl")
    assert episode["random_actions"] == 1 and episode["invalid_actions"] == 1


def test_a_rerun_of_the_same_run_skips_finished_episodes(mosaic_home: pathlib.Path) -> None:
    # Episode 0 finishes; episode 1 dies on a server that keeps failing.
    faults = [None, None, None, "503", "503"]
    with ScriptedServer(faults=faults) as server:
        code, result, _ = run_llm(*base(server, "env_id=FrozenLake-v1", "episodes=2",
                                        "max_episode_steps=3", "max_retries=1",
                                        "action_format=json_object"))  # fmt: skip
        assert code == 1
        run_dir = pathlib.Path(result["run_dir"])
        assert [e["episode"] for e in read_jsonl(run_dir / "episodes.jsonl")] == [0]
        before = len(server.requests)
        # The same run again: the supervisor's own command, in the same run directory.
        launch = json.loads((run_dir / "launch.json").read_text())
        env = {**os.environ, "MOSAIC_RUN_DIR": str(run_dir), "MOSAIC_RUN_ID": result["run_id"]}
        env.pop("MOSAIC_TELEMETRY_FD", None)
        done = subprocess.run([sys.executable, *launch["command"][1:]], env=env,
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "resuming: 1 finished episode(s) kept and skipped" in done.stderr
        assert len(server.requests) - before == 3  # only episode 1's three steps
    episodes = read_jsonl(run_dir / "episodes.jsonl")
    assert [e["episode"] for e in episodes] == [0, 1]
    steps = read_jsonl(run_dir / "steps.jsonl")
    assert [(s["episode"], s["step"]) for s in steps] == [
        (0, 0),
        (0, 1),
        (0, 2),
        (1, 0),
        (1, 1),
        (1, 2),
    ]
    completed = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert completed[-1]["event"] == "run_completed"
    assert completed[-1]["payload"]["resumed_episodes"] == 1


def test_resume_from_an_earlier_run_keeps_its_episodes(mosaic_home: pathlib.Path) -> None:
    with ScriptedServer() as server:
        sets = base(server, "env_id=FrozenLake-v1", "max_episode_steps=2", "seed=7")
        code, first, _ = run_llm(*sets, "episodes=1")
        assert code == 0
        code, second, stderr = run_llm(*sets, "episodes=3", f"resume_from={first['run_id']}")
        assert code == 0, stderr
    summary = second["summary"]
    assert summary["resumed_episodes"] == 1 and summary["episodes"] == 3
    episodes = read_jsonl(pathlib.Path(second["run_dir"]) / "episodes.jsonl")
    assert [(e["episode"], e["seed"]) for e in episodes] == [(0, 7), (1, 8), (2, 9)]


def test_several_tasks_each_get_their_episodes_within_the_step_budget(
    mosaic_home: pathlib.Path,
) -> None:
    with ScriptedServer() as server:
        code, result, stderr = run_llm(*base(server, "env_id=FrozenLake-v1",
                                             'tasks=["CliffWalking-v1", "Taxi-v3"]', "episodes=2",
                                             "max_episode_steps=3", "total_steps=14"))  # fmt: skip
    assert code == 0, stderr
    tasks = result["summary"]["tasks"]
    played = [tasks[t]["episodes"] for t in ("FrozenLake-v1", "CliffWalking-v1", "Taxi-v3")]
    assert played == [2, 2, 1]
    assert result["summary"]["env_steps"] == 14
    assert "Taxi-v3/episodic_return" in result["final_metrics"]


def test_an_unknown_environment_fails_the_run_clearly(
    mosaic_home: pathlib.Path, server: ScriptedServer
) -> None:
    code, result, _ = run_llm(*base(server, "env_id=FrozenLak-v1"))
    assert code != 0 and "FrozenLake-v1" in result["reason"]


def test_a_cancelled_run_keeps_its_records_and_says_what_it_finished(
    mosaic_home: pathlib.Path,
) -> None:
    """Nothing is trained, so nothing is checkpointed: what a stopped run keeps is its records,
    its manifest (written from the start) and a run_cancelled that sums up its episodes."""
    with ScriptedServer(delay=0.05) as server:
        runner = subprocess.Popen(
            [sys.executable, "-m", "mosaic_core", "run", "llm", "--json",
             *[a for s in base(server, "env_id=FrozenLake-v1", "episodes=1000",
                               "max_episode_steps=3") for a in ("--set", s)]],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ),
        )  # fmt: skip
        runs = mosaic_home / "runs"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            done = list(runs.glob("*/episodes.jsonl")) if runs.exists() else []
            if done and len(read_jsonl(done[0])) >= 2:
                break
            time.sleep(0.1)
        else:
            runner.kill()
            pytest.fail("the run never finished two episodes")
        runner.send_signal(signal.SIGINT)
        out, err = runner.communicate(timeout=60)
    assert runner.returncode == 130, err
    result = json.loads(out)
    run_dir = pathlib.Path(result["run_dir"])
    finished = read_jsonl(run_dir / "episodes.jsonl")
    summary = result["summary"]
    assert summary["reason"] == "received SIGTERM" and summary["episodes"] == len(finished) >= 2
    manifest = json.loads((run_dir / "analytics.json").read_text())
    assert manifest["metadata"]["summary"]["episodes"] == len(finished)
    assert manifest["metadata"]["env_id"] == "FrozenLake-v1"
    assert manifest["artifacts"]["checkpoints"] is None


def test_checkpoint_every_is_refused_the_llm_keeps_no_checkpoint(mosaic_home: pathlib.Path) -> None:
    done = mosaic("run", "llm", "--set", "model=scripted", "--set", "checkpoint_every=10")
    assert done.returncode == 2
    assert (
        "config field 'checkpoint_every': got 10 (int); expected null: the llm worker trains "
        "nothing and keeps no checkpoint"
    ) in done.stderr
    assert "Traceback" not in done.stderr
    assert not list((mosaic_home / "runs").glob("*"))  # refused before any run was made

"""The supervisor with real worker processes that misbehave on purpose."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from mosaic_core.runs import RunStore

from .conftest import Mosaic, survivors


def events_on_disk(store: RunStore, run_id: str) -> list[dict]:
    path = store.run_dir(run_id) / "events.jsonl"
    out = []
    for line in path.read_bytes().splitlines():
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict) and "seq" in obj:
            out.append(obj)
    return out


def test_completed_run_is_on_disk_and_in_the_database(mosaic: Mosaic, store: RunStore) -> None:
    code, result = mosaic.run_json("--set", "total_steps=30", "--set", "seed=7")
    assert code == 0, result
    assert result["status"] == "completed"
    assert result["final_metrics"]["charts/episodic_return"] == 29.0
    run = store.get(result["run_id"])
    assert run["status"] == "completed" and run["exit_code"] == 0 and run["seed"] == 7
    events = events_on_disk(store, run["run_id"])
    assert [e["seq"] for e in events] == list(range(len(events)))
    assert events[0]["event"] == "run_started" and events[-1]["event"] == "run_completed"
    assert len(store.events(run["run_id"])) == len(events) == run["events"]
    assert len(store.metrics(run["run_id"], key="charts/episodic_return")) == 30
    assert (store.run_dir(run["run_id"]) / "config.json").exists()
    assert (
        json.loads((store.run_dir(run["run_id"]) / "run.json").read_text())["status"] == "completed"
    )


def test_secrets_are_redacted_on_disk_but_reach_the_worker(mosaic: Mosaic, store: RunStore) -> None:
    code, result = mosaic.run_json("--set", "api_key=hunter2-secret", "--set", "total_steps=3")
    assert code == 0
    assert result["summary"]["secret_seen"] is True
    run_dir = store.run_dir(result["run_id"])
    assert json.loads((run_dir / "config.json").read_text())["api_key"] == "***"
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert b"hunter2-secret" not in path.read_bytes(), path
    assert b"hunter2-secret" not in store.db_path.read_bytes()


def test_worker_killed_by_sigkill_is_failed_with_the_signal(
    mosaic: Mosaic, store: RunStore
) -> None:
    code, result = mosaic.run_json("--set", "behavior=sigkill", "--set", "total_steps=10")
    assert code == 1
    assert result["status"] == "failed" and result["signal"] == "SIGKILL"
    assert "without a terminal event" in result["reason"]
    run = store.get(result["run_id"])
    assert run["events"] >= 2  # what it wrote before dying is kept


def test_segfault_is_failed_with_sigsegv(mosaic: Mosaic) -> None:
    code, result = mosaic.run_json("--set", "behavior=segfault", "--set", "total_steps=10")
    assert code == 1
    assert result["status"] == "failed" and result["signal"] == "SIGSEGV"


def test_exception_in_worker_is_failed_with_its_error(mosaic: Mosaic, store: RunStore) -> None:
    code, result = mosaic.run_json("--set", "behavior=fail")
    assert code == 1 and result["status"] == "failed" and result["exit_code"] == 1
    assert "RuntimeError: the fixture failed on purpose" in result["reason"]
    last = store.events(result["run_id"])[-1]
    assert last["event"] == "run_failed" and "Traceback" in last["payload"]["traceback"]


def test_exit_without_terminal_event_records_exit_code(mosaic: Mosaic) -> None:
    code, result = mosaic.run_json("--set", "behavior=no_terminal")
    assert code == 1
    assert result["status"] == "failed" and result["exit_code"] == 3
    assert result["reason"] == "worker exited without a terminal event (exit code 3)"


def test_silent_worker_is_killed_after_heartbeat_timeout(mosaic: Mosaic, store: RunStore) -> None:
    started = time.monotonic()
    code, result = mosaic.run_json("--set", "behavior=hang", "--heartbeat-timeout", "1.5")
    assert time.monotonic() - started < 30
    assert code == 1 and result["status"] == "failed" and result["reason"] == "heartbeat_timeout"
    assert not survivors(store.get(result["run_id"]))


def test_wall_clock_timeout_fails_the_run(mosaic: Mosaic) -> None:
    code, result = mosaic.run_json(
        "--set", "total_steps=10000", "--set", "step_sleep=0.01", "--timeout", "1"
    )
    assert code == 1 and result["reason"] == "timeout"


def test_garbage_on_the_channel_is_recorded_and_the_run_completes(
    mosaic: Mosaic, store: RunStore
) -> None:
    code, result = mosaic.run_json("--set", "behavior=garbage", "--set", "total_steps=5")
    assert code == 0 and result["status"] == "completed"
    kinds = {a["kind"] for a in store.anomalies(result["run_id"])}
    assert {"invalid_utf8", "line_too_long", "bad_envelope"} <= kinds
    seqs = [e["seq"] for e in store.events(result["run_id"])]
    assert seqs == list(range(len(seqs)))


def test_cancel_kills_grandchildren_that_ignore_sigterm(mosaic: Mosaic, store: RunStore) -> None:
    runner = mosaic.popen("run", "fixture", "--json", "--set", "behavior=grandchild")
    run_id = _wait_for_file(store, "grandchild.pid")
    grandchild = int((store.run_dir(run_id) / "grandchild.pid").read_text())
    done = mosaic("cancel", run_id, "--grace", "1")
    assert done.returncode == 0, done.stderr
    _, err = runner.communicate(timeout=60)
    assert runner.returncode == 130, err
    run = store.get(run_id)
    assert run["status"] == "cancelled"
    assert not survivors(run)
    assert not os.path.exists(f"/proc/{grandchild}") or _is_zombie(grandchild)


def test_ctrl_c_cancels_the_run_cleanly(mosaic: Mosaic, store: RunStore) -> None:
    runner = mosaic.popen(
        "run", "fixture", "--set", "total_steps=100000", "--set", "step_sleep=0.01"
    )
    run_id = _wait_for_status(store, "running")
    _wait_for_events(store, run_id)  # past start-up: the worker's SIGTERM handler is in place
    runner.send_signal(signal.SIGINT)
    runner.communicate(timeout=60)
    assert runner.returncode == 130
    run = store.get(run_id)
    assert run["status"] == "cancelled"
    assert store.events(run_id)[-1]["event"] == "run_cancelled"
    assert not survivors(run)


def test_cancel_during_startup(mosaic: Mosaic, store: RunStore) -> None:
    runner = mosaic.popen("run", "fixture", "--set", "behavior=slow_start")
    run_id = _wait_for_status(store, "running")
    assert mosaic("cancel", run_id, "--grace", "2").returncode == 0
    runner.communicate(timeout=60)
    assert store.get(run_id)["status"] == "cancelled"
    assert not survivors(store.get(run_id))


def test_bad_config_exits_2_and_creates_nothing(mosaic: Mosaic, store: RunStore) -> None:
    done = mosaic("run", "fixture", "--set", "total_step=5")
    assert done.returncode == 2
    assert (
        "unknown config key 'total_step'" in done.stderr
        and "did you mean 'total_steps'" in done.stderr
    )
    assert "Traceback" not in done.stderr
    done = mosaic("run", "fixture", "--set", "behavior=explode")
    assert done.returncode == 2 and "behavior" in done.stderr
    assert store.list_runs() == []


def test_malformed_config_file_exits_2(mosaic: Mosaic, tmp_path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"total_steps": 5,')
    done = mosaic("run", "fixture", "--config", str(bad))
    assert done.returncode == 2 and "malformed JSON" in done.stderr


def test_nested_config_file_is_accepted(mosaic: Mosaic, tmp_path) -> None:
    path = tmp_path / "nested.json"
    path.write_text(json.dumps({"metadata": {"worker": {"config": {"total_steps": 4}}}}))
    code, result = mosaic.run_json("--config", str(path))
    assert code == 0 and result["final_metrics"]["charts/episodic_return"] == 3.0


def test_unknown_worker_is_a_clear_error(mosaic: Mosaic) -> None:
    done = mosaic("run", "fixtur")
    assert done.returncode != 0 and "did you mean 'fixture'" in done.stderr


def test_seeds_run_concurrently_and_flood_does_not_hurt_neighbours(
    mosaic: Mosaic, store: RunStore
) -> None:
    done = mosaic("run", "fixture", "--json", "--seeds", "1,2,3", "--parallel", "3",
                  "--set", "total_steps=20000")  # fmt: skip
    assert done.returncode == 0, done.stderr
    runs = json.loads(done.stdout)["runs"]
    assert [r["status"] for r in runs] == ["completed"] * 3
    for r in runs:
        run = store.get(r["run_id"])
        assert run["events"] == run["next_seq"]
        assert len(store.metrics(r["run_id"], key="charts/episodic_return")) == 20000
        assert store.anomalies(r["run_id"]) == []


def test_sixteen_concurrent_runs_with_crashes_among_them(home, store: RunStore) -> None:
    from mosaic_core.plugins import discover_workers
    from mosaic_core.runs import Supervisor, prepare_runs

    spec = discover_workers().runnable("fixture")
    behaviors = ["ok", "sigkill", "fail", "ok"] * 4
    supervisor = Supervisor(store, parallel=16)
    prepared = []
    for index, behavior in enumerate(behaviors):
        prepared += prepare_runs(
            store, "fixture", spec,
            {"behavior": behavior, "total_steps": 200, "seed": index},
        )  # fmt: skip
    for run in prepared:
        supervisor.submit(run.launch)
    results = supervisor.wait()
    expected = {"ok": "completed", "sigkill": "failed", "fail": "failed"}
    for run, behavior in zip(prepared, behaviors, strict=True):
        assert results[run.run_id].status == expected[behavior], (behavior, results[run.run_id])
        row = store.get(run.run_id)
        if behavior == "ok":
            assert row["events"] == row["next_seq"] >= 202
        assert not survivors(row)


def test_killed_supervisor_is_reconciled_without_losing_telemetry(
    mosaic: Mosaic, store: RunStore
) -> None:
    runner = mosaic.popen("run", "fixture", "--set", "total_steps=150", "--set", "step_sleep=0.02")
    run_id = _wait_for_status(store, "running")
    time.sleep(0.5)
    runner.kill()  # kill -9 of the supervisor, mid-run
    runner.wait()
    listing = mosaic("runs", "--json", check=True)
    row = next(r for r in json.loads(listing.stdout) if r["run_id"] == run_id)
    assert row["status"] == "running" and row["reason"] == "supervisor_lost"  # worker still alive
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        row = next(r for r in json.loads(mosaic("runs", "--json").stdout) if r["run_id"] == run_id)
        if row["status"] != "running":
            break
        time.sleep(0.3)
    assert row["status"] == "completed" and row["reason"] == "supervisor_lost"
    seqs = [e["seq"] for e in store.events(run_id)]
    assert seqs == list(range(len(seqs)))
    on_disk = events_on_disk(store, run_id)
    assert len(on_disk) == len(seqs) and on_disk[-1]["event"] == "run_completed"
    assert len(store.metrics(run_id, key="charts/episodic_return")) == 150


def test_killed_supervisor_and_worker_is_failed_supervisor_lost(
    mosaic: Mosaic, store: RunStore
) -> None:
    runner = mosaic.popen(
        "run", "fixture", "--set", "total_steps=100000", "--set", "step_sleep=0.01"
    )
    run_id = _wait_for_status(store, "running")
    _wait_for_events(store, run_id)
    runner.kill()
    runner.wait()
    os.killpg(store.get(run_id)["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the kernel may take a moment to tear it down
        mosaic("runs", check=True)
        row = store.get(run_id)
        if row["status"] != "running":
            break
        time.sleep(0.2)
    assert row["status"] == "failed" and row["reason"] == "supervisor_lost"
    assert row["events"] > 1


def test_two_supervisors_share_one_home(mosaic: Mosaic, store: RunStore) -> None:
    runners = [
        mosaic.popen("run", "fixture", "--json", "--set", "total_steps=3000", "--set", f"seed={i}")
        for i in range(3)
    ]
    outs = [r.communicate(timeout=120) for r in runners]
    assert [r.returncode for r in runners] == [0, 0, 0], outs
    assert len(store.list_runs(status="completed")) == 3


def test_db_rebuild_restores_the_index_from_run_directories(
    mosaic: Mosaic, store: RunStore
) -> None:
    _, ok = mosaic.run_json("--set", "total_steps=12")
    mosaic.run_json("--set", "behavior=sigkill")
    before = {r["run_id"]: (r["status"], r["events"], r["reason"]) for r in store.list_runs()}
    store.db_path.unlink()
    for suffix in ("-wal", "-shm"):
        path = store.db_path.with_name(store.db_path.name + suffix)
        if path.exists():
            path.unlink()
    assert mosaic("db", "rebuild").returncode == 0
    with RunStore(store.home) as fresh:
        after = {r["run_id"]: (r["status"], r["events"], r["reason"]) for r in fresh.list_runs()}
        assert after == before
        assert json.loads(fresh.get(ok["run_id"])["summary"])["steps"] == 12
        assert len(fresh.metrics(ok["run_id"])) == 2 * 12


def test_show_logs_events_metrics_rm(mosaic: Mosaic, store: RunStore) -> None:
    _, result = mosaic.run_json("--set", "total_steps=5")
    run_id = result["run_id"]
    shown = json.loads(mosaic("show", run_id[:12], "--json", check=True).stdout)
    assert (
        shown["status"] == "completed" and shown["final_metrics"]["charts/episodic_return"] == 4.0
    )
    events = mosaic("events", run_id, check=True).stdout.splitlines()
    assert json.loads(events[0])["event"] == "run_started"
    csv_rows = mosaic(
        "metrics", run_id, "--key", "charts/episodic_return", "--csv", check=True
    ).stdout
    assert (
        csv_rows.splitlines()[0] == "run_id,step,key,value,timestamp"
        and len(csv_rows.splitlines()) == 6
    )
    missing = mosaic("metrics", run_id, "--key", "charts/episodic_retrun")
    assert missing.returncode == 2 and "did you mean 'charts/episodic_return'" in missing.stderr
    assert mosaic("logs", run_id).returncode == 0
    assert mosaic("show", "nonexistent").returncode == 1
    assert mosaic("rm", run_id).returncode == 0
    assert not store.run_dir(run_id).exists()
    assert store.list_runs() == []


def _wait_for_status(store: RunStore, status: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = store.list_runs(status=status)
        if runs:
            return str(runs[0]["run_id"])
        time.sleep(0.05)
    raise AssertionError(f"no run reached {status!r}")


def _wait_for_events(store: RunStore, run_id: str, count: int = 2, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if store.get(run_id)["events"] >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} emitted fewer than {count} events")


def _wait_for_file(store: RunStore, name: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for run in store.list_runs():
            path = store.run_dir(run["run_id"]) / name
            if path.exists() and path.read_text().strip():
                return str(run["run_id"])
        time.sleep(0.05)
    raise AssertionError(f"no run wrote {name}")


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


pytestmark = pytest.mark.skipif(not os.path.isdir("/proc"), reason="these tests read /proc")


def test_logs_follow_waits_for_a_run_whose_logs_do_not_exist_yet(store: RunStore) -> None:
    # A run just launched with --detach has no stdout.log until its worker starts: following
    # it must wait for the file, not fail, and print all that was written before its end.
    run_dir = store.create_run("01FOLLOWAAAAAAAAAAAAAAAAAA", "fixture", {})
    assert store.get("01FOLLOW")["status"] == "pending"  # as a supervisor starting it leaves it
    follow = subprocess.Popen(
        [sys.executable, "-m", "mosaic_core", "logs", "01FOLLOW", "--follow"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ),
    )  # fmt: skip
    try:
        time.sleep(1.0)
        assert follow.poll() is None, follow.communicate()  # still waiting, no ENOENT
        (run_dir / "stdout.log").write_text("first line\n")
        time.sleep(0.5)
        with open(run_dir / "stdout.log", "a") as log:
            log.write("last line\n")
        store.update("01FOLLOWAAAAAAAAAAAAAAAAAA", status="completed", ended_at=time.time())
        out, err = follow.communicate(timeout=30)
    finally:
        if follow.poll() is None:
            follow.kill()
            follow.wait()
    assert follow.returncode == 0, err
    assert "first line\nlast line\n" in out


def test_detached_run_finishes_without_its_terminal(mosaic: Mosaic, store: RunStore) -> None:
    done = mosaic("run", "fixture", "--detach", "--json", "--set", "total_steps=40",
                  "--set", "step_sleep=0.02", "--set", "api_key=detached-secret")  # fmt: skip
    assert done.returncode == 0, done.stderr
    run_id = json.loads(done.stdout)["run_id"]
    follow = mosaic("logs", run_id, "--follow", timeout=60)  # returns once the run has ended
    assert follow.returncode == 0
    run = store.get(run_id)
    assert run["status"] == "completed", run
    assert run["supervisor_pid"] != os.getpid()
    summary = json.loads(run["summary"])
    assert summary["secret_seen"] is True  # the secret reached the worker, never the disk
    for path in store.run_dir(run_id).rglob("*"):
        if path.is_file():
            assert b"detached-secret" not in path.read_bytes(), path
    assert len(store.metrics(run_id, key="charts/episodic_return")) == 40

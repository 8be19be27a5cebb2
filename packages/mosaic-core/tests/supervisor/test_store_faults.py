"""The store under real faults: rebuilds racing live runs, unreadable run directories,
numbers the index cannot hold, a garbage or truncated mosaic.db, a read-only home, a full
disk. Each ends in a clear line or the documented behaviour, with nothing lost."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from faultkit import needs_namespaces, python, run_on_tmpfs, run_read_only

from mosaic_core.runs import RunStore
from mosaic_core.runs.database import StoreDamaged, StoreReadOnly

from .conftest import Mosaic


def lines_on_disk(store: RunStore, run_id: str) -> list[dict]:
    """The complete telemetry lines of a run's events.jsonl."""
    data = (store.run_dir(run_id) / "events.jsonl").read_bytes()
    complete = data[: data.rfind(b"\n") + 1]
    out = []
    for line in complete.splitlines():
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict) and type(obj.get("seq")) is int and obj["seq"] < 2**63 - 1:
            out.append(obj)
    return out


def assert_index_matches_disk(store: RunStore, run_id: str) -> None:
    duplicates = store._db.execute(
        "SELECT seq, COUNT(*) FROM events WHERE run_id = ? GROUP BY seq HAVING COUNT(*) > 1",
        (run_id,),
    ).fetchall()
    assert duplicates == [], f"run {run_id}: seqs indexed twice: {duplicates[:5]}"
    indexed = [e["seq"] for e in store.events(run_id)]
    on_disk = [e["seq"] for e in lines_on_disk(store, run_id)]
    assert indexed == on_disk == list(range(len(on_disk)))
    assert store.get(run_id)["events"] == len(on_disk)


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in done.stderr, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("mosaic: error:")]
    assert len(errors) == 1, done.stderr
    return errors[0]


# -- rebuilds beside live runs -------------------------------------------------------


def test_concurrent_rebuilds_while_sixteen_runs_go_on(mosaic: Mosaic, store: RunStore) -> None:
    runners = [
        mosaic.popen(
            "run", "fixture", "--json", "--seeds", ",".join(str(4 * i + k) for k in range(1, 5)),
            "--parallel", "4", "--set", "total_steps=300", "--set", "step_sleep=0.01",
        )
        for i in range(4)
    ]  # fmt: skip
    deadline = time.monotonic() + 60
    while len(store.list_runs(status="running")) < 8 and time.monotonic() < deadline:
        time.sleep(0.1)
    rebuilds = []
    for _ in range(2):  # two waves of three rebuilds at once, while the runs go on
        wave = [mosaic.popen("db", "rebuild") for _ in range(3)]
        rebuilds += [(r, *r.communicate(timeout=300)) for r in wave]
    for rebuild, _out, err in rebuilds:
        assert rebuild.returncode == 0 and "Traceback" not in err, err
    results = []
    for runner in runners:
        out, err = runner.communicate(timeout=300)
        assert runner.returncode == 0, err
        assert "no run" not in err and "Traceback" not in err, err
        results += json.loads(out)["runs"]
    assert len(results) == 16 and {r["status"] for r in results} == {"completed"}
    assert mosaic("db", "rebuild").returncode == 0  # and once more with all of them ended
    with RunStore(store.home) as fresh:
        for result in results:
            assert_index_matches_disk(fresh, result["run_id"])
            assert len(fresh.metrics(result["run_id"], key="charts/episodic_return")) == 300


def test_rebuild_skips_run_directories_it_cannot_read_and_indexes_the_rest(
    mosaic: Mosaic, store: RunStore
) -> None:
    ids = [mosaic.run_json("--set", "total_steps=4", "--set", f"seed={i}")[1]["run_id"]
           for i in range(5)]  # fmt: skip
    # Real damage: a file where a directory's events should be, bytes that are not
    # UTF-8, a number no index can hold, a stray directory that is no run at all.
    events = store.run_dir(ids[1]) / "events.jsonl"
    events.unlink()
    events.mkdir()
    (store.run_dir(ids[2]) / "run.json").write_bytes(b"\xff\xfe not json")
    record = json.loads((store.run_dir(ids[3]) / "run.json").read_text())
    record["worker_type"] = None
    (store.run_dir(ids[3]) / "run.json").write_text(json.dumps(record))
    (store.runs_dir / "notes").mkdir()
    if os.geteuid() != 0:  # where permissions bind, an unreadable file too
        (store.run_dir(ids[4]) / "run.json").chmod(0)
    _checkpointed(store)
    store.db_path.unlink()  # the index is lost: all it knows comes from the directories
    done = mosaic("db", "rebuild")
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    skipped = {line.split()[2].rstrip(":") for line in done.stderr.splitlines()
               if line.startswith("mosaic: skipped")}  # fmt: skip
    assert {f"runs/{ids[1]}", f"runs/{ids[2]}", f"runs/{ids[3]}", "runs/notes"} <= skipped
    with RunStore(store.home) as fresh:
        indexed = {r["run_id"] for r in fresh.list_runs()}
        assert ids[0] in indexed and not indexed & {ids[1], ids[2], ids[3]}
        assert fresh.get(ids[0])["status"] == "completed"
        assert_index_matches_disk(fresh, ids[0])


# -- numbers and text the index cannot hold -------------------------------------------


def test_numbers_beyond_64_bits_in_telemetry_are_anomalies_not_crashes(
    mosaic: Mosaic, store: RunStore
) -> None:
    done = mosaic("run", "fixture", "--json", "--seeds", "1,2", "--parallel", "2",
                  "--set", "behavior=huge_numbers", "--set", "total_steps=5")  # fmt: skip
    assert done.returncode == 0, done.stderr
    runs = json.loads(done.stdout)["runs"]
    assert [r["status"] for r in runs] == ["completed", "completed"]
    first = runs[0]["run_id"]
    for command in (["runs"], ["show", first], ["events", first], ["metrics", first],
                    ["db", "rebuild"], ["runs", "--json"]):  # fmt: skip
        after = mosaic(*command)
        assert after.returncode == 0 and "Traceback" not in after.stderr, (command, after.stderr)
    for run in runs:
        kinds = [a["kind"] for a in store.anomalies(run["run_id"])]
        assert "out_of_range" in kinds and "bad_envelope" in kinds, kinds
        assert_index_matches_disk(store, run["run_id"])
        values = {(m["step"], m["key"]): m["value"] for m in store.metrics(run["run_id"])}
        assert values[(1, "x")] is None  # beyond any float: null, like any non-number
        assert values[(1, "\\ud800")] == 1.0  # the key, escaped: SQLite holds no surrogate


# -- a damaged mosaic.db --------------------------------------------------------------


def _checkpointed(store: RunStore) -> None:
    store.close()
    with sqlite3.connect(store.db_path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_damaged_index_is_named_by_every_command_and_rebuild_makes_it_again(
    mosaic: Mosaic, store: RunStore, damage: str
) -> None:
    ids = [mosaic.run_json("--set", "total_steps=300", "--set", f"seed={i}")[1]["run_id"]
           for i in range(3)]  # fmt: skip
    _checkpointed(store)
    data = store.db_path.read_bytes()
    if damage == "garbage":
        store.db_path.write_bytes(os.urandom(len(data)))
    else:
        store.db_path.write_bytes(data[: len(data) // 3])
    for command in (["runs"], ["show", ids[0]], ["events", ids[0]], ["metrics", ids[0]]):
        done = mosaic(*command)
        if done.returncode != 0:  # a truncated file may still answer some questions
            assert "mosaic db rebuild" in one_line_error(done), command
    with pytest.raises(StoreDamaged) if damage == "garbage" else _maybe_damaged():
        RunStore(store.home).list_runs()
    done = mosaic("db", "rebuild")
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert "moved aside" in done.stderr
    assert list(store.home.glob("mosaic.db.damaged-*"))
    with RunStore(store.home) as fresh:
        assert {r["run_id"] for r in fresh.list_runs()} == set(ids)
        for run_id in ids:
            assert fresh.get(run_id)["status"] == "completed"
            assert_index_matches_disk(fresh, run_id)
    assert mosaic("runs").returncode == 0


class _maybe_damaged:
    """A truncated file may open and fail later, or not fail on a small query at all."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type | None, exc: BaseException | None, tb: object) -> bool:
        return kind is None or issubclass(kind, (StoreDamaged, sqlite3.DatabaseError))


# -- a read-only home -----------------------------------------------------------------


@needs_namespaces
def test_reading_commands_work_on_a_read_only_home_and_writing_ones_say_why_not(
    mosaic: Mosaic, store: RunStore
) -> None:
    _, result = mosaic.run_json("--set", "total_steps=6", "--set", "api_key=ro-secret-1234")
    run_id = result["run_id"]
    writable_show = json.loads(mosaic("show", run_id, "--json", check=True).stdout)
    store.close()
    here = [sys.executable, "-m", "mosaic_core"]
    for command in (["runs"], ["runs", "--json"], ["show", run_id, "--json"], ["events", run_id],
                    ["metrics", run_id, "--csv"], ["logs", run_id], ["workers"],
                    ["env", "list"]):  # fmt: skip
        done = run_read_only(store.home, [*here, *command])
        assert done.returncode == 0 and "Traceback" not in done.stderr, (command, done.stderr)
        if command[0] == "show":
            shown = json.loads(done.stdout)
            assert shown["status"] == "completed" and shown["events"] == writable_show["events"]
    events = run_read_only(store.home, [*here, "events", run_id]).stdout.splitlines()
    assert len(events) == writable_show["events"]
    writing = (["run", "fixture"], ["cancel", run_id], ["rm", run_id], ["db", "rebuild"],
               ["env", "create", "fixture"])  # fmt: skip
    for command in writing:
        done = run_read_only(store.home, [*here, *command])
        assert done.returncode == 1, (command, done.stderr)
        assert "read-only" in one_line_error(done), command
    with RunStore(store.home) as again:  # and nothing was harmed
        assert again.get(run_id)["status"] == "completed"


def test_read_only_store_refuses_writes_in_its_own_words(store: RunStore) -> None:
    store.create_run("r1", "fixture", {"seed": 1})
    store.close()
    with RunStore(store.home, readonly=True) as reader:
        assert reader.get("r1")["status"] == "pending"
        with pytest.raises(StoreReadOnly, match="read-only"):
            reader.update("r1", status="failed")


# -- a full disk ----------------------------------------------------------------------

_FULL_DISK = textwrap.dedent(
    """
    import json, os, subprocess, sys, time
    home, free_space_again = sys.argv[1], sys.argv[2] == "yes"
    os.environ["MOSAIC_HOME"] = home
    mosaic = [sys.executable, "-m", "mosaic_core"]
    runner = subprocess.Popen(
        [*mosaic, "run", "fixture", "--json", "--set", "total_steps=1000000",
         "--set", "step_sleep=0.001"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    runs = os.path.join(home, "runs")
    deadline = time.monotonic() + 60
    events = None
    while time.monotonic() < deadline:
        names = os.listdir(runs) if os.path.isdir(runs) else []
        if names:
            events = os.path.join(runs, names[0], "events.jsonl")
            if os.path.exists(events) and os.path.getsize(events) > 20000:
                break
        time.sleep(0.05)
    run_id = os.path.basename(os.path.dirname(events))
    pid = json.load(open(os.path.join(runs, run_id, "run.json")))["pid"]
    filler = os.open(os.path.join(home, "filler"), os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(filler, b"\\0" * 65536)
    except OSError:
        pass
    try:
        while True:
            os.write(filler, b"\\0" * 512)
    except OSError:
        pass
    os.close(filler)
    err_lines = []
    while True:  # until the supervisor says it stops every run, or exits
        line = runner.stderr.readline()
        if not line:
            break
        err_lines.append(line)
        if "stopping every run" in line:
            break
    if free_space_again:
        os.unlink(os.path.join(home, "filler"))
    out, err = runner.communicate(timeout=120)
    err = "".join(err_lines) + err
    if not free_space_again:
        os.unlink(os.path.join(home, "filler"))
    listing = subprocess.run([*mosaic, "runs", "--json"], capture_output=True, text=True)
    shown = subprocess.run([*mosaic, "show", run_id, "--json"], capture_output=True, text=True)
    data = open(events, "rb").read()
    complete = [json.loads(l) for l in data[: data.rfind(b"\\n") + 1].splitlines()]
    indexed = subprocess.run([*mosaic, "events", run_id], capture_output=True, text=True)
    print(json.dumps({
        "code": runner.returncode, "stdout": out, "stderr": err,
        "worker_alive": os.path.exists(f"/proc/{pid}") and
            open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z",
        "runs_code": listing.returncode, "runs_stderr": listing.stderr,
        "show": json.loads(shown.stdout) if shown.returncode == 0 else shown.stderr,
        "seqs": [e["seq"] for e in complete if "seq" in e],
        "indexed": len(indexed.stdout.splitlines()), "events_code": indexed.returncode,
        "marks_left": [n for n in os.listdir(os.path.join(runs, run_id)) if n.startswith(".end.")],
    }))
    """
)


@needs_namespaces
@pytest.mark.parametrize("space_comes_back", ["yes", "no"])
def test_a_full_disk_stops_the_run_records_why_and_keeps_every_complete_event(
    site: Path, tmp_path: Path, space_comes_back: str
) -> None:
    env = dict(os.environ, MOSAIC_TELEMETRY_RETRY_SECONDS="2")
    done = run_on_tmpfs(
        tmp_path / "home", "3m", [*python(_FULL_DISK), str(tmp_path / "home"), space_comes_back],
        env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert "Traceback" not in report["stderr"], report["stderr"]
    assert "is full" in report["stderr"]
    assert report["code"] == 1
    assert not report["worker_alive"], "the worker outlived its supervisor's stop"
    assert report["seqs"] == list(range(len(report["seqs"]))) and report["seqs"]
    assert report["runs_code"] == 0 and "Traceback" not in report["runs_stderr"]
    shown = report["show"]
    assert shown["status"] == "failed", shown
    if space_comes_back == "yes":  # recorded by the supervisor itself, once it could
        assert shown["reason"] == "disk_full", shown
        json.loads(report["stdout"])  # and its --json report is whole
    else:  # the supervisor gave up; the next command with space records what it left
        assert shown["reason"] == "disk_full", shown
        assert report["stderr"].strip().splitlines()[-1].startswith("mosaic: error: the disk")
        assert report["marks_left"] == []
    assert report["events_code"] == 0 and report["indexed"] == len(report["seqs"])


_FULL_AT_THE_END = textwrap.dedent(
    """
    import json, os, subprocess, sys, time
    home = sys.argv[1]
    os.environ["MOSAIC_HOME"] = home
    mosaic = [sys.executable, "-m", "mosaic_core"]
    runner = subprocess.Popen(
        [*mosaic, "run", "fixture", "--json", "--set", "behavior=wait_for_go"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    runs = os.path.join(home, "runs")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        names = os.listdir(runs) if os.path.isdir(runs) else []
        events = names and os.path.join(runs, names[0], "events.jsonl")
        if events and os.path.exists(events) and os.path.getsize(events) > 0:
            break
        time.sleep(0.05)
    run_id = names[0]
    filler = os.open(os.path.join(home, "filler"), os.O_WRONLY | os.O_CREAT)
    for size in (65536, 512, 1):
        try:
            while True:
                os.write(filler, b"\\0" * size)
        except OSError:
            pass
    open(os.path.join(runs, run_id, "go"), "w").close()  # empty: fits on a full disk
    out, err = runner.communicate(timeout=120)
    os.close(filler)
    os.unlink(os.path.join(home, "filler"))
    listing = subprocess.run([*mosaic, "runs", "--json"], capture_output=True, text=True)
    shown = subprocess.run([*mosaic, "show", run_id, "--json"], capture_output=True, text=True)
    print(json.dumps({"code": runner.returncode, "stderr": err, "runs": listing.returncode,
                      "show": json.loads(shown.stdout),
                      "marks": [n for n in os.listdir(os.path.join(runs, run_id))
                                if n.startswith(".end.")]}))
    """
)


@needs_namespaces
def test_a_disk_full_only_when_the_end_is_recorded_still_records_it_as_disk_full(
    site: Path, tmp_path: Path
) -> None:
    done = run_on_tmpfs(
        tmp_path / "home", "3m", [*python(_FULL_AT_THE_END), str(tmp_path / "home")]
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["code"] == 1 and "Traceback" not in report["stderr"], report["stderr"]
    assert "is full" in report["stderr"]
    assert report["runs"] == 0
    assert (report["show"]["status"], report["show"]["reason"]) == ("failed", "disk_full")
    assert report["marks"] == []  # recorded, and the mark it left is gone

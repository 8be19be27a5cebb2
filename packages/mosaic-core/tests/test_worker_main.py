"""``python -m mosaic_core.worker_main`` and ``run_worker(spec)``, as real worker processes."""

from __future__ import annotations

import json
import signal
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from mosaic_core import ConfigError
from mosaic_core._telemetry import TERMINAL_EVENTS
from mosaic_core._worker import parse_set
from mosaic_core.runs import TelemetryEvent, TelemetryReader

RUN_ID = "run-under-test"


@pytest.fixture
def config_file(tmp_path: Path) -> Any:
    def write(document: Any, name: str = "config.json") -> Path:
        path = tmp_path / name
        text = document if isinstance(document, str) else json.dumps(document)
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def start_worker(telemetry_child: Any, child_env: Any, plugin_dir: Path) -> Any:
    """Start ``python -m mosaic_core.worker_main ARGS`` with the toy plugin installed."""

    def start(*args: str, **env: str) -> Any:
        argv = [sys.executable, "-m", "mosaic_core.worker_main", *args]
        return telemetry_child(argv, child_env(plugin_dir, MOSAIC_RUN_ID=RUN_ID, **env))

    return start


def stream(raw: bytes) -> list[TelemetryEvent]:
    """The events of a finished run; the channel must hold nothing but a valid stream."""
    reader = TelemetryReader(expected_run_id=RUN_ID)
    items = reader.feed(raw) + reader.close()
    assert [i for i in items if not isinstance(i, TelemetryEvent)] == []
    events = [i for i in items if isinstance(i, TelemetryEvent)]
    assert [e.seq for e in events] == list(range(len(events)))
    assert sum(e.event in TERMINAL_EVENTS for e in events) == 1
    assert events[-1].is_terminal
    return events


# -- success ---------------------------------------------------------------------------


def test_worker_completes_with_run_started_first_and_one_terminal(
    start_worker: Any, config_file: Any
) -> None:
    done = start_worker("--worker", "toy", "--config", str(config_file({"seed": 7}))).finish()
    assert done.returncode == 0, done.stderr
    events = stream(done.telemetry)
    assert [e.event for e in events] == [
        "run_started",
        "metrics",
        "metrics",
        "metrics",
        "run_completed",
    ]
    started = events[0].payload
    assert started["worker_type"] == "toy"
    assert (started["algorithm"], started["env_id"], started["seed"]) == ("toy", "Toy-v0", 7)
    assert started["total_steps"] == 3
    assert events[-1].payload == {"steps": 3, "env_id": "Toy-v0"}
    assert done.stdout == "toy: training\n"
    assert done.stderr == ""


def test_worker_reads_a_nested_config(start_worker: Any, config_file: Any) -> None:
    path = config_file({"metadata": {"worker": {"type": "toy", "config": {"total_steps": 2}}}})
    done = start_worker("--worker", "toy", "--config", str(path)).finish()
    assert done.returncode == 0, done.stderr
    assert [e.event for e in stream(done.telemetry)].count("metrics") == 2


def test_set_overrides_config_fields(start_worker: Any, config_file: Any) -> None:
    done = start_worker(
        "--worker",
        "toy",
        "--config",
        str(config_file({"total_steps": 2, "env_id": "Toy-v0"})),
        "--set",
        "total_steps=4",
        "--set",
        "env_id=Other-v1",
        "--set",
        "learning_rate=0.5",
    ).finish()
    assert done.returncode == 0, done.stderr
    events = stream(done.telemetry)
    assert (events[0].payload["total_steps"], events[0].payload["env_id"]) == (4, "Other-v1")
    metrics = [e.payload for e in events if e.event == "metrics"]
    assert [m["step"] for m in metrics] == [1, 2, 3, 4]
    assert {m["values"]["lr"] for m in metrics} == {0.5}


def test_run_id_from_the_config_names_the_stream(
    telemetry_child: Any, child_env: Any, plugin_dir: Path, config_file: Any
) -> None:
    argv = [sys.executable, "-m", "mosaic_core.worker_main", "--worker", "toy"]
    path = config_file({"run_id": "from-config"})
    done = telemetry_child([*argv, "--config", str(path)], child_env(plugin_dir)).finish()
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.telemetry.splitlines()]
    assert {line["run_id"] for line in lines} == {"from-config"}
    assert [line["seq"] for line in lines] == list(range(len(lines)))


# -- bad config --------------------------------------------------------------------------


def assert_bad_config(done: Any, field: str | None, *fragments: str) -> dict[str, Any]:
    assert done.returncode == 2, done.stderr
    (event,) = stream(done.telemetry)
    assert event.event == "run_failed"
    assert event.payload["error_type"] == "ConfigError"
    assert event.payload["field"] == field
    assert event.payload["traceback"] == ""
    for fragment in fragments:
        assert fragment in event.payload["error"]
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("mosaic: ") and done.stderr.count("\n") == 1
    return dict(event.payload)


def test_wrong_type_fails_with_exit_2_naming_the_field(start_worker: Any, config_file: Any) -> None:
    path = config_file({"total_steps": "many"})
    done = start_worker("--worker", "toy", "--config", str(path)).finish()
    payload = assert_bad_config(done, "total_steps", "'many' (str)", "an integer")
    assert payload["error"].startswith(str(path))


def test_unknown_key_fails_with_exit_2_and_a_suggestion(
    start_worker: Any, config_file: Any
) -> None:
    done = start_worker(
        "--worker", "toy", "--config", str(config_file({"learning_rat": 0.1}))
    ).finish()
    assert_bad_config(done, "learning_rat", "did you mean 'learning_rate'")


def test_bad_value_through_set_fails_with_exit_2(start_worker: Any, config_file: Any) -> None:
    done = start_worker(
        "--worker", "toy", "--config", str(config_file({})), "--set", "mode=explode"
    ).finish()
    assert_bad_config(done, "mode", "'explode' (str)")


def test_malformed_json_fails_with_exit_2(start_worker: Any, config_file: Any) -> None:
    done = start_worker("--worker", "toy", "--config", str(config_file('{"seed": 1,'))).finish()
    assert_bad_config(done, None, "malformed JSON")


def test_missing_config_file_fails_with_exit_2(start_worker: Any, tmp_path: Path) -> None:
    done = start_worker("--worker", "toy", "--config", str(tmp_path / "nope.json")).finish()
    assert_bad_config(done, None, "config file not found")


def test_bad_run_id_fails_with_exit_2(start_worker: Any, config_file: Any) -> None:
    done = start_worker(
        "--worker", "toy", "--config", str(config_file({})), "--set", "run_id=../escape"
    ).finish()
    assert done.returncode == 2
    (event,) = (json.loads(line) for line in done.telemetry.splitlines())
    assert event["payload"]["field"] == "run_id"


def test_malformed_set_fails_with_exit_2(start_worker: Any, config_file: Any) -> None:
    done = start_worker(
        "--worker", "toy", "--config", str(config_file({})), "--set", "total_steps"
    ).finish()
    assert_bad_config(done, None, "expected KEY=VALUE")


# -- failure and cancellation ----------------------------------------------------------------


def test_runtime_raising_fails_with_exit_1_and_a_traceback(
    start_worker: Any, config_file: Any
) -> None:
    done = start_worker("--worker", "toy", "--config", str(config_file({"mode": "raise"}))).finish()
    assert done.returncode == 1
    events = stream(done.telemetry)
    assert events[0].event == "run_started"
    failed = events[-1]
    assert failed.event == "run_failed"
    assert failed.payload["error"] == "toy runtime exploded"
    assert failed.payload["error_type"] == "RuntimeError"
    assert "Traceback (most recent call last)" in failed.payload["traceback"]
    assert "RuntimeError: toy runtime exploded" in failed.payload["traceback"]
    assert "RuntimeError: toy runtime exploded" in done.stderr


@pytest.mark.parametrize(
    ("signum", "reason"),
    [(signal.SIGTERM, "received SIGTERM"), (signal.SIGINT, "KeyboardInterrupt")],
)
def test_cancel_emits_run_cancelled_and_exits_130(
    start_worker: Any, config_file: Any, signum: int, reason: str
) -> None:
    child = start_worker("--worker", "toy", "--config", str(config_file({"mode": "wait"})))
    child.wait_for_event("heartbeat")
    child.proc.send_signal(signum)
    done = child.finish(timeout=10)
    assert done.returncode == 130, done.stderr
    events = stream(done.telemetry)
    assert events[0].event == "run_started"
    assert events[-1].event == "run_cancelled"
    assert events[-1].payload["reason"] == reason
    assert "Traceback" not in done.stderr


# -- finding the worker -------------------------------------------------------------------


def failed_payload(done: Any) -> dict[str, Any]:
    (event,) = (json.loads(line) for line in done.telemetry.splitlines())
    assert event["event"] == "run_failed"
    return dict(event["payload"])


def test_unknown_worker_fails_with_exit_1_and_a_suggestion(
    start_worker: Any, config_file: Any
) -> None:
    done = start_worker("--worker", "tyo", "--config", str(config_file({}))).finish()
    assert done.returncode == 1
    error = failed_payload(done)["error"]
    assert "no worker named 'tyo' (did you mean 'toy'?)" in error
    assert "installed: none" not in error
    assert "Traceback" not in done.stderr


def test_worker_registered_under_another_entry_point_name_runs(
    start_worker: Any, config_file: Any
) -> None:
    done = start_worker("--worker", "pair-b", "--config", str(config_file({}))).finish()
    assert done.returncode == 0, done.stderr
    assert stream(done.telemetry)[-1].event == "run_completed"


def test_legacy_worker_cannot_be_run(start_worker: Any, config_file: Any) -> None:
    done = start_worker("--worker", "oldie", "--config", str(config_file({}))).finish()
    assert done.returncode == 1
    assert "legacy entry point" in failed_payload(done)["error"]


def test_broken_worker_cannot_be_run(start_worker: Any, config_file: Any) -> None:
    done = start_worker("--worker", "crashy", "--config", str(config_file({}))).finish()
    assert done.returncode == 1
    assert "installed but broken: RuntimeError" in failed_payload(done)["error"]


def test_missing_worker_option_fails_with_exit_1(start_worker: Any, config_file: Any) -> None:
    done = start_worker("--config", str(config_file({}))).finish()
    assert done.returncode == 1
    assert "--worker TYPE is required" in failed_payload(done)["error"]


# -- run_worker(spec) from a worker's own console module -------------------------------------

CONSOLE = """
import sys
import time
from dataclasses import dataclass

from mosaic_core import (
    ConfigError, RunCancelled, TelemetryEmitter, WorkerCapabilities, WorkerConfigBase,
    WorkerMetadata, WorkerSpec, run_worker,
)


@dataclass(frozen=True, kw_only=True)
class Config(WorkerConfigBase):
    behaviour: str = "complete"


class Runtime:
    def __init__(self, config):
        self.config = config

    def run(self):
        em = TelemetryEmitter(self.config.run_id)
        em.run_started(worker_type="console")
        b = self.config.behaviour
        if b == "config_error":
            raise ConfigError.bad_value("behaviour", b, "a behaviour the runtime knows")
        if b == "not_a_dict":
            return ["done"]
        if b == "cancel_itself":
            em.run_cancelled("stopped early")
            return {}
        if b == "fail_itself":
            em.run_failed("gave up")
            return {}
        if b == "save_when_cancelled":
            try:
                em.heartbeat(step=0)  # in the try: a SIGTERM from now on is caught below
                while True:
                    time.sleep(0.02)
            except RunCancelled:
                print("saving", file=sys.stderr, flush=True)
                time.sleep(1.0)  # a second SIGTERM arrives meanwhile
                em.checkpoint_saved("checkpoints/stopped.pt", step=7)
                raise
        return {"ok": True}


class BadConfig:
    @classmethod
    def from_dict(cls, data):
        raise TypeError("from_dict is broken")

    def to_dict(self):
        return {}


SPEC = WorkerSpec(
    metadata=WorkerMetadata(name="Console", version="1.0"),
    capabilities=WorkerCapabilities(worker_type="console"),
    config_class=BadConfig if "--bad-class" in sys.argv else Config,
    runtime_factory=Runtime,
)
sys.exit(run_worker(SPEC, [a for a in sys.argv[1:] if a != "--bad-class"]))
"""


@pytest.fixture
def run_console(tmp_path: Path, telemetry_child: Any, child_env: Any, config_file: Any) -> Any:
    script = tmp_path / "console.py"
    script.write_text(textwrap.dedent(CONSOLE), encoding="utf-8")

    def run(behaviour: str, *extra: str, finish: bool = True) -> Any:
        config = config_file({"behaviour": behaviour})
        argv = [sys.executable, str(script), "--config", str(config), *extra]
        child = telemetry_child(argv, child_env(MOSAIC_RUN_ID=RUN_ID))
        return child.finish() if finish else child

    return run


def test_a_second_sigterm_does_not_cut_short_the_save_of_a_checkpoint(run_console: Any) -> None:
    """``mosaic cancel`` and the supervisor may both send SIGTERM: only the first cancels."""
    child = run_console("save_when_cancelled", finish=False)
    child.wait_for_event("heartbeat")
    child.proc.send_signal(signal.SIGTERM)
    time.sleep(0.4)
    child.proc.send_signal(signal.SIGTERM)
    done = child.finish(timeout=10)
    assert done.returncode == 130, done.stderr
    events = stream(done.telemetry)
    kinds = [e.event for e in events]
    assert kinds == ["run_started", "heartbeat", "checkpoint_saved", "run_cancelled"]
    assert events[2].payload["path"] == "checkpoints/stopped.pt"
    assert "Traceback" not in done.stderr


def test_run_worker_with_a_spec_completes_without_discovery(run_console: Any) -> None:
    done = run_console("complete")
    assert done.returncode == 0, done.stderr
    assert [e.event for e in stream(done.telemetry)] == ["run_started", "run_completed"]
    assert stream(done.telemetry)[-1].payload == {"ok": True}


def test_config_error_raised_by_the_runtime_exits_2(run_console: Any) -> None:
    done = run_console("config_error")
    assert done.returncode == 2
    events = stream(done.telemetry)
    assert events[-1].event == "run_failed"
    assert events[-1].payload["field"] == "behaviour"
    assert "Traceback" not in done.stderr


def test_runtime_returning_a_non_dict_fails(run_console: Any) -> None:
    done = run_console("not_a_dict")
    assert done.returncode == 1
    failed = stream(done.telemetry)[-1]
    assert failed.event == "run_failed"
    assert failed.payload["error_type"] == "ProtocolError"
    assert "returned list; expected a dict summary" in failed.payload["error"]


def test_runtime_that_cancels_itself_exits_130(run_console: Any) -> None:
    done = run_console("cancel_itself")
    assert stream(done.telemetry)[-1].event == "run_cancelled"
    assert done.returncode == 130


def test_runtime_that_fails_itself_exits_1(run_console: Any) -> None:
    done = run_console("fail_itself")
    assert stream(done.telemetry)[-1].event == "run_failed"
    assert done.returncode == 1


def test_config_class_that_raises_still_ends_with_run_failed(run_console: Any) -> None:
    done = run_console("complete", "--bad-class")
    assert done.returncode == 1
    (event,) = stream(done.telemetry)
    assert event.event == "run_failed"
    assert event.payload["error_type"] == "TypeError"
    assert "from_dict is broken" in event.payload["traceback"]


# -- parse_set -----------------------------------------------------------------------------


def test_parse_set_reads_json_values_and_falls_back_to_strings() -> None:
    assert parse_set(["a=1", "b=0.5", "c=true", "d=null", "e=CartPole-v1", "f=[1, 2]", "g="]) == {
        "a": 1,
        "b": 0.5,
        "c": True,
        "d": None,
        "e": "CartPole-v1",
        "f": [1, 2],
        "g": "",
    }


def test_parse_set_keeps_equals_signs_in_values() -> None:
    assert parse_set([" url = http://x/?a=b"]) == {"url": " http://x/?a=b"}


@pytest.mark.parametrize("item", ["novalue", "=1", " =1"])
def test_parse_set_rejects_items_without_a_key(item: str) -> None:
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        parse_set([item])

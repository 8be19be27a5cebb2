"""A secret is never written to disk by MOSAIC, nor echoed: not in config.json, not in an
error message, not when the worker itself rejects the config and quotes the key (in
events.jsonl, run.json, stderr.log, mosaic.db or any command that shows them)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import pytest
from annotated_types import MinLen

from mosaic_core import ConfigError, Secret, WorkerConfigBase
from mosaic_core.runs import RunStore

from .conftest import Mosaic


def assert_nowhere(secret: str, store: RunStore, mosaic: Mosaic, run_id: str | None) -> None:
    """Not in any file of the home (run directories, mosaic.db and its WAL), nor in what
    the reading commands print."""
    needle = secret.encode()
    for path in Path(store.home).rglob("*"):
        if path.is_file():
            assert needle not in path.read_bytes(), f"{secret!r} is in {path}"
    commands = [["runs", "--json"]]
    if run_id:
        commands += [["show", run_id, "--json"], ["events", run_id], ["logs", run_id]]
    for command in commands:
        done = mosaic(*command)
        assert secret not in done.stdout + done.stderr, command


def test_a_secret_in_a_list_of_objects_never_reaches_disk(mosaic: Mosaic, store: RunStore) -> None:
    endpoints = json.dumps([{"url": "http://a", "token": "tok-in-a-list-123"}])
    code, result = mosaic.run_json("--set", f"endpoints={endpoints}", "--set", "total_steps=3")
    assert code == 0, result
    config = json.loads((store.run_dir(result["run_id"]) / "config.json").read_text())
    assert config["endpoints"] == [{"url": "http://a", "token": "***"}]
    assert_nowhere("tok-in-a-list-123", store, mosaic, result["run_id"])


@pytest.mark.parametrize(
    ("setting", "secret"),
    [
        ("api_key=12345678", "12345678"),  # wrong type: the value is not shown
        ("api_key=refused-sk-abcdef", "refused-sk-abcdef"),  # validate() quotes it
    ],
)
def test_a_config_error_on_a_secret_field_does_not_echo_it(
    mosaic: Mosaic, store: RunStore, setting: str, secret: str
) -> None:
    done = mosaic("run", "fixture", "--set", setting)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "api_key" in done.stderr and "***" in done.stderr
    assert secret not in done.stderr + done.stdout
    assert store.list_runs() == []


def test_a_secret_marked_field_is_redacted_in_its_error_whatever_its_name() -> None:
    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Config(WorkerConfigBase):
        auth: Annotated[str, Secret, MinLen(20)] = "x" * 20

    with pytest.raises(ConfigError) as info:
        Config.from_dict({"run_id": "r", "auth": "short-but-secret"})
    assert "short-but-secret" not in str(info.value) and "***" in str(info.value)
    assert info.value.field == "auth" and info.value.value == "***"


def test_the_runtime_quoting_its_key_is_scrubbed_from_everything_recorded(
    mosaic: Mosaic, store: RunStore
) -> None:
    code, result = mosaic.run_json(
        "--set", "behavior=reject_key", "--set", "api_key=sk-live-runtime-9876"
    )
    assert code == 2 and result["status"] == "failed", result
    assert "api_key '***'" in result["reason"]
    assert_nowhere("sk-live-runtime-9876", store, mosaic, result["run_id"])


def test_a_worker_that_validates_its_own_config_never_records_the_secret(
    home: Path, store: RunStore, mosaic: Mosaic
) -> None:
    # The path of `mosaic run WORKER --env NAME` when the worker is not installed here:
    # no spec, so the worker itself rejects the config, quoting the key in its error.
    code = """
from mosaic_core.runs import RunStore, Supervisor, prepare_runs
store = RunStore()
(run,) = prepare_runs(store, "fixture", None, {"api_key": "refused-in-worker-4321"})
supervisor = Supervisor(store, secrets={run.run_id: run.secrets_json})
supervisor.submit(run.launch)
result = supervisor.wait()[run.run_id]
print(result.run_id, result.status, result.exit_code)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    run_id, status, exit_code = done.stdout.split()
    assert (status, exit_code) == ("failed", "2")
    row = store.get(run_id)
    assert row["reason"].startswith("ConfigError:") and "***" in row["reason"]
    assert "***" in (store.run_dir(run_id) / "stderr.log").read_text()
    assert_nowhere("refused-in-worker-4321", store, mosaic, run_id)

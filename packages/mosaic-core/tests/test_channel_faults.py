"""The emitter when its channel fails: a disk full for a moment (every event still arrives,
once, in order), a disk that stays full or a descriptor that is closed (the run ends with
one clear line on stderr). Real faults: a tiny tmpfs filled for real, a real closed fd."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from faultkit import needs_namespaces, python, run_on_tmpfs

from mosaic_core import ProtocolError, TelemetryEmitter
from mosaic_core.runs import TelemetryEvent, TelemetryReader

# Runs inside a private namespace with a 256 KiB tmpfs on argv[1]: an emitter writes to a
# file there while the disk is full, for `full_for` seconds (or for good).
_EMITTER_ON_A_FULL_DISK = textwrap.dedent(
    """
    import json, os, subprocess, sys, threading, time
    disk, full_for, events = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    path = os.path.join(disk, "events.jsonl")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    filler = os.open(os.path.join(disk, "filler"), os.O_WRONLY | os.O_CREAT)
    for size in (65536, 4096, 1):
        try:
            while True:
                os.write(filler, b"\\0" * size)
        except OSError:
            pass
    child = subprocess.Popen(
        [sys.executable, "-c", sys.argv[4], sys.argv[5], str(events)],
        env=dict(os.environ, MOSAIC_TELEMETRY_FD=str(fd), MOSAIC_RUN_ID="full-disk"),
        pass_fds=(fd,), stderr=subprocess.PIPE, text=True,
    )
    if full_for >= 0:
        time.sleep(full_for)
        os.ftruncate(filler, 0)  # the space comes back
    _, err = child.communicate(timeout=120)
    print(json.dumps({"code": child.returncode, "stderr": err,
                      "data": open(path, "rb").read().decode("utf-8", "replace")}))
    """
)

# The worker side, through the SDK's entry point: metrics as fast as a training loop.
_EMIT = textwrap.dedent(
    """
    import dataclasses, sys, time
    from mosaic_core import (TelemetryEmitter, TrainingConfigBase, WorkerCapabilities,
                             WorkerMetadata, WorkerSpec, run_worker)

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Config(TrainingConfigBase):
        env_id: str = "Loop-v0"
        algorithm: str = "loop"

    class Runtime:
        def __init__(self, config):
            self.config = config

        def run(self):
            emitter = TelemetryEmitter(self.config.run_id)
            with emitter.lifecycle(heartbeat_interval=None) as run:
                for step in range(self.config.total_steps):
                    run.metrics(step, {"loss": 1.0 / (step + 1)})
                    time.sleep(0.001)
            return run.summary

    spec = WorkerSpec(metadata=WorkerMetadata(name="loop", version="0.1"),
                      capabilities=WorkerCapabilities(worker_type="loop"),
                      config_class=Config, runtime_factory=Runtime)
    config, steps = sys.argv[1], sys.argv[2]
    sys.exit(run_worker(spec, ["--config", config, "--set", f"total_steps={steps}"]))
    """
)


def config_file(directory: Path) -> str:
    path = directory / "config.json"
    path.write_text(json.dumps({"run_id": "full-disk"}))
    return str(path)


def parse(data: str) -> list[TelemetryEvent]:
    reader = TelemetryReader(expected_run_id="full-disk")
    items = reader.feed(data.encode()) + reader.close()
    return [i for i in items if isinstance(i, TelemetryEvent)]


@needs_namespaces
def test_a_disk_full_for_a_moment_delays_events_and_loses_none(tmp_path: Path) -> None:
    done = run_on_tmpfs(
        tmp_path / "disk", "256k",
        [*python(_EMITTER_ON_A_FULL_DISK), str(tmp_path / "disk"), "0.3", "800", _EMIT,
         config_file(tmp_path)],
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["code"] == 0, report["stderr"]
    assert report["stderr"] == ""  # a transient error is no error of the run
    events = parse(report["data"])
    assert [e.seq for e in events] == list(range(802))  # run_started, 800 metrics, the end
    assert events[-1].event == "run_completed"
    assert [e.payload["step"] for e in events if e.event == "metrics"] == list(range(800))


@needs_namespaces
def test_a_disk_that_stays_full_ends_the_run_with_one_clear_line(tmp_path: Path) -> None:
    env = dict(os.environ, MOSAIC_TELEMETRY_RETRY_SECONDS="1")
    done = run_on_tmpfs(
        tmp_path / "disk", "256k",
        [*python(_EMITTER_ON_A_FULL_DISK), str(tmp_path / "disk"), "-1", "100000", _EMIT,
         config_file(tmp_path)],
        env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["code"] != 0  # the run ended instead of training on unreported
    lines = report["stderr"].strip().splitlines()
    assert len(lines) == 1, report["stderr"]
    assert "telemetry channel of run full-disk is gone" in lines[0]
    assert "No space left on device (ENOSPC)" in lines[0]


def test_a_closed_descriptor_ends_the_run_and_the_next_emit_says_why(
    fresh_emitters: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    read_fd, write_fd = os.pipe()
    fresh_emitters.setenv("MOSAIC_TELEMETRY_FD", str(write_fd))
    emitter = TelemetryEmitter("closed")
    emitter.run_started()
    os.close(write_fd)  # really gone: the descriptor itself
    try:
        emitter.metrics(0, {"x": 1.0})
        emitter.flush()
        with pytest.raises(ProtocolError, match="telemetry channel of run 'closed' is gone"):
            emitter.metrics(1, {"x": 2.0})
        assert emitter.finished == "run_failed"  # ended, so nothing goes on unreported
        err = capfd.readouterr().err
        assert err.count("\n") == 1 and "Bad file descriptor (EBADF)" in err
    finally:
        os.close(read_fd)


def test_the_flusher_survives_a_failing_write_and_retries_with_backoff(
    fresh_emitters: pytest.MonkeyPatch,
) -> None:
    # A test double for the one thing a pipe cannot do on demand: fail with ENOSPC.
    class FlakyStream:
        def __init__(self) -> None:
            self.data, self.failures = b"", 3

        def write(self, data: bytes) -> int:
            if self.failures:
                self.failures -= 1
                raise OSError(28, "No space left on device (injected)")
            self.data += data
            return len(data)

        def flush(self) -> None:
            return None

    stream = FlakyStream()
    emitter = TelemetryEmitter("flaky", stream=stream, flush_interval=0.01)  # type: ignore[arg-type]
    emitter.run_started()
    for step in range(50):
        emitter.metrics(step, {"x": float(step)})
    emitter.run_completed()
    events = TelemetryReader().feed(stream.data)
    seqs = [e.seq for e in events if isinstance(e, TelemetryEvent)]
    assert seqs == list(range(52))


def test_worker_whose_channel_is_gone_exits_non_zero_without_a_traceback(
    tmp_path: Path, child_env: object, toy_only_dir: Path
) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"total_steps": 5}))
    code = (
        "import os, sys; os.close(int(os.environ['MOSAIC_TELEMETRY_FD']));"
        "from mosaic_core import run_worker; sys.exit(run_worker(argv=sys.argv[1:]))"
    )
    read_fd, write_fd = os.pipe()
    env = child_env(toy_only_dir, MOSAIC_TELEMETRY_FD=str(write_fd))  # type: ignore[operator]
    done = subprocess.run(
        [sys.executable, "-c", code, "--worker", "toy", "--config", str(config)],
        env=env, pass_fds=(write_fd,), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    os.close(write_fd)
    os.close(read_fd)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr
    assert "is not an open file descriptor" in done.stderr or "is gone" in done.stderr

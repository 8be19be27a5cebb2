from __future__ import annotations

import io
import json
import os
import pathlib
import select
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from mosaic_core import ProtocolError, RunCancelled, TelemetryEmitter
from mosaic_core._telemetry import EVENTS, TERMINAL_EVENTS
from mosaic_core.runs import TelemetryEvent, TelemetryReader


class Sink(io.BytesIO):
    """A stream that remembers how many times it was flushed."""

    flushes = 0

    def flush(self) -> None:
        self.flushes += 1
        super().flush()


@pytest.fixture
def sink() -> Sink:
    return Sink()


@pytest.fixture
def emitter(sink: Sink) -> Iterator[TelemetryEmitter]:
    em = TelemetryEmitter("run-1", stream=sink)
    yield em
    em.close()


def events(sink: io.BytesIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in sink.getvalue().splitlines()]


class FakeScalar:
    """Quacks like a numpy/torch scalar: ``ndim == 0`` and ``item()``."""

    ndim = 0

    def __init__(self, value: Any) -> None:
        self.value = value

    def item(self) -> Any:
        return self.value


class FakeArray:
    """Quacks like a numpy array: ``ndim > 0`` and ``tolist()``."""

    def __init__(self, *values: Any) -> None:
        self.values = list(values)
        self.ndim = 1

    def item(self) -> Any:
        raise ValueError("can only convert an array of size 1 to a Python scalar")

    def tolist(self) -> list[Any]:
        return list(self.values)


# -- the envelope ------------------------------------------------------------------


def test_envelope_has_exactly_the_v1_fields(emitter: TelemetryEmitter, sink: Sink) -> None:
    before = time.time()
    emitter.heartbeat(step=3)
    emitter.flush()
    line = sink.getvalue()
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    envelope = json.loads(line)
    assert list(envelope) == ["v", "event", "run_id", "seq", "timestamp", "payload"]
    assert envelope["v"] == 1
    assert envelope["event"] == "heartbeat"
    assert envelope["run_id"] == "run-1"
    assert envelope["seq"] == 0
    assert before <= envelope["timestamp"] <= time.time()
    assert envelope["payload"] == {"step": 3}


def test_envelope_is_compact_utf8(emitter: TelemetryEmitter, sink: Sink) -> None:
    emitter.metrics(1, {"reward/énergie": 1.5, "note": "日本"})
    emitter.flush()
    line = sink.getvalue().rstrip(b"\n")
    assert "énergie".encode() in line and "日本".encode() in line
    envelope = json.loads(line)
    assert line == json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()


def test_run_id_is_json_escaped(sink: Sink) -> None:
    em = TelemetryEmitter('odd"id\\', stream=sink)
    em.run_started()
    assert events(sink)[0]["run_id"] == 'odd"id\\'


def test_run_id_defaults_to_env_then_local(sink: Sink, clean_env: pytest.MonkeyPatch) -> None:
    assert TelemetryEmitter(stream=io.BytesIO()).run_id == "local"
    clean_env.setenv("MOSAIC_RUN_ID", "from-env")
    assert TelemetryEmitter(stream=io.BytesIO()).run_id == "from-env"


def test_seq_starts_at_zero_and_counts_every_event(emitter: TelemetryEmitter, sink: Sink) -> None:
    returned = [
        emitter.run_started(),
        emitter.heartbeat(),
        emitter.metrics(1, {"a": 1}),
        emitter.checkpoint_saved("checkpoints/1.pt", step=1),
        emitter.checkpoint_loaded("checkpoints/1.pt"),
        emitter.run_completed(),
    ]
    assert returned == [0, 1, 2, 3, 4, 5]
    assert [e["seq"] for e in events(sink)] == returned
    assert emitter.seq == 6


def test_seq_is_gap_free_across_threads(emitter: TelemetryEmitter, sink: Sink) -> None:
    threads, per_thread = 8, 400
    start = threading.Barrier(threads)

    def work(index: int) -> None:
        start.wait()
        for step in range(per_thread):
            if step % 2:
                emitter.metrics(step, {"thread": index})
            else:
                emitter.heartbeat(step=step)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    emitter.run_completed()
    seqs = [e["seq"] for e in events(sink)]
    assert seqs == list(range(threads * per_thread + 1))
    per = [e["payload"]["values"]["thread"] for e in events(sink) if e["event"] == "metrics"]
    assert sorted(per.count(i) for i in range(threads)) == [per_thread // 2] * threads


def test_unknown_event_is_a_protocol_error(emitter: TelemetryEmitter, sink: Sink) -> None:
    with pytest.raises(ProtocolError, match=r"unknown telemetry event 'progress'"):
        emitter.emit("progress", {})
    assert emitter.seq == 0


def test_emit_accepts_every_v1_event() -> None:
    for event in sorted(EVENTS):
        sink = io.BytesIO()
        assert TelemetryEmitter("r", stream=sink).emit(event) == 0
        (envelope,) = events(sink)
        assert (envelope["event"], envelope["payload"]) == (event, {})


# -- payload encoding --------------------------------------------------------------


def test_nan_and_infinities_become_null(emitter: TelemetryEmitter, sink: Sink) -> None:
    emitter.metrics(
        1,
        {
            "nan": float("nan"),
            "inf": float("inf"),
            "ninf": -float("inf"),
            "ok": 0.5,
            "nested": [1.0, float("nan"), {"deep": float("inf")}],
        },
    )
    emitter.flush()
    values = events(sink)[0]["payload"]["values"]
    assert values == {
        "nan": None,
        "inf": None,
        "ninf": None,
        "ok": 0.5,
        "nested": [1.0, None, {"deep": None}],
    }
    assert b"NaN" not in sink.getvalue() and b"Infinity" not in sink.getvalue()


def test_numpy_like_scalars_and_arrays_are_converted(emitter: TelemetryEmitter, sink: Sink) -> None:
    emitter.metrics(
        FakeScalar(7),  # type: ignore[arg-type]
        {"loss": FakeScalar(0.25), "actions": FakeArray(1, 2, 3), "nan": FakeScalar(float("nan"))},
    )
    emitter.flush()
    payload = events(sink)[0]["payload"]
    assert payload == {"step": 7, "values": {"loss": 0.25, "actions": [1, 2, 3], "nan": None}}


def test_sets_and_paths_are_converted(emitter: TelemetryEmitter, sink: Sink) -> None:
    emitter.checkpoint_saved("checkpoints/a.pt", files={"x"}, where=pathlib.PurePosixPath("a/b"))
    assert events(sink)[0]["payload"] == {
        "path": "checkpoints/a.pt",
        "step": None,
        "files": ["x"],
        "where": "a/b",
    }


def test_unserialisable_payload_is_a_protocol_error_and_uses_no_seq(
    emitter: TelemetryEmitter, sink: Sink
) -> None:
    with pytest.raises(ProtocolError, match=r"not JSON-serialisable: object"):
        emitter.metrics(1, {"bad": object()})
    assert emitter.metrics(2, {"good": 1}) == 0
    emitter.flush()
    assert [e["seq"] for e in events(sink)] == [0]


def test_payload_that_refers_to_itself_is_a_protocol_error(emitter: TelemetryEmitter) -> None:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    with pytest.raises(ProtocolError):
        emitter.heartbeat(loop)
    assert emitter.seq == 0


# -- terminal events ---------------------------------------------------------------


@pytest.mark.parametrize(
    "end",
    [
        lambda em: em.run_completed({"ok": True}),
        lambda em: em.run_failed("boom"),
        lambda em: em.run_cancelled(),
    ],
)
def test_exactly_one_terminal_event(end: Any, emitter: TelemetryEmitter, sink: Sink) -> None:
    emitter.run_started()
    end(emitter)
    assert emitter.finished in TERMINAL_EVENTS
    for again in (
        lambda: emitter.run_completed(),
        lambda: emitter.run_failed("again"),
        lambda: emitter.run_cancelled(),
        lambda: emitter.metrics(1, {}),
        lambda: emitter.heartbeat(),
    ):
        with pytest.raises(ProtocolError, match=r"already ended with .*exactly one terminal event"):
            again()
    assert [e["event"] in TERMINAL_EVENTS for e in events(sink)] == [False, True]


def test_finished_is_none_while_running(emitter: TelemetryEmitter) -> None:
    emitter.run_started()
    assert emitter.finished is None
    emitter.run_completed()
    assert emitter.finished == "run_completed"


def test_run_failed_from_exception_carries_type_message_and_traceback(
    emitter: TelemetryEmitter, sink: Sink
) -> None:
    try:
        raise ValueError("learning rate exploded")
    except ValueError as exc:
        emitter.run_failed(exc, step=12)
    payload = events(sink)[0]["payload"]
    assert payload["error"] == "learning rate exploded"
    assert payload["error_type"] == "ValueError"
    assert "Traceback" in payload["traceback"]
    assert "ValueError: learning rate exploded" in payload["traceback"]
    assert payload["step"] == 12


def test_run_failed_from_mapping_or_message(sink: Sink) -> None:
    TelemetryEmitter("a", stream=sink).run_failed({"error_type": "OOM"})
    TelemetryEmitter("b", stream=sink).run_failed("it broke")
    first, second = (e["payload"] for e in events(sink))
    assert first == {"error_type": "OOM", "error": "unknown error", "traceback": ""}
    assert second == {"error": "it broke", "error_type": "Error", "traceback": ""}


def test_run_failed_with_a_dict_in_an_except_block_takes_the_exceptions_traceback(
    sink: Sink,
) -> None:
    # The original worker guide's runtime: run_failed({"status": ..., "error": str(e)}).
    try:
        raise RuntimeError("env exploded")
    except RuntimeError as exc:
        TelemetryEmitter("a", stream=sink).run_failed({"status": "failed", "error": str(exc)})
        TelemetryEmitter("b", stream=sink).run_failed({"error": "x", "traceback": "mine"})
    first, second = (e["payload"] for e in events(sink))
    assert first["error"] == "env exploded" and first["status"] == "failed"
    assert first["error_type"] == "RuntimeError"
    assert "RuntimeError: env exploded" in first["traceback"]
    assert second["traceback"] == "mine", "a key the caller gives is kept"


def test_run_started_carries_what_progress_bars_need(emitter: TelemetryEmitter, sink: Sink) -> None:
    emitter.run_started(
        worker_type="cleanrl", algorithm="ppo", env_id="CartPole-v1", seed=1, total_steps=500
    )
    payload = events(sink)[0]["payload"]
    assert payload["worker_type"] == "cleanrl"
    assert payload["algorithm"] == "ppo"
    assert payload["env_id"] == "CartPole-v1"
    assert payload["seed"] == 1
    assert payload["total_steps"] == 500
    assert payload["pid"] == os.getpid()


def test_heartbeat_carries_the_latest_step(emitter: TelemetryEmitter, sink: Sink) -> None:
    emitter.heartbeat()
    emitter.metrics(40, {"a": 1})
    emitter.heartbeat()
    emitter.flush()
    beats = [e["payload"] for e in events(sink) if e["event"] == "heartbeat"]
    assert beats == [{}, {"step": 40}]


def test_metrics_payload_shape(emitter: TelemetryEmitter, sink: Sink) -> None:
    emitter.metrics(100, {"charts/episodic_return": 21.0})
    emitter.flush()
    assert events(sink)[0]["payload"] == {"step": 100, "values": {"charts/episodic_return": 21.0}}


# -- lifecycle() -------------------------------------------------------------------


def kinds(sink: io.BytesIO) -> list[str]:
    return [e["event"] for e in events(sink)]


def test_lifecycle_emits_run_started_and_run_completed_with_summary(
    emitter: TelemetryEmitter, sink: Sink
) -> None:
    with emitter.lifecycle(heartbeat_interval=None, worker_type="toy", total_steps=2) as run:
        run.metrics(1, {"a": 1.0})
        run.summary["final_return"] = 3.0
    assert kinds(sink) == ["run_started", "metrics", "run_completed"]
    assert events(sink)[0]["payload"]["total_steps"] == 2
    assert events(sink)[-1]["payload"] == {"final_return": 3.0}


def test_lifecycle_failure_emits_run_failed_with_traceback_and_reraises(
    emitter: TelemetryEmitter, sink: Sink
) -> None:
    with pytest.raises(ZeroDivisionError), emitter.lifecycle(heartbeat_interval=None):
        1 / 0  # noqa: B018
    assert kinds(sink) == ["run_started", "run_failed"]
    payload = events(sink)[-1]["payload"]
    assert payload["error_type"] == "ZeroDivisionError"
    assert "division by zero" in payload["error"]
    assert "ZeroDivisionError" in payload["traceback"] and "1 / 0" in payload["traceback"]


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (RunCancelled("received SIGTERM"), "received SIGTERM"),
        (KeyboardInterrupt(), "KeyboardInterrupt"),
    ],
)
def test_cancel_emits_run_cancelled_and_reraises(
    exc: BaseException, reason: str, emitter: TelemetryEmitter, sink: Sink
) -> None:
    with pytest.raises(type(exc)), emitter.lifecycle(heartbeat_interval=None):
        raise exc
    assert kinds(sink) == ["run_started", "run_cancelled"]
    assert events(sink)[-1]["payload"] == {"reason": reason}


@pytest.mark.parametrize(
    ("code", "terminal"), [(0, "run_completed"), (None, "run_completed"), (3, "run_failed")]
)
def test_lifecycle_system_exit_depends_on_code(
    code: int | None, terminal: str, emitter: TelemetryEmitter, sink: Sink
) -> None:
    with pytest.raises(SystemExit), emitter.lifecycle(heartbeat_interval=None):
        sys.exit(code)
    assert kinds(sink) == ["run_started", terminal]
    if terminal == "run_failed":
        assert events(sink)[-1]["payload"]["exit_code"] == 3


def test_lifecycle_respects_a_terminal_event_the_block_emitted(
    emitter: TelemetryEmitter, sink: Sink
) -> None:
    with emitter.lifecycle(heartbeat_interval=None):
        emitter.run_failed("diverged")
    with (
        pytest.raises(RuntimeError),
        TelemetryEmitter("r2", stream=sink).lifecycle(heartbeat_interval=None) as run,
    ):
        run.emitter.run_cancelled("user asked")
        raise RuntimeError("after cancel")
    assert kinds(sink) == ["run_started", "run_failed", "run_started", "run_cancelled"]


def test_lifecycle_heartbeats_until_the_end(emitter: TelemetryEmitter, sink: Sink) -> None:
    with emitter.lifecycle(heartbeat_interval=0.01) as run:
        run.heartbeat(step=5)
        time.sleep(0.1)
    time.sleep(0.05)
    names = kinds(sink)
    assert names[0] == "run_started" and names[-1] == "run_completed"
    assert names.count("heartbeat") >= 3
    assert all(e["payload"] == {"step": 5} for e in events(sink) if e["event"] == "heartbeat")
    reader = TelemetryReader()
    items = reader.feed(sink.getvalue()) + reader.close()
    assert all(isinstance(i, TelemetryEvent) for i in items)


# -- flushing ----------------------------------------------------------------------


def test_lifecycle_events_are_flushed_at_once(sink: Sink) -> None:
    em = TelemetryEmitter("r", stream=sink, flush_interval=60)
    for emit in (
        em.run_started,
        lambda: em.checkpoint_saved("c/1.pt"),
        lambda: em.checkpoint_loaded("c/1.pt"),
        em.run_completed,
    ):
        before = sink.flushes
        emit()
        assert sink.flushes > before


def test_metrics_are_buffered_not_flushed_per_event(sink: Sink) -> None:
    em = TelemetryEmitter("r", stream=sink, flush_interval=60)
    for step in range(100):
        em.metrics(step, {"x": step})
        em.heartbeat()
    assert sink.flushes == 0
    em.close()
    assert sink.flushes == 1


def read_line(fd: int, timeout: float) -> bytes:
    """Everything up to the first newline on ``fd``, or what came within ``timeout``."""
    data = b""
    deadline = time.monotonic() + timeout
    while b"\n" not in data:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        data += os.read(fd, 1 << 16)
    return data


def test_lifecycle_event_is_readable_from_a_pipe_as_soon_as_emitted() -> None:
    read_fd, write_fd = os.pipe()
    with os.fdopen(write_fd, "wb", buffering=1 << 16) as stream:
        em = TelemetryEmitter("r", stream=stream, flush_interval=60)
        em.metrics(1, {"x": 1})
        assert select.select([read_fd], [], [], 0.05)[0] == []
        em.run_started()
        assert select.select([read_fd], [], [], 0)[0] == [read_fd]
        em.close()
    os.close(read_fd)


def test_buffered_metrics_reach_a_pipe_reader_within_100ms_without_further_emits() -> None:
    def one_metric_latency() -> float:
        read_fd, write_fd = os.pipe()
        with os.fdopen(write_fd, "wb", buffering=1 << 16) as stream:
            em = TelemetryEmitter("r", stream=stream)
            em.metrics(1, {"x": 1})
            started = time.monotonic()
            line = read_line(read_fd, timeout=1.0)
            elapsed = time.monotonic() - started
            em.close()
        os.close(read_fd)
        assert json.loads(line)["event"] == "metrics"
        return elapsed

    # The best of three, so that a busy machine cannot fail the test on its own.
    best = min(one_metric_latency() for _ in range(3))
    assert best < 0.1, f"metrics took {best * 1000:.0f} ms to reach the reader"


# -- the process channel -----------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import time
    from mosaic_core import TelemetryEmitter

    em = TelemetryEmitter()
    print("a library's own print", flush=True)
    em.run_started(total_steps=2)
    print("another print")
    em.metrics(1, {"x": 1.0})
    time.sleep(0.3)
    print("third print")
    em.run_completed({"done": True})
    """
)


def test_telemetry_fd_carries_events_and_stdout_keeps_prints(
    telemetry_child: Any, child_env: Any
) -> None:
    child = telemetry_child([sys.executable, "-c", CHILD], child_env(MOSAIC_RUN_ID="fd-run"))
    done = child.finish()
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.telemetry.splitlines()]
    assert [e["event"] for e in lines] == ["run_started", "metrics", "run_completed"]
    assert {e["run_id"] for e in lines} == {"fd-run"}
    assert done.stdout.splitlines() == ["a library's own print", "another print", "third print"]


def test_metrics_reach_a_child_process_reader_before_the_run_ends(
    telemetry_child: Any, child_env: Any
) -> None:
    child = telemetry_child([sys.executable, "-c", CHILD], child_env(MOSAIC_RUN_ID="fd-run"))
    child.finish()
    arrivals = {json.loads(line)["event"]: (at, json.loads(line)) for at, line in child.lines}
    metrics_arrival, metrics = arrivals["metrics"]
    completed = arrivals["run_completed"][1]
    assert metrics_arrival < completed["timestamp"] - 0.1, "metrics waited for the next emit"
    assert metrics_arrival >= metrics["timestamp"]


def test_stdout_is_the_channel_without_telemetry_fd(child_env: Any) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHILD],
        env=child_env(MOSAIC_RUN_ID="stdout-run"),
        capture_output=True,
        timeout=20,
    )
    assert done.returncode == 0, done.stderr
    reader = TelemetryReader(expected_run_id="stdout-run")
    items = reader.feed(done.stdout) + reader.close()
    logs = [i.text for i in items if not isinstance(i, TelemetryEvent)]
    assert [i.event for i in items if isinstance(i, TelemetryEvent)] == [
        "run_started",
        "metrics",
        "run_completed",
    ]
    assert logs == ["a library's own print", "another print", "third print"]


def test_emitters_for_the_same_run_on_the_process_channel_are_shared(
    fresh_emitters: pytest.MonkeyPatch,
) -> None:
    out = io.StringIO()
    fresh_emitters.setattr(sys, "stdout", out)
    first = TelemetryEmitter("shared-run")
    second = TelemetryEmitter("shared-run")
    assert first is second
    assert TelemetryEmitter("other-run") is not first
    first.run_started()
    second.metrics(1, {"x": 1})
    second.run_completed()
    seqs = [json.loads(line)["seq"] for line in out.getvalue().splitlines()]
    assert seqs == [0, 1, 2]


def test_process_channel_emitter_follows_mosaic_run_id(fresh_emitters: pytest.MonkeyPatch) -> None:
    fresh_emitters.setattr(sys, "stdout", io.StringIO())
    fresh_emitters.setenv("MOSAIC_RUN_ID", "env-run")
    assert TelemetryEmitter() is TelemetryEmitter("env-run")
    assert TelemetryEmitter().run_id == "env-run"


def test_emitters_with_their_own_stream_are_never_shared() -> None:
    assert TelemetryEmitter("s", stream=io.BytesIO()) is not TelemetryEmitter(
        "s", stream=io.BytesIO()
    )


def test_stdout_without_buffer_gets_text(fresh_emitters: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    fresh_emitters.setattr(sys, "stdout", out)
    TelemetryEmitter("text-run").run_started()
    assert json.loads(out.getvalue())["event"] == "run_started"


def test_bad_telemetry_fd_is_a_protocol_error(fresh_emitters: pytest.MonkeyPatch) -> None:
    fresh_emitters.setenv("MOSAIC_TELEMETRY_FD", "not-a-number")
    with pytest.raises(ProtocolError, match=r"MOSAIC_TELEMETRY_FD='not-a-number' is not an open"):
        TelemetryEmitter("bad-fd-run")


def test_vanished_reader_does_not_stop_training(capfd: pytest.CaptureFixture[str]) -> None:
    read_fd, write_fd = os.pipe()
    os.close(read_fd)
    stream = os.fdopen(write_fd, "wb", buffering=0)
    em = TelemetryEmitter("gone", stream=stream)
    em.run_started()
    em.metrics(1, {"x": 1})
    em.run_completed()
    assert em.finished == "run_completed"
    assert "telemetry reader of run gone went away" in capfd.readouterr().err
    stream.close()


# -- known defects, pinned until telemetry.py is fixed ----------------------------------


def test_emitter_after_a_bad_telemetry_fd_is_not_half_built(
    fresh_emitters: pytest.MonkeyPatch,
) -> None:
    fresh_emitters.setenv("MOSAIC_TELEMETRY_FD", "not-a-number")
    for _ in range(2):
        with pytest.raises(ProtocolError):
            TelemetryEmitter("bad-fd-again").run_started()


@pytest.mark.parametrize("payload", [[1, 2], "text", 3])
def test_non_object_payload_is_a_protocol_error(
    payload: Any, emitter: TelemetryEmitter, sink: Sink
) -> None:
    with pytest.raises(ProtocolError):
        emitter.emit("heartbeat", payload)
    assert sink.getvalue() == b""


def test_nan_inside_a_set_becomes_null(emitter: TelemetryEmitter, sink: Sink) -> None:
    emitter.metrics(1, {"seen": {float("nan")}})
    emitter.flush()
    assert events(sink)[0]["payload"]["values"] == {"seen": [None]}


def test_a_run_that_recorded_no_metric_says_so_in_its_summary() -> None:
    """A run too short for one training iteration completes, and its summary warns."""
    import io
    import json

    from mosaic_core import TelemetryEmitter

    quiet, busy = io.BytesIO(), io.BytesIO()
    with TelemetryEmitter("short", stream=quiet).lifecycle(heartbeat_interval=None,
                                                          total_steps=100):  # fmt: skip
        pass
    with TelemetryEmitter("long", stream=busy).lifecycle(heartbeat_interval=None) as run:
        run.metrics(1, {"loss": 1.0})
    short = json.loads(quiet.getvalue().splitlines()[-1])
    assert short["event"] == "run_completed"
    (warning,) = short["payload"]["warnings"]
    assert "too short to train (total_steps=100)" in warning
    assert "warnings" not in json.loads(busy.getvalue().splitlines()[-1])["payload"]

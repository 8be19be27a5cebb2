"""Telemetry envelope v1: the writing side (:class:`TelemetryEmitter`).

One JSON object per line, compact UTF-8::

    {"v":1,"event":"metrics","run_id":"...","seq":17,"timestamp":1732190000.125,"payload":{...}}

``seq`` starts at 0 and grows by one per event, so a reader can prove that
nothing was lost. Lifecycle events are flushed at once; heartbeats and
metrics are buffered and flushed by a background thread within
``flush_interval`` (50 ms by default), which is what makes the emitter fast.
A write that fails for a moment (a full disk) is retried with backoff by
that thread; a channel that is gone for good ends the run (see
:mod:`mosaic_core._channel`). Payloads become JSON in
:mod:`mosaic_core._payload`, by orjson where the ``fast`` extra installed
it. The reading side lives in :mod:`mosaic_core.runs.reader`.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import sys
import threading
import time
import weakref
from collections.abc import Iterator, Mapping
from typing import IO, Any, ClassVar

from mosaic_core._channel import Channel
from mosaic_core._errors import ProtocolError, RunCancelled
from mosaic_core._payload import dumps_float, encode, encode_stdlib
from mosaic_core._secrets import Scrubber

__all__ = [
    "ENVELOPE_VERSION",
    "EVENTS",
    "LIFECYCLE_EVENTS",
    "TERMINAL_EVENTS",
    "RunHandle",
    "TelemetryEmitter",
    "raise_after_emit",
]

ENVELOPE_VERSION = 1
TERMINAL_EVENTS = frozenset({"run_completed", "run_failed", "run_cancelled"})
LIFECYCLE_EVENTS = frozenset({"run_started", "checkpoint_saved", "checkpoint_loaded"}) | (
    TERMINAL_EVENTS
)
EVENTS = LIFECYCLE_EVENTS | {"heartbeat", "metrics"}

_ENV_FD = "MOSAIC_TELEMETRY_FD"
_ENV_RUN_ID = "MOSAIC_RUN_ID"


class _Guard(threading.local):
    """Per thread: how deep inside ``emit`` (or a flush) it is, and the exception a signal
    handler deferred. Class defaults, so that reading either never fails: a failed
    ``getattr`` costs a microsecond, which ``emit`` would pay on every event."""

    depth = 0
    deferred: BaseException | None = None


_guard = _Guard()


def raise_after_emit(exc: BaseException) -> None:
    """For signal handlers: raise ``exc`` now, or, if this thread is inside ``emit`` (or
    a flush), as soon as that is done whole (so no line is lost, repeated or torn)."""
    if _guard.depth:
        _guard.deferred = exc
        return
    raise exc


@contextlib.contextmanager
def _deferring() -> Iterator[None]:
    """The span in which :func:`raise_after_emit` defers its exception."""
    _guard.depth += 1
    try:
        yield
    finally:
        _guard.depth -= 1
        if not _guard.depth and _guard.deferred is not None:
            exc, _guard.deferred = _guard.deferred, None
            raise exc


class TelemetryEmitter:
    """Writes one run's telemetry events, thread-safe, in envelope v1.

    The channel is, in order: ``stream`` if given (a binary file object), the
    file descriptor named by ``$MOSAIC_TELEMETRY_FD``, else standard output.
    ``run_id`` defaults to ``$MOSAIC_RUN_ID``.

    After a terminal event (``run_completed``, ``run_failed``,
    ``run_cancelled``) any further event raises :class:`ProtocolError`:
    exactly one terminal event ends every run.

    Emitters on the process's own channel (no ``stream``) are shared:
    ``TelemetryEmitter(run_id)`` called twice for the same run returns the
    same object, so a runtime and the SDK's worker entry point never write
    two competing ``seq`` series.
    """

    _shared: ClassVar[dict[tuple[str, str], TelemetryEmitter]] = {}
    _shared_lock = threading.Lock()
    _ready = False

    def __new__(
        cls,
        run_id: str | None = None,
        *,
        stream: IO[bytes] | None = None,
        flush_interval: float = 0.05,
    ) -> TelemetryEmitter:
        if stream is not None:
            return super().__new__(cls)
        key = (
            os.environ.get(_ENV_FD) or "stdout",
            run_id or os.environ.get(_ENV_RUN_ID) or "local",
        )
        with cls._shared_lock:
            instance = cls._shared.get(key)
            if instance is None:
                instance = cls._shared[key] = super().__new__(cls)
        return instance

    def __init__(
        self,
        run_id: str | None = None,
        *,
        stream: IO[bytes] | None = None,
        flush_interval: float = 0.05,
    ) -> None:
        if self._ready:
            return
        self.run_id = run_id or os.environ.get(_ENV_RUN_ID) or "local"
        #: Each event's line up to its seq, as bytes (the run id is escaped to ASCII).
        run = ',"run_id":' + json.dumps(self.run_id) + ',"seq":'
        self._heads = {e: f'{{"v":1,"event":"{e}"{run}'.encode() for e in EVENTS}
        self._flush_interval = flush_interval
        self._lock = threading.Lock()
        self._seq = 0
        self._terminal: str | None = None
        self._dirty = False
        #: Secret values to keep out of every payload (the SDK's worker entry sets them).
        self._scrubber: Scrubber | None = None
        self._flusher: threading.Thread | None = None
        self._heartbeat: threading.Thread | None = None
        self._stop = threading.Event()
        self._stop_heartbeat = threading.Event()
        #: The latest training step seen; heartbeats carry it.
        self.step: int | None = None
        #: How many ``metrics`` events this emitter has written.
        self.metrics_emitted = 0
        try:
            self._channel = self._open(self.run_id, stream)
        except BaseException:
            with self._shared_lock:  # never hand out a half-built shared emitter
                for key, value in list(self._shared.items()):
                    if value is self:
                        del self._shared[key]
            raise
        self._ready = True
        atexit.register(_flush_at_exit, weakref.ref(self))

    @staticmethod
    def _open(run_id: str, stream: IO[bytes] | None) -> Channel:
        if stream is not None:
            return Channel(run_id, stream=stream)
        fd = os.environ.get(_ENV_FD)
        if fd:
            try:
                number = int(fd)
                os.fstat(number)
            except (ValueError, OSError) as exc:
                raise ProtocolError(
                    f"${_ENV_FD}={fd!r} is not an open file descriptor ({exc}); "
                    "expected the number of a descriptor the supervisor passed to this process"
                ) from None
            return Channel(run_id, fd=number)
        # Standard output is shared with print(): push its text layer out first
        # so that a telemetry line never lands in the middle of a log line.
        buffer = getattr(sys.stdout, "buffer", None)
        if buffer is None:
            return Channel(run_id, stream=_TextSink(sys.stdout))  # type: ignore[arg-type]
        return Channel(run_id, stream=buffer, before_write=sys.stdout.flush)

    # -- the core --------------------------------------------------------------

    @property
    def seq(self) -> int:
        """The ``seq`` the next event will carry (so: the number emitted so far)."""
        return self._seq

    @property
    def finished(self) -> str | None:
        """The terminal event emitted, or None while the run is still going."""
        return self._terminal

    def emit(self, event: str, payload: Mapping[str, Any] | None = None) -> int:
        """Write one event and return its ``seq``. Prefer the named methods below."""
        # The guard of _deferring(), inline: this is the hot path (so is all of it).
        _guard.depth += 1
        try:
            if event == "metrics":
                self.metrics_emitted += 1
            elif event not in EVENTS:
                raise ProtocolError(
                    f"unknown telemetry event {event!r}; expected one of {sorted(EVENTS)}"
                )
            if payload is None:
                payload = {}
            elif type(payload) is not dict and not isinstance(payload, Mapping):
                raise ProtocolError(
                    f"telemetry payload of {event!r} is a {type(payload).__name__}; expected an "
                    "object (a dict)"
                )
            if self._scrubber is not None:
                payload = self._scrubber.value(payload)
            body = encode(payload)
            with self._lock:
                if self._channel.gone is not None:
                    self._end_for_lost_channel()
                    raise ProtocolError(
                        f"cannot emit {event!r}: the telemetry channel of run {self.run_id!r} is "
                        f"gone ({self._channel.gone}), so the run has ended"
                    )
                if self._terminal is not None:
                    raise ProtocolError(
                        f"cannot emit {event!r}: run {self.run_id!r} already ended with "
                        f"{self._terminal!r}, and exactly one terminal event ends a run"
                    )
                seq = self._seq
                line = self._line(event, seq, body)
                # seq moves on only once the line is written: an exception raised in
                # between (a signal handler's) leaves no gap.
                if event in LIFECYCLE_EVENTS:
                    self._write(line, flush=True)
                    self._seq = seq + 1
                    if event in TERMINAL_EVENTS:
                        self._terminal = event
                else:
                    self._write(line, flush=False)  # flushed by the flusher thread
                    self._seq = seq + 1
                    if not self._dirty:
                        self._dirty = True
                        if self._flusher is None:
                            self._start_flusher()
            return seq
        finally:
            _guard.depth -= 1
            if not _guard.depth and _guard.deferred is not None:
                exc, _guard.deferred = _guard.deferred, None
                raise exc

    def _set_scrubber(self, scrubber: Scrubber) -> None:
        """Keep ``scrubber``'s secret values out of every payload from now on."""
        self._scrubber = scrubber if scrubber else None

    def _write(self, data: bytes, *, flush: bool) -> None:
        """Hand ``data`` to the channel (never raises for a failed write: the flusher
        retries what the channel keeps pending)."""
        self._channel.write(data)
        if flush:
            self._dirty = not self._channel.flush()
            if self._dirty and self._flusher is None:
                self._start_flusher()

    def flush(self) -> None:
        """Write what is buffered now; what a failing channel keeps is retried later."""
        with _deferring(), self._lock:
            self._write(b"", flush=True)

    def _start_flusher(self) -> None:
        self._flusher = threading.Thread(
            target=self._flush_loop, name=f"mosaic-telemetry-flush-{self.run_id}", daemon=True
        )
        self._flusher.start()

    def _flush_loop(self) -> None:
        """Flush every ``flush_interval``; after a failed write, back off (up to 1 s) and
        try again, until the channel works or is given up. This thread never dies of a
        write error: the events behind it would never arrive."""
        wait = self._flush_interval
        while not self._stop.wait(wait):
            if not self._dirty:
                continue
            try:
                with self._lock:
                    self._dirty = not self._channel.flush()
                    if self._channel.gone is not None:
                        self._end_for_lost_channel()
                        return
            except Exception as exc:  # noqa: BLE001 - keep flushing whatever went wrong
                with contextlib.suppress(Exception):
                    sys.stderr.write(f"mosaic: telemetry flush of run {self.run_id}: {exc!r}\n")
            wait = min(wait * 2, 1.0) if self._dirty else self._flush_interval

    def _end_for_lost_channel(self) -> None:
        """The channel is gone: end the run with ``run_failed``, if even that can still be
        written somewhere (it says why), so that nothing goes on training unreported."""
        if self._terminal is not None:
            return
        self._terminal = "run_failed"
        body = encode_stdlib(
            {
                "error": f"the telemetry channel is gone: {self._channel.gone}",
                "error_type": "ProtocolError",
                "traceback": "",
            }
        )
        self._channel.last_word(self._line("run_failed", self._seq, body))

    def _line(self, event: str, seq: int, body: bytes | str) -> bytes:
        """The envelope of ``body``, the payload's JSON (orjson's bytes or the standard
        library's text), stamped now."""
        if isinstance(body, str):
            body = body.encode()
        return (
            self._heads[event]
            + str(seq).encode()
            + b',"timestamp":'
            + dumps_float(time.time())  # orjson's where installed: a third of repr's cost
            + b',"payload":'
            + body
            + b"}\n"
        )

    def close(self) -> None:
        """Stop background threads and flush (retrying a failing channel for a while).
        Idempotent; does not emit anything."""
        self.stop_heartbeat()
        self._stop.set()
        with _deferring(), self._lock:
            if not self._channel.flush_until(time.monotonic() + self._channel.give_up_after):
                self._channel.give_up()
            self._dirty = False

    # -- named events ------------------------------------------------------------

    def run_started(
        self,
        payload: Mapping[str, Any] | None = None,
        *,
        worker_type: str | None = None,
        algorithm: str | None = None,
        env_id: str | None = None,
        seed: int | None = None,
        total_steps: int | None = None,
        **extra: Any,
    ) -> int:
        """Announce the run; ``total_steps`` lets front ends show progress."""
        fields = dict(payload or {})
        for key, value in (
            ("worker_type", worker_type),
            ("algorithm", algorithm),
            ("env_id", env_id),
            ("seed", seed),
            ("total_steps", total_steps),
        ):
            if value is not None:
                fields[key] = value
        fields.update(extra)
        fields.setdefault("pid", os.getpid())
        return self.emit("run_started", fields)

    def heartbeat(
        self, payload: Mapping[str, Any] | None = None, *, step: int | None = None
    ) -> int:
        fields = dict(payload or {})
        if step is not None:
            self.step = step
        if self.step is not None:
            fields.setdefault("step", self.step)
        return self.emit("heartbeat", fields)

    def metrics(self, step: int, values: Mapping[str, Any]) -> int:
        """One batch of scalars at a training step, e.g. ``{"charts/episodic_return": 21.0}``."""
        self.step = step
        return self.emit("metrics", {"step": step, "values": values})

    def checkpoint_saved(self, path: str, *, step: int | None = None, **extra: Any) -> int:
        """``path`` is relative to the run directory, as in the manifest."""
        return self.emit("checkpoint_saved", {"path": path, "step": step, **extra})

    def checkpoint_loaded(self, path: str, **extra: Any) -> int:
        return self.emit("checkpoint_loaded", {"path": path, **extra})

    def run_completed(self, summary: Mapping[str, Any] | None = None) -> int:
        seq = self.emit("run_completed", summary or {})
        self.close()
        return seq

    def run_failed(self, error: BaseException | Mapping[str, Any] | str, **extra: Any) -> int:
        """Record a failure from an exception (with its traceback), a message or a dict.

        A message or a dict given while an exception is being handled (in an
        ``except`` block, as the original worker guide wrote it) gets that
        exception's type and traceback unless it names its own.
        """
        handling = sys.exc_info()[1]
        if isinstance(error, BaseException):
            fields: dict[str, Any] = _exception_fields(error)
        elif isinstance(error, Mapping):
            fields = dict(error)
            fields.setdefault("error", "unknown error")
        else:
            fields = {"error": str(error)}
        if not isinstance(error, BaseException) and handling is not None:
            for key, value in _exception_fields(handling).items():
                if key != "error":
                    fields.setdefault(key, value)
        fields.setdefault("error_type", "Error")
        fields.setdefault("traceback", "")
        fields.update(extra)
        seq = self.emit("run_failed", fields)
        self.close()
        return seq

    def run_cancelled(self, reason: str = "cancelled", **extra: Any) -> int:
        seq = self.emit("run_cancelled", {"reason": reason, **extra})
        self.close()
        return seq

    # -- helpers -----------------------------------------------------------------

    def start_heartbeat(self, interval: float = 5.0) -> None:
        """Emit a heartbeat every ``interval`` seconds until the run ends."""
        if self._heartbeat is not None:
            return
        self._stop_heartbeat.clear()
        self._heartbeat = threading.Thread(
            target=self._heartbeat_loop,
            args=(interval,),
            name=f"mosaic-heartbeat-{self.run_id}",
            daemon=True,
        )
        self._heartbeat.start()

    def stop_heartbeat(self) -> None:
        self._stop_heartbeat.set()
        thread, self._heartbeat = self._heartbeat, None
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _heartbeat_loop(self, interval: float) -> None:
        while not self._stop_heartbeat.wait(interval):
            try:
                self.heartbeat()
            except ProtocolError:
                return  # the run ended between the wait and the emit

    @contextlib.contextmanager
    def lifecycle(
        self, *, heartbeat_interval: float | None = 5.0, **started: Any
    ) -> Iterator[RunHandle]:
        """Emit ``run_started`` now and exactly one terminal event when the block ends.

        The block's normal end emits ``run_completed`` with ``handle.summary``;
        :class:`~mosaic_core._errors.RunCancelled` or ``KeyboardInterrupt``
        emits ``run_cancelled``; any other exception emits ``run_failed`` with
        its traceback, then propagates. A terminal event the block emitted
        itself is respected.
        """
        self.run_started(**started)
        handle = RunHandle(self)
        if heartbeat_interval:
            self.start_heartbeat(heartbeat_interval)
        try:
            yield handle
        except (RunCancelled, KeyboardInterrupt) as exc:
            if self._terminal is None:
                self.run_cancelled(reason=str(exc) or type(exc).__name__)
            raise
        except SystemExit as exc:
            if self._terminal is None:
                if exc.code in (0, None):
                    self.run_completed(_note_untrained(self, handle, started))
                else:
                    self.run_failed(exc, exit_code=exc.code)
            raise
        except BaseException as exc:
            if self._terminal is None:
                self.run_failed(exc)
            raise
        else:
            if self._terminal is None:
                self.run_completed(_note_untrained(self, handle, started))
        finally:
            self.close()


def _note_untrained(
    emitter: TelemetryEmitter, handle: RunHandle, started: Mapping[str, Any]
) -> dict[str, Any]:
    """The summary, warning that the run recorded no metric: most often a ``total_steps``
    below what one iteration of the algorithm needs, so nothing was trained."""
    if emitter.metrics_emitted == 0:
        total = started.get("total_steps")
        why = f" (total_steps={total})" if total is not None else ""
        handle.summary.setdefault("warnings", []).append(
            "the run completed without recording a metric: it may have been too short to "
            f"train{why}; give it more steps than one iteration of the algorithm takes"
        )
    return handle.summary


class RunHandle:
    """What ``with emitter.lifecycle() as run:`` gives the block: the run's events while it
    is going, and the summary its ``run_completed`` will carry."""

    def __init__(self, emitter: TelemetryEmitter) -> None:
        #: The run's emitter, for events the handle has no method for.
        self.emitter = emitter
        #: The ``run_completed`` payload; fill it in before the block ends.
        self.summary: dict[str, Any] = {}

    def metrics(self, step: int, values: Mapping[str, Any]) -> int:
        """Report scalars at a training step, ``run.metrics(1000, {"charts/episodic_return":
        21.0})``: one ``metrics`` event, whose step later heartbeats repeat. Returns its seq.

        ``step`` is the worker's own count (environment steps, usually) and must not go
        backwards; values are numbers keyed by name, TensorBoard-style (``group/name``).
        """
        return self.emitter.metrics(step, values)

    def heartbeat(self, *, step: int | None = None) -> int:
        """Say the run is alive, at ``step`` if given; the lifecycle block already sends one
        every few seconds, so call this only from a loop that reports nothing for longer."""
        return self.emitter.heartbeat(step=step)

    def checkpoint_saved(self, path: str, *, step: int | None = None, **extra: Any) -> int:
        """Announce a checkpoint ``path`` (relative to the run directory) without listing it
        in the manifest; :meth:`RunContext.record_checkpoint
        <mosaic_core.RunContext.record_checkpoint>` does both."""
        return self.emitter.checkpoint_saved(path, step=step, **extra)


def _exception_fields(error: BaseException) -> dict[str, Any]:
    import traceback  # here: a run that does not fail never needs it, and it starts sooner

    return {
        "error": str(error) or type(error).__name__,
        "error_type": type(error).__name__,
        "traceback": "".join(traceback.format_exception(type(error), error, error.__traceback__)),
    }


def _flush_at_exit(ref: weakref.ReferenceType[TelemetryEmitter]) -> None:
    emitter = ref()
    if emitter is not None:
        with contextlib.suppress(Exception):
            emitter.close()


class _TextSink:
    """Adapts a text stream without ``.buffer`` (a captured stdout) to bytes writes."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def write(self, data: bytes) -> int:
        return self._stream.write(data.decode("utf-8"))

    def flush(self) -> None:
        self._stream.flush()

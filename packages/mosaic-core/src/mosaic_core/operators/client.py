"""Driving an operator process over the step protocol, from Python.

:class:`OperatorClient` starts (or adopts) a process that serves the
protocol (``python -m mosaic_core.operator_main --interactive ...`` or a
worker's ``--interactive`` mode), sends commands, and waits for their
answers with a timeout. If the process dies, the waiting call raises
:class:`OperatorDied` at once, with the exit status and the last lines the
process wrote on stderr, instead of hanging.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import IO, Any

from mosaic_core import _procs as procs
from mosaic_core._errors import ProtocolError

__all__ = [
    "OperatorClient",
    "OperatorDied",
    "OperatorRequestError",
    "OperatorTimeout",
    "operator_command",
]

DEFAULT_TIMEOUT = 30.0


class OperatorDied(ProtocolError):
    """The operator process ended while a request was outstanding."""


class OperatorTimeout(ProtocolError):
    """No answer within the timeout; the process is still running."""


class OperatorRequestError(ProtocolError):
    """The operator answered a request with ``error``."""

    def __init__(self, message: str, response: Mapping[str, Any]) -> None:
        super().__init__(message)
        self.response = dict(response)


def operator_command(
    operators: str | Sequence[str],
    env: str | None = None,
    *,
    python: str | None = None,
    render: str = "fastlane",
    run_id: str | None = None,
    extra: Sequence[str] = (),
) -> list[str]:
    """The command line of ``mosaic_core.operator_main`` serving ``operators`` on ``env``."""
    argv = [python or sys.executable, "-m", "mosaic_core.operator_main", "--interactive"]
    for spec in [operators] if isinstance(operators, str) else operators:
        argv += ["--operator", spec]
    if env is not None:
        argv += ["--env", env]
    argv += ["--render", render]
    if run_id:
        argv += ["--run-id", run_id]
    return argv + list(extra)


class OperatorClient:
    """A client for one operator process. Not thread-safe: one thread drives it."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        environ: Mapping[str, str] | None = None,
        cwd: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        stderr: IO[str] | None = None,
    ) -> None:
        """Start ``argv`` with ``environ`` (default: this process's environment). Its stderr
        is kept (the last lines, for error messages) and copied to ``stderr`` when given."""
        self.argv = list(argv)
        self.timeout = timeout
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=None if environ is None else dict(environ),
            cwd=cwd,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._in = self.proc.stdin.fileno()
        self._out = self.proc.stdout.fileno()
        self._buffer = b""
        self._responses: collections.deque[dict[str, Any]] = collections.deque()
        self._next_id = 1
        self._segments: set[str] = set()
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=40)
        self._echo = stderr
        self._stderr_thread = threading.Thread(target=self._drain_stderr, daemon=True)
        self._stderr_thread.start()

    @classmethod
    def spawn(
        cls,
        operators: str | Sequence[str],
        env: str | None = None,
        *,
        python: str | None = None,
        render: str = "fastlane",
        run_id: str | None = None,
        extra: Sequence[str] = (),
        **kwargs: Any,
    ) -> OperatorClient:
        """Start ``python -m mosaic_core.operator_main --interactive`` for ``operators``."""
        argv = operator_command(
            operators, env, python=python, render=render, run_id=run_id, extra=extra
        )
        return cls(argv, **kwargs)

    @property
    def pid(self) -> int:
        return self.proc.pid

    # -- the wire ------------------------------------------------------------------

    def _drain_stderr(self) -> None:
        stream = self.proc.stderr
        assert stream is not None
        for raw in iter(stream.readline, b""):
            text = raw.decode("utf-8", "replace")
            self.stderr_tail.append(text.rstrip("\n"))
            if self._echo is not None:
                with contextlib.suppress(Exception):
                    self._echo.write(text)
                    self._echo.flush()

    def _died(self, doing: str) -> OperatorDied:
        try:
            code = self.proc.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            code = None
        self._stderr_thread.join(timeout=1.0)
        if code is None:
            how = "closed its stdout"
        elif code < 0:
            how = f"was killed by {procs.signal_name(-code)}"
        else:
            how = f"exited with status {code}"
        tail = "\n".join(f"  | {line}" for line in list(self.stderr_tail)[-15:])
        self._cleanup_segments()
        return OperatorDied(
            f"operator process {self.proc.pid} ({' '.join(self.argv[:6])}) {how} "
            f"{doing}" + (f"; its last stderr lines:\n{tail}" if tail else "; it wrote no stderr")
        )

    def send(self, cmd: str, count: int = 1, **fields: Any) -> int:
        """Send a command (``count`` times, in one write) without waiting; returns the last id."""
        first = self._next_id
        self._next_id += count
        lines = []
        for rid in range(first, first + count):
            if fields:
                lines.append(json.dumps({"cmd": cmd, "id": rid, **fields}, separators=(",", ":")))
            else:
                lines.append(f'{{"cmd":"{cmd}","id":{rid}}}')
        self.send_raw("\n".join(lines), doing=f"while sending {cmd!r}")
        return first + count - 1

    def send_raw(self, line: str | bytes, *, doing: str = "while sending") -> None:
        """Write one raw line (a newline is added), for testing the server's error handling."""
        data = line.encode() if isinstance(line, str) else line
        view = memoryview(data + b"\n")
        try:
            while view:
                view = view[os.write(self._in, view) :]
        except (BrokenPipeError, OSError):
            raise self._died(doing) from None

    def read(self, timeout: float | None = None, *, waiting_for: str = "") -> dict[str, Any]:
        """The next response line, decoded; ``waiting_for`` names the request in errors."""
        awaited = f"to {waiting_for}" if waiting_for else ""
        doing = f"before answering {waiting_for}" if waiting_for else "while a request waited"
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            if self._responses:
                return self._responses.popleft()
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._out], [], [], left)[0]:
                if self.proc.poll() is not None:
                    raise self._died(doing)
                raise OperatorTimeout(
                    f"operator process {self.proc.pid} sent no answer {awaited} within "
                    f"{self.timeout if timeout is None else timeout:.1f} s; it is still running"
                )
            data = os.read(self._out, 1 << 16)
            if not data:
                raise self._died(doing)
            *lines, self._buffer = (self._buffer + data).split(b"\n")
            self._responses.extend(self._decode(line) for line in lines if line.strip())

    def _decode(self, line: bytes) -> dict[str, Any]:
        try:
            response = json.loads(line)
        except ValueError:
            raise ProtocolError(
                f"operator process {self.proc.pid} wrote a line that is not JSON on its protocol "
                f"channel: {line[:120]!r}"
            ) from None
        if not isinstance(response, dict) or "type" not in response:
            raise ProtocolError(f"operator response without a 'type': {line[:120]!r}")
        render = response.get("render")
        if isinstance(render, dict) and isinstance(render.get("fastlane"), str):
            self._segments.add(render["fastlane"])
        if isinstance(response.get("fastlane"), str):
            self._segments.add(response["fastlane"])
        return response

    def receive(self, rid: int, cmd: str = "", timeout: float | None = None) -> dict[str, Any]:
        """The answer to request ``rid``; a ``step`` that ended an episode carries its
        ``episode_end`` record under that key.

        Raises :class:`~mosaic_core.operators.client.OperatorRequestError` on ``error``.
        """
        what = f"{cmd!r} (id {rid})" if cmd else f"request {rid}"
        while True:  # answers come in order: older ones were abandoned by a timeout
            response = self.read(timeout, waiting_for=what)
            if response.get("id") == rid:
                break
        if response.get("type") == "error":
            raise OperatorRequestError(
                f"operator answered {cmd or 'request'} {rid} with an error: "
                f"{response.get('message')}",
                response,
            )
        if response.get("type") == "step" and response.get("episode_done"):
            response["episode_end"] = self.read(timeout, waiting_for=what)
        return response

    def call(self, cmd: str, *, timeout: float | None = None, **fields: Any) -> dict[str, Any]:
        """Send one command and wait for its answer."""
        return self.receive(self.send(cmd, **fields), cmd, timeout)

    # -- the commands --------------------------------------------------------------

    def reset(self, seed: int | None = None, *, timeout: float | None = None) -> dict[str, Any]:
        return self.call("reset", seed=seed, timeout=timeout)

    def step(self, action: Any = None, *, render: bool | None = None) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        if action is not None:
            fields["action"] = action
        if render is not None:
            fields["render"] = render
        return self.call("step", **fields)

    def select_action(
        self,
        observation: Any,
        info: Mapping[str, Any] | None = None,
        action_mask: Any = None,
        agent: str | None = None,
    ) -> Any:
        fields: dict[str, Any] = {"observation": observation}
        for key, value in (("info", info), ("action_mask", action_mask), ("agent", agent)):
            if value is not None:
                fields[key] = value
        return self.call("select_action", **fields)["action"]

    def ping(self, *, timeout: float | None = None) -> dict[str, Any]:
        return self.call("ping", timeout=timeout)

    def steps(
        self, count: int, *, window: int = 32, render: bool | None = None
    ) -> Iterator[dict[str, Any]]:
        """``count`` operator-chosen steps, with up to ``window`` requests in flight."""
        fields = {} if render is None else {"render": render}
        in_flight: collections.deque[int] = collections.deque()
        sent = 0
        while sent < count or in_flight:
            more = min(count - sent, window - len(in_flight))
            if more > 0 and (not in_flight or more >= window // 2):
                last = self.send("step", more, **fields)
                in_flight.extend(range(last - more + 1, last + 1))
                sent += more
            yield self.receive(in_flight.popleft(), "step")

    def run_episodes(
        self,
        episodes: int,
        seed: int | None = None,
        *,
        window: int = 16,
        render: bool | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Reset with ``seed`` and step until ``episodes`` episodes ended; yields each step.

        Steps sent ahead beyond the last episode's end are answered and
        dropped: they belong to the next episode, which nobody asked for.
        """
        self.reset(seed)
        fields = {} if render is None else {"render": render}
        in_flight: collections.deque[int] = collections.deque()
        ended = 0
        while ended < episodes:
            more = window - len(in_flight)
            if not in_flight or more >= window // 2:
                last = self.send("step", more, **fields)
                in_flight.extend(range(last - more + 1, last + 1))
            response = self.receive(in_flight.popleft(), "step")
            yield response
            if "episode_end" in response:
                ended += 1
        for rid in in_flight:
            self.receive(rid, "step")

    def stop(self, *, timeout: float | None = None) -> dict[str, Any]:
        return self.call("stop", timeout=timeout)

    # -- the end -------------------------------------------------------------------

    def close(self, timeout: float = 5.0) -> int | None:
        """Stop the operator (``stop``, end of input, then kill); returns its exit status."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProtocolError):
                self.stop(timeout=min(timeout, 5.0))
        with contextlib.suppress(OSError):
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        with contextlib.suppress(OSError):
            assert self.proc.stdout is not None
            self.proc.stdout.close()
        self._stderr_thread.join(timeout=1.0)
        self._cleanup_segments()
        return code

    def _cleanup_segments(self) -> None:
        """Remove the fastlane rings of a process that is gone (a crash leaves them behind)."""
        if not self._segments or self.proc.poll() is None:
            return
        from mosaic_core._fastlane import FastlaneReader

        for name in self._segments:
            with contextlib.suppress(ProtocolError, OSError, ValueError):
                FastlaneReader(name).close(cleanup=True)

    def __enter__(self) -> OperatorClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

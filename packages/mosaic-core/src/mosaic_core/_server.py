"""The operator step protocol, version 1, served over a process's stdin and stdout.

One JSON command per input line, ``{"cmd": ..., "id": ...}``; every
response is one JSON line carrying the request's ``id``:

=================================================  ==========================================
request                                            response(s)
=================================================  ==========================================
``reset {seed?}``                                  ``ready``
``step {action?, render?}``                        ``step``; at an episode's end also
                                                   ``episode_end``, then the next episode
                                                   starts by itself
``select_action {observation, info?,               ``action_selected {action, agent}``
action_mask?, agent?}``
``ping``                                           ``pong``
``stop``                                           ``stopped``
=================================================  ==========================================

Anything wrong (bad JSON, JSON nested too deeply, an ``id`` that is not a
number, a string of valid Unicode or null, an unknown command, a missing
field, an illegal action, a request after ``stop``, an operator that raised,
a line over 64 MiB) is answered by ``error {message}`` and the loop goes
on: every non-blank line gets at least one answer. The server reads input in
chunks and answers a chunk's commands in one write, so a client may send
many commands before reading (pipelining). Frames go to fastlane and a
``step`` carries only a reference (see :mod:`mosaic_core._fastlane`).

While it serves, the process's own file descriptors 0 and 1 point at
``/dev/null`` and stderr, so a library that prints cannot corrupt the
protocol.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import select
import signal
import sys
import traceback
from collections.abc import Callable, Mapping
from typing import Any

from mosaic_core._arena import make_arena
from mosaic_core._errors import did_you_mean, short_repr
from mosaic_core._family_registry import make_env
from mosaic_core._operator import Operator
from mosaic_core._session import NOT_GIVEN, PROTOCOL_VERSION, RenderMode, Session, SessionError

__all__ = ["COMMANDS", "InteractiveServer"]

COMMANDS = ("reset", "step", "select_action", "ping", "stop")
_FLUSH_EVERY = 64
MAX_LINE = 64 << 20  # bytes; a longer request line is answered with an error and dropped

_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=True).encode


class InteractiveServer:
    """Serves one :class:`~mosaic_core._session.Session` (any operators, any environment)
    over the step protocol.

    ``operators`` is one operator (for every agent) or a mapping from agent
    id to operator. ``env`` is an environment object, a Gymnasium id or
    ``module:factory`` (see :class:`~mosaic_core.EnvSpec`), or None
    for a server that only answers ``select_action``.
    """

    def __init__(
        self,
        operators: Operator | Mapping[str, Operator] | None = None,
        env: Any = None,
        *,
        env_id: str | None = None,
        run_id: str | None = None,
        render: RenderMode = "fastlane",
        session: Session | None = None,
    ) -> None:
        if session is None:
            if operators is None:
                raise TypeError("InteractiveServer needs operators (or a session)")
            if isinstance(env, str):
                env_id = env_id or env
                env = make_env(env, render_mode="rgb_array" if render != "none" else None)
            arena = make_arena(env, env_id or _env_name(env)) if env is not None else None
            mapping: dict[Any, Operator] = (
                dict(operators) if isinstance(operators, Mapping) else {None: operators}
            )
            session = Session(
                arena,
                mapping,
                run_id=run_id or os.environ.get("MOSAIC_RUN_ID") or _new_run_id(),
                render=render,
            )
        self.session = session
        self.stopped = False
        self._handlers: dict[str, Callable[[dict[str, Any]], list[dict[str, Any]]]] = {
            "reset": self._reset,
            "step": self._step,
            "select_action": self._select_action,
            "ping": self._ping,
            "stop": self._stop,
        }

    # -- one request ---------------------------------------------------------------

    def handle(self, request: Any) -> list[dict[str, Any]]:
        """The responses to one decoded request (never raises for a bad request)."""
        if not isinstance(request, dict):
            return [_error(None, f"expected a JSON object such as {{\"cmd\": \"ping\", \"id\": 1}}"
                           f", got {_short(request)}")]  # fmt: skip
        rid = request.get("id")
        problem = _bad_id(rid)
        if problem is not None:
            return [_error(None, problem)]
        cmd = request.get("cmd")
        if self.stopped:
            return [
                _error(rid, f"{_short(cmd)} after stop: this operator has stopped; start a new one")
            ]
        handler = self._handlers.get(cmd) if isinstance(cmd, str) else None
        if handler is None:
            if cmd is None:
                message = "missing field 'cmd'"
            else:
                message = f"unknown command {_short(cmd)}"
                if isinstance(cmd, str):
                    message += did_you_mean(cmd, COMMANDS)
            return [_error(rid, f"{message}; expected one of {', '.join(COMMANDS)}")]
        try:
            responses = handler(request)
        except Exception as exc:  # noqa: BLE001 - an operator or env failure ends no session
            return [_failed(rid, cmd, exc)]
        for response in responses:
            response["id"] = rid
        return responses

    def handle_line(self, line: bytes | str) -> list[bytes]:
        """Encoded response lines for one raw request line (at least one, always)."""
        try:
            rid = _plain_step_id(line)
            if rid is not None and not self.stopped:
                return self._plain_step(rid)
            try:
                request = json.loads(line)
            except RecursionError:
                return [_line(_error(None, "bad JSON: nested too deeply to read"))]
            except ValueError as exc:
                return [_line(_error(None, f"bad JSON ({exc}): {_short(line)}"))]
            return [_line(r) for r in self.handle(request)] or [
                _line(_error(None, "the request produced no response"))
            ]
        except Exception as exc:  # noqa: BLE001 - one bad line never ends the session
            traceback.print_exc(file=sys.stderr)
            return [_line(_error(None, f"could not answer this line: {type(exc).__name__}"))]

    def _plain_step(self, rid: int) -> list[bytes]:
        """``{"cmd":"step","id":N}``, every line of a pipelined client: what :meth:`handle`
        answers, byte for byte, without its request and response dicts."""
        try:
            record, end = self.session.step()
        except Exception as exc:  # noqa: BLE001 - as in handle
            return [_line(_failed(rid, "step", exc))]
        line = _step_line(record, rid)
        out = [line if line is not None else _line({"type": "step", **record, "id": rid})]
        if end is not None:
            out.append(_line({"type": "episode_end", **end, "id": rid}))
        return out

    def _reset(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        ready = self.session.reset(request.get("seed"))
        ready["fastlane"] = self.session.fastlane_name
        return [{"type": "ready", **ready}]

    def _step(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        render = request.get("render")
        if render is not None and not isinstance(render, bool):
            raise SessionError(f"step: render {render!r} must be true or false")
        record, end = self.session.step(request.get("action", NOT_GIVEN), render=render)
        responses = [{"type": "step", **record}]
        if end is not None:
            responses.append({"type": "episode_end", **end})
        return responses

    def _select_action(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        if "observation" not in request:
            raise SessionError("select_action: missing field 'observation'")
        info = request.get("info")
        if info is not None and not isinstance(info, dict):
            raise SessionError(f"select_action: info must be an object, got {_short(info)}")
        agent = request.get("agent")
        action = self.session.select_action(
            request["observation"], info, request.get("action_mask"), agent
        )
        return [{"type": "action_selected", "action": action, "agent": agent}]

    def _ping(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"type": "pong", "protocol": PROTOCOL_VERSION, "pid": os.getpid()}]

    def _stop(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        self.stopped = True
        self.session.close()
        return [{"type": "stopped"}]

    # -- the loop ------------------------------------------------------------------

    def serve(
        self, in_fd: int | None = None, out_fd: int | None = None, *, linger: float = 1.0
    ) -> int:
        """Answer commands until input ends; returns the exit status (0).

        With no descriptors given it serves the process's stdin and stdout.
        After ``stop`` it answers further commands with ``error`` until its
        input closes or ``linger`` seconds pass without one.
        """
        if in_fd is None or out_fd is None:
            in_fd, out_fd = _take_stdio()
        previous = signal.getsignal(signal.SIGTERM)
        with contextlib.suppress(ValueError):  # not the main thread: leave signals alone
            signal.signal(signal.SIGTERM, _exit_on_signal)
        try:
            self._loop(in_fd, out_fd, linger)
        except BrokenPipeError:
            pass  # the client went away: nothing to answer
        finally:
            self.session.close()
            with contextlib.suppress(ValueError):
                signal.signal(signal.SIGTERM, previous)
        return 0

    def _loop(self, in_fd: int, out_fd: int, linger: float) -> None:
        pending = b""
        dropping = False  # inside a line longer than MAX_LINE
        while True:
            if self.stopped and not select.select([in_fd], [], [], linger)[0]:
                return
            data = os.read(in_fd, 1 << 16)
            if not data:
                return
            *lines, pending = (pending + data).split(b"\n")
            out: list[bytes] = []
            if dropping and lines:
                lines[0], dropping = b"", False  # the rest of the overlong line
            for line in lines:
                if line.strip():
                    out.extend(self.handle_line(line))
                    if len(out) >= _FLUSH_EVERY:
                        _write_all(out_fd, b"".join(out))
                        out = []
            if len(pending) > MAX_LINE:
                out.append(_line(_error(None, f"request line longer than {MAX_LINE} bytes")))
                pending, dropping = b"", True
            if out:
                _write_all(out_fd, b"".join(out))


def _take_stdio() -> tuple[int, int]:
    """Private copies of fds 0 and 1 for the protocol; the originals go to /dev/null and stderr."""
    sys.stdout.flush()
    in_fd, out_fd = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    return in_fd, out_fd


def _exit_on_signal(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


_STEP_PREFIX = b'{"cmd":"step","id":'
_STEP_LINE = (
    '{"type":"step","step_index":%d,"action":%d,"reward":%r,"terminated":%s,"truncated":%s,'
    '"episode_reward":%r,"episode_done":%s,"render":%s,"id":%d}\n'
)
_BOOL = {True: "true", False: "false"}


def _plain_step_id(line: bytes | str) -> int | None:
    """The id of ``{"cmd":"step","id":N}`` exactly (the hot path of a pipelined client),
    read without json; None for any other line."""
    if isinstance(line, bytes) and line.startswith(_STEP_PREFIX) and line.endswith(b"}"):
        digits = line[len(_STEP_PREFIX) : -1]
        if digits.isdigit() and len(digits) < 18:
            return int(digits)
    return None


def _step_line(r: dict[str, Any], rid: int) -> bytes | None:
    """The ``step`` answer to request ``rid`` of a single-agent record ``r`` with an integer
    action, formatted without json (the same bytes)."""
    action, reward, total = r["action"], r["reward"], r["episode_reward"]
    if not (type(action) is int and type(reward) is type(total) is float):
        return None
    if not (math.isfinite(reward) and math.isfinite(total)) or len(r) != 8:
        return None
    render = r["render"]
    return (
        _STEP_LINE
        % (
            r["step_index"], action, reward, _BOOL[r["terminated"]], _BOOL[r["truncated"]],
            total, _BOOL[r["episode_done"]], "null" if render is None else _encode(render), rid,
        )
    ).encode()  # fmt: skip


def _line(response: dict[str, Any]) -> bytes:
    try:
        return (_encode(response) + "\n").encode()
    except (TypeError, ValueError, RecursionError) as exc:
        # Not JSON, or not UTF-8 (a lone surrogate): say so, in plain ASCII JSON.
        message = f"response is not JSON-serialisable: {type(exc).__name__}: {_short(str(exc))}"
        fallback = _error(response.get("id"), message)
        return (json.dumps(fallback, ensure_ascii=True, default=repr) + "\n").encode()


def _failed(rid: Any, cmd: Any, exc: Exception) -> dict[str, Any]:
    """The ``error`` answer to a command that raised: a request the session refused says
    why; anything else (an operator or environment that failed) leaves its traceback on
    stderr."""
    if isinstance(exc, SessionError):
        return _error(rid, str(exc))
    traceback.print_exc(file=sys.stderr)
    return _error(rid, f"{cmd} failed: {type(exc).__name__}: {exc}")


def _error(rid: Any, message: str) -> dict[str, Any]:
    return {"type": "error", "id": rid, "message": message}


def _bad_id(rid: Any) -> str | None:
    """Why ``id`` cannot be echoed back (None if it can): a number, a string or null."""
    if rid is None or isinstance(rid, int):
        return None
    if isinstance(rid, float) and math.isfinite(rid):
        return None
    if isinstance(rid, str):
        try:
            rid.encode("utf-8")
        except UnicodeEncodeError:
            return "'id' holds a lone surrogate; expected a string of valid Unicode"
        return None
    return f"'id' must be a number, a string or null, got {_short(rid)}"


def _short(value: Any) -> str:
    return (
        short_repr(value.decode("utf-8", "replace") if isinstance(value, bytes) else value)
        .encode("utf-8", "backslashreplace")
        .decode("utf-8")
    )


def _env_name(env: Any) -> str:
    spec = getattr(env, "spec", None)
    if spec is not None and getattr(spec, "id", None):
        return str(spec.id)
    metadata = getattr(env, "metadata", None) or {}
    return str(metadata.get("name") or type(env).__name__)


def _new_run_id() -> str:
    from mosaic_core._ulid import new_ulid

    return new_ulid()

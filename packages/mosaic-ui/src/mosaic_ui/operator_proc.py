"""An operator process driven from the event loop: the step protocol without a blocking read.

The process is the host's (``python -m mosaic_core.operator_main``, its command
line from :func:`mosaic_core.operators.client.operator_command`); this is only
its wire, spoken with asyncio pipes so that a server drives many of them from
one thread and a slow or dead one holds up nobody else.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import signal
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["OperatorGone", "OperatorProcess", "OperatorRefused"]


class OperatorGone(Exception):
    """The process ended (or closed its output) while an answer was awaited."""


class OperatorRefused(Exception):
    """The process answered a command with ``error``."""


class OperatorProcess:
    """One operator process; one task drives it (commands are answered in order)."""

    def __init__(self, proc: asyncio.subprocess.Process, argv: Sequence[str]) -> None:
        self.proc, self.argv = proc, list(argv)
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=30)
        self._next_id = 1
        self._drain = asyncio.get_running_loop().create_task(self._read_stderr())

    @classmethod
    async def start(cls, argv: Sequence[str], environ: Mapping[str, str]) -> OperatorProcess:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=dict(environ), limit=1 << 24,
            start_new_session=True,
        )  # fmt: skip
        return cls(proc, argv)

    @property
    def pid(self) -> int:
        return int(self.proc.pid)

    async def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        while line := await self.proc.stderr.readline():
            self.stderr_tail.append(line.decode("utf-8", "replace").rstrip("\n"))

    async def _gone(self, doing: str) -> OperatorGone:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.proc.wait(), 2.0)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._drain), 1.0)
        code = self.proc.returncode
        if code is None:
            how = "closed its output"
        elif code < 0:
            how = f"was killed by {signal.Signals(-code).name}"
        else:
            how = f"exited with status {code}"
        lines = [line for line in self.stderr_tail if line.strip()]
        last = f": {lines[-1].strip()}" if lines else ""
        return OperatorGone(f"operator process {self.pid} {how} {doing}{last}")

    async def call(self, cmd: str, timeout: float = 120.0, **fields: Any) -> dict[str, Any]:
        """Send ``cmd`` and await its answer; a ``step`` that ended an episode carries the
        ``episode_end`` record under that key."""
        rid = self._next_id
        self._next_id += 1
        assert self.proc.stdin is not None and self.proc.stdout is not None
        line = json.dumps({"cmd": cmd, "id": rid, **fields}, separators=(",", ":"))
        try:
            self.proc.stdin.write(line.encode() + b"\n")
            await self.proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            raise await self._gone(f"while sending {cmd!r}") from None
        response = await self._read(cmd, timeout)
        while response.get("id") != rid:
            response = await self._read(cmd, timeout)
        if response.get("type") == "error":
            raise OperatorRefused(str(response.get("message")))
        if response.get("type") == "step" and response.get("episode_done"):
            response["episode_end"] = await self._read(cmd, timeout)
        return response

    async def _read(self, cmd: str, timeout: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        try:
            raw = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        except asyncio.TimeoutError:
            raise OperatorGone(
                f"operator process {self.pid} sent no answer to {cmd!r} in {timeout:.0f} s"
            ) from None
        if not raw:
            raise await self._gone(f"before answering {cmd!r}")
        try:
            response = json.loads(raw)
        except ValueError:
            raise OperatorGone(f"operator process {self.pid} wrote {raw[:80]!r}") from None
        if not isinstance(response, dict):
            raise OperatorGone(f"operator process {self.pid} wrote {raw[:80]!r}")
        return response

    async def close(self) -> None:
        """``stop``, end of input, then a kill after 5 s."""
        if self.proc.returncode is None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.call("stop"), 3.0)
            with contextlib.suppress(Exception):
                assert self.proc.stdin is not None
                self.proc.stdin.close()
            try:
                await asyncio.wait_for(self.proc.wait(), 5.0)
            except asyncio.TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                await self.proc.wait()
        self._drain.cancel()

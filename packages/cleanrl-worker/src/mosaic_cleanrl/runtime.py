"""Runs one CleanRL script, unmodified, as ``python -m cleanrl.<script> --flags``.

The script's process gets ``mosaic_cleanrl/_site`` on its PYTHONPATH, whose
``sitecustomize`` installs :mod:`mosaic_cleanrl.child_hooks`: each
``add_scalar`` comes back over a private pipe and leaves this process as a
``metrics`` event, and the trained networks are saved to the run's
``checkpoints/``. This process owns the run's telemetry (one ``seq``
series), heartbeats, and the manifest, through the run's
:class:`~mosaic_core.RunContext`.

Stopping (``mosaic cancel``, Ctrl-C on ``mosaic run``, a timeout): the
supervisor's SIGTERM reaches the script too, which saves its networks and
ends. This process keeps relaying until the script is gone (or the grace
period nearly is), records that checkpoint, writes the manifest and ends
the run with ``run_cancelled``, which names the checkpoint.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import pathlib
import select
import signal
import subprocess
import sys
import time
from typing import Any

from mosaic_cleanrl.config import ALGORITHMS, CleanRLConfig
from mosaic_cleanrl.envcheck import env_spaces
from mosaic_cleanrl.scripts import cleanrl_version
from mosaic_core import ConfigError, RunCancelled, RunContext, RunHandle

__all__ = ["CleanRLRuntime", "check_env"]

SITE_DIR = pathlib.Path(__file__).parent / "_site"
_FLUSH_IDLE = 0.05


def check_env(config: CleanRLConfig) -> tuple[Any, Any]:
    """Make the env once with the script's own gym, in this process; a mismatch is a
    ConfigError. Returns its observation and action spaces. (A run checks it in the
    script's process, with the same code.)"""
    observations, space = env_spaces(importlib.import_module(config.gym), config.env_id)
    _check_actions(config, type(space).__name__, str(space))
    return observations, space


def _check_actions(config: CleanRLConfig, kind: str, shown: str) -> None:
    """A ConfigError unless actions of ``kind`` (a space's class name) are the algorithm's."""
    wanted = "Discrete" if config.action_space == "discrete" else "Box"
    if kind != wanted:
        fitting = [
            name for name, cls in ALGORITHMS.items() if cls.action_space != config.action_space
        ]
        raise ConfigError.bad_value(
            "algorithm",
            config.algorithm,
            f"an algorithm for {kind} actions: {config.env_id} has {shown}, and "
            f"{config.algorithm} needs a {config.action_space} ({wanted}) action space; "
            f"use one of {', '.join(fitting)}",
        )


class _StopRequest:
    """SIGTERM while the script runs: noted, not raised, so the relay goes on and the
    checkpoint the script saves on the same signal is recorded."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self.at = 0.0

    def __call__(self, signum: int, frame: Any) -> None:
        if self.reason is None:
            self.reason = f"received {signal.Signals(signum).name}"
            self.at = time.monotonic()


class CleanRLRuntime:
    """Implements :class:`mosaic_core.WorkerRuntime` for one CleanRL script run."""

    def __init__(self, config: CleanRLConfig, context: RunContext) -> None:
        self.config = config
        self.context = context
        self.cleanrl_version = cleanrl_version()
        self.last_values: dict[str, float] = {}
        self.returns: list[float] = []
        self.global_step = 0

    def command(self) -> list[str]:
        return [sys.executable, "-m", f"cleanrl.{self.config.script}", *self.config.flags()]

    def run(self) -> dict[str, Any]:
        c = self.config
        with self.context.lifecycle(
            algorithm=c.algorithm,
            env_id=c.env_id,
            seed=c.effective_seed,
            total_steps=c.total_steps,
            script=f"cleanrl.{c.script}",
        ) as run:
            stopped = self._train(run)
            self._write_manifest()
            checkpoint = self.context.checkpoints[-1] if self.context.checkpoints else None
            if stopped is not None:
                # The checkpoint the script saved on SIGTERM is recorded: end as cancelled.
                run.emitter.run_cancelled(
                    reason=stopped, checkpoint=checkpoint, global_step=self.global_step
                )
                raise RunCancelled(stopped)
            run.summary.update(
                algorithm=c.algorithm,
                env_id=c.env_id,
                seed=c.effective_seed,
                global_step=self.global_step,
                episodes=len(self.returns),
                mean_return_last_10=(
                    sum(self.returns[-10:]) / len(self.returns[-10:]) if self.returns else None
                ),
                checkpoint=checkpoint,
                final_metrics=self.last_values,
            )
        return run.summary

    def _write_manifest(self) -> None:
        c = self.config
        self.context.write_manifest(
            algorithm=c.algorithm,
            script=f"cleanrl.{c.script}",
            env_id=c.env_id,
            seed=c.effective_seed,
            total_steps=c.total_steps,
            global_step=self.global_step,
            cleanrl_version=self.cleanrl_version,
            config=c.to_dict(),
        )

    def _child_env(self, channel: int) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("MOSAIC_TELEMETRY_FD", None)  # the script talks to this process, not the store
        env["MOSAIC_CLEANRL_CHANNEL"] = str(channel)
        env["MOSAIC_CLEANRL_SCRIPT"] = f"cleanrl.{self.config.script}"
        env["MOSAIC_CLEANRL_ALGORITHM"] = self.config.algorithm
        env["MOSAIC_CLEANRL_VERSION"] = self.cleanrl_version or ""
        env["MOSAIC_CLEANRL_RUN_DIR"] = str(self.context.run_dir)  # where the hooks write
        every = self.config.checkpoint_every
        env["MOSAIC_CLEANRL_CHECKPOINT_EVERY"] = str(every) if every else ""
        env["MOSAIC_CLEANRL_ENV_ID"] = self.config.env_id  # checked as the script imports
        env["MOSAIC_CLEANRL_GYM"] = self.config.gym  # its gym
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SITE_DIR), env.get("PYTHONPATH")]))
        env.setdefault("SDL_VIDEODRIVER", "dummy")  # old gym opens a display otherwise
        env.setdefault("OMP_NUM_THREADS", "1")  # torch's default threads thrash small machines
        return env

    def _train(self, run: RunHandle) -> str | None:
        """Run the script to its end; returns why it was stopped, or None if it was not."""
        stop = _StopRequest()
        previous = signal.signal(signal.SIGTERM, stop)
        try:
            read_fd, write_fd = os.pipe()
            try:
                proc = subprocess.Popen(
                    self.command(),
                    cwd=self.context.run_dir,
                    env=self._child_env(write_fd),
                    stdin=subprocess.DEVNULL,
                    pass_fds=(write_fd,),
                )
            finally:
                os.close(write_fd)
            try:
                with os.fdopen(read_fd, "rb") as channel:
                    self._relay(channel, run, proc, stop)
                code = proc.wait()
            except BaseException:
                _stop(proc)
                raise
        finally:
            signal.signal(signal.SIGTERM, previous)
        if stop.reason is not None:
            return stop.reason
        if code != 0:
            how = f"signal {signal.Signals(-code).name}" if code < 0 else f"status {code}"
            raise RuntimeError(
                f"cleanrl.{self.config.script} exited with {how}; its output is in the run's "
                "stderr.log"
            )
        return None

    def _env_checked(self, proc: subprocess.Popen[bytes], message: list[Any]) -> None:
        """The script's process made the env as it imported its gym (``["e", observation,
        action, shown]``: the spaces described, the action space as text), or could not
        (``["x", expected, hint]``). A failed check is the run's ConfigError; the script,
        which has done nothing worth keeping yet, is SIGKILLed and reaped first (a SIGTERM
        would wait for its handler, which Python runs only between bytecodes of the
        imports). Else the spaces go into the manifest before the script trains."""
        c = self.config
        try:
            if message[0] == "x":
                _, expected, hint = message
                raise ConfigError.bad_value("env_id", c.env_id, expected, hint=hint)
            _, observation, action, shown = message
            _check_actions(c, action["type"], shown)
        except ConfigError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait()
            raise
        self.context.record_spaces(observation, action, env_id=c.env_id)

    def _relay(
        self, channel: Any, run: RunHandle, proc: subprocess.Popen[bytes], stop: _StopRequest
    ) -> None:
        """Turn the script's scalars into metrics events, one per global step, its
        checkpoints into recorded ones and its env check into the manifest's spaces (or
        the run's ConfigError), until the script closes the channel."""
        pending_step: int | None = None
        pending: dict[str, float] = {}
        buffer = b""
        fd = channel.fileno()
        forwarded = killed = False
        # Leave time, within the grace period, to record the checkpoint and end the run.
        grace = self.context.stop_grace
        patience = max(grace - 1.0, grace * 0.6)
        while True:
            if stop.reason is not None and not killed:
                if not forwarded:
                    forwarded = True
                    with contextlib.suppress(ProcessLookupError):
                        proc.send_signal(signal.SIGTERM)  # if only this process was signalled
                elif time.monotonic() - stop.at > patience:
                    killed = True
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
            ready, _, _ = select.select([fd], [], [], _FLUSH_IDLE)
            if not ready:
                if pending:
                    self._emit(run, pending_step, pending)
                    pending = {}
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                message = json.loads(line)
                if message[0] == "s":
                    _, step, tag, value = message
                    if pending and step != pending_step:
                        self._emit(run, pending_step, pending)
                        pending = {}
                    pending_step = step
                    pending[tag] = value
                    if tag == "charts/episodic_return":
                        self.returns.append(value)
                elif message[0] == "c":
                    if pending:  # the metrics the script logged before it saved come first
                        self._emit(run, pending_step, pending)
                        pending = {}
                    _, path, step, modules, reason = message
                    if step is not None:
                        self.global_step = max(self.global_step, step)
                    self.context.record_checkpoint(path, step=step, modules=modules, reason=reason)
                elif message[0] in ("e", "x"):
                    self._env_checked(proc, message)
        if pending:
            self._emit(run, pending_step, pending)

    def _emit(self, run: RunHandle, step: int | None, values: dict[str, float]) -> None:
        if step is not None:
            self.global_step = max(self.global_step, step)
        self.last_values.update(values)
        run.metrics(self.global_step if step is None else step, values)


def _stop(proc: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(grace)

"""Observers installed in the CleanRL script's own process, from outside the script.

- ``SummaryWriter.add_scalar`` also sends ``[step, tag, value]`` to the worker
  over the pipe named by ``MOSAIC_CLEANRL_CHANNEL``; the writer's log
  directory becomes the run's ``tensorboard/``.
- The run's environment is made once as the script imports its gym
  (:mod:`mosaic_cleanrl.envcheck`): the worker gets its spaces, described
  as mosaic_core describes spaces, before the script trains; or, for an id
  that gym cannot make, the error, and the process ends (status 2) before
  the script does anything.
- stable-baselines3's ``ReplayBuffer`` gets gymnasium spaces when an old-gym
  script hands it gym spaces (stable-baselines3 2.x accepts only gymnasium's).
- Every ``torch.nn.Module`` among the script's globals is saved, with what is
  needed to rebuild it: to ``checkpoints/final.pt`` when the script ends
  normally; to ``checkpoints/step_<N>.pt`` at the first logged step past
  each multiple of ``checkpoint_every``; and to ``checkpoints/step_<N>.pt``
  when SIGTERM arrives (the supervisor stopping the run), after which the
  process ends by that SIGTERM. Each save is announced to the worker, which
  records it in the run's manifest.

Modules are patched right after they are first imported (a post-import
hook), so nothing heavy is imported before the script asks for it. Only the
standard library is used at install time; ``mosaic_core`` (for its one
format of spaces) is imported when the environment is checked.

The worker tells the script's process what it needs in
``MOSAIC_CLEANRL_RUN_DIR`` (the run's directory, from its ``RunContext``;
also the script's working directory), ``MOSAIC_CLEANRL_CHANNEL``,
``MOSAIC_CLEANRL_SCRIPT``, ``MOSAIC_CLEANRL_ALGORITHM``,
``MOSAIC_CLEANRL_VERSION``, ``MOSAIC_CLEANRL_CHECKPOINT_EVERY`` (empty:
no periodic checkpoints), and the environment to check, ``MOSAIC_CLEANRL_ENV_ID``,
made with the gym library ``MOSAIC_CLEANRL_GYM`` (both empty: no check).
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import signal
import sys
import threading
import traceback
import weakref
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

CHECKPOINT = "checkpoints/final.pt"
#: What the checkpoint holds, and how; 1 (worker 0.1.0) had its own description of spaces.
CHECKPOINT_FORMAT = "mosaic-cleanrl/2"

_channel_fd: int | None = None
_failed = False
#: Set by the first SIGTERM: the checkpoint is being saved and the process is ending.
_stopping = False
#: ``checkpoint_every`` and the step at or past which the next periodic checkpoint is due.
_every: int | None = None
_next_due = 0
#: The script's SummaryWriters, flushed when the process is stopped.
_writers: weakref.WeakSet[Any] = weakref.WeakSet()


def send(message: list[Any]) -> None:
    if _channel_fd is None:
        return
    try:
        os.write(_channel_fd, (json.dumps(message, separators=(",", ":")) + "\n").encode())
    except OSError:
        pass  # the worker is gone; the script still finishes its work


class _PostImport(importlib.abc.MetaPathFinder):
    """Runs ``patch(module)`` right after ``name`` is executed for the first time."""

    def __init__(self, patches: dict[str, Callable[[ModuleType], None]]) -> None:
        self.patches = patches

    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        patch = self.patches.get(name)
        if patch is None:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        original = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            original(module)
            patch(module)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def _check_env(gym: ModuleType) -> None:
    """Right after the script's gym is imported: make the run's env once and send its
    spaces, or the reason it cannot be made, and end the process with status 2."""
    from mosaic_cleanrl.envcheck import env_spaces
    from mosaic_core import ConfigError, RunContext

    try:
        observation, action = env_spaces(gym, os.environ["MOSAIC_CLEANRL_ENV_ID"])
    except ConfigError as exc:
        send(["x", exc.expected, exc.hint])
        raise SystemExit(2) from None
    describe = RunContext.describe_space
    send(["e", describe(observation), describe(action), str(action)])


def _patch_writer(module: ModuleType) -> None:
    writer_cls = module.SummaryWriter
    init, add_scalar = writer_cls.__init__, writer_cls.add_scalar
    log_dir = os.path.join(os.environ["MOSAIC_CLEANRL_RUN_DIR"], "tensorboard")

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if args:
            args = (log_dir, *args[1:])
        else:
            kwargs["log_dir"] = log_dir
        init(self, *args, **kwargs)
        _writers.add(self)

    def observed_add_scalar(
        self: Any, tag: str, scalar_value: Any, global_step: Any = None, *args: Any, **kwargs: Any
    ) -> Any:
        result = add_scalar(self, tag, scalar_value, global_step, *args, **kwargs)
        try:
            value = float(scalar_value)
            step = int(global_step) if global_step is not None else None
        except (TypeError, ValueError):
            return result
        send(["s", step, tag, value])
        if _every is not None and step is not None and step >= _next_due and not _stopping:
            _periodic_checkpoint(step)
        return result

    writer_cls.__init__ = __init__
    writer_cls.add_scalar = observed_add_scalar


def _to_gymnasium(space: Any) -> Any:
    if not type(space).__module__.startswith("gym."):
        return space
    import gymnasium

    name = type(space).__name__
    if name == "Box":
        return gymnasium.spaces.Box(space.low, space.high, space.shape, space.dtype)
    if name == "Discrete":
        return gymnasium.spaces.Discrete(int(space.n))
    if name == "MultiDiscrete":
        return gymnasium.spaces.MultiDiscrete(space.nvec)
    if name == "MultiBinary":
        return gymnasium.spaces.MultiBinary(space.n)
    return space


def _patch_buffers(module: ModuleType) -> None:
    for cls_name in ("ReplayBuffer", "RolloutBuffer"):
        cls = getattr(module, cls_name, None)
        if cls is None:
            continue
        init = cls.__init__

        def __init__(
            self: Any, buffer_size: int, observation_space: Any, action_space: Any,
            *args: Any, _init: Any = init, **kwargs: Any,
        ) -> None:  # fmt: skip
            _init(
                self, buffer_size, _to_gymnasium(observation_space), _to_gymnasium(action_space),
                *args, **kwargs,
            )  # fmt: skip

        cls.__init__ = __init__


def _save_checkpoint(relative: str, reason: str) -> None:
    """Save the script's networks to ``relative`` (in the run directory) and announce it."""
    if "torch" not in sys.modules:
        return  # the script has not built a network yet
    import torch

    from mosaic_core import RunContext

    main = sys.modules.get("__main__")
    namespace = vars(main) if main is not None else {}
    modules = {
        name: value.state_dict()
        for name, value in namespace.items()
        if isinstance(value, torch.nn.Module)
    }
    if not modules:
        return
    envs = namespace.get("envs")
    args = namespace.get("args")
    describe = RunContext.describe_space
    step = namespace.get("global_step")
    data = {
        "format": CHECKPOINT_FORMAT,
        "script": os.environ.get("MOSAIC_CLEANRL_SCRIPT"),
        "algorithm": os.environ.get("MOSAIC_CLEANRL_ALGORITHM"),
        "cleanrl_version": os.environ.get("MOSAIC_CLEANRL_VERSION") or None,
        "args": {k: v for k, v in vars(args).items() if _plain(v)} if args is not None else {},
        "observation_space": describe(envs.single_observation_space) if envs else None,
        "action_space": describe(envs.single_action_space) if envs else None,
        "global_step": step,
        "reason": reason,
        "modules": modules,
    }
    path = os.path.join(os.environ["MOSAIC_CLEANRL_RUN_DIR"], relative)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{reason}.tmp"  # a SIGTERM may come while a periodic save writes
    torch.save(data, tmp)
    os.replace(tmp, path)
    send(["c", relative, step, sorted(modules), reason])


def _final_checkpoint() -> None:
    """At a normal end of the script (not after a failure, nor when stopped)."""
    if not _failed and not _stopping:
        _save_checkpoint(CHECKPOINT, "final")


def _periodic_checkpoint(step: int) -> None:
    global _next_due
    assert _every is not None
    _next_due = (step // _every + 1) * _every
    _save_checkpoint(step_checkpoint(step), "periodic")


def step_checkpoint(step: Any) -> str:
    """The file of a checkpoint saved at ``step`` (periodic, or when stopped)."""
    return f"checkpoints/step_{int(step or 0)}.pt"


def _on_sigterm(signum: int, frame: Any) -> None:
    """Save what the script has learned, then end by the SIGTERM that asked for it."""
    global _stopping
    if _stopping:
        return  # a second SIGTERM (mosaic cancel and the supervisor each send one)
    _stopping = True
    try:
        step = getattr(sys.modules.get("__main__"), "global_step", None)
        if step:  # before the first step, nothing has been learned that is worth a file
            _save_checkpoint(step_checkpoint(step), "stopped")
    except Exception:  # noqa: BLE001 - never keep a stopped process alive; say what failed
        print("mosaic-cleanrl: saving the checkpoint on SIGTERM failed:", file=sys.stderr)
        traceback.print_exc()
    finally:
        _flush_writers()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)


def _flush_writers(timeout: float = 1.0) -> None:
    """Flush TensorBoard's files (it writes every two minutes), from a thread: the signal
    may have interrupted ``add_scalar`` holding the writer's lock, which would deadlock a
    flush from this thread; then the flush is given up after ``timeout``."""

    def flush() -> None:
        for writer in list(_writers):
            with contextlib.suppress(Exception):
                writer.flush()

    flusher = threading.Thread(target=flush, name="mosaic-cleanrl-flush", daemon=True)
    flusher.start()
    flusher.join(timeout)


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def _note_failure(hook: Callable[..., Any]) -> Callable[..., Any]:
    def excepthook(*args: Any) -> Any:
        global _failed
        _failed = True
        return hook(*args)

    return excepthook


def install() -> None:
    global _channel_fd, _every, _next_due
    _channel_fd = int(os.environ["MOSAIC_CLEANRL_CHANNEL"])
    every = os.environ.get("MOSAIC_CLEANRL_CHECKPOINT_EVERY")
    _every = int(every) if every else None
    _next_due = _every or 0
    patches: dict[str, Callable[[ModuleType], None]] = {
        "torch.utils.tensorboard.writer": _patch_writer,
        "stable_baselines3.common.buffers": _patch_buffers,
    }
    gym = os.environ.get("MOSAIC_CLEANRL_GYM")
    if gym and os.environ.get("MOSAIC_CLEANRL_ENV_ID"):
        patches[gym] = _check_env
    sys.meta_path.insert(0, _PostImport(patches))
    sys.excepthook = _note_failure(sys.excepthook)
    atexit.register(_final_checkpoint)
    signal.signal(signal.SIGTERM, _on_sigterm)

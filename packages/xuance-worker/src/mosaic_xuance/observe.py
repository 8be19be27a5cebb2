"""XuanCe's training loop seen from outside, through the one call every scalar goes through.

XuanCe logs through ``Agent.log_infos`` and ``MARLAgents.log_infos`` (to
TensorBoard or W&B); :func:`observe_log_infos` wraps them for a run, so
each call, after XuanCe has logged it, also reaches MOSAIC: the values as
``metrics`` events (:class:`MetricsRelay`), then the step, at which a
periodic checkpoint falls due (:class:`Periodic`) and a SIGTERM takes
effect (:class:`StopRequest`). These are points where XuanCe's update is
whole and its own code is not on the stack.
"""

from __future__ import annotations

import contextlib
import functools
import signal
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from mosaic_core import RunCancelled, RunHandle

__all__ = ["MetricsRelay", "Periodic", "StopRequest", "observe_log_infos"]


@contextlib.contextmanager
def observe_log_infos(
    classes: list[type], sink: Callable[[Mapping[str, Any], int], None]
) -> Iterator[None]:
    """Wrap ``log_infos`` on ``classes`` so that ``sink(info, step)`` sees every call after
    XuanCe has logged it; the originals are put back when the block ends."""
    originals = {cls: cls.__dict__["log_infos"] for cls in classes}

    def wrap(original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def log_infos(self: Any, info: dict[str, Any], x_index: int) -> Any:
            result = original(self, info, x_index)
            sink(info, x_index)
            return result

        return log_infos

    for cls, original in originals.items():
        cls.log_infos = wrap(original)  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for cls, original in originals.items():
            cls.log_infos = original  # type: ignore[attr-defined]


def _flatten(info: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """``{"A": {"env-0": 1.0}}`` -> ``{"A/env-0": 1.0}``, as XuanCe's W&B path names them."""
    out: dict[str, float] = {}
    for key, value in info.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, name + "/"))
            continue
        try:
            out[name] = float(value)
        except (TypeError, ValueError):
            continue  # None, strings, arrays: nothing TensorBoard plots as a scalar either
    return out


class MetricsRelay:
    """Turns ``log_infos`` calls into ``metrics`` events, one per training step."""

    def __init__(self, run: RunHandle) -> None:
        self.run = run
        self.step: int | None = None
        self.pending: dict[str, float] = {}
        self.last_values: dict[str, float] = {}
        self.returns: list[float] = []
        self.events = 0

    def __call__(self, info: Mapping[str, Any], step: Any) -> None:
        values = _flatten(info)
        if not values:
            return
        step = int(step)
        if self.pending and step != self.step:
            self.flush()
        self.step = step
        self.pending.update(values)
        self.returns += [v for k, v in values.items() if "Episode-Rewards" in k]

    def flush(self) -> None:
        if self.pending and self.step is not None:
            self.run.metrics(self.step, self.pending)
            self.last_values.update(self.pending)
            self.events += 1
        self.pending = {}

    def then(self, after: Callable[[int], None]) -> Callable[[Mapping[str, Any], Any], None]:
        """A sink that relays, then calls ``after(step)``."""

        def sink(info: Mapping[str, Any], step: Any) -> None:
            self(info, step)
            after(int(step))

        return sink


class StopRequest:
    """SIGTERM during training: noted by the handler, raised by :meth:`check`."""

    def __init__(self) -> None:
        self.reason: str | None = None

    def __call__(self, signum: int, frame: Any) -> None:
        if self.reason is None:
            self.reason = f"received {signal.Signals(signum).name}"

    def check(self) -> None:
        if self.reason is not None:
            raise RunCancelled(self.reason)


class Periodic:
    """Calls ``save()`` at the first step at or past each multiple of ``every`` (None: never)."""

    def __init__(self, every: int | None, save: Callable[[], object]) -> None:
        self.every = every
        self.save = save
        self.due = every or 0

    def __call__(self, step: int) -> None:
        if self.every is not None and step >= self.due:
            self.due = (step // self.every + 1) * self.every
            self.save()

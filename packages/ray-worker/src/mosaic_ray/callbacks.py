"""RLlib's results become MOSAIC telemetry, through RLlib's own callback hook.

``MosaicCallback.on_train_result`` runs in the driver after each training
iteration and hands the result to the :class:`Reporter` the runtime
installed, which emits one ``metrics`` event and writes every numeric
result to TensorBoard. RLlib also instantiates the callback in each env
runner, where no reporter is installed and it does nothing.

Result keys differ between single- and multi-agent runs in Ray 2.58:
``env_runners/agent_episode_return_mean`` (singular) for one agent,
``env_runners/agent_episode_returns_mean`` and
``env_runners/module_episode_returns_mean`` (plural) for several.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

from ray.rllib.callbacks.callbacks import RLlibCallback

__all__ = ["MosaicCallback", "Reporter", "flatten", "install", "summarize"]

_REPORTER: Reporter | None = None


def install(reporter: Reporter | None) -> None:
    """Route this process's ``on_train_result`` calls to ``reporter`` (None: nowhere)."""
    global _REPORTER
    _REPORTER = reporter


class MosaicCallback(RLlibCallback):
    def on_train_result(self, *, algorithm: Any, result: dict[str, Any], **kwargs: Any) -> None:
        if _REPORTER is not None:
            _REPORTER.on_result(result)


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def flatten(result: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, float]]:
    """Every finite numeric leaf of a result, keyed ``a/b/c``; the config is left out."""
    for key, value in result.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            if name != "config":
                yield from flatten(value, name + "/")
        elif not isinstance(value, (str, bool)):
            number = _number(value)
            if number is not None:
                yield name, number


def _is_loss(name: str) -> bool:
    return name.endswith("loss") or name in ("entropy", "alpha_value", "mean_kl_loss")


def summarize(result: Mapping[str, Any]) -> tuple[int, dict[str, float]]:
    """``(env steps so far, the scalars of one metrics event)`` from an RLlib result."""
    runners = result.get("env_runners") or {}
    step = _number(result.get("num_env_steps_sampled_lifetime"))
    if step is None:
        step = _number(runners.get("num_env_steps_sampled_lifetime")) or 0.0
    values: dict[str, float] = {}

    def put(name: str, value: Any) -> None:
        number = _number(value)
        if number is not None:
            values[name] = number

    put("charts/episodic_return", runners.get("episode_return_mean"))
    put("charts/episodic_length", runners.get("episode_len_mean"))
    for key in ("agent_episode_returns_mean", "module_episode_returns_mean"):
        for who, value in (runners.get(key) or {}).items():
            put(f"env_runners/{key}/{who}", value)
    for module, stats in (result.get("learners") or {}).items():
        if module == "__all_modules__" or not isinstance(stats, Mapping):
            continue
        for name, value in stats.items():
            if _is_loss(name):
                put(f"learners/{module}/{name}", value)
    seconds = _number(result.get("time_this_iter_s"))
    sampled = _number(runners.get("num_env_steps_sampled"))
    if seconds and sampled is not None:
        values["perf/env_steps_per_s"] = sampled / seconds
    put("training_iteration", result.get("training_iteration"))
    put("env_steps", step)
    return int(step), values


class Reporter:
    """Turns each iteration's result into a ``metrics`` event and TensorBoard scalars."""

    def __init__(self, run: Any, writer: Any = None) -> None:
        self.run = run
        self.writer = writer
        self.step = 0
        self.iterations = 0
        self.last: dict[str, float] = {}
        self.returns: list[float] = []

    def on_result(self, result: Mapping[str, Any]) -> None:
        step, values = summarize(result)
        self.step = step
        self.iterations += 1
        self.last.update(values)
        if "charts/episodic_return" in values:
            self.returns.append(values["charts/episodic_return"])
        if self.run.emitter.finished:
            return  # cancelled while training: the run has ended, its telemetry too
        self.run.metrics(step, values)
        if self.writer is not None:
            for name, value in flatten(result):
                self.writer.add_scalar(name, value, step)
            self.writer.flush()

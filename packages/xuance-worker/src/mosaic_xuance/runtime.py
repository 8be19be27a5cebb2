"""Trains one XuanCe agent in this process: ``xuance.get_runner(...)`` then ``runner.run("train")``.

XuanCe is imported as a library, never edited. Its YAML config for the
algorithm and task is the base; the typed config's fields override it
through ``parser_args``. Telemetry comes from XuanCe's own logging path:
every scalar it logs goes through ``Agent.log_infos`` or
``MARLAgents.log_infos``, which are wrapped on their classes for the run,
so each call still reaches TensorBoard and also leaves as a ``metrics``
event. XuanCe's tqdm bars and prints go to the run's log files. The
trained networks are saved to ``checkpoints/`` beside
``xuance_config.json``, the config and spaces that rebuild the agent; the
run's :class:`~mosaic_core.RunContext` announces the checkpoint and writes
the manifest.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import os
import pathlib
import types
from collections.abc import Callable, Iterator, Mapping
from importlib import metadata
from typing import Any

from mosaic_core import ConfigError, MosaicError, RunContext, RunHandle, did_you_mean
from mosaic_xuance.compat import building
from mosaic_xuance.config import XuanCeConfig

__all__ = ["CONFIG_FILE", "MODEL_FILE", "XuanCeRuntime", "find_yaml", "observe_log_infos"]

CONFIG_FILE = "xuance_config.json"
MODEL_FILE = "final_train_model.pth"  # the name XuanCe's runner saves under


def _xuance_dir() -> pathlib.Path:
    spec = importlib.util.find_spec("xuance")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise MosaicError(
            "XuanCe is not installed in this environment; install mosaic-xuance-worker "
            "(it depends on xuance==1.4.4) or run `mosaic env create xuance`"
        )
    return pathlib.Path(next(iter(spec.submodule_search_locations)))


def find_yaml(config: XuanCeConfig) -> pathlib.Path:
    """XuanCe's YAML config for the algorithm and task; for MPE scenarios XuanCe ships none
    for, the algorithm's simple_spread_v3 config with the scenario overridden."""
    directory = _xuance_dir() / "configs" / config.algorithm / config.family
    path = directory / f"{config.env_id}.yaml"
    if path.exists():
        return path
    if config.family == "mpe" and (directory / "simple_spread_v3.yaml").exists():
        return directory / "simple_spread_v3.yaml"
    shipped = sorted(p.stem for p in directory.glob("*.yaml"))
    raise ConfigError.bad_value(
        "env_id",
        config.env_id,
        f"a task XuanCe has a {config.algorithm} config for: {', '.join(shipped) or 'none'}"
        + did_you_mean(config.env_id, shipped),
    )


def check_parser_args(config: XuanCeConfig, yaml_path: pathlib.Path) -> None:
    """Every ``parser_args`` key must be one XuanCe reads from its YAML."""
    if not config.parser_args:
        return
    import yaml

    known = set(yaml.safe_load((yaml_path.parents[2] / "basic.yaml").read_text()) or {})
    known |= set(yaml.safe_load(yaml_path.read_text()) or {})
    for key, value in config.parser_args.items():
        if key not in known:
            raise ConfigError.bad_value(
                f"parser_args.{key}",
                value,
                f"a key of XuanCe's {config.algorithm} config ({yaml_path.name})"
                + did_you_mean(key, known),
            )


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


class _MetricsRelay:
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


class XuanCeRuntime:
    """Implements :class:`mosaic_core.WorkerRuntime` for one XuanCe training run."""

    def __init__(self, config: XuanCeConfig, context: RunContext) -> None:
        self.config = config
        self.context = context

    def run(self) -> dict[str, Any]:
        c = self.config
        yaml_path = find_yaml(c)  # config errors end the run before it starts
        check_parser_args(c, yaml_path)
        # torch's default thread count thrashes small machines; XuanCe's MPE opens no window.
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
        with self.context.lifecycle(
            algorithm=c.algorithm,
            env_id=c.env_id,
            seed=c.effective_seed,
            total_steps=c.total_steps,
            env=c.family,
            agent=c.agent,
        ) as run:
            runner = self._runner(yaml_path)
            relay = _MetricsRelay(run)
            agent = runner.agent
            try:
                with observe_log_infos(_agent_bases(), relay):
                    runner.run(mode="train")
            finally:
                relay.flush()
            steps = int(agent.current_step)
            xuance_version = metadata.version("xuance")
            self._save_config(runner, agent, xuance_version)
            model = self.context.record_checkpoint(
                f"checkpoints/{MODEL_FILE}", step=steps, config=f"checkpoints/{CONFIG_FILE}"
            )
            self.context.write_manifest(
                algorithm=c.algorithm,
                agent=c.agent,
                env=c.family,
                env_id=c.env_id,
                seed=c.effective_seed,
                total_steps=c.total_steps,
                steps=steps,
                xuance_version=xuance_version,
                config=c.to_dict(),
            )
            returns = relay.returns[-10:]
            run.summary.update(
                algorithm=c.algorithm,
                env_id=c.env_id,
                seed=c.effective_seed,
                steps=steps,
                episodes=len(relay.returns),
                mean_return_last_10=sum(returns) / len(returns) if returns else None,
                checkpoint=model,
                metrics_events=relay.events,
                final_metrics=relay.last_values,
            )
        return run.summary

    def _runner(self, yaml_path: pathlib.Path) -> Any:
        c = self.config
        _check_device(c.device)
        import xuance

        args = c.xuance_args()
        args.update(
            log_dir=str(self.context.path("tensorboard")),
            model_dir=str(self.context.path("models")),
        )
        with building(c.agent):
            runner = xuance.get_runner(
                c.algorithm, c.family, c.env_id, config_path=str(yaml_path),
                parser_args=types.SimpleNamespace(**args),
            )  # fmt: skip
        # XuanCe saves under models/<env_id>/seed_<n>_<time>/; the run keeps one checkpoints/.
        runner.agent.model_dir_save = str(self.context.path("checkpoints"))
        return runner

    def _save_config(self, runner: Any, agent: Any, xuance_version: str) -> None:
        """What rebuilds the agent: XuanCe's full config and the spaces its networks were
        built for, so the operator never guesses the architecture."""
        c = self.config
        describe = RunContext.describe_space
        config, dropped = _plain_config(vars(runner.config))
        if c.family == "mpe":
            keys = list(agent.agent_keys)
            state = agent.state_space
            spaces: dict[str, Any] = {
                "agent_keys": keys,
                "observation_space": {k: describe(agent.observation_space[k]) for k in keys},
                "action_space": {k: describe(agent.action_space[k]) for k in keys},
                "state_space": describe(state) if state is not None else None,
            }
        else:
            spaces = {
                "observation_space": describe(agent.observation_space),
                "action_space": describe(agent.action_space),
            }
        document = {
            "algorithm": c.algorithm,
            "agent": c.agent,
            "env": c.family,
            "env_id": c.env_id,
            "multi_agent": c.family == "mpe",
            "xuance_version": xuance_version,
            "worker_version": self.context.worker_version,
            "steps": int(agent.current_step),
            "model": MODEL_FILE,
            "config": config,
            "not_saved": dropped,
            **spaces,
        }
        path = self.context.path("checkpoints", CONFIG_FILE)
        path.write_text(json.dumps(document, indent=2) + "\n")


def _agent_bases() -> list[type]:
    """The two classes every XuanCe (torch) agent logs through."""
    from xuance.torch.agents.base.agent import Agent
    from xuance.torch.agents.base.agents_marl import MARLAgents

    return [Agent, MARLAgents]


def _check_device(device: str) -> None:
    if not device.startswith("cuda"):
        return
    import torch

    if not torch.cuda.is_available():
        raise ConfigError.bad_value(
            "device",
            device,
            f"'cpu': CUDA is not available here (torch {torch.__version__}, "
            f"{torch.cuda.device_count()} GPUs)",
        )


def _plain_config(config: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The JSON-able part of XuanCe's config namespace, and the names left out."""
    out: dict[str, Any] = {}
    dropped = []
    for key, value in config.items():
        if key in ("observation_space", "action_space"):
            dropped.append(key)  # saved as spaces beside the config
            continue
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            dropped.append(key)
            continue
        out[key] = value
    return out, dropped

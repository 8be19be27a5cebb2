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
run's :class:`~mosaic_core.RunContext` announces each checkpoint and writes
the manifest, which lists the spaces the agents are trained on from the
start.

Checkpoints: XuanCe's own ``final_train_model.pth`` at the end of training;
``step_<N>.pth`` at the first logged step past each multiple of
``checkpoint_every``; and ``step_<N>.pth`` when the run is stopped: the
supervisor's SIGTERM becomes :class:`~mosaic_core.RunCancelled` at the
next step XuanCe logs, and the agent is saved before the run ends as
cancelled.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import pathlib
import signal
import types
from collections.abc import Mapping
from importlib import metadata
from typing import Any

from mosaic_core import (
    ConfigError,
    MosaicError,
    RunCancelled,
    RunContext,
    did_you_mean,
)
from mosaic_xuance.compat import building
from mosaic_xuance.config import XuanCeConfig
from mosaic_xuance.observe import MetricsRelay, Periodic, StopRequest, observe_log_infos

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


class XuanCeRuntime:
    """Implements :class:`mosaic_core.WorkerRuntime` for one XuanCe training run."""

    def __init__(self, config: XuanCeConfig, context: RunContext) -> None:
        self.config = config
        self.context = context
        self.xuance_version: str | None = None

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
            agent = runner.agent
            self.xuance_version = metadata.version("xuance")
            self._record_spaces(agent)
            self._write_manifest(0)
            relay = MetricsRelay(run)
            try:
                self._train(runner, agent, relay)
            except RunCancelled as stop:
                relay.flush()
                # Before the first step nothing has been learned that is worth a file.
                saved = self._save(runner, agent, "stopped") if agent.current_step else None
                with contextlib.suppress(Exception):
                    agent.finish()  # flushes TensorBoard's file, closes the envs
                self._write_manifest(int(agent.current_step))
                run.emitter.run_cancelled(
                    reason=str(stop), checkpoint=saved, steps=int(agent.current_step)
                )
                raise
            finally:
                relay.flush()
            steps = int(agent.current_step)
            model = self._save(runner, agent, "final")
            self._write_manifest(steps)
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

    def _train(self, runner: Any, agent: Any, relay: MetricsRelay) -> None:
        """XuanCe's training loop, observed at every step it logs: metrics relayed, periodic
        checkpoints saved, and a SIGTERM turned into RunCancelled there, at a step whose
        update is whole and outside XuanCe's own code (whose bare ``except:`` clauses
        would swallow an exception raised inside them)."""
        stop = StopRequest()
        due = Periodic(self.config.checkpoint_every, lambda: self._save(runner, agent, "periodic"))

        def after(step: int) -> None:
            stop.check()
            due(step)

        previous = signal.signal(signal.SIGTERM, stop)
        try:
            with observe_log_infos(_agent_bases(), relay.then(after)):
                runner.run(mode="train")
        finally:
            signal.signal(signal.SIGTERM, previous)

    def _save(self, runner: Any, agent: Any, reason: str) -> str | None:
        """Save the agent (XuanCe's runner saved the final one already) with the config that
        rebuilds it, and record it; None when stopped before the agent existed."""
        steps = int(agent.current_step)
        model = MODEL_FILE if reason == "final" else f"step_{steps}.pth"
        if reason != "final":
            agent.save_model(model)
        self._save_config(runner, agent, model)
        return self.context.record_checkpoint(
            f"checkpoints/{model}", step=steps, config=f"checkpoints/{CONFIG_FILE}", reason=reason
        )

    def _record_spaces(self, agent: Any) -> None:
        """The spaces the agents are trained on, and the environment ``mosaic eval`` plays."""
        c = self.config
        if c.family != "mpe":
            self.context.record_spaces(agent.observation_space, agent.action_space, env_id=c.env_id)
            return
        # PettingZoo's own factory makes the same scenario with discrete actions; a team
        # trained with continuous ones is evaluated on an environment the user names.
        env_id = (
            None if c.action_kind == "continuous" else f"pettingzoo.mpe.{c.env_id}:parallel_env"
        )
        for key in agent.agent_keys:
            self.context.record_spaces(
                agent.observation_space[key], agent.action_space[key], agent=key, env_id=env_id
            )

    def _write_manifest(self, steps: int) -> None:
        c = self.config
        self.context.write_manifest(
            algorithm=c.algorithm,
            agent=c.agent,
            env=c.family,
            env_id=c.env_id,
            seed=c.effective_seed,
            total_steps=c.total_steps,
            steps=steps,
            xuance_version=self.xuance_version,
            config=c.to_dict(),
        )

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

    def _save_config(self, runner: Any, agent: Any, model: str) -> None:
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
            "xuance_version": self.xuance_version,
            "worker_version": self.context.worker_version,
            "steps": int(agent.current_step),
            "model": model,  # the latest saved; the operator loads the checkpoint it is given
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

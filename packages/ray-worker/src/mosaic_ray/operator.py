"""Evaluating what an RLlib run trained, without starting Ray.

The policy is the RL module saved in the checkpoint
(``learner_group/learner/rl_module/<module>``, in an algorithm's checkpoint
or in the learner group alone that a stopped run saves), restored with
``RLModule.from_checkpoint`` and asked ``forward_inference``; the action
is the greedy one (argmax for discrete actions, the mean for continuous
ones, squashed and scaled to the action space as RLlib's env runners do).

A multi-agent run maps agents to modules (``shared`` for parameter
sharing, one per agent for ``independent``, ``main`` for self-play); the
run's manifest keeps that map. The seat an operator plays is the agent of
the ``context`` MOSAIC gives the factory (``mosaic eval`` and the operator
server build one operator per agent), or the spec's options:
``ray:RUN?agent=agent_0`` (or ``?module=shared``), which win. Without a
seat, an operator whose agents all share a module uses it, and any
multi-agent operator answers a dict observation ``{agent: observation}``
with ``{agent: action}``.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Mapping
from typing import Any, cast

from mosaic_core import ManifestError, MosaicError, OperatorContext, RunContext

__all__ = ["RayOperator", "find_checkpoint"]

_MODULES = ("learner_group", "learner", "rl_module")
_MARKER = "rllib_checkpoint.json"


def find_checkpoint(source: str | os.PathLike[str]) -> tuple[pathlib.Path, dict[str, Any]]:
    """``(checkpoint directory, run metadata)`` for a run directory or one of its checkpoints.

    A run directory without a checkpoint, or whose latest one is not RLlib's, is a
    :class:`~mosaic_core.ManifestError`.
    """
    path = pathlib.Path(source)
    if _is_checkpoint(path):
        in_run = path.parent.name == "checkpoints"
        metadata = RunContext.open(path.parent.parent).metadata if in_run else {}
        return path, dict(metadata)
    run = RunContext.open(path)
    checkpoint = run.latest_checkpoint()
    if not _is_checkpoint(checkpoint):
        raise ManifestError(
            f"the latest checkpoint of run {run.run_id}, {checkpoint}, is not an RLlib "
            f"checkpoint (no {_MARKER}, no {'/'.join(_MODULES)}); expected a run directory of "
            "the ray worker, or a directory made by Algorithm.save_to_path"
        )
    return checkpoint, dict(run.metadata)


def _is_checkpoint(path: pathlib.Path) -> bool:
    """An algorithm's checkpoint, or the learner group alone that a stopped run saves."""
    return (path / _MARKER).exists() or path.joinpath(*_MODULES).is_dir()


def _available(checkpoint: pathlib.Path) -> list[str]:
    root = checkpoint.joinpath(*_MODULES)
    return sorted(p.name for p in root.iterdir() if (p / "metadata.json").exists())


class _Policy:
    """One RL module and the greedy action it gives for one observation."""

    def __init__(self, checkpoint: pathlib.Path, module_id: str, normalize: bool) -> None:
        from ray.rllib.core.rl_module.rl_module import RLModule
        from ray.rllib.core.rl_module.torch.torch_rl_module import TorchRLModule

        self.module_id = module_id
        path = str(checkpoint.joinpath(*_MODULES, module_id))
        self.module = cast(TorchRLModule, RLModule.from_checkpoint(path))
        self.module.eval()
        self.action_space = self.module.action_space
        self.normalize = normalize

    def act(self, observation: Any) -> Any:
        import numpy as np
        import torch
        from ray.rllib.core.distribution.torch.torch_distribution import TorchSquashedGaussian

        obs = torch.as_tensor(np.asarray(observation, dtype=np.float32)).unsqueeze(0)
        with torch.no_grad():
            out = self.module.forward_inference({"obs": obs})
            if "actions" in out:  # DQN picks its greedy action itself
                action = out["actions"][0]
            else:
                dist = self.module.get_inference_action_dist_cls().from_logits(
                    out["action_dist_inputs"]
                )
                if isinstance(dist, TorchSquashedGaussian):  # SAC: tanh of the mean
                    action = torch.tanh(torch.as_tensor(dist.loc))[0]
                else:
                    action = dist.to_deterministic().sample()[0]
        return self._to_env(np.asarray(action))

    def _to_env(self, action: Any) -> Any:
        import numpy as np
        from gymnasium import spaces

        space = self.action_space
        if isinstance(space, spaces.Discrete):
            return int(action) + int(space.start)
        if isinstance(space, spaces.Box):
            if self.normalize:
                from ray.rllib.utils.spaces.space_utils import unsquash_action

                action = unsquash_action(action, space)
            return np.clip(action, space.low, space.high).astype(space.dtype)
        assert space is not None, "a restored RL module has an action space"
        return np.asarray(action, dtype=space.dtype)


class RayOperator:
    """A trained RLlib policy: ``select_action(observation)`` -> greedy action."""

    def __init__(self, policies: Mapping[str, _Policy], metadata: Mapping[str, Any],
                 agent_modules: Mapping[str, str], module: str | None) -> None:  # fmt: skip
        self.policies = dict(policies)
        self.metadata = dict(metadata)
        self.agent_modules = dict(agent_modules)
        #: The module answering a plain observation; None when agents differ.
        self.module = module
        self.env_id: str | None = metadata.get("env_id")

    @classmethod
    def load(
        cls,
        source: str | os.PathLike[str],
        *,
        agent: str | None = None,
        module: str | None = None,
        context: OperatorContext | None = None,
        **options: Any,
    ) -> RayOperator:
        """Load the latest checkpoint of a run directory (or a checkpoint directory).

        ``context`` is the :class:`~mosaic_core.OperatorContext` of the seat; its agent
        picks the module unless ``agent`` or ``module`` is given.
        """
        if options:
            raise MosaicError(
                f"ray operator: unknown option(s) {', '.join(sorted(options))}; it takes "
                "agent=AGENT_ID or module=MODULE_ID"
            )
        if source is None:
            raise MosaicError("the ray operator needs a run directory or a checkpoint")
        checkpoint, metadata = find_checkpoint(source)
        available = _available(checkpoint)
        agent_modules: dict[str, str] = dict(metadata.get("agent_modules") or {})
        seat = getattr(context, "agent", None)
        if agent is None and module is None and seat in agent_modules:
            agent = seat
        if agent is not None:
            if agent not in agent_modules:
                raise MosaicError(
                    f"ray operator: no agent {agent!r} in this run; its agents: "
                    f"{', '.join(agent_modules) or 'none (a single-agent run)'}"
                )
            module = agent_modules[agent]
        if module is None:
            trained = sorted(set(agent_modules.values())) or ["default_policy"]
            module = trained[0] if len(trained) == 1 else None
        if module is not None and module not in available:
            raise MosaicError(
                f"ray operator: no module {module!r} in {checkpoint}; it holds "
                f"{', '.join(available)}"
            )
        wanted = [module] if module is not None else sorted(set(agent_modules.values()))
        normalize = bool(metadata.get("normalize_actions", True))
        policies = {m: _Policy(checkpoint, m, normalize) for m in wanted}
        return cls(policies, metadata, agent_modules, module)

    def reset(self, seed: int | None = None) -> None:
        """A greedy policy keeps no state between episodes."""

    def select_action(self, observation: Any, info: Mapping[str, Any] | None = None) -> Any:
        if self.module is not None and not self._per_agent(observation):
            return self.policies[self.module].act(observation)
        if not self._per_agent(observation):
            pairs = ", ".join(f"{a}->{m}" for a, m in self.agent_modules.items())
            raise MosaicError(
                f"ray operator: this run's agents act with different modules ({pairs}); name "
                "the seat (ray:RUN?agent=AGENT) or pass {agent: observation}"
            )
        return {a: self.act_for(a, obs) for a, obs in observation.items()}

    def act_for(self, agent: str, observation: Any) -> Any:
        """The greedy action of ``agent``'s module."""
        module = self.agent_modules.get(agent, self.module)
        if module is None or module not in self.policies:
            raise MosaicError(f"ray operator: no module for agent {agent!r}")
        return self.policies[module].act(observation)

    def _per_agent(self, observation: Any) -> bool:
        return (
            isinstance(observation, Mapping)
            and bool(self.agent_modules)
            and set(observation) <= set(self.agent_modules)
        )

    def close(self) -> None:
        self.policies = {}

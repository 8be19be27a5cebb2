"""Evaluating what a XuanCe run trained: its agent rebuilt and answering ``select_action``.

The agent is rebuilt the way XuanCe builds it for testing without an
environment: its registry class, the run's saved XuanCe config, and the
spaces its networks were built for (``xuance_config.json``, beside the
checkpoint: the one the run's manifest names last, or the checkpoint file
given; runs of worker 0.1.0 load too). The weights of that checkpoint are
then loaded strictly, so a mismatch is an error, never a silently
half-loaded network. Whether a seat's spaces are those the run was trained
on is checked by MOSAIC's host before the operator is built.

For a multi-agent run one operator plays one seat: the agent id comes from
the seat's ``OperatorContext`` (or the ``agent`` option), and the action is
the one XuanCe's own ``get_actions`` picks for that agent in test mode.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import pathlib
import shutil
import tempfile
import types
from collections.abc import Mapping
from typing import Any

from mosaic_core import ManifestError, MosaicError, RunContext

__all__ = ["XuanCeOperator", "find_checkpoint", "find_run_config"]

_CONFIG = "xuance_config.json"


def find_checkpoint(source: str | os.PathLike[str]) -> pathlib.Path:
    """A checkpoint file given itself, or the latest checkpoint of a run directory."""
    path = pathlib.Path(source)
    return path if path.is_file() else RunContext.open(path).latest_checkpoint()


def find_run_config(source: str | os.PathLike[str]) -> pathlib.Path:
    """The ``xuance_config.json`` beside a run's latest checkpoint (``source`` is the run
    directory), or beside a checkpoint file given itself."""
    return _config_beside(find_checkpoint(source))


def _config_beside(checkpoint: pathlib.Path) -> pathlib.Path:
    config = checkpoint.parent / _CONFIG
    if not config.is_file():
        raise ManifestError(
            f"{checkpoint} has no {_CONFIG} beside it; expected a checkpoint of the xuance "
            "worker, saved with the config and spaces that rebuild its agent"
        )
    return config


class XuanCeOperator:
    """One agent of a trained XuanCe run: ``select_action(observation)`` -> its action."""

    def __init__(self, agent: Any, data: dict[str, Any], seat: str | None, *, deterministic: bool,
                 workdir: str) -> None:  # fmt: skip
        self.agent = agent
        self.data = data
        self.seat = seat
        self.multi_agent: bool = data["multi_agent"]
        self.algorithm: str = data["algorithm"]
        self.env_id: str = data["env_id"]
        self.deterministic = deterministic
        self._workdir = workdir
        self._np = __import__("numpy")
        keywords = inspect.signature(agent.get_actions).parameters
        self._kwargs = {
            name: value
            for name, value in (("test_mode", True), ("deterministic", deterministic))
            if name in keywords
        }

    @classmethod
    def load(
        cls,
        source: str | os.PathLike[str],
        *,
        context: Any = None,
        agent: str | None = None,
        deterministic: bool = True,
        device: str = "cpu",
    ) -> XuanCeOperator:
        """Rebuild the run's agent from ``source`` (a run directory) for one seat.

        ``agent`` (or ``context.agent``) names the seat in a multi-agent run;
        ``deterministic`` picks the greedy action rather than a sample.
        """
        checkpoint = find_checkpoint(source)
        path = _config_beside(checkpoint)
        data = json.loads(path.read_text())
        if checkpoint.name == _CONFIG:  # the config given: the weights it names
            checkpoint = checkpoint.parent / data["model"]
        seat = agent or getattr(context, "agent", None)
        if data["multi_agent"]:
            keys = data["agent_keys"]
            if seat is None:
                raise MosaicError(
                    f"{path.parent.parent}: a {data['algorithm']} team of {', '.join(keys)}; "
                    "the operator needs to know which agent it plays (the seat's "
                    "OperatorContext.agent, or the option agent=NAME)"
                )
            if seat not in keys:
                raise MosaicError(
                    f"{path.parent.parent}: no agent {seat!r} in the trained team "
                    f"({', '.join(keys)}); was it trained on {data['env_id']}?"
                )
        if data["config"].get("use_rnn"):
            raise MosaicError(
                f"{path.parent.parent}: a recurrent {data['algorithm']} policy (use_rnn); the "
                "xuance operator plays feed-forward policies only"
            )
        if "OMP_NUM_THREADS" not in os.environ:
            import torch

            # One forward pass of these small networks per step: torch's thread pool only
            # adds contention (several times slower beside other operators on 2 cores).
            torch.set_num_threads(1)
        workdir = tempfile.mkdtemp(prefix="mosaic-xuance-operator-")
        try:
            built = _build_agent(data, device, workdir)
            _load_weights(built, data, checkpoint)
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        return cls(built, data, seat, deterministic=deterministic, workdir=workdir)

    def reset(self, seed: int | None = None) -> None:
        """Test-mode XuanCe policies keep no state between episodes (no RNN here)."""

    def select_action(self, observation: Any, info: Mapping[str, Any] | None = None) -> Any:
        import torch

        np = self._np
        with torch.no_grad():
            if not self.multi_agent:
                batch = np.asarray(observation, dtype=np.float32)[None]
                out = self.agent.get_actions(self.agent._process_observation(batch), **self._kwargs)
                return self._plain(out["actions"][0], self.agent.action_space)
            own = np.asarray(observation, dtype=np.float32)
            # Test-mode actors see only their own observation (and agent id), so the other
            # agents' rows of the batch do not change this agent's action.
            obs = {k: own if k == self.seat else np.zeros_like(own) for k in self.agent.agent_keys}
            kwargs: dict[str, Any] = dict(self._kwargs)
            if self.agent.use_actions_mask:
                kwargs["avail_actions_dict"] = [self._masks(info)]
            out = self.agent.get_actions(obs_dict=[obs], **kwargs)
            return self._plain(out["actions"][0][self.seat], self.agent.action_space[self.seat])

    def _masks(self, info: Mapping[str, Any] | None) -> dict[str, Any]:
        np = self._np
        masks = {k: np.ones(self.agent.action_space[k].n, np.bool_) for k in self.agent.agent_keys}
        if info and info.get("action_mask") is not None:
            masks[self.seat] = np.asarray(info["action_mask"], dtype=np.bool_)
        return masks

    def _plain(self, action: Any, space: Any) -> Any:
        np = self._np
        if type(space).__name__ == "Discrete":
            return int(np.asarray(action).reshape(-1)[0])
        return np.asarray(action, dtype=space.dtype).reshape(space.shape)

    def close(self) -> None:
        agent, self.agent = self.agent, None
        if agent is not None:
            with contextlib.suppress(Exception):
                agent.finish()  # closes the TensorBoard writer XuanCe insists on opening
        shutil.rmtree(self._workdir, ignore_errors=True)


def _build_agent(data: dict[str, Any], device: str, workdir: str) -> Any:
    from xuance.torch.agents import REGISTRY_Agents

    from mosaic_xuance.compat import building

    rebuild = RunContext.space_from_description

    config = types.SimpleNamespace(**data["config"])
    # Inference only: this process's device, and XuanCe's log and model dirs in a scratch
    # directory (its agents open a TensorBoard writer whatever they do).
    config.device = device
    config.log_dir = os.path.join(workdir, "logs")
    config.model_dir = os.path.join(workdir, "models")
    config.logger = "tensorboard"
    config.distributed_training = False
    cls = REGISTRY_Agents[data["config"]["agent"]]
    if data["multi_agent"]:
        keys = data["agent_keys"]
        state = data.get("state_space")
        # QMIX and COMA read the state space from their envs whatever they are given, so
        # every multi-agent agent gets a stand-in vector env that has the spaces and nothing
        # else (one env: XuanCe sizes its buffers by it).
        spaces_only = types.SimpleNamespace(
            num_agents=len(keys),
            num_envs=1,
            agents=list(keys),
            state_space=rebuild(state) if state else None,
            observation_space={k: rebuild(data["observation_space"][k]) for k in keys},
            action_space={k: rebuild(data["action_space"][k]) for k in keys},
            max_episode_steps=data["config"].get("episode_length"),
            reset=lambda: None,
        )
        with building(data["config"]["agent"]):
            return cls(config, spaces_only)
    return cls(
        config,
        envs=None,
        observation_space=rebuild(data["observation_space"]),
        action_space=rebuild(data["action_space"]),
    )


def _load_weights(agent: Any, data: dict[str, Any], model: pathlib.Path) -> None:
    import numpy as np
    import torch

    directory = model.parent
    checkpoint = torch.load(model, map_location=agent.device, weights_only=True)
    agent.policy.load_state_dict(checkpoint["policy"])  # strict: the architecture must match
    agent.policy.eval()
    if getattr(agent, "use_obsnorm", False):
        stats = np.load(directory / "obs_rms.npy", allow_pickle=True).item()
        agent.obs_rms.count, agent.obs_rms.mean, agent.obs_rms.var = (
            stats["count"], stats["mean"], stats["var"],
        )  # fmt: skip

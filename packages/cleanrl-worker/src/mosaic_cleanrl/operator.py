"""Evaluating what a CleanRL run trained: its checkpoint, loaded into the script's own network
class, answering ``select_action`` greedily.

The network class is imported from the very CleanRL module that trained it
(``cleanrl.ppo``'s ``Agent``, ``cleanrl.dqn``'s ``QNetwork`` ...), built
from the spaces saved beside the weights, so nothing about the architecture
is guessed.
"""

from __future__ import annotations

import importlib
import os
import pathlib
from typing import Any

from mosaic_cleanrl.child_hooks import CHECKPOINT_FORMAT
from mosaic_core import ManifestError, RunContext

__all__ = ["FORMATS", "CleanRLOperator", "find_checkpoint"]

#: The checkpoint formats the operator loads: worker 0.1.0's (spaces in its own description)
#: and the one written now (spaces in mosaic_core's).
FORMATS = ("mosaic-cleanrl/1", CHECKPOINT_FORMAT)

# (network global in the script, class name, greedy action from the network)
_POLICIES = {
    "ppo": ("agent", "Agent", lambda net, x: net.actor(x).argmax(dim=1)),
    "ppo_continuous_action": ("agent", "Agent", lambda net, x: net.actor_mean(x)),
    "dqn": ("q_network", "QNetwork", lambda net, x: net(x).argmax(dim=1)),
    "c51": ("q_network", "QNetwork", lambda net, x: net.get_action(x)[0]),
    "sac": ("actor", "Actor", lambda net, x: net.get_action(x)[2]),
    "td3": ("actor", "Actor", lambda net, x: net(x)),
    "ddpg": ("actor", "Actor", lambda net, x: net(x)),
}


def find_checkpoint(source: str | os.PathLike[str]) -> pathlib.Path:
    """A checkpoint file as given, or the latest checkpoint of a run directory's manifest
    (a :class:`~mosaic_core.ManifestError` when it lists none)."""
    path = pathlib.Path(source)
    if path.is_file():
        return path
    return RunContext.open(path).latest_checkpoint()


class _VectorSpaces:
    """What CleanRL's network constructors read from their vector env: the spaces."""

    def __init__(self, observation: Any, action: Any) -> None:
        import gymnasium
        import numpy as np

        self.single_observation_space = observation
        self.single_action_space = action
        self.action_space = action
        if isinstance(action, gymnasium.spaces.Box):
            dtype: Any = action.dtype  # gymnasium's stubs name only float and int types
            self.action_space = gymnasium.spaces.Box(
                np.stack([action.low]), np.stack([action.high]), dtype=dtype
            )


class CleanRLOperator:
    """A trained CleanRL policy: ``select_action(observation)`` -> greedy action."""

    def __init__(self, network: Any, greedy: Any, data: dict[str, Any]) -> None:
        self.network = network
        self._greedy = greedy
        self.algorithm: str = data["algorithm"]
        self.env_id: str | None = data.get("args", {}).get("env_id")
        self.discrete = data["action_space"]["type"] == "Discrete"
        self.checkpoint: dict[str, Any] = {k: v for k, v in data.items() if k != "modules"}

    @classmethod
    def load(cls, source: str | os.PathLike[str], **options: Any) -> CleanRLOperator:
        import torch

        path = find_checkpoint(source)
        data = torch.load(path, map_location="cpu", weights_only=False)
        if not isinstance(data, dict) or data.get("format") not in FORMATS:
            found = data.get("format") if isinstance(data, dict) else type(data).__name__
            raise ManifestError(
                f"{path}: a checkpoint of format {found!r}; expected one the cleanrl worker "
                f"writes: {', '.join(FORMATS)}"
            )
        algorithm = data.get("algorithm")
        if algorithm not in _POLICIES:
            raise ManifestError(
                f"{path}: unknown CleanRL algorithm {algorithm!r}; expected one of "
                f"{', '.join(_POLICIES)}"
            )
        global_name, class_name, greedy = _POLICIES[algorithm]
        module = importlib.import_module(data["script"])
        rebuild = RunContext.space_from_description
        spaces = _VectorSpaces(rebuild(data["observation_space"]), rebuild(data["action_space"]))
        args = data.get("args", {})
        if algorithm == "c51":
            network = module.QNetwork(
                spaces, n_atoms=args["n_atoms"], v_min=args["v_min"], v_max=args["v_max"]
            )
        else:
            network = getattr(module, class_name)(spaces)
        network.load_state_dict(data["modules"][global_name])
        network.eval()
        return cls(network, greedy, data)

    def reset(self, seed: int | None = None) -> None:
        """A greedy policy keeps no state between episodes."""

    def select_action(self, observation: Any, info: dict[str, Any] | None = None) -> Any:
        import numpy as np
        import torch

        x = torch.as_tensor(np.asarray(observation, dtype=np.float32)).reshape(1, -1)
        with torch.no_grad():
            action = self._greedy(self.network, x)[0]
        return int(action.item()) if self.discrete else action.numpy()

    def close(self) -> None:
        self.network = None

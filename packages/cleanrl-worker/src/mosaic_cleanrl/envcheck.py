"""The run's environment, made once to check it before the script trains.

The script's own process makes it (:mod:`mosaic_cleanrl.child_hooks`, as the
script imports its gym, which it does anyway), so the worker never imports
gym or numpy: ~0.3 s of CPU beside the script's start, and their teardown
when the run ends. :func:`mosaic_cleanrl.runtime.check_env` makes it the
same way in the calling process. The standard library only at import:
mosaic_core's error is imported for a failure.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

__all__ = ["env_spaces"]


def env_spaces(gym: ModuleType, env_id: str) -> tuple[Any, Any]:
    """Make ``env_id`` once with ``gym``; its observation and action spaces. An id that
    ``gym`` cannot make is a ConfigError on ``env_id`` naming the ids it knows."""
    try:
        env = gym.make(env_id)
    except Exception as exc:  # noqa: BLE001 - each gym raises its own error types
        from mosaic_core import ConfigError, did_you_mean

        registry = getattr(gym.envs, "registry", None)  # gym 0.23 wraps its dict
        registered = [str(name) for name in getattr(registry, "env_specs", registry) or ()]
        raise ConfigError.bad_value(
            "env_id",
            env_id,
            f"an environment registered in {gym.__name__} {gym.__version__}"
            + did_you_mean(env_id, registered),
            hint=f"{type(exc).__name__}: {exc}",
        ) from None
    try:
        return env.observation_space, env.action_space
    finally:
        env.close()

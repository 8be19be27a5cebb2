"""Registers the ``cleanrl`` worker. Imports only mosaic_core and this package's config
(which reads CleanRL's scripts as text, and imports nothing of CleanRL)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mosaic_cleanrl.__about__ import __version__
from mosaic_cleanrl.config import CleanRLConfig
from mosaic_core import WorkerCapabilities, WorkerMetadata, WorkerSpec, hookimpl

if TYPE_CHECKING:
    from mosaic_cleanrl.operator import CleanRLOperator
    from mosaic_cleanrl.runtime import CleanRLRuntime
    from mosaic_core import RunContext


def make_runtime(config: CleanRLConfig, context: RunContext) -> CleanRLRuntime:
    from mosaic_cleanrl.runtime import CleanRLRuntime

    return CleanRLRuntime(config, context)


def make_operator(source: str, **options: Any) -> CleanRLOperator:
    from mosaic_cleanrl.operator import CleanRLOperator

    return CleanRLOperator.load(source, **options)


SPEC = WorkerSpec(
    metadata=WorkerMetadata(
        name="CleanRL",
        version=__version__,
        description="CleanRL's single-file PPO, DQN, C51, SAC, TD3 and DDPG, run unmodified",
        author="The MOSAIC developers",
        homepage="https://github.com/vwxyzjn/cleanrl",
        upstream_library="cleanrl",
        upstream_version="1.2.0",
        license="MIT",
    ),
    capabilities=WorkerCapabilities(
        worker_type="cleanrl",
        supported_paradigms=("sequential",),
        env_families=("gymnasium", "gym"),
        action_spaces=("discrete", "continuous"),
        observation_spaces=("vector",),
        max_agents=1,
        supports_checkpointing=True,
        requires_gpu=False,
        cpu_cores=1,
        estimated_memory_mb=1024,
    ),
    config_class=CleanRLConfig,
    runtime_factory=make_runtime,
    operator_factory=make_operator,
    smoke_config={
        "algorithm": "ppo",
        "env_id": "CartPole-v1",
        "total_steps": 1024,
        "num_envs": 2,
        "num_steps": 128,
    },
    # A batch of 2 split into 4 minibatches: valid config, but the script itself fails.
    failing_config={"num_envs": 1, "num_steps": 2, "num_minibatches": 4},
    setup_module="mosaic_cleanrl.setup",
)


@hookimpl
def mosaic_register_workers(register: Callable[[WorkerSpec], None]) -> None:
    register(SPEC)

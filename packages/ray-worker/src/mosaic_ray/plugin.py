"""Registers the ``ray`` worker. Imports only mosaic_core and this package's config."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mosaic_core import WorkerCapabilities, WorkerMetadata, WorkerSpec, hookimpl
from mosaic_ray.__about__ import __version__
from mosaic_ray.config import RayConfig

if TYPE_CHECKING:
    from mosaic_core import OperatorContext, RunContext
    from mosaic_ray.operator import RayOperator
    from mosaic_ray.runtime import RayRuntime


def make_runtime(config: RayConfig, context: RunContext) -> RayRuntime:
    from mosaic_ray.runtime import RayRuntime

    return RayRuntime(config, context)


def make_operator(
    source: str, context: OperatorContext | None = None, **options: Any
) -> RayOperator:
    from mosaic_ray.operator import RayOperator

    return RayOperator.load(source, context=context, **options)


SPEC = WorkerSpec(
    metadata=WorkerMetadata(
        name="Ray RLlib",
        version=__version__,
        description="RLlib's PPO, APPO, IMPALA, DQN and SAC on a local Ray or an existing cluster",
        author="The MOSAIC developers",
        homepage="https://docs.ray.io/en/latest/rllib/",
        upstream_library="ray[rllib]",
        upstream_version="2.58.0",
        license="Apache-2.0",
    ),
    capabilities=WorkerCapabilities(
        worker_type="ray",
        supported_paradigms=("sequential", "parameter_sharing", "independent", "self_play"),
        env_families=("gymnasium", "pettingzoo"),
        action_spaces=("discrete", "continuous", "multi_discrete", "multi_binary"),
        observation_spaces=("vector", "image"),
        max_agents=64,
        supports_self_play=True,
        supports_checkpointing=True,
        requires_gpu=False,
        cpu_cores=2,
        estimated_memory_mb=1536,
    ),
    config_class=RayConfig,
    runtime_factory=make_runtime,
    operator_factory=make_operator,
    console_module="mosaic_ray.cli",
    smoke_config={
        "algorithm": "ppo",
        "env_id": "CartPole-v1",
        "total_steps": 400,
        "num_env_runners": 0,
        "train_batch_size_per_learner": 200,
        "minibatch_size": 100,
        "num_epochs": 1,
        "object_store_memory_mb": 128,
    },
    # Valid, and refused at run time when the env is made: before Ray starts.
    failing_config={"env_id": "NoSuchEnv-v0"},
)


@hookimpl
def mosaic_register_workers(register: Callable[[WorkerSpec], None]) -> None:
    register(SPEC)

"""Registers the ``xuance`` worker. Imports only mosaic_core and this package's config."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mosaic_core import WorkerCapabilities, WorkerMetadata, WorkerSpec, hookimpl
from mosaic_xuance.__about__ import __version__
from mosaic_xuance.config import MPE_SCENARIOS, XuanCeConfig

if TYPE_CHECKING:
    from mosaic_core import OperatorContext, RunContext
    from mosaic_xuance.operator import XuanCeOperator
    from mosaic_xuance.runtime import XuanCeRuntime


def make_runtime(config: XuanCeConfig, context: RunContext) -> XuanCeRuntime:
    from mosaic_xuance.runtime import XuanCeRuntime

    return XuanCeRuntime(config, context)


def make_operator(
    source: str, *, context: OperatorContext | None = None, **options: Any
) -> XuanCeOperator:
    """One seat's operator; ``context.agent`` says which agent of a trained team it plays."""
    from mosaic_xuance.operator import XuanCeOperator

    return XuanCeOperator.load(source, context=context, **options)


SPEC = WorkerSpec(
    metadata=WorkerMetadata(
        name="XuanCe",
        version=__version__,
        description=(
            "XuanCe's MAPPO, QMIX, MADDPG, VDN, COMA, IPPO and IQL on PettingZoo MPE, and its "
            "DQN and PPO on classic control, trained in process"
        ),
        author="The MOSAIC developers",
        homepage="https://github.com/agi-brain/xuance",
        upstream_library="xuance",
        upstream_version="1.4.4",
        license="MIT",
    ),
    capabilities=WorkerCapabilities(
        worker_type="xuance",
        # sequential: DQN and PPO; parameter_sharing: the MPE algorithms' default;
        # independent: IPPO, IQL; centralized_critic: MAPPO, MADDPG, COMA.
        supported_paradigms=(
            "sequential",
            "multi_agent",
            "parameter_sharing",
            "independent",
            "centralized_critic",
        ),
        env_families=("pettingzoo", "gymnasium"),
        action_spaces=("discrete", "continuous"),
        observation_spaces=("vector",),
        max_agents=max(MPE_SCENARIOS.values()),
        supports_checkpointing=True,
        requires_gpu=False,
        cpu_cores=1,
        estimated_memory_mb=1024,
    ),
    config_class=XuanCeConfig,
    runtime_factory=make_runtime,
    operator_factory=make_operator,
    smoke_config={
        "algorithm": "dqn",
        "env_id": "CartPole-v1",
        "total_steps": 400,
        "parallels": 2,
        "start_training": 64,
        "batch_size": 32,
    },
    # A representation XuanCe does not have: valid for the config, fatal when XuanCe builds
    # the agent.
    failing_config={"parser_args": {"representation": "No_Such_Representation"}},
)


@hookimpl
def mosaic_register_workers(register: Callable[[WorkerSpec], None]) -> None:
    register(SPEC)

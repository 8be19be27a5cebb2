"""What discovery imports: the bandit worker's spec, and nothing heavy."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from mosaic_core import WorkerCapabilities, WorkerMetadata, WorkerSpec, hookimpl

from mosaic_bandit import __version__
from mosaic_bandit.config import BanditConfig

if TYPE_CHECKING:
    from mosaic_core import RunContext

    from mosaic_bandit.operator import BanditOperator
    from mosaic_bandit.runtime import BanditRuntime

METADATA = WorkerMetadata(
    name="Bandit worker",
    version=__version__,
    description="epsilon-greedy on a Bernoulli multi-armed bandit",
    author="The MOSAIC developers",
    license="MIT",
)

CAPABILITIES = WorkerCapabilities(
    worker_type="bandit",
    supported_paradigms=("sequential",),
    env_families=("bandit",),
    action_spaces=("discrete",),
    observation_spaces=("vector",),
    supports_checkpointing=True,
)


def make_runtime(config: BanditConfig, context: RunContext) -> BanditRuntime:
    # Imported here, when a run starts: where a real worker imports torch. A factory
    # with a `context` parameter is given the run's RunContext.
    from mosaic_bandit.runtime import BanditRuntime

    return BanditRuntime(config, context)


def make_operator(checkpoint: str, **options: object) -> BanditOperator:
    # Loads a trained run for evaluation: checkpoint is that run's directory.
    from mosaic_bandit.operator import BanditOperator

    return BanditOperator(checkpoint)


SPEC = WorkerSpec(
    metadata=METADATA,
    capabilities=CAPABILITIES,
    config_class=BanditConfig,
    runtime_factory=make_runtime,
    operator_factory=make_operator,
    # For the conformance kit: a run of a fraction of a second, and one that fails.
    smoke_config={"total_steps": 200},
    failing_config={"env_id": "NoSuchBandit-v0"},
    # The number `mosaic runs` shows and a sweep's table compares runs by.
    headline_metric="charts/mean_reward",
)


@hookimpl
def mosaic_register_workers(register: Callable[[WorkerSpec], None]) -> None:
    register(SPEC)

"""Registers the ``llm`` worker. Imports only mosaic_core and this package's config.

The conformance kit's smoke run needs an endpoint: it talks to
``$MOSAIC_LLM_SMOKE_BASE_URL`` (default ``http://127.0.0.1:8000/v1``, where
llama.cpp's and vLLM's servers listen) serving ``$MOSAIC_LLM_SMOKE_MODEL``,
both read when the kit asks for the smoke config. The worker's tests point
it at their scripted server.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from mosaic_core import WorkerCapabilities, WorkerMetadata, WorkerSpec, hookimpl
from mosaic_llm.__about__ import __version__
from mosaic_llm.config import LLMConfig

if TYPE_CHECKING:
    from mosaic_core import OperatorContext, RunContext
    from mosaic_llm.operator import LLMOperator
    from mosaic_llm.runtime import LLMRuntime


def make_runtime(config: LLMConfig, context: RunContext) -> LLMRuntime:
    from mosaic_llm.runtime import LLMRuntime

    return LLMRuntime(config, context)


def make_operator(
    source: str | None, context: OperatorContext | None = None, **options: Any
) -> LLMOperator:
    from mosaic_llm.operator import LLMOperator

    return LLMOperator.load(source, context=context, **options)


class SmokeConfig(Mapping[str, Any]):
    """The kit's smoke config, its endpoint read from the environment at each look."""

    def _config(self) -> dict[str, Any]:
        return {
            "env_id": "FrozenLake-v1",
            "episodes": 2,
            "max_episode_steps": 8,
            "model": os.environ.get("MOSAIC_LLM_SMOKE_MODEL", "smoke"),
            "base_url": os.environ.get("MOSAIC_LLM_SMOKE_BASE_URL", "http://127.0.0.1:8000/v1"),
            "max_retries": 1,
            "timeout": 30.0,
        }

    def __getitem__(self, key: str) -> Any:
        return self._config()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._config())

    def __len__(self) -> int:
        return len(self._config())


SPEC = WorkerSpec(
    metadata=WorkerMetadata(
        name="LLM agent",
        version=__version__,
        description=(
            "a language model behind any OpenAI-compatible chat endpoint plays BabyAI, "
            "MiniGrid, Gymnasium toy-text and TextWorld"
        ),
        author="The MOSAIC developers",
        homepage="https://platform.openai.com/docs/api-reference/chat",
        upstream_library="openai-compatible-http",
        upstream_version="v1",
        license="MIT",
    ),
    capabilities=WorkerCapabilities(
        worker_type="llm",
        supported_paradigms=("llm_agent", "evaluation"),
        env_families=("gymnasium", "minigrid", "textworld"),
        action_spaces=("discrete",),
        observation_spaces=("dict", "text", "vector", "structured"),
        max_agents=1,
        supports_checkpointing=False,
        requires_gpu=False,
        cpu_cores=1,
        estimated_memory_mb=256,
    ),
    config_class=LLMConfig,
    runtime_factory=make_runtime,
    operator_factory=make_operator,
    smoke_config=SmokeConfig(),
    # A valid config whose environment does not exist: the run itself fails.
    failing_config={"env_id": "NoSuchEnv-v0"},
)


@hookimpl
def mosaic_register_workers(register: Callable[[WorkerSpec], None]) -> None:
    register(SPEC)

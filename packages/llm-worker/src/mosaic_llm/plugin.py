"""Registers the ``llm`` worker. Imports only mosaic_core and this package's config.

The conformance kit's smoke run needs an endpoint. The worker's
``smoke_service`` gives it one: the scripted server of
:mod:`mosaic_llm.scripted_server`, started on a free port for the kit's
runs, so ``mosaic check llm`` passes wherever the worker is installed. With
``$MOSAIC_LLM_SMOKE_BASE_URL`` set (and ``$MOSAIC_LLM_SMOKE_MODEL``, default
``smoke``) the kit talks to that server instead, a real model for instance.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
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


@contextlib.contextmanager
def smoke_endpoint() -> Iterator[dict[str, Any]]:
    """The endpoint of the kit's runs: ``$MOSAIC_LLM_SMOKE_BASE_URL``, else a scripted server.

    The scripted server answers after 50 ms, as a near service would, so the
    kit's cancel check finds the run still at work.
    """
    url = os.environ.get("MOSAIC_LLM_SMOKE_BASE_URL")
    if url:
        yield {"base_url": url, "model": os.environ.get("MOSAIC_LLM_SMOKE_MODEL", "smoke")}
        return
    from mosaic_llm.scripted_server import ScriptedServer

    with ScriptedServer(refuse={"json_schema"}, delay=0.05) as server:
        yield {"base_url": server.url}


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
    smoke_config={
        "env_id": "FrozenLake-v1",
        "episodes": 2,
        "max_episode_steps": 8,
        "model": "smoke",
        "max_retries": 1,
        "timeout": 30.0,
    },
    smoke_service=smoke_endpoint,
    # A valid config whose environment does not exist: the run itself fails.
    failing_config={"env_id": "NoSuchEnv-v0"},
)


@hookimpl
def mosaic_register_workers(register: Callable[[WorkerSpec], None]) -> None:
    register(SPEC)

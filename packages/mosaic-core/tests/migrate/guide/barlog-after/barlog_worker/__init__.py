"""BARLOG Worker - MOSAIC integration (the development guide's Step 4)."""

from .config import BarlogWorkerConfig, load_worker_config
from .runtime import BarlogWorkerRuntime

__version__ = "0.1.0"


def get_worker_metadata() -> tuple:
    from gym_gui.core.worker import WorkerMetadata, WorkerCapabilities

    metadata = WorkerMetadata(
        name="BARLOG Worker",
        version=__version__,
        description="LLM agents on BabyAI through BALROG",
        author="Your Name",
        homepage="https://github.com/balrog-ai/BALROG",
        upstream_library="balrog",
        upstream_version="0.1.0",
        license="MIT",
    )

    capabilities = WorkerCapabilities(
        worker_type="barlog",
        supported_paradigms=("llm_agent",),
        env_families=("babyai",),
        action_spaces=("text",),
        observation_spaces=("text",),
        max_agents=1,
        supports_checkpointing=False,
    )

    return metadata, capabilities


__all__ = [
    "__version__",
    "BarlogWorkerConfig",
    "load_worker_config",
    "BarlogWorkerRuntime",
    "get_worker_metadata",
]

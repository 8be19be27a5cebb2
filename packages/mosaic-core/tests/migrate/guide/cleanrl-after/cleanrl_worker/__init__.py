"""The CleanRL worker (the migration guide's Step 4)."""

from .config import CleanRLWorkerConfig
from .runtime import CleanRLWorkerRuntime

__version__ = "0.1.0"


def get_worker_metadata() -> tuple:
    from gym_gui.core.worker import WorkerMetadata, WorkerCapabilities

    metadata = WorkerMetadata(
        name="CleanRL Worker",
        version=__version__,
        description="CleanRL's single-file algorithms",
        author="Your Name",
        homepage="https://github.com/vwxyzjn/cleanrl",
        upstream_library="cleanrl",
        upstream_version="1.2.0",
        license="MIT",
    )

    capabilities = WorkerCapabilities(
        worker_type="cleanrl",
        supported_paradigms=("sequential",),
        env_families=("gymnasium",),
        action_spaces=("discrete", "continuous"),
        observation_spaces=("vector", "image"),
        max_agents=1,
        supports_checkpointing=True,
    )

    return metadata, capabilities


__all__ = [
    "CleanRLWorkerConfig",
    "CleanRLWorkerRuntime",
    "get_worker_metadata",  # Add this
]

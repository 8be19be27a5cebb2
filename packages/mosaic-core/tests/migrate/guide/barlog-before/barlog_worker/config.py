"""Configuration dataclass for BARLOG Worker."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict

@dataclass
class BarlogWorkerConfig:
    """Configuration for BARLOG Worker training runs.

    This dataclass implements the WorkerConfig protocol.

    Attributes:
        run_id: Unique identifier for this run (REQUIRED by protocol)
        env_name: Environment family
        task: The task to play
        agent_type: The agent's prompting style
        seed: Random seed (REQUIRED by protocol, can be None)
        num_episodes: Episodes to play
    """

    # Protocol-required fields
    run_id: str
    seed: int | None = None

    # Worker-specific fields
    env_name: str = "babyai"
    task: str = "BabyAI-GoToRedBall-v0"
    agent_type: str = "naive"
    num_episodes: int = 5

    def __post_init__(self) -> None:
        """Validate configuration and assert protocol compliance."""
        # Validate required fields
        if not self.run_id:
            raise ValueError("run_id is required")
        if not self.task:
            raise ValueError("task is required")

        # Validate ranges
        if self.num_episodes < 1:
            raise ValueError("num_episodes must be >= 1")

        # Protocol compliance assertion (graceful fallback if gym_gui unavailable)
        try:
            from gym_gui.core.worker import WorkerConfig as WorkerConfigProtocol
            assert isinstance(self, WorkerConfigProtocol), (
                "BarlogWorkerConfig must implement WorkerConfig protocol"
            )
        except ImportError:
            pass  # gym_gui not available, skip protocol check

    def to_dict(self) -> Dict[str, Any]:
        """Convert config to dictionary (REQUIRED by protocol)."""
        return {
            "run_id": self.run_id,
            "seed": self.seed,
            "env_name": self.env_name,
            "task": self.task,
            "agent_type": self.agent_type,
            "num_episodes": self.num_episodes,
        }

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "BarlogWorkerConfig":
        """Create config from dictionary (REQUIRED by protocol)."""
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def to_json(self, indent: int = 2) -> str:
        """Serialize to JSON string."""
        return json.dumps(self.to_dict(), indent=indent)


def load_worker_config(config_path: str) -> BarlogWorkerConfig:
    """Load worker configuration from JSON file.

    Handles both direct config format and nested metadata.worker.config structure.

    Args:
        config_path: Path to JSON configuration file

    Returns:
        Parsed BarlogWorkerConfig object

    Raises:
        FileNotFoundError: If config file doesn't exist
    """
    path = Path(config_path)
    if not path.exists():
        raise FileNotFoundError(f"Config file not found: {config_path}")

    with open(path) as f:
        raw_data = json.load(f)

    # Handle nested metadata.worker.config structure from GUI
    if "metadata" in raw_data and "worker" in raw_data["metadata"]:
        worker_data = raw_data["metadata"]["worker"]
        config_data = worker_data.get("config", {})
    else:
        # Direct config format
        config_data = raw_data

    return BarlogWorkerConfig.from_dict(config_data)


__all__ = ["BarlogWorkerConfig", "load_worker_config"]

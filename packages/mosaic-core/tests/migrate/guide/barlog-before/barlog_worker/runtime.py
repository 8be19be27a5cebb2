# Not in the guide's example: the return type it names.
from dataclasses import dataclass


@dataclass
class RuntimeSummary:
    status: str
    episodes: int


class BarlogWorkerRuntime:
    def __init__(self, config):
        self.config = config
        # ❌ No standardized telemetry

    def run(self) -> RuntimeSummary:  # ❌ Custom return type
        # ❌ No lifecycle events
        result = self._train()

        # ❌ No analytics manifest
        return RuntimeSummary(
            status="completed",
            episodes=result.episodes,
        )


# Not in the guide's example: what the runtime above calls.
from dataclasses import dataclass


@dataclass
class _TrainResult:
    episodes: int


def _train(self):
    if not self.config.task.startswith("BabyAI-"):
        raise ValueError(f"unknown task {self.config.task!r}")
    return _TrainResult(episodes=self.config.num_episodes)


BarlogWorkerRuntime._train = _train

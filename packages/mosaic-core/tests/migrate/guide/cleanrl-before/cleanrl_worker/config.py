from dataclasses import dataclass

@dataclass(frozen=True)  # ❌ frozen prevents __post_init__
class WorkerConfig:  # ❌ Naming conflict with protocol
    run_id: str
    algo: str
    env_id: str
    total_timesteps: int = 1_000_000
    seed: int = 1

    # ❌ No validation
    # ❌ No protocol compliance check

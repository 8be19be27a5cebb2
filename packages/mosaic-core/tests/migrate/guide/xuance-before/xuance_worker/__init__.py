from .config import XuanCeWorkerConfig
from .runtime import XuanCeWorkerRuntime

__version__ = "0.1.0"

__all__ = [
    "XuanCeWorkerConfig",
    "XuanCeWorkerRuntime",
]

# ❌ No get_worker_metadata()
# ❌ Worker not discoverable

"""What is installed: worker plugins and environment-family plugins, each loaded on its own,
failures isolated and shown.

The loading itself is the SDK's (a worker process finds its own spec, and
the environment of a family task, with it); these are the names a tool or
front end uses to list and inspect.
"""

from mosaic_core._discovery import (
    ENTRY_POINT_GROUP,
    BrokenPlugin,
    DiscoveredWorker,
    Discovery,
    discover_workers,
)
from mosaic_core._family_registry import (
    FAMILY_ENTRY_POINT_GROUP,
    EnvFamilies,
    discover_env_families,
    env_families,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "FAMILY_ENTRY_POINT_GROUP",
    "BrokenPlugin",
    "DiscoveredWorker",
    "Discovery",
    "EnvFamilies",
    "discover_env_families",
    "discover_workers",
    "env_families",
]

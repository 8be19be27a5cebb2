"""What is installed: worker plugins, each loaded on its own, failures isolated and shown.

The loading itself is the SDK's (a worker process finds its own spec with
it); these are the names a tool or front end uses to list and inspect.
"""

from mosaic_core._discovery import (
    ENTRY_POINT_GROUP,
    BrokenPlugin,
    DiscoveredWorker,
    Discovery,
    discover_workers,
)

__all__ = ["ENTRY_POINT_GROUP", "BrokenPlugin", "DiscoveredWorker", "Discovery", "discover_workers"]

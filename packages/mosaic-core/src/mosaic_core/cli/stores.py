"""The run store as the ``mosaic`` sub-commands open it: read-only where that is enough."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from mosaic_core.runs.database import StoreReadOnly
from mosaic_core.runs.store import RunStore

__all__ = ["open_store"]


@contextlib.contextmanager
def open_store(*, write: bool = True, reconciled: bool = False) -> Iterator[RunStore]:
    """The run store of ``$MOSAIC_HOME``, closed at the end.

    A reading command (``write=False``) opens a store it cannot write read-only
    instead of failing; ``reconciled`` first settles the runs of supervisors that
    died (which a read-only store reports without recording).
    """
    try:
        store = RunStore()
    except StoreReadOnly:
        if write:
            raise
        store = RunStore(readonly=True)
    try:
        if reconciled:
            from mosaic_core.runs.reconcile import reconcile  # not the supervisor's imports

            reconcile(store)
        yield store
    finally:
        store.close()

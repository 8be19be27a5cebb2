"""What the server holds: its home, a run store per thread, the run index, installed workers."""

from __future__ import annotations

import pathlib
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from mosaic_core.query import RunIndex
from mosaic_core.runs import RunStore, mosaic_home
from mosaic_ui.series import SeriesCache

__all__ = ["UIState"]


class UIState:
    """One server's state. A :class:`RunStore` holds one SQLite connection and is
    used by one thread at a time, so each thread gets its own."""

    def __init__(self, home: str | pathlib.Path | None = None, plugins: Sequence[Any] = ()) -> None:
        self.home = pathlib.Path(home) if home is not None else mosaic_home()
        self.plugins = tuple(plugins)
        self.index = RunIndex()
        self.series = SeriesCache()
        self._local = threading.local()
        self._index_lock = threading.Lock()
        self._discovery_lock = threading.Lock()
        self._refreshed = -1e9
        #: Called with ``(changed, deleted)`` run ids by whichever thread saw a change.
        self.listeners: list[Callable[[list[str], list[str]], None]] = []
        self._workers: tuple[float, Any] | None = None
        RunStore(self.home).close()  # creates the home and the database on first use

    def store(self) -> RunStore:
        store: RunStore | None = getattr(self._local, "store", None)
        if store is None:
            store = RunStore(self.home)
            self._local.store = store
        return store

    def refresh(self, *, force: bool = False, wait: bool = True) -> tuple[list[str], list[str]]:
        """Bring the run index up to date if anything was written since this thread's last
        look (or a second has passed, or ``force``: a connection's own commits do not move
        its ``data_version``). Without ``wait``, a refresh already under way in another
        thread is enough: a request answers from the index as it stands rather than queue
        behind a slow one."""
        store = self.store()
        version = store.data_version()
        if not self._index_lock.acquire(blocking=wait):
            return [], []
        try:
            fresh = time.monotonic() - self._refreshed < 1.0
            if not force and version == getattr(self._local, "seen", None) and fresh:
                return [], []
            self._local.seen = version
            self._refreshed = time.monotonic()
            changed, deleted = self.index.refresh(store)
        finally:
            self._index_lock.release()
        if changed or deleted:
            for listener in list(self.listeners):
                listener(changed, deleted)
        return changed, deleted

    def poke(self) -> None:
        """We wrote to the store: the next refresh reads it, whoever makes it."""
        self._refreshed = -1e9
        self._local.seen = None

    def discovery(self, *, fresh: bool = False) -> Any:
        """Installed workers, looked up again after 10 s (or when ``fresh``)."""
        from mosaic_core.plugins import discover_workers

        with self._discovery_lock:  # one discovery at a time; the others wait for it
            cached = self._workers
            if cached is None or fresh or time.monotonic() - cached[0] > 10:
                found = discover_workers(plugins=self.plugins)
                self._workers = cached = (time.monotonic(), found)
            return cached[1]

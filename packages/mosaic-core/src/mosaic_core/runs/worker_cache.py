"""What this interpreter has installed, as found before (where each worker is, which
distributions), remembered from one ``mosaic run`` to the next.

Finding a worker by its entry point imports ``importlib.metadata`` and reads
every installed distribution's entry points, and a run's provenance reads
their names and versions: a good part of what ``mosaic run`` does. What was
found is kept in ``$MOSAIC_HOME/cache/workers.json``, per interpreter and
``sys.path``, with a stamp of what is installed: the names of the
``*.dist-info`` and ``*.egg-info`` in each ``sys.path`` entry, and the
modification times of each and of its ``entry_points.txt`` and ``METADATA``
(``PKG-INFO``). Installing, upgrading or removing a distribution, or editing
its entry points or metadata, changes the stamp, and nothing remembered is
used.

A worker's module is only a hint: it must still register the worker when it
is imported, else discovery runs as before. A cache that cannot be read or
written is no cache; nothing fails for it.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import sys
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["WorkerCache"]

_FILE = pathlib.Path("cache", "workers.json")
_KEEP = 8  # interpreters (or sys.path variants) remembered at once
_INFO_SUFFIXES = (".dist-info", ".egg-info")
_INFO_FILES = ("entry_points.txt", "METADATA", "PKG-INFO")


def _stamp() -> list[str | int]:
    """What is installed: in each ``sys.path`` entry, the name of every distribution's
    metadata (``*.dist-info``, ``*.egg-info``) and the modification times of it and of
    the files discovery and provenance read in it. A few hundred ``stat`` calls; other
    files made in those directories (the current one is on ``sys.path``) do not count."""
    stamp: list[str | int] = []
    for entry in sys.path:
        try:
            with os.scandir(entry or ".") as listing:
                infos = sorted(e.name for e in listing if e.name.endswith(_INFO_SUFFIXES))
        except OSError:  # not there, or a file (a zip archive): its own time says enough
            stamp.append(_mtime(entry))
            continue
        stamp.append(len(infos))
        for name in infos:
            stamp.append(name)
            path = os.path.join(entry, name)
            stamp.append(_mtime(path))  # an egg-info may be a file of its own
            stamp.extend(_mtime(os.path.join(path, part)) for part in _INFO_FILES)
    return stamp


def _mtime(path: str) -> int:
    try:
        return os.stat(path or ".").st_mtime_ns
    except OSError:
        return -1


class WorkerCache:
    """What was found installed for this interpreter and ``sys.path``, in ``home``'s
    cache: the stamp is taken once, when it is made."""

    def __init__(self, home: str | os.PathLike[str]) -> None:
        self.path = pathlib.Path(home) / _FILE
        # The version too: an interpreter upgraded in place keeps its path.
        self._key = "\0".join([sys.executable, sys.version, *sys.path])
        self._stamp = _stamp()

    def _read(self) -> dict[str, Any]:
        try:
            with open(self.path, encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _entry(self, data: dict[str, Any]) -> dict[str, Any]:
        """What is remembered for this interpreter, if its stamp is still this one."""
        entry = data.get(self._key)
        if not isinstance(entry, dict) or entry.get("stamp") != self._stamp:
            return {}
        return entry

    def get(self, worker_type: str) -> tuple[str, str | None] | None:
        """``(module, distribution)`` of ``worker_type``, if found here before with the
        same distributions installed; None otherwise."""
        workers = self._entry(self._read()).get("workers")
        found = workers.get(worker_type) if isinstance(workers, dict) else None
        if not (isinstance(found, list) and len(found) == 2 and isinstance(found[0], str)):
            return None
        distribution = found[1] if isinstance(found[1], str) else None
        return found[0], distribution

    def put(self, worker_type: str, module: str, distribution: str | None) -> None:
        """Remember where ``worker_type`` was found."""

        def change(entry: dict[str, Any]) -> None:
            entry["workers"][worker_type] = [module, distribution]

        self._update(change)

    def environment(self) -> dict[str, Any] | None:
        """The ``environment_snapshot()`` of provenance taken here before
        with the same distributions installed; None otherwise."""
        found = self._entry(self._read()).get("environment")
        if isinstance(found, dict) and isinstance(found.get("packages"), dict):
            return found
        return None

    def put_environment(self, snapshot: dict[str, Any]) -> None:
        """Remember this interpreter's environment snapshot."""

        def change(entry: dict[str, Any]) -> None:
            entry["environment"] = snapshot

        self._update(change)

    def _update(self, change: Callable[[dict[str, Any]], None]) -> None:
        """Change this interpreter's entry (a fresh one if the stamp moved) and write the
        file whole; silently nothing if it cannot be written (a read-only home, a full
        disk)."""
        data = self._read()
        entry = self._entry(data)
        if not isinstance(entry.get("workers"), dict):
            entry["workers"] = {}
        entry["stamp"] = self._stamp
        change(entry)
        data.pop(self._key, None)
        data[self._key] = entry  # the most recent last: the oldest go first
        kept = dict(list(data.items())[-_KEEP:])
        unique = f"{os.getpid()}.{threading.get_ident()}"  # a server may launch from threads
        temporary = self.path.with_name(f".{self.path.name}.{unique}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_text(json.dumps(kept), encoding="utf-8")
            os.replace(temporary, self.path)  # readers see the old file or the new, whole
        except OSError:
            with contextlib.suppress(OSError):
                temporary.unlink()

"""Where each installed worker's plugin module is, remembered between ``mosaic run``\\ s.

Finding a worker by its entry point imports ``importlib.metadata`` and reads
every installed distribution's entry points: a good part of what ``mosaic
run`` does before it can start the worker. What a discovery found is kept in
``$MOSAIC_HOME/cache/workers.json``, per interpreter and ``sys.path``, with a
stamp of what is installed: each ``sys.path`` directory's modification time
and that of every ``entry_points.txt`` in its ``*.dist-info`` and
``*.egg-info`` directories. Installing, upgrading or removing a distribution,
or editing its entry points, changes the stamp, and the entry is not used.

An entry is only a hint: the module it names must still register the worker
when it is imported, else discovery runs as before. A cache that cannot be
read or written is no cache; nothing fails for it.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import sys
from typing import Any

__all__ = ["WorkerCache"]

_FILE = pathlib.Path("cache", "workers.json")
_KEEP = 8  # interpreters (or sys.path variants) remembered at once
_INFO_SUFFIXES = (".dist-info", ".egg-info")


def _stamp() -> list[int]:
    """What is installed, as numbers that change when it does (a few hundred stat calls)."""
    stamp: list[int] = []
    for entry in sys.path:
        try:
            stamp.append(os.stat(entry or ".").st_mtime_ns)
            with os.scandir(entry or ".") as listing:
                infos = sorted(e.name for e in listing if e.name.endswith(_INFO_SUFFIXES))
        except OSError:  # not there, or a file (a zip): its own time is enough
            stamp.append(-1)
            continue
        for name in infos:
            try:
                stamp.append(os.stat(os.path.join(entry, name, "entry_points.txt")).st_mtime_ns)
            except OSError:
                stamp.append(0)
    return stamp


class WorkerCache:
    """The workers found for this interpreter and ``sys.path`` in ``home``'s cache."""

    def __init__(self, home: str | os.PathLike[str]) -> None:
        self.path = pathlib.Path(home) / _FILE
        self._key = "\0".join([sys.executable, *sys.path])
        self._stamp = _stamp()

    def _read(self) -> dict[str, Any]:
        try:
            with open(self.path, encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _entry(self, data: dict[str, Any]) -> dict[str, Any]:
        """The workers remembered for this interpreter, if its stamp is still this one."""
        entry = data.get(self._key)
        if not isinstance(entry, dict) or entry.get("stamp") != self._stamp:
            return {}
        workers = entry.get("workers")
        return workers if isinstance(workers, dict) else {}

    def get(self, worker_type: str) -> tuple[str, str | None] | None:
        """``(module, distribution)`` of ``worker_type``, if found here before with the
        same distributions installed; None otherwise."""
        found = self._entry(self._read()).get(worker_type)
        if not (isinstance(found, list) and len(found) == 2 and isinstance(found[0], str)):
            return None
        distribution = found[1] if isinstance(found[1], str) else None
        return found[0], distribution

    def put(self, worker_type: str, module: str, distribution: str | None) -> None:
        """Remember where ``worker_type`` was found; silently nothing if the file cannot
        be written (a read-only home, a full disk)."""
        data = self._read()
        workers = self._entry(data)
        workers[worker_type] = [module, distribution]
        data.pop(self._key, None)
        data[self._key] = {"stamp": self._stamp, "workers": workers}  # the oldest go first
        kept = dict(list(data.items())[-_KEEP:])
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_text(json.dumps(kept), encoding="utf-8")
            os.replace(temporary, self.path)  # readers see the old file or the new, whole
        except OSError:
            with contextlib.suppress(OSError):
                temporary.unlink()

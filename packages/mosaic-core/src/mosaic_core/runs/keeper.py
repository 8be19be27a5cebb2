"""The node side of a launcher that runs workers elsewhere: one keeper process per run.

``python -m mosaic_core.runs.keeper RUN_DIR -- COMMAND...``, started by a
launcher's agent on the node (a Ray actor, a Slurm step, a pod's entry
point) with the worker's environment, starts the worker in ``RUN_DIR``
exactly as the local launcher does (:func:`~mosaic_core.runs.local.spawn_worker`)
and looks after it as the local supervisor does:

- ``RUN_DIR/worker.pid`` holds the worker's pid and start time, so the
  agent can signal its whole tree (SIGTERM, then SIGKILL after the grace);
- the keeper is a child subreaper with the supervisor's
  :class:`~mosaic_core.runs.reaper.Reaper`: what the run leaves (a child in
  a session of its own) is killed and reaped when the worker ends;
- SIGTERM, SIGINT or SIGHUP to the keeper go on to the worker's tree;
- when the keeper's parent (the agent) dies, nobody could stop or collect
  the run any more: its tree is killed at once;
- ``RUN_DIR/exit.json`` (``returncode`` as ``Popen`` gives it, and
  ``orphaned``) is written last, whole: once it exists, every file of the
  run is complete.
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import sys
import time
from collections.abc import Sequence
from typing import Any

from mosaic_core import _procs as procs
from mosaic_core.runs.local import spawn_worker
from mosaic_core.runs.reaper import Reaper

__all__ = ["EXIT_FILE", "PID_FILE", "keep", "main", "read_exit", "signal_worker", "worker_pid"]

PID_FILE = "worker.pid"
EXIT_FILE = "exit.json"
_POLL = 0.05


def keep(run_dir: pathlib.Path, command: Sequence[str]) -> int | None:
    """Run the worker to its end; returns its return code (None if it could not start)."""
    run_id = os.environ.get("MOSAIC_RUN_ID", run_dir.name)
    parent = os.getppid()
    reaper = Reaper()
    try:
        process = spawn_worker(command, run_dir, dict(os.environ), die_with_parent=True)
    except OSError as exc:
        with open(run_dir / "stderr.log", "a", encoding="utf-8") as err:
            err.write(f"mosaic keeper: the worker could not be started: {exc}\n")
        _write(run_dir / EXIT_FILE, {"returncode": None, "orphaned": False, "error": str(exc)})
        return None
    _write(run_dir / PID_FILE, {"pid": process.pid, "start": procs.start_time(process.pid)})

    def forward(signum: int, frame: Any) -> None:
        procs.signal_tree(process.pid, signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
    orphaned = False
    while process.poll() is None:
        if os.getppid() != parent and not orphaned:
            orphaned = True  # the agent is gone: nobody can stop or collect this run
            procs.signal_tree(process.pid, signal.SIGKILL)
        reaper.watch({run_id: process.pid})
        time.sleep(_POLL)
    reaper.run_ended(run_id, process.pid)
    reaper.close()
    _write(run_dir / EXIT_FILE, {"returncode": process.returncode, "orphaned": orphaned})
    return process.returncode


def worker_pid(run_dir: pathlib.Path) -> int | None:
    """The worker's pid, if it is still that process."""
    try:
        data = json.loads((run_dir / PID_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    pid = data.get("pid")
    return pid if isinstance(pid, int) and procs.alive(pid, data.get("start")) else None


def signal_worker(run_dir: pathlib.Path, signum: int) -> bool:
    """``signum`` to the worker's whole tree (its session, group and descendants); False
    when it is not running."""
    pid = worker_pid(run_dir)
    if pid is None:
        return False
    procs.signal_tree(pid, signum)
    return True


def read_exit(run_dir: pathlib.Path) -> dict[str, Any] | None:
    """``exit.json`` once the keeper wrote it, else None."""
    try:
        data = json.loads((run_dir / EXIT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write(path: pathlib.Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 3 or args[1] != "--":
        print("usage: python -m mosaic_core.runs.keeper RUN_DIR -- COMMAND...", file=sys.stderr)
        return 2
    keep(pathlib.Path(args[0]), args[2:])
    return 0


if __name__ == "__main__":
    sys.exit(main())

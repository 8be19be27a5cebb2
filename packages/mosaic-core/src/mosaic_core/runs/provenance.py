"""What a run was made with: versions, Python, host, git commit, installed packages.

Recorded once per ``mosaic run`` into each run's ``provenance.json``. The
packages are those of the environment the worker runs in, read with
``importlib.metadata`` by that environment's own Python (``mosaic run
--env``), since the host's packages say nothing about another venv.
"""

from __future__ import annotations

import json
import os
import pathlib
import platform
import socket
import subprocess
import sys
from typing import Any

from mosaic_core.__about__ import __version__

__all__ = ["collect_provenance", "environment_snapshot", "git_state"]


def environment_snapshot() -> dict[str, Any]:
    """The running Python and its installed distributions (a ``pip freeze`` as data).

    Uses the standard library only: its source is also run by another
    environment's interpreter. Only the ``Name`` and ``Version`` headers are read, not the
    whole metadata through the email parser (a few times faster: it runs as a run starts).
    """
    import importlib.metadata
    import re
    import sys

    packages: dict[str, str] = {}
    names: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = version = None
        text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
        for line in text.partition("\n\n")[0].splitlines():  # the headers, not the README
            if not line.strip():
                break  # the headers end at the first empty line
            if line.startswith("Name:") and name is None:
                name = line[5:].strip()
            elif line.startswith("Version:") and version is None:
                version = line[8:].strip()
            if name is not None and version is not None:
                break  # they come first: the classifiers and the rest need no reading
        if not name:
            continue
        normal = re.sub(r"[-_.]+", "-", name).lower()
        if normal not in names:  # the first on sys.path is the one imported
            names[normal] = name
            packages[name] = version or ""
    return {
        "python": sys.version.split()[0],
        "implementation": sys.implementation.name,
        "executable": sys.executable,
        "packages": dict(sorted(packages.items(), key=lambda kv: kv[0].lower())),
    }


def _snapshot_of(python: str) -> dict[str, Any]:
    import inspect

    source = inspect.getsource(environment_snapshot)
    code = (
        "from __future__ import annotations\nimport json\n"
        f"{source}\nprint(json.dumps(environment_snapshot()))\n"
    )
    try:
        done = subprocess.run(
            [python, "-I", "-c", code], capture_output=True, text=True, timeout=120
        )
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
            raise ValueError(last)
        data = json.loads(done.stdout)
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        return {"executable": python, "error": f"could not read its packages: {exc}"}
    return data if isinstance(data, dict) else {"executable": python}


def _snapshot_here(home: str | os.PathLike[str] | None) -> dict[str, Any]:
    """:func:`environment_snapshot`, from ``home``'s cache when it is still true."""
    if home is None:
        return environment_snapshot()
    from mosaic_core.runs.worker_cache import WorkerCache

    cache = WorkerCache(home)
    snapshot = cache.environment()
    if snapshot is None:
        snapshot = environment_snapshot()
        cache.put_environment(snapshot)
    return snapshot


def git_state(directory: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The commit checked out in ``directory`` and whether tracked files differ from it;
    None outside a git work tree or without git."""
    return _git_finish(_git_start(directory))


_GIT_ASKS = (
    ("rev-parse", "HEAD", "--show-toplevel"),
    ("status", "--porcelain", "--untracked-files=no"),
)


def _git_start(directory: str | os.PathLike[str]) -> list[subprocess.Popen[str]]:
    """Both git questions at once, answered while the caller does something else."""
    started: list[subprocess.Popen[str]] = []
    for args in _GIT_ASKS:
        try:
            started.append(subprocess.Popen(
                ["git", "-C", str(directory), *args],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                text=True,
            ))  # fmt: skip
        except OSError:  # no git: the other question is not answered either
            break
    return started


def _git_finish(started: list[subprocess.Popen[str]]) -> dict[str, Any] | None:
    answers: list[str | None] = []
    for process in started:
        try:
            out, _ = process.communicate(timeout=20)
        except subprocess.SubprocessError:
            process.kill()
            process.communicate()
            out = None
        answers.append(out.strip() if out is not None and process.returncode == 0 else None)
    if len(answers) != len(_GIT_ASKS):
        return None
    head = (answers[0] or "").splitlines()
    if len(head) != 2:
        return None
    status = answers[1]
    return {
        "commit": head[0],
        "dirty": bool(status) if status is not None else None,
        "directory": head[1],
    }


def collect_provenance(
    *,
    worker_type: str,
    worker_distribution: str | None,
    worker_version: str | None,
    python: str | None = None,
    cwd: str | os.PathLike[str] | None = None,
    home: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Provenance of runs about to start: ``python`` is the worker's interpreter (None:
    this one), ``cwd`` the directory whose git commit is recorded. Given a store's
    ``home``, this interpreter's packages are read from its cache while nothing was
    installed since they were last read (``$MOSAIC_HOME/cache/workers.json``)."""
    same = (
        python is None or pathlib.Path(python).resolve() == pathlib.Path(sys.executable).resolve()
    )
    git = _git_start(cwd if cwd is not None else os.getcwd())  # git answers meanwhile
    try:
        environment = _snapshot_here(home) if same else _snapshot_of(str(python))
    finally:
        commit = _git_finish(git)
    packages = environment.get("packages") or {}
    if worker_distribution and worker_distribution in packages:
        worker_version = packages[worker_distribution]
    return {
        "mosaic_core": __version__,
        "worker": {
            "type": worker_type,
            "distribution": worker_distribution,
            "version": worker_version,
        },
        "python": environment.get("python"),
        "executable": environment.get("executable") or python,
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "git": commit,
        "packages": packages,
        **({"error": environment["error"]} if "error" in environment else {}),
    }

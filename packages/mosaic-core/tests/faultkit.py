"""Real faults for tests: a read-only directory, a small full filesystem.

Both come from a private mount namespace (``unshare -Urm``): a read-only
bind mount of a directory, or a small tmpfs, that only the command run in
that namespace sees and that vanishes with it, so nothing on the machine is
ever left mounted, full or read-only. As root, a directory's mode bits do not
stop writes; a read-only mount does. Tests that need one skip, saying why,
where a namespace cannot be made.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

_RO = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"'
_TMPFS = 'mount -t tmpfs -o size="$2" tmpfs "$1" && shift 2 && exec "$@"'


@functools.cache
def namespaces_work() -> bool:
    if shutil.which("unshare") is None or not os.path.isdir("/proc"):
        return False
    try:
        done = subprocess.run(
            ["unshare", "-Urm", "--", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
            capture_output=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


needs_namespaces = pytest.mark.skipif(
    not namespaces_work(),
    reason="needs `unshare -Urm` (a private mount namespace) to make a read-only mount or a "
    "small full filesystem without touching the machine's",
)


def run_read_only(
    directory: Path, argv: Sequence[str], env: Mapping[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` with ``directory`` mounted read-only (EROFS), for it alone."""
    return subprocess.run(
        ["unshare", "-Urm", "--", "sh", "-c", _RO, "sh", str(directory), *argv],
        capture_output=True, text=True, timeout=timeout, env=dict(env or os.environ),
    )  # fmt: skip


def run_on_tmpfs(
    directory: Path,
    size: str,
    argv: Sequence[str],
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` with a tmpfs of ``size`` (``"2m"``) mounted on ``directory``, for it
    alone; what it writes there is gone when it ends."""
    directory.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        ["unshare", "-Urm", "--", "sh", "-c", _TMPFS, "sh", str(directory), size, *argv],
        capture_output=True, text=True, timeout=timeout, env=dict(env or os.environ),
    )  # fmt: skip


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]

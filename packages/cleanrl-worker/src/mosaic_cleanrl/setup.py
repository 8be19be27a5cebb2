"""``mosaic-cleanrl-setup``: add CleanRL 1.2.0 to this environment.

pip cannot install it as a dependency: its metadata declares Python < 3.11
and pins (gym, stable-baselines3, a CUDA torch) that its own scripts
contradict. The worker's dependencies already hold the versions that run
its scripts, so CleanRL goes in alone, with ``--no-deps``.
"""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

CLEANRL_REQUIREMENT = "cleanrl==1.2.0"
PIP_ARGS = ["--no-deps", "--ignore-requires-python", CLEANRL_REQUIREMENT]


def cleanrl_installed() -> bool:
    """Installed as the worker looks for it: a distribution whose scripts it can read."""
    try:
        metadata.distribution("cleanrl")
    except metadata.PackageNotFoundError:
        return False
    return True


def main() -> int:
    if cleanrl_installed() and "--force" not in sys.argv:
        print("cleanrl is already installed")
        return 0
    command = [sys.executable, "-m", "pip", "install", "-q", *PIP_ARGS]
    print("$ " + " ".join(command), flush=True)
    return subprocess.call(command)


if __name__ == "__main__":
    sys.exit(main())

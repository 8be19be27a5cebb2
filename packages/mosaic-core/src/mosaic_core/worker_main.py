"""``python -m mosaic_core.worker_main --worker TYPE --config FILE``: what the supervisor runs.

The module name is part of the supervisor's wire contract (it is written into
each run's ``launch.json`` and answered by the mosaic-core of a worker's own
environment), so it stays put; the code lives in :mod:`mosaic_core._worker`.
A local run started with the host's own Python also gets ``--worker-module
MODULE``, its plugin's module, so that it need not read every installed
distribution's entry points to find itself.
The names 1.0 had here still resolve, with a DeprecationWarning.
"""

from __future__ import annotations


def __getattr__(name: str) -> object:
    from mosaic_core._moved import warn_moved

    return warn_moved("mosaic_core.worker_main", name, ("mosaic_core._worker",))


if __name__ == "__main__":
    import os

    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    from mosaic_core._worker import main

    main()

"""``python -m mosaic_core.operator_main``: serve any operator spec on any environment.

A stable command name (``mosaic eval`` and the conformance kit start it, and
the docs show it); the code lives in :mod:`mosaic_core.operators.main`. The
names 1.0 had here still resolve, with a DeprecationWarning.
"""

from __future__ import annotations


def __getattr__(name: str) -> object:
    from mosaic_core._moved import warn_moved

    return warn_moved(
        "mosaic_core.operator_main", name, ("mosaic_core._serve", "mosaic_core.operators.main")
    )


if __name__ == "__main__":
    import sys

    from mosaic_core.operators.main import main

    sys.exit(main())

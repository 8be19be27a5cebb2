"""``python -m mosaic_ray.cli``: one training run, or ``--interactive`` to serve a trained
policy over the operator step protocol (``--checkpoint RUN_OR_DIR --env ENV``)."""

from __future__ import annotations

import sys

from mosaic_core import run_worker, serve_main
from mosaic_ray.plugin import SPEC


def main() -> int:
    if "--interactive" in sys.argv[1:]:
        return serve_main(SPEC)
    return run_worker(SPEC)


if __name__ == "__main__":
    sys.exit(main())

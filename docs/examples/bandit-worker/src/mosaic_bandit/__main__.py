"""``python -m mosaic_bandit --config FILE``: the worker's own console module."""

import sys

from mosaic_core import run_worker

from mosaic_bandit.plugin import SPEC

sys.exit(run_worker(SPEC))

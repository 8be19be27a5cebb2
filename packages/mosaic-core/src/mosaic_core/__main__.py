import sys

from mosaic_core.cli.app import command

sys.exit(command())

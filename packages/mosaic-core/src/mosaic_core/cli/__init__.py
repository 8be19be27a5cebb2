"""The ``mosaic`` command: one module per group of sub-commands, none importing another."""

from mosaic_core.cli.app import main

__all__ = ["main"]

"""MOSAIC worker for CleanRL: its scripts run unmodified in a subprocess, observed from outside."""

from mosaic_cleanrl.__about__ import __version__

__all__ = ["__version__"]

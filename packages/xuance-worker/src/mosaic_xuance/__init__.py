"""MOSAIC worker for XuanCe: its agents trained in the worker's process, observed from outside."""

from mosaic_xuance.__about__ import __version__

__all__ = ["__version__"]

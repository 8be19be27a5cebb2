"""MOSAIC worker for Ray RLlib: local Ray by default, an existing Ray cluster by address."""

from mosaic_ray.__about__ import __version__

__all__ = ["__version__"]

"""MOSAIC's Ray launcher: any worker's runs on a Ray cluster, their telemetry live at home.

``mosaic run WORKER --launcher ray --address HOST:PORT`` (or ``$RAY_ADDRESS``).
"""

from mosaic_ray_launcher.__about__ import __version__

__all__ = ["__version__"]

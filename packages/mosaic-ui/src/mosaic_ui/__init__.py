"""MOSAIC's local web front end: ``mosaic ui`` serves it, :func:`mosaic_ui.app.create_app`
builds it. Importing this package imports nothing heavy (the CLI loads it on every call)."""

from mosaic_ui.__about__ import __version__

__all__ = ["__version__"]

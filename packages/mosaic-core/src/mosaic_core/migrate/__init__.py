"""``mosaic migrate``: a worker written for the original MOSAIC worker guide, made a plugin.

The original guides (``gym_gui.core.worker``) had workers import a GUI
package, register a ``get_worker_metadata`` callable, hand-write their
config's ``to_dict``/``from_dict`` and write their manifest into the
working directory. :func:`migrate_project` rewrites such a project with
LibCST, keeping everything else as it was written:

- ``gym_gui.core.worker`` imports name ``mosaic_core``; the ``try: ...
  except ImportError`` fallbacks around them and the ``if _HAS_GYM_GUI:``
  branches they fed are unwrapped;
- the config dataclass derives from ``WorkerConfigBase`` (or
  ``TrainingConfigBase``), loses the methods the base provides, and its
  ``__post_init__`` checks become ``validate()`` raising ``ConfigError``;
- a ``plugin.py`` registers a ``WorkerSpec`` through the hook, and
  ``pyproject.toml`` points the entry point at it and depends on
  mosaic-core;
- the manifest goes to the run directory as ``analytics.json``.

What it cannot decide is reported as notes. It needs LibCST and tomlkit:
``pip install 'mosaic-core[migrate]'``.
"""

from __future__ import annotations

from mosaic_core.migrate._project import FileChange, Migration, migrate_project

__all__ = ["FileChange", "Migration", "migrate_project"]

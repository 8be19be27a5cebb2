"""One worker project: what it holds, what each file becomes, and the notes on the way."""

from __future__ import annotations

import difflib
import pathlib

import attrs

from mosaic_core._errors import ConfigError
from mosaic_core.migrate._survey import Survey, survey

__all__ = ["FileChange", "Migration", "migrate_project"]

#: The mosaic-core range a migrated worker declares: the SDK names it uses came in 1.1.
CORE_REQUIREMENT = "mosaic-core>=1.1,<2"


@attrs.frozen
class FileChange:
    """One file, before (None when new) and after."""

    path: pathlib.Path
    before: str | None
    after: str

    def diff(self, root: pathlib.Path) -> str:
        name = self.path.relative_to(root).as_posix()
        return "".join(
            difflib.unified_diff(
                (self.before or "").splitlines(keepends=True),
                self.after.splitlines(keepends=True),
                fromfile="/dev/null" if self.before is None else f"a/{name}",
                tofile=f"b/{name}",
            )
        )


@attrs.frozen
class Migration:
    """What :func:`migrate_project` would change, and what the author must still do."""

    root: pathlib.Path
    worker_type: str
    changes: tuple[FileChange, ...]
    notes: tuple[str, ...]

    def diff(self) -> str:
        return "".join(change.diff(self.root) for change in self.changes)

    def write(self) -> list[pathlib.Path]:
        """Apply the changes; return the files written."""
        for change in self.changes:
            change.path.parent.mkdir(parents=True, exist_ok=True)
            change.path.write_text(change.after, encoding="utf-8")
        return [change.path for change in self.changes]


def migrate_project(path: str | pathlib.Path, worker_type: str | None = None) -> Migration:
    """Plan the migration of the worker project at ``path`` (the directory holding its
    ``pyproject.toml``); nothing is written until :meth:`Migration.write`.

    ``worker_type`` names the worker when the project has no ``mosaic.workers`` entry
    point to take it from. A project that is not a worker is a ConfigError.
    """
    from mosaic_core.migrate._code import ModuleEdit, rewrite_module
    from mosaic_core.migrate._plugin import plugin_source, pyproject_text

    found = survey(pathlib.Path(path), worker_type)
    notes: list[str] = []
    changes: list[FileChange] = []
    for module, source in found.modules.items():
        name = found.module_path(module).relative_to(found.root).as_posix()
        edit = ModuleEdit(name, base=found.config_base)
        if module == found.config_module:
            edit.config_class = found.config_class
        edit.siblings = {n: s for n, s in found.defined.items() if s != module}
        edit.no_checkpoints = not found.records_checkpoints
        after = rewrite_module(source, edit, found.package)
        notes += edit.notes
        if after != source:
            changes.append(FileChange(found.module_path(module), source, after))
    for path in sorted(found.root.glob("tests/**/*.py")):
        source = path.read_text(encoding="utf-8")
        edit = ModuleEdit(path.relative_to(found.root).as_posix())
        after = rewrite_module(source, edit, found.package)
        notes += edit.notes
        if after != source:
            changes.append(FileChange(path, source, after))
    plugin = found.package_dir / "plugin.py"
    if not found.has_hook:
        if plugin.exists():
            raise ConfigError(
                f"{plugin} exists and registers no worker; move it aside so that "
                "`mosaic migrate` can write the plugin module there",
                field="PATH",
                value=str(found.root),
            )
        changes.append(FileChange(plugin, None, plugin_source(found)))
    pyproject = found.root / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    after = pyproject_text(text, found, CORE_REQUIREMENT)
    if after != text:
        changes.append(FileChange(pyproject, text, after))
    notes += found.notes + _advice(found)
    return Migration(
        root=found.root, worker_type=found.worker_type, changes=tuple(changes), notes=tuple(notes)
    )


def _advice(found: Survey) -> list[str]:
    notes = []
    if not found.failing_config_hint:
        notes.append(
            "plugin.py: add failing_config to the WorkerSpec, config changes that make run() "
            "raise (such as an unknown env_id), so `mosaic check` can check how a failure is "
            "reported"
        )
    if found.init_imports_runtime:
        notes.append(
            f"{found.package}/__init__.py imports the runtime, and discovery imports the "
            "package with the plugin module: if the runtime imports torch or your library, "
            "`mosaic check`'s plugin-light-import fails; import them inside the runtime's "
            "methods, or drop the runtime from __init__.py"
        )
    return notes

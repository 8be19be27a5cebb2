"""Reading a worker project before any change: its package, config, runtime and metadata.

The original guides laid a worker out as ``pyproject.toml`` beside its
package (``my_worker/``, or ``src/my_worker/``), with ``config.py``,
``runtime.py``, ``analytics.py`` and ``get_worker_metadata`` in
``__init__.py``. The survey finds those by what they are (a dataclass with a
``run_id`` field, a class with ``run()``), not by their file names.
"""

from __future__ import annotations

import pathlib
import re
import sys
from typing import Any

import attrs
import libcst as cst
import libcst.matchers as m

from mosaic_core._errors import ConfigError

__all__ = ["Survey", "survey"]

_WORKER_TYPE = re.compile(r"[a-z][a-z0-9_-]*\Z")
_COMMON = ("env_id", "algorithm", "total_steps")


@attrs.define
class Survey:
    root: pathlib.Path
    package: str
    package_dir: pathlib.Path
    worker_type: str
    distribution: str
    version: str
    description: str
    #: module name (``config``, ``__init__``) -> its source
    modules: dict[str, str]
    #: top-level class and function names -> the module defining them (``__init__`` aside)
    defined: dict[str, str]
    config_module: str
    config_class: str
    config_base: str
    #: the config's fields: name -> (annotation code, has a default)
    config_fields: dict[str, tuple[str, bool]]
    runtime_module: str
    runtime_class: str
    metadata_function: str | None
    has_version: bool
    has_hook: bool
    reports_lifecycle: bool
    records_checkpoints: bool
    init_imports_runtime: bool
    failing_config_hint: bool = False
    notes: list[str] = attrs.field(factory=list)

    def module_path(self, module: str) -> pathlib.Path:
        return self.package_dir / f"{module}.py"


def _toml(path: pathlib.Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"{path}: not a readable pyproject.toml ({exc})", field="PATH", value=str(path)
        ) from None
    return data


def _package(root: pathlib.Path, entry: str | None, distribution: str) -> pathlib.Path:
    candidates = [p.parent for p in [*root.glob("*/__init__.py"), *root.glob("src/*/__init__.py")]]
    candidates = [p for p in candidates if p.name not in ("tests", "test", "docs")]
    wanted = (entry or "").partition(":")[0].split(".")[0]
    for directory in candidates:
        if directory.name == wanted:
            return directory
    by_name = [d for d in candidates if d.name == distribution.replace("-", "_")]
    if len(candidates) == 1 or by_name:
        return (by_name or candidates)[0]
    raise ConfigError(
        f"{root}: cannot tell the worker's package among "
        f"{', '.join(sorted(d.name for d in candidates)) or 'no package at all'}; expected "
        "one package directory (with __init__.py) beside pyproject.toml or under src/",
        field="PATH",
        value=str(root),
    )


def _worker_type(name: str | None, entry_name: str | None, distribution: str) -> str:
    guess = name or entry_name
    if guess is None:
        base = re.sub(r"^mosaic[-_]", "", distribution.lower())
        guess = re.sub(r"[-_]worker$", "", base).replace("_", "-")
    if not _WORKER_TYPE.match(guess):
        raise ConfigError.bad_value(
            "--worker-type", guess, "a worker type matching [a-z][a-z0-9_-]*, such as 'xuance'"
        )
    return guess


def survey(root: pathlib.Path, worker_type: str | None = None) -> Survey:
    """Read the project at ``root``; a ConfigError when it is not a worker project."""
    root = root.resolve()
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        raise ConfigError(
            f"{root} has no pyproject.toml; expected the directory of a worker project",
            field="PATH",
            value=str(root),
        )
    project = _toml(pyproject).get("project", {})
    distribution = str(project.get("name") or root.name)
    entries = project.get("entry-points", {}).get("mosaic.workers", {})
    entry_name, entry = next(iter(entries.items()), (None, None))
    package_dir = _package(root, entry, distribution)
    package = package_dir.name
    modules = {
        p.stem: p.read_text(encoding="utf-8")
        for p in sorted(package_dir.glob("*.py"))
        if p.stem != "plugin" or "mosaic_register_workers" in p.read_text(encoding="utf-8")
    }
    trees = {name: _parse(package_dir / f"{name}.py", text) for name, text in modules.items()}
    defined = {
        node.name.value: name
        for name, tree in trees.items()
        if name != "__init__"
        for node in tree.body
        if isinstance(node, (cst.ClassDef, cst.FunctionDef))
    }
    config_module, config_class, fields = _find_config(trees, root)
    runtime_module, runtime_class = _find_runtime(trees, root)
    text = "\n".join(modules.values())
    init = modules.get("__init__", "")
    metadata_function = "get_worker_metadata" if "def get_worker_metadata" in init else None
    base = "TrainingConfigBase" if all(f in fields for f in _COMMON) else "WorkerConfigBase"
    return Survey(
        root=root,
        package=package,
        package_dir=package_dir,
        worker_type=_worker_type(worker_type, entry_name, distribution),
        distribution=distribution,
        version=str(project.get("version") or "0.1.0"),
        description=str(project.get("description") or _docstring(trees.get("__init__"))),
        modules=modules,
        defined=defined,
        config_module=config_module,
        config_class=config_class,
        config_base=base,
        config_fields=fields,
        runtime_module=runtime_module,
        runtime_class=runtime_class,
        metadata_function=metadata_function,
        has_version=bool(re.search(r"^__version__\s*=", init, flags=re.M)),
        has_hook="mosaic_register_workers" in text,
        reports_lifecycle=".run_started(" in text or ".lifecycle(" in text,
        records_checkpoints=any(
            marker in text for marker in ("record_checkpoint(", "checkpoint_saved(", "files=")
        ),
        init_imports_runtime=bool(
            re.search(rf"^from \.?{re.escape(runtime_module)} import", init, flags=re.M)
            or re.search(rf"^from {package}\.{runtime_module} import", init, flags=re.M)
        ),
        failing_config_hint="failing_config" in text,
    )


def _parse(path: pathlib.Path, text: str) -> cst.Module:
    try:
        return cst.parse_module(text)
    except cst.ParserSyntaxError as exc:
        raise ConfigError(
            f"{path}: not valid Python ({exc.message} at line {exc.raw_line}); fix it first",
            field="PATH",
            value=str(path),
        ) from None


def _docstring(tree: cst.Module | None) -> str:
    doc = tree.get_docstring() if tree is not None else None
    return (doc or "").strip().splitlines()[0] if doc else ""


def _find_config(
    trees: dict[str, cst.Module], root: pathlib.Path
) -> tuple[str, str, dict[str, tuple[str, bool]]]:
    """The dataclass with a ``run_id`` field: the guides' config, whatever its name."""
    found = []
    for name, tree in trees.items():
        for node in tree.body:
            if not isinstance(node, cst.ClassDef) or not any(
                "dataclass" in cst.Module([]).code_for_node(d.decorator) for d in node.decorators
            ):
                continue
            fields: dict[str, tuple[str, bool]] = {}
            for statement in node.body.body:
                if not isinstance(statement, cst.SimpleStatementLine):
                    continue
                for small in statement.body:
                    if isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name):
                        annotation = cst.Module([]).code_for_node(small.annotation.annotation)
                        fields[small.target.value] = (annotation, small.value is not None)
            bases = {cst.Module([]).code_for_node(b.value).split(".")[-1] for b in node.bases}
            if "run_id" in fields or bases & {"WorkerConfigBase", "TrainingConfigBase"}:
                found.append((name, node.name.value, fields))
    if not found:
        raise ConfigError(
            f"{root}: found no config class (a dataclass with a run_id field); "
            "`mosaic migrate` rewrites workers written from the original worker guide",
            field="PATH",
            value=str(root),
        )
    found.sort(key=lambda item: (item[0] != "config", not item[1].endswith("Config")))
    return found[0]


def _find_runtime(trees: dict[str, cst.Module], root: pathlib.Path) -> tuple[str, str]:
    """The class with a ``run()`` method that is built from a config."""
    found = []
    for name, tree in trees.items():
        for node in tree.body:
            if isinstance(node, cst.ClassDef) and m.findall(
                node.body, m.FunctionDef(name=m.Name("run"))
            ):
                found.append((name, node.name.value))
    if not found:
        raise ConfigError(
            f"{root}: found no runtime class (a class with a run() method)",
            field="PATH",
            value=str(root),
        )
    found.sort(key=lambda item: (item[0] != "runtime", not item[1].endswith("Runtime")))
    return found[0]

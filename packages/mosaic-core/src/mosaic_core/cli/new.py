"""``mosaic new worker NAME``: a complete worker package that passes the conformance kit as made.

The files come from ``mosaic_core/templates/worker/`` (shipped in the
wheel): each ``*.tmpl`` file is copied with its ``{{name}}``-style
placeholders filled in, a ``__package__`` path segment becomes the import
package, ``gitignore`` becomes ``.gitignore`` and ``github/`` ``.github/``
(GitHub Actions' ``{{ ... }}`` expressions, with their spaces, are left as
they are).
"""

from __future__ import annotations

import argparse
import importlib.resources
import pathlib
import re
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from mosaic_core.__about__ import __version__
from mosaic_core._errors import ConfigError

if TYPE_CHECKING:
    if sys.version_info >= (3, 11):
        from importlib.resources.abc import Traversable
    else:
        from importlib.abc import Traversable

__all__ = ["register", "render_worker", "template_variables"]

_NAME = re.compile(r"[a-z][a-z0-9_-]*\Z")
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
_SUFFIX = ".tmpl"


def template_variables(name: str) -> dict[str, str]:
    """The placeholders of the worker template for worker type ``name``."""
    if not _NAME.match(name):
        raise ConfigError.bad_value(
            "NAME", name, "a lower-case worker type matching [a-z][a-z0-9_-]*, such as 'gridworld'"
        )
    words = [w for w in re.split(r"[-_]", name) if w]
    # The template uses what this minor version offers (RunContext came in 1.1).
    major, minor = (int(part) for part in __version__.split(".")[:2])
    return {
        "name": name,
        "package": "mosaic_" + name.replace("-", "_"),
        "dist": f"mosaic-{name.replace('_', '-')}-worker",
        "Class": "".join(w.capitalize() for w in words),
        "title": " ".join(w.capitalize() for w in words) + " worker",
        "mosaic_pin": f">={major}.{minor},<{major + 1}",
        "mosaic_version": __version__,
    }


def _templates() -> Traversable:
    return importlib.resources.files("mosaic_core") / "templates" / "worker"


def _walk(node: Traversable, parts: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        if child.is_dir():
            if child.name != "__pycache__":
                yield from _walk(child, (*parts, child.name))
        elif child.name.endswith(_SUFFIX):
            yield (*parts, child.name[: -len(_SUFFIX)]), child.read_text(encoding="utf-8")


def _fill(text: str, variables: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: variables[m.group(1)], text)


def render_worker(name: str, target: str | pathlib.Path) -> list[pathlib.Path]:
    """Write the worker package for ``name`` into ``target``; return the files written.

    ``target`` must not exist or be an empty directory: nothing is overwritten.
    """
    variables = template_variables(name)
    root = pathlib.Path(target)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise ConfigError(
            f"{root} already exists and is not an empty directory; choose another --dir",
            field="--dir",
            value=str(root),
            expected="a new or empty directory",
        )
    written = []
    for parts, text in _walk(_templates()):
        names = [variables["package"] if p == "__package__" else p for p in parts]
        if names[-1] == "gitignore":
            names[-1] = ".gitignore"
        if names[0] == "github":  # .github/workflows/: a dot directory may not survive packaging
            names[0] = ".github"
        path = root.joinpath(*names)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_fill(text, variables), encoding="utf-8")
        written.append(path)
    return written


def _cmd_new_worker(args: argparse.Namespace) -> int:
    variables = template_variables(args.name)
    target = pathlib.Path(args.dir or variables["dist"])
    files = render_worker(args.name, target)
    print(f"wrote {len(files)} files into {target}/ ({variables['dist']}):")
    for path in files:
        print(f"  {path.relative_to(target)}")
    steps = [
        (f"cd {target}", ""),
        ("pip install -e '.[test]'", ""),
        ("pytest", "# your tests, and the conformance kit: one test per check"),
        (f"mosaic check {args.name}", "# the kit alone, as .github/workflows/ runs it in CI"),
    ]
    width = max(len(command) for command, _ in steps) + 2
    print("\nnext:")
    for command, comment in steps:
        print(f"  {command.ljust(width) if comment else command}{comment}")
    return 0


def register(commands: Any) -> None:
    """Add ``mosaic new`` to the ``mosaic`` parser's sub-commands."""
    new = commands.add_parser("new", help="make a new worker package from the template")
    kinds = new.add_subparsers(dest="new_command", metavar="KIND", required=True)
    worker = kinds.add_parser(
        "worker",
        help="a worker package that installs and passes `mosaic check` as made",
        description="Write a complete worker package: pyproject.toml with the entry point, "
        "src layout, config, runtime, plugin module, README, CHANGELOG and tests that run the "
        "conformance kit.",
    )
    worker.add_argument("name", help="the worker type, e.g. gridworld ([a-z][a-z0-9_-]*)")
    worker.add_argument(
        "--dir", help="directory to write into (default: ./mosaic-NAME-worker); new or empty"
    )
    worker.set_defaults(func=_cmd_new_worker)

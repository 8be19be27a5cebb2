"""``mosaic migrate PATH``: a worker written for the original worker guide, made a plugin.

Prints the changes as a unified diff and writes nothing unless ``--write``
is given; then the notes, what the author must still decide. Exit status:
0 done (or nothing to do), 2 for a path that is not a worker project or a
missing dependency.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["register"]


def _cmd_migrate(args: argparse.Namespace) -> int:
    from mosaic_core._errors import MosaicError

    try:
        from mosaic_core.migrate import migrate_project
    except ImportError as exc:
        raise MosaicError(
            f"mosaic migrate needs {exc.name or 'LibCST'}, which is not installed here; "
            "`pip install 'mosaic-core[migrate]'`"
        ) from None
    migration = migrate_project(args.path, args.worker_type)
    if not migration.changes:
        print(f"{migration.root}: nothing to migrate (worker {migration.worker_type!r})")
        return 0
    if args.write:
        for path in migration.write():
            print(f"wrote {path.relative_to(migration.root)}")
    else:
        sys.stdout.write(migration.diff())
    out = sys.stdout if args.write else sys.stderr
    if migration.notes:
        print("\nnotes:", file=out)
        for note in migration.notes:
            print(f"- {note}", file=out)
    nxt = (
        f"\nnext: pip install -e {args.path} && mosaic check {migration.worker_type}"
        if args.write
        else "\n(nothing written: run again with --write to apply these changes)"
    )
    print(nxt, file=out)
    return 0


def register(commands: Any) -> None:
    """Add ``mosaic migrate`` to the ``mosaic`` parser's sub-commands."""
    migrate = commands.add_parser(
        "migrate",
        help="rewrite a worker written for the original worker guide (gym_gui) into a plugin",
        description="Rewrite the worker project at PATH, written for the original MOSAIC worker "
        "guide (gym_gui imports, a get_worker_metadata entry point), into a mosaic-core plugin: "
        "imports, config base class, a plugin module with the hook, the entry point, the "
        "manifest. Shows a diff; writes only with --write. Needs `mosaic-core[migrate]`.",
    )
    migrate.add_argument("path", metavar="PATH", help="the project directory (its pyproject.toml)")
    migrate.add_argument("--write", action="store_true", help="apply the changes to the files")
    migrate.add_argument(
        "--worker-type",
        metavar="NAME",
        help="the worker type, when the project has no mosaic.workers entry point to name it",
    )
    migrate.set_defaults(func=_cmd_migrate)

"""``mosaic launchers`` (where runs can go) and ``mosaic pull RUN`` (bring home what a run
wrote elsewhere).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from mosaic_core import _procs as procs
from mosaic_core.runs.launcher_registry import discover_launchers, launcher_for
from mosaic_core.runs.launchers import LOCAL
from mosaic_core.runs.reconcile import launch_spec_of, reconcile
from mosaic_core.runs.store import RunStore

__all__ = ["register"]


def _cmd_launchers(args: argparse.Namespace) -> int:
    found = discover_launchers()
    rows: list[dict[str, Any]] = []
    for name, spec in sorted(found.specs.items()):
        _entry, dist, version = found.origins.get(name, ("", None, None))
        rows.append({
            "name": name, "status": "ok", "description": spec.description,
            "distribution": f"{dist} {version}" if dist else "mosaic-core (built in)",
            "options": dict(spec.options),
        })  # fmt: skip
    for plugin in found.broken:
        rows.append({
            "name": plugin.name, "status": "broken", "description": f"{plugin.error_type}: "
            f"{plugin.error}", "distribution": plugin.distribution or plugin.entry_point,
            "options": {}, "hint": plugin.hint,
        })  # fmt: skip
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    from mosaic_core.cli.output import print_table

    print_table(
        [("LAUNCHER", "STATUS", "DISTRIBUTION", "DESCRIPTION")]
        + [(r["name"], r["status"], r["distribution"], r["description"]) for r in rows]
    )
    for row in rows:
        for option, text in row["options"].items():
            print(f"  {row['name']}: --launcher-option {option}=...  {text}")
        if row.get("hint"):
            print(f"  {row['name']}: {row['hint']}")
    return 0


def _cmd_pull(args: argparse.Namespace) -> int:
    with RunStore() as store:
        run = store.get(args.run)
        run_id, run_dir = run["run_id"], store.run_dir(run["run_id"])
        spec = launch_spec_of(run_dir)
        if spec is None or spec.launcher == LOCAL:
            print(f"run {run_id} ran on this machine: everything it wrote is in {run_dir}")
            return 0
        # Beside a live supervisor the telemetry is its to relay: only files come now.
        supervised = procs.alive(run["supervisor_pid"], run["supervisor_start"])
        launcher = launcher_for(spec.launcher, {})
        try:
            found = launcher.recover(store, run_id, spec, telemetry=not supervised, files=True)
        finally:
            launcher.close()
        if not supervised:
            store.catch_up(run_id)
            reconcile(store)
        if found is None:
            print(f"run {run_id}: launcher {spec.launcher!r} keeps nothing of it elsewhere")
            return 0
        print(
            f"pulled {len(found.files)} file(s) and {found.telemetry_bytes} bytes of telemetry "
            f"and logs of run {run_id} from {found.where or spec.launcher} into {run_dir}"
        )
        if found.running:
            print("it is still running: `mosaic pull` again for what it writes next")
        return 0


def register(commands: Any) -> None:
    """Add ``launchers`` and ``pull`` to the ``mosaic`` parser's sub-command group."""
    launchers = commands.add_parser(
        "launchers", help="where runs can go: the local launcher and installed ones"
    )
    launchers.add_argument("--json", action="store_true", help="print JSON")
    launchers.set_defaults(func=_cmd_launchers)

    pull = commands.add_parser(
        "pull",
        help="bring home what a run wrote elsewhere (checkpoints, artifacts, telemetry)",
        description="Bring home what a run that a launcher sent elsewhere has written: its "
        "checkpoints and artifacts, and, when nobody supervises it, its telemetry and logs.",
    )
    pull.add_argument("run", help="run id (or an unambiguous prefix)")
    pull.set_defaults(func=_cmd_pull)

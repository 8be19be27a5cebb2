"""``mosaic envs``: the installed environment families, a task's details, a preview frame.

::

    mosaic envs [FAMILY] [--json]       families (or one family's tasks)
    mosaic envs show TASK [--json]      agents, spaces, key map, settings
    mosaic envs preview TASK [-o PATH]  the first frame, as PNG (or text)

Listing loads the family plugins and lists tasks; only ``show`` and
``preview`` make an environment.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import re
import sys
from typing import Any

from mosaic_core.cli.output import print_table

__all__ = ["register"]

_USAGE = (
    "mosaic envs [FAMILY] [--json]\n"
    "       mosaic envs show TASK [--setting NAME=VALUE] [--json]\n"
    "       mosaic envs preview TASK [--seed S] [-o PATH] [--setting NAME=VALUE]"
)


def _settings(items: list[str]) -> dict[str, str]:
    from mosaic_core._errors import ConfigError

    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ConfigError.bad_value("--setting", item, "NAME=VALUE, such as tile_size=16")
        out[name.strip()] = value.strip()
    return out


def _agents(tasks: list[dict[str, Any]]) -> str:
    counts = sorted({t["agent_count"] for t in tasks})
    if not counts:
        return "-"
    return str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"


def _steppings(tasks: list[dict[str, Any]]) -> str:
    return ", ".join(sorted({t["stepping"] for t in tasks})) or "-"


def _listing(args: argparse.Namespace) -> int:
    from mosaic_core._family_registry import discover_env_families

    found = discover_env_families()
    names = sorted(found.families)
    if args.words:
        family = found.get(args.words[0])  # a PluginError naming the near misses
        names = [family.name]
    rows = [found.families[n].to_dict() for n in names]
    if args.json:
        broken = [b.to_dict() for b in found.broken] if not args.words else []
        print(json.dumps({"families": rows, "broken": broken}, indent=2))
        return 0
    if args.words:
        return _print_family(rows[0])
    if not rows and not found.broken:
        print("No environment families are installed.")
        print("Install the standard ones with `pip install 'mosaic-envs[all]'`, or register")
        print("your own: an entry point in the group 'mosaic.env_families'.")
        return 0
    table = [("FAMILY", "NAME", "TASKS", "AGENTS", "STEPPING", "STATUS")]
    for row in rows:
        tasks = row["tasks"]
        status = "installed" if row["installed"] else row["install"]
        table.append(
            (
                row["name"],
                row["display_name"],
                str(len(tasks)) if tasks is not None else "-",
                _agents(tasks or []),
                _steppings(tasks or []),
                status,
            )
        )
    for b in found.broken:
        table.append((b.name, "-", "-", "-", "-", f"broken: {b.error_type}: {b.error}"))
    print_table(table)
    for b in found.broken:
        print(f"\n{b.name}: broken: {b.error_type}: {b.error}\n  hint: {b.hint}")
    return 0


def _print_family(row: dict[str, Any]) -> int:
    print(f"{row['display_name']} ({row['name']}): {row['description']}")
    if not row["installed"]:
        print(f"not installed here (missing {', '.join(row['missing'])}): {row['install']}")
    for setting in row["settings"]:
        print(f"setting {setting['name']} = {setting['default']!r}: {setting['description']}")
    tasks = row["tasks"]
    if tasks is None:
        print("its tasks are listed from its library once installed")
        return 0
    print()
    table = [("TASK", "AGENTS", "STEPPING", "KEYS", "LEGAL MOVES")]
    for task in tasks:
        table.append(
            (
                task["id"],
                str(task["agent_count"]),
                task["stepping"],
                "yes" if task["key_map"] else "-",
                "yes" if task["legal_actions"] else "-",
            )
        )
    print_table(table)
    return 0


def _show(args: argparse.Namespace, task_id: str) -> int:
    from mosaic_core.families import describe_task

    info = describe_task(task_id, settings=_settings(args.setting))
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    print(f"{info['id']}: {info['family_display_name']} ({info['family']}), {info['stepping']}")
    if info["description"]:
        print(info["description"])
    print(f"made as: {info['env']}")
    for seat in info["seats"]:
        print(f"\nagent {seat['id'] or '(single)'}")
        print(f"  actions:      {_space_text(seat['action_space'])}")
        print(f"  observations: {_space_text(seat['observation_space'])}")
    key_map = info["key_map"]
    if key_map:
        print("\nkeys:")
        labels = key_map["labels"]
        for key, action in key_map["keys"].items():
            label = labels[action] if action < len(labels) else ""
            print(f"  {key:<10} {action} {label}".rstrip())
        if key_map["noop"] is not None:
            print(f"  (no key)   {key_map['noop']} {labels[key_map['noop']] if labels else ''}")
    if info["settings"]:
        print("\nsettings:")
        for s in info["settings"]:
            print(f"  {s['name']} = {s['value']!r} (default {s['default']!r}): {s['description']}")
    return 0


def _space_text(space: dict[str, Any]) -> str:
    kind = space.get("type")
    if kind == "Discrete":
        return f"Discrete({space['n']})"
    if kind == "Box":
        return f"Box(shape={tuple(space['shape'])}, dtype={space['dtype']})"
    if kind == "Dict":
        inner = ", ".join(f"{k}: {_space_text(v)}" for k, v in space["spaces"].items())
        return f"Dict({inner})"
    return str(space.get("text") or space)


def _preview(args: argparse.Namespace, task_id: str) -> int:
    from mosaic_core.families import png_bytes, preview

    shot = preview(task_id, seed=args.seed, settings=_settings(args.setting))
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", task_id)
    if shot.text is not None:
        if args.output in (None, "-"):
            print(shot.text)
            return 0
        path = pathlib.Path(args.output)
        path.write_text(shot.text, encoding="utf-8")
        print(f"{path}: text, {len(shot.text.splitlines())} lines", file=sys.stderr)
        return 0
    path = pathlib.Path(args.output or f"{stem}.png")
    path.write_bytes(png_bytes(shot.rgb))
    height, width = shot.shape[0], shot.shape[1]
    print(f"{path}: {width}x{height} PNG, seed {args.seed}", file=sys.stderr)
    return 0


def _cmd_envs(args: argparse.Namespace) -> int:
    from mosaic_core._errors import ConfigError

    words = args.words
    if words and words[0] in ("show", "preview"):
        if len(words) != 2:
            raise ConfigError(f"usage: mosaic envs {words[0]} TASK", field="TASK")
        return (_show if words[0] == "show" else _preview)(args, words[1])
    if len(words) > 1:
        raise ConfigError(
            f"mosaic envs: too many arguments {words}; expected FAMILY, show TASK or preview TASK"
        )
    return _listing(args)


def register(commands: Any) -> None:
    envs = commands.add_parser(
        "envs",
        help="environment families and their tasks; show a task, preview its first frame",
        usage=_USAGE,
        description="List the installed environment families (plugins of the entry-point "
        "group 'mosaic.env_families'), one family's tasks, a task's agents, spaces, keys and "
        "settings (show), or write a task's first frame as PNG (preview; text games print "
        "text).",
    )
    envs.add_argument(
        "words",
        nargs="*",
        metavar="FAMILY | show TASK | preview TASK",
        help="a family to list the tasks of, or show/preview and a task id",
    )
    envs.add_argument("--json", action="store_true", help="print JSON (listing and show)")
    envs.add_argument("--seed", type=int, default=0, help="preview: the reset seed (default 0)")
    envs.add_argument(
        "-o", "--output", metavar="PATH", help="preview: where to write (default TASK.png)"
    )
    envs.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a family setting (repeatable), e.g. tile_size=16",
    )
    envs.set_defaults(func=_cmd_envs)

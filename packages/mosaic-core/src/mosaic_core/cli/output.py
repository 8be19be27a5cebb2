"""Plain-text output shared by the ``mosaic`` sub-commands."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["config_fields_text", "print_table"]


def print_table(rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [str(c).ljust(w) for c, w in zip(row, widths, strict=False)] + [str(row[-1])]
        print("  ".join(cells).rstrip())


def config_fields_text(config_class: type, worker: str, algorithm: str | None = None) -> str:
    """The fields of a worker's config as a help table: name, type, default, description.

    A config class without a schema (one that only meets the ``WorkerConfig``
    protocol) is a :class:`~mosaic_core.ConfigError` saying so.
    """
    import dataclasses
    import json
    import shutil
    import textwrap

    from mosaic_core._errors import ConfigError
    from mosaic_core._schema import field_infos

    if not callable(getattr(config_class, "json_schema", None)):
        raise ConfigError(
            f"worker {worker!r} has a config class ({config_class.__name__}) that does not "
            "describe its fields: it does not derive from mosaic_core.WorkerConfigBase",
            field="WORKER",
            value=worker,
        )
    variants: dict[str, Any] = dict(getattr(config_class, "variants", dict)())
    default_algorithm = next(
        (f.default for f in dataclasses.fields(config_class) if f.name == "algorithm"), None
    )
    if algorithm is not None and not variants:
        raise ConfigError(
            f"--algorithm {algorithm!r}: worker {worker!r} has one config class for every "
            "algorithm, so there is nothing to choose; leave --algorithm out",
            field="--algorithm",
            value=algorithm,
            expected="no --algorithm",
        )
    chosen = algorithm
    if variants and chosen is None and isinstance(default_algorithm, str):
        chosen = default_algorithm
    infos = field_infos(config_class, chosen if variants else None)
    lines = []
    title = f"{worker} config" + (f", algorithm {chosen!r}" if variants else "")
    lines.append(f"{title}:")
    width = max(60, shutil.get_terminal_size((100, 24)).columns)
    name_w = max(len(i.name) for i in infos)
    type_w = min(28, max(len(i.type) for i in infos))
    for info in infos:
        if info.name == "run_id":
            continue
        if info.secret:
            default = "(secret)"
        elif info.default is dataclasses.MISSING:
            default = "(required)"
        else:
            default = json.dumps(info.default)
        head = f"  {info.name.ljust(name_w)}  {info.type.ljust(type_w)}  default {default}"
        lines.append(head)
        if info.doc:
            indent = " " * (name_w + 6)
            lines += textwrap.wrap(
                info.doc, width=width, initial_indent=indent, subsequent_indent=indent
            )
    if variants:
        names = ", ".join(f"{n} (default)" if n == default_algorithm else n for n in variants)
        lines.append(f"\nalgorithms: {names}; `--algorithm NAME` shows the fields of one")
    return "\n".join(lines)

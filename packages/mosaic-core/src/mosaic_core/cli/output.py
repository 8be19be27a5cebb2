"""Plain-text output shared by the ``mosaic`` sub-commands."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

TYPE_CHECKING = False  # not typing's: `mosaic runs` imports this module, typing 3 ms more
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "columns_text", "config_fields_text", "format_number", "format_numbers", "group_table_text",
    "print_table", "table_text",
]  # fmt: skip


def table_text(rows: Sequence[Sequence[Any]], indent: str = "") -> str:
    """Rows of equal length, the header first, as aligned columns (the last column is not
    padded)."""
    if not rows:
        return ""
    header, *body = (list(map(str, row)) for row in rows)
    columns = [list(column) for column in zip(*body, strict=True)] if body else [[]] * len(header)
    return columns_text(header, columns, indent)


def columns_text(header: Sequence[str], columns: Sequence[Sequence[str]], indent: str = "") -> str:
    """A header and columns of text of equal length, aligned as :func:`table_text` aligns
    rows: a table made column by column needs no row lists. One ``%`` format for every
    line: 10,000 rows of ten columns in about 10 ms."""
    if len(header) != len(columns) or len({len(column) for column in columns}) > 1:
        raise ValueError("columns_text: a header and columns of one length are expected")
    widths = [max(len(head), max(map(len, column), default=0))
              for head, column in zip(header[:-1], columns[:-1], strict=True)]  # fmt: skip
    line = indent.replace("%", "%%") + "".join(f"%-{w}s  " for w in widths) + "%s"
    lines = [(line % tuple(header)).rstrip()]
    lines += [(line % cells).rstrip() for cells in zip(*columns, strict=True)]
    return "\n".join(lines)


def print_table(rows: Sequence[Sequence[Any]]) -> None:
    print(table_text(rows))


def format_number(value: Any) -> str:
    """Four significant digits for floats, as they are for the rest; ``-`` for nothing."""
    return format_numbers((value,))[0]


def format_numbers(values: Iterable[Any]) -> list[str]:
    """:func:`format_number` of each value: a column of 10,000 without a call per value."""
    return ["-" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v) for v in values]


_STAT_WORDS = {
    "tail": "mean of the last 10 values",
    "last": "last value",
    "max": "largest value",
    "min": "smallest value",
    "mean": "mean of all values",
}


def group_table_text(stats: dict[str, Any]) -> str:
    """The table a sweep ends with: per configuration, runs, mean and IQM with their CIs.

    ``stats`` is what :func:`mosaic_core.query.group_statistics` returns.
    """
    import json

    confs = stats["configurations"]
    metric = stats["metric"] or "headline metric"
    keys = sorted({k for c in confs for k in c["metric_keys"]})
    if stats["metric"] is None and keys:
        metric = ", ".join(keys)
    how = _STAT_WORDS.get(stats["stat"] or "", "")
    boot = stats["bootstrap"]
    level = f"{boot['confidence']:.0%}"
    head = f"{metric}" + (f" ({how} per run)" if how else "")
    foot = (f"  {level} CIs: stratified bootstrap over runs, {boot['reps']:,} resamples, "
            f"seed {boot['seed']}")  # fmt: skip
    fields = stats["fields"]
    rows: list[list[str]] = [[*(f.upper() for f in fields), "RUNS", f"MEAN [{level} CI]",
                              f"IQM [{level} CI]"]]  # fmt: skip
    if not fields:
        rows[0].insert(0, "CONFIGURATION")
    for conf in confs:
        cells = [v if isinstance(v, str) else json.dumps(v) for v in conf["fields"].values()]
        if not fields:
            cells.insert(0, conf["label"])
        counted = str(conf["n"]) if conf["n"] == conf["runs"] else f"{conf['n']}/{conf['runs']}"
        rows.append([*cells, counted, _estimate(conf["mean"], conf["mean_ci"]),
                     _estimate(conf["iqm"], conf["iqm_ci"])])  # fmt: skip
    title = f"group {stats['group']}: " if stats.get("group") else ""
    return f"{title}{head}\n" + table_text(rows, indent="  ") + "\n" + foot


def _estimate(value: Any, interval: Any) -> str:
    if value is None:
        return "-"
    if not interval:
        return format_number(value)
    return f"{format_number(value)} [{format_number(interval[0])}, {format_number(interval[1])}]"


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

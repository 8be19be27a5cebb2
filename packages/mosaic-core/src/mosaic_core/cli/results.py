"""The commands that look at results: runs, show, metrics, compare, group.

Each asks :mod:`mosaic_core.query` for JSON-ready data and prints it, as
text or, with ``--json``, as it came.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Iterable, Sequence

from mosaic_core._gc import collector_paused
from mosaic_core.cli.argtypes import whole_number
from mosaic_core.cli.output import (
    columns_text,
    format_number,
    format_numbers,
    group_table_text,
    table_text,
)
from mosaic_core.cli.stores import open_store
from mosaic_core.runs.store import STATUSES, RunStore

TYPE_CHECKING = False  # not typing's: `mosaic runs` imports this module, typing 3 ms more
if TYPE_CHECKING:
    from typing import Any

__all__ = ["register", "runs_text"]


def _store() -> contextlib.AbstractContextManager[RunStore]:
    return open_store(write=False, reconciled=True)


def _age(created: float | None, now: float) -> str:
    return _ages((created,), now)[0]


def _ages(created: Iterable[float | None], now: float) -> list[str]:
    """How long ago each was made, in its largest whole unit (``3d``, ``5h``, ``12m``,
    ``40s``; ``-`` for none): a column of 10,000 without a call per value."""
    out: list[str] = []
    for when in created:
        if not when:
            out.append("-")
            continue
        seconds = int(now - when)
        if seconds < 60:
            out.append(f"{max(0, seconds)}s")
        elif seconds < 3600:
            out.append(f"{seconds // 60}m")
        elif seconds < 86400:
            out.append(f"{seconds // 3600}h")
        else:
            out.append(f"{seconds // 86400}d")
    return out


def _cmd_runs(args: argparse.Namespace) -> int:
    with collector_paused():
        return _list_runs(args)  # its rows are freed before the collector is on again


def _list_runs(args: argparse.Namespace) -> int:
    from mosaic_core.query import run_table
    from mosaic_core.query.table import run_columns

    filters = []
    if args.filter:  # the filters' module (dataclasses, inspect) only for a filter
        from mosaic_core.query import parse_filter

        filters = [parse_filter(text) for text in args.filter]
    with _store() as store:
        if args.json or filters or args.sort is not None or args.metric is not None:
            rows = run_table(
                store, worker=args.worker, status=args.status, group=args.group,
                filters=filters, sort=args.sort, limit=args.limit, metric=args.metric,
                stat=args.stat, details=args.json,
            )  # fmt: skip
            if args.json:
                print(json.dumps(rows, indent=2, default=str))
                return 0
            columns = _columns(rows)
        else:  # the same rows as columns, without a dict per run
            columns = run_columns(
                store, worker=args.worker, status=args.status, group=args.group,
                limit=args.limit, stat=args.stat,
            )  # fmt: skip
        if not columns["run_id"]:
            total = len(store.list_runs(limit=1))
            if total:
                asked = [f"--{n} {getattr(args, n)}" for n in ("worker", "status", "group")
                         if getattr(args, n)] + [f"--filter {f}" for f in args.filter]  # fmt: skip
                print(f"No runs match {' '.join(asked)}; `mosaic runs` lists them all.")
            else:
                print("No runs yet. Start one with `mosaic run WORKER --set key=value ...`.")
            return 0
    print(_table_text(columns, args.metric, args.stat))
    return 0


def runs_text(rows: list[dict[str, Any]], metric: str | None, stat: str) -> str:
    """The table ``mosaic runs`` prints of rows of :func:`~mosaic_core.query.run_table`."""
    return _table_text(_columns(rows), metric, stat)


# The keys of a run table's rows that its text shows, or reads to show.
_TEXT_KEYS = (
    "run_id", "worker_type", "algorithm", "env_id", "seed", "group", "status", "step",
    "total_steps", "created_at", "reason",
)  # fmt: skip


def _columns(rows: list[dict[str, Any]]) -> dict[str, Sequence[Any]]:
    """Rows of :func:`~mosaic_core.query.run_table` as the columns that
    :func:`~mosaic_core.query.table.run_columns` gives."""
    columns: dict[str, Sequence[Any]] = {key: [row[key] for row in rows] for key in _TEXT_KEYS}
    metrics = [row["metric"] for row in rows]
    columns["metric_key"] = [m["key"] for m in metrics]
    columns["metric_value"] = [m["value"] for m in metrics]
    return columns


def _table_text(columns: dict[str, Sequence[Any]], metric: str | None, stat: str) -> str:
    """The table of runs of :func:`_columns`, made column by column (the store's text
    columns are text already)."""
    keys = {key for key in columns["metric_key"] if key}
    header = metric or (keys.pop() if len(keys) == 1 else "HEADLINE")
    if metric and not metric.startswith("summary."):
        header += f" ({stat})"
    now = time.time()
    heads = ["RUN", "WORKER", "ALGORITHM", "ENV", "SEED", "GROUP", "STATUS", "STEP", header, "AGE"]
    texts = [
        columns["run_id"],
        columns["worker_type"],
        [value or "-" for value in columns["algorithm"]],
        [value or "-" for value in columns["env_id"]],
        format_numbers(columns["seed"]),
        [value or "-" for value in columns["group"]],
        columns["status"],
        _steps(columns["step"], columns["total_steps"]),
        format_numbers(columns["metric_value"]),
        _ages(columns["created_at"], now),
    ]
    if any(columns["reason"]):
        heads.append("REASON")
        texts.append([reason or "" for reason in columns["reason"]])
    return columns_text(heads, texts)


def _steps(steps: Iterable[int | None], totals: Iterable[int | None]) -> list[str]:
    """Each run's latest step, of its total steps where it has them."""
    return [
        "-" if step is None else f"{step}/{total}" if total else str(step)
        for step, total in zip(steps, totals, strict=True)
    ]


def _cmd_show(args: argparse.Namespace) -> int:
    from mosaic_core.query import run_details

    with _store() as store:
        run = run_details(store, args.run)
    if args.json:
        print(json.dumps(run, indent=2, default=str))
        return 0
    for key in ("run_id", "worker_type", "status", "reason", "algorithm", "env_id", "seed",
                "group", "total_steps", "step", "events", "anomalies", "exit_code", "signal",
                "pid", "env_name", "python", "run_dir"):  # fmt: skip
        value = run.get(key)
        if key == "anomalies":
            value = len(value or ())
        if value not in (None, "", [], 0) or key in ("seed", "step"):
            print(f"{key:>12}: {format_number(value)}")
    for key in ("created_at", "started_at", "ended_at"):
        if run[key]:
            print(f"{key:>12}: {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(run[key]))}")
    if run["metric"]["key"]:
        m = run["metric"]
        print(f"{'headline':>12}: {m['key']} = {format_number(m['value'])} ({m['stat']})")
    _section("config", run["config"], skip=("run_id",))
    _section("summary", {k: v for k, v in run["summary"].items() if not isinstance(v, dict)})
    _section("metrics", run["final_metrics"])
    prov = run["provenance"]
    if isinstance(prov, dict):
        worker = prov.get("worker") or {}
        git = prov.get("git") or {}
        _section("provenance", {
            "mosaic-core": prov.get("mosaic_core"),
            "worker": f"{worker.get('distribution') or worker.get('type')} "
                      f"{worker.get('version') or '?'}",
            "python": f"{prov.get('python')} ({prov.get('executable')})",
            "host": prov.get("host"),
            "git": f"{git['commit']}{' (modified)' if git.get('dirty') else ''}" if git else None,
            "packages": f"{len(prov.get('packages') or {})} (mosaic show --json lists them)",
        })  # fmt: skip
    if run["error"]:
        print(f"       error: {run['error']}")
    return 0


def _section(title: str, values: dict[str, Any], skip: tuple[str, ...] = ()) -> None:
    shown = {k: v for k, v in values.items() if k not in skip and v is not None}
    if not shown:
        return
    print(f"{title:>12}:")
    for key, value in shown.items():
        text = value if isinstance(value, str) else format_number(value)
        if isinstance(value, (list, dict)):
            text = json.dumps(value)
        print(f"{'':>14}{key} = {text}")


def _cmd_metrics(args: argparse.Namespace) -> int:
    from mosaic_core.query import check_keys, run_curves, runs_of

    with _store() as store:
        rows = runs_of(store, args.runs)
        ids = [r["run_id"] for r in rows]
        have = check_keys(store, ids, args.key)
        keys = args.key or sorted({k for ks in have.values() for k in ks})
        items = run_curves(store, ids, keys, points=args.points, smooth=args.smooth)
    for run_id in ids:
        for key in args.key:
            if key not in have[run_id]:
                print(f"mosaic: run {run_id} has no metric {key!r}", file=sys.stderr)
    if args.json:
        print(json.dumps(items, indent=2))
        return 0
    if args.csv:
        import csv

        writer = csv.writer(sys.stdout)
        writer.writerow(["run_id", "step", "key", "value", "timestamp"])
        for item in items:
            for step, value, stamp in zip(item["steps"], item["values"], item["timestamps"],
                                          strict=True):  # fmt: skip
                writer.writerow([item["run_id"], step, item["key"], value, stamp])
        return 0
    several = len(ids) > 1
    for item in items:
        for step, value in zip(item["steps"], item["values"], strict=True):
            head = f"{item['run_id']}  " if several else ""
            print(f"{head}{step:>10}  {item['key']:<36} {value}")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from mosaic_core.query import compare_runs, select_runs

    with _store() as store:
        rows = select_runs(store, args.runs, group=args.group)
        data = compare_runs(store, [r["run_id"] for r in rows], args.key or None)
    if args.json:
        print(json.dumps(data, indent=2, default=str))
        return 0
    runs = data["runs"]
    table: list[list[str]] = [["", *(r["run_id"][-8:] for r in runs)]]
    table.append(["label", *(r["label"] for r in runs)])
    table.append(["status", *(r["status"] for r in runs)])
    for field, values in data["config"]["differ"].items():
        table.append([f"config.{field}", *(_cell(v) for v in values)])
    for key, entries in data["metrics"].items():
        better = "min" if key in data["lower_is_better"] else "max"
        table.append([f"{key} final", *(format_number(e and e["final"]) for e in entries)])
        table.append([f"{key} best ({better})",
                      *(format_number(e and e["best"]) for e in entries)])  # fmt: skip
    print(table_text(table))
    same = data["config"]["same"]
    if same:
        print("same in every run: " + ", ".join(f"{k}={_cell(v)}" for k, v in same.items()))
    return 0


def _cell(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return format_number(value)


def _cmd_group(args: argparse.Namespace) -> int:
    from mosaic_core.query import group_statistics, select_runs

    with _store() as store:
        if args.name is None:
            groups = store.groups()
            if args.json:
                print(json.dumps(groups, indent=2))
            elif not groups:
                print("No groups yet: `mosaic run ... --seeds 1,2,3` or `--sweep` makes one.")
            else:
                now = time.time()
                print(
                    table_text(
                        [["GROUP", "RUNS", "AGE"]]
                        + [[g["name"], g["runs"], _age(g["last_created"], now)] for g in groups]
                    )
                )
            return 0
        rows = select_runs(store, group=args.name)
        stats = group_statistics(store, rows, group=args.name, metric=args.metric,
                                 stat=args.stat, seed=args.bootstrap_seed)  # fmt: skip
    if args.json:
        print(json.dumps(stats, indent=2, default=str))
    else:
        print(group_table_text(stats))
    return 0


def _metric_options(parser: argparse.ArgumentParser) -> None:
    from mosaic_core.query import STATS

    parser.add_argument(
        "--metric", metavar="KEY",
        help="the summary metric: a metric key, or summary.PATH for a number of the run's "
        "summary (default: the worker's headline return)",
    )  # fmt: skip
    parser.add_argument(
        "--stat", choices=STATS, default="tail",
        help="how a metric's values become one number per run: tail (mean of the last 10, "
        "the default), last, max, min or mean",
    )  # fmt: skip


def register(commands: Any) -> None:
    """Add the result commands to the ``mosaic`` parser's sub-command group."""
    runs = commands.add_parser(
        "runs", help="list runs", description="List runs, newest first, with a summary metric."
    )
    runs.add_argument("--worker", help="only runs of this worker type")
    runs.add_argument("--status", choices=STATUSES, help="only runs with this status")
    runs.add_argument("--group", help="only runs of this group (a sweep or --seeds)")
    runs.add_argument(
        "--filter", action="append", default=[], metavar="EXPR",
        help="only runs where EXPR holds, e.g. 'config.learning_rate<1e-3' or "
        "'metric>=400' (FIELD OP VALUE; OP one of == != < <= > >= ~); repeat to AND",
    )  # fmt: skip
    runs.add_argument(
        "--sort", metavar="FIELD",
        help="order by FIELD (a column, metric, config.X or summary.X); FIELD:desc (or "
        "--sort=-FIELD) for largest first",
    )  # fmt: skip
    runs.add_argument("--limit", type=whole_number(1), help="at most this many runs")
    _metric_options(runs)
    runs.add_argument("--json", action="store_true", help="the rows as a JSON list")
    runs.set_defaults(func=_cmd_runs)

    show = commands.add_parser("show", help="one run in detail: config, summary, provenance")
    show.add_argument("run", help="run id (or an unambiguous prefix)")
    show.add_argument("--json", action="store_true", help="everything as one JSON object")
    show.set_defaults(func=_cmd_show)

    metrics = commands.add_parser("metrics", help="the metrics of one or more runs")
    metrics.add_argument("runs", nargs="+", metavar="RUN", help="run ids (or prefixes)")
    metrics.add_argument(
        "--key", action="append", default=[], help="only this metric; repeat for more"
    )
    metrics.add_argument(
        "--points", type=whole_number(3), metavar="N",
        help="at most N points per run and key, chosen to keep the curve's shape (LTTB)",
    )  # fmt: skip
    metrics.add_argument(
        "--smooth", type=whole_number(1), metavar="N", help="a moving average over N points"
    )
    metrics.add_argument(
        "--csv", action="store_true", help="CSV: run_id, step, key, value, timestamp"
    )
    metrics.add_argument("--json", action="store_true", help="one JSON object per run and key")
    metrics.set_defaults(func=_cmd_metrics)

    compare = commands.add_parser(
        "compare", help="runs side by side: the config fields that differ, final and best metrics"
    )
    compare.add_argument("runs", nargs="*", metavar="RUN", help="run ids (or prefixes)")
    compare.add_argument("--group", help="compare the runs of this group (as well)")
    compare.add_argument(
        "--key", action="append", default=[], help="only this metric; repeat for more"
    )
    compare.add_argument("--json", action="store_true", help="the comparison as JSON")
    compare.set_defaults(func=_cmd_compare)

    group = commands.add_parser(
        "group",
        help="a group's table: per configuration, runs, mean and IQM with 95%% CIs",
        description="Without NAME, list the groups.",
    )
    group.add_argument("name", nargs="?", metavar="NAME", help="the group (see `mosaic group`)")
    _metric_options(group)
    group.add_argument(
        "--bootstrap-seed", type=int, default=0,
        help="seed of the bootstrap's resampling (default %(default)s: the same CIs every time)",
    )  # fmt: skip
    group.add_argument("--json", action="store_true", help="the statistics as JSON")
    group.set_defaults(func=_cmd_group)

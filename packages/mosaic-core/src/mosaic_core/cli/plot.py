"""``mosaic plot``: learning curves of runs as a picture, a mean and a 95% band per group.

Needs matplotlib (``pip install 'mosaic-core[plot]'``); without it the
command says so and exits 1. Works on runs still going: it draws what the
store holds now.
"""

from __future__ import annotations

import argparse
import contextlib
import json
from typing import Any

from mosaic_core.cli.argtypes import whole_number
from mosaic_core.cli.stores import open_store
from mosaic_core.runs.store import RunStore

__all__ = ["register"]


def _store() -> contextlib.AbstractContextManager[RunStore]:
    return open_store(write=False, reconciled=True)


def _cmd_plot(args: argparse.Namespace) -> int:
    from mosaic_core.query import (
        check_keys,
        group_curves,
        pick_headline,
        render_curves,
        select_runs,
    )
    from mosaic_core.query.figures import require_matplotlib

    require_matplotlib()  # before any work: say at once that the extra is missing
    with _store() as store:
        rows = select_runs(store, args.runs, group=args.group)
        ids = [r["run_id"] for r in rows]
        have = check_keys(store, ids, args.key)
        keys = list(args.key)
        if not keys:
            keys = list(dict.fromkeys(
                k for r in rows if (k := pick_headline(have[r["run_id"]], r.get("headline_metric")))
            ))  # fmt: skip
            if not keys:
                every = sorted({k for ks in have.values() for k in ks})
                from mosaic_core._errors import ConfigError

                raise ConfigError(
                    "no headline metric to plot; name one with --key: "
                    + (", ".join(every) or "the runs have no metrics yet"),
                    field="--key",
                )
        items = group_curves(store, rows, keys, group_by=args.group_by, points=args.points,
                             smooth=args.smooth, seed=args.bootstrap_seed)  # fmt: skip
    path = render_curves(items, args.output, title=args.title)
    if args.json:
        print(json.dumps({"output": str(path), "curves": items}, indent=2))
        return 0
    for item in items:
        note = f"  ({item['note']})" if item.get("note") else ""
        print(f"{item['key']}: {item['label']}{note}")
    print(f"wrote {path}")
    return 0


def register(commands: Any) -> None:
    """Add ``mosaic plot`` to the ``mosaic`` parser's sub-command group."""
    plot = commands.add_parser(
        "plot",
        help="learning curves as a PNG, SVG or PDF: a mean line and 95%% band per group",
        description="Draw learning curves of runs (named, or a --group) against environment "
        "steps. Runs that differ only in seed are one line with a 95%% bootstrap band. "
        "Needs matplotlib: pip install 'mosaic-core[plot]'.",
    )
    plot.add_argument("runs", nargs="*", metavar="RUN", help="run ids (or prefixes)")
    plot.add_argument("--group", help="the runs of this group (as well)")
    plot.add_argument(
        "--key", action="append", default=[],
        help="the metric to draw, one panel each; repeat for more (default: the headline return)",
    )  # fmt: skip
    plot.add_argument(
        "--group-by", default="seed", metavar="HOW",
        help="seed (default: runs differing only in seed share a line), none (a line per run), "
        "a column such as algorithm, or config.FIELD[,config.FIELD2]",
    )  # fmt: skip
    plot.add_argument(
        "--smooth", type=whole_number(1), metavar="N", help="a moving average over N points per run"
    )
    plot.add_argument(
        "--points", type=whole_number(2), default=200, metavar="N",
        help="grid points a group's runs are averaged on (default %(default)s)",
    )  # fmt: skip
    plot.add_argument(
        "-o", "--output", default="curves.png", metavar="FILE",
        help="where to draw: .png, .svg or .pdf (default %(default)s)",
    )  # fmt: skip
    plot.add_argument("--title", help="a title above the panels")
    plot.add_argument(
        "--bootstrap-seed", type=int, default=0,
        help="seed of the bootstrap's resampling (default %(default)s)",
    )  # fmt: skip
    plot.add_argument("--json", action="store_true", help="the curves drawn, as JSON")
    plot.set_defaults(func=_cmd_plot)

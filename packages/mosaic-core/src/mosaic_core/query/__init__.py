"""Looking at runs: the run table, learning curves, comparisons, group statistics.

The host's query layer, used by the ``mosaic`` command and by front ends
(the web UI's run table, curves, comparisons and group statistics). Every
function takes an open :class:`~mosaic_core.runs.RunStore` and returns plain
JSON-ready data; none prints. Metrics are read only through the store's
methods, so how the store keeps them can change underneath.

Statistics follow rliable (IQM, stratified bootstrap percentile intervals,
seeded) in pure Python; numpy, when installed, only makes them faster.
Drawing (:func:`render_curves`) needs matplotlib, the ``plot`` extra.
"""

from __future__ import annotations

from mosaic_core._lazy import lazy_attributes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from mosaic_core.query.compare import compare_runs, group_statistics, lower_is_better
    from mosaic_core.query.curves import check_keys, group_curves, group_runs, run_curves
    from mosaic_core.query.details import run_details
    from mosaic_core.query.downsample import lttb, lttb_arrays, moving_average
    from mosaic_core.query.figures import MissingExtra, render_curves
    from mosaic_core.query.filters import Filter, parse_filter
    from mosaic_core.query.live import RunIndex
    from mosaic_core.query.stats import bootstrap_ci, curve_band, iqm, summarize
    from mosaic_core.query.table import (
        STATS,
        metric_values,
        pick_headline,
        run_row,
        run_table,
        runs_of,
        select_runs,
    )

_LAZY = {
    "Filter": "mosaic_core.query.filters",
    "MissingExtra": "mosaic_core.query.figures",
    "RunIndex": "mosaic_core.query.live",
    "STATS": "mosaic_core.query.table",
    "bootstrap_ci": "mosaic_core.query.stats",
    "check_keys": "mosaic_core.query.curves",
    "compare_runs": "mosaic_core.query.compare",
    "curve_band": "mosaic_core.query.stats",
    "group_curves": "mosaic_core.query.curves",
    "group_runs": "mosaic_core.query.curves",
    "group_statistics": "mosaic_core.query.compare",
    "iqm": "mosaic_core.query.stats",
    "lower_is_better": "mosaic_core.query.compare",
    "lttb": "mosaic_core.query.downsample",
    "lttb_arrays": "mosaic_core.query.downsample",
    "metric_values": "mosaic_core.query.table",
    "moving_average": "mosaic_core.query.downsample",
    "parse_filter": "mosaic_core.query.filters",
    "pick_headline": "mosaic_core.query.table",
    "render_curves": "mosaic_core.query.figures",
    "run_curves": "mosaic_core.query.curves",
    "run_details": "mosaic_core.query.details",
    "run_row": "mosaic_core.query.table",
    "run_table": "mosaic_core.query.table",
    "runs_of": "mosaic_core.query.table",
    "select_runs": "mosaic_core.query.table",
    "summarize": "mosaic_core.query.stats",
}

__getattr__, __dir__ = lazy_attributes(globals(), _LAZY, __name__)

__all__ = [
    "STATS",
    "Filter",
    "MissingExtra",
    "RunIndex",
    "bootstrap_ci",
    "check_keys",
    "compare_runs",
    "curve_band",
    "group_curves",
    "group_runs",
    "group_statistics",
    "iqm",
    "lower_is_better",
    "lttb",
    "lttb_arrays",
    "metric_values",
    "moving_average",
    "parse_filter",
    "pick_headline",
    "render_curves",
    "run_curves",
    "run_details",
    "run_row",
    "run_table",
    "runs_of",
    "select_runs",
    "summarize",
]

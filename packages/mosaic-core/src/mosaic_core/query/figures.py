"""Learning curves drawn with matplotlib (the ``plot`` extra), one panel per metric.

Takes what :func:`~mosaic_core.query.curves.group_curves` returns: each group
a mean line with its bootstrap band shaded. matplotlib is imported only
here, and only when a picture is asked for; the figure is made without
pyplot, so no display or global state is involved.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Sequence
from typing import Any

from mosaic_core._errors import ConfigError, MosaicError

__all__ = ["FORMATS", "MissingExtra", "render_curves", "require_matplotlib"]

FORMATS = (".png", ".svg", ".pdf")


class MissingExtra(MosaicError):
    """An optional dependency is not installed; the message names the extra to install."""


def require_matplotlib() -> Any:
    """matplotlib's Figure class, or MissingExtra naming the extra to install."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise MissingExtra(
            "drawing curves needs matplotlib, which is not installed here: "
            "pip install 'mosaic-core[plot]'"
        ) from None
    return Figure


def render_curves(
    items: Sequence[dict[str, Any]],
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    confidence: float = 0.95,
) -> pathlib.Path:
    """Draw group curves into ``path`` (``.png``, ``.svg`` or ``.pdf``); returns the path."""
    target = pathlib.Path(path)
    if target.suffix.lower() not in FORMATS:
        raise ConfigError(
            f"-o {str(target)!r}: expected a file ending in {', '.join(FORMATS)}",
            field="-o",
            value=str(target),
        )
    figure_class = require_matplotlib()
    keys = list(dict.fromkeys(item["key"] for item in items))
    if not keys:
        raise ConfigError("nothing to draw: no run has the metric asked for", field="--key")
    figure = figure_class(figsize=(8, 3.6 * len(keys)), layout="constrained")
    axes = figure.subplots(len(keys), 1, squeeze=False)[:, 0]
    band_label = f"{confidence:.0%} bootstrap CI of the mean"
    for ax, key in zip(axes, keys, strict=True):
        drawn_band = False
        for item in (i for i in items if i["key"] == key):
            if not item["steps"]:
                continue
            (line,) = ax.plot(item["steps"], item["mean"], label=item["label"], linewidth=1.6)
            if item.get("low") is not None:
                ax.fill_between(item["steps"], item["low"], item["high"],
                                color=line.get_color(), alpha=0.2, linewidth=0)  # fmt: skip
                drawn_band = True
        ax.set_title(key, fontsize=11, loc="left")
        ax.set_xlabel("environment steps")
        ax.set_ylabel(key.rsplit("/", 1)[-1])
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8, title=band_label if drawn_band else None, title_fontsize=8)
    if title:
        figure.suptitle(title)
    target.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(target, dpi=110)
    return target

"""A live progress display for ``mosaic run``: one line per active run, and a hint.

On a terminal the lines are redrawn in place (step / total with a bar, the
latest metrics, elapsed time and ETA), each cut to the terminal's width so
that no line wraps (a wrapped line is one the next redraw cannot reach,
which is how stale lines were left behind), with the Ctrl-C hint as the
last line. ``TERM=dumb``, a stream that is not a terminal, or ``mosaic run
--no-progress``'s absence of a display give plain lines instead, at most one
per run every ``plain_interval`` seconds, so CI logs stay readable. Colour
only on a terminal, and never with ``NO_COLOR`` set (https://no-color.org).

Written here rather than with rich or tqdm: mosaic-core is installed into
every worker's environment, beside pinned libraries, and this display is one
line per run and a hint, which fits in this module.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Mapping, Sequence
from typing import IO, Any

from mosaic_core.runs.supervisor import RunProgress

__all__ = ["HINT", "ProgressDisplay", "format_duration", "render_line", "terminal_kind"]

_PREFERRED = ("charts/episodic_return", "episode_return_mean", "return", "reward", "loss")
HINT = "Ctrl-C cancels (a second Ctrl-C kills at once)"
_STATUS_COLOUR = {"stopping": "33", "running": "32"}


def terminal_kind(stream: IO[str], environ: Mapping[str, str] | None = None) -> tuple[bool, bool]:
    """``(live, colour)`` for ``stream``: redraw in place only on a capable terminal."""
    env = os.environ if environ is None else environ
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    live = tty and env.get("TERM", "") not in ("dumb", "")
    colour = live and "NO_COLOR" not in env
    return live, colour


def format_duration(seconds: float | None) -> str:
    if seconds is None or seconds < 0:
        return "--:--"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:d}:{secs:02d}"


def _metric_text(metrics: dict[str, Any], limit: int = 2) -> str:
    if not metrics:
        return ""
    keys = [k for k in _PREFERRED if k in metrics] or sorted(metrics)
    parts = []
    for key in keys[:limit]:
        value = metrics[key]
        shown = f"{value:.4g}" if isinstance(value, float) else str(value)
        parts.append(f"{key.rsplit('/', 1)[-1]}={shown}")
    return " ".join(parts)


def render_line(run: RunProgress, now: float, width: int = 100) -> str:
    """One run's line, at most ``width`` characters: the bar shrinks first, then the
    elapsed time goes, then the latest metrics are cut."""
    elapsed = now - run.started
    step, total = run.step, run.total_steps
    status = "" if run.status == "running" else f" ({run.status})"
    head = f"{run.run_id[-8:]} {run.worker_type}{status} "
    if step is not None and total:
        fraction = min(1.0, max(0.0, step / total))
        eta = elapsed * (1 - fraction) / fraction if fraction > 0 else None
        count = f" {step:,}/{total:,} {fraction:4.0%}"
    else:
        fraction, eta = None, None
        count = f"step {step:,}" if step is not None else "starting"
    times = f"  ETA {format_duration(eta)}"
    metric = _metric_text(run.metrics)
    extra = f"  {metric}" if metric else ""
    if fraction is not None:
        room = width - len(head) - len(count) - 2 - len(times) - len(extra)
        bar_width = max(0, min(24, room))
        if bar_width >= 5:
            filled = int(fraction * bar_width)
            count = f"[{'#' * filled}{'.' * (bar_width - filled)}]{count}"
        else:
            count = count.lstrip()
    line = head + count + times + extra + f"  {format_duration(elapsed)} elapsed"
    return line[: max(1, width)]


class ProgressDisplay:
    """Draws the runs' progress on ``stream``; call :meth:`update` with the live runs."""

    def __init__(
        self,
        stream: IO[str],
        *,
        live: bool,
        colour: bool = False,
        plain_interval: float = 10.0,
        width: int | None = None,
    ) -> None:
        self.stream = stream
        self.live = live
        self.colour = colour
        self.plain_interval = plain_interval
        self._width = width
        self._drawn = 0
        self._next_plain = 0.0
        #: The last line under the runs: how to stop them, or what stopping is doing.
        self.hint = HINT

    def note(self, text: str) -> bool:
        """Show ``text`` instead of the hint from the next redraw on (safe in a signal
        handler: it only sets it). Returns whether the display will show it; when it
        will not (no live display), print it yourself."""
        self.hint = text
        return self.live

    def width(self) -> int:
        if self._width is not None:
            return self._width
        return shutil.get_terminal_size((80, 24)).columns

    def update(self, runs: Sequence[RunProgress]) -> None:
        now = time.time()
        if self.live:
            self._redraw(runs, now)
        elif runs and time.monotonic() >= self._next_plain:
            self._next_plain = time.monotonic() + self.plain_interval
            for run in runs:
                self.stream.write(render_line(run, now, 200) + "\n")
            self.stream.flush()

    def _redraw(self, runs: Sequence[RunProgress], now: float) -> None:
        # One column short of the width: a line that fills it exactly wraps on some terminals.
        width = max(20, self.width() - 1)
        lines = [self._paint(render_line(r, now, width), r.status) for r in runs]
        if lines:
            lines.append(self._dim(self.hint[:width]))
        out = []
        if self._drawn:
            out.append(f"\x1b[{self._drawn}F")
        out.extend(f"\x1b[2K{line}\n" for line in lines)
        out.extend("\x1b[2K\n" for _ in range(self._drawn - len(lines)))
        if self._drawn > len(lines):
            out.append(f"\x1b[{self._drawn - len(lines)}F")
        self._drawn = len(lines)
        self.stream.write("".join(out))
        self.stream.flush()

    def _paint(self, line: str, status: str) -> str:
        code = _STATUS_COLOUR.get(status)
        if not self.colour or code is None:
            return line
        head, _, rest = line.partition(" ")
        return f"\x1b[{code}m{head}\x1b[0m {rest}"

    def _dim(self, text: str) -> str:
        return f"\x1b[2m{text}\x1b[0m" if self.colour else text

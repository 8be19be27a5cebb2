"""A live progress display for ``mosaic run``: one line per active run.

On a terminal the lines are redrawn in place (step / total with a bar, the
latest metrics, elapsed time and ETA); elsewhere a plain line per run is
printed at most every ``plain_interval`` seconds, so CI logs stay readable.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import IO, Any

from mosaic_core.runs.supervisor import RunProgress

__all__ = ["ProgressDisplay", "format_duration"]

_PREFERRED = ("charts/episodic_return", "episode_return_mean", "return", "reward", "loss")


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


def render_line(run: RunProgress, now: float, width: int = 24) -> str:
    elapsed = now - run.started
    step, total = run.step, run.total_steps
    if step is not None and total:
        fraction = min(1.0, max(0.0, step / total))
        filled = int(fraction * width)
        bar = "#" * filled + "." * (width - filled)
        eta = elapsed * (1 - fraction) / fraction if fraction > 0 else None
        where = f"[{bar}] {step:,}/{total:,} {fraction:4.0%}"
    else:
        eta = None
        where = f"step {step:,}" if step is not None else "starting"
    status = "" if run.status == "running" else f" ({run.status})"
    text = (
        f"{run.run_id[-8:]} {run.worker_type}{status} {where}  "
        f"{format_duration(elapsed)} elapsed  ETA {format_duration(eta)}"
    )
    metric = _metric_text(run.metrics)
    return f"{text}  {metric}" if metric else text


class ProgressDisplay:
    def __init__(self, stream: IO[str], *, tty: bool, plain_interval: float = 10.0) -> None:
        self.stream = stream
        self.tty = tty
        self.plain_interval = plain_interval
        self._drawn = 0
        self._next_plain = 0.0

    def update(self, runs: Sequence[RunProgress]) -> None:
        now = time.time()
        if self.tty:
            out = []
            if self._drawn:
                out.append(f"\x1b[{self._drawn}F")
            lines = [render_line(r, now) for r in runs]
            out.extend(f"\x1b[2K{line}\n" for line in lines)
            out.extend("\x1b[2K\n" for _ in range(self._drawn - len(lines)))
            if self._drawn > len(lines):
                out.append(f"\x1b[{self._drawn - len(lines)}F")
            self._drawn = len(lines)
            self.stream.write("".join(out))
            self.stream.flush()
        elif runs and time.monotonic() >= self._next_plain:
            self._next_plain = time.monotonic() + self.plain_interval
            for run in runs:
                self.stream.write(render_line(run, now) + "\n")
            self.stream.flush()

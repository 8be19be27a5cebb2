"""The progress display of ``mosaic run``: it fits the terminal and says how to stop."""

from __future__ import annotations

import io
import re

from mosaic_core.cli.progress import HINT, ProgressDisplay, render_line, terminal_kind
from mosaic_core.runs import RunProgress

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _run(i: int, step: int | None = 8_160, total: int | None = 500_000) -> RunProgress:
    progress = RunProgress(f"01JABCDEFGHJKMNPQRSTVWXY{i:02d}", "cleanrl", started=0.0)
    progress.step, progress.total_steps = step, total
    progress.metrics = {"charts/episodic_return": 275.123456, "losses/value_loss": 0.25}
    return progress


def test_no_line_is_wider_than_the_terminal_so_none_wraps_and_stays_behind() -> None:
    for width in (40, 60, 80, 120):
        out = _Tty()
        display = ProgressDisplay(out, live=True, width=width)
        for _ in range(3):
            display.update([_run(1), _run(2, step=None, total=None), _run(3)])
        lines = [ANSI.sub("", line) for line in out.getvalue().split("\n") if line]
        assert lines and max(len(line) for line in lines) < width
    assert len(render_line(_run(1), 100.0, 80)) <= 80


def test_the_ctrl_c_hint_is_the_last_line_while_runs_go_on() -> None:
    out = _Tty()
    display = ProgressDisplay(out, live=True, width=80)
    display.update([_run(1), _run(2)])
    drawn = [ANSI.sub("", line) for line in out.getvalue().split("\n") if line]
    assert drawn[-1] == HINT and "cleanrl" in drawn[0] and "8,160/500,000" in drawn[0]
    display.update([])  # the runs ended: the block is cleared, hint included
    tail = out.getvalue().rsplit("\x1b[", 1)[-1]
    assert HINT not in tail


def test_dumb_terminals_pipes_and_no_color_are_honoured() -> None:
    assert terminal_kind(_Tty(), {"TERM": "xterm-256color"}) == (True, True)
    assert terminal_kind(_Tty(), {"TERM": "xterm", "NO_COLOR": "1"}) == (True, False)
    assert terminal_kind(_Tty(), {"TERM": "dumb"}) == (False, False)
    assert terminal_kind(io.StringIO(), {"TERM": "xterm"}) == (False, False)
    plain = io.StringIO()
    ProgressDisplay(plain, live=False).update([_run(1)])
    assert "\x1b" not in plain.getvalue() and "8,160/500,000" in plain.getvalue()
    coloured = _Tty()
    ProgressDisplay(coloured, live=True, colour=True, width=100).update([_run(1)])
    assert "\x1b[32m" in coloured.getvalue()
    monochrome = _Tty()
    ProgressDisplay(monochrome, live=True, colour=False, width=100).update([_run(1)])
    assert "\x1b[32m" not in monochrome.getvalue() and "\x1b[2m" not in monochrome.getvalue()


def test_cancelling_is_said_in_the_hint_s_place_and_the_metric_outlasts_the_clock() -> None:
    out = _Tty()
    display = ProgressDisplay(out, live=True, width=80)
    assert display.note("mosaic: cancelling (Ctrl-C again to kill at once) ...") is True
    display.update([_run(1)])
    drawn = [ANSI.sub("", line) for line in out.getvalue().split("\n") if line]
    assert drawn[-1].startswith("mosaic: cancelling")
    line = render_line(_run(1), 100.0, 80)
    assert "episodic_return=275.1" in line and "ETA" in line and "elapsed" not in line
    assert ProgressDisplay(io.StringIO(), live=False).note("x") is False

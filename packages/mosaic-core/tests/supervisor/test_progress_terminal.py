"""``mosaic run`` on a real 80-column terminal: a pseudo-terminal read by a VT100 emulator.

The screen is what a user sees: while runs go, one line per run and the
Ctrl-C hint; at the end, no progress line left behind (on 80 columns a
line that wrapped used to leave one per redraw).
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time

import pytest

from .conftest import Mosaic

pyte = pytest.importorskip("pyte")


def _run_on_terminal(args: list[str], columns: int, stop_after: float | None = None) -> list[str]:
    screen = pyte.Screen(columns, 40)
    stream = pyte.ByteStream(screen)
    leader, follower = pty.openpty()
    os.set_blocking(leader, False)
    import fcntl
    import struct
    import termios

    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    env = dict(os.environ, TERM="xterm-256color", COLUMNS=str(columns))
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "mosaic_core", *args],
        stdin=follower, stdout=follower, stderr=follower, env=env, start_new_session=True,
    )  # fmt: skip
    os.close(follower)
    seen_hint = False
    started = time.monotonic()
    interrupted = False
    deadline = started + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.2)
        data = b""
        if ready:
            try:
                data = os.read(leader, 65536)
            except OSError:  # EIO: every writer has closed the terminal
                data = b""
            stream.feed(data)
            seen_hint |= any("Ctrl-C cancels" in line for line in screen.display)
        if stop_after and not interrupted and time.monotonic() - started > stop_after:
            os.killpg(proc.pid, 2)
            interrupted = True
        if proc.poll() is not None and not data:
            break
    else:
        proc.kill()
        raise AssertionError("mosaic run did not end within 120 s")
    os.close(leader)
    assert seen_hint, "the Ctrl-C hint was never on the screen"
    return [line.rstrip() for line in screen.display]


def test_an_80_column_terminal_is_left_clean_with_no_stale_progress_lines(mosaic: Mosaic) -> None:
    lines = _run_on_terminal(
        ["run", "fixture", "--seeds", "1,2,3", "--parallel", "3", "--set", "total_steps=30",
         "--set", "step_sleep=0.1"],
        columns=80,
    )  # fmt: skip
    stale = [line for line in lines if "elapsed" in line or "ETA" in line]
    assert stale == [], "\n".join(lines)
    assert any("TOTAL_STEPS" in line or "CONFIGURATION" in line for line in lines)
    assert all(len(line) <= 80 for line in lines)


def test_ctrl_c_says_it_is_cancelling_and_leaves_the_screen_clean(mosaic: Mosaic) -> None:
    lines = _run_on_terminal(
        ["run", "fixture", "--seeds", "1,2", "--set", "total_steps=400", "--set",
         "step_sleep=0.05"],
        columns=80, stop_after=4.0,
    )  # fmt: skip
    assert [line for line in lines if "elapsed" in line] == [], "\n".join(lines)
    assert sum("CANCELLED" in line for line in lines) == 2, "\n".join(lines)

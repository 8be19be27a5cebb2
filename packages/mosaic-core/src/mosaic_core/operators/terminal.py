"""Keys from a terminal: what a typed line stands for, and one key press read as it happens.

A person at a terminal plays a family's key map (:class:`~mosaic_core.KeyMap`)
either line by line (press an arrow key, then Enter: the line holds the
key's escape sequence) or, on a real terminal, one key at a time
(:func:`read_key` puts it in cbreak mode while it waits).
"""

from __future__ import annotations

import contextlib
import os
import select
from typing import IO

from mosaic_core._families import NAMED_KEYS

__all__ = ["key_name", "read_key", "terminal_key"]

#: What a terminal sends for the named keys.
SEQUENCES = {
    "\x1b[A": "ArrowUp", "\x1b[B": "ArrowDown", "\x1b[C": "ArrowRight", "\x1b[D": "ArrowLeft",
    "\x1bOA": "ArrowUp", "\x1bOB": "ArrowDown", "\x1bOC": "ArrowRight", "\x1bOD": "ArrowLeft",
    "\x1b[5~": "PageUp", "\x1b[6~": "PageDown", "\x1b[H": "Home", "\x1b[F": "End",
    "\x1b[2~": "Insert", "\x1b[3~": "Delete", "\x1b": "Escape", "\t": "Tab", " ": "Space",
    "\x7f": "Backspace", "\n": "Enter", "\r": "Enter", "": "Enter",
}  # fmt: skip
_NAMES = {k.lower() for k in NAMED_KEYS}


def terminal_key(raw: str) -> str | None:
    """The key a typed line stands for: an escape sequence (an arrow key pressed, then
    Enter), a space, an empty line (Enter), one character, or a key's name."""
    if raw in SEQUENCES:
        return SEQUENCES[raw]
    text = raw.strip()
    if len(text) == 1 or text.lower() in _NAMES:
        return text
    return None


def key_name(pressed: str) -> str:
    """The name of a key :func:`read_key` returned (``ArrowUp``, ``Space``, ``w``)."""
    return SEQUENCES.get(pressed, pressed)


def read_key(stream: IO[str]) -> str:
    """One key press from the terminal ``stream``, without waiting for Enter; an escape
    sequence (arrow keys) is read whole. Empty at the end of input."""
    import termios
    import tty

    fd = stream.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd, termios.TCSANOW)  # keeps keys typed ahead
        first = os.read(fd, 1)
        if first != b"\x1b":
            return first.decode("utf-8", "replace")
        sequence = first
        # The rest of an escape sequence arrives at once; a lone Escape has none.
        while len(sequence) < 6 and select.select([fd], [], [], 0.05)[0]:
            sequence += os.read(fd, 1)
            if len(sequence) >= 3 and (sequence[-1:].isalpha() or sequence[-1:] == b"~"):
                break  # ESC [ A, ESC O A, ESC [ 5 ~: the final byte
        return sequence.decode("utf-8", "replace")
    finally:
        with contextlib.suppress(termios.error):
            termios.tcsetattr(fd, termios.TCSANOW, saved)

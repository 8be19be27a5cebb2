"""Frames for the browser: an RGB array compressed as PNG, JPEG or WebP, whichever is smaller.

A frame travels as one binary WebSocket message: a 24-byte header, then the
image file. Header (little-endian)::

    0  pane u8     1  format u8 (0 PNG, 1 JPEG, 2 WebP)     2  reserved u16
    4  frame u32 (the pane's frame number)                   8  stepped f64 (Unix ms)
    16 step u64 (the pane's step count)

``stepped`` is when the server received the step that rendered the frame, on
the wall clock the browser shares on this machine, so the page measures
step->paint latency itself. Pixels never travel as JSON.
"""

from __future__ import annotations

import io
import struct
from typing import Any

__all__ = ["FORMATS", "FrameEncoder", "header"]

FORMATS = ("png", "jpeg", "webp")
_HEADER = struct.Struct("<BBHIdQ")
#: Frames between two trials of every format (the winner is used in between).
RETRY_EVERY = 60


def header(pane: int, fmt: int, frame: int, stepped_ms: float, step: int) -> bytes:
    return _HEADER.pack(pane, fmt, 0, frame & 0xFFFFFFFF, stepped_ms, step)


def _encode(image: Any, fmt: str) -> bytes:
    out = io.BytesIO()
    if fmt == "png":
        image.save(out, "PNG", compress_level=1)
    elif fmt == "jpeg":
        image.save(out, "JPEG", quality=88)
    else:
        image.save(out, "WEBP", quality=88, method=0)
    return out.getvalue()


class FrameEncoder:
    """Encodes one pane's frames; every :data:`RETRY_EVERY` frames it tries all three
    formats and keeps the smallest (a grid world is smallest as PNG, a photo-like
    frame as JPEG or WebP)."""

    def __init__(self) -> None:
        from PIL import features

        self.formats = [f for f in FORMATS if f != "webp" or features.check("webp")]
        self.chosen = "png"
        self.count = 0
        self.sizes: dict[str, int] = {}

    def encode(self, rgb: Any) -> tuple[int, bytes]:
        """``(format index, file bytes)`` for a height x width x 3 uint8 array."""
        from PIL import Image

        image = Image.fromarray(rgb[:, :, :3], "RGB")
        if self.count % RETRY_EVERY == 0:
            trials = {fmt: _encode(image, fmt) for fmt in self.formats}
            self.sizes = {fmt: len(data) for fmt, data in trials.items()}
            self.chosen = min(trials, key=lambda fmt: len(trials[fmt]))
            data = trials[self.chosen]
        else:
            data = _encode(image, self.chosen)
        self.count += 1
        return FORMATS.index(self.chosen), data

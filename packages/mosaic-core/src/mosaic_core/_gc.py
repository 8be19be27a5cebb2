"""The cyclic garbage collector paused over work that makes many objects and no cycles."""

from __future__ import annotations

import contextlib
import gc

TYPE_CHECKING = False  # not typing's: `mosaic runs` imports this module
if TYPE_CHECKING:
    from collections.abc import Iterator


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic collection inside: CPython starts one every 700 containers made, whether
    or not they could ever be in a cycle, and a chunk of telemetry or a table of 10,000
    runs makes thousands that hold none and are freed by reference counting (the
    collections were a tenth of the supervisor's work under a flood, and 9 ms of ``mosaic
    runs``). A collector that was paused already stays paused."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()

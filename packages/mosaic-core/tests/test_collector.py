"""The cyclic collector is paused over the supervisor's indexing and ``mosaic runs``'
table, and every way out of the pause leaves it as it was found."""

from __future__ import annotations

import gc

import pytest

from mosaic_core._gc import collector_paused


def test_the_collector_is_paused_inside_and_left_as_it_was_found() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("the store failed")
    assert gc.isenabled()  # back on after a failure too
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # paused by somebody else: left paused
    finally:
        gc.enable()

"""LTTB keeps the shape of a long curve in few points; the moving average smooths."""

from __future__ import annotations

import math
import random

import pytest

from mosaic_core.query.downsample import lttb, moving_average


def test_lttb_keeps_the_ends_and_returns_the_number_of_points_asked_in_order() -> None:
    xs = list(range(1000))
    ys = [math.sin(x / 50) for x in xs]
    kept = lttb(xs, ys, 50)
    assert len(kept) == 50 and kept[0] == 0 and kept[-1] == 999
    assert kept == sorted(set(kept))


def test_lttb_keeps_a_lone_spike_that_taking_every_kth_point_loses() -> None:
    rng = random.Random(0)
    xs = list(range(10_000))
    ys = [rng.uniform(0, 1) for _ in xs]
    ys[4_321] = 100.0  # one episode far above the rest
    kept = lttb(xs, ys, 100)
    assert 4_321 in kept
    assert 4_321 not in range(0, 10_000, 100)  # strided sampling would drop it


def test_lttb_keeps_the_extremes_of_a_wave() -> None:
    xs = list(range(2000))
    ys = [math.sin(2 * math.pi * x / 400) for x in xs]
    kept = [ys[i] for i in lttb(xs, ys, 60)]
    assert max(kept) > 0.99 and min(kept) < -0.99


def test_lttb_with_enough_points_returns_every_index_and_refuses_nonsense() -> None:
    assert lttb([1, 2, 3], [1, 2, 3], 10) == [0, 1, 2]
    with pytest.raises(ValueError, match="at least 3"):
        lttb([1, 2, 3, 4], [1, 2, 3, 4], 2)
    with pytest.raises(ValueError, match="differ in length"):
        lttb([1, 2], [1], 3)


def test_moving_average_is_trailing_and_short_at_the_start() -> None:
    assert moving_average([1.0, 2.0, 3.0, 4.0], 2) == [1.0, 1.5, 2.5, 3.5]
    assert moving_average([5.0, 7.0], 10) == [5.0, 6.0]
    with pytest.raises(ValueError, match="at least 1"):
        moving_average([1.0], 0)


@pytest.mark.parametrize(
    ("n", "points", "shape"),
    [
        (20_000, 2_000, "noise"),
        (50_001, 777, "steps"),
        (12_345, 3, "flat"),
        (30_000, 29_999, "noise"),
    ],
)
def test_lttb_picks_the_same_points_with_numpy_as_without(
    monkeypatch: pytest.MonkeyPatch, n: int, points: int, shape: str
) -> None:
    """A long curve's buckets are worked out by numpy where it is installed: same picks."""
    pytest.importorskip("numpy")
    from mosaic_core.query import downsample

    rng = random.Random(n)
    xs = sorted(rng.randrange(0, 10 * n) for _ in range(n))  # ints, with repeats
    if shape == "noise":
        ys = [rng.gauss(0, 1) * (1 + i % 97) for i in range(n)]
    elif shape == "steps":
        ys = [float(i // 1000) for i in range(n)]  # ties everywhere: the first one wins
    else:
        ys = [1.5] * n
    vector = lttb(xs, ys, points)
    monkeypatch.setattr(downsample, "_numpy", lambda: None)
    assert vector == lttb(xs, ys, points)
    assert len(vector) == points

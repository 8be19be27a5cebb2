"""IQM and bootstrap intervals as rliable defines them, the same with or without numpy."""

from __future__ import annotations

import random
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mosaic_core.query.stats import bootstrap_ci, curve_band, iqm, percentile, summarize


def _backends() -> list[str]:
    try:
        import numpy  # noqa: F401
    except ImportError:
        return ["python"]
    return ["python", "numpy"]


def test_iqm_cuts_a_quarter_rounded_down_from_each_end_like_scipy_trim_mean() -> None:
    assert iqm([1, 2, 3, 4, 5, 6, 7, 8]) == 4.5  # 3..6
    assert iqm([1, 2, 3]) == 2  # floor(3/4) = 0: nothing cut, as trim_mean(x, 0.25)
    assert iqm([100, 1, 2, 3, 4, -50, 2, 3]) == pytest.approx((2 + 2 + 3 + 3) / 4)
    assert iqm([5.0]) == 5.0
    with pytest.raises(ValueError):
        iqm([])


def test_percentile_interpolates_linearly_as_numpy_does() -> None:
    assert percentile([0.0, 10.0], 25) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 50) == 3.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 97.5) == pytest.approx(3.925)


def test_the_same_seed_gives_the_same_interval_and_another_seed_another() -> None:
    rng = random.Random(7)
    scores = [[rng.gauss(0, 1) for _ in range(10)]]
    first = bootstrap_ci(scores, "iqm", reps=2000, seed=3)
    assert bootstrap_ci(scores, "iqm", reps=2000, seed=3) == first
    assert bootstrap_ci(scores, "iqm", reps=2000, seed=4) != first


@pytest.mark.parametrize("statistic", ["mean", "iqm", "median"])
def test_numpy_and_the_standard_library_give_the_same_interval(statistic: str) -> None:
    if "numpy" not in _backends():
        pytest.skip("numpy is not installed: only the standard-library path exists here")
    rng = random.Random(1)
    strata = [[rng.uniform(0, 100) for _ in range(n)] for n in (5, 7, 3)]
    python = bootstrap_ci(strata, statistic, reps=3000, seed=11, backend="python")  # type: ignore[arg-type]
    fast = bootstrap_ci(strata, statistic, reps=3000, seed=11, backend="numpy")  # type: ignore[arg-type]
    assert fast == pytest.approx(python, rel=1e-12, abs=1e-12)


def test_the_standard_library_path_works_without_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_numpy(name: str, *args: object, **kwargs: object) -> object:
        if name == "numpy" or name.startswith("numpy."):
            raise ImportError("numpy is hidden in this test")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_numpy)
    low, high = bootstrap_ci([[1.0, 2.0, 3.0, 4.0]], "mean", reps=500, seed=0)
    assert 1.0 <= low < 2.5 < high <= 4.0
    center, lo, hi = curve_band([[0.0, 1.0], [2.0, 3.0]], reps=200, seed=0)
    assert center == [1.0, 2.0] and lo[0] >= 0.0 and hi[1] <= 3.0


def test_a_stratified_bootstrap_keeps_each_task_s_share() -> None:
    # Two tasks, one always scoring 0 and one 10: every stratified replicate holds three
    # of each, so the mean is 5 in all of them; resampling the pooled runs would not be.
    strata = [[0.0, 0.0, 0.0], [10.0, 10.0, 10.0]]
    assert bootstrap_ci(strata, "mean", reps=1000, seed=0) == (5.0, 5.0)
    pooled = bootstrap_ci([[0.0] * 3 + [10.0] * 3], "mean", reps=1000, seed=0)
    assert pooled[0] < 5.0 < pooled[1]


def test_the_interval_narrows_as_runs_are_added_and_covers_the_truth() -> None:
    rng = random.Random(5)
    widths = []
    for n in (5, 20, 80):
        scores = [rng.gauss(10.0, 2.0) for _ in range(n)]
        low, high = bootstrap_ci([scores], "mean", reps=2000, seed=1)
        assert low < statistics.fmean(scores) < high
        widths.append(high - low)
    assert widths[0] > widths[1] > widths[2]
    # Coverage: the 95% interval of the mean holds the true mean in most of 60 experiments.
    hits = 0
    for trial in range(60):
        scores = [rng.gauss(0.0, 1.0) for _ in range(15)]
        low, high = bootstrap_ci([scores], "mean", reps=400, seed=trial)
        hits += low <= 0.0 <= high
    assert hits >= 50


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="no values"):
        bootstrap_ci([[]])
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_ci([[1.0, 2.0]], confidence=95)
    with pytest.raises(ValueError, match="reps"):
        bootstrap_ci([[1.0, 2.0]], reps=0)


def test_summarize_reports_mean_and_iqm_with_intervals_and_nothing_for_no_runs() -> None:
    stats = summarize([1.0, 2.0, 3.0, 4.0, 100.0], reps=1000)
    assert stats["n"] == 5 and stats["mean"] == 22.0 and stats["iqm"] == 3.0
    assert stats["mean_ci"][0] <= stats["mean"] <= stats["mean_ci"][1]
    assert stats["iqm_ci"][0] <= stats["iqm"] <= stats["iqm_ci"][1]
    assert summarize([])["mean"] is None and summarize([])["n"] == 0


@pytest.mark.parametrize("backend", _backends())
def test_a_band_of_curves_holds_the_mean_and_is_empty_for_identical_runs(backend: str) -> None:
    rows = [[float(i + j) for i in range(6)] for j in range(4)]
    center, low, high = curve_band(rows, reps=500, seed=2, backend=backend)  # type: ignore[arg-type]
    assert center == [i + 1.5 for i in range(6)]
    assert all(lo <= c <= hi for lo, c, hi in zip(low, center, high, strict=True))
    same = curve_band([[1.0, 2.0]] * 3, reps=100, backend=backend)  # type: ignore[arg-type]
    assert same == ([1.0, 2.0], [1.0, 2.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="different lengths"):
        curve_band([[1.0], [1.0, 2.0]])


def test_curve_bands_match_between_backends() -> None:
    if "numpy" not in _backends():
        pytest.skip("numpy is not installed")
    rng = random.Random(3)
    rows = [[rng.random() for _ in range(30)] for _ in range(5)]
    a = curve_band(rows, reps=700, seed=9, backend="python")
    b = curve_band(rows, reps=700, seed=9, backend="numpy")
    for x, y in zip(a, b, strict=True):
        assert x == pytest.approx(y, rel=1e-12, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=40))
def test_iqm_lies_between_the_extremes_and_within_the_interval_s_reach(values: list[float]) -> None:
    value = iqm(values)
    assert min(values) - 1e-6 <= value <= max(values) + 1e-6
    low, high = bootstrap_ci([values], "iqm", reps=50, seed=0)
    assert min(values) - 1e-6 <= low <= high <= max(values) + 1e-6

"""Ensure bench/stats.py computes rliable's IQM and stratified-bootstrap intervals (Agarwal et al., 2021)."""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench"))
import stats  # noqa: E402


def test_iqm_trims_a_quarter_rounded_down_from_each_end():
    """n = 8 trims 2 from each end, n = 5 and n = 7 trim 1, n = 4 trims 1: hand-computed values."""
    assert stats.iqm([10, -100, 3, 4, 5, 6, 1000, 2]) == pytest.approx((3 + 4 + 5 + 6) / 4)
    assert stats.iqm([0.9, 0.0, 1.0, 0.8, 0.85]) == pytest.approx((0.8 + 0.85 + 0.9) / 3)
    assert stats.iqm([7, 1, 2, 3, 4, 5, 6]) == pytest.approx((2 + 3 + 4 + 5 + 6) / 5)
    assert stats.iqm([4, 1, 3, 2]) == pytest.approx(2.5)


@pytest.mark.parametrize("x", [[5.0], [1.0, 9.0], [0.0, 0.3, 12.0]])
def test_iqm_is_the_mean_below_four_scores(x):
    """int(0.25 * n) = 0 for n < 4: nothing is trimmed."""
    assert stats.iqm(x) == pytest.approx(np.mean(x))


def test_iqm_ignores_outliers_and_flattens_runs_by_tasks():
    """Making the extremes more extreme changes nothing; a (runs, tasks) table is one pool of
    scores (rliable's axis=None), not a per-task IQM."""
    x = np.array([0.0, 0.85, 0.9, 0.95, 1.0])
    assert stats.iqm(np.r_[x[1:4], -1e6, 1e6]) == pytest.approx(stats.iqm(x))
    table = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [4.0, 40.0]])
    assert stats.iqm(table) == pytest.approx((3 + 4 + 10 + 20) / 4)  # 8 scores, 2 trimmed each end
    assert stats.iqm(table) != pytest.approx(np.mean([stats.iqm(table[:, 0]), stats.iqm(table[:, 1])]))


def test_iqm_along_an_axis_is_one_iqm_per_column():
    x = np.random.default_rng(0).normal(size=(9, 4))
    assert np.allclose(stats.iqm(x, axis=0), [stats.iqm(x[:, j]) for j in range(4)])


def test_iqm_matches_scipy_trim_mean():
    """rliable's aggregate_iqm is scipy.stats.trim_mean(scores, 0.25, axis=None); only checked where
    scipy happens to be installed (the project does not need it)."""
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(1)
    for shape in [(1,), (3,), (4,), (5,), (8,), (13,), (5, 4), (7, 3), (10, 1)]:
        x = rng.normal(size=shape)
        assert stats.iqm(x) == pytest.approx(scipy_stats.trim_mean(x, proportiontocut=0.25, axis=None))
    x = rng.normal(size=(11, 6))
    assert np.allclose(stats.iqm(x, axis=0), scipy_stats.trim_mean(x, 0.25, axis=0))


def test_ci_holds_the_point_estimate_and_the_true_value():
    """Scores drawn around 0.5 (symmetric, so the true IQM is 0.5) from 30 runs x 3 tasks."""
    scores = np.random.default_rng(2).normal(0.5, 0.1, size=(30, 3))
    for statistic in (stats.iqm, np.mean):
        est, low, high = stats.stratified_bootstrap_ci(scores, statistic)
        assert est == pytest.approx(statistic(scores))
        assert low < est < high
        assert low < 0.5 < high
        assert high - low < 0.1  # an interval, not the whole range


def test_ci_covers_the_truth_about_as_often_as_it_claims():
    """Over 100 simulated experiments of 20 runs x 2 tasks, the 95 % interval of the mean holds the
    true mean in 85-99 % of them (the percentile bootstrap undercovers a little at this size): a
    wrong alpha, or intervals from the wrong percentiles, would land far outside."""
    rng = np.random.default_rng(3)
    hits = 0
    for e in range(100):
        _, low, high = stats.stratified_bootstrap_ci(rng.normal(0.0, 1.0, size=(20, 2)), np.mean, reps=500, seed=e)
        hits += low <= 0.0 <= high
    assert 85 <= hits <= 99
    scores = rng.normal(size=(20, 2))  # same resamples (same seed): the 90 % interval lies inside the 95 %
    _, low90, high90 = stats.stratified_bootstrap_ci(scores, np.mean, alpha=0.10)
    _, low95, high95 = stats.stratified_bootstrap_ci(scores, np.mean, alpha=0.05)
    assert low95 < low90 < high90 < high95


def test_ci_is_the_percentile_interval_of_a_known_bootstrap_distribution():
    """50 zeros and 50 ones: a resample's mean is Binomial(100, 1/2) / 100, whose 2.5 % and 97.5 %
    quantiles are 0.40 and 0.60 (a 90 % interval would give 0.42 and 0.58)."""
    _, low, high = stats.stratified_bootstrap_ci(np.r_[np.zeros(50), np.ones(50)], np.mean, reps=20000)
    assert low == pytest.approx(0.40, abs=0.006) and high == pytest.approx(0.60, abs=0.006)


def test_ci_narrows_with_more_runs():
    """Median width over 10 made-up experiments per size: about 1 / sqrt(runs), so each 4x more runs
    should about halve it (asserted: at least 1.5x narrower)."""
    rng = np.random.default_rng(4)
    widths = []
    for runs in (5, 20, 80):
        w = [np.diff(stats.stratified_bootstrap_ci(rng.normal(0.5, 0.2, size=(runs, 2)), reps=500, seed=e)[1:])[0]
             for e in range(10)]
        widths.append(np.median(w))
    assert widths[0] > 1.5 * widths[1] and widths[1] > 1.5 * widths[2]


def test_ci_is_deterministic_for_a_seed_and_changes_with_it():
    scores = np.random.default_rng(5).normal(size=(5, 3))
    assert stats.stratified_bootstrap_ci(scores, seed=7) == stats.stratified_bootstrap_ci(scores, seed=7)
    assert stats.stratified_bootstrap_ci(scores, seed=7) != stats.stratified_bootstrap_ci(scores, seed=8)


def test_stratification_keeps_each_tasks_run_count():
    """Task a scores in [0, 1), task b in [10, 11), 3 and 7 runs: every resample must hold exactly
    3 of a's and 7 of b's (pooled resampling would mix the counts)."""
    rng = np.random.default_rng(6)
    scores = {"a": rng.random(3), "b": 10 + rng.random(7)}
    seen = []

    def record(x):
        seen.append((len(x), int(np.sum(x >= 10))))
        assert set(x[x < 10]) <= set(scores["a"]) and set(x[x >= 10]) <= set(scores["b"])
        return float(np.mean(x))

    stats.stratified_bootstrap_ci(scores, record, reps=300)
    assert len(seen) == 301  # 300 resamples and the point estimate
    assert set(seen) == {(10, 7)}


def test_dict_of_columns_gives_the_same_interval_as_the_table():
    table = np.random.default_rng(7).normal(size=(6, 3))
    as_dict = {f"task{j}": table[:, j] for j in range(3)}
    assert stats.stratified_bootstrap_ci(table) == stats.stratified_bootstrap_ci(as_dict)


def test_one_task_as_a_flat_array():
    est, low, high = stats.stratified_bootstrap_ci([0.95, 0.9, 1.0, 0.85, 0.0])
    assert est == pytest.approx(0.9)
    assert 0.0 <= low < est < high <= 1.0


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError):
        stats.stratified_bootstrap_ci(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError):
        stats.stratified_bootstrap_ci({"a": [1.0], "b": []})
    with pytest.raises(ValueError):
        stats.curve_band(np.zeros(4))


@pytest.mark.parametrize("shape", [(5, 12), (5, 3, 12)])
def test_curve_band_shapes_and_order(shape):
    curves = np.random.default_rng(8).random(shape)
    center, low, high = stats.curve_band(curves, reps=200)
    assert center.shape == low.shape == high.shape == (12,)
    assert np.all(low <= center + 1e-12) and np.all(center <= high + 1e-12)
    assert np.allclose(center, [stats.iqm(curves[..., p]) for p in range(12)])


def test_curve_band_of_identical_runs_has_no_width_and_ignores_a_stuck_seed():
    x = np.linspace(0, 1, 6)
    center, low, high = stats.curve_band(np.tile(x, (5, 1)), reps=100)
    assert np.allclose(center, x) and np.allclose(low, x) and np.allclose(high, x)
    curves = np.vstack([np.tile(x, (4, 1)), np.zeros(6)])  # one seed never learns
    center, _, _ = stats.curve_band(curves, reps=100)
    mean, _, _ = stats.curve_band(curves, statistic=np.mean, reps=100)
    assert np.allclose(center, x)  # the middle 3 of 5 are the learning seeds
    assert np.allclose(mean, 0.8 * x)


def test_curve_band_is_deterministic_and_matches_the_ci_at_each_point_in_distribution():
    """Same seed, same band; and its width at a point is close to stratified_bootstrap_ci's on that
    point's scores (different draws, same bootstrap distribution)."""
    curves = np.random.default_rng(9).normal(size=(40, 3))
    a, b = stats.curve_band(curves, reps=300, seed=1), stats.curve_band(curves, reps=300, seed=1)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    _, low, high = stats.curve_band(curves, reps=2000)
    for p in range(3):
        _, lo, hi = stats.stratified_bootstrap_ci(curves[:, p], reps=2000, seed=11)
        assert (high[p] - low[p]) == pytest.approx(hi - lo, rel=0.2)


def test_paired_interval_holds_the_difference_and_has_no_width_for_equal_lists():
    """Two models' 1/0 on 200 questions in 4 categories: the paired interval of the difference holds
    the point difference; a model against itself differs by exactly 0 in every resample."""
    rng = np.random.default_rng(10)
    strata = np.repeat(["physics", "cooking", "household", "general"], 50)
    a = (rng.random(200) < 0.8).astype(int)
    b = np.where(rng.random(200) < 0.1, 1 - a, a)  # about 20 answers changed
    out = stats.paired_bootstrap(a, b, strata)
    diff, low, high = out["diff"]
    assert diff == pytest.approx(b.mean() - a.mean())
    assert low < diff < high
    assert out["a"][0] == pytest.approx(a.mean()) and out["b"][0] == pytest.approx(b.mean())
    assert stats.paired_bootstrap(a, a, strata)["diff"] == (0.0, 0.0, 0.0)


def test_paired_interval_is_narrower_than_either_accuracys_and_one_sided_when_one_never_loses():
    """b = a with 4 wrong answers made right: every resample's difference is >= 0, so the interval
    starts at 0 or above, and it is far narrower than a's own interval (question difficulty, which
    both share, cancels in the difference)."""
    a = np.r_[np.ones(150), np.zeros(90)]
    b = a.copy()
    b[[150, 170, 200, 230]] = 1
    out = stats.paired_bootstrap(a, b, np.repeat(["p", "c", "h", "g"], 60))
    _, low, high = out["diff"]
    assert 0.0 <= low < high
    assert high - low < 0.5 * (out["a"][2] - out["a"][1])


def test_paired_draws_are_stratified_and_are_stratified_bootstrap_cis():
    """a's interval is stratified_bootstrap_ci's on {stratum: a's items} (the same draws), the same
    whatever b is; every resample keeps each stratum's count."""
    rng = np.random.default_rng(11)
    strata = np.array(["x"] * 7 + ["y"] * 13 + ["x"] * 5)  # a stratum need not be contiguous
    a, b1, b2 = rng.random(25), rng.random(25), rng.random(25)
    first = stats.paired_bootstrap(a, b1, strata, reps=500, seed=3)
    assert first["a"] == stats.paired_bootstrap(a, b2, strata, reps=500, seed=3)["a"]
    as_dict = {s: a[strata == s] for s in ("x", "y")}
    assert first["a"] == pytest.approx(stats.stratified_bootstrap_ci(as_dict, np.mean, reps=500, seed=3))
    marked = np.where(strata == "x", 1.0, 100.0)  # each resample's sum says how many of each it drew
    sums = []
    stats.paired_bootstrap(marked, marked, strata, statistic=lambda r: sums.append(r.sum()) or 0.0, reps=200)
    assert set(sums) == {12 * 1.0 + 13 * 100.0}


def test_paired_bootstrap_refuses_mismatched_input():
    with pytest.raises(ValueError):
        stats.paired_bootstrap([1, 0, 1], [1, 0])
    with pytest.raises(ValueError):
        stats.paired_bootstrap([1, 0, 1], [1, 0, 0], strata=["a", "b"])
    with pytest.raises(ValueError):
        stats.paired_bootstrap([], [])

"""Interquartile mean and stratified-bootstrap confidence intervals, as Agarwal et al. recommend
(*Deep Reinforcement Learning at the Edge of the Statistical Precipice*, NeurIPS 2021), in numpy.

Why these statistics. With 5 seeds per method and task, whether a run ever meets its first
reward decides almost everything (bench/README.md): one seed at 0 % drags the mean of four seeds
at 90 % down to 72 %, and the median jumps between seeds as soon as one changes. The
interquartile mean (IQM), the mean of the middle half of all runs x tasks scores, ignores the
best and worst quarter, like the median, but still averages half the scores, like the mean. A
point estimate from 5 runs says little without its uncertainty, so every number comes with a
95 % percentile interval from the *stratified* bootstrap: runs are resampled with replacement
within each task, never across tasks, so every resample keeps each task's number of runs (an
easy task never stands in for a hard one).

Why not the `rliable` package, which does exactly this: it pulls in arch, scipy, seaborn and
pandas for what is, here, forty lines of numpy. The definitions follow rliable: `iqm` is
`rliable.metrics.aggregate_iqm`, i.e. `scipy.stats.trim_mean(scores, 0.25, axis=None)`, and
`stratified_bootstrap_ci` is `rliable.library.get_interval_estimates` with its default
percentile method. rliable's default is 50,000 replications; on the demo's data 2,000 move the
interval's ends by at most about 2 % of its width (20 seeds of the bootstrap against 50,000).

The same resampling serves items as well as runs: `paired_bootstrap` puts intervals on two
models' accuracies over the same questions and on their difference, the questions resampled
within their category and the same ones for both models (bench/retained.py).

    python bench/stats.py      # a 5-seed example: IQM against mean and median, with intervals

Plot a band from `curve_band` with `ax.plot(x, center)` and `ax.fill_between(x, low, high,
alpha=0.2)`.
"""
import numpy as np


def iqm(x, axis=None):
    """Interquartile mean: sort, drop int(n / 4) scores from each end, average the rest.

    Exactly scipy.stats.trim_mean(x, proportiontocut=0.25, axis=axis), which rliable's
    aggregate_iqm calls with axis=None: the (runs, tasks) scores are flattened first, so the
    trimmed quarter is a quarter of all runs of all tasks, not of each task. The count drops
    by rounding down: n = 5 trims 1 score from each end (the mean of the middle 3), n = 8 trims 2,
    and n < 4 trims nothing (the plain mean). `axis` lets `curve_band` take one IQM per point.
    """
    x = np.asarray(x, dtype=float)
    if axis is None:
        x, axis = x.ravel(), 0
    x = np.sort(x, axis=axis)
    n = x.shape[axis]
    cut = int(0.25 * n)
    return np.take(x, np.arange(cut, n - cut), axis=axis).mean(axis=axis)


def _per_task(scores):
    """The runs of each task as a list of 1-D arrays: from (runs, tasks), (runs,) for one task, or
    a dict task -> runs (tasks may have different numbers of runs)."""
    if isinstance(scores, dict):
        tasks = [np.asarray(v, dtype=float).ravel() for v in scores.values()]
    else:
        scores = np.asarray(scores, dtype=float)
        if scores.ndim == 1:
            scores = scores[:, None]
        if scores.ndim != 2:
            raise ValueError(f"scores must be (runs, tasks), (runs,) or a dict; got shape {scores.shape}")
        tasks = list(scores.T)
    if not tasks or any(len(t) == 0 for t in tasks):
        raise ValueError("every task needs at least one run")
    return tasks


def _stratified_draws(sizes, reps, rng):
    """One (reps, n) draw of indices 0..n-1, with replacement, per stratum of size n, in order: a
    stratum's members are only ever replaced by its own. Both intervals below resample this way."""
    return [rng.integers(0, n, size=(reps, n)) for n in sizes]


def stratified_bootstrap_ci(scores, statistic=iqm, reps=2000, alpha=0.05, seed=0):
    """(point estimate, low, high): `statistic` of the scores and its (1 - alpha) percentile
    interval over `reps` stratified bootstrap resamples.

    scores: (runs, tasks), (runs,) for one task, or a dict task -> 1-D runs array. Each resample
    draws, for every task separately, as many runs as that task has, with replacement, from that
    task's runs only. `statistic` gets the pooled scores of all tasks as one flat array (runs of
    task 1, then task 2, ...), so iqm and np.mean here are rliable's aggregate_iqm and
    aggregate_mean (with equal run counts); np.median is the median of all runs, not rliable's
    median of per-task means. Deterministic for a given seed; a (runs, tasks) array and the dict
    of its columns give the same numbers.
    """
    tasks = _per_task(scores)
    draws = _stratified_draws([len(t) for t in tasks], reps, np.random.default_rng(seed))
    resamples = np.concatenate([t[i] for t, i in zip(tasks, draws)], axis=1)  # (reps, runs of all tasks)
    estimates = np.array([statistic(r) for r in resamples])
    low, high = np.percentile(estimates, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return float(statistic(np.concatenate(tasks))), float(low), float(high)


def paired_bootstrap(a, b, strata=None, statistic=np.mean, reps=2000, alpha=0.05, seed=0):
    """Two measurements of the same items (a[i] and b[i] on item i: two models' 1/0 on one
    question), resampled together: {"a": (est, low, high), "b": (...), "diff": (...)}, where
    diff is statistic(b) - statistic(a) and each (low, high) its (1 - alpha) percentile interval.

    Why paired: both models answer the same questions, so an easy question is easy for both; each
    resample takes the same items for a and b, and the difference varies only with the items on
    which the two disagree. Two separate intervals would count the spread of question difficulty
    twice and be much wider. Identical lists give a difference of exactly 0 in every resample.
    strata: one label per item (e.g. the question's category); items are drawn with replacement
    within each stratum, so every resample keeps each stratum's count (as stratified_bootstrap_ci
    keeps each task's runs); None: one stratum. The draws depend only on the strata and the seed,
    so with the same ones `a`'s interval is the same whatever `b` is, and it equals
    stratified_bootstrap_ci of {stratum: a's items} (strata in the order they first appear).
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.ndim != 1 or a.shape != b.shape or len(a) == 0:
        raise ValueError(f"a and b must be 1-D, of the same non-zero length; got shapes {a.shape} and {b.shape}")
    strata = np.zeros(len(a), dtype=int) if strata is None else np.asarray(strata)
    if strata.shape != a.shape:
        raise ValueError(f"one stratum per item: got {strata.shape[0] if strata.ndim else 0} for {len(a)} items")
    groups = [np.flatnonzero(strata == s) for s in dict.fromkeys(strata.tolist())]
    draws = _stratified_draws([len(g) for g in groups], reps, np.random.default_rng(seed))
    idx = np.concatenate([g[i] for g, i in zip(groups, draws)], axis=1)  # (reps, n) item indices
    est_a = np.array([statistic(r) for r in a[idx]])
    est_b = np.array([statistic(r) for r in b[idx]])
    q = [100 * alpha / 2, 100 * (1 - alpha / 2)]
    out = {}
    for name, point, estimates in (("a", statistic(a), est_a), ("b", statistic(b), est_b),
                                   ("diff", statistic(b) - statistic(a), est_b - est_a)):
        low, high = np.percentile(estimates, q)
        out[name] = (float(point), float(low), float(high))
    return out


def curve_band(curves, statistic=iqm, reps=2000, alpha=0.05, seed=0):
    """(center, low, high), each of shape (points,): the IQM of learning curves at every point and
    its pointwise (1 - alpha) stratified-bootstrap band.

    curves: (runs, points) for one task, or (runs, tasks, points), all on one x grid (hold a
    stopped run's last value, as bench/reliability.py does). IQM rather than the mean so the
    curve is the same statistic as the reported number (its last point is that number when the
    final score is the last point) and one seed stuck at zero does not pull the whole curve
    down; it also hides that seed, so plot the seeds themselves too (thin lines). The middle
    half is taken at each point separately, so it need not be the same seeds all along.
    A resample takes whole curves (a seed's points move together); rliable draws runs for each
    point independently, which gives each point the same bootstrap distribution, so the
    pointwise bands agree. `statistic` must accept axis=0 (iqm and np.mean do).
    """
    curves = np.asarray(curves, dtype=float)
    if curves.ndim == 2:
        curves = curves[:, None, :]
    if curves.ndim != 3:
        raise ValueError(f"curves must be (runs, points) or (runs, tasks, points); got {curves.shape}")
    runs, tasks, points = curves.shape
    rng = np.random.default_rng(seed)
    estimates = np.empty((reps, points))
    for i in range(reps):
        idx = rng.integers(0, runs, size=(runs, tasks))  # runs drawn within each task
        estimates[i] = statistic(curves[idx, np.arange(tasks)].reshape(-1, points), axis=0)
    low, high = np.percentile(estimates, [100 * alpha / 2, 100 * (1 - alpha / 2)], axis=0)
    return statistic(curves.reshape(-1, points), axis=0), low, high


def _simulate(population, runs, statistic=iqm, experiments=200, reps=500, seed=0):
    """Repeat a made-up experiment: draw `runs` seeds' scores from `population`, compute the
    interval. Returns how often it contained the population's statistic (the "95 %" promise)
    and its median width."""
    rng = np.random.default_rng(seed)
    truth, hits, widths = statistic(population), 0, []
    for e in range(experiments):
        _, low, high = stratified_bootstrap_ci(rng.choice(population, runs), statistic, reps, seed=e)
        hits += low <= truth <= high
        widths.append(high - low)
    return hits / experiments, float(np.median(widths))


if __name__ == "__main__":
    seeds = np.array([0.95, 0.90, 1.00, 0.85, 0.00])  # final sampled success; seed 5 never met a reward
    print("Final sampled success of 5 seeds, one of which never met its first reward:", seeds.tolist())
    print(f"  {'statistic':<8} {'estimate':>8}   95 % stratified-bootstrap interval (2,000 resamples)")
    for name, f in (("IQM", iqm), ("mean", np.mean), ("median", np.median)):
        est, low, high = stratified_bootstrap_ci(seeds, f)
        print(f"  {name:<8} {est:8.3f}   [{low:.3f}, {high:.3f}]  width {high - low:.3f}")
    without = seeds[:4]
    print(f"Without the failed seed all three are {np.mean(without):.3f}; with it the mean falls by "
          f"{np.mean(without) - np.mean(seeds):.3f}, IQM and median by {iqm(without) - iqm(seeds):.3f}.\n"
          "IQM = mean of the middle 3 of 5 (int(5 / 4) = 1 trimmed from each end). Its interval still\n"
          "shows the failed seed: resamples that draw it twice or more put a zero among the middle\n"
          "three. The IQM hides which seeds failed, so report 'k of 5 seeds learnt' next to it.")

    # the same method on 4 tasks x 5 seeds: 20 scores, 5 trimmed from each end
    rng = np.random.default_rng(1)
    table = np.clip(rng.normal([0.9, 0.8, 0.6, 0.4], 0.08, size=(5, 4)), 0, 1)
    table[4, 0] = 0.0  # one failed seed again
    print("\n4 tasks x 5 seeds, one failed seed (runs resampled within each task):")
    for name, f in (("IQM", iqm), ("mean", np.mean)):
        est, low, high = stratified_bootstrap_ci(table, f)
        print(f"  {name:<8} {est:8.3f}   [{low:.3f}, {high:.3f}]  width {high - low:.3f}")
    print("Pooled over 4 tasks the IQM averages the middle 10 of 20 scores and the failed seed is 1 in\n"
          "20, not 1 in 5: an aggregate over tasks is what 5 seeds per task can pin down.")

    # how wide, and how often right, with few seeds: runs drawn from a made-up population of seeds
    # (1 in 5 fails, the rest learn to 75-100 %)
    population = np.r_[np.zeros(200), np.linspace(0.75, 1.0, 800)]
    print(f"\nA population of seeds (20 % fail, the rest 75-100 %): true IQM {iqm(population):.3f}, "
          f"mean {population.mean():.3f}.")
    print(f"  {'seeds':>5} {'median IQM interval width':>26} {'how often the 95 % interval holds the truth':>44}")
    for runs in (5, 10, 20):
        coverage, width = _simulate(population, runs)
        print(f"  {runs:>5} {width:26.3f} {coverage:44.0%}")
    print("With 5 seeds the \"95 %\" interval misses more often than it promises (a resample of 5 runs\n"
          "has only 126 distinct outcomes), and it is wide: 5 seeds tell 'learns' from 'does not',\n"
          "not 85 % from 90 %. Read a 5-seed interval as a lower bound on the uncertainty.")

    # a learning-curve band: 5 seeds, one of which stays at zero
    x = np.arange(1, 9) * 512
    curves = np.array([1 - np.exp(-x / s) for s in (800, 1200, 1500, 2000)] + [np.zeros(len(x))])
    center, low, high = curve_band(curves)
    print("\nLearning curves (5 seeds, the last stays at 0): IQM and 95 % band per point")
    print("  decisions " + " ".join(f"{v:6d}" for v in x))
    for name, row in (("IQM", center), ("low", low), ("high", high), ("mean", curves.mean(0))):
        print(f"  {name:<9} " + " ".join(f"{v:6.2f}" for v in row))
    print("The IQM follows the four learning seeds; the band's low end is the resamples that drew the\n"
          "stuck seed three times or more (6 % of them), which puts it in the middle three.")

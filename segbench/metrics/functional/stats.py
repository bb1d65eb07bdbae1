"""Resampling statistics over per-sample results: bootstrap confidence intervals and paired tests.

Every function here works on *per-sample additive states*: an array ``(N, ...)`` (or a dict of such
arrays) whose rows are the contribution of one sample (an image, an expression, an episode) to a
dataset-level state that is a **sum** (a confusion matrix, intersection and union counts, a sum of
IoUs and a count...). A statistic maps the summed state to a number (or a dict of numbers). A
bootstrap replicate draws ``N`` samples with replacement; its state is ``Σ_i w_i · s_i`` where
``w_i`` is how often sample ``i`` was drawn, and the statistic is recomputed from that state. So for
mIoU the *per-image confusion matrices* are resampled and the mIoU is recomputed from the summed
matrix (the dataset-level definition), never the mean of per-image IoUs.

Randomness is seeded: replicate ``b`` uses the indices of ``rng.integers(0, N, N)`` (the ``b``-th
row, in order, of a ``numpy.random.default_rng(seed)`` stream), so results are reproducible and a
paired analysis uses the same indices for both runs.

- :func:`bootstrap_ci` — percentile bootstrap interval of one run (Efron & Tibshirani 1993, §13.3).
- :func:`paired_bootstrap` — interval and two-sided p-value of the difference between two runs on the
  same samples (Koehn 2004; Berg-Kirkpatrick et al. 2012).
- :func:`permutation_test` — approximate randomisation / sign-flip test of the difference: each
  sample's states are swapped between the runs with probability 1/2 (Noreen 1989; Riezler & Maxwell
  2005); ``p = (1 + #{|Δ*| ≥ |Δ|}) / (1 + R)``.

References
----------
B. Efron, R. Tibshirani, "An Introduction to the Bootstrap", Chapman & Hall 1993.
P. Koehn, "Statistical Significance Tests for Machine Translation Evaluation", EMNLP 2004.
E. W. Noreen, "Computer-Intensive Methods for Testing Hypotheses", Wiley 1989.
S. Riezler, J. T. Maxwell, "On Some Pitfalls in Automatic Evaluation and Significance Testing for MT",
ACL workshop 2005.

Examples
--------
>>> import numpy as np
>>> v = np.array([0.2, 0.4, 0.6, 0.8, 1.0])
>>> r = bootstrap_ci(v, n_resamples=200, seed=0)
>>> round(r["estimate"], 3), r["low"] <= r["estimate"] <= r["high"]
(0.6, True)
>>> inter = np.array([[5, 1], [2, 2]]); union = np.array([[6, 2], [4, 2]])
>>> r = bootstrap_ci({"I": inter, "U": union}, lambda s: float(np.mean(s["I"] / s["U"])), n_resamples=100)
>>> round(r["estimate"], 4)
0.725
"""

from __future__ import annotations

import math
from typing import Callable, Mapping

import numpy as np

__all__ = ["resample_counts", "bootstrap_ci", "paired_bootstrap", "permutation_test", "mean_statistic",
           "ratio_statistic", "as_states"]

#: replicates are evaluated in blocks of this many rows (bounds memory to block × state size)
_BLOCK = 64


# --------------------------------------------------------------------------- helpers
def as_states(data, statistic: Callable | None = None):
    """Normalise ``data`` / ``statistic`` to (dict of ``(N, ...)`` float arrays, statistic, N).

    A 1-D array of per-sample values with ``statistic=None`` becomes the NaN-aware mean: states
    ``{"sum": value (NaN → 0), "count": 1 (NaN → 0)}`` and ``statistic = sum / count``.
    """
    if isinstance(data, Mapping):
        states = {k: np.asarray(v) for k, v in data.items()}
        keyed = True
    else:
        arr = np.asarray(data)
        if statistic is None:
            if arr.ndim != 1:
                raise ValueError("per-sample values must be 1-D when no statistic is given")
            arr = arr.astype(np.float64)
            ok = ~np.isnan(arr)
            states = {"sum": np.where(ok, arr, 0.0), "count": ok.astype(np.float64)}
            return states, mean_statistic, arr.shape[0]
        states = {"_": arr}
        keyed = False
    ns = {v.shape[0] if v.ndim else -1 for v in states.values()}
    if len(ns) != 1 or -1 in ns:
        raise ValueError(f"all per-sample states need the same leading length N, got {sorted(ns)}")
    n = ns.pop()
    if statistic is None:
        raise ValueError("a statistic is needed for multi-array states")
    if keyed:
        return states, statistic, n
    return states, (lambda s: statistic(s["_"])), n


def mean_statistic(s: Mapping) -> float:
    """``sum / count`` (NaN when the count is 0): the NaN-aware mean of per-sample values."""
    c = float(s["count"])
    return float(s["sum"]) / c if c else float("nan")


def ratio_statistic(num: str, den: str) -> Callable:
    """Statistic ``Σ num / Σ den`` (e.g. overall IoU = cumulative I / cumulative U)."""
    def stat(s):
        d = float(np.sum(s[den]))
        return float(np.sum(s[num])) / d if d else float("nan")
    return stat


def resample_counts(rng: np.random.Generator, n: int, rows: int) -> np.ndarray:
    """``(rows, n)`` draw counts of ``rows`` bootstrap replicates.

    Row ``b`` counts how often each sample appears in ``rng.integers(0, n, n)`` (the rows are drawn
    in order from ``rng``, so blocks of rows continue the same stream).
    """
    idx = rng.integers(0, n, size=(rows, n))
    off = (np.arange(rows) * n)[:, None]
    return np.bincount((idx + off).ravel(), minlength=rows * n).reshape(rows, n)


def _weighted(states: dict, w: np.ndarray) -> list[dict]:
    """Per-replicate summed states ``Σ_i w[b, i] s_i`` for a block of weights ``(b, N)``."""
    out = [dict() for _ in range(w.shape[0])]
    wf = w.astype(np.float64)
    for k, v in states.items():
        flat = v.reshape(v.shape[0], -1)
        if flat.dtype.kind in "iub":
            # exact integer sums: float64 matmul is exact while every partial sum < 2**53
            bound = int(np.abs(flat).max(initial=0)) * int(w.sum(1).max(initial=0)) if flat.size else 0
            if bound < 2 ** 53:
                tot = np.rint(wf @ flat.astype(np.float64)).astype(np.int64)
            else:
                tot = w.astype(np.int64) @ flat.astype(np.int64)
        else:
            tot = wf @ flat.astype(np.float64)
        for b in range(w.shape[0]):
            out[b][k] = tot[b].reshape(v.shape[1:])
    return out


def _total(states: dict) -> dict:
    return {k: (v.sum(0) if v.dtype.kind in "iub" else v.astype(np.float64).sum(0)) for k, v in states.items()}


def _as_vector(x) -> tuple[np.ndarray, list | None]:
    if isinstance(x, Mapping):
        keys = list(x)
        return np.array([float(x[k]) for k in keys], np.float64), keys
    return np.array([float(x)], np.float64), None


def _summary(est: np.ndarray, reps: np.ndarray, keys, confidence: float, n_resamples: int, seed, extra=None):
    alpha = 1.0 - confidence
    out = {}
    for j in range(est.shape[0]):
        r = reps[:, j]
        ok = r[~np.isnan(r)]
        if ok.size:
            lo, hi = np.quantile(ok, [alpha / 2, 1 - alpha / 2])
            se = float(ok.std(ddof=1)) if ok.size > 1 else 0.0
        else:
            lo = hi = se = float("nan")
        d = {"estimate": float(est[j]), "low": float(lo), "high": float(hi), "std_error": se,
             "confidence": confidence, "n_resamples": n_resamples, "n_nan": int(r.size - ok.size), "seed": seed}
        if extra is not None:
            d.update(extra(j, r, ok))
        out[keys[j] if keys else None] = d
    return out if keys else out[None]


# --------------------------------------------------------------------------- public API
def bootstrap_ci(data, statistic: Callable | None = None, *, n_resamples: int = 1000, confidence: float = 0.95,
                 seed: int | None = 0, return_replicates: bool = False) -> dict:
    """Percentile bootstrap confidence interval of a statistic of per-sample additive states.

    With per-sample states ``s_i`` (``i = 1..N``) and replicate weights ``w_bi`` (how often sample
    ``i`` is drawn among ``N`` draws with replacement), replicate ``b`` is
    ``θ*_b = statistic(Σ_i w_bi s_i)`` and the interval is the ``(α/2, 1 - α/2)`` quantiles of the
    ``θ*_b`` (``α = 1 - confidence``, numpy's default linear interpolation); NaN replicates are left
    out (their count is ``n_nan``). ``estimate = statistic(Σ_i s_i)``; ``std_error`` is the standard
    deviation of the replicates (ddof=1).

    Parameters
    ----------
    data : ndarray (N,) or ndarray (N, ...) or dict of str to ndarray (N, ...)
        Per-sample values (1-D, with ``statistic=None``: the NaN-aware mean is bootstrapped) or
        per-sample additive states (e.g. ``{"cm": (N, C, C)}`` confusion matrices).
    statistic : callable, optional
        Maps the summed state (same structure as ``data`` without the sample axis) to a float or a
        dict of floats (one interval per key).
    n_resamples : int, default 1000
    confidence : float, default 0.95
    seed : int or None, default 0
    return_replicates : bool, default False
        Also return the ``(B,)`` / ``(B, K)`` replicate values under ``"replicates"``.

    Returns
    -------
    dict
        ``estimate, low, high, std_error, confidence, n_resamples, n_nan, seed`` — or, for a dict-valued
        statistic, one such dict per key.

    Examples
    --------
    >>> import numpy as np
    >>> cm = np.zeros((4, 2, 2), np.int64); cm[:, 0, 0] = [5, 3, 4, 2]; cm[:, 1, 1] = [1, 2, 0, 3]; cm[:, 0, 1] = 1
    >>> def miou(c):
    ...     tp = np.diag(c); return float(np.mean(tp / (c.sum(0) + c.sum(1) - tp)))
    >>> r = bootstrap_ci(cm, miou, n_resamples=50, seed=1)
    >>> round(r["estimate"], 4), r["n_resamples"]
    (0.6889, 50)

    References
    ----------
    Efron & Tibshirani, "An Introduction to the Bootstrap", 1993, ch. 13 (percentile interval).
    """
    states, stat, n = as_states(data, statistic)
    if n == 0:
        raise ValueError("bootstrap needs at least one sample")
    est, keys = _as_vector(stat(_total(states)))
    rng = np.random.default_rng(seed)
    reps = np.empty((int(n_resamples), est.shape[0]), np.float64)
    for start in range(0, int(n_resamples), _BLOCK):
        rows = min(_BLOCK, int(n_resamples) - start)
        for b, s in enumerate(_weighted(states, resample_counts(rng, n, rows))):
            reps[start + b] = _as_vector(stat(s))[0]
    out = _summary(est, reps, keys, confidence, int(n_resamples), seed)
    if return_replicates:
        if keys:
            for j, k in enumerate(keys):
                out[k]["replicates"] = reps[:, j].copy()
        else:
            out["replicates"] = reps[:, 0].copy()
    return out


def _paired_states(a, b, statistic):
    sa, stat, na = as_states(a, statistic)
    sb, _, nb = as_states(b, statistic)
    if na != nb:
        raise ValueError(f"paired analysis needs the same samples in both runs, got {na} and {nb}")
    if set(sa) != set(sb):
        raise ValueError("the two runs' states have different fields")
    return sa, sb, stat, na


def paired_bootstrap(a, b, statistic: Callable | None = None, *, n_resamples: int = 1000, confidence: float = 0.95,
                     seed: int | None = 0, return_replicates: bool = False) -> dict:
    """Paired bootstrap of the difference ``Δ = statistic(A) - statistic(B)`` of two runs on the same
    samples (row ``i`` of ``a`` and ``b`` is the same sample).

    Each replicate draws one set of indices and uses it for both runs:
    ``Δ*_b = statistic(Σ w_bi a_i) - statistic(Σ w_bi b_i)``. Returns the percentile interval of
    ``Δ*`` and the two-sided bootstrap p-value ``p = min(1, 2 · min(#{Δ* ≤ 0}, #{Δ* ≥ 0}) / B')``
    (``B'`` = number of non-NaN replicates), the share of replicates on the other side of zero
    (Koehn 2004 reports ``#{Δ* ≤ 0} / B`` as "A better than B" confidence: ``p_a_not_better``).

    Parameters
    ----------
    a, b : as ``data`` of :func:`bootstrap_ci`, same N and fields
    statistic : callable, optional
    n_resamples, confidence, seed, return_replicates : see :func:`bootstrap_ci`

    Returns
    -------
    dict (or dict of dicts for a dict-valued statistic)
        ``estimate`` (= Δ), ``low, high, std_error, p_value, p_a_not_better, estimate_a, estimate_b``,
        ``confidence, n_resamples, n_nan, seed``.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.array([0.9, 0.8, 0.85, 0.95, 0.7]); b = a - 0.1
    >>> r = paired_bootstrap(a, b, n_resamples=200)
    >>> round(r["estimate"], 6), round(r["low"], 6), r["p_value"]
    (0.1, 0.1, 0.0)

    References
    ----------
    P. Koehn, EMNLP 2004; T. Berg-Kirkpatrick, D. Burkett, D. Klein, "An Empirical Investigation of
    Statistical Significance in NLP", EMNLP 2012.
    """
    sa, sb, stat, n = _paired_states(a, b, statistic)
    if n == 0:
        raise ValueError("bootstrap needs at least one sample")
    ea, keys = _as_vector(stat(_total(sa)))
    eb, _ = _as_vector(stat(_total(sb)))
    rng = np.random.default_rng(seed)
    reps = np.empty((int(n_resamples), ea.shape[0]), np.float64)
    for start in range(0, int(n_resamples), _BLOCK):
        rows = min(_BLOCK, int(n_resamples) - start)
        w = resample_counts(rng, n, rows)
        for r, (xa, xb) in enumerate(zip(_weighted(sa, w), _weighted(sb, w))):
            reps[start + r] = _as_vector(stat(xa))[0] - _as_vector(stat(xb))[0]

    def extra(j, r, ok):
        m = ok.size
        le, ge = int((ok <= 0).sum()), int((ok >= 0).sum())
        d = {"p_value": min(1.0, 2.0 * min(le, ge) / m) if m else float("nan"),
             "p_a_not_better": le / m if m else float("nan"),
             "estimate_a": float(ea[j]), "estimate_b": float(eb[j])}
        if return_replicates:
            d["replicates"] = r.copy()
        return d

    return _summary(ea - eb, reps, keys, confidence, int(n_resamples), seed, extra)


def permutation_test(a, b, statistic: Callable | None = None, *, n_permutations: int = 10000,
                     seed: int | None = 0) -> dict:
    """Approximate randomisation (sign-flip) test of ``H0: the two runs are exchangeable``.

    Permutation ``r`` swaps sample ``i``'s states between the runs when ``u_ri < 0.5`` (``u`` the
    rows of ``rng.random((R, N))`` drawn in order from ``default_rng(seed)``) and computes
    ``Δ*_r = statistic(A*) - statistic(B*)``; the two-sided p-value is
    ``p = (1 + #{|Δ*_r| ≥ |Δ| - ε}) / (1 + R)`` with ``ε = 1e-12 · max(1, |Δ|)`` for float ties
    (Noreen 1989). For a mean of per-sample values this is the paired sign-flip test.

    Parameters
    ----------
    a, b : as ``data`` of :func:`bootstrap_ci`, same N and fields
    statistic : callable, optional
    n_permutations : int, default 10000
    seed : int or None, default 0

    Returns
    -------
    dict (or dict of dicts for a dict-valued statistic)
        ``estimate`` (= Δ), ``p_value``, ``n_permutations``, ``seed``, ``n_nan``.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.linspace(0.5, 0.9, 20); b = a - 0.05
    >>> permutation_test(a, b, n_permutations=999)["p_value"] < 0.01
    True

    References
    ----------
    E. W. Noreen, "Computer-Intensive Methods for Testing Hypotheses", 1989; Riezler & Maxwell 2005.
    """
    sa, sb, stat, n = _paired_states(a, b, statistic)
    ea, keys = _as_vector(stat(_total(sa)))
    eb, _ = _as_vector(stat(_total(sb)))
    delta = ea - eb
    R = int(n_permutations)
    rng = np.random.default_rng(seed)
    reps = np.empty((R, delta.shape[0]), np.float64)
    ta, tb = _total(sa), _total(sb)
    # A* = ΣA - Σ_swap a_i + Σ_swap b_i ; B* = ΣB - Σ_swap b_i + Σ_swap a_i
    diff = {k: (sb[k].astype(np.int64) - sa[k].astype(np.int64)) if sa[k].dtype.kind in "iub" and sb[k].dtype.kind in "iub"
            else sb[k].astype(np.float64) - sa[k].astype(np.float64) for k in sa}
    for start in range(0, R, _BLOCK):
        rows = min(_BLOCK, R - start)
        swap = (rng.random((rows, n)) < 0.5).astype(np.int64)
        moved = _weighted(diff, swap)
        for r in range(rows):
            xa = {k: ta[k] + moved[r][k] for k in sa}
            xb = {k: tb[k] - moved[r][k] for k in sa}
            reps[start + r] = _as_vector(stat(xa))[0] - _as_vector(stat(xb))[0]
    out = {}
    for j in range(delta.shape[0]):
        r = reps[:, j]
        ok = r[~np.isnan(r)]
        d0 = abs(delta[j])
        hits = int((np.abs(ok) >= d0 - 1e-12 * max(1.0, d0)).sum())
        p = (1 + hits) / (1 + ok.size) if not math.isnan(d0) else float("nan")
        out[keys[j] if keys else None] = {"estimate": float(delta[j]), "p_value": float(p),
                                          "n_permutations": R, "n_nan": int(r.size - ok.size), "seed": seed,
                                          "estimate_a": float(ea[j]), "estimate_b": float(eb[j])}
    return out if keys else out[None]

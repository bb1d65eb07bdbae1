"""Bootstrap confidence intervals and paired tests for any segbench :class:`~segbench.metrics.base.Metric`.

A metric's state is a sum over samples (DESIGN.md), so the state of a bootstrap replicate — a
multiset of samples drawn with replacement — is the weighted sum of the *per-sample states*, and the
metric's own ``compute`` gives the replicate's numbers. For ``miou`` this resamples per-image confusion
matrices and recomputes the dataset-level mIoU (never the mean of per-image IoUs); for ``pq`` the
per-class tp/fp/fn/iou sums; for the protocol metrics (``referring``, ``fewshot``, ``zeroshot``,
``interactive``) their counts and keyed per-sample records.

How a state is combined (a plan compiled once from the N per-sample ``state_dict()`` s):

- numbers and arrays of one shape in every sample: weighted sum ``Σ_i w_i s_i`` (integers stay exact);
- dicts with the same keys in every sample (a struct, e.g. ``{"confusion": ..., "void": ...}`` or
  per-class counts): combined field by field;
- dicts whose keys differ between samples (keyed maps of per-sample records, e.g. ``per_sample``):
  union of the drawn samples' entries, a sample drawn ``k`` times contributes its entries ``k`` times
  (repeats get the key suffix ``"#2"``, ``"#3"``...); a key shared by two different samples adds up;
- arrays whose shape differs between samples, or whose field name is in ``concat_keys`` (record
  tables such as ``miou``'s iIoU ``instances``), and lists: concatenated, repeated ``k`` times;
- anything else (strings...) must be equal in every sample and is kept;
- fields named in ``skip_keys`` (default ``per_sample``: output-only maps) are left empty.

Use from ``segbench compare`` (report/compare.py)
-----------------------------------------------
Two RunRecords of the same dataset / split carry ``per_sample`` results. :func:`compare_per_sample`
aligns them by sample id and returns the paired bootstrap interval and the permutation p-value of the
difference of a per-sample mean (or of a ratio of per-sample sums, e.g. referring ``oIoU`` from the
per-expression ``I`` and ``U``)::

    from segbench.metrics.stats import compare_per_sample
    r = compare_per_sample(rec_a.metrics["referring@1"]["per_sample"],
                           rec_b.metrics["referring@1"]["per_sample"], "IoU", n_resamples=1000, seed=0)
    r["delta"], r["low"], r["high"], r["p_value"], r["p_permutation"]

A single run's interval from its record: :func:`ci_per_sample` (same arguments, one ``per_sample``).
Every metric and per-sample field of two records at once (one call for ``segbench compare``)::

    from segbench.metrics.stats import compare_records_per_sample
    for row in compare_records_per_sample(base_record, new_record, n_resamples=1000, seed=0):
        row["metric"], row["field"], row["delta"], row["low"], row["high"], row["p_value"], row["p_permutation"]

With the predictions at hand (dataset-level statistics such as mIoU from resampled confusion matrices),
collect per-sample states with :func:`sample_states` and call :func:`bootstrap_metric` /
:func:`paired_bootstrap_metric` / :func:`permutation_test_metric`. The array-level functions
:func:`~segbench.metrics.functional.stats.bootstrap_ci`,
:func:`~segbench.metrics.functional.stats.paired_bootstrap` and
:func:`~segbench.metrics.functional.stats.permutation_test` are re-exported here.

Examples
--------
>>> import numpy as np
>>> from segbench.metrics.semantic import MeanIoU
>>> from segbench.types import LabelSpace, Sample, SemanticMask, SemanticPrediction
>>> rng = np.random.default_rng(0)
>>> m = MeanIoU(LabelSpace.from_names(["a", "b", "c"]))
>>> pairs = [(SemanticPrediction(rng.integers(0, 3, (4, 4)).astype(np.uint8)),
...           Sample(str(i), None, SemanticMask(rng.integers(0, 3, (4, 4)).astype(np.uint8)))) for i in range(8)]
>>> ci = bootstrap_metric(m, sample_states(m, pairs), ["mIoU"], n_resamples=100, seed=0)
>>> ci["mIoU"]["low"] <= ci["mIoU"]["estimate"] <= ci["mIoU"]["high"]
True

References
----------
Efron & Tibshirani 1993 (percentile bootstrap); Koehn, EMNLP 2004 (paired bootstrap); Noreen 1989
(approximate randomisation).
"""

from __future__ import annotations

import math
from typing import Iterable, Mapping, Sequence

import numpy as np

from .functional.stats import (_BLOCK, _summary, bootstrap_ci, paired_bootstrap, permutation_test,
                               ratio_statistic, resample_counts)

__all__ = ["sample_states", "bootstrap_metric", "paired_bootstrap_metric", "permutation_test_metric",
           "align_per_sample", "compare_per_sample", "ci_per_sample", "compare_records_per_sample",
           "combine_states",
           "bootstrap_ci", "paired_bootstrap", "permutation_test"]

DEFAULT_CONCAT_KEYS = ("instances",)
#: state fields that only feed ``MetricResult.per_sample`` (never ``values``): left empty in replicates
DEFAULT_SKIP_KEYS = ("per_sample",)


# --------------------------------------------------------------------------- per-sample states
def sample_states(metric, pairs: Iterable) -> list[dict]:
    """Per-sample states: for each ``(prediction, sample)`` a fresh copy of ``metric`` is updated with
    that one pair and its ``state_dict()`` is kept.

    Parameters
    ----------
    metric : Metric
        Gives the class, label space and options (its own state is not used).
    pairs : iterable of (prediction, Sample)

    Returns
    -------
    list of dict
    """
    out = []
    for pred, sample in pairs:
        m = metric.fresh()
        m.update(pred, sample)
        out.append(m.state_dict())
    return out


def _is_num(v) -> bool:
    return isinstance(v, (bool, int, float, np.integer, np.floating, np.bool_, np.ndarray))


class _Plan:
    """How to combine N per-sample states under integer weights (see the module docstring)."""

    def __init__(self, vals: Sequence, name: str = "", concat_keys=DEFAULT_CONCAT_KEYS, skip_keys=()):
        v0 = vals[0]
        self.name = name
        if name and name in skip_keys:
            self.kind, self.v0 = "const", type(v0)() if isinstance(v0, (dict, list)) else v0
            return
        if all(isinstance(v, Mapping) for v in vals):
            keysets = {tuple(sorted(map(str, v.keys()))) for v in vals}
            if len(keysets) == 1:
                self.kind = "struct"
                self.fields = {k: _Plan([v[k] for v in vals], str(k), concat_keys, skip_keys) for k in v0.keys()}
            else:
                self.kind, self.vals = "keyed", list(vals)
            return
        if all(isinstance(v, (list, tuple)) for v in vals):
            self.kind, self.vals = "list", [list(v) for v in vals]
            return
        if all(isinstance(v, (bool, str, type(None))) for v in vals) and all(v == v0 for v in vals):
            self.kind, self.v0 = "const", v0  # flags and names, not counts
            return
        if all(isinstance(v, np.ndarray) or _is_num(v) for v in vals):
            arrs = [np.asarray(v) for v in vals]
            shapes = {a.shape for a in arrs}
            if len(shapes) == 1 and name not in concat_keys:
                self.kind = "sum"
                self.scalar = not isinstance(v0, np.ndarray)
                st = np.stack(arrs)
                self.is_int = st.dtype.kind in "iub"
                self.stack = st.astype(np.int64) if self.is_int else st.astype(np.float64)
                self.dtype = arrs[0].dtype
                return
            if name in concat_keys or len({a.shape[1:] for a in arrs}) == 1:
                self.kind, self.vals = "concat", arrs
                return
        if all(v == v0 for v in vals):
            self.kind, self.v0 = "const", v0
            return
        raise TypeError(f"cannot resample state field {name!r}: values of type {type(v0).__name__} differ "
                        f"between samples and are neither numbers, arrays, lists nor keyed maps")

    def apply(self, w: np.ndarray):
        k = self.kind
        if k == "struct":
            return {key: p.apply(w) for key, p in self.fields.items()}
        if k == "sum":
            flat = self.stack.reshape(self.stack.shape[0], -1)
            if self.is_int:
                tot = (w.astype(np.int64) @ flat)
                res = tot.reshape(self.stack.shape[1:])
                return int(res) if self.scalar else res
            res = (w.astype(np.float64) @ flat).reshape(self.stack.shape[1:])
            return float(res) if self.scalar else res
        nz = np.flatnonzero(w)
        if k == "keyed":
            out: dict = {}
            for i in nz:
                for key, val in self.vals[i].items():
                    for rep in range(int(w[i])):
                        kk = key if rep == 0 else f"{key}#{rep + 1}"
                        if kk in out:
                            from .base import _add_states
                            out[kk] = _add_states(out[kk], val)
                        else:
                            out[kk] = val
            return out
        if k == "list":
            out_l: list = []
            for i in nz:
                out_l.extend(self.vals[i] * int(w[i]))
            return out_l
        if k == "concat":
            parts = [self.vals[i] for i in nz for _ in range(int(w[i]))]
            if not parts:
                return self.vals[0][:0]
            return np.concatenate(parts)
        return self.v0


def combine_states(states: Sequence[dict], weights=None, concat_keys=DEFAULT_CONCAT_KEYS) -> dict:
    """The state of the multiset that holds sample ``i`` ``weights[i]`` times (default: once each).

    Examples
    --------
    >>> combine_states([{"n": 1, "cm": np.eye(2, dtype=np.int64)}, {"n": 1, "cm": np.ones((2, 2), np.int64)}],
    ...                [2, 1])["cm"].tolist()
    [[3, 1], [1, 3]]
    """
    w = np.ones(len(states), np.int64) if weights is None else np.asarray(weights, np.int64)
    return _Plan(list(states), "", concat_keys).apply(w)


def _values(metric, state: dict, keys) -> np.ndarray:
    m = type(metric).from_state(state, metric.label_space, **metric.options)
    v = m.compute().values
    return np.array([float(v.get(k, float("nan"))) if v.get(k) is not None else float("nan") for k in keys],
                    np.float64)


def _keys(metric, keys):
    if keys is None:
        keys = list(getattr(metric, "summary_keys", ()) or ())
        if not keys:
            raise ValueError("pass the metric value keys to bootstrap")
    return [keys] if isinstance(keys, str) else list(keys)


# --------------------------------------------------------------------------- public API
def _replicates(n: int, n_resamples: int, seed, k: int, fn) -> np.ndarray:
    """``(n_resamples, k)`` values of ``fn(w)`` for bootstrap weight vectors ``w`` (counts of each of the
    ``n`` samples), drawn in blocks of :data:`_BLOCK` from ``default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    reps = np.empty((int(n_resamples), k))
    for start in range(0, int(n_resamples), _BLOCK):
        rows = min(_BLOCK, int(n_resamples) - start)
        w = resample_counts(rng, n, rows)
        for r in range(rows):
            reps[start + r] = fn(w[r])
    return reps


def bootstrap_metric(metric, states: Sequence[dict], keys=None, *, n_resamples: int = 1000,
                     confidence: float = 0.95, seed: int | None = 0,
                     concat_keys=DEFAULT_CONCAT_KEYS, skip_keys=DEFAULT_SKIP_KEYS) -> dict:
    """Percentile bootstrap intervals of a metric's values from its per-sample states.

    Replicate ``b`` combines the states with the draw counts of row ``b`` of
    :func:`~segbench.metrics.functional.stats.resample_counts` (same stream as
    :func:`~segbench.metrics.functional.stats.bootstrap_ci` with the same seed) and calls the metric's
    ``compute``; the interval is the ``(α/2, 1-α/2)`` quantiles of the replicate values.

    Parameters
    ----------
    metric : Metric
        Class, label space and options of the metric (e.g. ``MeanIoU(ls)``).
    states : list of dict
        Per-sample states (:func:`sample_states`).
    keys : str or list of str, optional
        Keys of ``values`` (default: the metric's ``summary_keys``).
    n_resamples, confidence, seed : see :func:`~segbench.metrics.functional.stats.bootstrap_ci`
    concat_keys : tuple of str
        State fields that are record tables (concatenated, never summed).
    skip_keys : tuple of str
        State fields that only feed ``per_sample`` output (default ``("per_sample",)``); replicates get
        them empty, which saves rebuilding a map of N entries per replicate.

    Returns
    -------
    dict of str to dict
        Per key: ``estimate, low, high, std_error, confidence, n_resamples, n_nan, seed``.
    """
    keys = _keys(metric, keys)
    n = len(states)
    if n == 0:
        raise ValueError("bootstrap needs at least one sample")
    plan = _Plan(list(states), "", concat_keys, skip_keys)
    est = _values(metric, plan.apply(np.ones(n, np.int64)), keys)
    reps = _replicates(n, n_resamples, seed, len(keys), lambda w: _values(metric, plan.apply(w), keys))
    return _summary(est, reps, keys, confidence, int(n_resamples), seed)


def paired_bootstrap_metric(metric, states_a: Sequence[dict], states_b: Sequence[dict], keys=None, *,
                            n_resamples: int = 1000, confidence: float = 0.95, seed: int | None = 0,
                            concat_keys=DEFAULT_CONCAT_KEYS, skip_keys=DEFAULT_SKIP_KEYS) -> dict:
    """Paired bootstrap of ``Δ = value(A) - value(B)`` for two runs' per-sample states (same samples,
    same order): one draw per replicate serves both runs. Output as
    :func:`~segbench.metrics.functional.stats.paired_bootstrap`, per key."""
    keys = _keys(metric, keys)
    n = len(states_a)
    if n != len(states_b) or n == 0:
        raise ValueError(f"paired analysis needs the same (non-zero) number of samples, got {n} and {len(states_b)}")
    pa, pb = _Plan(list(states_a), "", concat_keys, skip_keys), _Plan(list(states_b), "", concat_keys, skip_keys)
    one = np.ones(n, np.int64)
    ea, eb = _values(metric, pa.apply(one), keys), _values(metric, pb.apply(one), keys)
    reps = _replicates(n, n_resamples, seed, len(keys),
                       lambda w: _values(metric, pa.apply(w), keys) - _values(metric, pb.apply(w), keys))

    def extra(j, r, ok):
        m = ok.size
        le, ge = int((ok <= 0).sum()), int((ok >= 0).sum())
        return {"p_value": min(1.0, 2.0 * min(le, ge) / m) if m else float("nan"),
                "p_a_not_better": le / m if m else float("nan"),
                "estimate_a": float(ea[j]), "estimate_b": float(eb[j])}

    return _summary(ea - eb, reps, keys, confidence, int(n_resamples), seed, extra)


def permutation_test_metric(metric, states_a: Sequence[dict], states_b: Sequence[dict], keys=None, *,
                            n_permutations: int = 1000, seed: int | None = 0,
                            concat_keys=DEFAULT_CONCAT_KEYS, skip_keys=DEFAULT_SKIP_KEYS) -> dict:
    """Approximate randomisation test of ``Δ = value(A) - value(B)`` on per-sample states: permutation
    ``r`` swaps sample ``i`` between the runs when ``u_ri < 0.5`` (rows of ``rng.random((R, N))``),
    recomputes both runs' values and ``p = (1 + #{|Δ*| ≥ |Δ|}) / (1 + R)`` (as
    :func:`~segbench.metrics.functional.stats.permutation_test`)."""
    keys = _keys(metric, keys)
    n = len(states_a)
    if n != len(states_b) or n == 0:
        raise ValueError(f"paired analysis needs the same (non-zero) number of samples, got {n} and {len(states_b)}")
    plan = _Plan(list(states_a) + list(states_b), "", concat_keys, skip_keys)
    one, zero = np.ones(n, np.int64), np.zeros(n, np.int64)
    ea = _values(metric, plan.apply(np.concatenate([one, zero])), keys)
    eb = _values(metric, plan.apply(np.concatenate([zero, one])), keys)
    delta = ea - eb
    R = int(n_permutations)
    rng = np.random.default_rng(seed)
    reps = np.empty((R, len(keys)))
    for start in range(0, R, _BLOCK):
        rows = min(_BLOCK, R - start)
        swap = (rng.random((rows, n)) < 0.5).astype(np.int64)
        for r in range(rows):
            s = swap[r]
            va = _values(metric, plan.apply(np.concatenate([1 - s, s])), keys)
            vb = _values(metric, plan.apply(np.concatenate([s, 1 - s])), keys)
            reps[start + r] = va - vb
    out = {}
    for j, k in enumerate(keys):
        r = reps[:, j]
        ok = r[~np.isnan(r)]
        d0 = abs(delta[j])
        hits = int((np.abs(ok) >= d0 - 1e-12 * max(1.0, d0)).sum())
        out[k] = {"estimate": float(delta[j]), "p_value": (1 + hits) / (1 + ok.size) if not math.isnan(d0) else math.nan,
                  "n_permutations": R, "n_nan": int(r.size - ok.size), "seed": seed,
                  "estimate_a": float(ea[j]), "estimate_b": float(eb[j])}
    return out


def align_per_sample(per_sample_a: Mapping, per_sample_b: Mapping, fields) -> tuple[list, dict, dict]:
    """Align two runs' ``per_sample`` results (sample id → {field: value}) on their common ids.

    Returns ``(ids, a, b)``: the sorted common ids and, per field, ``(N,)`` float arrays (``None`` /
    missing → NaN).

    Raises
    ------
    ValueError
        No sample in common.
    """
    fields = [fields] if isinstance(fields, str) else list(fields)
    ids = sorted(set(per_sample_a) & set(per_sample_b))
    if not ids:
        raise ValueError("the two runs have no sample id in common; compare runs on the same dataset split")

    def col(ps, f):
        return np.array([np.nan if (ps[i] or {}).get(f) is None else float(ps[i][f]) for i in ids], np.float64)

    return ids, {f: col(per_sample_a, f) for f in fields}, {f: col(per_sample_b, f) for f in fields}


def compare_per_sample(per_sample_a: Mapping, per_sample_b: Mapping, field: str, *, ratio_of: tuple | None = None,
                       n_resamples: int = 1000, n_permutations: int = 10000, confidence: float = 0.95,
                       seed: int | None = 0) -> dict:
    """Paired comparison of two RunRecords' per-sample results (what ``segbench compare`` shows).

    The statistic is the mean of ``field`` over the common samples with a value in both runs, or, with
    ``ratio_of=(num, den)``, ``Σ num / Σ den`` (e.g. ``("I", "U")`` for referring overall IoU).

    Returns
    -------
    dict
        ``delta, low, high`` (paired bootstrap interval), ``p_value`` (bootstrap), ``p_permutation``
        (sign-flip test), ``estimate_a, estimate_b, n_samples, confidence, n_resamples, seed``.

    Examples
    --------
    >>> a = {str(i): {"IoU": 0.5 + 0.02 * i} for i in range(10)}
    >>> b = {str(i): {"IoU": 0.45 + 0.02 * i} for i in range(10)}
    >>> r = compare_per_sample(a, b, "IoU", n_resamples=200, n_permutations=200)
    >>> round(r["delta"], 6), r["n_samples"], r["p_permutation"] < 0.05
    (0.05, 10, True)
    """
    fields = list(ratio_of) if ratio_of else [field]
    ids, a, b = align_per_sample(per_sample_a, per_sample_b, fields)
    ok = np.ones(len(ids), bool)
    for f in fields:
        ok &= ~np.isnan(a[f]) & ~np.isnan(b[f])
    if not ok.any():
        raise ValueError(f"no sample has a value of {fields} in both runs")
    if ratio_of:
        sa, sb = {f: a[f][ok] for f in fields}, {f: b[f][ok] for f in fields}
        stat = ratio_statistic(*ratio_of)
    else:
        sa, sb, stat = a[field][ok], b[field][ok], None
    pb = paired_bootstrap(sa, sb, stat, n_resamples=n_resamples, confidence=confidence, seed=seed)
    pt = permutation_test(sa, sb, stat, n_permutations=n_permutations, seed=seed)
    return {"delta": pb["estimate"], "low": pb["low"], "high": pb["high"], "p_value": pb["p_value"],
            "p_permutation": pt["p_value"], "estimate_a": pb["estimate_a"], "estimate_b": pb["estimate_b"],
            "n_samples": int(ok.sum()), "confidence": confidence, "n_resamples": n_resamples, "seed": seed}


def ci_per_sample(per_sample: Mapping, field: str, *, ratio_of: tuple | None = None, n_resamples: int = 1000,
                  confidence: float = 0.95, seed: int | None = 0) -> dict:
    """Percentile bootstrap interval of one RunRecord's per-sample results (reports, leaderboards).

    The statistic is the NaN-aware mean of ``field`` over the samples, or with ``ratio_of=(num, den)``
    ``Σ num / Σ den`` over the samples having both.

    Returns
    -------
    dict
        ``estimate, low, high, std_error, confidence, n_resamples, n_nan, seed, n_samples``.

    Examples
    --------
    >>> ps = {f"e{i}": {"I": i, "U": 10} for i in range(1, 9)}
    >>> r = ci_per_sample(ps, "oIoU", ratio_of=("I", "U"), n_resamples=100)
    >>> r["estimate"], r["n_samples"], r["low"] < r["estimate"] < r["high"]
    (0.45, 8, True)
    """
    ids = sorted(per_sample)
    if not ids:
        raise ValueError("no per-sample results to bootstrap")
    fields = list(ratio_of) if ratio_of else [field]
    cols = {f: np.array([np.nan if (per_sample[i] or {}).get(f) is None else float(per_sample[i][f]) for i in ids])
            for f in fields}
    if ratio_of:
        ok = np.ones(len(ids), bool)
        for f in fields:
            ok &= ~np.isnan(cols[f])
        if not ok.any():
            raise ValueError(f"no sample has both {ratio_of[0]!r} and {ratio_of[1]!r}")
        r = bootstrap_ci({f: cols[f][ok] for f in fields}, ratio_statistic(*ratio_of), n_resamples=n_resamples,
                         confidence=confidence, seed=seed)
        r["n_samples"] = int(ok.sum())
    else:
        r = bootstrap_ci(cols[field], n_resamples=n_resamples, confidence=confidence, seed=seed)
        r["n_samples"] = int((~np.isnan(cols[field])).sum())
    return r


#: per-sample fields that are counts behind a ratio statistic: ``(num, den) -> name of the ratio``
RATIO_FIELDS = {("I", "U"): "oIoU"}


def compare_records_per_sample(base, new, *, metrics: Sequence[str] | None = None, n_resamples: int = 1000,
                               n_permutations: int = 10000, confidence: float = 0.95,
                               seed: int | None = 0) -> list[dict]:
    """Paired bootstrap + permutation test of every numeric per-sample field of two RunRecords.

    For each metric present in both records (matched by name, ignoring ``@version``) with
    ``per_sample`` results, each numeric field is compared as a per-sample mean (``new - base``);
    fields ``I`` and ``U`` together are also compared as the ratio of sums ``oIoU``. Fields that are
    counts behind a ratio (``I``, ``U``, ``pixels``) are not compared as means.

    Parameters
    ----------
    base, new : RunRecord or dict
        Objects with a ``metrics`` mapping (``name@version -> MetricResult dict``), or such mappings.
    metrics : list of str, optional
        Restrict to these metric names.

    Returns
    -------
    list of dict
        ``metric, field, delta, low, high, p_value, p_permutation, estimate_a (new), estimate_b (base),
        n_samples, confidence, n_resamples, seed``; ``delta`` in the field's units (fractions, not pp).
    """
    def mets(r):
        m = getattr(r, "metrics", None)
        if m is None and isinstance(r, Mapping):
            m = r.get("metrics", r)
        return {str(k).split("@")[0]: v for k, v in (m or {}).items()}

    mb, mn = mets(base), mets(new)
    rows: list[dict] = []
    for name in sorted(set(mb) & set(mn)):
        if metrics and name not in metrics:
            continue
        pb, pn = (mb[name] or {}).get("per_sample"), (mn[name] or {}).get("per_sample")
        if not pb or not pn:
            continue
        common = sorted(set(pb) & set(pn))
        if not common:
            continue
        fields = []
        for f, v in (pn[common[0]] or {}).items():
            if isinstance(v, (int, float)) and not isinstance(v, bool) or v is None:
                fields.append(f)
        skip = {"I", "U", "pixels"}
        for f in fields:
            if f in skip:
                continue
            try:
                r = compare_per_sample(pn, pb, f, n_resamples=n_resamples, n_permutations=n_permutations,
                                       confidence=confidence, seed=seed)
            except ValueError:
                continue
            rows.append({"metric": name, "field": f, **r})
        for (num, den), label in RATIO_FIELDS.items():
            if num in fields and den in fields:
                r = compare_per_sample(pn, pb, label, ratio_of=(num, den), n_resamples=n_resamples,
                                       n_permutations=n_permutations, confidence=confidence, seed=seed)
                rows.append({"metric": name, "field": label, **r})
    return rows

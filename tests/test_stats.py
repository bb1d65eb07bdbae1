"""Bootstrap CIs and paired tests (segbench.metrics.functional.stats, segbench.metrics.stats).

The references below are literal transcriptions of the textbook procedures (Efron & Tibshirani 1993
percentile bootstrap: draw N indices with replacement, recompute the statistic on the drawn samples;
Koehn 2004 paired bootstrap; Noreen 1989 approximate randomisation), written as plain loops over
drawn index lists, with the same documented random stream.
"""

import numpy as np
import pytest

from segbench.metrics.functional.stats import bootstrap_ci, paired_bootstrap, permutation_test, ratio_statistic
from segbench.metrics.semantic import MeanIoU
from segbench.metrics.stats import (bootstrap_metric, combine_states, compare_per_sample, paired_bootstrap_metric,
                                    permutation_test_metric, sample_states)
from segbench.types import LabelSpace, Sample, SemanticMask, SemanticPrediction


# ---------------------------------------------------------------- literal references
def ref_bootstrap(stat_of_indices, n, B, seed, conf=0.95):
    rng = np.random.default_rng(seed)
    reps = []
    for _ in range(B):
        idx = rng.integers(0, n, n)
        reps.append(stat_of_indices(idx))
    reps = np.array(reps, float)
    ok = reps[~np.isnan(reps)]
    lo, hi = np.quantile(ok, [(1 - conf) / 2, 1 - (1 - conf) / 2])
    return lo, hi, reps


def ref_permutation(stat_a_b, n, R, seed):
    """stat_a_b(mask) -> delta with samples where mask is True swapped."""
    rng = np.random.default_rng(seed)
    d0 = stat_a_b(np.zeros(n, bool))
    hits = 0
    for _ in range(R):
        swap = rng.random(n) < 0.5
        if abs(stat_a_b(swap)) >= abs(d0) - 1e-12 * max(1.0, abs(d0)):
            hits += 1
    return d0, (1 + hits) / (1 + R)


def miou_of_cm(cm):
    tp = np.diag(cm).astype(float)
    den = cm.sum(0) + cm.sum(1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(den > 0, tp / np.where(den > 0, den, 1), np.nan)
    return float(np.nanmean(iou)) if (~np.isnan(iou)).any() else float("nan")


def make_pairs(seed, n=12, C=4, shape=(6, 7), noise=0.3):
    rng = np.random.default_rng(seed)
    pairs = []
    for i in range(n):
        gt = rng.integers(0, C, shape).astype(np.uint8)
        gt[rng.random(shape) < 0.05] = 255
        pr = gt.copy()
        flip = rng.random(shape) < noise
        pr[flip] = rng.integers(0, C, int(flip.sum()))
        pr[pr == 255] = 0
        pairs.append((SemanticPrediction(pr), Sample(f"s{i:02d}", None, SemanticMask(gt))))
    return pairs


def cms_of(pairs, C):
    out = []
    for p, s in pairs:
        g, q = s.target.mask.ravel(), p.mask.ravel()
        ok = g != 255
        out.append(np.bincount(g[ok].astype(int) * C + q[ok], minlength=C * C).reshape(C, C))
    return np.stack(out)


# ---------------------------------------------------------------- hand-computed toys
def test_constant_difference_has_degenerate_interval():
    a = np.array([0.9, 0.8, 0.85, 0.95, 0.7])
    r = paired_bootstrap(a, a - 0.1, n_resamples=300, seed=3)
    assert r["estimate"] == pytest.approx(0.1) and r["low"] == pytest.approx(0.1) and r["high"] == pytest.approx(0.1)
    assert r["p_value"] == 0.0
    # all signs flipped the same way: |Δ*| is always 0.1 → p = 1 (sign-flip of a constant shift is not a test
    # of the shift's sign, only of exchangeability; every permutation keeps |Δ*| <= |Δ|)
    p = permutation_test(a, a - 0.1, n_permutations=200)
    assert p["estimate"] == pytest.approx(0.1) and 0 < p["p_value"] <= 1


def test_identical_runs():
    a = np.random.default_rng(0).random(30)
    r = paired_bootstrap(a, a, n_resamples=100)
    assert r["estimate"] == 0 and r["low"] == 0 and r["high"] == 0 and r["p_value"] == 1.0
    assert permutation_test(a, a, n_permutations=99)["p_value"] == 1.0


def test_single_value_and_nan_handling():
    r = bootstrap_ci(np.array([0.5, np.nan, 0.7]), n_resamples=50)
    assert r["estimate"] == pytest.approx(0.6)
    assert 0.5 <= r["low"] <= r["high"] <= 0.7
    with pytest.raises(ValueError):
        bootstrap_ci(np.array([]), n_resamples=10)
    with pytest.raises(ValueError):
        paired_bootstrap(np.ones(3), np.ones(4))


def test_combine_states_keyed_maps_and_records():
    s = [{"n": 1, "cm": np.array([[1, 0], [0, 0]]), "per": {"a": {"I": 1}}, "rec": np.zeros((1, 2)), "name": "x"},
         {"n": 1, "cm": np.array([[0, 0], [1, 1]]), "per": {"b": {"I": 2}}, "rec": np.ones((2, 2)), "name": "x"}]
    c = combine_states(s, [2, 1])
    assert c["n"] == 3 and c["cm"].tolist() == [[2, 0], [1, 1]]
    assert c["per"] == {"a": {"I": 1}, "a#2": {"I": 1}, "b": {"I": 2}}
    assert c["rec"].shape == (4, 2) and c["name"] == "x"
    c0 = combine_states(s, [0, 3])
    assert c0["n"] == 3 and set(c0["per"]) == {"b", "b#2", "b#3"}


# ---------------------------------------------------------------- parity with literal transcriptions
@pytest.mark.parametrize("seed", [0, 7])
def test_bootstrap_mean_parity(seed):
    v = np.random.default_rng(seed).random(40)
    v[3] = np.nan
    r = bootstrap_ci(v, n_resamples=150, seed=seed, return_replicates=True)  # 150 > one block of 64

    def stat(idx):
        x = v[idx]
        return np.nan if np.isnan(x).all() else float(np.nanmean(x))

    lo, hi, reps = ref_bootstrap(stat, len(v), 150, seed)
    assert np.allclose(r["replicates"], reps, atol=1e-12, rtol=0)
    assert abs(r["low"] - lo) < 1e-9 and abs(r["high"] - hi) < 1e-9
    assert r["estimate"] == pytest.approx(np.nanmean(v), abs=1e-12)


def test_bootstrap_confusion_matrix_parity_and_not_mean_of_images():
    C = 4
    pairs = make_pairs(1, n=15, C=C)
    cms = cms_of(pairs, C)
    r = bootstrap_ci(cms, miou_of_cm, n_resamples=130, seed=5)
    lo, hi, _ = ref_bootstrap(lambda idx: miou_of_cm(cms[idx].sum(0)), len(cms), 130, 5)
    assert abs(r["low"] - lo) < 1e-9 and abs(r["high"] - hi) < 1e-9
    assert r["estimate"] == pytest.approx(miou_of_cm(cms.sum(0)), abs=1e-12)
    per_image = np.mean([miou_of_cm(c) for c in cms])
    assert abs(r["estimate"] - per_image) > 1e-6  # the dataset-level mIoU, not the mean of per-image mIoUs

    # the metric-level bootstrap over MeanIoU's own per-sample states gives the same numbers
    m = MeanIoU(LabelSpace.from_num_classes(C))
    states = sample_states(m, pairs)
    rm = bootstrap_metric(m, states, ["mIoU", "aAcc"], n_resamples=130, seed=5)
    assert abs(rm["mIoU"]["low"] - lo) < 1e-9 and abs(rm["mIoU"]["high"] - hi) < 1e-9
    assert rm["mIoU"]["estimate"] == pytest.approx(m.fresh().__class__.from_state(
        combine_states(states), m.label_space).compute().values["mIoU"], abs=1e-12)
    lo2, hi2, _ = ref_bootstrap(lambda idx: np.trace(cms[idx].sum(0)) / cms[idx].sum(), len(cms), 130, 5)
    assert abs(rm["aAcc"]["low"] - lo2) < 1e-9 and abs(rm["aAcc"]["high"] - hi2) < 1e-9


def test_paired_bootstrap_parity():
    C = 3
    pa, pb = make_pairs(2, n=14, C=C, noise=0.2), make_pairs(2, n=14, C=C, noise=0.35)
    ca, cb = cms_of(pa, C), cms_of(pb, C)
    r = paired_bootstrap(ca, cb, miou_of_cm, n_resamples=140, seed=11)
    lo, hi, reps = ref_bootstrap(lambda idx: miou_of_cm(ca[idx].sum(0)) - miou_of_cm(cb[idx].sum(0)), len(ca), 140, 11)
    assert abs(r["low"] - lo) < 1e-9 and abs(r["high"] - hi) < 1e-9
    assert r["estimate"] == pytest.approx(miou_of_cm(ca.sum(0)) - miou_of_cm(cb.sum(0)), abs=1e-12)
    p_ref = min(1.0, 2 * min((reps <= 0).sum(), (reps >= 0).sum()) / len(reps))
    assert r["p_value"] == pytest.approx(p_ref, abs=1e-12)
    m = MeanIoU(LabelSpace.from_num_classes(C))
    rm = paired_bootstrap_metric(m, sample_states(m, pa), sample_states(m, pb), "mIoU", n_resamples=140, seed=11)
    assert abs(rm["mIoU"]["low"] - lo) < 1e-9 and abs(rm["mIoU"]["high"] - hi) < 1e-9
    assert rm["mIoU"]["p_value"] == pytest.approx(p_ref, abs=1e-12)


def test_permutation_parity():
    C = 3
    pa, pb = make_pairs(4, n=10, C=C, noise=0.2), make_pairs(4, n=10, C=C, noise=0.3)
    ca, cb = cms_of(pa, C), cms_of(pb, C)

    def delta(swap):
        A = np.where(swap[:, None, None], cb, ca).sum(0)
        B = np.where(swap[:, None, None], ca, cb).sum(0)
        return miou_of_cm(A) - miou_of_cm(B)

    d0, p_ref = ref_permutation(delta, len(ca), 150, 9)
    r = permutation_test(ca, cb, miou_of_cm, n_permutations=150, seed=9)
    assert r["estimate"] == pytest.approx(d0, abs=1e-12) and r["p_value"] == pytest.approx(p_ref, abs=1e-12)
    m = MeanIoU(LabelSpace.from_num_classes(C))
    rm = permutation_test_metric(m, sample_states(m, pa), sample_states(m, pb), "mIoU", n_permutations=150, seed=9)
    assert rm["mIoU"]["p_value"] == pytest.approx(p_ref, abs=1e-12)
    # a mean of per-sample values: the classic paired sign-flip test
    x = np.random.default_rng(1).random(12)
    y = x - 0.02 + 0.05 * np.random.default_rng(2).standard_normal(12)
    d1, p1 = ref_permutation(lambda s: np.mean(np.where(s, y, x)) - np.mean(np.where(s, x, y)), 12, 200, 4)
    r1 = permutation_test(x, y, n_permutations=200, seed=4)
    assert r1["estimate"] == pytest.approx(d1, abs=1e-12) and r1["p_value"] == pytest.approx(p1, abs=1e-12)


def test_ratio_statistic_and_compare_per_sample():
    rng = np.random.default_rng(3)
    I_a, I_b = rng.integers(0, 50, 20), rng.integers(0, 50, 20)
    U = I_a + rng.integers(1, 30, 20)
    Ub = np.maximum(U, I_b)
    a = {f"e{i:02d}": {"I": int(I_a[i]), "U": int(U[i]), "IoU": I_a[i] / U[i]} for i in range(20)}
    b = {f"e{i:02d}": {"I": int(I_b[i]), "U": int(Ub[i]), "IoU": I_b[i] / Ub[i]} for i in range(20)}
    b["extra"] = {"I": 1, "U": 1, "IoU": 1.0}  # not in a: ignored
    r = compare_per_sample(a, b, "oIoU", ratio_of=("I", "U"), n_resamples=120, n_permutations=120, seed=2)
    assert r["n_samples"] == 20
    assert r["delta"] == pytest.approx(I_a.sum() / U.sum() - I_b.sum() / Ub.sum(), abs=1e-12)
    lo, hi, _ = ref_bootstrap(lambda idx: I_a[idx].sum() / U[idx].sum() - I_b[idx].sum() / Ub[idx].sum(), 20, 120, 2)
    assert abs(r["low"] - lo) < 1e-9 and abs(r["high"] - hi) < 1e-9
    r2 = compare_per_sample(a, b, "IoU", n_resamples=50, n_permutations=50)
    assert r2["delta"] == pytest.approx(np.mean(I_a / U) - np.mean(I_b / Ub), abs=1e-12)
    with pytest.raises(ValueError):
        compare_per_sample({"x": {"IoU": 1}}, {"y": {"IoU": 1}}, "IoU")
    assert ratio_statistic("I", "U")({"I": np.array([1, 2]), "U": np.array([2, 2])}) == 0.75


def test_seeded_reproducible():
    v = np.random.default_rng(0).random(25)
    assert bootstrap_ci(v, seed=1, n_resamples=80) == bootstrap_ci(v, seed=1, n_resamples=80)
    assert bootstrap_ci(v, seed=1, n_resamples=80)["low"] != bootstrap_ci(v, seed=2, n_resamples=80)["low"]


def test_bootstrap_protocol_metrics_parity():
    """Resampling episodes (fewshot: summed per-class counts) and objects (interactive: keyed records)."""
    from segbench.metrics.fewshot import FewShotIoU
    from segbench.metrics.interactive import InteractiveNoC
    from segbench.types import InteractivePrediction

    rng = np.random.default_rng(8)
    C = 3
    ls = LabelSpace.from_names(["x", "y", "z"])
    pairs, per_ep = [], []
    for i in range(16):
        c = int(rng.integers(0, C))
        g = (rng.random((6, 6)) < 0.4).astype(np.uint8)
        p = g.copy()
        p[rng.random((6, 6)) < 0.3] ^= 1
        pairs.append((SemanticPrediction(p), Sample(f"e{i:02d}", None, SemanticMask(g), {"class_id": c})))
        arr_i, arr_u = np.zeros((2, C)), np.zeros((2, C))
        for k in (0, 1):
            arr_i[k, c] = np.sum((p == k) & (g == k))
            arr_u[k, c] = np.sum((p == k) | (g == k))
        per_ep.append((arr_i, arr_u))
    m = FewShotIoU(ls)
    ci = bootstrap_metric(m, sample_states(m, pairs), ["mIoU", "FB_IoU"], n_resamples=70, seed=3)

    def miou(idx):
        I = sum(per_ep[j][0] for j in idx)
        U = sum(per_ep[j][1] for j in idx)
        return float(np.mean(I[1] / np.maximum(U[1], 1)))

    lo, hi, _ = ref_bootstrap(miou, 16, 70, 3)
    assert abs(ci["mIoU"]["low"] - lo) < 1e-9 and abs(ci["mIoU"]["high"] - hi) < 1e-9

    obj_pairs, nocs = [], []
    for i in range(12):
        gt = np.zeros((5, 5), np.uint8)
        gt[1:4, 1:4] = 1
        ious_target = rng.random(5)
        masks = []
        for t in ious_target:
            mk = gt.astype(bool).copy()
            if t < 0.8:
                mk[0, :] = True  # IoU 9/14 < 0.85
            masks.append(mk)
        obj_pairs.append((InteractivePrediction(np.stack(masks)), Sample(f"o{i:02d}", None, SemanticMask(gt))))
        hit = [k for k, t in enumerate(ious_target) if t >= 0.8]
        nocs.append(hit[0] + 1 if hit else 20)
    mi = InteractiveNoC()
    ci2 = bootstrap_metric(mi, sample_states(mi, obj_pairs), "NoC@85", n_resamples=50, seed=1)
    nocs = np.array(nocs)
    lo, hi, _ = ref_bootstrap(lambda idx: nocs[idx].mean(), 12, 50, 1)
    assert abs(ci2["NoC@85"]["low"] - lo) < 1e-9 and abs(ci2["NoC@85"]["high"] - hi) < 1e-9
    assert ci2["NoC@85"]["estimate"] == pytest.approx(nocs.mean())


def test_ci_per_sample_matches_reference():
    from segbench.metrics.stats import ci_per_sample

    rng = np.random.default_rng(6)
    I = rng.integers(0, 40, 18)
    U = I + rng.integers(0, 20, 18)
    U[0] = 0
    ps = {f"x{i:02d}": {"I": int(I[i]), "U": int(U[i]), "IoU": (I[i] / U[i]) if U[i] else None} for i in range(18)}
    r = ci_per_sample(ps, "oIoU", ratio_of=("I", "U"), n_resamples=90, seed=4)
    lo, hi, _ = ref_bootstrap(lambda idx: I[idx].sum() / U[idx].sum(), 18, 90, 4)
    assert abs(r["low"] - lo) < 1e-9 and abs(r["high"] - hi) < 1e-9 and r["n_samples"] == 18
    r2 = ci_per_sample(ps, "IoU", n_resamples=90, seed=4)
    v = np.array([np.nan] + [I[i] / U[i] for i in range(1, 18)])
    lo2, hi2, _ = ref_bootstrap(lambda idx: np.nan if np.isnan(v[idx]).all() else np.nanmean(v[idx]), 18, 90, 4)
    assert abs(r2["low"] - lo2) < 1e-9 and abs(r2["high"] - hi2) < 1e-9 and r2["n_samples"] == 17


def test_dict_valued_statistic():
    C = 3
    ca, cb = cms_of(make_pairs(9, n=10, C=C), C), cms_of(make_pairs(10, n=10, C=C, noise=0.5), C)

    def stat(c):
        return {"mIoU": miou_of_cm(c), "aAcc": float(np.trace(c) / c.sum())}

    r = bootstrap_ci(ca, stat, n_resamples=70, seed=2, return_replicates=True)
    assert set(r) == {"mIoU", "aAcc"}
    lo, hi, reps = ref_bootstrap(lambda idx: np.trace(ca[idx].sum(0)) / ca[idx].sum(), 10, 70, 2)
    assert abs(r["aAcc"]["low"] - lo) < 1e-9 and np.allclose(r["aAcc"]["replicates"], reps, atol=1e-12)
    p = paired_bootstrap(ca, cb, stat, n_resamples=40, seed=1)
    assert p["aAcc"]["estimate"] == pytest.approx(np.trace(ca.sum(0)) / ca.sum() - np.trace(cb.sum(0)) / cb.sum())
    t = permutation_test(ca, cb, stat, n_permutations=40, seed=1)
    assert set(t) == {"mIoU", "aAcc"} and 0 < t["mIoU"]["p_value"] <= 1


def test_compare_records_per_sample():
    from segbench.metrics.referring import ReferringIoU
    from segbench.metrics.stats import compare_records_per_sample
    from segbench.results import RunRecord
    from segbench.types import ReferringTarget

    rng = np.random.default_rng(0)
    ma, mb = ReferringIoU(), ReferringIoU()
    for i in range(15):
        g = rng.random((8, 8)) < 0.4
        pa = g ^ (rng.random((8, 8)) < 0.1)
        pb = g ^ (rng.random((8, 8)) < 0.3)
        s = Sample(f"e{i:02d}", None, ReferringTarget("t", g))
        ma.update(SemanticPrediction(pa.astype(np.uint8)), s)
        mb.update(SemanticPrediction(pb.astype(np.uint8)), s)

    def rec(m):
        return RunRecord(dataset="toy@1", split="val", task="referring", model={"name": "m"}, predictions={},
                         metrics={m.key: m.compute().to_dict()})

    rows = compare_records_per_sample(rec(mb), rec(ma), n_resamples=100, n_permutations=100)
    by = {r["field"]: r for r in rows}
    assert set(by) == {"IoU", "oIoU"} and all(r["metric"] == "referring" for r in rows)
    va, vb = ma.compute().values, mb.compute().values
    assert by["oIoU"]["delta"] == pytest.approx(va["oIoU"] - vb["oIoU"], abs=1e-12)
    assert by["IoU"]["delta"] == pytest.approx(va["mIoU"] - vb["mIoU"], abs=1e-12)
    assert by["oIoU"]["delta"] > 0 and by["oIoU"]["p_permutation"] < 0.05

"""``isbi_rand``: foreground-restricted Rand / information scores, against scikit-image and the Fiji formula."""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage.metrics import adapted_rand_error, variation_of_information

from segbench.datasets.isbi_membrane import ISBIMembrane
from segbench.engine import evaluate_run
from segbench.metrics import get_metric
from segbench.metrics.functional.rand import (add_stats, label_components, rand_info_scores, rand_info_stats)
from segbench.types import LabelSpace, Sample, SemanticMask, SemanticPrediction, SoftPrediction

LS = LabelSpace.from_names(["membrane", "cell"])


def _fiji_n2(gt_lab, pr_lab):
    """The Fiji ``foregroundRestrictedStatsN2`` formula, written out with a dense contingency table."""
    g, p = gt_lab.ravel(), pr_lab.ravel()
    n = float((g != 0).sum())
    pij = np.zeros((g.max() + 1, p.max() + 1))
    np.add.at(pij, (g, p), 1.0)
    pij /= n
    ai = pij[1:, :].sum(axis=1)
    bj = pij[1:, 1:].sum(axis=0)
    aux = pij[1:, 0].sum()
    sum_a2 = (ai * ai).sum()
    sum_b2 = (bj * bj).sum() + aux / n
    sum_ab2 = (pij[1:, 1:] ** 2).sum() + aux / n
    prec, rec = sum_ab2 / sum_b2, sum_ab2 / sum_a2
    return prec, rec, 2 * prec * rec / (prec + rec)


def _maps(rng, h=48, w=64, p_gt=0.25, p_pred=0.3):
    gt = label_components(rng.random((h, w)) > p_gt)
    pr = label_components(rng.random((h, w)) > p_pred)
    return gt, pr


def _singletons(lab):
    out = lab.astype(np.int64).copy()
    z = out == 0
    out[z] = out.max() + 1 + np.arange(int(z.sum()))
    return out


@pytest.mark.parametrize("seed", range(6))
def test_pairs_mode_equals_scikit_image(seed):
    rng = np.random.default_rng(seed)
    gt, pr = _maps(rng)
    for background, pr_ref in (("singletons", _singletons(pr)), ("segment", pr)):
        v = rand_info_scores(rand_info_stats(gt, pr, background), "pairs")
        err, prec, rec = adapted_rand_error(gt, pr_ref, ignore_labels=(0,))
        # scikit-image's `precision` divides by the true segment sizes: our split score
        assert abs(v["V_rand_split"] - prec) <= 1e-12 and abs(v["V_rand_merge"] - rec) <= 1e-12
        assert abs(v["rand_error"] - err) <= 1e-12
        vi = variation_of_information(gt, pr_ref, ignore_labels=(0,))
        assert abs(v["H_pred_given_gt"] - vi[0]) <= 1e-9 and abs(v["H_gt_given_pred"] - vi[1]) <= 1e-9


@pytest.mark.parametrize("seed", range(6))
def test_n2_mode_equals_the_fiji_formula(seed):
    rng = np.random.default_rng(100 + seed)
    gt, pr = _maps(rng, p_gt=0.2 + 0.05 * seed)
    prec, rec, f = _fiji_n2(gt, pr)
    v = rand_info_scores(rand_info_stats(gt, pr))
    assert abs(v["V_rand_merge"] - prec) <= 1e-12 and abs(v["V_rand_split"] - rec) <= 1e-12
    assert abs(v["V_rand"] - f) <= 1e-12


def test_hand_cases():
    gt = np.array([[1, 1, 0, 2, 2]])
    same = rand_info_scores(rand_info_stats(gt, gt.copy()))
    assert same["V_rand"] == 1.0 and same["V_info"] == pytest.approx(1.0, abs=1e-15)
    merged = rand_info_scores(rand_info_stats(gt, np.array([[1, 1, 0, 1, 1]])))
    # sum n_ij^2 = 8, sum a^2 = 8, sum b^2 = 16
    assert (merged["V_rand_split"], merged["V_rand_merge"]) == (1.0, 0.5)
    assert merged["V_rand"] == pytest.approx(2 / 3, abs=1e-15)
    # I = log 2 (GT entropy), H(S) = 0 -> split undefined-free: I / H(S) = nan, merge = 0
    assert merged["V_info_merge"] == pytest.approx(0.0, abs=1e-15)
    split = rand_info_scores(rand_info_stats(gt, np.array([[1, 2, 0, 3, 3]])))
    assert split["V_rand_merge"] == 1.0 and split["V_rand_split"] == pytest.approx(6 / 8)
    # predicted boundary inside a GT cell: singletons
    holes = rand_info_scores(rand_info_stats(np.array([[1, 1, 1, 1]]), np.array([[1, 0, 0, 1]])))
    assert holes["V_rand_merge"] == 1.0 and holes["V_rand_split"] == pytest.approx((2 * 1 + 2 + 2) / 16)
    empty = rand_info_scores(rand_info_stats(np.zeros((3, 3), int), np.ones((3, 3), int)))
    assert math.isnan(empty["V_rand"])
    # an image without foreground has the same keys as any other, all NaN (one table row shape)
    assert empty.keys() == holes.keys() and all(math.isnan(v) for v in empty.values())


def test_metric_pools_slices_and_merges_bit_for_bit():
    rng = np.random.default_rng(7)
    samples = []
    for k in range(6):
        gt = (rng.random((40, 40)) > 0.25).astype(np.uint8)
        pr = (rng.random((40, 40)) > 0.3).astype(np.uint8)
        samples.append((SemanticPrediction(pr), Sample(f"s{k}", None, SemanticMask(gt))))
    one = get_metric("isbi_rand", LS)
    for p, s in samples:
        one.update(p, s)
    a, b = get_metric("isbi_rand", LS), get_metric("isbi_rand", LS)
    for p, s in samples[::2]:
        a.update(p, s)
    for p, s in samples[1::2]:
        b.update(p, s)
    r1, r2 = one.compute(), (b + a).compute() if hasattr(b, "__add__") else b.merge(a).compute()
    assert r1.values == r2.values
    # pooled = one image made of the slices side by side (components never touch across a 1-px gap)
    gts = [np.pad(np.asarray(s.target.mask), ((0, 0), (0, 1))) for _, s in samples]
    prs = [np.pad(np.asarray(p.mask), ((0, 0), (0, 1))) for p, _ in samples]
    big = rand_info_scores(rand_info_stats(label_components(np.hstack(gts) == 1), label_components(np.hstack(prs) == 1)))
    for k in ("V_rand", "V_rand_split", "V_rand_merge"):
        assert abs(big[k] - r1.values[k]) <= 1e-12
    for k in ("V_info", "V_info_split", "V_info_merge"):
        assert abs(big[k] - r1.values[k]) <= 1e-9
    st = add_stats([rand_info_stats(label_components(np.asarray(s.target.mask) == 1),
                                    label_components(np.asarray(p.mask) == 1)) for p, s in samples])
    assert st["n"] == r1.artifacts["pixels_scored"]


def test_soft_predictions_threshold_and_bad_input():
    gt = np.ones((4, 6), np.uint8)
    gt[:, 3] = 0
    m = get_metric("isbi_rand", LS, threshold=0.6)
    prob = np.full((4, 6), 0.7)
    prob[:, 3] = 0.55
    m.update(SoftPrediction(prob), Sample("a", None, SemanticMask(gt)))
    assert m.compute().values["V_rand"] == 1.0          # 0.55 < 0.6: the membrane column is kept
    low = get_metric("isbi_rand", LS, threshold=0.5)
    low.update(SoftPrediction(prob), Sample("a", None, SemanticMask(gt)))
    assert low.compute().values["V_rand_merge"] == (144 + 64) / 400  # 0.55 >= 0.5: the cells (12 + 8 px) merge
    from segbench.errors import BadInputError, UsageError
    with pytest.raises(BadInputError, match="shape"):
        m.update(SemanticPrediction(np.ones((3, 3), np.uint8)), Sample("b", None, SemanticMask(gt)))
    with pytest.raises(UsageError, match="normalization"):
        get_metric("isbi_rand", LS, normalization="x")


def test_real_isbi_slices_with_unet_predictions(data_dir):
    ds = ISBIMembrane(data_dir / "isbi" / "gt")
    src = ds.predictions(data_dir / "isbi" / "preds_unet", resize="nearest")
    rec, _ = evaluate_run(ds, src, ds.build_metrics(["isbi_rand"]), ids=["0", "1"])
    v = rec.metrics["isbi_rand@1"]["values"]
    # these U-Net maps are weak (mIoU 0.39): many membrane gaps merge cells
    assert 0.05 < v["V_rand"] < 1.0 and 0.05 < v["V_info"] < 1.0 and v["V_rand_merge"] < v["V_rand_split"]
    # the same numbers from scikit-image on the pooled slices (pairs mode, singletons relabelled)
    gts, prs = [], []
    for sid in ("0", "1"):
        s = ds.load(sid)
        gts.append(np.pad(np.asarray(s.target.mask), ((0, 0), (0, 1))))
        prs.append(np.pad(np.asarray(src.load(s).mask), ((0, 0), (0, 1))))
    g, p = label_components(np.hstack(gts) == 1), label_components(np.hstack(prs) == 1)
    rec2, _ = evaluate_run(ds, src, ds.build_metrics(["isbi_rand"], {"isbi_rand": {"normalization": "pairs"}}),
                           ids=["0", "1"])
    err, prec, recall = adapted_rand_error(g, _singletons(p), ignore_labels=(0,))
    v2 = rec2.metrics["isbi_rand@1"]["values"]
    assert abs(v2["rand_error"] - err) <= 1e-12 and abs(v2["V_rand_split"] - prec) <= 1e-12

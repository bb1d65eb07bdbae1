"""Kaggle run-length coding and the competition metrics (TGS Salt mean AP, Clouds Dice, IDRiD AUPR),
checked against literal transcriptions of the Kaggle / challenge definitions."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from segbench.errors import BadInputError
from segbench.io.rle import rle_area, rle_decode, rle_encode
from segbench.metrics import get_metric
from segbench.types import (LabelSpace, MultiLabelMasks, MultiLabelPrediction, Sample, SemanticMask,
                            SemanticPrediction, SoftPrediction)


# ------------------------------------------------------------------ RLE
def _ref_decode(rle, shape):
    """Transcription of the Kaggle kernels' rle_decode (column-major, 1-indexed)."""
    s = rle.split()
    starts, lengths = [np.asarray(x, dtype=int) for x in (s[0:][::2], s[1:][::2])]
    starts -= 1
    ends = starts + lengths
    img = np.zeros(shape[0] * shape[1], dtype=np.uint8)
    for lo, hi in zip(starts, ends):
        img[lo:hi] = 1
    return img.reshape(shape, order="F")


def _ref_encode(img):
    pixels = img.flatten(order="F")
    pixels = np.concatenate([[0], pixels, [0]])
    runs = np.where(pixels[1:] != pixels[:-1])[0] + 1
    runs[1::2] -= runs[::2]
    return " ".join(str(x) for x in runs)


def test_rle_documented_example():
    # Kaggle: '1 3' = pixels 1,2,3; numbering goes down the first column first
    m = rle_decode("1 3 10 2", (3, 4))
    assert m[:, 0].all() and not m[:, 1].any()
    assert m[0, 3] and m[1, 3] and not m[2, 3]
    assert rle_encode(m) == "1 3 10 2"
    assert rle_area("1 3 10 2") == 5


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 12), st.integers(1, 12), st.integers(0, 2**31 - 1))
def test_rle_roundtrip_and_reference(h, w, seed):
    rng = np.random.default_rng(seed)
    m = rng.random((h, w)) < rng.random()
    s = rle_encode(m)
    assert s == _ref_encode(m.astype(np.uint8))
    assert (rle_decode(s, (h, w)) == m).all()
    if s:
        assert (rle_decode(s, (h, w)) == _ref_decode(s, (h, w)).astype(bool)).all()


@pytest.mark.parametrize("value", ["", "  ", None, float("nan")])
def test_rle_empty(value):
    assert not rle_decode(value, (5, 7)).any()
    assert rle_decode(value, (5, 7)).shape == (5, 7)


@pytest.mark.parametrize("bad,msg", [("1 2 3", "even number"), ("0 2", ">= 1"), ("1 0", "lengths"),
                                     ("5 20", "inside"), ("4 2 1 1", "sorted"), ("1 x", "integers")])
def test_rle_errors(bad, msg):
    with pytest.raises(BadInputError, match=msg):
        rle_decode(bad, (4, 4))


def test_rle_non_strict_overlap():
    assert rle_decode("1 3 2 3", (4, 4), strict=False).sum() == 4


# ------------------------------------------------------------------ TGS Salt
def _kaggle_tgs_ap(y_true, y_pred):
    """Literal transcription of the TGS Salt evaluation: per threshold t in 0.5:0.05:0.95,
    precision = TP / (TP + FP + FN) over objects matched at IoU > t; one object per non-empty mask;
    an image with no GT object and no predicted object scores 1."""
    true_objects = [y_true] if y_true.any() else []
    pred_objects = [y_pred] if y_pred.any() else []
    if not true_objects and not pred_objects:
        return 1.0
    precisions = []
    for t in np.arange(0.5, 1.0, 0.05):
        tp = fp = fn = 0
        matched = set()
        for g in true_objects:
            hit = False
            for j, p in enumerate(pred_objects):
                inter = np.logical_and(g, p).sum()
                union = np.logical_or(g, p).sum()
                if inter / union > t:
                    hit = True
                    matched.add(j)
            tp += hit
            fn += not hit
        fp = len(pred_objects) - len(matched)
        precisions.append(tp / (tp + fp + fn))
    return float(np.mean(precisions))


def _sample(sid, mask):
    return Sample(sid, None, SemanticMask(mask.astype(np.uint8)))


def test_tgs_map_matches_definition_random():
    rng = np.random.default_rng(3)
    ls = LabelSpace.from_names(["background", "salt"])
    m = get_metric("tgs_map", ls)
    ref = []
    for i in range(60):
        kind = i % 4
        g = rng.random((12, 12)) < (0 if kind == 0 else 0.4)
        if kind == 1:
            p = np.zeros_like(g)
        elif kind == 2:
            p = g.copy()
            flip = rng.random(g.shape) < rng.random() * 0.3
            p ^= flip
        else:
            p = rng.random((12, 12)) < (0 if rng.random() < 0.3 else 0.4)
        m.update(SemanticPrediction(p.astype(np.uint8)), _sample(f"s{i}", g))
        ref.append(_kaggle_tgs_ap(g, p))
    r = m.compute()
    assert abs(r.values["mAP"] - np.mean(ref)) < 1e-12
    assert abs(r.per_sample["s7"]["AP"] - ref[7]) < 1e-12


def test_tgs_map_edge_cases():
    ls = LabelSpace.from_names(["background", "salt"])
    z = np.zeros((5, 5), np.uint8)
    o = z.copy(); o[1:3, 1:3] = 1
    m = get_metric("tgs_map", ls)
    m.update(SemanticPrediction(z), _sample("empty-empty", z))
    m.update(SemanticPrediction(o), _sample("fp", z))
    m.update(SemanticPrediction(z), _sample("fn", o))
    ps = m.compute().per_sample
    assert ps["empty-empty"]["AP"] == 1.0 and ps["fp"]["AP"] == 0.0 and ps["fn"]["AP"] == 0.0
    # IoU exactly 0.75: passes 0.50..0.70 (strictly greater), 5 of 10
    g = np.zeros((4, 4), np.uint8); g[:, :3] = 1  # 12 px
    p = np.zeros((4, 4), np.uint8); p[:3, :3] = 1  # 9 px, IoU 9/12
    m2 = get_metric("tgs_map", ls)
    m2.update(SemanticPrediction(p), _sample("x", g))
    assert m2.compute().values["mAP"] == pytest.approx(_kaggle_tgs_ap(g.astype(bool), p.astype(bool))) == 0.5


def test_tgs_soft_and_merge_equals_one_pass():
    ls = LabelSpace.from_names(["background", "salt"])
    rng = np.random.default_rng(0)
    data = [(f"{i:03d}", rng.random((8, 8)) < 0.5, rng.random((8, 8))) for i in range(20)]
    full = get_metric("tgs_map", ls)
    a, b = get_metric("tgs_map", ls), get_metric("tgs_map", ls)
    for k, (sid, g, prob) in enumerate(data):
        full.update(SoftPrediction(prob), _sample(sid, g))
        (a if k % 2 else b).update(SoftPrediction(prob), _sample(sid, g))
    merged = type(a).from_state(a.state_dict(), ls).merge(b)
    assert merged.compute().values == full.compute().values
    with pytest.raises(BadInputError, match="shape"):
        full.update(SoftPrediction(np.zeros((3, 3))), _sample("new", np.zeros((8, 8), bool)))


# ------------------------------------------------------------------ Clouds
def _kaggle_dice_mean(gts, preds):
    """Transcription of the Clouds evaluation: Dice per (image, label) pair, 1 when both empty, mean."""
    scores = []
    for g_img, p_img in zip(gts, preds):
        for g, p in zip(g_img, p_img):
            if g.sum() == 0 and p.sum() == 0:
                scores.append(1.0)
            else:
                scores.append(2.0 * np.logical_and(g, p).sum() / (g.sum() + p.sum()))
    return float(np.mean(scores))


def test_clouds_dice_matches_definition():
    ls = LabelSpace.from_names(["Fish", "Flower", "Gravel", "Sugar"])
    rng = np.random.default_rng(1)
    m = get_metric("clouds_dice", ls)
    gts, preds = [], []
    for i in range(25):
        g = rng.random((4, 7, 9)) < rng.random((4, 1, 1)) * 0.6
        g[rng.random(4) < 0.3] = False
        p = rng.random((4, 7, 9)) < rng.random((4, 1, 1)) * 0.6
        p[rng.random(4) < 0.3] = False
        gts.append(g); preds.append(p)
        m.update(MultiLabelPrediction(p), Sample(f"img{i}.jpg", None, MultiLabelMasks(g)))
    r = m.compute()
    assert abs(r.values["Dice"] - _kaggle_dice_mean(gts, preds)) < 1e-12
    assert set(r.per_class) == {"Fish", "Flower", "Gravel", "Sugar"}
    fish = [(g[0], p[0]) for g, p in zip(gts, preds)]
    assert abs(r.per_class["Fish"]["Dice"] - _kaggle_dice_mean([[a] for a, _ in fish], [[b] for _, b in fish])) < 1e-12


def test_clouds_dice_both_empty_is_one_and_errors():
    ls = LabelSpace.from_names(["Fish", "Flower", "Gravel", "Sugar"])
    m = get_metric("clouds_dice", ls)
    z = np.zeros((4, 3, 3), bool)
    m.update(MultiLabelPrediction(z), Sample("a", None, MultiLabelMasks(z)))
    assert m.compute().values["Dice"] == 1.0
    with pytest.raises(BadInputError, match="class channels"):
        m.update(MultiLabelPrediction(np.zeros((3, 3, 3), bool)), Sample("b", None, MultiLabelMasks(z)))
    with pytest.raises(BadInputError, match="MultiLabelPrediction"):
        m.update(SemanticPrediction(np.zeros((3, 3), np.uint8)), Sample("c", None, MultiLabelMasks(z)))


# ------------------------------------------------------------------ IDRiD AUPR
def _ref_pr(scores, labels):
    """Brute-force PR curve over distinct thresholds (sklearn.metrics.precision_recall_curve + auc)."""
    order = np.unique(scores)[::-1]
    P = labels.sum()
    rec, prec = [0.0], [1.0]
    for t in order:
        pred = scores >= t
        tp = (pred & labels).sum()
        rec.append(tp / P)
        prec.append(tp / pred.sum())
    rec, prec = np.array(rec), np.array(prec)
    auc = np.trapezoid(prec, rec)
    ap = float(np.sum(np.diff(rec) * prec[1:]))
    return auc, ap


def test_idrid_aupr_matches_bruteforce():
    ls = LabelSpace.from_names(["MA", "HE", "EX", "SE", "OD"])
    rng = np.random.default_rng(5)
    m = get_metric("idrid_aupr", ls)
    all_s, all_g = [[] for _ in range(5)], [[] for _ in range(5)]
    for i in range(4):
        g = rng.random((5, 6, 7)) < 0.3
        s = (rng.integers(0, 256, (5, 6, 7)) // 8 * 8).astype(np.uint8)  # 8-bit maps, ties
        s = np.where(g, np.minimum(s.astype(int) + 60, 255), s).astype(np.uint8)
        m.update(MultiLabelPrediction(s), Sample(f"IDRiD_{i:02d}", None, MultiLabelMasks(g)))
        for c in range(5):
            all_s[c].append(s[c].ravel() / 255.0); all_g[c].append(g[c].ravel())
    r = m.compute()
    for c, name in enumerate(["MA", "HE", "EX", "SE", "OD"]):
        auc, ap = _ref_pr(np.concatenate(all_s[c]), np.concatenate(all_g[c]))
        assert abs(r.per_class[name]["AUPR"] - auc) < 1e-12
        assert abs(r.per_class[name]["AP"] - ap) < 1e-12


def test_rle_many_runs_path_matches_reference():
    m = np.random.default_rng(7).random((500, 500)) < 0.5  # ~62500 runs: the difference-array path
    s = rle_encode(m)
    assert len(s.split()) // 2 > 50_000
    assert (rle_decode(s, m.shape) == m).all() and (rle_decode(s, m.shape) == _ref_decode(s, m.shape)).all()

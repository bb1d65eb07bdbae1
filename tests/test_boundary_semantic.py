"""Boundary IoU (Cheng et al. 2021) and the DAVIS boundary F as semantic metrics (`boundary_iou`, `bf`)."""

from __future__ import annotations

import numpy as np
import pytest

from segbench.errors import BadInputError
from segbench.metrics import get_metric
from segbench.metrics.functional import boundary as FB
from segbench.types import LabelSpace, Sample, SemanticMask, SemanticPrediction

cv2 = pytest.importorskip("cv2")


def _ref_mask_to_boundary(mask, dilation_ratio=0.02):
    """The Boundary IoU API's mask_to_boundary (cv2 erosion after a zero border)."""
    h, w = mask.shape
    dilation = int(round(dilation_ratio * np.sqrt(h ** 2 + w ** 2)))
    dilation = max(dilation, 1)
    new = cv2.copyMakeBorder(mask.astype(np.uint8), 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    ero = cv2.erode(new, np.ones((3, 3), np.uint8), iterations=dilation)[1:h + 1, 1:w + 1]
    return mask.astype(np.uint8) - ero


def _ref_boundary_iou(gt, dt, dilation_ratio=0.02):
    g = _ref_mask_to_boundary(gt, dilation_ratio)
    d = _ref_mask_to_boundary(dt, dilation_ratio)
    return int(((g * d) > 0).sum()), int(((g + d) > 0).sum())


def test_boundary_iou_counts_match_reference_on_random_masks():
    rng = np.random.default_rng(3)
    for _ in range(40):
        h, w = rng.integers(20, 140, 2)
        from scipy import ndimage as ndi
        g = ndi.gaussian_filter(rng.random((h, w)), 3) > 0.5
        d = ndi.gaussian_filter(rng.random((h, w)), 3) > 0.5
        ratio = float(rng.choice([0.005, 0.02, 0.05]))
        assert FB.boundary_iou_counts(d, g, ratio) == _ref_boundary_iou(g, d, ratio)


def test_boundary_iou_touching_border_and_empty():
    g = np.zeros((50, 50), bool)
    g[:, :25] = True  # touches the image border: the border is a boundary too
    inter, union = FB.boundary_iou_counts(g, g)
    assert inter == union == _ref_boundary_iou(g, g)[1]
    assert FB.boundary_iou_counts(np.zeros_like(g), np.zeros_like(g)) == (0, 0)


def _pairs():
    rng = np.random.default_rng(0)
    out = []
    for i in range(3):
        gt = np.zeros((60, 80), np.uint8)
        gt[10:40, 10:50] = 1
        gt[45:58, 5:70] = 2
        gt[0:5, :] = 255
        pred = gt.copy()
        pred[pred == 255] = 0
        pred[12 + i:42, 10:52] = 1
        pred[rng.integers(0, 60, 20), rng.integers(0, 80, 20)] = 2
        out.append((SemanticPrediction(pred), Sample(f"s{i}", None, SemanticMask(gt))))
    return out


def test_boundary_iou_metric_sums_per_class_counts():
    ls = LabelSpace.from_names(["bg", "a", "b", "never"])
    m = get_metric("boundary_iou", ls)
    inter = np.zeros(4)
    union = np.zeros(4)
    for p, s in _pairs():
        m.update(p, s)
        valid = s.target.mask != 255
        for c in range(3):
            g = s.target.mask == c
            d = (p.mask == c) & valid
            gb = _ref_mask_to_boundary(g).astype(bool) & valid
            db = _ref_mask_to_boundary(d).astype(bool) & valid
            inter[c] += (gb & db).sum()
            union[c] += (gb | db).sum()
    r = m.compute()
    for c, n in enumerate(["bg", "a", "b"]):
        assert r.per_class[n]["boundary_IoU"] == pytest.approx(inter[c] / union[c])
    assert np.isnan(r.per_class["never"]["boundary_IoU"])
    assert r.values["boundary_IoU"] == pytest.approx(np.mean(inter[:3] / union[:3]))


def test_bf_metric_uses_davis_counts_per_class():
    from segbench.metrics.functional.davis_boundary import boundary_counts, f_from_counts
    ls = LabelSpace.from_names(["bg", "a", "b", "never"])
    m = get_metric("bf", ls)
    tot = np.zeros((3, 4), np.int64)
    for p, s in _pairs():
        m.update(p, s)
        void = s.target.mask == 255
        for c in range(3):
            bc = boundary_counts(p.mask == c, s.target.mask == c, 0.008, void=void)
            tot[c] += bc
    r = m.compute()
    fs = [f_from_counts(*tot[c])[2] for c in range(3)]
    for c, n in enumerate(["bg", "a", "b"]):
        assert r.per_class[n]["BF"] == pytest.approx(fs[c])
    assert np.isnan(r.per_class["never"]["BF"])
    assert r.values["BF"] == pytest.approx(np.mean(fs))


def test_perfect_prediction_scores_one_and_merge_is_exact():
    ls = LabelSpace.from_names(["bg", "a", "b"])
    pairs = _pairs()
    for name, key in (("boundary_iou", "boundary_IoU"), ("bf", "BF")):
        m = get_metric(name, ls)
        for _, s in pairs:
            gt = s.target.mask.copy()
            m.update(SemanticPrediction(np.where(gt == 255, 0, gt)), s)
        assert m.compute().values[key] == pytest.approx(1.0)
        one = get_metric(name, ls)
        a, b = get_metric(name, ls), get_metric(name, ls)
        for k, (p, s) in enumerate(pairs):
            one.update(p, s)
            (a if k < 1 else b).update(p, s)
        a.merge(b)
        assert a.compute().values == one.compute().values


def test_semantic_boundary_metrics_bad_input():
    ls = LabelSpace.from_names(["bg", "a"])
    (p, s), *_ = _pairs()
    for name in ("boundary_iou", "bf"):
        m = get_metric(name, ls)
        with pytest.raises(BadInputError, match="shape"):
            m.update(SemanticPrediction(np.zeros((61, 80), np.uint8)), s)
        with pytest.raises(BadInputError, match="train ids"):
            m.update(p, s)  # class 2 is outside a 2-class space


def test_cli_semantic_dataset_with_boundary_metrics(tmp_path):
    import json
    from segbench.cli import main
    from segbench.datasets.isbi_membrane import ISBIMembrane
    from segbench.models import get_model
    from segbench.models.predict import run_predict
    root = ISBIMembrane.make_fake(tmp_path / "isbi", num_samples=2, size=64)
    out = tmp_path / "otsu"
    run_predict(get_model("skimage-otsu"), ISBIMembrane(root), out)
    rec = tmp_path / "r.json"
    assert main(["eval", str(out), "--dataset", "isbi-membrane", "--gt", str(root), "--split", "train",
                 "--metrics", "miou,boundary_iou,bf", "--json", str(rec)]) == 0
    r = json.loads(rec.read_text())["metrics"]
    assert set(r) == {"miou@1", "boundary_iou@1", "bf@1"}
    assert 0 <= r["boundary_iou@1"]["values"]["boundary_IoU"] <= 1 and 0 <= r["bf@1"]["values"]["BF"] <= 1
    assert set(r["bf@1"]["per_class"]) == {"membrane", "cell"}

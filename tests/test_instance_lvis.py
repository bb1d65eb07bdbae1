"""LVIS federated evaluation (stretch goal of issue 2): parity with lvis-api's LVISEval when it is
installed (``pip install --no-deps lvis==0.5.3``: its evaluator only needs numpy and pycocotools), and
the federated rules checked by hand otherwise."""

from __future__ import annotations

import copy
import json
import logging
import math

import numpy as np
import pytest

from segbench.cli import main
from segbench.datasets.coco import CocoStyle, synthetic_coco
from segbench.engine import evaluate_samples
from segbench.metrics.functional.coco import evaluate_lvis


def lvis_like(seed: int, n: int = 12):
    gt, dets = synthetic_coco(n, dets_per_image=40, seed=seed, num_categories=6, size=(120, 160), crowd_frac=0.0)
    rng = np.random.default_rng(seed)
    cats = [c["id"] for c in gt["categories"]]
    for c in gt["categories"]:
        c["frequency"] = "rcf"[int(rng.integers(0, 3))]
    pos: dict = {}
    for a in gt["annotations"]:
        a.pop("iscrowd", None)
        pos.setdefault(a["image_id"], set()).add(a["category_id"])
    for im in gt["images"]:
        p = sorted(pos.get(im["id"], set()))
        others = [c for c in cats if c not in p]
        im["neg_category_ids"] = [int(c) for c in rng.choice(others, size=min(len(others), 3), replace=False)]
        im["not_exhaustive_category_ids"] = ([int(rng.choice(p))] if p and rng.random() < 0.5 else [])
    return gt, dets


def _box(aid, iid, cat, box, **kw):
    x, y, w, h = box
    return {"id": aid, "image_id": iid, "category_id": cat, "bbox": list(box), "area": float(w * h),
            "segmentation": [[x, y, x + w, y, x + w, y + h, x, y + h]], **kw}


@pytest.mark.parametrize("seed,iou_type,max_dets", [(0, "segm", 20), (1, "bbox", 20), (2, "segm", 300)])
def test_parity_with_lvis_api(seed, iou_type, max_dets, monkeypatch):
    gt, dets = lvis_like(seed)
    ref = _lvis_ref(gt, dets, iou_type, max_dets, monkeypatch)
    st = evaluate_lvis(copy.deepcopy(gt), copy.deepcopy(dets), iou_type, max_dets=max_dets)
    assert set(st) == set(ref)
    assert max(abs(st[k] - ref[k]) for k in st) <= 1e-12
    assert st["AP"] > 0.05


def test_federated_rules_by_hand():
    gt = {"images": [{"id": 1, "height": 50, "width": 50, "neg_category_ids": [2], "not_exhaustive_category_ids": [3]}],
          "categories": [{"id": 1, "name": "a", "frequency": "f"}, {"id": 2, "name": "b", "frequency": "r"},
                         {"id": 3, "name": "c", "frequency": "c"}, {"id": 4, "name": "d", "frequency": "c"}],
          "annotations": [_box(1, 1, 1, (0, 0, 10, 10)), _box(2, 1, 3, (20, 20, 10, 10))]}
    dets = [{"image_id": 1, "category_id": 1, "score": 0.9, "bbox": [0, 0, 10, 10]},    # TP
            {"image_id": 1, "category_id": 4, "score": 0.99, "bbox": [0, 0, 10, 10]},   # cat 4 unknown here: dropped
            {"image_id": 1, "category_id": 3, "score": 0.95, "bbox": [40, 40, 5, 5]},   # not exhaustive: ignored
            {"image_id": 1, "category_id": 3, "score": 0.5, "bbox": [20, 20, 10, 10]},  # TP
            {"image_id": 1, "category_id": 2, "score": 0.3, "bbox": [30, 0, 5, 5]}]     # negative category: FP
    st = evaluate_lvis(gt, dets, "bbox")
    assert st["AP"] == pytest.approx(1.0) and st["APf"] == pytest.approx(1.0) and st["APc"] == pytest.approx(1.0)
    assert st["APr"] == -1  # category 2 has no GT
    # with the per-image cap at 1, only the highest-scoring detection (category 4, dropped) is left
    st1 = evaluate_lvis(gt, dets, "bbox", max_dets=1)
    assert st1["AP"] == 0.0


def test_lvis_gt_through_coco_style_cli(tmp_path):
    gt, dets = lvis_like(3, n=6)
    (tmp_path / "lvis.json").write_text(json.dumps(gt))
    (tmp_path / "res.json").write_text(json.dumps(dets))
    ds = CocoStyle(tmp_path / "lvis.json", iou_type="bbox")
    assert ds.default_metrics() == ("lvis_ap",)
    out = evaluate_samples(ds, ds.predictions(tmp_path / "res.json"), ds.build_metrics(None), workers=1)
    (res,) = out.results.values()
    ref = evaluate_lvis(gt, dets, "bbox")
    for k, v in ref.items():
        got = res.values[k]
        assert (v == -1 and math.isnan(got)) or abs(got - v) <= 1e-12
    rec = tmp_path / "rec.json"
    assert main(["eval", str(tmp_path / "res.json"), "--dataset", "coco-style", "--gt", str(tmp_path / "lvis.json"),
                 "--iou-type", "bbox", "--json", str(rec)]) == 0
    assert "APr" in json.loads(rec.read_text())["metrics"]["lvis_ap@1"]["values"]


def _lvis_ref(gt, dets, iou_type, max_dets, monkeypatch):
    pytest.importorskip("lvis")
    if not hasattr(np, "float"):  # lvis 0.5.3 still uses np.float
        monkeypatch.setattr(np, "float", float, raising=False)
    from lvis import LVIS, LVISEval, LVISResults
    lg = LVIS.__new__(LVIS)
    lg.logger = logging.getLogger("lvis-test")
    lg.dataset = copy.deepcopy(gt)
    lg._create_index()
    E = LVISEval(lg, LVISResults(lg, copy.deepcopy(dets), max_dets=max_dets), iou_type)
    E.params.max_dets = max_dets
    E.run()
    return E.results


def _lvis_gt(anns, neg2=(1,)):
    return {"images": [{"id": 1, "height": 64, "width": 64, "neg_category_ids": [], "not_exhaustive_category_ids": []},
                       {"id": 2, "height": 64, "width": 64, "neg_category_ids": list(neg2),
                        "not_exhaustive_category_ids": []}],
            "categories": [{"id": 1, "name": "a", "frequency": "c"}], "annotations": anns}


def test_zero_area_objects_and_the_area_rule_after_the_cut_follow_lvis_api(monkeypatch):
    # a zero-area result, and a GT whose area is 0, do not exist for lvis-api (get_ann_ids: 0 < area)
    gt = _lvis_gt([_box(1, 1, 1, (0.0, 10.0, 40.0, 20.0))])
    dets = [{"image_id": 2, "category_id": 1, "score": 0.9, "bbox": [0.0, 0.0, 0.0, 0.0]},
            {"image_id": 1, "category_id": 1, "score": 0.8, "bbox": [0.0, 10.0, 40.0, 20.0]}]
    gt2 = _lvis_gt([_box(1, 1, 1, (0.0, 10.0, 40.0, 20.0)), dict(_box(2, 2, 1, (30.0, 30.0, 10.0, 10.0)), area=0.0)],
                   neg2=())
    # box or mask areas: decided on the first result after each image's top-max_dets cut
    m = np.zeros((64, 64), np.uint8)
    m[5:9, 5:9] = 1
    from pycocotools import mask as mu
    rle = {"size": [64, 64], "counts": mu.encode(np.asfortranarray(m))["counts"].decode()}
    gt3 = _lvis_gt([dict(_box(1, 1, 1, (5.0, 5.0, 4.0, 4.0)), segmentation=rle)], neg2=())
    dets3 = [{"image_id": 1, "category_id": 1, "score": 0.1, "segmentation": rle, "bbox": [5.0, 5.0, 40.0, 40.0]},
             {"image_id": 1, "category_id": 1, "score": 0.9, "segmentation": rle},
             {"image_id": 1, "category_id": 1, "score": 0.5, "segmentation": rle}]
    for g, d, iou, md in ((gt, dets, "bbox", 300), (gt2, dets[1:], "bbox", 300), (gt3, dets3, "segm", 2)):
        ref = _lvis_ref(g, d, iou, md, monkeypatch)
        st = evaluate_lvis(copy.deepcopy(g), copy.deepcopy(d), iou, max_dets=md)
        assert max(abs(st[k] - ref[k]) for k in st) <= 1e-12, (st, ref)
    assert evaluate_lvis(copy.deepcopy(gt), copy.deepcopy(dets), "bbox")["AP"] == pytest.approx(1.0)


def test_partial_lvis_fields_are_refused(tmp_path, capsys):
    base = _lvis_gt([_box(1, 1, 1, (0.0, 10.0, 40.0, 20.0))])
    res = tmp_path / "res.json"
    res.write_text(json.dumps([{"image_id": 1, "category_id": 1, "score": 0.9, "bbox": [0.0, 10.0, 40.0, 20.0]}]))
    cases = {"neg": (lambda g: g["images"][1].pop("neg_category_ids"), "1 of 2"),
             "nonexh": (lambda g: g["images"][0].pop("not_exhaustive_category_ids"), "not_exhaustive_category_ids"),
             "freq": (lambda g: g["categories"][0].pop("frequency"), "'frequency' r, c or f")}
    for name, (edit, needle) in cases.items():
        g = copy.deepcopy(base)
        edit(g)
        p = tmp_path / f"{name}.json"
        p.write_text(json.dumps(g))
        assert main(["eval", str(res), "--dataset", "coco-style", "--gt", str(p), "--iou-type", "bbox"]) == 2
        err = capsys.readouterr().err
        assert f"{name}.json" in err and needle in err and len(err.strip().splitlines()) == 1, err

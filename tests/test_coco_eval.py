"""Parity of segbench's COCO evaluation with pycocotools COCOeval (and faster-coco-eval).

The 12 summary numbers must agree to 1e-12 (they are in fact bit-identical) on the real COCO sample
with perturbed detections, on seeded synthetic sets and on the edge cases of issue 2.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as mu
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from scipy import ndimage

from segbench.datasets.coco import synthetic_coco
from segbench.errors import BadInputError
from segbench.metrics.functional.coco import STAT_KEYS, evaluate_coco

DATA = Path(__file__).resolve().parent / "data" / "coco"
REAL_GT = DATA / "panoptic_coco_detection_format.json"
TOL = 1e-12


# ----------------------------------------------------------------------------- references
def _coco_from(gt: dict) -> COCO:
    c = COCO()
    c.dataset = copy.deepcopy(gt)
    with contextlib.redirect_stdout(io.StringIO()):
        c.createIndex()
    return c


def pycoco_stats(gt: dict, dets: list, iou_type: str, max_dets=None, return_eval=False):
    with contextlib.redirect_stdout(io.StringIO()):
        cg = _coco_from(gt)
        if dets:
            cd = cg.loadRes(copy.deepcopy(dets))
        else:  # loadRes cannot take an empty list (it reads anns[0])
            cd = _coco_from({"images": gt["images"], "categories": gt["categories"], "annotations": []})
        E = COCOeval(cg, cd, iou_type)
        if max_dets is not None:
            E.params.maxDets = list(max_dets)
        E.evaluate()
        E.accumulate()
        E.summarize()
    return (E.stats, E) if return_eval else E.stats


def faster_stats(gt: dict, dets: list, iou_type: str):
    from faster_coco_eval import COCO as FCOCO, COCOeval_faster
    with contextlib.redirect_stdout(io.StringIO()):
        cg = FCOCO(copy.deepcopy(gt))
        cd = cg.loadRes(copy.deepcopy(dets))
        E = COCOeval_faster(cg, cd, iou_type, rle_iou_max_workers=1)
        E.evaluate()
        E.accumulate()
        E.summarize()
    return np.asarray(E.stats[:12], dtype=np.float64)


def ours(gt, dets, iou_type, **kw):
    st = evaluate_coco(copy.deepcopy(gt), copy.deepcopy(dets), iou_type=iou_type, **kw)
    return np.array(list(st.values()), dtype=np.float64)


def assert_parity(gt, dets, iou_type, max_dets=None, **kw):
    ref = pycoco_stats(gt, dets, iou_type, max_dets)
    kw = dict(kw)
    if max_dets is not None:
        kw["max_dets"] = max_dets
    got = ours(gt, dets, iou_type, **kw)
    assert got.shape == (12,)
    assert np.max(np.abs(got - ref)) <= TOL, (got, ref)
    return got, ref


# ----------------------------------------------------------------------------- data
def real_gt() -> dict:
    return json.loads(REAL_GT.read_text())


def perturbed_detections(gt: dict, seed: int, with_bbox: bool = True, formats=("rle",)) -> list:
    """Detections derived from the GT masks: shifted / dilated / eroded copies, duplicates, wrong
    classes, false positives, some empty masks; scores with ties."""
    rng = np.random.default_rng(seed)
    imgs = {im["id"]: im for im in gt["images"]}
    cats = [c["id"] for c in gt["categories"]]
    dets = []
    for a in gt["annotations"]:
        im = imgs[a["image_id"]]
        h, w = im["height"], im["width"]
        seg = a["segmentation"]
        if isinstance(seg, list):
            rle = mu.merge(mu.frPyObjects(seg, h, w))
        elif isinstance(seg["counts"], list):
            rle = mu.frPyObjects(seg, h, w)
        else:
            rle = seg
        m = mu.decode(rle).astype(bool)
        for _ in range(int(rng.integers(0, 4))):
            mm = np.roll(m, (int(rng.integers(-6, 7)), int(rng.integers(-6, 7))), axis=(0, 1))
            op = rng.integers(0, 3)
            if op == 1:
                mm = ndimage.binary_dilation(mm, iterations=int(rng.integers(1, 4)))
            elif op == 2:
                mm = ndimage.binary_erosion(mm, iterations=int(rng.integers(1, 3)))
            if rng.random() < 0.05:
                mm[:] = False  # empty mask
            cat = a["category_id"] if rng.random() < 0.85 else int(rng.choice(cats))
            dets.append(_det(a["image_id"], cat, float(np.round(rng.random(), 2)), mm, with_bbox,
                             formats[int(rng.integers(0, len(formats)))], rng))
    for im in gt["images"]:
        for _ in range(15):
            h, w = im["height"], im["width"]
            mm = np.zeros((h, w), bool)
            y, x = int(rng.integers(0, h - 10)), int(rng.integers(0, w - 10))
            mm[y:y + int(rng.integers(3, 120)), x:x + int(rng.integers(3, 120))] = True
            dets.append(_det(im["id"], int(rng.choice(cats[:12])), float(np.round(rng.random(), 2)), mm,
                             with_bbox, "rle", rng))
    rng.shuffle(dets)
    return dets


def _det(iid, cat, score, m, with_bbox, fmt, rng):
    rle = mu.encode(np.asfortranarray(m.astype(np.uint8)))
    d = {"image_id": iid, "category_id": cat, "score": score}
    if fmt == "uncompressed":
        f = m.ravel(order="F")
        idx = np.flatnonzero(np.r_[True, f[1:] != f[:-1]]) if f.size else np.zeros(0, int)
        runs = np.diff(np.r_[idx, f.size]).tolist()
        d["segmentation"] = {"size": list(m.shape), "counts": ([0] + runs) if f[0] else runs}
    elif fmt == "polygon" and m.any():
        ys, xs = np.nonzero(m)
        x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
        d["segmentation"] = [[float(x0), float(y0), float(x1), float(y0), float(x1), float(y1), float(x0), float(y1)]]
    else:
        d["segmentation"] = {"size": list(m.shape), "counts": rle["counts"].decode()}
    if with_bbox:
        d["bbox"] = [float(v) for v in mu.toBbox(rle)]
    return d


# ----------------------------------------------------------------------------- real sample
@pytest.mark.parametrize("iou_type", ["segm", "bbox"])
@pytest.mark.parametrize("seed", [0, 1])
def test_real_sample_parity(iou_type, seed):
    gt = real_gt()
    dets = perturbed_detections(gt, seed, with_bbox=True, formats=("rle", "uncompressed", "polygon"))
    got, ref = assert_parity(gt, dets, iou_type)
    assert ref[0] > 0.05  # a meaningful, non-trivial score


def test_real_sample_mask_area_rule():
    """Results without boxes: areas are mask areas (pycocotools' second loadRes branch)."""
    gt = real_gt()
    dets = perturbed_detections(gt, 3, with_bbox=False)
    assert_parity(gt, dets, "segm")
    assert_parity(gt, dets, "bbox")


def test_real_sample_faster_coco_eval():
    gt = real_gt()
    dets = perturbed_detections(gt, 4, with_bbox=True)
    got = ours(gt, dets, "segm")
    ref = pycoco_stats(gt, dets, "segm")
    assert np.max(np.abs(got - ref)) <= TOL
    fce = faster_stats(gt, dets, "segm")
    assert np.max(np.abs(got - fce)) <= 1e-9


def test_zero_gt_id_quirk_and_fix():
    """The real sample has an annotation with id 0: pycocotools counts a match to it as unmatched."""
    gt = real_gt()
    a0 = next(a for a in gt["annotations"] if a["id"] == 0)
    perfect = {"image_id": a0["image_id"], "category_id": a0["category_id"], "score": 0.99,
               "segmentation": a0["segmentation"], "bbox": a0["bbox"]}
    got, ref = assert_parity(gt, [perfect], "segm")
    fixed = ours(gt, [perfect], "segm", fix_zero_gt_id=True)
    assert fixed[0] > got[0]  # the fix turns the FP into a TP


# ----------------------------------------------------------------------------- synthetic
@pytest.mark.parametrize("seed,iou_type,with_bbox", [(0, "segm", True), (1, "segm", False),
                                                     (2, "bbox", True), (3, "bbox", False)])
def test_synthetic_parity(seed, iou_type, with_bbox):
    gt, dets = synthetic_coco(12, dets_per_image=40, seed=seed, num_categories=6, size=(120, 160),
                              with_bbox=with_bbox, crowd_frac=0.1)
    got, _ = assert_parity(gt, dets, iou_type)
    assert np.max(np.abs(got - faster_stats(gt, dets, iou_type))) <= 1e-9


def test_synthetic_faster_coco_eval_bbox():
    gt, dets = synthetic_coco(10, dets_per_image=30, seed=7, num_categories=5, size=(120, 160))
    got = ours(gt, dets, "bbox")
    assert np.max(np.abs(got - faster_stats(gt, dets, "bbox"))) <= 1e-9


def test_full_precision_and_recall_arrays_match():
    gt, dets = synthetic_coco(8, dets_per_image=30, seed=11, num_categories=5, size=(120, 160))
    ref, E = pycoco_stats(gt, dets, "segm", return_eval=True)
    _, acc, _ = evaluate_coco(copy.deepcopy(gt), copy.deepcopy(dets), "segm", return_all=True)
    assert np.array_equal(acc["precision"], E.eval["precision"])
    assert np.array_equal(acc["recall"], E.eval["recall"])
    assert np.array_equal(acc["scores"], E.eval["scores"])


# ----------------------------------------------------------------------------- edge cases
def _tiny_gt(anns, images=((1, 40, 50), (2, 40, 50)), cats=(1, 2, 3)):
    return {"images": [{"id": i, "height": h, "width": w} for i, h, w in images],
            "categories": [{"id": c, "name": f"c{c}"} for c in cats], "annotations": anns}


def _box_ann(aid, iid, cat, box, crowd=0, area=None):
    x, y, w, h = box
    return {"id": aid, "image_id": iid, "category_id": cat, "bbox": list(box), "iscrowd": crowd,
            "area": float(w * h if area is None else area),
            "segmentation": [[x, y, x + w, y, x + w, y + h, x, y + h]]}


def _box_det(iid, cat, box, score):
    return {"image_id": iid, "category_id": cat, "bbox": list(box), "score": score}


@pytest.mark.parametrize("iou_type", ["segm", "bbox"])
def test_no_detections(iou_type):
    gt = _tiny_gt([_box_ann(1, 1, 1, (2, 2, 10, 10)), _box_ann(2, 2, 2, (5, 5, 20, 20))])
    got, ref = assert_parity(gt, [], iou_type)
    assert got[0] == 0.0


def test_no_ground_truth():
    gt = _tiny_gt([])
    dets = [_box_det(1, 1, (2, 2, 10, 10), 0.9)]
    got, ref = assert_parity(gt, dets, "bbox")
    assert (got == -1).all()


def test_image_with_only_crowd_gt():
    anns = [_box_ann(1, 1, 1, (0, 0, 30, 30), crowd=1), _box_ann(2, 2, 1, (5, 5, 20, 20))]
    gt = _tiny_gt(anns)
    dets = [_box_det(1, 1, (2, 2, 10, 10), 0.9), _box_det(1, 1, (1, 1, 12, 12), 0.8),
            _box_det(1, 1, (25, 25, 10, 10), 0.7), _box_det(2, 1, (5, 5, 19, 20), 0.6),
            _box_det(2, 1, (6, 5, 19, 20), 0.95)]
    for t in ("segm", "bbox"):
        assert_parity(gt, dets, t)


def test_more_than_100_detections_and_ties():
    rng = np.random.default_rng(5)
    anns = [_box_ann(i + 1, 1 + i % 2, 1 + i % 3, (float(rng.integers(0, 30)), float(rng.integers(0, 20)),
                                                     float(rng.integers(3, 20)), float(rng.integers(3, 20))))
            for i in range(30)]
    gt = _tiny_gt(anns)
    dets = []
    for k in range(260):
        a = anns[int(rng.integers(0, len(anns)))]
        x, y, w, h = a["bbox"]
        dets.append(_box_det(a["image_id"], a["category_id"] if k % 7 else 3,
                             (x + float(rng.integers(-2, 3)), y + float(rng.integers(-2, 3)), w, h),
                             float(rng.choice([0.5, 0.25, 0.75, 0.3]))))  # many exact ties
    for t in ("segm", "bbox"):
        assert_parity(gt, dets, t)
        assert_parity(gt, dets, t, max_dets=(1, 10, 50))
        assert_parity(gt, dets, t, max_dets=(5, 20, 200))
        assert_parity(gt, dets, t, max_dets=(1, 10, 100, 300))


def test_custom_max_dets_quirk_and_fix():
    gt, dets = synthetic_coco(6, dets_per_image=60, seed=21, num_categories=3, size=(120, 160))
    got, ref = assert_parity(gt, dets, "bbox", max_dets=(1, 10, 50))
    assert got[0] == -1  # the quirk: AP is read at maxDets == 100, which is not evaluated
    st = evaluate_coco(copy.deepcopy(gt), copy.deepcopy(dets), "bbox", max_dets=(1, 10, 50), fix_max_dets=True,
                       return_all=True)
    stats, acc = st[0], st[1]
    p = acc["precision"][:, :, :, 0, -1]
    assert stats["AP"] == pytest.approx(float(np.mean(p[p > -1])), abs=0)
    assert stats["AP50"] == got[1] and "AR50" in stats


def test_empty_masks_and_zero_area_gt():
    h, w = 30, 40
    empty = mu.encode(np.zeros((h, w, 1), np.uint8, order="F"))[0]
    full = np.zeros((h, w), np.uint8)
    full[5:20, 5:25] = 1
    rf = mu.encode(np.asfortranarray(full))
    gt = _tiny_gt([{"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": 0.0, "bbox": [0, 0, 0, 0],
                    "segmentation": {"size": [h, w], "counts": empty["counts"].decode()}},
                   {"id": 2, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": 300.0,
                    "bbox": [5, 5, 20, 15], "segmentation": {"size": [h, w], "counts": rf["counts"].decode()}}],
                  images=((1, h, w),))
    dets = [{"image_id": 1, "category_id": 1, "score": 0.9,
             "segmentation": {"size": [h, w], "counts": empty["counts"].decode()}},
            {"image_id": 1, "category_id": 1, "score": 0.8,
             "segmentation": {"size": [h, w], "counts": rf["counts"].decode()}}]
    assert_parity(gt, dets, "segm")


def test_polygon_and_uncompressed_gt_and_detections():
    gt, dets = synthetic_coco(6, dets_per_image=25, seed=8, num_categories=4, size=(100, 120), crowd_frac=0.2)
    kinds = {("poly" if isinstance(a["segmentation"], list) else
              "unc" if isinstance(a["segmentation"]["counts"], list) else "rle") for a in gt["annotations"]}
    assert kinds == {"poly", "unc", "rle"}
    # turn some detections into polygons and uncompressed RLE (the first keeps its box: loadRes' box rule)
    for i, d in enumerate(dets):
        if i % 3 == 1:
            x, y, bw, bh = d["bbox"]
            d["segmentation"] = [[x, y, x + bw, y, x + bw, y + bh, x, y + bh]]
        elif i % 3 == 2:
            m = mu.decode(d["segmentation"]).ravel(order="F")
            idx = np.flatnonzero(np.r_[True, m[1:] != m[:-1]])
            runs = np.diff(np.r_[idx, m.size]).tolist()
            d["segmentation"] = {"size": d["segmentation"]["size"], "counts": ([0] + runs) if m[0] else runs}
    assert_parity(gt, dets, "segm")


def test_categories_without_gt_left_out():
    gt = _tiny_gt([_box_ann(1, 1, 1, (2, 2, 10, 10))], cats=(1, 2, 3, 4))
    dets = [_box_det(1, 1, (2, 2, 10, 10), 0.9), _box_det(1, 2, (2, 2, 10, 10), 0.8),
            _box_det(2, 3, (2, 2, 10, 10), 0.7)]
    got, _ = assert_parity(gt, dets, "bbox")
    assert got[0] == pytest.approx(1.0)


def test_area_ranges_and_crowd_area_denominator():
    anns = [_box_ann(1, 1, 1, (0, 0, 5, 5)),            # small
            _box_ann(2, 1, 1, (10, 0, 20, 20)),         # medium
            _box_ann(3, 2, 1, (0, 0, 40, 40), crowd=1),  # crowd covering the image
            _box_ann(4, 2, 2, (2, 2, 12, 12), area=2000)]  # area field says medium
    gt = _tiny_gt(anns, images=((1, 40, 50), (2, 60, 60)))
    dets = [_box_det(1, 1, (0, 0, 5, 5), 0.5), _box_det(1, 1, (10, 0, 20, 20), 0.6),
            _box_det(2, 1, (3, 3, 4, 4), 0.9), _box_det(2, 2, (2, 2, 12, 12), 0.4),
            _box_det(2, 2, (2, 2, 11, 12), 0.45)]
    for t in ("segm", "bbox"):
        assert_parity(gt, dets, t)


def test_unknown_image_and_category_are_clear_errors():
    gt = _tiny_gt([_box_ann(1, 1, 1, (2, 2, 10, 10))])
    with pytest.raises(BadInputError, match=r"not in the ground truth.*image_id 99"):
        evaluate_coco(gt, [_box_det(99, 1, (0, 0, 3, 3), 0.5)], "bbox")
    with pytest.raises(BadInputError, match=r"category_id 7"):
        evaluate_coco(gt, [_box_det(1, 7, (0, 0, 3, 3), 0.5)], "bbox")


def test_stat_keys():
    gt = _tiny_gt([_box_ann(1, 1, 1, (2, 2, 10, 10))])
    st = evaluate_coco(gt, [_box_det(1, 1, (2, 2, 10, 10), 0.9)], "bbox")
    assert tuple(st) == STAT_KEYS


@pytest.mark.parametrize("one_group_max", [0, 10**6])
def test_batching_and_grouping_do_not_change_results(monkeypatch, one_group_max):
    """Images matched in GT-count buckets or in one padded group, in one batch or many: same records."""
    import segbench.metrics.functional.coco as F
    monkeypatch.setattr(F, "_ONE_GROUP_MAX", one_group_max)
    gt, dets = synthetic_coco(15, dets_per_image=30, seed=12, num_categories=4, size=(100, 140))
    ref = pycoco_stats(gt, dets, "segm")
    orig = F.evaluate_images
    for bs in (1, 4, 512):
        monkeypatch.setattr(F, "evaluate_images",
                            lambda items, params, _bs=bs: orig(items, params, batch_size=_bs))
        got = ours(gt, dets, "segm")
        assert np.array_equal(got, ref)


def test_string_image_ids():
    gt, dets = synthetic_coco(5, dets_per_image=20, seed=13, num_categories=3, size=(100, 140))
    for im in gt["images"]:
        im["id"] = f"img-{im['id']}"
    for a in gt["annotations"]:
        a["image_id"] = f"img-{a['image_id']}"
    for d in dets:
        d["image_id"] = f"img-{d['image_id']}"
    assert_parity(gt, dets, "bbox")


def test_category_ids_across_all_of_int64_and_integral_floats():
    # (image, category) keys on dense codes: ids 1 and 3e18 over 5 images overflowed an id-range key
    big = 3 * 10 ** 18
    anns = [_box_ann(i + 1, i % 5 + 1, 1 if i % 2 else big, (2 + i, 2, 10, 10)) for i in range(10)]
    gt = _tiny_gt(anns, images=[(i, 40, 50) for i in range(1, 6)], cats=(1, big, -5))
    rng = np.random.default_rng(0)
    dets = [_box_det(a["image_id"], a["category_id"], [v + float(rng.integers(-2, 3)) for v in a["bbox"]],
                     float(rng.random())) for a in anns]
    for iou_type in ("bbox", "segm"):
        got, _ = assert_parity(gt, dets, iou_type)
        assert 0 < got[0] < 1
    # 2.0 is category 2 for pycocotools (dict keys: 2.0 == 2)
    gt2 = _tiny_gt([_box_ann(1, 1, 2, (2, 2, 10, 10)), _box_ann(2, 1, 1, (20, 2, 10, 10))])
    gt2["categories"][1]["id"] = 2.0
    assert_parity(gt2, [_box_det(1, 2, (2, 2, 10, 10), 0.9), _box_det(1, 2.0, (20, 2, 10, 10), 0.8)], "bbox")


def test_null_box_and_the_area_rule_with_unknown_detections_dropped():
    from pycocotools import mask as mu_
    def rle(y0, x0, s, h=100, w=100):
        m = np.zeros((h, w), np.uint8)
        m[y0:y0 + s, x0:x0 + s] = 1
        return {"size": [h, w], "counts": mu_.encode(np.asfortranarray(m))["counts"].decode()}
    gt = _tiny_gt([_box_ann(1, 1, 1, (0, 0, 10, 10))], images=((1, 100, 100),))
    kept = [{"image_id": 1, "category_id": 1, "score": 0.9, "segmentation": rle(0, 0, 10), "bbox": [0, 0, 10, 10]},
            {"image_id": 1, "category_id": 1, "score": 0.95, "segmentation": rle(50, 50, 40), "bbox": [50, 50, 5, 5]}]
    dropped = {"image_id": 99, "category_id": 1, "score": 0.1, "segmentation": rle(0, 0, 10)}
    ref = pycoco_stats(gt, kept, "segm")  # box areas: the first kept result has a box
    from segbench.io.coco import CocoGT, load_results
    g = CocoGT(copy.deepcopy(gt))
    res = load_results(copy.deepcopy([dropped] + kept), g, "segm", unknown="ignore")
    got = np.array(list(evaluate_coco(g, res, "segm").values()), dtype=np.float64)
    assert np.max(np.abs(got - ref)) <= TOL and got[3] == ref[3] == 0.5
    # "bbox": null is no box: bbox evaluation takes the mask's box (pycocotools crashes on None)
    nulled = [dict(kept[0], bbox=None)]
    without = [{k: v for k, v in kept[0].items() if k != "bbox"}]
    assert np.array_equal(ours(gt, nulled, "bbox"), pycoco_stats(gt, without, "bbox"))

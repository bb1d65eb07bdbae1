"""The ``coco_ap`` metric: state merging, engine workers, CLI end to end, per-class results."""

from __future__ import annotations

import contextlib
import io
import json
import math

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from segbench.cli import main
from segbench.datasets.coco import Coco, CocoStyle, synthetic_coco
from segbench.engine import evaluate_samples
from segbench.metrics import get_metric
from segbench.metrics.functional.coco import STAT_KEYS
from segbench.metrics.instance import COCOAP


def _pyc(gt_path, res_path, iou_type):
    with contextlib.redirect_stdout(io.StringIO()):
        cg = COCO(str(gt_path))
        cd = cg.loadRes(str(res_path))
        E = COCOeval(cg, cd, iou_type)
        E.evaluate()
        E.accumulate()
        E.summarize()
    return E.stats


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    root = tmp_path_factory.mktemp("coco_style")
    gt, res = synthetic_coco(20, dets_per_image=30, seed=3, num_categories=6, size=(120, 160))
    (root / "instances.json").write_text(json.dumps(gt))
    (root / "results.json").write_text(json.dumps(res))
    return root


def _values(res):
    return np.array([(-1.0 if math.isnan(res.values[k]) else res.values[k]) for k in STAT_KEYS])


def _run(ds, preds, metric, ids):
    m = metric.fresh()
    for sid in ids:
        s = ds.load(sid)
        m.update(preds.load(s), s)
    return m


@pytest.mark.parametrize("iou_type", ["segm", "bbox"])
def test_metric_matches_pycocotools_and_shards_merge(fake, iou_type):
    ds = CocoStyle(fake / "instances.json", iou_type=iou_type)
    preds = ds.predictions(fake / "results.json")
    (metric,) = ds.build_metrics(None)
    assert metric.options["iou_type"] == iou_type
    ids = ds.sample_ids()
    one = _run(ds, preds, metric, ids).compute()
    ref = _pyc(fake / "instances.json", fake / "results.json", iou_type)
    assert np.max(np.abs(_values(one) - ref)) <= 1e-12
    # k shards (out of order) merged through state dicts == one pass
    for k in (2, 3, 7):
        shards = [ids[i::k] for i in range(k)][::-1]
        merged = metric.fresh()
        for sh in shards:
            part = _run(ds, preds, metric, sh)
            merged.merge(COCOAP.from_state(part.state_dict(), metric.label_space, **metric.options))
        res = merged.compute()
        assert res.values.keys() == one.values.keys()
        assert np.array_equal(_values(res), _values(one))
        assert res.per_class == one.per_class


def test_engine_workers_identical(fake):
    ds = CocoStyle(fake / "instances.json")
    preds = ds.predictions(fake / "results.json")
    metrics = ds.build_metrics(["coco_ap"])
    a = evaluate_samples(ds, preds, metrics, workers=1).results
    b = evaluate_samples(ds, preds, metrics, workers=2).results
    (ka,) = a
    assert a[ka].values == b[ka].values or np.array_equal(_values(a[ka]), _values(b[ka]))
    assert a[ka].to_dict() == b[ka].to_dict()


def test_per_class_and_curves(fake):
    ds = CocoStyle(fake / "instances.json")
    preds = ds.predictions(fake / "results.json")
    m = _run(ds, preds, ds.build_metrics(None)[0], ds.sample_ids())
    res = m.compute()
    names = ds.label_space().names
    assert set(res.per_class) <= set(names) and len(res.per_class) > 0
    row = next(iter(res.per_class.values()))
    assert {"AP", "AP50", "AP75", "AR", "num_gt"} <= set(row)
    mean_ap = np.nanmean([r["AP"] for r in res.per_class.values()])
    assert mean_ap == pytest.approx(res.values["AP"], abs=1e-12)
    pr = res.artifacts["pr_curves"]
    assert len(pr["recall"]) == 101 and len(pr["mean_iou50"]) == 101
    assert set(pr["iou50"]) <= set(res.per_class)
    json.dumps(res.to_dict())  # serialisable


def test_metric_options_and_registry():
    m = get_metric("coco_ap", None, iou_type="bbox", max_dets="1,10,100")
    assert m.options["max_dets"] == [1, 10, 100] and m.key == "coco_ap@1"
    from segbench.errors import UsageError
    with pytest.raises(UsageError):
        get_metric("coco_ap", None, iou_type="keypoints")
    with pytest.raises(UsageError):
        get_metric("coco_ap", None, max_dets="1,x")
    with pytest.raises(UsageError):
        get_metric("coco_ap", None, max_dets=[10, 100])
    assert get_metric("coco_ap", None, max_dets=[10, 100], fix_max_dets=True).params.max_dets == (10, 100)


@pytest.mark.parametrize("extra", [[], ["--iou-type", "bbox"]])
def test_cli_end_to_end(fake, tmp_path, extra, capsys):
    out = tmp_path / "rec.json"
    rc = main(["eval", str(fake / "results.json"), "--dataset", "coco-style", "--gt", str(fake / "instances.json"),
               "--json", str(out), *extra])
    assert rc == 0
    rec = json.loads(out.read_text())
    (key,) = rec["metrics"]
    vals = rec["metrics"][key]["values"]
    assert tuple(vals) == STAT_KEYS
    ref = _pyc(fake / "instances.json", fake / "results.json", "bbox" if extra else "segm")
    got = np.array([(-1.0 if vals[k] is None else vals[k]) for k in STAT_KEYS])
    assert np.max(np.abs(got - ref)) <= 1e-12
    assert "AP" in capsys.readouterr().out


def test_cli_gate(fake):
    args = ["eval", str(fake / "results.json"), "--dataset", "coco-style", "--gt", str(fake / "instances.json")]
    assert main(args + ["--fail-under", "AP=0.99"]) == 1
    assert main(args + ["--fail-under", "AP=0.01"]) == 0


def test_coco_official_layout_fake_and_txt_predictions(tmp_path):
    root = Coco.make_fake(tmp_path / "coco", num_samples=3, seed=2)
    ds = Coco(root)
    assert (root / "annotations" / "instances_val2017.json").exists()
    s = ds.load(ds.sample_ids()[0])
    assert s.image is not None and s.image.endswith(".jpg")
    # per-image instance PNGs + txt lists give the same numbers as the equivalent RLE results JSON
    from PIL import Image
    from pycocotools import mask as mu
    res = json.loads((root / "results.json").read_text())
    gtd = json.loads((root / "annotations" / "instances_val2017.json").read_text())
    names = {im["id"]: im["file_name"].rsplit(".", 1)[0] for im in gtd["images"]}
    pred = tmp_path / "pred"
    (pred / "masks").mkdir(parents=True)
    lines: dict = {}
    rle_res = []
    for i, d in enumerate(res):
        m = mu.decode(d["segmentation"])
        Image.fromarray(m * 255).save(pred / "masks" / f"{i}.png")
        lines.setdefault(d["image_id"], []).append(f"masks/{i}.png {d['category_id']} {d['score']!r}")
        rle_res.append({k: v for k, v in d.items() if k != "bbox"})
    for iid, ls in lines.items():
        (pred / f"{names[iid]}.txt").write_text("\n".join(ls) + "\n")
    (tmp_path / "rle.json").write_text(json.dumps(rle_res))
    for iid in names:
        if iid not in lines:
            (pred / f"{names[iid]}.txt").write_text("")
    a = evaluate_samples(ds, ds.predictions(pred), ds.build_metrics(None)).results
    b = evaluate_samples(ds, ds.predictions(tmp_path / "rle.json"), ds.build_metrics(None)).results
    (k,) = a
    assert np.array_equal(_values(a[k]), _values(b[k]))


def test_pr_curve_figure_in_report(fake):
    from segbench.engine import evaluate_run
    from segbench.report.figures import render_figures
    ds = CocoStyle(fake / "instances.json")
    rec, _ = evaluate_run(ds, ds.predictions(fake / "results.json"), ds.build_metrics(None))
    figs = render_figures(rec)
    assert any("pr_curves" in title for title, _ in figs)
    assert all(uri.startswith("data:image/png;base64,") for _, uri in figs)


def test_cli_max_dets(fake, tmp_path):
    out = tmp_path / "rec.json"
    rc = main(["eval", str(fake / "results.json"), "--dataset", "coco-style", "--gt", str(fake / "instances.json"),
               "--max-dets", "1,5,20", "--iou-type", "bbox", "--json", str(out)])
    assert rc == 0
    vals = json.loads(out.read_text())["metrics"]["coco_ap@1"]["values"]
    assert "AR5" in vals and "AR20" in vals
    with contextlib.redirect_stdout(io.StringIO()):
        cg = COCO(str(fake / "instances.json"))
        E = COCOeval(cg, cg.loadRes(str(fake / "results.json")), "bbox")
        E.params.maxDets = [1, 5, 20]
        E.evaluate()
        E.accumulate()
        E.summarize()
    got = np.array([(-1.0 if v is None else v) for v in vals.values()])
    assert np.max(np.abs(got - E.stats)) <= 1e-12


def test_label_space_subset_matches_pycocotools_catids(fake):
    from segbench.types import ClassSpec, LabelSpace
    ds = CocoStyle(fake / "instances.json")
    cats = ds.gt().cat_ids[:2]
    ls = LabelSpace([ClassSpec(f"c{c}", c, k, is_thing=True) for k, c in enumerate(cats)])
    m = COCOAP(ls, iou_type="segm")
    preds = ds.predictions(fake / "results.json")
    for sid in ds.sample_ids():
        s = ds.load(sid)
        m.update(preds.load(s), s)
    got = _values(m.compute())
    with contextlib.redirect_stdout(io.StringIO()):
        cg = COCO(str(fake / "instances.json"))
        E = COCOeval(cg, cg.loadRes(str(fake / "results.json")), "segm")
        E.params.catIds = list(cats)
        E.evaluate()
        E.accumulate()
        E.summarize()
    assert np.max(np.abs(got - E.stats)) <= 1e-12
    assert set(m.compute().per_class) <= {"c%d" % c for c in cats}


def test_model_style_predictions_use_loadres_area_rule(fake):
    """Detections straight from a model (bbox + RLE, no 'area') score like the same list written as a
    results JSON: box areas, as COCO.loadRes does for box-carrying results."""
    from segbench.types import InstancePrediction
    res = json.loads((fake / "results.json").read_text())
    by_img: dict = {}
    for d in res:
        by_img.setdefault(d["image_id"], []).append(d)
    ds = CocoStyle(fake / "instances.json")
    m = ds.build_metrics(None)[0]
    for sid in ds.sample_ids():
        s = ds.load(sid)
        m.update(InstancePrediction(by_img.get(s.target.image_id, []), s.target.image_id), s)
    got = _values(m.compute())
    ref = _pyc(fake / "instances.json", fake / "results.json", "segm")
    assert np.max(np.abs(got - ref)) <= 1e-12


def test_per_sample_counts(fake):
    ds = CocoStyle(fake / "instances.json", iou_type="bbox")
    preds = ds.predictions(fake / "results.json")
    m = _run(ds, preds, ds.build_metrics(None)[0], ds.sample_ids())
    res = m.compute()
    assert set(res.per_sample) == set(ds.sample_ids())
    # recall at IoU .5 over all images equals sum TP / sum GT; pycocotools' recall array agrees
    tp = sum(v["TP50"] for v in res.per_sample.values())
    ng = sum(v["num_gt"] for v in res.per_sample.values())
    assert all(v["FN50"] >= 0 and v["TP50"] <= v["num_gt"] for v in res.per_sample.values())
    from segbench.metrics.functional.coco import accumulate
    acc = accumulate(m.records(), m._cat_ids(m.records()), m.params)
    tp_k = (acc["recall"][0, :, 0, -1] * acc["npig"][:, 0]).round()
    assert tp == int(tp_k[acc["npig"][:, 0] > 0].sum()) and ng == int(acc["npig"][:, 0].sum())

"""Cityscapes adapter: label table, layout, prediction conventions, parity with cityscapesScripts'
pixel-level evaluator (IoU, iIoU, category IoU / iIoU), CLI end to end."""

import json
import math
import shutil

import numpy as np
import pytest

from segbench.cli import main
from segbench.datasets import get_dataset_class
from segbench.datasets.cityscapes import (AVG_CLASS_SIZE, LABELS, Cityscapes, cityscapes_label_space,
                                          write_fake_predictions)
from segbench.engine import evaluate_run
from segbench.errors import BadInputError, NotFoundError, UsageError
from segbench.io.labels import read_label, write_label


@pytest.fixture(scope="module")
def cs(tmp_path_factory):
    d = tmp_path_factory.mktemp("cs")
    root = Cityscapes.make_fake(d / "root", num_samples=8, seed=3, size=(48, 96))
    write_fake_predictions(root, d / "pred", seed=4, noise=0.2)
    write_fake_predictions(root, d / "pred_train", seed=4, noise=0.2, encoding="trainid", suffix="_trainIds")
    return root, d


def _eval(root, preds, **opts):
    ds = Cityscapes(root, **opts)
    return evaluate_run(ds, ds.predictions(preds, **opts), ds.build_metrics(None))


# ------------------------------------------------------------------ label table
def test_label_table_matches_cityscapesscripts():
    labels = pytest.importorskip("cityscapesscripts.helpers.labels")
    ref = labels.labels
    assert len(LABELS) == len(ref) == 35
    for ours, r in zip(LABELS, ref):
        assert (ours.name, ours.id, ours.category, ours.is_thing, ours.ignore_in_eval, tuple(ours.color)) == \
            (r.name, r.id, r.category, r.hasInstances, r.ignoreInEval, tuple(r.color))
        assert ours.train_id == (255 if r.trainId in (255, -1) else r.trainId)
    ls = cityscapes_label_space()
    assert ls.num_classes == 19 and ls.names[0] == "road" and ls.names[-1] == "bicycle"
    assert ls.categories() == ["flat", "construction", "object", "nature", "sky", "human", "vehicle"]
    lut = ls.id_to_train_lut(256)
    assert lut[7] == 0 and lut[33] == 18 and lut[0] == 255 and lut[29] == 255
    ev = pytest.importorskip("cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling")
    assert AVG_CLASS_SIZE == ev.args.avgClassSize


def test_layout_and_samples(cs):
    root, _ = cs
    ds = get_dataset_class("cityscapes")(root)
    ids = ds.sample_ids()
    assert len(ids) == 8 and ids == sorted(ids) and ids[0].startswith("frankfurt_000000_")
    s = ds.load(ids[0])
    raw = read_label(root / "gtFine" / "val" / "frankfurt" / f"{ids[0]}_gtFine_labelIds.png")
    assert (s.target.mask == cityscapes_label_space().id_to_train_lut(256)[raw]).all()
    assert s.target.instance_ids is not None and s.target.instance_ids.max() > 1000
    assert s.image.endswith(f"{ids[0]}_leftImg8bit.png")
    # --gt may point at gtFine itself
    assert Cityscapes(root / "gtFine").sample_ids() == ids
    with pytest.raises(NotFoundError, match="gtFine/train"):
        Cityscapes(root, split="train").sample_ids()
    with pytest.raises(NotFoundError):
        Cityscapes(root / "nope").sample_ids()


def test_polygons_without_label_pngs_say_how_to_render_them(tmp_path):
    root = Cityscapes.make_fake(tmp_path / "root", num_samples=2, seed=1, size=(16, 32))
    city = root / "gtFine" / "val" / "frankfurt"
    for f in city.glob("*_gtFine_labelIds.png"):
        (city / f.name.replace("labelIds.png", "polygons.json")).write_text('{"imgHeight": 16, "imgWidth": 32, "objects": []}')
        f.unlink()
    with pytest.raises(NotFoundError, match="found polygons .*_gtFine_polygons.json.* csCreateTrainIdLabelImgs"):
        Cityscapes(root).sample_ids()
    for f in city.glob("*_polygons.json"):
        f.unlink()
    with pytest.raises(NotFoundError, match=r"expected <city>/\*_gtFine_labelIds.png files, found none"):
        Cityscapes(root).sample_ids()


def test_unknown_gt_label_id_is_bad_input(tmp_path):
    root = Cityscapes.make_fake(tmp_path / "r", num_samples=1, seed=0, size=(8, 8), images=False)
    p = next((root / "gtFine").rglob("*_labelIds.png"))
    a = read_label(p)
    a[0, :3] = 40
    write_label(p, a)
    ds = Cityscapes(root)
    with pytest.raises(BadInputError, match="labelIds.png.*40 \\(3 px\\)"):
        ds.load(ds.sample_ids()[0]).target.mask      # the train-id view checks the stored ids
    shutil.copytree(root / "gtFine" / "val", tmp_path / "pred")
    with pytest.raises(BadInputError, match="labelIds.png.*40 \\(3 px\\)"):
        _eval(root, tmp_path / "pred")               # and so does the metric's histogram


# ------------------------------------------------------------------ parity with cityscapesScripts
def _reference(root, pred_dir, ids, suffix="_pred"):
    ev = pytest.importorskip("cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling")
    ev.CSUPPORT = False
    if not hasattr(np, "in1d"):  # numpy 2.4 removed in1d, which cityscapesScripts 2.3 calls
        np.in1d = lambda a, b, invert=False: np.isin(np.asarray(a).ravel(), b, invert=invert)
    args = ev.args
    args.quiet, args.JSONOutput, args.evalInstLevelScore, args.colorized = True, False, True, False
    args.evalPixelAccuracy = False
    ds = Cityscapes(root)
    gts = [ds._files()[s] for s in ids]
    preds = [str(pred_dir / f"{s}{suffix}.png") for s in ids]
    return ev.evaluateImgLists(preds, gts, args)


def _close(a, b, tol=1e-9):
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return b is None or math.isnan(float(b))
    return abs(a - float(b)) <= tol


def test_parity_with_cityscapesscripts(cs):
    root, d = cs
    rec, out = _eval(root, d / "pred")
    ids = Cityscapes(root).sample_ids()
    ref = _reference(root, d / "pred", ids)
    res = out.results["miou@1"]
    assert _close(res.values["mIoU"], ref["averageScoreClasses"])
    assert _close(res.values["iIoU"], ref["averageScoreInstClasses"])
    assert _close(res.values["mIoU_category"], ref["averageScoreCategories"])
    assert _close(res.values["iIoU_category"], ref["averageScoreInstCategories"])
    for name, pc in res.per_class.items():
        assert _close(pc["IoU"], ref["classScores"][name]), name
        assert _close(pc["iIoU"], ref["classInstScores"][name]), name
    for cat, v in res.artifacts["categories"].items():
        assert _close(v["IoU"], ref["categoryScores"][cat]), cat
        assert _close(v["iIoU"], ref["categoryInstScores"][cat]), cat
    # the values are not trivial
    assert 0.3 < res.values["mIoU"] < 0.95 and 0.3 < res.values["iIoU"] < 0.99
    # and the reference's confusion matrix over evaluated ids equals ours (in train-id order)
    conf = np.array(ref["confMatrix"], np.int64)
    ev_ids = [c.id for c in cityscapes_label_space().eval_classes]
    assert (conf[np.ix_(ev_ids, ev_ids)] == np.array(res.artifacts["confusion_matrix"])).all()


def test_parity_with_void_and_caravan_predictions(tmp_path):
    """Predictions with ignored ids (0, 29 caravan, 30 trailer) stress the category iIoU quirk."""
    root = Cityscapes.make_fake(tmp_path / "r", num_samples=4, seed=11, size=(40, 80), images=False)
    rng = np.random.default_rng(12)
    ds = Cityscapes(root)
    for sid in ds.sample_ids():
        lab = read_label(ds._files()[sid])
        p = lab.copy()
        m = rng.random(p.shape)
        p[m < 0.15] = 29
        p[(m >= 0.15) & (m < 0.25)] = 30
        p[(m >= 0.25) & (m < 0.3)] = 0
        write_label(tmp_path / "pred" / f"{sid}_leftImg8bit.png", p)
    rec, out = _eval(root, tmp_path / "pred")
    ref = _reference(root, tmp_path / "pred", ds.sample_ids(), suffix="_leftImg8bit")
    res = out.results["miou@1"]
    for k, rk in [("mIoU", "averageScoreClasses"), ("iIoU", "averageScoreInstClasses"),
                  ("mIoU_category", "averageScoreCategories"), ("iIoU_category", "averageScoreInstCategories")]:
        assert _close(res.values[k], ref[rk]), k
    for cat, v in res.artifacts["categories"].items():
        assert _close(v["iIoU"], ref["categoryInstScores"][cat]), cat
    # the fix behind a named option: caravan / trailer predictions are plain void in the category iIoU
    rec2, out2 = _eval(root, tmp_path / "pred", strict_category_iiou=True)
    res2 = out2.results["miou@1"]
    assert res2.values["mIoU"] == res.values["mIoU"] and res2.values["iIoU"] == res.values["iIoU"]
    assert res2.artifacts["categories"]["vehicle"]["iIoU"] < res.artifacts["categories"]["vehicle"]["iIoU"]
    assert res2.artifacts["categories"]["human"]["iIoU"] == res.artifacts["categories"]["human"]["iIoU"]


def test_trainid_and_color_encodings_give_same_numbers(cs, tmp_path):
    root, d = cs
    r_lab, _ = _eval(root, d / "pred")
    r_tr, _ = _eval(root, d / "pred_train", pred_encoding="trainid")
    a, b = r_lab.metrics["miou@1"], r_tr.metrics["miou@1"]
    # class IoU / iIoU agree (trainid cannot express caravan/trailer -> only category iIoU may differ)
    assert a["values"]["mIoU"] == b["values"]["mIoU"] and a["values"]["iIoU"] == b["values"]["iIoU"]
    # colour-coded predictions with the official colours
    from segbench.io.labels import write_color_label
    ls = cityscapes_label_space()
    colors = np.array([c.color for c in ls.eval_classes] + [(0, 0, 0)], np.uint8)
    for f in sorted((d / "pred_train").glob("*.png")):
        t = read_label(f).astype(np.int64)
        t[t == 255] = 19
        write_color_label(tmp_path / "col" / f.name.replace("_trainIds", "_color"), t, colors)
    r_col, _ = _eval(root, tmp_path / "col", pred_encoding="color")
    assert r_col.metrics["miou@1"]["values"]["mIoU"] == a["values"]["mIoU"]


def test_prediction_naming_conventions(cs, tmp_path):
    root, d = cs
    ids = Cityscapes(root).sample_ids()
    # nested folders and arbitrary prefixes / suffixes around <city>_<seq>_<frame>
    for i, sid in enumerate(ids):
        sub = tmp_path / "p" / sid.split("_")[0]
        sub.mkdir(parents=True, exist_ok=True)
        shutil.copy(d / "pred" / f"{sid}_pred.png", sub / f"model_{sid}_leftImg8bit.png")
    ds = Cityscapes(root)
    src = ds.predictions(tmp_path / "p")
    assert src.available() == set(ids) and len(src.files()) == len(ids)
    # two files for one image: an error, unless one of them is the *_labelIds one
    shutil.copy(d / "pred" / f"{ids[0]}_pred.png", tmp_path / "p" / f"{ids[0]}_other.png")
    with pytest.raises(BadInputError, match="found 2 for " + ids[0]):
        ds.predictions(tmp_path / "p")
    shutil.move(tmp_path / "p" / f"{ids[0]}_other.png", tmp_path / "p" / f"{ids[0]}_gtFine_labelIds.png")
    assert ds.predictions(tmp_path / "p").index[ids[0]].endswith("_labelIds.png")
    with pytest.raises(UsageError, match="pred-encoding"):
        ds.predictions(tmp_path / "p", pred_encoding="rgbx")


def test_missing_extra_and_void(cs, tmp_path):
    root, d = cs
    ids = Cityscapes(root).sample_ids()
    shutil.copytree(d / "pred", tmp_path / "p")
    (tmp_path / "p" / f"{ids[1]}_pred.png").unlink()
    shutil.copy(d / "pred" / f"{ids[0]}_pred.png", tmp_path / "p" / "munich_000001_000002_pred.png")
    warned = []
    ds = Cityscapes(root)
    with pytest.raises(BadInputError, match="1 missing \\(first: " + ids[1]):
        evaluate_run(ds, ds.predictions(tmp_path / "p"), ds.build_metrics(None))
    rec, out = evaluate_run(ds, ds.predictions(tmp_path / "p"), ds.build_metrics(None), missing="void",
                            warn=warned.append)
    assert warned and "munich_000001_000002" in warned[0]
    full, _ = _eval(root, d / "pred")
    assert rec.metrics["miou@1"]["values"]["mIoU"] < full.metrics["miou@1"]["values"]["mIoU"]


def test_bad_predictions(cs, tmp_path):
    root, d = cs
    ids = Cityscapes(root).sample_ids()
    shutil.copytree(d / "pred", tmp_path / "p")
    a = read_label(tmp_path / "p" / f"{ids[2]}_pred.png")
    a[0, :5] = 200
    write_label(tmp_path / "p" / f"{ids[2]}_pred.png", a)
    with pytest.raises(BadInputError, match=f"{ids[2]}_pred.png.*200 \\(5 px\\)"):
        _eval(root, tmp_path / "p")
    write_label(tmp_path / "p" / f"{ids[2]}_pred.png", a[10:20])
    with pytest.raises(BadInputError, match="48x96.*10x96"):
        _eval(root, tmp_path / "p")
    rec, _ = _eval(root, tmp_path / "p", resize="nearest")
    assert rec.metrics["miou@1"]["values"]["mIoU"] > 0


# ------------------------------------------------------------------ CLI
def test_cli_eval_cityscapes(cs, tmp_path, capsys):
    root, d = cs
    out = tmp_path / "r.json"
    code = main(["eval", str(d / "pred"), "--dataset", "cityscapes", "--gt", str(root), "--json", str(out)])
    o, e = capsys.readouterr()
    assert code == 0, e
    rec = json.loads(out.read_text())
    vals = rec["metrics"]["miou@1"]["values"]
    assert set(vals) >= {"mIoU", "mAcc", "aAcc", "fwIoU", "mDice", "iIoU", "mIoU_category", "iIoU_category"}
    assert rec["dataset"] == "cityscapes@1" and "road" in o
    ref = _reference(root, d / "pred", Cityscapes(root).sample_ids())
    assert abs(vals["mIoU"] - ref["averageScoreClasses"]) < 1e-9
    code = main(["eval", str(d / "pred_train"), "--dataset", "cityscapes", "--gt", str(root),
                 "--pred-encoding", "trainid", "--workers", "2", "--fail-under", "mIoU=0.99"])
    o, e = capsys.readouterr()
    assert code == 1 and "mIoU" in e
    code = main(["eval", str(d / "pred"), "--dataset", "cityscape", "--gt", str(root)])
    o, e = capsys.readouterr()
    assert code == 2 and "did you mean 'cityscapes'" in e and "Traceback" not in e

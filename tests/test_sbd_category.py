"""SBD's category-aware boundary benchmark (``--task category``, ``category_boundary``)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from segbench.cli import main
from segbench.datasets.sbd import SBD
from segbench.engine import evaluate_run
from segbench.errors import NotFoundError
from segbench.metrics import get_metric
from segbench.types import BoundaryMaps, BoundaryPrediction, MultiLabelMasks, MultiLabelPrediction, Sample


def _write_preds(ds, out, seed=0, noise=0.3):
    """Per-category soft maps: the class's GT boundary shifted / jittered, plus false edges."""
    rng = np.random.default_rng(seed)
    for sid in ds.sample_ids():
        gt = ds.load(sid).target.masks
        for k in range(20):
            pb = np.zeros(gt.shape[1:])
            if gt[k].any():
                pb[np.roll(gt[k], int(rng.integers(-1, 2)), axis=0)] = rng.uniform(0.4, 1.0)
            fp = rng.random(gt.shape[1:]) < 0.01 * (k % 3)
            pb[fp] = np.maximum(pb[fp], rng.random(int(fp.sum())) * noise)
            d = out / f"class_{k + 1:03d}"
            d.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.round(pb * 255).astype(np.uint8)).save(d / f"{sid}.png")
    return out


@pytest.fixture
def sbd(tmp_path):
    root = SBD.make_fake(tmp_path / "sbd", num_samples=4, seed=3, size=(40, 56))
    ds = SBD(root, split="val", task="category")
    return root, ds, _write_preds(ds, tmp_path / "pred")


def test_category_targets_and_label_space(sbd):
    root, ds, _ = sbd
    s = ds.load(ds.sample_ids()[0])
    assert isinstance(s.target, MultiLabelMasks) and s.target.masks.shape == (20, 40, 56)
    ls = ds.label_space()
    assert ls.num_classes == 20 and ls.eval_classes[0].name == "aeroplane"
    assert ds.default_metrics() == ("category_boundary",)
    # instance GT grouped by category gives the same union per class as the class maps here
    si = SBD(root, split="val", task="category", gt="inst").load(ds.sample_ids()[0])
    assert si.target.masks.shape == (20, 40, 56)


def test_equals_bsds_boundary_run_per_category(sbd):
    _, ds, pred = sbd
    rec, _ = evaluate_run(ds, ds.predictions(pred), ds.build_metrics(["category_boundary"]), workers=2)
    res = rec.metrics["category_boundary@1"]
    counts = np.asarray(res["artifacts"]["counts"])
    src = ds.predictions(pred)
    present = []
    for k in range(20):
        m = get_metric("bsds_boundary", None, max_dist=0.02)
        for sid in ds.sample_ids():
            s = ds.load(sid)
            gt_k = s.target.masks[k]
            pb = src.load(s).masks[k]
            if not gt_k.any() and not (pb >= 0.01).any():
                continue
            m.update(BoundaryPrediction(pb), Sample(sid, None, BoundaryMaps(gt_k[None])))
        if not m.per_image:
            assert counts[k].sum() == 0
            continue
        tot = sum(m.per_image.values())
        np.testing.assert_array_equal(counts[k], tot)
        name = ds.label_space().eval_classes[k].name
        if tot[1].max() > 0:
            present.append(k)
            r = m.compute()
            assert res["per_class"][name]["ODS"] == r.values["ODS"]
            assert res["per_class"][name]["AP"] == r.values["AP_boundary"]
            assert abs(res["per_class"][name]["OIS"] - r.values["OIS"]) <= 1e-12
    assert present
    assert res["values"]["mF_ODS"] == pytest.approx(
        np.mean([res["per_class"][ds.label_space().eval_classes[k].name]["ODS"] for k in present]), abs=1e-15)


def test_images_present_option_drops_false_edges_of_absent_classes(sbd):
    _, ds, pred = sbd
    allm = evaluate_run(ds, ds.predictions(pred), ds.build_metrics(["category_boundary"]))[0]
    pres = evaluate_run(ds, ds.predictions(pred),
                        ds.build_metrics(["category_boundary"], {"category_boundary": {"images": "present"}}))[0]
    a = allm.metrics["category_boundary@1"]["values"]["mF_ODS"]
    b = pres.metrics["category_boundary@1"]["values"]["mF_ODS"]
    assert b >= a


def test_cli_and_missing_category_folder(sbd, tmp_path, capsys):
    root, ds, pred = sbd
    assert main(["eval", str(pred), "--dataset", "sbd", "--gt", str(root), "--split", "val", "--task", "category",
                 "--json", str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    assert "mF_ODS" in out
    import shutil
    shutil.rmtree(pred / "class_007")
    with pytest.raises(NotFoundError, match="class_007"):
        ds.predictions(pred)
    assert main(["eval", str(pred), "--dataset", "sbd", "--gt", str(root), "--split", "val", "--task", "category"]) == 2


def test_metric_merge_and_state_roundtrip():
    rng = np.random.default_rng(1)
    gt = np.zeros((3, 50, 60), bool)
    gt[0, 20, 5:55] = True
    gt[2, 5:45, 30] = True
    samples = []
    for i in range(4):
        pb = rng.random((3, 50, 60)) * 0.2
        pb[0, 21, 5:55] = 0.9
        samples.append((MultiLabelPrediction(pb), Sample(f"s{i}", None, MultiLabelMasks(gt))))
    one = get_metric("category_boundary", None, nthresh=9)
    for p, s in samples:
        one.update(p, s)
    a, b = get_metric("category_boundary", None, nthresh=9), get_metric("category_boundary", None, nthresh=9)
    for p, s in samples[:1]:
        a.update(p, s)
    for p, s in samples[1:]:
        b.update(p, s)
    merged = type(a).from_state(b.merge(a).state_dict(), None, nthresh=9)
    assert merged.compute().values == one.compute().values
    v = one.compute()
    assert v.per_class["1"]["ODS"] is None and v.values["mF_ODS"] == pytest.approx(
        (v.per_class["0"]["ODS"] + v.per_class["2"]["ODS"]) / 2)

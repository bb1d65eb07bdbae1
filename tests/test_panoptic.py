"""PQ parity with panopticapi (real COCO samples + seeded synthetic sets), shard merge, bad input,
Cityscapes panoptic parity with cityscapesScripts, PQ† parity with torchmetrics, CLI end to end."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from segbench.datasets.coco_panoptic import CocoPanoptic, CocoPanopticStyle, write_fake_panoptic, write_fake_predictions
from segbench.engine import evaluate_samples
from segbench.errors import BadInputError, NotFoundError
from segbench.io.panoptic import (available_backends, id_to_rgb, load_panoptic_json, read_panoptic_png, rgb_to_id,
                                  write_panoptic_json, write_panoptic_png)
from segbench.metrics.functional.panoptic import pair_counts, pq_image_stats

DATA = Path(__file__).resolve().parent / "data" / "panoptic"
TOL = 1e-12


# --------------------------------------------------------------------------- helpers
def _panopticapi(gt_json, pred_json, gt_folder=None, pred_folder=None):
    """panopticapi's single-core evaluation (no process pool) → results dict as pq_compute returns."""
    E = pytest.importorskip("panopticapi.evaluation")
    gt = json.load(open(gt_json))
    pr = json.load(open(pred_json))
    gt_folder = gt_folder or str(gt_json).replace(".json", "")
    pred_folder = pred_folder or str(pred_json).replace(".json", "")
    cats = {c["id"]: c for c in gt["categories"]}
    by = {a["image_id"]: a for a in pr["annotations"]}
    pairs = [(a, by[a["image_id"]]) for a in gt["annotations"]]
    with contextlib.redirect_stdout(io.StringIO()):
        st = E.pq_compute_single_core(0, pairs, gt_folder, pred_folder, cats)
    res = {}
    for name, isthing in (("All", None), ("Things", True), ("Stuff", False)):
        res[name], per = st.pq_average(cats, isthing=isthing)
        if name == "All":
            res["per_class"] = per
    res["stat"] = st
    return res


def _segbench(ds, pred_json, workers=1, metrics=("pq",), **opts):
    src = ds.predictions(pred_json, **opts)
    out = evaluate_samples(ds, src, ds.build_metrics(list(metrics)), workers=workers)
    return out


def _assert_parity(values, per_class, ref, label_space, artifacts=None):
    for suf, key in (("", "All"), ("_th", "Things"), ("_st", "Stuff")):
        for m in ("PQ", "SQ", "RQ"):
            assert abs(values[m + suf] - ref[key][m.lower()]) <= TOL, (m + suf, values[m + suf], ref[key])
        if artifacts is not None:
            assert artifacts["num_classes_averaged"]["N" + suf] == ref[key]["n"]
    checked = 0
    for c in label_space.eval_classes:
        s = ref["stat"].pq_per_cat[c.id]
        pc = per_class[c.name]
        if artifacts is not None:
            k = artifacts["classes"].index(c.name)
            assert (artifacts["tp"][k], artifacts["fp"][k], artifacts["fn"][k]) == (s.tp, s.fp, s.fn), c.name
        if s.tp + s.fp + s.fn:
            checked += 1
            for m in ("pq", "sq", "rq"):
                assert abs(pc[m] - ref["per_class"][c.id][m]) <= TOL
        else:
            assert np.isnan(pc["pq"])
    assert checked > 0


def _perturbed_copy(tmp_path, seed, strength=1.0):
    """Real GT copied into tmp as gt.json + gt/; predictions perturbed from it with a seed."""
    gt_json = tmp_path / "gt.json"
    shutil.copy(DATA / "panoptic_examples.json", gt_json)
    shutil.copytree(DATA / "panoptic_examples", tmp_path / "gt")
    pred = write_fake_predictions(gt_json, tmp_path / f"pred{seed}.json", seed=seed, strength=strength)
    return gt_json, pred


# --------------------------------------------------------------------------- io
def test_rgb_id_roundtrip_and_backends(tmp_path):
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 1 << 24, size=(7, 5)).astype(np.uint32)
    rgb = id_to_rgb(ids)
    ref = rgb[..., 0].astype(np.uint32) + 256 * rgb[..., 1].astype(np.uint32) + 65536 * rgb[..., 2].astype(np.uint32)
    assert (ref == ids).all() and (rgb_to_id(rgb) == ids).all()
    rgba = np.concatenate([rgb, np.full((7, 5, 1), 255, np.uint8)], -1)
    assert (rgb_to_id(rgba) == ids).all()
    p = tmp_path / "a.png"
    write_panoptic_png(p, ids)
    for b in available_backends():
        assert (read_panoptic_png(p, backend=b) == ids).all(), b
    # the real PNGs: every backend equals panopticapi's rgb2id
    from PIL import Image
    for f in sorted((DATA / "panoptic_examples").glob("*.png")):
        a = np.array(Image.open(f), dtype=np.uint32)
        want = a[..., 0] + 256 * a[..., 1] + 256 * 256 * a[..., 2]
        for b in available_backends():
            assert (read_panoptic_png(f, backend=b) == want).all(), (f.name, b)


def test_single_pixel_and_palette_png(tmp_path):
    from PIL import Image
    ids = np.array([[123456]], np.uint32)
    write_panoptic_png(tmp_path / "one.png", ids)
    for b in available_backends():
        assert read_panoptic_png(tmp_path / "one.png", backend=b)[0, 0] == 123456
    im = Image.fromarray(id_to_rgb(np.array([[5, 70000], [0, 5]], np.uint32))).convert("P", palette=Image.Palette.ADAPTIVE)
    im.save(tmp_path / "pal.png")
    assert read_panoptic_png(tmp_path / "pal.png").tolist() == [[5, 70000], [0, 5]]


def test_pair_counts_matches_unique():
    rng = np.random.default_rng(3)
    g = rng.integers(0, 4, size=(13, 17)).astype(np.uint32) * 1000
    p = rng.integers(0, 5, size=(13, 17)).astype(np.uint32)
    gg, pp, n = pair_counts(g, p)
    u, c = np.unique(g.astype(np.uint64) * (1 << 32) + p, return_counts=True)
    assert gg.tolist() == (u >> np.uint64(32)).astype(np.int64).tolist()
    assert pp.tolist() == (u & np.uint64(0xFFFFFFFF)).astype(np.int64).tolist()
    assert n.tolist() == c.tolist() and n.sum() == g.size



def _runs_by_loop(g, p):
    g, p = g.ravel().tolist(), p.ravel().tolist()
    starts = [i for i in range(len(g)) if i == 0 or g[i] != g[i - 1] or p[i] != p[i - 1]]
    ends = starts[1:] + [len(g)]
    return [g[i] for i in starts], [p[i] for i in starts], [b - a for a, b in zip(starts, ends)]


@pytest.mark.parametrize("small_scratch", [False, True])
def test_run_lengths_match_a_pixel_loop(monkeypatch, small_scratch):
    """Sizes around the 8-pixel words of the run-start search, run after larger images (stale scratch
    masks) and with fresh masks (images over the scratch limit)."""
    import segbench.metrics.functional.panoptic as FP
    if small_scratch:
        monkeypatch.setattr(FP, "_SCRATCH_MAX", 0)
    rng = np.random.default_rng(11)
    shapes = [(40, 50), (1, 1), (1, 7), (1, 8), (1, 9), (3, 21), (8, 8), (1, 65), (13, 17), (100, 101), (2, 3)]
    for shape, k, dense in [(s, k, d) for s in shapes for k in (1, 3, 40) for d in (False, True)]:
        if dense:
            g = rng.integers(0, k, size=shape).astype(np.uint32)
            p = rng.integers(0, k, size=shape).astype(np.uint32)
        else:  # long runs, as in real maps
            n = shape[0] * shape[1]
            g = np.repeat(rng.integers(0, k, n), rng.integers(1, 30, n))[:n].astype(np.uint32).reshape(shape)
            p = np.repeat(rng.integers(0, k, n), rng.integers(1, 30, n))[:n].astype(np.uint32).reshape(shape)
        gv, pv, n = FP.run_lengths(g, p)
        ref = _runs_by_loop(g, p)
        assert (gv.tolist(), pv.tolist(), n.tolist()) == ref, (shape, k, dense)


def test_flatnonzero_words_is_flatnonzero():
    from segbench.metrics.functional.panoptic import _flatnonzero_words
    rng = np.random.default_rng(5)
    for n in (8, 16, 64, 1000, 4096, 307200):
        for density in (0.0, 0.001, 0.03, 0.5, 1.0):
            m = rng.random(n) < density
            got = _flatnonzero_words(m)
            assert got.dtype == np.intp and got.tolist() == np.flatnonzero(m).tolist(), (n, density)


def test_per_sample_means_are_those_of_numpy(tmp_path):
    """The per-image PQ / SQ / RQ (plain Python + one 2-row reduce) are bitwise the means of the
    vectorised per-class formulas over the classes present in the image."""
    gt_json = write_fake_panoptic(tmp_path / "gt.json", num_samples=10, seed=4, size=(60, 80), num_segments=30)
    pred = write_fake_predictions(gt_json, tmp_path / "pred.json", seed=9, strength=1.0)
    ds = CocoPanopticStyle(gt_json)
    r = _segbench(ds, pred).results["pq@1"]
    cats = {int(c.id): int(c.train_id) for c in ds.label_space().eval_classes}
    gt, pr = load_panoptic_json(gt_json), load_panoptic_json(pred)
    by = {a["image_id"]: a for a in pr.annotations}
    checked = 0
    for a in gt.annotations:
        b = by[a["image_id"]]
        st = pq_image_stats(read_panoptic_png(tmp_path / "gt" / a["file_name"]), a["segments_info"],
                            read_panoptic_png(tmp_path / "pred" / b["file_name"]), b["segments_info"], cats, len(cats))
        sel = (st["tp"] + st["fp"] + st["fn"]) > 0
        tp, fp, fn, iou = (st[k][sel].astype(np.float64) for k in ("tp", "fp", "fn", "iou"))
        den = tp + 0.5 * fp + 0.5 * fn
        with np.errstate(divide="ignore", invalid="ignore"):
            want = {"PQ": (iou / den).mean(), "SQ": np.where(tp > 0, iou / tp, 0.0).mean(), "RQ": (tp / den).mean()}
        got = r.per_sample[str(a["image_id"])]
        assert all(got[k] == float(want[k]) for k in want), (a["image_id"], got, want)
        checked += sel.sum() > 1
    assert checked >= 5

# --------------------------------------------------------------------------- parity: real samples
def test_identity_on_real_samples(tmp_path):
    gt_json = tmp_path / "gt.json"
    shutil.copy(DATA / "panoptic_examples.json", gt_json)
    shutil.copytree(DATA / "panoptic_examples", tmp_path / "gt")
    ds = CocoPanopticStyle(gt_json)
    out = _segbench(ds, gt_json, pred_folder=str(tmp_path / "gt"))
    r = out.results["pq@1"]
    ref = _panopticapi(gt_json, gt_json, pred_folder=str(tmp_path / "gt"))
    _assert_parity(r.values, r.per_class, ref, ds.label_space(), r.artifacts)
    assert r.values["PQ"] == 1.0 and r.values["SQ"] == 1.0


@pytest.mark.parametrize("seed,strength", [(1, 1.0), (2, 2.0), (3, 0.5), (4, 3.0)])
def test_parity_real_samples_perturbed(tmp_path, seed, strength):
    gt_json, pred = _perturbed_copy(tmp_path, seed, strength)
    ds = CocoPanopticStyle(gt_json)
    r = _segbench(ds, pred).results["pq@1"]
    _assert_parity(r.values, r.per_class, _panopticapi(gt_json, pred), ds.label_space(), r.artifacts)
    assert 0 < r.values["PQ"] < 1


# --------------------------------------------------------------------------- parity: synthetic with crowd + void
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_parity_synthetic_crowd_void(tmp_path, seed):
    gt_json = write_fake_panoptic(tmp_path / "gt.json", num_samples=12, seed=seed, size=(60, 80), num_segments=14)
    gt = load_panoptic_json(gt_json)
    n_crowd = sum(s["iscrowd"] for a in gt.annotations for s in a["segments_info"])
    n_void = sum(int((read_panoptic_png(tmp_path / "gt" / a["file_name"]) == 0).sum()) for a in gt.annotations)
    assert n_crowd > 0 and n_void > 0
    pred = write_fake_predictions(gt_json, tmp_path / "pred.json", seed=seed + 10, strength=1.5)
    ds = CocoPanopticStyle(gt_json)
    r = _segbench(ds, pred).results["pq@1"]
    ref = _panopticapi(gt_json, pred)
    _assert_parity(r.values, r.per_class, ref, ds.label_space(), r.artifacts)
    # per-sample values exist for each image
    assert set(r.per_sample) == set(ds.sample_ids())


def _write_case(tmp_path, name, gt_ids, gt_segs, pr_ids, pr_segs, cats):
    write_panoptic_png(tmp_path / "gt" / f"{name}.png", gt_ids)
    write_panoptic_png(tmp_path / "pred" / f"{name}.png", pr_ids)
    return ({"image_id": name, "file_name": f"{name}.png", "segments_info": gt_segs},
            {"image_id": name, "file_name": f"{name}.png", "segments_info": pr_segs})


def test_parity_handmade_edge_cases(tmp_path):
    """Crowd-covering predictions, mostly-void predictions, IoU exactly 0.5, two crowds of one class,
    GT segment missing from the PNG, a GT id in the PNG but not in the JSON, JSON areas that differ
    from the PNG counts."""
    cats = [{"id": 1, "name": "person", "isthing": 1}, {"id": 2, "name": "car", "isthing": 1},
            {"id": 7, "name": "sky", "isthing": 0}, {"id": 9, "name": "road", "isthing": 0}]
    gts, prs = [], []
    # 1: crowd person (id 5) covered by a person prediction -> ignored; one crowd per class (last wins)
    g = np.zeros((10, 10), np.uint32); g[:, :5] = 5; g[:, 5:] = 6; g[0, :] = 0
    p = np.zeros((10, 10), np.uint32); p[:, :5] = 50; p[:, 5:] = 60
    a, b = _write_case(tmp_path, "a", g, [{"id": 5, "category_id": 1, "iscrowd": 1, "area": 45},
                                          {"id": 6, "category_id": 1, "iscrowd": 1, "area": 45}],
                       p, [{"id": 50, "category_id": 1}, {"id": 60, "category_id": 1}], cats)
    gts.append(a); prs.append(b)
    # 2: IoU exactly 0.5 (not a match), prediction mostly on void (ignored), wrong class
    g = np.zeros((8, 8), np.uint32); g[:4, :4] = 3; g[4:, :] = 9
    p = np.zeros((8, 8), np.uint32); p[:4, :2] = 30; p[4:, :] = 90; p[:4, 4:] = 31; p[:1, 2:4] = 32
    a, b = _write_case(tmp_path, "b", g, [{"id": 3, "category_id": 2, "iscrowd": 0, "area": 16},
                                          {"id": 9, "category_id": 9, "iscrowd": 0, "area": 32}],
                       p, [{"id": 30, "category_id": 2}, {"id": 90, "category_id": 7},
                           {"id": 31, "category_id": 1}, {"id": 32, "category_id": 9}], cats)
    gts.append(a); prs.append(b)
    # 3: JSON area differs from PNG; GT segment absent from PNG; GT PNG id absent from JSON
    g = np.zeros((6, 6), np.uint32); g[:3] = 4; g[3:] = 77
    p = np.zeros((6, 6), np.uint32); p[:3] = 40; p[3:, :3] = 41
    a, b = _write_case(tmp_path, "c", g, [{"id": 4, "category_id": 7, "iscrowd": 0, "area": 30},
                                          {"id": 8, "category_id": 2, "iscrowd": 0, "area": 5}],
                       p, [{"id": 40, "category_id": 7}, {"id": 41, "category_id": 9}], cats)
    gts.append(a); prs.append(b)
    write_panoptic_json(tmp_path / "gt.json", gts, cats)
    write_panoptic_json(tmp_path / "pred.json", prs, cats)
    ds = CocoPanopticStyle(tmp_path / "gt.json")
    r = _segbench(ds, tmp_path / "pred.json").results["pq@1"]
    ref = _panopticapi(tmp_path / "gt.json", tmp_path / "pred.json")
    _assert_parity(r.values, r.per_class, ref, ds.label_space(), r.artifacts)
    # gt_area="png" is the documented alternative and differs here
    from segbench.metrics import get_metric
    m = get_metric("pq", ds.label_space(), gt_area="png")
    src = ds.predictions(tmp_path / "pred.json")
    for sid in ds.sample_ids():
        s = ds.load(sid)
        m.update(src.load(s), s)
    assert m.compute().values["PQ"] != r.values["PQ"]


# --------------------------------------------------------------------------- shard merge
def test_workers_and_state_merge_identical(tmp_path):
    root = CocoPanoptic.make_fake(tmp_path / "coco", num_samples=20, seed=5, size=(40, 56))
    ds = CocoPanoptic(root)
    gt_json = root / "annotations" / "panoptic_val2017.json"
    pred = write_fake_predictions(gt_json, tmp_path / "pred.json", seed=6)
    src = ds.predictions(pred)
    metrics = ds.build_metrics(["pq", "pq_modified"])
    one = evaluate_samples(ds, src, metrics, workers=1, chunk_size=3)
    two = evaluate_samples(ds, src, metrics, workers=2, chunk_size=3)
    for a, b in zip(one.metrics, two.metrics):
        sa, sb = a.state_dict(), b.state_dict()
        for k in ("tp", "fp", "fn"):
            assert np.array_equal(sa[k], sb[k])
        assert sa["iou"].tobytes() == sb["iou"].tobytes()
    assert one.results["pq@1"].values == two.results["pq@1"].values
    # shards merged == one pass (integer state bit for bit; float sum to rounding)
    ids = ds.sample_ids()
    whole = evaluate_samples(ds, src, metrics[:1], ids=ids, chunk_size=len(ids)).metrics[0]
    h1 = evaluate_samples(ds, src, metrics[:1], ids=ids[:7]).metrics[0]
    h2 = evaluate_samples(ds, src, metrics[:1], ids=ids[7:]).metrics[0]
    h1.merge(h2)
    for k in ("tp", "fp", "fn"):
        assert np.array_equal(h1.state_dict()[k], whole.state_dict()[k])
    assert np.allclose(h1.state_dict()["iou"], whole.state_dict()["iou"], rtol=0, atol=1e-12)
    ref = _panopticapi(gt_json, pred, gt_folder=str(gt_json.with_suffix("")))
    _assert_parity(one.results["pq@1"].values, one.results["pq@1"].per_class, ref, ds.label_space(),
                   one.results["pq@1"].artifacts)


# --------------------------------------------------------------------------- bad input
def _bad_setup(tmp_path):
    gt_json, pred = _perturbed_copy(tmp_path, 1)
    return gt_json, pred, json.load(open(pred))


def _eval_expect(tmp_path, gt_json, pred_json, match):
    ds = CocoPanopticStyle(gt_json)
    with pytest.raises(BadInputError, match=match):
        _segbench(ds, pred_json)


def test_bad_segment_in_png_not_in_json(tmp_path):
    gt_json, pred, d = _bad_setup(tmp_path)
    ann = d["annotations"][0]
    dropped = ann["segments_info"].pop(2)
    json.dump(d, open(pred, "w"))
    _eval_expect(tmp_path, gt_json, pred, rf"image {ann['image_id']}.*segment {dropped['id']} is in the PNG but not in the JSON")


def test_bad_unknown_category(tmp_path):
    gt_json, pred, d = _bad_setup(tmp_path)
    ann = d["annotations"][1]
    ann["segments_info"][0]["category_id"] = 9999
    json.dump(d, open(pred, "w"))
    _eval_expect(tmp_path, gt_json, pred, rf"image {ann['image_id']}.*segment {ann['segments_info'][0]['id']} has category_id 9999")


def test_bad_duplicate_segment(tmp_path):
    gt_json, pred, d = _bad_setup(tmp_path)
    ann = d["annotations"][0]
    ann["segments_info"].append(dict(ann["segments_info"][0]))
    json.dump(d, open(pred, "w"))
    _eval_expect(tmp_path, gt_json, pred, rf"image {ann['image_id']}.*segment id {ann['segments_info'][0]['id']} appears twice")


def test_bad_json_segment_absent_from_png(tmp_path):
    gt_json, pred, d = _bad_setup(tmp_path)
    ann = d["annotations"][0]
    ann["segments_info"].append({"id": 4242, "category_id": ann["segments_info"][0]["category_id"]})
    json.dump(d, open(pred, "w"))
    _eval_expect(tmp_path, gt_json, pred, rf"image {ann['image_id']}.*segment 4242 is in the JSON's segments_info but not in the PNG")


def test_bad_files(tmp_path):
    gt_json, pred, d = _bad_setup(tmp_path)
    ds = CocoPanopticStyle(gt_json)
    with pytest.raises(NotFoundError, match="prediction PNG folder"):
        ds.predictions(pred, pred_folder=str(tmp_path / "nope"))
    (tmp_path / "pred1" / d["annotations"][0]["file_name"]).unlink()
    with pytest.raises(NotFoundError, match="no such file"):
        _segbench(ds, pred)
    # a grey-level PNG is not an RGB-id image
    from PIL import Image
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "pred1" / d["annotations"][0]["file_name"])
    with pytest.raises(BadInputError, match="8-bit RGB PNG"):
        _segbench(ds, pred)
    with pytest.raises(BadInputError, match="ground truth's size"):
        write_panoptic_png(tmp_path / "pred1" / d["annotations"][0]["file_name"], np.zeros((4, 4), np.uint32))
        d["annotations"][0]["segments_info"] = []
        json.dump(d, open(pred, "w"))
        _segbench(ds, pred)
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "broken").mkdir()
    with pytest.raises(BadInputError, match="valid JSON"):
        CocoPanopticStyle(tmp_path / "broken.json").sample_ids()


def test_functional_error_messages_name_image_and_segment():
    ids = np.array([[1, 2]], np.uint32)
    segs = [{"id": 1, "category_id": 1, "iscrowd": 0, "area": 1}]
    with pytest.raises(BadInputError, match=r"image 'x'.*segment 2 is in the PNG"):
        pq_image_stats(ids, segs, ids, segs, {1: 0}, 1, image="x")
    with pytest.raises(BadInputError, match=r"image 'x'.*ground-truth segment id 1 appears twice"):
        one = np.array([[1, 1]], np.uint32)
        pq_image_stats(one, segs + segs, one, segs, {1: 0}, 1, image="x")


# --------------------------------------------------------------------------- cityscapes panoptic
def test_cityscapes_panoptic_parity(tmp_path):
    ev = pytest.importorskip("cityscapesscripts.evaluation.evalPanopticSemanticLabeling")
    from segbench.datasets.cityscapes_panoptic import CityscapesPanoptic
    root = CityscapesPanoptic.make_fake(tmp_path / "cs", num_samples=6, seed=2, size=(48, 96))
    js = root / "gtFine" / "cityscapes_panoptic_val.json"
    gt = load_panoptic_json(js)
    assert any(s["iscrowd"] for a in gt.annotations for s in a["segments_info"])
    assert all(s["id"] == s["category_id"] or s["id"] // 1000 == s["category_id"]
               for a in gt.annotations for s in a["segments_info"])
    pred = write_fake_predictions(js, tmp_path / "res" / "cityscapes_panoptic_val.json", seed=3)
    ds = CityscapesPanoptic(root)
    r = _segbench(ds, tmp_path / "res").results["pq@1"]  # a folder holding the JSON is accepted
    with contextlib.redirect_stdout(io.StringIO()):
        ref = ev.evaluatePanoptic(str(js), str(js.with_suffix("")), str(pred), str(pred.with_suffix("")),
                                  str(tmp_path / "result.json"))
    for suf, key in (("", "All"), ("_th", "Things"), ("_st", "Stuff")):
        for m in ("PQ", "SQ", "RQ"):
            assert abs(r.values[m + suf] - ref[key][m.lower()]) <= TOL
    names = {c["id"]: c["name"] for c in gt.categories.values()}
    for cid, v in ref["per_class"].items():
        if not np.isnan(r.per_class[names[cid]]["pq"]):
            assert abs(r.per_class[names[cid]]["pq"] - v["pq"]) <= TOL
        else:
            assert v["pq"] == 0.0


# --------------------------------------------------------------------------- PQ† vs torchmetrics
def _tm_tensor(ids, segs, cats, void_cat, crowd_as_void=True):
    torch = pytest.importorskip("torch")
    out = np.zeros((*ids.shape, 2), np.int64)
    out[..., 0] = void_cat
    for s in segs:
        m = ids == s["id"]
        if crowd_as_void and s.get("iscrowd", 0) == 1:
            continue
        out[m, 0] = s["category_id"]
        out[m, 1] = s["id"] if cats[s["category_id"]]["isthing"] else 0
    return torch.from_numpy(out)[None]


@pytest.mark.parametrize("modified", [True, False])
def test_pq_modified_parity_torchmetrics(tmp_path, modified):
    pytest.importorskip("torchmetrics")
    from torchmetrics.detection import ModifiedPanopticQuality, PanopticQuality
    gt_json = write_fake_panoptic(tmp_path / "gt.json", num_samples=6, seed=7, size=(40, 48), num_segments=10)
    pred = write_fake_predictions(gt_json, tmp_path / "pred.json", seed=8)
    ds = CocoPanopticStyle(gt_json)
    gt = load_panoptic_json(gt_json)
    cats = gt.categories
    things = [c for c in cats if cats[c]["isthing"]]
    stuffs = [c for c in cats if not cats[c]["isthing"]]
    void_cat = max(cats) + 1
    tm = (ModifiedPanopticQuality(things, stuffs, allow_unknown_preds_category=True) if modified else
          PanopticQuality(things, stuffs, allow_unknown_preds_category=True, return_sq_and_rq=True))
    src = ds.predictions(pred)
    from segbench.metrics import get_metric
    m = get_metric("pq_modified", ds.label_space(), modified_stuff=modified)
    for sid in ds.sample_ids():
        s = ds.load(sid)
        p = src.load(s)
        m.update(p, s)
        tm.update(_tm_tensor(p.ids, p.segments, cats, void_cat, False), _tm_tensor(s.target.ids, s.target.segments, cats, void_cat))
    res = m.compute()
    ref = tm.compute()
    # torchmetrics' continuous ids: things sorted, then stuff sorted
    order = sorted(things) + sorted(stuffs)
    idx = {c.id: c.train_id for c in ds.label_space().eval_classes}
    st = m.state_dict()
    for k, tk in (("tp", "true_positives"), ("fp", "false_positives"), ("fn", "false_negatives")):
        assert [int(st[k][idx[c]]) for c in order] == getattr(tm, tk).tolist(), k
    assert max(abs(float(st["iou"][idx[c]]) - float(x)) for c, x in zip(order, tm.iou_sum.tolist())) <= TOL
    if modified:
        assert abs(res.values["PQ_mod"] - float(ref)) <= TOL
    else:
        pq, sq, rq = ref.tolist()
        assert abs(res.values["PQ_mod"] - pq) <= TOL and abs(res.values["SQ_mod"] - sq) <= TOL
        # torchmetrics' rq is float32 and torch averages it with its own float32 reduction order
        assert abs(res.values["RQ_mod"] - rq) <= 2e-7


# --------------------------------------------------------------------------- CLI
def test_cli_eval_coco_panoptic_style(tmp_path, capsys):
    from segbench.cli import main
    gt_json, pred = _perturbed_copy(tmp_path, 2)
    out = tmp_path / "rec.json"
    rc = main(["eval", str(pred), "--dataset", "coco-panoptic-style", "--gt", str(gt_json), "--json", str(out)])
    assert rc == 0
    rec = json.load(open(out))
    vals = rec["metrics"]["pq@1"]["values"]
    ref = _panopticapi(gt_json, pred)
    assert abs(vals["PQ"] - ref["All"]["pq"]) <= TOL and abs(vals["PQ_st"] - ref["Stuff"]["pq"]) <= TOL
    # --gt-folder / --pred-folder override the folders beside the JSONs
    shutil.move(str(tmp_path / "gt"), str(tmp_path / "gt_pngs"))
    shutil.move(str(pred.with_suffix("")), str(tmp_path / "pred_pngs"))
    rc = main(["eval", str(pred), "--dataset", "coco-panoptic-style", "--gt", str(gt_json), "--gt-folder",
               str(tmp_path / "gt_pngs"), "--pred-folder", str(tmp_path / "pred_pngs"), "--json", str(out),
               "--metrics", "pq,pq_modified", "--workers", "2"])
    assert rc == 0
    rec2 = json.load(open(out))
    assert rec2["metrics"]["pq@1"]["values"]["PQ"] == vals["PQ"]
    assert "PQ_mod" in rec2["metrics"]["pq_modified@1"]["values"]
    # bad input -> exit 2 with a one-line message naming the file
    rc = main(["eval", str(pred), "--dataset", "coco-panoptic-style", "--gt", str(gt_json)])
    err = capsys.readouterr().err
    assert rc == 2 and "gt_pngs" not in err and "folder" in err


def test_official_layout_missing_void_and_record(tmp_path):
    from segbench.cli import main
    root = CocoPanoptic.make_fake(tmp_path / "coco", num_samples=5, seed=9, size=(32, 40))
    gt_json = root / "annotations" / "panoptic_val2017.json"
    pred = write_fake_predictions(gt_json, tmp_path / "pred.json", seed=2)
    d = json.load(open(pred))
    dropped = d["annotations"].pop(0)
    json.dump(d, open(pred, "w"))
    assert main(["eval", str(pred), "--dataset", "coco-panoptic", "--gt", str(root)]) == 2  # missing prediction
    out = tmp_path / "r.json"
    assert main(["eval", str(pred), "--dataset", "coco-panoptic", "--gt", str(root), "--missing", "void",
                 "--json", str(out), "--fail-under", "PQ=0.0"]) == 0
    vals = json.load(open(out))["metrics"]["pq@1"]
    # the missing image counts as all-void: its GT segments are false negatives
    ds = CocoPanoptic(root)
    rest = evaluate_samples(ds, ds.predictions(pred), ds.build_metrics(["pq"]), ids=ds.sample_ids()[1:]).metrics[0]
    gt0 = load_panoptic_json(gt_json).by_image[dropped["image_id"]]["segments_info"]
    n0 = sum(1 for s in gt0 if not s["iscrowd"])
    assert sum(vals["artifacts"]["fn"]) == int(rest.state_dict()["fn"].sum()) + n0
    assert sum(vals["artifacts"]["fp"]) == int(rest.state_dict()["fp"].sum())
    assert str(dropped["image_id"]) in vals["per_sample"]
    assert main(["eval", str(pred), "--dataset", "coco-panoptic", "--gt", str(root), "--missing", "void",
                 "--fail-under", "PQ=0.99"]) == 1


def test_fuzz_tiny_images_vs_panopticapi(tmp_path):
    """Seeded fuzz on tiny maps: few ids so that overlaps, crowd, void, JSON areas that disagree with the
    PNG, GT ids missing from the JSON, and id 0 listed as a segment all occur."""
    rng = np.random.default_rng(123)
    cats = [{"id": 1, "name": "a", "isthing": 1}, {"id": 2, "name": "b", "isthing": 1},
            {"id": 3, "name": "c", "isthing": 0}, {"id": 4, "name": "d", "isthing": 0}]
    gts, prs = [], []
    for k in range(40):
        h, w = int(rng.integers(1, 7)), int(rng.integers(1, 9))
        gpool = rng.choice(np.arange(1, 40), size=int(rng.integers(1, 5)), replace=False).tolist() + [0]
        ppool = rng.choice(np.arange(1, 40), size=int(rng.integers(1, 5)), replace=False).tolist() + [0]
        g = rng.choice(gpool, size=(h, w)).astype(np.uint32)
        if rng.random() < 0.5:  # blocky maps: more matches
            g = np.repeat(g[:, :1], w, axis=1)
        p = np.where(rng.random((h, w)) < 0.8, g * 100 % 97 + 1, rng.choice(ppool, size=(h, w))).astype(np.uint32)
        p[rng.random((h, w)) < 0.1] = 0
        gsegs = []
        for sid in sorted(set(g.ravel().tolist())):
            if sid == 0 and rng.random() < 0.85:
                continue
            if rng.random() < 0.1:
                continue  # id in the PNG but not in the JSON
            area = int((g == sid).sum())
            if rng.random() < 0.15:
                area += int(rng.integers(-area + 1, 5)) if area > 1 else 1
            gsegs.append({"id": int(sid), "category_id": int(rng.integers(1, 5)),
                          "iscrowd": int(rng.random() < 0.25), "area": area})
        if rng.random() < 0.2:
            gsegs.append({"id": 999, "category_id": 1, "iscrowd": 0, "area": 3})  # absent from the PNG
        psegs = [{"id": int(sid), "category_id": int(rng.integers(1, 5))}
                 for sid in sorted(set(p.ravel().tolist())) if sid != 0 or rng.random() < 0.1]
        a, b = _write_case(tmp_path, f"im{k}", g, gsegs, p, psegs, cats)
        gts.append(a)
        prs.append(b)
    write_panoptic_json(tmp_path / "gt.json", gts, cats)
    write_panoptic_json(tmp_path / "pred.json", prs, cats)
    ds = CocoPanopticStyle(tmp_path / "gt.json")
    r = _segbench(ds, tmp_path / "pred.json").results["pq@1"]
    ref = _panopticapi(tmp_path / "gt.json", tmp_path / "pred.json")
    _assert_parity(r.values, r.per_class, ref, ds.label_space(), r.artifacts)


def test_validate_segments_and_gt_validation(tmp_path):
    from segbench.io.panoptic import validate_segments
    segs = [{"id": 3, "category_id": 1}, {"id": 4, "category_id": 2}]
    validate_segments(segs, {1, 2}, "img", present_ids=np.array([0, 3, 4]))
    with pytest.raises(BadInputError, match=r"image 'img': segment 5 is in the PNG but not in the JSON"):
        validate_segments(segs, {1, 2}, "img", present_ids=np.array([3, 4, 5]))
    with pytest.raises(BadInputError, match=r"image 'img': segment 4 is in the JSON's segments_info but not in the PNG"):
        validate_segments(segs, {1, 2}, "img", present_ids=np.array([3]))
    with pytest.raises(BadInputError, match=r"image 'img': segment 4 has category_id 2, which is not in the categories"):
        validate_segments(segs, {1}, "img")
    with pytest.raises(BadInputError, match=r"image 'img': segment id 3 appears twice"):
        validate_segments(segs + segs[:1], {1, 2}, "img")
    gt_json = write_fake_panoptic(tmp_path / "gt.json", num_samples=3, seed=4, size=(20, 24))
    CocoPanopticStyle(gt_json).validate()  # the fake twin is valid
    d = json.load(open(gt_json))
    d["annotations"][1]["segments_info"].pop()
    json.dump(d, open(gt_json, "w"))
    with pytest.raises(BadInputError, match=rf"image {d['annotations'][1]['image_id']}: segment \d+ is in the PNG"):
        CocoPanopticStyle(gt_json).validate()


def test_large_ids_fallback_and_threads(tmp_path):
    """Ids beyond 24 bits (API arrays) take the searchsorted path and give the same stats; concurrent
    threads (Dask workers) give the same stats as a sequential pass."""
    from concurrent.futures import ThreadPoolExecutor
    gt_json = write_fake_panoptic(tmp_path / "gt.json", num_samples=8, seed=11, size=(30, 40))
    pred = write_fake_predictions(gt_json, tmp_path / "pred.json", seed=12)
    ds = CocoPanopticStyle(gt_json)
    src = ds.predictions(pred)
    cat_idx = {c.id: c.train_id for c in ds.label_space().eval_classes}
    C = len(cat_idx)
    items = []
    for sid in ds.sample_ids():
        s = ds.load(sid)
        p = src.load(s)
        items.append((s.target.ids, s.target.segments, p.ids, p.segments))

    def run(it):
        return pq_image_stats(*it[:4], cat_idx, C)

    seq = [run(it) for it in items]
    with ThreadPoolExecutor(4) as ex:
        par = list(ex.map(run, items * 5))
    for a, b in zip(seq * 5, par):
        for k in ("tp", "fp", "fn", "iou"):
            assert np.array_equal(a[k], b[k])
    big = 1 << 30
    for (g, gs, p, ps), ref in zip(items, seq):
        g2 = np.where(g > 0, g.astype(np.int64) + big, 0)
        p2 = np.where(p > 0, p.astype(np.int64) + big, 0)
        gs2 = [dict(s, id=s["id"] + big) for s in gs]
        ps2 = [dict(s, id=s["id"] + big) for s in ps]
        st = pq_image_stats(g2, gs2, p2, ps2, cat_idx, C)
        for k in ("tp", "fp", "fn", "iou"):
            assert np.array_equal(st[k], ref[k]), k
    assert sum(int(x["tp"].sum()) for x in seq) > 0


def test_pq_compute_api_matches_panopticapi_layout(tmp_path):
    from segbench.metrics.panoptic import pq_compute
    gt_json, pred = _perturbed_copy(tmp_path, 5)
    mine = pq_compute(gt_json, pred, workers=2)
    ref = _panopticapi(gt_json, pred)
    for key in ("All", "Things", "Stuff"):
        assert mine[key]["n"] == ref[key]["n"]
        for m in ("pq", "sq", "rq"):
            assert abs(mine[key][m] - ref[key][m]) <= TOL
    assert set(mine["per_class"]) == set(ref["per_class"])
    for cid, v in ref["per_class"].items():
        for m in ("pq", "sq", "rq"):
            assert abs(mine["per_class"][cid][m] - v[m]) <= TOL


def test_crowd_option_last_vs_all(tmp_path):
    """Two crowd regions of one class, each covered by a prediction: panopticapi ignores only the one over
    the last crowd segment (default, matched); crowd="all" ignores both."""
    cats = [{"id": 1, "name": "person", "isthing": 1}, {"id": 3, "name": "sky", "isthing": 0}]
    g = np.full((6, 12), 9, np.uint32)
    g[:3, :4] = 5
    g[:3, 6:10] = 6
    p = np.full((6, 12), 90, np.uint32)
    p[:3, :4] = 50
    p[:3, 6:10] = 60
    a, b = _write_case(tmp_path, "x", g, [{"id": 5, "category_id": 1, "iscrowd": 1, "area": 12},
                                          {"id": 6, "category_id": 1, "iscrowd": 1, "area": 12},
                                          {"id": 9, "category_id": 3, "iscrowd": 0, "area": 48}],
                       p, [{"id": 50, "category_id": 1}, {"id": 60, "category_id": 1}, {"id": 90, "category_id": 3}],
                       cats)
    write_panoptic_json(tmp_path / "gt.json", [a], cats)
    write_panoptic_json(tmp_path / "pred.json", [b], cats)
    ds = CocoPanopticStyle(tmp_path / "gt.json")
    r = _segbench(ds, tmp_path / "pred.json").results["pq@1"]
    ref = _panopticapi(tmp_path / "gt.json", tmp_path / "pred.json")
    _assert_parity(r.values, r.per_class, ref, ds.label_space(), r.artifacts)
    assert r.artifacts["fp"][0] == 1
    from segbench.metrics import get_metric
    m = get_metric("pq", ds.label_space(), crowd="all")
    s = ds.load("x")
    m.update(ds.predictions(tmp_path / "pred.json").load(s), s)
    assert m.compute().artifacts["fp"][0] == 0


# --------------------------------------------------------------------------- unusual but valid JSON values; malformed JSON
def _one_image_case(tmp_path, name, g, gsegs, p, psegs, cats, gt_iid=1, pr_iid=1):
    root = tmp_path / name
    (root / "gt").mkdir(parents=True)
    (root / "pred").mkdir()
    write_panoptic_png(root / "gt" / "x.png", np.array(g, np.uint32))
    write_panoptic_png(root / "pred" / "x.png", np.array(p, np.uint32))
    (root / "gt.json").write_text(json.dumps({"annotations": [{"image_id": gt_iid, "file_name": "x.png",
                                                               "segments_info": gsegs}], "categories": cats}))
    (root / "pred.json").write_text(json.dumps({"annotations": [{"image_id": pr_iid, "file_name": "x.png",
                                                                 "segments_info": psegs}]}))
    return root / "gt.json", root / "pred.json"


def test_fractional_area_float_image_id_and_duplicate_names_follow_panopticapi(tmp_path):
    """A fractional JSON area enters the union unchanged; image_id 1.0 pairs with 1; two categories
    sharing a name keep separate per-class results."""
    from segbench.metrics.panoptic import pq_compute
    cats = [{"id": 1, "name": "a", "isthing": 1}, {"id": 5, "name": "a", "isthing": 0}]
    gt, pred = _one_image_case(tmp_path, "c1", [[5, 5, 5, 5, 7, 7]],
                               [dict(id=5, category_id=1, iscrowd=0, area=3.5),
                                dict(id=7, category_id=5, iscrowd=0, area=2)],
                               [[9, 9, 9, 0, 8, 8]], [dict(id=9, category_id=1), dict(id=8, category_id=5)], cats,
                               gt_iid=1, pr_iid=1.0)
    ref = _panopticapi(gt, pred)
    ours = pq_compute(gt, pred)
    assert abs(ours["All"]["pq"] - ref["All"]["pq"]) <= TOL and ours["All"]["pq"] != 1.0
    for cid, want in ((1, 6 / 7), (5, 1.0)):  # |g| = 3.5: IoU 3 / (3 + 3.5 - 3) = 6/7
        assert abs(ours["per_class"][cid]["pq"] - ref["per_class"][cid]["pq"]) <= TOL
        assert abs(ours["per_class"][cid]["pq"] - want) <= TOL
    names = [c.name for c in CocoPanopticStyle(gt).label_space().classes]
    assert names == ["a (id 1)", "a (id 5)"]


def test_a_missing_prediction_is_refused_outside_the_cli(tmp_path):
    """panopticapi refuses a ground-truth image without prediction; so do pq_compute and evaluate_samples
    (only --missing void scores it as all-void)."""
    from segbench.metrics.panoptic import pq_compute
    cats = [{"id": 1, "name": "a", "isthing": 1}]
    gt, pred = _one_image_case(tmp_path, "c2", [[5, 5]], [dict(id=5, category_id=1, area=2)], [[9, 9]],
                               [dict(id=9, category_id=1)], cats, gt_iid=1, pr_iid=2)
    with pytest.raises(BadInputError, match="expected a prediction for each of the 1 samples, found 1 missing"):
        pq_compute(gt, pred)
    ds = CocoPanopticStyle(gt)
    with pytest.raises(NotFoundError, match="expected a prediction for image 1 in the predictions JSON"):
        evaluate_samples(ds, ds.predictions(pred), ds.build_metrics(["pq"]))
    src = ds.predictions(pred)
    src.missing = "void"
    assert evaluate_samples(ds, src, ds.build_metrics(["pq"])).results["pq@1"].values["PQ"] == 0.0


@pytest.mark.parametrize("change,match", [
    (lambda g, p: g["annotations"][0]["segments_info"][0].update(area=-3), "non-negative 'area'"),
    (lambda g, p: g["annotations"][0]["segments_info"][0].update(category_id=1.5), "integer 'id' and 'category_id'"),
    (lambda g, p: p["annotations"][0]["segments_info"][0].update(id="9"), "integer 'id' and 'category_id'"),
    (lambda g, p: g["categories"][0].update(isthing="1"), "expected 'isthing' 0 or 1, found '1'"),
    (lambda g, p: g["categories"][0].update(color="red"), "expected 'color' as"),
    (lambda g, p: g["categories"].append(dict(g["categories"][0])), "category id 1 appears twice"),
    (lambda g, p: p["annotations"][0]["segments_info"].append(3), "expected each segments_info entry as an object"),
    (lambda g, p: p["annotations"][0].update(file_name=None), "expected 'file_name' as the PNG's name"),
    (lambda g, p: p["annotations"][0].update(image_id=[1]), "expected an integer or string image_id"),
])
def test_malformed_json_values_give_one_line_errors(tmp_path, capsys, change, match):
    from segbench.cli import main
    cats = [{"id": 1, "name": "a", "isthing": 1}]
    gt, pred = _one_image_case(tmp_path, "c3", [[5, 5, 0]], [dict(id=5, category_id=1, iscrowd=0, area=2)],
                               [[9, 9, 9]], [dict(id=9, category_id=1)], cats)
    g, p = json.loads(gt.read_text()), json.loads(pred.read_text())
    change(g, p)
    gt.write_text(json.dumps(g))
    pred.write_text(json.dumps(p))
    assert main(["eval", str(pred), "--dataset", "coco-panoptic-style", "--gt", str(gt)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and match in err[0] and "Traceback" not in err[0], err
    if "'area'" in match:  # a ground-truth problem names the ground-truth JSON
        assert str(gt) in err[0]

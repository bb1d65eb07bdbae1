"""H7's adapters read their native formats exactly (fake twins written from the formats' documentation;
no real samples of these datasets are available offline — see tests/data/datasets/SOURCE.md):
VOC 2012 (+ SBD trainaug), ADE20K, DeepGlobe, TGS Salt, Kaggle Clouds, IDRiD, ISPRS Vaihingen/Potsdam."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segbench.cli import main
from segbench.datasets import get_dataset_class
from segbench.errors import BadInputError, NotFoundError
from segbench.io.rle import read_rle_csv, rle_decode, rle_encode, write_rle_csv
from segbench.metrics import get_metric


def _eval_cli(preds, name, gt, tmp_path, *extra):
    out = tmp_path / "rec.json"
    rc = main(["eval", str(preds), "--dataset", name, "--gt", str(gt), "--json", str(out), *extra])
    assert rc == 0
    return json.loads(out.read_text())


def _values(rec, metric_prefix):
    for k, v in rec["metrics"].items():
        if k.startswith(metric_prefix + "@"):
            return v["values"]
    raise AssertionError(f"{metric_prefix} not in {list(rec['metrics'])}")


# ------------------------------------------------------------------ VOC
def test_voc_palette_indices_rgb_rendering_and_errors(tmp_path):
    from segbench.datasets.voc import VOC2012, voc_colormap
    root = VOC2012.make_fake(tmp_path, 4, 1)
    ds = VOC2012(tmp_path)  # finds VOCdevkit/VOC2012 below
    sid = ds.sample_ids()[0]
    s = ds.load(sid)
    raw = np.array(Image.open(root / "SegmentationClass" / f"{sid}.png"))  # palette indices
    assert Image.open(root / "SegmentationClass" / f"{sid}.png").mode == "P"
    assert (s.target.mask == raw).all() and (raw == 255).any()
    # an RGB rendering decodes to the same ids
    rgb = voc_colormap()[raw]
    Image.fromarray(rgb).save(root / "SegmentationClass" / f"{sid}.png")
    assert (ds.load(sid).target.mask == raw).all()
    bad = raw.copy(); bad[0, 0] = 42
    Image.fromarray(bad).save(root / "SegmentationClass" / f"{sid}.png")
    with pytest.raises(BadInputError, match="42"):
        ds.load(sid)
    with pytest.raises(NotFoundError, match="trainaug"):
        VOC2012(tmp_path, split="trainaug").sample_ids()


def test_voc_sbd_trainaug_prepare(tmp_path):
    from scipy.io import savemat
    from segbench.datasets.download import prepare_dataset
    from segbench.datasets.voc import VOC2012
    root = VOC2012.make_fake(tmp_path / "voc", 4, 2)
    seg = root / "ImageSets" / "Segmentation"
    train, val = seg.joinpath("train.txt").read_text().split(), seg.joinpath("val.txt").read_text().split()
    # an SBD release: cls/<id>.mat with GTcls.Segmentation; its train list contains a VOC val image
    sbd = tmp_path / "dl" / "benchmark_RELEASE" / "dataset"
    (sbd / "cls").mkdir(parents=True)
    sbd_ids = ["2008_000001", "2008_000002", val[0], train[0]]
    for i, sid in enumerate(sbd_ids):
        seg_map = np.full((20, 30), i + 1, np.uint8)
        savemat(sbd / "cls" / f"{sid}.mat", {"GTcls": {"Segmentation": seg_map, "Boundaries": np.zeros(1),
                                                         "CategoriesPresent": np.array([i + 1])}})
    (sbd / "train.txt").write_text("\n".join(sbd_ids[:3]) + "\n")
    (sbd / "val.txt").write_text(sbd_ids[3] + "\n")
    prepare_dataset("voc2012", tmp_path / "dl", tmp_path / "voc")
    ds = VOC2012(tmp_path / "voc", split="trainaug")
    assert ds.sample_ids() == sorted(set(train + sbd_ids) - set(val))
    assert (ds.load("2008_000002").target.mask == 2).all()
    # VOC train images keep VOC's own annotation (with the void border)
    assert (ds.load(train[0]).target.mask == VOC2012(tmp_path / "voc", split="train").load(train[0]).target.mask).all()
    aug = seg.joinpath("aug.txt").read_text().split()
    assert aug == ["2008_000001", "2008_000002"]
    prepare_dataset("voc2012", tmp_path / "dl", tmp_path / "voc")  # idempotent


def test_voc_eval_cli_perfect_and_style_labels(tmp_path):
    from segbench.datasets.voc import VOC2012
    root = VOC2012.make_fake(tmp_path / "voc", 4, 3)
    preds = tmp_path / "preds"; preds.mkdir()
    ds = VOC2012(root)
    for sid in ds.sample_ids():
        m = ds.load(sid).target.mask.copy()
        m[m == 255] = 0
        Image.fromarray(m).save(preds / f"{sid}.png")
    rec = _eval_cli(preds, "voc2012", root, tmp_path)
    assert _values(rec, "miou")["mIoU"] == 1.0
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps([{"name": n, "id": i} for i, n in enumerate(
        get_dataset_class("voc2012")(root).label_space().names)]))
    rec2 = _eval_cli(preds, "voc-style", root, tmp_path, "--labels", str(labels))
    assert _values(rec2, "miou")["mIoU"] == 1.0


def _confusion_miou(gt, pr, C, ignore):
    """mIoU over classes present in GT or prediction, straight from a bincount (independent of segbench)."""
    keep = gt != ignore
    cm = np.bincount(gt[keep].astype(np.int64) * C + pr[keep].astype(np.int64), minlength=C * C).reshape(C, C)
    tp = np.diag(cm).astype(float)
    union = cm.sum(0) + cm.sum(1) - tp
    return float(np.mean(tp[union > 0] / union[union > 0]))


def _voc_style_case(tmp_path, gt, pred):
    (tmp_path / "gt" / "SegmentationClass").mkdir(parents=True)
    (tmp_path / "pred").mkdir()
    Image.fromarray(gt).save(tmp_path / "gt" / "SegmentationClass" / "a.png")
    Image.fromarray(pred).save(tmp_path / "pred" / "a.png")
    return tmp_path / "pred", tmp_path / "gt"


def test_voc_style_label_tables_and_class_counts(tmp_path, capsys):
    rng = np.random.default_rng(5)
    # a 16-bit void index with 8-bit native-id predictions (the lookup table must hold 65535)
    gt = rng.integers(0, 3, (6, 7)).astype(np.uint8)
    pr = rng.integers(0, 3, (6, 7)).astype(np.uint8)
    preds, root = _voc_style_case(tmp_path / "a", gt, pr)
    labels = tmp_path / "l16.json"
    labels.write_text(json.dumps({"classes": ["a", "b", "c"], "ignore_index": 65535}))
    want = _confusion_miou(gt, pr, 3, 65535)
    for enc in ("trainid", "labelid"):
        rec = _eval_cli(preds, "voc-style", root, tmp_path, "--labels", str(labels), "--pred-encoding", enc)
        assert _values(rec, "miou")["mIoU"] == pytest.approx(want, abs=1e-12)
    # a native id outside the table is refused, never scored as void (cityscapesScripts: "Unknown label")
    pr2 = pr.copy(); pr2[0, 0] = 9
    Image.fromarray(pr2).save(preds / "a.png")
    capsys.readouterr()
    rc = main(["eval", str(preds), "--dataset", "voc-style", "--gt", str(root), "--labels", str(labels),
               "--pred-encoding", "labelid"])
    err = capsys.readouterr().err
    assert rc == 2 and "a.png" in err and "found 9 in 1 pixels" in err and len(err.strip().splitlines()) == 1
    # 300 classes: void moves to 65535 and 255 is a class (16-bit PNGs)
    gt3 = rng.integers(0, 300, (12, 25)).astype(np.uint16)
    pr3 = np.where(rng.random(gt3.shape) < 0.7, gt3, rng.integers(0, 300, gt3.shape)).astype(np.uint16)
    gt3[0, :3] = 255
    preds3, root3 = _voc_style_case(tmp_path / "c", gt3, pr3)
    rec = _eval_cli(preds3, "voc-style", root3, tmp_path, "--num-classes", "300")
    assert _values(rec, "miou")["mIoU"] == pytest.approx(_confusion_miou(gt3, pr3, 300, 65535), abs=1e-12)
    # refused: a class on the void id (CSV and JSON alike), no classes, a count the table contradicts
    csv_t = tmp_path / "fg.csv"; csv_t.write_text("name,id\nbg,0\nfg,255\n")
    json_t = tmp_path / "fg.json"; json_t.write_text(json.dumps([{"name": "bg", "id": 0}, {"name": "fg", "id": 255}]))
    three = tmp_path / "three.json"; three.write_text(json.dumps(["a", "b", "c"]))
    for extra, needles in (((("--labels", str(csv_t))), ("fg.csv", "other than 255", "'fg'")),
                           (("--labels", str(json_t)), ("fg.json", "other than 255", "'fg'")),
                           (("--num-classes", "0"), ("--num-classes >= 1", "found 0")),
                           (("--labels", str(three), "--num-classes", "4"), ("--num-classes 4", "3 evaluated",
                                                                              "three.json"))):
        capsys.readouterr()
        rc = main(["eval", str(preds), "--dataset", "voc-style", "--gt", str(root), *extra])
        err = capsys.readouterr().err
        assert rc == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
        for n in needles:
            assert n in err, (n, err)


def test_prediction_arrays_that_are_not_id_maps(tmp_path, capsys):
    gt = np.array([[0, 1, 2, 1], [0, 0, 2, 255]], np.uint8)
    preds, root = _voc_style_case(tmp_path, gt, gt)
    (preds / "a.png").unlink()
    cases = ((np.zeros((3, 2, 4), np.float32), "channel-first"),      # class scores, not ids
             (np.full((2, 4), 0.5), "0.5"),                          # soft values
             (np.full((2, 4), np.nan), "nan"))
    for arr, needle in cases:
        np.save(preds / "a.npy", arr)
        capsys.readouterr()
        rc = main(["eval", str(preds), "--dataset", "voc-style", "--gt", str(root), "--num-classes", "3"])
        err = capsys.readouterr().err
        assert rc == 2 and "a.npy" in err and needle in err and len(err.strip().splitlines()) == 1, err
    np.save(preds / "a.npy", gt.astype(np.float64))  # whole-number floats are ids
    rec = _eval_cli(preds, "voc-style", root, tmp_path, "--num-classes", "3")
    assert _values(rec, "miou")["mIoU"] == 1.0
    capsys.readouterr()
    rc = main(["eval", str(preds), "--dataset", "voc-style", "--gt", str(root), "--pred-encoding", "mmseg"])
    err = capsys.readouterr().err
    assert rc == 2 and "--pred-encoding" in err and "'mmseg'" in err
    (preds / "a.npy").unlink()
    Image.fromarray(gt).save(preds / "a.png", format="JPEG")  # lossy bytes behind a .png name
    capsys.readouterr()
    rc = main(["eval", str(preds), "--dataset", "voc-style", "--gt", str(root), "--num-classes", "3"])
    err = capsys.readouterr().err
    assert rc == 2 and "a.png: expected PNG data, found JPEG" in err and len(err.strip().splitlines()) == 1


# ------------------------------------------------------------------ ADE20K
def test_ade20k_reduce_zero_label_and_native_predictions(tmp_path):
    from segbench.datasets.ade20k import ADE20K
    root = ADE20K.make_fake(tmp_path, 3, 0)
    ds = ADE20K(tmp_path)
    sid = ds.sample_ids()[0]
    raw = np.array(Image.open(root / "annotations" / "validation" / f"{sid}.png"))
    m = ds.load(sid).target.mask
    assert ((raw == 0) == (m == 255)).all() and (m[raw > 0] == raw[raw > 0] - 1).all()
    assert ds.label_space().num_classes == 150 and ds.label_space().by_id(150).name == "flag"
    assert len(ADE20K(tmp_path, split="train").sample_ids()) == 3
    # devkit-style 1..150 predictions with --pred-encoding labelid
    preds = tmp_path / "p"; preds.mkdir()
    for s in ds.sample_ids():
        Image.fromarray(np.array(Image.open(root / "annotations" / "validation" / f"{s}.png"))).save(preds / f"{s}.png")
    rec = _eval_cli(preds, "ade20k", tmp_path, tmp_path, "--pred-encoding", "labelid")
    assert _values(rec, "miou")["mIoU"] == 1.0
    # the same files read as train ids (default): value 150 is not a train id and is refused
    p150 = raw.copy(); p150[0, 0] = 150
    Image.fromarray(p150).save(preds / f"{sid}.png")
    with pytest.raises(BadInputError, match="train ids 0..149"):
        ds.predictions(preds).load(ds.load(sid))


def test_ade20k_split_validation():
    from segbench.datasets.ade20k import ADE20K
    with pytest.raises(BadInputError, match="train or val"):
        ADE20K(None, split="test")


# ------------------------------------------------------------------ DeepGlobe
def test_deepglobe_landcover_thresholds_noisy_colours(tmp_path):
    from segbench.datasets.deepglobe import DeepGlobeLandCover
    ds = DeepGlobeLandCover(None)
    rgb = np.array([[[3, 250, 131], [130, 200, 2], [255, 0, 255], [128, 127, 128]],
                    [[0, 0, 0], [250, 3, 3], [252, 255, 250], [10, 120, 200]]], np.uint8)
    assert ds.decode_mask(rgb).tolist() == [[0, 1, 2, 2], [255, 255, 5, 4]]
    root = DeepGlobeLandCover.make_fake(tmp_path, 3, 0)
    d = DeepGlobeLandCover(root)
    sid = d.sample_ids()[0]
    raw = np.array(Image.open(root / "train" / f"{sid}_mask.png"))
    assert (d.load(sid).target.mask == d.decode_mask(raw)).all()
    with pytest.raises(NotFoundError, match="only for train"):
        DeepGlobeLandCover(root, split="valid").sample_ids()
    # colour-coded predictions are thresholded like the GT: the GT files themselves score 1
    rec = _eval_cli(root / "train", "deepglobe-landcover", root, tmp_path)
    assert _values(rec, "miou")["mIoU"] == 1.0


def test_deepglobe_roads_binary(tmp_path):
    from segbench.datasets.deepglobe import DeepGlobeRoads
    root = DeepGlobeRoads.make_fake(tmp_path, 3, 0)
    d = DeepGlobeRoads(root)
    s = d.load(d.sample_ids()[0])
    raw = np.array(Image.open(Path(s.meta["gt_path"])))
    assert s.target.mask.dtype == np.uint8 and set(np.unique(s.target.mask)) <= {0, 1}
    assert (s.target.mask == (raw.max(axis=2) >= 128)).all()
    preds = tmp_path / "p"; preds.mkdir()
    for sid in d.sample_ids():
        Image.fromarray(d.load(sid).target.mask).save(preds / f"{sid}.png")  # 0/1 PNGs
    rec = _eval_cli(preds, "deepglobe-roads", root, tmp_path)
    assert _values(rec, "miou")["mIoU"] == 1.0


# ------------------------------------------------------------------ TGS Salt
def test_tgs_png_and_csv_agree_and_submission_scores(tmp_path):
    from segbench.datasets.tgs_salt import TGSSalt
    root = TGSSalt.make_fake(tmp_path, 6, 0)
    a, b = TGSSalt(root), TGSSalt(root, gt_source="csv")
    assert a.sample_ids() == b.sample_ids()
    rows = read_rle_csv(root / "train.csv", "id", "rle_mask")
    for sid in a.sample_ids():
        ma = a.load(sid).target.mask
        assert (ma == b.load(sid).target.mask).all()
        assert rle_encode(ma) == rows[sid]
        assert a.load(sid).meta["depth"] > 0
    assert np.array(Image.open(root / "train" / "masks" / f"{a.sample_ids()[1]}.png")).dtype == np.uint16
    # a perfect submission except one image where a non-empty prediction hits an empty GT
    ids = a.sample_ids()
    sub = {sid: rows[sid] for sid in ids}
    empty = next(s for s in ids if rows[s] == "")
    sub[empty] = "1 5"
    write_rle_csv(tmp_path / "submission.csv", sub, "id", "rle_mask")
    rec = _eval_cli(tmp_path / "submission.csv", "tgs-salt", root, tmp_path)
    assert _values(rec, "tgs_map")["mAP"] == pytest.approx((len(ids) - 1) / len(ids))
    write_rle_csv(tmp_path / "bad.csv", {**sub, ids[0]: "10200 50"}, "id", "rle_mask")
    assert main(["eval", str(tmp_path / "bad.csv"), "--dataset", "tgs-salt", "--gt", str(root)]) == 2


# ------------------------------------------------------------------ Kaggle Clouds
def test_clouds_decode_reduce_prepare_and_submission(tmp_path):
    from segbench.datasets.kaggle_clouds import FULL_SHAPE, KaggleClouds, reduce_mask
    root = KaggleClouds.make_fake(tmp_path, 3, 0)
    ds = KaggleClouds(root)
    sid = ds.sample_ids()[0]
    full = ds.full_masks(sid)
    assert full.shape == (4, *FULL_SHAPE)
    rows = read_rle_csv(root / "train.csv", "Image_Label", "EncodedPixels")
    assert (full[2] == rle_decode(rows[f"{sid}_Gravel"], FULL_SHAPE)).all()
    s = ds.load(sid)
    assert s.target.masks.shape == (4, 350, 525) and (s.target.masks == full[:, ::4, ::4]).all()
    area = KaggleClouds(root, reduce="area").load(sid).target.masks
    assert (area == reduce_mask(full, (350, 525), "area")).all()
    assert KaggleClouds(root, scoring_size="full").load(sid).target.masks.shape == (4, 1400, 2100)
    # prepare caches bit-packed 350x525 masks; loading from the cache is identical
    from segbench.datasets.download import prepare_dataset
    prepare_dataset("kaggle-clouds", root, root)
    cached = KaggleClouds(root).load(sid)
    assert "cache" in cached.meta and (cached.target.masks == s.target.masks).all()
    # submission at 350x525: the exact masks score Dice 1; one wrong pair lowers it by 1/(4n)
    sub = {}
    for i in ds.sample_ids():
        m = ds.load(i).target.masks
        for k, lab in enumerate(("Fish", "Flower", "Gravel", "Sugar")):
            sub[f"{i}_{lab}"] = rle_encode(m[k])
    write_rle_csv(tmp_path / "sub.csv", sub, "Image_Label", "EncodedPixels")
    rec = _eval_cli(tmp_path / "sub.csv", "kaggle-clouds", root, tmp_path)
    assert _values(rec, "clouds_dice")["Dice"] == 1.0
    # a full-size run-length in a 350x525 submission is refused with the size in the message
    big = dict(sub)
    big[f"{sid}_Fish"] = "183700 100"  # 350*525 = 183750 pixels: the run ends past the mask
    write_rle_csv(tmp_path / "big.csv", big, "Image_Label", "EncodedPixels")
    src = ds.predictions(tmp_path / "big.csv")
    with pytest.raises(BadInputError, match="350x525"):
        src.load(ds.load(sid))


def test_clouds_missing_rows_are_not_scored(tmp_path):
    from segbench.datasets.kaggle_clouds import KaggleClouds
    root = KaggleClouds.make_fake(tmp_path, 2, 1, images=False)
    rows = read_rle_csv(root / "train.csv", "Image_Label", "EncodedPixels")
    first = next(iter(rows))
    img, lab = first.rsplit("_", 1)
    rows.pop(first)
    write_rle_csv(root / "train.csv", rows, "Image_Label", "EncodedPixels")
    ds = KaggleClouds(root)
    s = ds.load(img)
    assert s.target.valid.tolist() == [lab != "Fish", True, True, True]
    # a submission without that pair is fine; a wrong mask for it would not count
    sub = {}
    for i in ds.sample_ids():
        m = ds.load(i).target.masks
        for k, name in enumerate(("Fish", "Flower", "Gravel", "Sugar")):
            if f"{i}_{name}" in rows:
                sub[f"{i}_{name}"] = rle_encode(m[k])
    write_rle_csv(tmp_path / "sub.csv", sub, "Image_Label", "EncodedPixels")
    m = get_metric("clouds_dice", ds.label_space())
    src = ds.predictions(tmp_path / "sub.csv")
    for i in ds.sample_ids():
        m.update(src.load(ds.load(i)), ds.load(i))
    assert m.compute().values["Dice"] == 1.0
    assert len(m.state_dict()["per_sample"][img]) == 4 and m.state_dict()["per_sample"][img][0] is None


# ------------------------------------------------------------------ IDRiD
def test_idrid_multilabel_missing_lesions_and_aupr(tmp_path):
    from segbench.datasets.idrid import IDRiD
    root = IDRiD.make_fake(tmp_path, 3, 0)
    ds = IDRiD(tmp_path)
    assert ds.sample_ids() == ["IDRiD_55", "IDRiD_56", "IDRiD_57"]
    s0 = ds.load("IDRiD_55")  # SE missing in even-indexed fake images
    assert s0.target.masks.shape[0] == 5 and not s0.target.masks[3].any() and s0.target.valid.all()
    assert not IDRiD(tmp_path, missing_lesion="skip").load("IDRiD_55").target.valid[3]
    tif = root / "2. All Segmentation Groundtruths" / "b. Testing Set" / "3. Hard Exudates" / "IDRiD_55_EX.tif"
    assert (s0.target.masks[2] == (np.array(Image.open(tif))[..., 0] > 0)).all()
    assert len(IDRiD(tmp_path, split="train").sample_ids()) == 3
    # 8-bit probability maps equal to the masks: AUPR 1 for every lesion with positives
    preds = tmp_path / "p"; preds.mkdir()
    for sid in ds.sample_ids():
        m = ds.load(sid).target.masks
        for k, code in enumerate(("MA", "HE", "EX", "SE", "OD")):
            Image.fromarray((m[k] * 255).astype(np.uint8)).save(preds / f"{sid}_{code}.png")
    rec = _eval_cli(preds, "idrid", tmp_path, tmp_path)
    assert _values(rec, "idrid_aupr")["mAUPR"] == 1.0
    (preds / "IDRiD_56_OD.png").unlink()
    with pytest.raises(NotFoundError, match="IDRiD_56_OD"):
        ds.predictions(preds).load(ds.load("IDRiD_56"))


# ------------------------------------------------------------------ ISPRS
@pytest.mark.parametrize("name", ["isprs-vaihingen", "isprs-potsdam"])
def test_isprs_variants_tiles_and_stitching(name, tmp_path):
    from segbench.datasets.isprs import ISPRS_CLASSES, decode_isprs_rgb
    cls = get_dataset_class(name)
    root = cls.make_fake(tmp_path, 3, 0)
    ds = cls(root)
    tile = ds.sample_ids()[0]
    er, full = ds.load(tile), cls(root, gt="full").load(tile)
    fr = np.array(Image.open(full.meta["gt_path"]))
    exp = decode_isprs_rgb(fr)
    assert (full.target.mask == exp).all() and not (full.target.mask == 255).any()
    assert (er.target.mask == 255).any() and ((er.target.mask == full.target.mask) | (er.target.mask == 255)).all()
    five = cls(root, ignore_clutter="true")
    assert five.label_space().num_classes == 5 and (five.load(tile).target.mask[er.target.mask == 5] == 255).all()
    # windows cover each tile exactly once (stride = size): same label histogram as whole tiles
    win = cls(root, patch_size=16)
    wid = [w for w in win.sample_ids() if w.startswith(tile + "@")]
    hist = sum(np.bincount(win.load(w).target.mask.ravel(), minlength=256) for w in wid)
    assert len(wid) > 1 and hist.sum() >= er.target.mask.size
    # predictions: colour-coded whole tiles (ISPRS *_class.tif names) and mmseg-style patches, stitched
    preds = tmp_path / "preds"; preds.mkdir()
    cols = np.array([c for _, c in ISPRS_CLASSES], np.uint8)
    for t in ds.sample_ids():
        m = cls(root, gt="full").load(t).target.mask
        stem = (f"top_mosaic_09cm_{t}_class" if name == "isprs-vaihingen" else f"top_potsdam_{t}_class")
        if t == tile:  # patches with overlap, mmseg naming <tile>_<x0>_<y0>_<x1>_<y1>
            h, w = m.shape
            for (y0, x0, y1, x1) in [(0, 0, h, 20), (0, 15, h, w)]:
                Image.fromarray(m[y0:y1, x0:x1]).save(preds / f"{t}_{x0}_{y0}_{x1}_{y1}.png")
        else:
            Image.fromarray(cols[m]).save(preds / f"{stem}.tif")
    rec = _eval_cli(preds, name, root, tmp_path)
    assert _values(rec, "miou")["mIoU"] == 1.0
    rec_w = _eval_cli(preds, name, root, tmp_path, "--option", "patch_size=16")
    assert _values(rec_w, "miou")["mIoU"] == 1.0
    # mmseg id order remapped with pred_ids=mmseg
    mm = tmp_path / "mm"; mm.mkdir()
    inv = np.argsort(np.array([0, 5, 4, 3, 2, 1]))
    for t in ds.sample_ids():
        m = cls(root, gt="full").load(t).target.mask
        Image.fromarray(inv[m].astype(np.uint8)).save(mm / f"{t}.png")
    rec_mm = _eval_cli(mm, name, root, tmp_path, "--option", "pred_ids=mmseg")
    assert _values(rec_mm, "miou")["mIoU"] == 1.0
    rec_bad = _eval_cli(mm, name, root, tmp_path)
    assert _values(rec_bad, "miou")["mIoU"] < 1.0


def test_isprs_prepare_missing_tiles_and_windows():
    from segbench.datasets.isprs import stitch_windows, tile_windows
    wins = tile_windows(100, 70, 32, 24)
    cover = np.zeros((100, 70), int)
    for y0, x0, y1, x1 in wins:
        assert y1 - y0 == 32 and x1 - x0 == 32
        cover[y0:y1, x0:x1] += 1
    assert (cover > 0).all() and wins[-1] == (68, 38, 100, 70)
    a = np.zeros((4, 6), np.uint8); b = np.ones((4, 6), np.uint8)
    out = stitch_windows((4, 8), [((0, 0, 4, 6), a), ((0, 2, 4, 8), b)])
    # columns 2..5 overlap: the pixel takes the window where it is farther from the border
    assert out[1].tolist() == [0, 0, 0, 0, 1, 1, 1, 1]


def test_isprs_prepare_and_partial(tmp_path):
    from segbench.datasets.download import prepare_dataset
    from segbench.datasets.isprs import ISPRSPotsdam
    src = ISPRSPotsdam.make_fake(tmp_path / "src", 3, 0)
    dl = tmp_path / "dl"; dl.mkdir()
    for folder in ("2_Ortho_RGB", "5_Labels_all", "5_Labels_all_noBoundary"):
        with zipfile.ZipFile(dl / f"{folder}.zip", "w") as zf:
            for p in sorted((src / folder).iterdir()):
                zf.write(p, f"{folder}/{p.name}")
    root = tmp_path / "root"
    prepare_dataset("isprs-potsdam", dl, root)
    assert len(list((root / "labels_eroded").glob("*.png"))) == 38
    ds = ISPRSPotsdam(root)
    ref = ISPRSPotsdam(src)
    for t in ds.sample_ids()[:3]:
        assert ds.load(t).meta["gt_path"].endswith(f"labels_eroded/{t}.png")
        assert (ds.load(t).target.mask == ref.load(t).target.mask).all()
    prepare_dataset("isprs-potsdam", dl, root)  # idempotent
    (root / "labels_eroded" / "7_13.png").unlink()
    for p in root.rglob("top_potsdam_7_13_label_noBoundary.tif"):
        p.unlink()
    with pytest.raises(NotFoundError, match="7_13"):
        ISPRSPotsdam(root).sample_ids()
    assert "7_13" not in ISPRSPotsdam(root, allow_partial=True).sample_ids()


# ------------------------------------------------------------------ CLI: datasets / download / prepare
def test_cli_datasets_json_lists_every_registered_name(capsys, tmp_path):
    from segbench.datasets import DATASETS
    rc = main(["datasets", "--json", "--root", str(tmp_path)])
    assert rc == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == list(DATASETS)
    for r in rows:
        assert {"name", "task", "license", "obtain", "on_disk"} <= set(r)
    mine = {r["name"]: r for r in rows}
    assert mine["kaggle-clouds"]["obtain"] == "kaggle" and mine["voc2012"]["obtain"] == "url"
    assert mine["isprs-potsdam"]["obtain"] == "manual" and mine["ade20k"]["task"] == "semantic"
    assert not any(r["on_disk"] for r in rows)
    from segbench.datasets.voc import VOC2012
    VOC2012.make_fake(tmp_path / "voc2012", 2, 0)
    main(["datasets", "--json", "--root", str(tmp_path)])
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["voc2012"]["on_disk"] and not rows["voc2012"]["verified"]
    assert main(["datasets"]) == 0


def test_cli_download_manual_prints_files_and_prepare(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("KAGGLE_USERNAME", raising=False)
    monkeypatch.delenv("KAGGLE_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "nokaggle"))
    assert main(["download", "isprs-vaihingen", "--root", str(tmp_path / "v")]) == 0
    err = capsys.readouterr().err
    for f in ("ISPRS_semantic_labeling_Vaihingen.zip", "ground_truth_eroded_COMPLETE.zip", "segbench prepare isprs-vaihingen"):
        assert f in err
    assert main(["download", "tgs-salt", "--root", str(tmp_path / "t")]) == 0
    assert "KAGGLE_USERNAME" in capsys.readouterr().err
    # prepare from the folder the user downloaded
    from segbench.datasets.tgs_salt import TGSSalt
    src = TGSSalt.make_fake(tmp_path / "dl", 3, 0)
    assert main(["prepare", "tgs-salt", "--from", str(src), "--root", str(tmp_path / "t")]) == 0
    assert TGSSalt(tmp_path / "t").sample_ids() == TGSSalt(src).sample_ids()
    assert main(["prepare", "tgs-salt", "--from", str(tmp_path / "nope"), "--root", str(tmp_path / "t")]) == 2
    assert main(["download", "no-such-dataset"]) == 2


def test_isprs_image_mistaken_for_label_is_refused(tmp_path):
    from segbench.datasets.isprs import ISPRSVaihingen
    root = ISPRSVaihingen.make_fake(tmp_path, 3, 0)
    # user flattened the archive: the IRRG image now sits outside top/ and replaces the full reference
    img = root / "ISPRS_semantic_labeling_Vaihingen" / "top" / "top_mosaic_09cm_area2.tif"
    gt = root / "ground_truth_COMPLETE" / "top_mosaic_09cm_area2.tif"
    gt.write_bytes(img.read_bytes())
    with pytest.raises(BadInputError, match="intermediate values"):
        ISPRSVaihingen(root, gt="full").load("area2")


def test_isprs_vaihingen_renamed_eroded_folder(tmp_path):
    from segbench.datasets.isprs import ISPRSVaihingen
    root = ISPRSVaihingen.make_fake(tmp_path, 3, 0)
    # a common re-layout: gts_eroded_complete/top_mosaic_09cm_area<N>.tif (suffix dropped)
    src = root / "ground_truth_eroded_COMPLETE"
    dst = root / "gts_eroded_complete"
    src.rename(dst)
    for p in dst.iterdir():
        p.rename(p.with_name(p.name.replace("_noBoundary", "")))
    ds = ISPRSVaihingen(root)
    s = ds.load("area2")
    assert "gts_eroded_complete" in s.meta["gt_path"] and (s.target.mask == 255).any()
    full = ISPRSVaihingen(root, gt="full").load("area2")
    assert "ground_truth_COMPLETE" in full.meta["gt_path"] and not (full.target.mask == 255).any()


def test_clouds_run_lengths_follow_the_image_size(tmp_path):
    from segbench.datasets.kaggle_clouds import KaggleClouds
    root = tmp_path / "clouds"
    (root / "train_images").mkdir(parents=True)
    Image.fromarray(np.zeros((700, 1050, 3), np.uint8)).save(root / "train_images" / "a.jpg")
    m = np.zeros((700, 1050), bool); m[100:300, 200:500] = True
    rows = {f"a.jpg_{lab}": (rle_encode(m) if lab == "Sugar" else "") for lab in ("Fish", "Flower", "Gravel", "Sugar")}
    write_rle_csv(root / "train.csv", rows, "Image_Label", "EncodedPixels")
    s = KaggleClouds(root).load("a.jpg")  # 700x1050 → 350x525 by 2
    assert s.target.masks.shape == (4, 350, 525) and (s.target.masks[3] == m[::2, ::2]).all()
    Image.fromarray(np.zeros((300, 400, 3), np.uint8)).save(root / "train_images" / "a.jpg")
    with pytest.raises(BadInputError):
        KaggleClouds(root).load("a.jpg")  # runs do not fit a 300x400 image


def test_prepare_progress_bars_on_a_terminal(tmp_path):
    import io
    from rich.console import Console
    from segbench.datasets.download import prepare_dataset
    from segbench.datasets.isprs import ISPRSVaihingen
    from segbench.datasets.kaggle_clouds import KaggleClouds
    buf = io.StringIO()
    con = Console(file=buf, force_terminal=True, width=100)
    root = KaggleClouds.make_fake(tmp_path / "c", 2, 0, images=False)
    prepare_dataset("kaggle-clouds", root, root, console=con)
    assert "clouds masks 350x525" in buf.getvalue() and len(list((root / "masks_350x525").glob("*.png"))) == 2
    v = ISPRSVaihingen.make_fake(tmp_path / "v", 2, 0)
    prepare_dataset("isprs-vaihingen", v, v, console=con)
    assert "isprs-vaihingen labels" in buf.getvalue() and len(list((v / "labels").glob("*.png"))) == 33


def test_clouds_png_mask_folder(tmp_path):
    from segbench.datasets.kaggle_clouds import CLOUD_CLASSES, KaggleClouds
    root = KaggleClouds.make_fake(tmp_path, 2, 3, images=False)
    ds = KaggleClouds(root)
    preds = tmp_path / "p"; preds.mkdir()
    for sid in ds.sample_ids():
        m = ds.load(sid).target.masks
        for k, lab in enumerate(CLOUD_CLASSES):
            Image.fromarray((m[k] * 255).astype(np.uint8)).save(preds / f"{sid}_{lab}.png")
    src = ds.predictions(preds)
    assert src.available() >= set(ds.sample_ids())
    sid = ds.sample_ids()[0]
    assert (src.load(ds.load(sid)).masks == ds.load(sid).target.masks).all()
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(preds / f"{sid}_Sugar.png")
    with pytest.raises(BadInputError, match="350x525"):
        src.load(ds.load(sid))


def test_corrupt_files_and_upper_case_names(tmp_path):
    """Unreadable images give one-line errors naming the file; a bad depths.csv keeps failing (it is not
    cached half-read); re-saved ISPRS tiles with upper-case ``.TIF`` / ``.tiff`` names are found."""
    from segbench.datasets._common import read_array
    from segbench.datasets.idrid import IDRiD
    from segbench.datasets.isprs import ISPRSVaihingen
    from segbench.datasets.tgs_salt import TGSSalt
    root = IDRiD.make_fake(tmp_path / "idrid", 2, 0)
    jpg = next((root / "1. Original Images" / "b. Testing Set").glob("IDRiD_55.*"))
    jpg.write_bytes(b"not a jpeg")
    with pytest.raises(BadInputError, match=r"IDRiD_55\.jpg: expected a readable fundus image"):
        IDRiD(tmp_path / "idrid").load("IDRiD_55")
    (tmp_path / "garbage.tif").write_bytes(b"II*\0garbage-after-a-valid-tiff-header")
    with pytest.raises(BadInputError, match=r"garbage\.tif: expected a readable image"):
        read_array(tmp_path / "garbage.tif")

    troot = TGSSalt.make_fake(tmp_path / "tgs", 3, 0)
    ds = TGSSalt(troot, gt_source="csv")
    sid = ds.sample_ids()[0]
    (troot / "train" / "images" / f"{sid}.png").write_bytes(b"broken")
    with pytest.raises(BadInputError, match=rf"{sid}\.png: expected a readable image"):
        ds.load(sid)
    lines = (troot / "depths.csv").read_text().splitlines()
    (troot / "depths.csv").write_text("\n".join(lines[:2] + [lines[2].split(",")[0] + ","] + lines[3:]) + "\n")
    ds = TGSSalt(troot)
    for _ in range(2):
        with pytest.raises(BadInputError, match="depths.csv: expected columns id,z with numeric z"):
            ds.depths()

    vroot = ISPRSVaihingen.make_fake(tmp_path / "isprs", 3, 0)
    for p in sorted(vroot.rglob("top_mosaic_09cm_area2*.tif")):
        p.rename(p.with_suffix(".TIF" if "noBoundary" in p.name else ".tiff"))
    ds = ISPRSVaihingen(vroot)
    assert "area2" in ds.sample_ids() and ds.load("area2").meta["gt_path"].endswith("_noBoundary.TIF")

"""cityscapes-style: GT folder of label PNGs + prediction folder with the same stems."""

import json

import numpy as np
import pytest
from PIL import Image

from segbench.cli import main
from segbench.datasets.styles import CityscapesStyle, load_label_table
from segbench.engine import evaluate_run
from segbench.errors import BadInputError, NotFoundError, UsageError
from segbench.io.labels import read_label, write_color_label, write_label
from segbench.metrics.functional.semantic import confusion_matrix, scores_from_confusion


def _run(gt, preds, **opts):
    ds = CityscapesStyle(gt, **opts)
    return evaluate_run(ds, ds.predictions(preds, **opts), ds.build_metrics(None))


def _direct_miou(gt_dir, pred_dir, C):
    cm = np.zeros((C, C), np.int64)
    void = np.zeros(C, np.int64)
    for f in sorted(gt_dir.glob("*.png")):
        a, v = confusion_matrix(read_label(f), read_label(pred_dir / f.name), C, return_void=True)
        cm += a
        void += v
    return scores_from_confusion(cm, void)


def test_make_fake_and_eval_matches_direct_computation(tmp_path):
    gt = CityscapesStyle.make_fake(tmp_path, num_samples=5, seed=1, num_classes=4, predictions=True)
    rec, out = _run(gt, tmp_path / "pred")
    ref = _direct_miou(gt, tmp_path / "pred", 4)
    vals = rec.metrics["miou@1"]["values"]
    assert vals["mIoU"] == ref["mIoU"] and vals["fwIoU"] == ref["fwIoU"] and 0.3 < vals["mIoU"] < 1
    assert rec.dataset == "cityscapes-style@1"


def test_label_table_forms(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps(["bg", "road"]))
    assert load_label_table(tmp_path / "a.json").names == ["bg", "road"]
    (tmp_path / "b.json").write_text(json.dumps({"0": "bg", "1": "fg"}))
    assert load_label_table(tmp_path / "b.json").names == ["bg", "fg"]
    (tmp_path / "c.json").write_text(json.dumps({"ignore_index": 255, "classes": [
        {"name": "void", "id": 0, "ignore_in_eval": True},
        {"name": "road", "id": 7, "color": [128, 64, 128]},
        {"name": "car", "id": 26, "trainId": 1, "hasInstances": True}]}))
    ls = load_label_table(tmp_path / "c.json")
    assert ls.names == ["road", "car"] and ls.id_to_train_lut(256)[26] == 1 and ls.id_to_train_lut(256)[0] == 255
    (tmp_path / "d.csv").write_text("name,id,train_id,color\nroad,7,0,#804080\ncar,26,1,0 0 142\nvoid,0,255,\n")
    ls = load_label_table(tmp_path / "d.csv")
    assert ls.names == ["road", "car"] and ls.by_name("road").color == (128, 64, 128)
    (tmp_path / "e.csv").write_text("# my classes\n0,sky\n1,tree\n")
    assert load_label_table(tmp_path / "e.csv").names == ["sky", "tree"]
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(BadInputError, match="bad.json"):
        load_label_table(tmp_path / "bad.json")


def test_native_ids_mapped_and_trainid_predictions(tmp_path):
    gt = tmp_path / "gt"
    (gt).mkdir()
    (gt / "labels.json").write_text(json.dumps([
        {"name": "void", "id": 0, "ignore_in_eval": True}, {"name": "road", "id": 7}, {"name": "car", "id": 26}]))
    write_label(gt / "a.png", np.array([[0, 7, 26, 26]], np.uint8))
    write_label(tmp_path / "p" / "a.png", np.array([[7, 7, 26, 0]], np.uint8))   # native ids
    write_label(tmp_path / "t" / "a.png", np.array([[0, 0, 1, 255]], np.uint8))  # train ids
    r1, _ = _run(gt, tmp_path / "p")
    r2, _ = _run(gt, tmp_path / "t", pred_encoding="trainid")
    # road: tp1 fp0 fn0 -> 1 ; car: tp1 fn1 (void) -> 0.5
    assert r1.metrics["miou@1"]["values"]["mIoU"] == 0.75 == r2.metrics["miou@1"]["values"]["mIoU"]
    write_label(tmp_path / "t" / "a.png", np.array([[0, 0, 5, 255]], np.uint8))
    with pytest.raises(BadInputError, match="5 \\(1 px\\)"):
        _run(gt, tmp_path / "t", pred_encoding="trainid")


def test_num_classes_csv_and_missing_classes(tmp_path):
    gt = CityscapesStyle.make_fake(tmp_path, num_samples=2, seed=2, num_classes=3, labels="none",
                                   predictions=True)
    with pytest.raises(UsageError, match="labels.json"):
        CityscapesStyle(gt).label_space()
    rec, _ = _run(gt, tmp_path / "pred", num_classes=3)
    assert rec.metrics["miou@1"]["values"]["mIoU"] > 0
    gt2 = CityscapesStyle.make_fake(tmp_path / "x", num_samples=2, seed=2, num_classes=3, labels="csv")
    assert CityscapesStyle(gt2).label_space().names == ["class_0", "class_1", "class_2"]
    # out-of-range GT values are refused with their pixel counts
    write_label(gt / "img_000.png", np.full((4, 4), 9, np.uint8))
    with pytest.raises(BadInputError, match="9 \\(16 px\\)"):
        CityscapesStyle(gt, num_classes=3).load("img_000").target.mask


def test_colour_coded_gt_and_predictions(tmp_path):
    gt = tmp_path / "gt"
    gt.mkdir()
    colors = [(0, 0, 0), (255, 0, 0), (0, 255, 0)]
    (gt / "labels.json").write_text(json.dumps([{"name": f"c{i}", "id": i, "color": list(c)}
                                                for i, c in enumerate(colors)]))
    ids = np.array([[0, 1, 2, 2]], np.uint8)
    write_color_label(gt / "a.png", ids, colors)
    write_color_label(tmp_path / "p" / "a.png", np.array([[0, 1, 2, 1]], np.uint8), colors)
    rec, _ = _run(gt, tmp_path / "p")
    pc = rec.metrics["miou@1"]["per_class"]
    assert pc["c2"]["IoU"] == 0.5 and pc["c1"]["IoU"] == 0.5 and pc["c0"]["IoU"] == 1.0
    Image.fromarray(np.array([[[9, 9, 9]] * 4], np.uint8), "RGB").save(tmp_path / "p" / "a.png")
    with pytest.raises(BadInputError, match="\\(9, 9, 9\\) \\(4 px\\)"):
        _run(gt, tmp_path / "p")


def test_soft_binary_predictions_with_threshold(tmp_path):
    gt = tmp_path / "gt"
    gt.mkdir()
    (gt / "labels.json").write_text(json.dumps(["bg", "fg"]))
    write_label(gt / "a.png", np.array([[0, 0, 1, 1]], np.uint8))
    (tmp_path / "p").mkdir()
    Image.fromarray(np.array([[0, 40000, 40000, 65535]], np.uint16)).save(tmp_path / "p" / "a.png")
    r, _ = _run(gt, tmp_path / "p", threshold=0.5)   # 32767.5 -> [0,1,1,1]
    assert r.metrics["miou@1"]["per_class"]["fg"]["IoU"] == 2 / 3
    r, _ = _run(gt, tmp_path / "p", threshold=0.7)   # 45874.5 -> [0,0,0,1]
    assert r.metrics["miou@1"]["per_class"]["fg"]["IoU"] == 0.5


def test_subfolders_and_bare_stems(tmp_path):
    gt = CityscapesStyle.make_fake(tmp_path, num_samples=2, seed=3, predictions=True)
    (gt / "city").mkdir()
    (gt / "img_001.png").rename(gt / "city" / "img_001.png")
    ds = CityscapesStyle(gt)
    assert ds.sample_ids() == ["city/img_001", "img_000"]
    src = ds.predictions(tmp_path / "pred")   # flat prediction folder: bare stem matches
    assert set(src.index) == {"city/img_001", "img_000"}


def test_cli_eval_style(tmp_path, capsys):
    gt = CityscapesStyle.make_fake(tmp_path, num_samples=3, seed=4, num_classes=5, predictions=True)
    out = tmp_path / "r.json"
    code = main(["eval", str(tmp_path / "pred"), "--dataset", "cityscapes-style", "--gt", str(gt),
                 "--json", str(out)])
    o, e = capsys.readouterr()
    assert code == 0, e
    vals = json.loads(out.read_text())["metrics"]["miou@1"]["values"]
    ref = _direct_miou(gt, tmp_path / "pred", 5)
    assert abs(vals["mIoU"] - ref["mIoU"]) < 1e-12 and "class_0" in o
    # wrong size prediction: exit 2, one line naming both shapes
    write_label(tmp_path / "pred" / "img_000.png", np.zeros((5, 5), np.uint8))
    code = main(["eval", str(tmp_path / "pred"), "--dataset", "cityscapes-style", "--gt", str(gt)])
    o, e = capsys.readouterr()
    assert code == 2 and "24x32" in e and "5x5" in e and len(e.strip().splitlines()) == 1
    # empty prediction folder
    (tmp_path / "empty").mkdir()
    code = main(["eval", str(tmp_path / "empty"), "--dataset", "cityscapes-style", "--gt", str(gt)])
    o, e = capsys.readouterr()
    assert code == 2 and "found none" in e


def test_real_binary_labels_0_255_and_16bit_soft_predictions(data_dir, tmp_path):
    """Real ISBI files: 0/255 label PNGs (255 is a class here, not ignore) and a U-Net's 16-bit
    256x256 soft maps (threshold + nearest resize)."""
    gt = data_dir / "semantic" / "gt"
    preds = data_dir / "semantic" / "pred"
    ds = CityscapesStyle(gt)
    ls = ds.label_space()
    assert ls.names == ["membrane", "cell"]
    s = ds.load("0")
    raw = np.array(Image.open(gt / "0.png"))
    assert (s.target.mask == (raw == 255)).all()          # 0 -> 0, 255 -> 1, nothing ignored
    with pytest.raises(BadInputError, match="512x512.*256x256"):
        _run(gt, preds, threshold=0.5)
    rec, _ = _run(gt, preds, threshold=0.5, resize="nearest")
    # reference: binarise at half the 16-bit range, nearest-upsample x2, confusion by hand
    cm = np.zeros((2, 2), np.int64)
    for k in ("0", "1"):
        g = (np.array(Image.open(gt / f"{k}.png")) == 255).astype(np.int64)
        p = (np.array(Image.open(preds / f"{k}.png")).astype(np.int64) > 32767.5).astype(np.int64)
        p = p.repeat(2, 0).repeat(2, 1)
        cm += np.bincount(g.ravel() * 2 + p.ravel(), minlength=4).reshape(2, 2)
    tp = np.diag(cm)
    iou = tp / (cm.sum(0) + cm.sum(1) - tp)
    vals = rec.metrics["miou@1"]["values"]
    assert vals["mIoU"] == pytest.approx(iou.mean(), abs=1e-12)
    assert rec.metrics["miou@1"]["artifacts"]["confusion_matrix"] == cm.tolist()


def test_num_classes_must_agree_with_any_label_table(tmp_path):
    gt = CityscapesStyle.make_fake(tmp_path, num_samples=1, seed=2, num_classes=4)
    (tmp_path / "t.json").write_text(json.dumps(["a", "b", "c", "d"]))
    assert CityscapesStyle(gt, labels=tmp_path / "t.json", num_classes=4).label_space().num_classes == 4
    for opts in ({"num_classes": 5}, {"labels": tmp_path / "t.json", "num_classes": 3}):
        with pytest.raises(UsageError, match="--num-classes .* disagrees with the 4 evaluated classes"):
            CityscapesStyle(gt, **opts).label_space()
    (gt / "labels.json").unlink()
    for bad in (0, -2, "2.5"):
        with pytest.raises(UsageError, match="--num-classes"):
            CityscapesStyle(gt, num_classes=bad).label_space()
    assert CityscapesStyle(gt, num_classes=300).label_space().ignore_index == 65535


def test_jpeg_bytes_named_png_are_refused(tmp_path):
    gt = CityscapesStyle.make_fake(tmp_path, num_samples=1, seed=3, num_classes=4, predictions=True)
    f = sorted(gt.glob("*.png"))[0]
    Image.fromarray(read_label(f)).save(f, format="JPEG")
    with pytest.raises(BadInputError, match=r"\.png: expected PNG data, found JPEG in a file named \.png; JPEG is "
                                            r"lossy"):
        _run(gt, tmp_path / "pred")


def test_a_split_that_is_not_among_the_split_folders_is_refused(tmp_path):
    for sp, seed in (("train", 5), ("val", 6)):
        CityscapesStyle.make_fake(tmp_path / f"_{sp}", num_samples=2, seed=seed, num_classes=3)
        (tmp_path / "gt").mkdir(exist_ok=True)
        (tmp_path / f"_{sp}").rename(tmp_path / "gt" / sp)
    assert len(CityscapesStyle(tmp_path / "gt", split="val", num_classes=3).sample_ids()) == 2
    assert len(CityscapesStyle(tmp_path / "gt", num_classes=3).sample_ids()) == 4  # default: the whole tree
    with pytest.raises(NotFoundError, match=r"expected a split folder vall/ .* found only train, val"):
        CityscapesStyle(tmp_path / "gt", split="vall", num_classes=3).sample_ids()

"""`segbench predict` → `segbench eval` end to end on fake twins, with real architectures and random weights."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import _model_fixtures as fx  # noqa: E402
from segbench.cli import main  # noqa: E402
from segbench.datasets import get_dataset_class  # noqa: E402

pytestmark = pytest.mark.models


def _run(argv, capsys=None):
    code = main([str(a) for a in argv])
    return code


def _eval(preds, dataset, gt, out_json):
    assert _run(["eval", preds, "--dataset", dataset, "--gt", gt, "--json", out_json]) == 0
    return json.loads(open(out_json).read())


def test_voc_torchvision_predict_then_eval(tmp_path):
    tv_seg = pytest.importorskip("torchvision.models.segmentation")
    root = get_dataset_class("voc2012").make_fake(tmp_path / "voc", num_samples=3, seed=1)
    torch.manual_seed(0)
    model = tv_seg.lraspp_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=21).eval()
    torch.save(model.state_dict(), tmp_path / "lraspp.pth")
    out = tmp_path / "pred"
    assert _run(["predict", "--model", "tv-lraspp-mobilenetv3", "--weights", tmp_path / "lraspp.pth", "--dataset",
                 "voc2012", "--gt", root, "--out", out, "--batch-size", "2", "--model-option", "resize_size=48"]) == 0
    manifest = json.loads((out / "segbench-predict.json").read_text())
    ds = get_dataset_class("voc2012")(root)
    assert manifest["model"]["name"] == "tv-lraspp-mobilenetv3" and manifest["count"] == len(ds.sample_ids()) > 0
    for sid in ds.sample_ids():
        from PIL import Image
        arr = np.array(Image.open(out / f"{sid}.png"))
        assert arr.shape == ds.load(sid).target.shape and arr.max() <= 20
    rec = _eval(out, "voc2012", root, tmp_path / "rec.json")
    assert rec["model"]["name"] == "tv-lraspp-mobilenetv3"
    assert rec["model"]["weights_sha256"] == manifest["model"]["weights_sha256"]
    assert rec["model"]["settings"]["resize_size"] == 48
    assert 0.0 <= rec["metrics"][next(iter(rec["metrics"]))]["values"]["mIoU"] <= 1.0


def test_isbi_smp_binary_predict_then_eval(tmp_path):
    smp = pytest.importorskip("segmentation_models_pytorch")
    root = get_dataset_class("isbi-membrane").make_fake(tmp_path / "isbi", num_samples=2, size=64)
    torch.manual_seed(0)
    smp.Unet("resnet18", encoder_weights=None, classes=1, in_channels=1).save_pretrained(str(tmp_path / "unet"))
    out = tmp_path / "pred"
    assert _run(["predict", "--model", "smp-unet", "--weights", tmp_path / "unet", "--dataset", "isbi-membrane",
                 "--gt", root, "--out", out]) == 0
    rec = _eval(out, "isbi-membrane", root, tmp_path / "rec.json")
    assert rec["model"]["name"] == "smp-unet" and rec["model"]["library"] == "segmentation-models-pytorch"


def test_coco_maskrcnn_results_json_then_eval(tmp_path):
    det = pytest.importorskip("torchvision.models.detection")
    root = get_dataset_class("coco").make_fake(tmp_path / "coco", num_samples=2, num_categories=3, size=(48, 64))
    ls = get_dataset_class("coco")(root).label_space()
    torch.manual_seed(0)
    model = det.maskrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=ls.num_classes + 1)
    torch.save(model.state_dict(), tmp_path / "mrcnn.pth")
    out = tmp_path / "pred"
    assert _run(["predict", "--model", "tv-maskrcnn-resnet50-fpn", "--weights", tmp_path / "mrcnn.pth", "--dataset",
                 "coco", "--gt", root, "--out", out, "--model-option", "min_size=48", "--model-option", "max_size=64",
                 "--model-option", "box_score_thresh=0.0", "--model-option", "detections_per_img=5"]) == 0
    res = json.loads((out / "results.json").read_text())
    assert res and {d["category_id"] for d in res} <= {c.id for c in ls.eval_classes}
    assert all(isinstance(d["segmentation"]["counts"], str) for d in res)
    rec = _eval(out / "results.json", "coco", root, tmp_path / "rec.json")
    assert rec["metrics"]
    # the official 91-class COCO weights cannot be mapped onto these fake class names: refused with a reason
    torch.save(det.maskrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=91).state_dict(),
               tmp_path / "m91.pth")
    assert _run(["predict", "--model", "tv-maskrcnn-resnet50-fpn", "--weights", tmp_path / "m91.pth", "--dataset",
                 "coco", "--gt", root, "--out", tmp_path / "p91"]) == 2


def test_coco_panoptic_mask2former_then_eval(tmp_path):
    pytest.importorskip("transformers")
    root = get_dataset_class("coco-panoptic").make_fake(tmp_path / "pan", num_samples=2, size=(48, 64))
    ls = get_dataset_class("coco-panoptic")(root).label_space()
    id2label = {i: c.name for i, c in enumerate(ls.eval_classes)}
    torch.manual_seed(0)
    model, proc = fx.tiny_mask2former(id2label)
    fx.hf_save(model, proc, tmp_path / "m2f")
    out = tmp_path / "pred"
    assert _run(["predict", "--model", "hf-mask2former-panoptic", "--weights", tmp_path / "m2f", "--dataset",
                 "coco-panoptic", "--gt", root, "--out", out, "--model-option", "threshold=0.0",
                 "--model-option", "mask_threshold=0.0", "--model-option", "overlap_mask_area_threshold=0.0"]) == 0
    pj = json.loads((out / "panoptic.json").read_text())
    assert len(pj["annotations"]) == 2 and (out / "panoptic" / pj["annotations"][0]["file_name"]).is_file()
    rec = _eval(out / "panoptic.json", "coco-panoptic", root, tmp_path / "rec.json")
    vals = next(iter(rec["metrics"].values()))["values"]
    assert 0.0 <= vals["PQ"] <= 1.0


def test_predict_refuses_mismatched_label_space(tmp_path, capsys):
    tv_seg = pytest.importorskip("torchvision.models.segmentation")
    root = get_dataset_class("isbi-membrane").make_fake(tmp_path / "isbi", num_samples=1, size=32)
    torch.save(tv_seg.lraspp_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=21).state_dict(),
               tmp_path / "voc.pth")
    code = _run(["predict", "--model", "tv-lraspp-mobilenetv3", "--weights", tmp_path / "voc.pth", "--dataset",
                 "isbi-membrane", "--gt", root, "--out", tmp_path / "o"])
    assert code == 2
    assert "cannot predict" in capsys.readouterr().err


def test_davis_sam_propagation_palette_pngs_then_eval(tmp_path):
    pytest.importorskip("transformers")
    from PIL import Image
    root = get_dataset_class("davis2017").make_fake(tmp_path / "davis", num_samples=2, frames=4, height=40, width=56)
    torch.manual_seed(0)
    model, proc = fx.tiny_sam()
    fx.hf_save(model, proc, tmp_path / "sam")
    out = tmp_path / "pred"
    assert _run(["predict", "--model", "hf-sam-propagate", "--weights", tmp_path / "sam", "--dataset", "davis2017",
                 "--gt", root, "--out", out]) == 0
    ds = get_dataset_class("davis2017")(root)
    for seq in ds.sample_ids():
        s = ds.load(seq)
        pngs = sorted((out / seq).glob("*.png"))
        assert [p.stem for p in pngs] == list(s.target.frames)
        im = Image.open(pngs[0])
        assert im.mode == "P"
        first = np.asarray(s.target.masks[0])
        assert np.array_equal(np.array(im), np.where(first == 255, 0, first))  # the given first frame
        ids = set(np.unique(np.array(Image.open(pngs[-1]))).tolist())
        assert ids <= set(np.unique(first).tolist()) | {0}
    rec = _eval(out, "davis2017", root, tmp_path / "rec.json")
    vals = next(iter(rec["metrics"].values()))["values"]
    assert 0.0 <= vals["J&F"] <= 1.0


CITYSCAPES_HF_ID2LABEL = {0: "road", 1: "sidewalk", 2: "building", 3: "wall", 4: "fence", 5: "pole",
                          6: "traffic light", 7: "traffic sign", 8: "vegetation", 9: "terrain", 10: "sky",
                          11: "person", 12: "rider", 13: "car", 14: "truck", 15: "bus", 16: "train",
                          17: "motorcycle", 18: "bicycle"}  # nvidia/segformer-*-finetuned-cityscapes config


def test_cityscapes_segformer_slide_then_eval(tmp_path):
    pytest.importorskip("transformers")
    from PIL import Image
    root = get_dataset_class("cityscapes").make_fake(tmp_path / "cs", num_samples=2, size=(32, 64))
    torch.manual_seed(0)
    model, proc = fx.tiny_segformer(CITYSCAPES_HF_ID2LABEL)
    fx.hf_save(model, proc, tmp_path / "segformer")
    out = tmp_path / "pred"
    # mmseg's Cityscapes protocol scaled down: keep-ratio resize to fit 128x64, 32x32 windows, stride 24
    assert _run(["predict", "--model", "hf-segformer", "--weights", tmp_path / "segformer", "--dataset", "cityscapes",
                 "--gt", root, "--out", out, "--slide", "32,24", "--model-option", "resize=128x64"]) == 0
    ds = get_dataset_class("cityscapes")(root)
    native = {c.id for c in ds.label_space().eval_classes}
    for sid in ds.sample_ids():
        arr = np.array(Image.open(out / f"{sid}.png"))
        assert arr.shape == (32, 64) and set(np.unique(arr).tolist()) <= native  # labelIds, not train ids
    rec = _eval(out, "cityscapes", root, tmp_path / "rec.json")
    assert 0.0 <= next(iter(rec["metrics"].values()))["values"]["mIoU"] <= 1.0
    # the predict settings are recorded beside the predictions (the RunRecord takes them from there when
    # the dataset's prediction source reads segbench-predict.json)
    man = json.loads((out / "segbench-predict.json").read_text())["model"]
    assert man["name"] == "hf-segformer" and man["settings"]["slide"] == [[32, 32], [24, 24]]
    assert man["settings"]["preprocess"]["resize"] == "128x64" and man["library"] == "transformers"


def test_on_the_fly_model_source_equals_written_predictions(tmp_path):
    """Scoring the model directly (ModelPredictionSource, nothing written) gives the numbers of predict → eval."""
    tv_seg = pytest.importorskip("torchvision.models.segmentation")
    from segbench.engine import evaluate_run
    from segbench.models import get_model
    from segbench.models.base import ModelPredictionSource
    root = get_dataset_class("voc2012").make_fake(tmp_path / "voc", num_samples=4, seed=3)
    torch.manual_seed(1)
    model = tv_seg.lraspp_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=21).eval()
    with torch.no_grad():
        model.classifier.high_classifier.bias.copy_(torch.randn(21))
    torch.save(model.state_dict(), tmp_path / "w.pth")
    out = tmp_path / "pred"
    assert _run(["predict", "--model", "tv-lraspp-mobilenetv3", "--weights", tmp_path / "w.pth", "--dataset",
                 "voc2012", "--gt", root, "--out", out, "--model-option", "resize_size=40"]) == 0
    file_rec = _eval(out, "voc2012", root, tmp_path / "rec.json")
    ds = get_dataset_class("voc2012")(root)
    src = ModelPredictionSource(get_model("tv-lraspp-mobilenetv3", resize_size=40).load(tmp_path / "w.pth"), ds)
    rec, _ = evaluate_run(ds, src, ds.build_metrics(None))
    key = next(iter(file_rec["metrics"]))
    assert rec.to_dict()["metrics"][key]["values"] == file_rec["metrics"][key]["values"]
    assert rec.model["weights_sha256"] == file_rec["model"]["weights_sha256"]


def test_cityscapes_panoptic_mask2former_then_eval(tmp_path):
    pytest.importorskip("transformers")
    ds_cls = get_dataset_class("cityscapes-panoptic")
    root = ds_cls.make_fake(tmp_path / "csp", num_samples=2, size=(32, 64))
    ds = ds_cls(root)
    ls = ds.label_space()
    from pathlib import Path

    from PIL import Image
    for sid in ds.sample_ids():  # the fake twin has no input images: write some where the adapter looks
        img_path = Path(ds.load(sid).image)
        img_path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(fx.rand_image(32, 64, seed=len(sid))).save(img_path)
    torch.manual_seed(0)
    model, proc = fx.tiny_mask2former({i: c.name for i, c in enumerate(reversed(ls.eval_classes))})
    fx.hf_save(model, proc, tmp_path / "m2f")
    out = tmp_path / "pred"
    assert _run(["predict", "--model", "hf-mask2former-panoptic", "--weights", tmp_path / "m2f", "--dataset",
                 "cityscapes-panoptic", "--gt", root, "--out", out, "--model-option", "threshold=0.0",
                 "--model-option", "mask_threshold=0.0", "--model-option", "overlap_mask_area_threshold=0.0"]) == 0
    pj = json.loads((out / "panoptic.json").read_text())
    cats = {c.id for c in ls.eval_classes}
    assert all(s["category_id"] in cats for a in pj["annotations"] for s in a["segments_info"])
    rec = _eval(out / "panoptic.json", "cityscapes-panoptic", root, tmp_path / "rec.json")
    assert 0.0 <= next(iter(rec["metrics"].values()))["values"]["PQ"] <= 1.0


def test_cityscapes_instance_maskrcnn_txt_then_eval(tmp_path):
    det = pytest.importorskip("torchvision.models.detection")
    from segbench.models.torchvision_models import instance_classes
    cls = get_dataset_class("cityscapes-instance")
    root = cls.make_fake(tmp_path / "csi", num_samples=2, size=(32, 64))
    ds = cls(root)
    things, stuff = instance_classes(ds.label_space())
    assert len(things) == 8 and "road" in stuff
    torch.manual_seed(0)
    # a Cityscapes Mask R-CNN: background + the 8 thing classes (stuff classes are not required)
    model = det.maskrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=len(things) + 1)
    torch.save(model.state_dict(), tmp_path / "m.pth")
    out = tmp_path / "pred"
    assert _run(["predict", "--model", "tv-maskrcnn-resnet50-fpn", "--weights", tmp_path / "m.pth", "--dataset",
                 "cityscapes-instance", "--gt", root, "--out", out, "--model-option", "min_size=32",
                 "--model-option", "max_size=64", "--model-option", "box_score_thresh=0.0",
                 "--model-option", "detections_per_img=4"]) == 0
    thing_ids = {c.id for c in ds.label_space().eval_classes if c.is_thing}
    txts = sorted(out.glob("*.txt"))
    assert [t.stem for t in txts] == sorted(ds.sample_ids())
    lines = [ln.split() for t in txts for ln in t.read_text().splitlines()]
    assert lines and all(int(lid) in thing_ids and (out / mp).is_file() for mp, lid, _ in lines)
    rec = _eval(out, "cityscapes-instance", root, tmp_path / "rec.json")
    assert rec["metrics"]

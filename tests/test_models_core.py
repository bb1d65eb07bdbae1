"""Model infrastructure: inference maths vs literal references, safe checkpoints, label mapping, writers,
lazy torch import."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from segbench.errors import BadInputError, NotFoundError, UsageError  # noqa: E402
from segbench.models import MODELS, get_model_class  # noqa: E402
from segbench.models import inference as inf  # noqa: E402
from segbench.models.checkpoint import check_state_dict, load_into, read_state_dict  # noqa: E402
from segbench.models.labelmap import LabelMapping, names_from_id2label, normalize_name  # noqa: E402
from segbench.types import ClassSpec, LabelSpace  # noqa: E402

pytestmark = pytest.mark.models


# ----------------------------------------------------------------------------- inference
def _net(k=3, seed=0, down=1):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(k, 3, 3, 3, generator=g)

    def fwd(x):
        y = F.conv2d(x, w, padding=1)  # zero padding: results depend on the window position
        return F.avg_pool2d(y, down) if down > 1 else y
    return fwd


def _mmseg_slide_literal(fwd, img, crop, stride, k):
    """mmsegmentation 1.x ``EncoderDecoder.slide_inference``, transcribed step by step."""
    h_stride, w_stride = stride
    h_crop, w_crop = crop
    b, _, h_img, w_img = img.size()
    h_grids = max(h_img - h_crop + h_stride - 1, 0) // h_stride + 1
    w_grids = max(w_img - w_crop + w_stride - 1, 0) // w_stride + 1
    preds = img.new_zeros((b, k, h_img, w_img))
    count_mat = img.new_zeros((b, 1, h_img, w_img))
    for h_idx in range(h_grids):
        for w_idx in range(w_grids):
            y1 = h_idx * h_stride
            x1 = w_idx * w_stride
            y2 = min(y1 + h_crop, h_img)
            x2 = min(x1 + w_crop, w_img)
            y1 = max(y2 - h_crop, 0)
            x1 = max(x2 - w_crop, 0)
            crop_img = img[:, :, y1:y2, x1:x2]
            crop_seg_logit = F.interpolate(fwd(crop_img), size=crop_img.shape[2:], mode="bilinear",
                                           align_corners=False)
            preds += F.pad(crop_seg_logit, (int(x1), int(preds.shape[3] - x2), int(y1), int(preds.shape[2] - y2)))
            count_mat[:, :, y1:y2, x1:x2] += 1
    assert (count_mat == 0).sum() == 0
    return preds / count_mat


@pytest.mark.parametrize("shape,crop,stride,down", [((1, 3, 23, 37), (8, 12), (5, 7), 1),
                                                     ((2, 3, 16, 16), (16, 16), (8, 8), 2),
                                                     ((1, 3, 10, 9), (16, 16), (8, 8), 1),
                                                     ((1, 3, 31, 20), (10, 10), (10, 10), 2)])
def test_slide_inference_equals_mmseg_literal(shape, crop, stride, down):
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(1))
    fwd = _net(down=down)
    got = inf.slide_inference(fwd, x, crop, stride)
    ref = _mmseg_slide_literal(fwd, x, crop, stride, 3)
    assert got.shape == ref.shape
    torch.testing.assert_close(got, ref, rtol=0, atol=1e-6)


def test_slide_overlap_is_an_average_not_a_sum():
    x = torch.ones(1, 3, 10, 10)
    out = inf.slide_inference(lambda t: torch.ones(t.shape[0], 2, *t.shape[-2:]), x, (6, 6), (2, 2))
    torch.testing.assert_close(out, torch.ones(1, 2, 10, 10))


def test_tta_equals_literal_multiscale_flip():
    img = torch.rand(1, 3, 21, 30, generator=torch.Generator().manual_seed(2)) * 255
    fwd = _net(down=2)
    mean, std = inf.IMAGENET_MEAN, inf.IMAGENET_STD
    size_fn = inf.scaled(lambda h, w: inf.short_side_size(h, w, 16))
    got = inf.tta_inference(fwd, img, size_fn=size_fn, mean=mean, std=std, scales=[0.5, 1.0, 1.5], flip=True)
    total = 0
    for r in (0.5, 1.0, 1.5):
        oh, ow = inf.short_side_size(21, 30, 16)
        sz = (oh, ow) if r == 1.0 else (int(oh * r + 0.5), int(ow * r + 0.5))
        xr = F.interpolate(img, size=sz, mode="bilinear", align_corners=False)
        xn = (xr / 255 - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
        for fl in (False, True):
            xi = xn.flip(3) if fl else xn
            lg = F.interpolate(fwd(xi), size=sz, mode="bilinear", align_corners=False)
            lg = lg.flip(3) if fl else lg
            total = total + F.interpolate(lg, size=(21, 30), mode="bilinear", align_corners=False)
    torch.testing.assert_close(got, total / 6, rtol=1e-5, atol=1e-5)
    # softmax averaging (mmseg 0.x) differs from logit averaging
    soft = inf.tta_inference(fwd, img, size_fn=size_fn, mean=mean, std=std, scales=[0.5, 1.0], average="softmax")
    assert torch.allclose(soft.sum(1), torch.ones(1, 21, 30), atol=1e-5)


def test_tta_with_slide_single_scale_is_slide():
    img = torch.rand(1, 3, 20, 24, generator=torch.Generator().manual_seed(3)) * 255
    fwd = _net()
    got = inf.tta_inference(fwd, img, size_fn=lambda h, w, r: (h, w), mean=(0, 0, 0), std=(1, 1, 1), value_scale=1,
                            slide="8,6")
    torch.testing.assert_close(got, _mmseg_slide_literal(fwd, img, (8, 8), (6, 6), 3), rtol=0, atol=1e-5)


def test_resize_policies():
    assert inf.short_side_size(375, 500, 520) == (520, 693)
    assert inf.short_side_size(500, 375, 520) == (693, 520)
    assert inf.keep_ratio_size(1024, 2048, (2048, 1024)) == (1024, 2048)
    assert inf.keep_ratio_size(512, 683, (2048, 512)) == (512, 683)
    assert inf.keep_ratio_policy((2048, 512))(375, 500, 1.0) == (512, 683)
    assert inf.parse_slide("769,513") == ((769, 769), (513, 513))
    with pytest.raises(ValueError):
        inf.parse_slide("1,2,3")


def test_to_tensor_channels():
    g = np.arange(12, dtype=np.uint8).reshape(3, 4)
    t = inf.to_tensor(g)
    assert t.shape == (1, 3, 3, 4) and torch.equal(t[0, 0], t[0, 2])
    rgba = np.zeros((2, 2, 4), np.uint8)
    assert inf.to_tensor(rgba).shape == (1, 3, 2, 2)
    assert inf.to_tensor(np.full((2, 2, 3), 10, np.uint8), channels=1).shape == (1, 1, 2, 2)


# ----------------------------------------------------------------------------- checkpoints
class Evil:
    def __reduce__(self):
        return (os.system, ("touch /tmp/segbench_pwned_h8",))


def test_unsafe_pickle_refused(tmp_path):
    marker = "/tmp/segbench_pwned_h8"
    if os.path.exists(marker):
        os.remove(marker)
    p = tmp_path / "evil.pth"
    torch.save({"w": torch.zeros(2), "x": Evil()}, p)
    with pytest.raises(BadInputError) as e:
        read_state_dict(p)
    assert "system" in str(e.value) and "execute code" in str(e.value) and "evil.pth" in str(e.value)
    assert not os.path.exists(marker)


def test_pickle_with_foreign_class_refused_and_named(tmp_path):
    p = tmp_path / "ckpt.pth"
    torch.save({"model": {"w": torch.zeros(2)}, "args": argparse.Namespace(lr=1)}, p)
    with pytest.raises(BadInputError, match="argparse.Namespace"):
        read_state_dict(p)


def test_junk_and_missing_files(tmp_path):
    p = tmp_path / "junk.pth"
    p.write_bytes(b"not a checkpoint at all")
    with pytest.raises(BadInputError, match="junk.pth"):
        read_state_dict(p)
    with pytest.raises(NotFoundError):
        read_state_dict(tmp_path / "nope.pth")
    s = tmp_path / "bad.safetensors"
    s.write_bytes(b"\x00" * 20)
    with pytest.raises(BadInputError):
        read_state_dict(s)


def test_wrapped_and_prefixed_state_dicts(tmp_path):
    from safetensors.torch import save_file
    m = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1), torch.nn.BatchNorm2d(4))
    sd = m.state_dict()
    torch.save({"state_dict": {f"module.{k}": v for k, v in sd.items()}, "epoch": 3}, tmp_path / "a.pth")
    got = read_state_dict(tmp_path / "a.pth")
    assert sorted(got) == sorted(sd)
    save_file({k: v.contiguous() for k, v in sd.items()}, str(tmp_path / "b.safetensors"))
    got2 = read_state_dict(tmp_path / "b.safetensors")
    assert all(torch.equal(got2[k], sd[k]) for k in sd)
    m2 = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1), torch.nn.BatchNorm2d(4))
    load_into(m2, got2)
    assert torch.equal(m2[0].weight, m[0].weight)


def test_state_dict_mismatch_names_first_key():
    m = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1), torch.nn.Conv2d(4, 2, 1))
    sd = dict(m.state_dict())
    bad = dict(sd, **{"1.weight": torch.zeros(5, 4, 1, 1)})
    with pytest.raises(BadInputError, match=r"'1.weight' has shape \(5, 4, 1, 1\), expected \(2, 4, 1, 1\)"):
        check_state_dict(m.state_dict(), bad)
    missing = {k: v for k, v in sd.items() if k != "0.bias"}
    with pytest.raises(BadInputError, match="'0.bias' is missing"):
        check_state_dict(m.state_dict(), missing)
    with pytest.raises(BadInputError, match="unexpected key 'extra.w'"):
        check_state_dict(m.state_dict(), dict(sd, **{"extra.w": torch.zeros(1)}))


# ----------------------------------------------------------------------------- label mapping
VOC = ["__background__", "aeroplane", "bicycle", "diningtable", "tvmonitor"]


def test_mapping_by_name_reorders():
    ds = LabelSpace([ClassSpec("tv/monitor", 10, 0), ClassSpec("background", 0, 1), ClassSpec("dining table", 7, 2),
                     ClassSpec("aeroplane", 1, 3), ClassSpec("bicycle", 2, 4)])
    m = LabelMapping.build(VOC, ds)
    assert m.model_to_train.tolist() == [1, 3, 4, 2, 0]
    assert m.to_native(4) == 10 and not m.identity
    logits = torch.zeros(1, 5, 2, 2)
    logits[0, 3] = 5.0  # diningtable everywhere
    assert (m.argmax_to_train(logits) == 2).all()


def test_mapping_drops_extra_model_classes_from_argmax():
    ds = LabelSpace.from_names(["background", "bicycle"])
    m = LabelMapping.build(VOC, ds)
    logits = torch.zeros(1, 5, 1, 3)
    logits[0, 1] = 9.0  # aeroplane (not in the dataset) is strongest...
    logits[0, 2, 0, 1] = 1.0  # ...but only bicycle / background may win
    assert m.argmax_to_train(logits).tolist() == [[[0, 1, 0]]]
    assert m.to_native(1) is None


def test_mapping_refuses_mismatched_spaces():
    city = LabelSpace.from_names(["road", "sidewalk", "building"], name="cityscapes")
    with pytest.raises(UsageError, match="cannot predict 3 of the dataset's 3 classes.*'road'"):
        LabelMapping.build(VOC, city, "tv-fcn-resnet50")
    with pytest.raises(UsageError, match="predicts 5 classes without class names"):
        LabelMapping.build(None, city, "smp-unet", num_outputs=5)
    assert LabelMapping.build(None, city, num_outputs=3).identity


def test_names_and_synonyms():
    assert normalize_name("__background__") == "background" and normalize_name("Potted_Plant") == "potted plant"
    assert names_from_id2label({0: "LABEL_0", 1: "LABEL_1"}) is None
    assert names_from_id2label({"1": "b", "0": "a"}) == ["a", "b"]
    ds = LabelSpace.from_names(["building, edifice", "wall"])
    assert LabelMapping.build(["wall", "building"], ds).model_to_train.tolist() == [1, 0]


# ----------------------------------------------------------------------------- registry / lazy import
H8_MODULES = ("torchvision_models", "hf", "smp_models", "prompted")


def test_registry_resolves_every_model():
    for name, target in MODELS.items():
        if target.split(":")[0].rsplit(".", 1)[1] in H8_MODULES:
            cls = get_model_class(name)
            assert cls.name == name, name
            assert cls.reference.get("library") and cls.reference.get("paper"), name
            assert cls.reference.get("published_weights"), name


def test_catalog_lists_the_wrappers():
    from segbench.models.catalog import model_table
    rows = {r["name"]: r for r in model_table()}
    assert {n for n, t in MODELS.items() if t.split(":")[0].rsplit(".", 1)[1] in H8_MODULES} <= set(rows)
    assert rows["hf-segformer"]["options"] == ["device", "batch_size", "slide", "scales", "flip"]
    assert rows["tv-maskrcnn-resnet50-fpn"]["task"] == "instance" and rows["hf-sam-propagate"]["task"] == "video"


def test_import_without_torch_gives_install_hint():
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import segbench.models as m\n"
        "from segbench.errors import UsageError\n"
        "w = m.get_model('tv-fcn-resnet50')\n"
        "assert 'torch' not in [k for k in sys.modules if sys.modules[k] is not None]\n"
        "try:\n"
        "    w.load('x.pth')\n"
        "except UsageError as e:\n"
        "    print('ERR', e)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "pip install 'segbench[models]'" in r.stdout


def test_importing_segbench_models_imports_no_torch():
    code = ("import sys, segbench.models, segbench.models.torchvision_models, segbench.models.hf, "
            "segbench.models.smp_models, segbench.models.prompted, segbench.models.writers, segbench.models.regions\n"
            "from segbench.models.catalog import model_table; model_table()\n"
            "print('torch' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"


def test_unsupported_option_is_refused():
    from segbench.models import get_model
    with pytest.raises(UsageError, match="--slide"):
        get_model("tv-maskrcnn-resnet50-fpn", slide=((4, 4), (2, 2)))
    with pytest.raises(UsageError):
        get_model("tv-fcn-resnet50", tta_average="median")


# ----------------------------------------------------------------------------- writers
def test_coco_results_writer_loads_in_pycocotools(tmp_path):
    from pycocotools.coco import COCO

    from segbench.models.torchvision_models import coco_detections
    from segbench.models.writers import CocoResultsWriter
    from segbench.types import InstancePrediction, Sample
    ls = LabelSpace([ClassSpec("cat", 17, 0, is_thing=True), ClassSpec("dog", 18, 1, is_thing=True)])
    mapping = LabelMapping.build(["__background__", "dog", "cat"], ls)
    masks = np.zeros((2, 6, 8), bool)
    masks[0, 1:3, 2:5] = True
    masks[1, 4:6, 0:8] = True
    dets = coco_detections(masks, [0.9, 0.4], [2, 1], mapping, 42, boxes=np.array([[2, 1, 5, 3], [0, 4, 8, 6]]))
    assert [d["category_id"] for d in dets] == [17, 18] and dets[0]["bbox"] == [2.0, 1.0, 3.0, 2.0]
    w = CocoResultsWriter(tmp_path)
    w.write(Sample("42", None, None), InstancePrediction(dets, 42))
    path = w.close()
    gt = {"images": [{"id": 42, "height": 6, "width": 8}],
          "annotations": [{"id": 1, "image_id": 42, "category_id": 17, "bbox": [2, 1, 3, 2], "area": 6, "iscrowd": 0,
                           "segmentation": [[2, 1, 5, 1, 5, 3, 2, 3]]}],
          "categories": [{"id": 17, "name": "cat"}, {"id": 18, "name": "dog"}]}
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    coco = COCO(str(tmp_path / "gt.json"))
    res = coco.loadRes(str(path))
    from pycocotools import mask as mu
    a = res.loadAnns(res.getAnnIds())[0]
    assert (mu.decode(res.annToRLE(a)).astype(bool) == masks[0]).all()


def test_panoptic_writer_roundtrip(tmp_path):
    from segbench.io.panoptic import load_panoptic_json, read_panoptic_png
    from segbench.models.writers import PanopticWriter
    from segbench.types import PanopticPrediction, Sample
    ls = LabelSpace([ClassSpec("person", 1, 0, is_thing=True), ClassSpec("sky", 187, 1)])
    ids = np.zeros((4, 5), np.int32)
    ids[0:2, :] = 1
    ids[3, 1:3] = 300
    w = PanopticWriter(tmp_path, ls)
    w.write(Sample("9", None, None, {"image_id": 9, "file_name": "000009.png"}),
            PanopticPrediction(ids, [{"id": 1, "category_id": 187}, {"id": 300, "category_id": 1}]))
    js = w.close()
    assert js.name == "panoptic.json"
    back = read_panoptic_png(tmp_path / "panoptic" / "000009.png")
    assert (back == ids).all()
    d = json.loads(js.read_text())
    seg = {s["id"]: s for s in d["annotations"][0]["segments_info"]}
    assert seg[300]["area"] == 2 and seg[300]["bbox"] == [1, 3, 2, 1] and seg[1]["category_id"] == 187
    assert {c["id"]: c["isthing"] for c in d["categories"]} == {1: 1, 187: 0}
    load_panoptic_json(js)


def test_davis_writer_palette(tmp_path):
    from PIL import Image

    from segbench.models.writers import DavisWriter, voc_palette
    from segbench.types import Sample, VideoPrediction
    m = np.zeros((2, 3, 4), np.uint8)
    m[1, 1, 1] = 2
    DavisWriter(tmp_path).write(Sample("bear", None, None), VideoPrediction(["00000.jpg", "00001.jpg"], m))
    im = Image.open(tmp_path / "bear" / "00001.png")
    assert im.mode == "P" and np.array(im)[1, 1] == 2
    assert np.array(im.getpalette()[:9]).tolist() == voc_palette()[:3].ravel().tolist()


def test_model_map_is_consistent_with_the_registry():
    import csv
    from pathlib import Path
    path = Path(__file__).resolve().parents[1] / "leaderboards" / "model_map.csv"
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    mapped = {n for r in rows for n in r["segbench_models"].split(";") if n}
    assert mapped <= set(MODELS), mapped - set(MODELS)
    torch_wrappers = {n for n, t in MODELS.items() if t.split(":")[0].rsplit(".", 1)[1] in H8_MODULES}
    assert torch_wrappers <= mapped, torch_wrappers - mapped
    unwrapped = [r for r in rows if not r["segbench_models"]]
    assert {"SegNet", "ENet", "ICNet", "BiSeNet", "HRNet-OCR"} <= {r["surveyed_model"] for r in unwrapped}
    assert all(r["what_is_needed"] for r in unwrapped)


def test_no_network_while_loading_and_predicting(tmp_path, monkeypatch):
    import _model_fixtures as fx
    import segmentation_models_pytorch as smp
    import torchvision.models.segmentation as seg
    from segbench.models import get_model
    from segbench.types import Sample
    torch.manual_seed(0)
    model, proc = fx.tiny_segformer({0: "a", 1: "b"})
    fx.hf_save(model, proc, tmp_path / "hf")
    smp.Unet("resnet18", encoder_weights=None, classes=2).save_pretrained(str(tmp_path / "smp"))
    torch.save(seg.lraspp_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=2).state_dict(),
               tmp_path / "tv.pth")
    fx.forbid_network(monkeypatch)
    ds = fx.FakeDataset(LabelSpace.from_names(["a", "b"]))
    for name, w in (("hf-segformer", tmp_path / "hf"), ("smp-unet", tmp_path / "smp"),
                    ("tv-lraspp-mobilenetv3", tmp_path / "tv.pth")):
        m = get_model(name).load(w).bind(ds)
        assert m.predict(Sample("a", fx.rand_image(32, 32), None)).mask.shape == (32, 32)


def test_tta_softmax_single_channel_is_sigmoid():
    img = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(4)) * 255
    fwd = lambda x: x[:, :1] * 3  # noqa: E731
    out = inf.tta_inference(fwd, img, size_fn=lambda h, w, r: (h, w), mean=(0, 0, 0), std=(1, 1, 1),
                            value_scale=255, average="softmax")
    torch.testing.assert_close(out, (img[:, :1] / 255 * 3).sigmoid())


def test_mapping_onto_the_real_adapters_label_spaces(tmp_path):
    from segbench.datasets import get_dataset_class
    from segbench.datasets.voc import voc_label_space
    from segbench.models.torchvision_models import VOC_CATEGORIES
    voc = voc_label_space()
    m = LabelMapping.build(VOC_CATEGORIES, voc, "tv-fcn-resnet50")
    assert m.identity  # torchvision's VOC order is VOC's train-id order
    ade_cls = get_dataset_class("ade20k")
    ade = ade_cls(ade_cls.make_fake(tmp_path / "ade", num_samples=1)).label_space()
    hf_names = [n + " " if n == "bed" else n for n in ade.names]  # the HF ADE config spells "bed "
    assert LabelMapping.build(hf_names, ade, "hf-segformer").identity
    with pytest.raises(UsageError, match="cannot predict 150 of the dataset's 150 classes|cannot predict"):
        LabelMapping.build(VOC_CATEGORIES, ade, "tv-fcn-resnet50")
    with pytest.raises(UsageError, match="cannot predict"):
        LabelMapping.build(hf_names, voc, "hf-segformer")


@pytest.mark.parametrize("name", ["tv-lraspp-mobilenetv3", "tv-maskrcnn-resnet50-fpn", "smp-unet"])
def test_wrappers_refuse_unsafe_checkpoints(tmp_path, name):
    from segbench.models import get_model
    marker = tmp_path / "pwned"
    p = tmp_path / "evil.pth"

    class EvilCkpt:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))
    torch.save({"classifier.4.weight": torch.zeros(1), "payload": EvilCkpt()}, p)
    with pytest.raises(BadInputError, match="refused to load this checkpoint"):
        get_model(name).load(p)
    assert not marker.exists()


def test_cli_models_command(capsys):
    from segbench.cli import main
    assert main(["models", "--json", "--task", "panoptic"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["name"] for r in rows} >= {"hf-mask2former-panoptic", "hf-maskformer-panoptic"}
    assert all(r["task"] == "panoptic" for r in rows)
    assert main(["models"]) == 0
    assert "tv-fcn-resnet50" in capsys.readouterr().out

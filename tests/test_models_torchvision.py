"""torchvision wrappers on their real architectures with random weights (tiny inputs)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
tv_seg = pytest.importorskip("torchvision.models.segmentation")
F = torch.nn.functional

from _model_fixtures import FakeDataset, rand_image  # noqa: E402
from segbench.errors import BadInputError, UsageError  # noqa: E402
from segbench.models import get_model  # noqa: E402
from segbench.models.torchvision_models import VOC_CATEGORIES  # noqa: E402
from segbench.types import ClassSpec, LabelSpace, Sample  # noqa: E402

pytestmark = pytest.mark.models

SEMANTIC = [("tv-fcn-resnet50", "fcn_resnet50"), ("tv-fcn-resnet101", "fcn_resnet101"),
            ("tv-deeplabv3-resnet50", "deeplabv3_resnet50"), ("tv-deeplabv3-resnet101", "deeplabv3_resnet101"),
            ("tv-deeplabv3-mobilenetv3", "deeplabv3_mobilenet_v3_large"),
            ("tv-lraspp-mobilenetv3", "lraspp_mobilenet_v3_large")]

# a VOC-style dataset whose train ids are in another order than torchvision's categories
VOC_DS = LabelSpace([ClassSpec(n if n != "__background__" else "background", i, (i + 5) % 21)
                     for i, n in enumerate(VOC_CATEGORIES)], name="voc-like")


def _build(builder, num_classes=21, seed=0):
    torch.manual_seed(seed)
    kw = {"weights": None, "weights_backbone": None, "num_classes": num_classes}
    if not builder.startswith("lraspp"):
        kw["aux_loss"] = True
    m = getattr(tv_seg, builder)(**kw).eval()
    with torch.no_grad():  # make the (otherwise near-uniform) head produce varied classes
        for p in m.parameters():
            if p.ndim == 1 and p.shape[0] == num_classes:
                p.copy_(torch.randn(num_classes) * 2)
    return m


def _reference(model, img, resize):
    tf = tv_seg.FCN_ResNet50_Weights.COCO_WITH_VOC_LABELS_V1.transforms(resize_size=resize)
    x = tf(torch.from_numpy(img).permute(2, 0, 1))
    with torch.no_grad():
        out = model(x[None])["out"]
    out = F.interpolate(out, size=img.shape[:2], mode="bilinear", align_corners=False)
    return out.argmax(1)[0].numpy()


@pytest.mark.parametrize("name,builder", SEMANTIC)
def test_semantic_matches_torchvision_reference(tmp_path, name, builder):
    model = _build(builder)
    p = tmp_path / f"{builder}.pth"
    torch.save(model.state_dict(), p)
    w = get_model(name, resize_size=48).load(p).bind(FakeDataset(VOC_DS))
    img = rand_image()
    pred = w.predict(Sample("a", img, None))
    ref = _reference(model, img, 48)
    lut = np.array([(i + 5) % 21 for i in range(21)])
    assert pred.mask.shape == img.shape[:2] and pred.mask.dtype == np.uint8
    assert np.array_equal(pred.mask, lut[ref])
    assert np.array_equal(w.predict(Sample("a", img, None)).mask, pred.mask)  # deterministic
    d = w.describe()
    assert d["weights_sha256"] and d["library"] == "torchvision" and d["name"] == name
    assert d["settings"]["resize_size"] == 48


def test_batch_equals_single_and_tta_runs(tmp_path):
    model = _build("lraspp_mobilenet_v3_large")
    p = tmp_path / "l.pth"
    torch.save(model.state_dict(), p)
    w = get_model("tv-lraspp-mobilenetv3", resize_size=48, batch_size=3).load(p).bind(FakeDataset(VOC_DS))
    samples = [Sample(str(i), rand_image(seed=i), None) for i in range(2)] + [Sample("c", rand_image(30, 30, 9), None)]
    batch = w.predict_batch(samples)
    for s, b in zip(samples, batch):
        assert np.array_equal(w.predict(s).mask, b.mask)
    t = get_model("tv-lraspp-mobilenetv3", resize_size=48, slide=((32, 32), (16, 16)), scales=[0.75, 1.0],
                  flip=True).load(p).bind(FakeDataset(VOC_DS))
    out = t.predict(samples[0])
    assert out.mask.shape == (40, 56)
    assert t.describe()["settings"]["flip"] is True


def test_wrong_architecture_names_first_key(tmp_path):
    p = tmp_path / "fcn.pth"
    torch.save(_build("fcn_resnet50").state_dict(), p)
    with pytest.raises(BadInputError, match=r"key '.*' (is missing|has shape)|unexpected key"):
        get_model("tv-deeplabv3-resnet50").load(p)
    sd = _build("lraspp_mobilenet_v3_large").state_dict()
    sd["classifier.low_classifier.weight"] = torch.zeros(21, 40, 1, 1)
    sd["classifier.low_classifier.bias"] = torch.zeros(21)
    sd["classifier.high_classifier.bias"] = torch.zeros(21)
    sd["classifier.high_classifier.weight"] = torch.zeros(21, 128, 1, 1)
    key = next(k for k in sd if k.startswith("backbone."))
    sd[key] = torch.zeros(1)
    torch.save(sd, tmp_path / "bad.pth")
    with pytest.raises(BadInputError, match=f"key '{key}' has shape"):
        get_model("tv-lraspp-mobilenetv3").load(tmp_path / "bad.pth")


def test_label_space_mismatch_refused_and_custom_classes(tmp_path):
    p = tmp_path / "voc.pth"
    torch.save(_build("lraspp_mobilenet_v3_large").state_dict(), p)
    city = LabelSpace.from_names(["road", "sidewalk", "building"], name="cityscapes")
    with pytest.raises(UsageError, match="cannot predict"):
        get_model("tv-lraspp-mobilenetv3").load(p).bind(FakeDataset(city))
    p3 = tmp_path / "c3.pth"
    torch.save(_build("lraspp_mobilenet_v3_large", num_classes=3).state_dict(), p3)
    w = get_model("tv-lraspp-mobilenetv3", resize_size=32).load(p3).bind(FakeDataset(city))
    assert w.mapping.identity and set(np.unique(w.predict(Sample("a", rand_image(), None)).mask)) <= {0, 1, 2}
    with pytest.raises(UsageError, match="predicts 3 classes"):
        w.bind(FakeDataset(LabelSpace.from_names(list("abcd"))))


def _coco_ds(drop=()):
    det = pytest.importorskip("torchvision.models.detection")
    cats = det.MaskRCNN_ResNet50_FPN_Weights.COCO_V1.meta["categories"]
    rows = [(i, n) for i, n in enumerate(cats) if n not in ("__background__", "N/A") and i not in drop]
    return LabelSpace([ClassSpec(n, i, t, is_thing=True) for t, (i, n) in enumerate(rows)], name="coco-like")


COCO_DS = _coco_ds()


@pytest.mark.parametrize("name,builder", [("tv-maskrcnn-resnet50-fpn", "maskrcnn_resnet50_fpn"),
                                          ("tv-maskrcnn-resnet50-fpn-v2", "maskrcnn_resnet50_fpn_v2")])
def test_maskrcnn_matches_reference(tmp_path, name, builder):
    from pycocotools import mask as mu
    det = pytest.importorskip("torchvision.models.detection")
    torch.manual_seed(0)
    kw = dict(weights=None, weights_backbone=None, num_classes=91, min_size=64, max_size=96, box_score_thresh=0.0,
              box_detections_per_img=8)
    model = getattr(det, builder)(**kw).eval()
    p = tmp_path / "m.pth"
    torch.save(model.state_dict(), p)
    w = get_model(name, min_size=64, max_size=96, box_score_thresh=0.0, detections_per_img=8).load(p)
    w.bind(FakeDataset(COCO_DS))
    img = rand_image(48, 64)
    pred = w.predict(Sample("5", img, None, {"image_id": 5}))
    with torch.no_grad():
        ref = model([torch.from_numpy(img).permute(2, 0, 1).float() / 255])[0]
    keep = list(range(len(ref["labels"])))
    assert len(keep) > 0 and len(pred.detections) == len(keep)
    for d, i in zip(pred.detections, keep):
        assert d["image_id"] == 5 and d["category_id"] == int(ref["labels"][i])
        assert d["score"] == pytest.approx(float(ref["scores"][i]))
        m = mu.decode(dict(d["segmentation"], counts=d["segmentation"]["counts"].encode()))
        assert np.array_equal(m.astype(bool), (ref["masks"][i, 0] > 0.5).numpy())
    assert pred.detections == w.predict(Sample("5", img, None, {"image_id": 5})).detections
    first = int(ref["labels"][0])  # a dataset without that class: its detections are dropped
    w.bind(FakeDataset(_coco_ds(drop={first})))
    sub = w.predict(Sample("5", img, None, {"image_id": 5})).detections
    assert len(sub) == sum(1 for lab in ref["labels"].tolist() if lab != first)
    assert all(d["category_id"] != first for d in sub)
    with pytest.raises(UsageError, match="cannot predict"):
        w.bind(FakeDataset(LabelSpace.from_names(["zebra-crossing"])))

"""transformers wrappers on tiny configs with random weights, loaded offline from save_pretrained folders."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
tr = pytest.importorskip("transformers")

import _model_fixtures as fx  # noqa: E402
from segbench.errors import BadInputError, NotFoundError, UsageError  # noqa: E402
from segbench.models import get_model  # noqa: E402
from segbench.types import ClassSpec, InstanceMasks, LabelSpace, PanopticPrediction, ReferringTarget, Sample  # noqa: E402

pytestmark = pytest.mark.models

ID2LABEL = {0: "wall", 1: "person", 2: "sky"}
# the dataset lists the same classes in another order, and names one with its ADE synonyms
DS = LabelSpace([ClassSpec("sky", 3, 0), ClassSpec("wall, partition", 1, 1), ClassSpec("person", 7, 2, is_thing=True)])
LUT = np.array([1, 2, 0])  # model index -> dataset train id


def _folder(tmp_path, maker, name):
    torch.manual_seed(0)
    model, proc = maker(ID2LABEL)
    d = tmp_path / name
    fx.hf_save(model, proc, d)
    return d, model, proc


@pytest.mark.parametrize("name,maker", [("hf-segformer", fx.tiny_segformer), ("hf-upernet", fx.tiny_upernet),
                                        ("hf-dpt", fx.tiny_dpt)])
def test_semantic_matches_processor_post_processing(tmp_path, name, maker):
    d, model, proc = _folder(tmp_path, maker, name)
    w = get_model(name).load(d).bind(fx.FakeDataset(DS))
    img = fx.rand_image()
    pred = w.predict(Sample("a", img, None))
    with torch.no_grad():
        out = model(**proc(images=[img], return_tensors="pt"))
    ref = proc.post_process_semantic_segmentation(out, target_sizes=[img.shape[:2]])[0].numpy()
    assert pred.mask.shape == img.shape[:2]
    assert np.array_equal(pred.mask, LUT[ref])
    assert np.array_equal(w.predict(Sample("a", img, None)).mask, pred.mask)
    tta = get_model(name, scales=[0.75, 1.0], flip=True, slide="48,32").load(d).bind(fx.FakeDataset(DS))
    assert tta.predict(Sample("a", img, None)).mask.shape == img.shape[:2]
    desc = w.describe()
    assert desc["library"] == "transformers" and len(desc["weights_sha256"]) == 64
    assert desc["settings"]["processor"] == "preprocessor_config.json"


@pytest.mark.parametrize("name,maker", [("hf-mask2former-semantic", fx.tiny_mask2former),
                                        ("hf-maskformer-semantic", fx.tiny_maskformer)])
def test_maskformer_semantic(tmp_path, name, maker):
    d, model, proc = _folder(tmp_path, maker, name)
    w = get_model(name).load(d).bind(fx.FakeDataset(DS))
    img = fx.rand_image()
    pred = w.predict(Sample("a", img, None))
    with torch.no_grad():
        out = model(**proc(images=[img], return_tensors="pt"))
    ref = proc.post_process_semantic_segmentation(out, target_sizes=[img.shape[:2]])[0].numpy()
    assert np.array_equal(pred.mask, LUT[ref])
    flip = get_model(name, flip=True).load(d).bind(fx.FakeDataset(DS)).predict(Sample("a", img, None))
    assert flip.mask.shape == img.shape[:2]


@pytest.mark.parametrize("name,maker", [("hf-mask2former-instance", fx.tiny_mask2former),
                                        ("hf-maskformer-instance", fx.tiny_maskformer)])
def test_instance_heads(tmp_path, name, maker):
    from pycocotools import mask as mu
    d, model, proc = _folder(tmp_path, maker, name)
    things = LabelSpace([ClassSpec(c.name, c.id, c.train_id, is_thing=True) for c in DS.eval_classes])
    w = get_model(name).load(d).bind(fx.FakeDataset(things))
    img = fx.rand_image()
    pred = w.predict(Sample("3", img, None, {"image_id": 3}))
    with torch.no_grad():
        out = model(**proc(images=[img], return_tensors="pt"))
    ref = proc.post_process_instance_segmentation(out, threshold=0.0, target_sizes=[img.shape[:2]],
                                                  return_binary_maps=True)[0]
    assert len(pred.detections) == len(ref["segments_info"]) > 0
    native = {0: 1, 1: 7, 2: 3}  # model index -> dataset native id
    for det, seg, m in zip(pred.detections, ref["segments_info"], ref["segmentation"]):
        assert det["category_id"] == native[seg["label_id"]] and det["score"] == pytest.approx(seg["score"])
        got = mu.decode(dict(det["segmentation"], counts=det["segmentation"]["counts"].encode()))
        assert np.array_equal(got.astype(bool), m.numpy().astype(bool)) and det["image_id"] == 3


@pytest.mark.parametrize("name,maker", [("hf-mask2former-panoptic", fx.tiny_mask2former),
                                        ("hf-maskformer-panoptic", fx.tiny_maskformer)])
def test_panoptic_heads(tmp_path, name, maker):
    torch.manual_seed(0)
    model, proc = maker(ID2LABEL)
    with torch.no_grad():  # varied query classes (random heads are near-uniform)
        for prm in model.parameters():
            if prm.ndim == 1 and prm.shape[0] == len(ID2LABEL) + 1:
                prm.copy_(torch.randn(prm.shape[0]) * 3)
    d = fx.hf_save(model, proc, tmp_path / name)
    opts = dict(threshold=0.0, mask_threshold=0.0, overlap_mask_area_threshold=0.0)
    w = get_model(name, **opts).load(d).bind(fx.FakeDataset(DS))
    img = fx.rand_image()
    pred = w.predict(Sample("3", img, None))
    assert isinstance(pred, PanopticPrediction) and pred.ids.shape == img.shape[:2]
    with torch.no_grad():
        out = model(**proc(images=[img], return_tensors="pt"))
    ref = proc.post_process_panoptic_segmentation(out, label_ids_to_fuse={0, 2}, target_sizes=[img.shape[:2]],
                                                  **opts)[0]
    ref_ids = ref["segmentation"].numpy()
    # same partition of the image (ids renumbered 1..N, void = 0)
    assert ((pred.ids > 0) == (ref_ids > 0)).all()
    ids = sorted(np.unique(pred.ids[pred.ids > 0]).tolist())
    assert ids == [s["id"] for s in pred.segments] and len(ids) > 0
    native = {0: 1, 1: 7, 2: 3}
    ref_cat = {s["id"]: native[s["label_id"]] for s in ref["segments_info"]}
    for s in pred.segments:
        region = pred.ids == s["id"]
        ref_seg = np.unique(ref_ids[region])
        assert len(ref_seg) == 1 and ref_cat[int(ref_seg[0])] == s["category_id"]
        assert s["area"] == int(region.sum()) and s["isthing"] == int(s["category_id"] == 7)


def test_sam_box_and_point(tmp_path):
    from pycocotools import mask as mu
    torch.manual_seed(0)
    model, proc = fx.tiny_sam()
    d = fx.hf_save(model, proc, tmp_path / "sam")
    img = fx.rand_image()
    anns = [{"id": 1, "category_id": 3, "bbox": [5, 5, 20, 10], "segmentation": [[5, 5, 25, 5, 25, 15, 5, 15]],
             "iscrowd": 0, "area": 200},
            {"id": 2, "category_id": 7, "bbox": [30, 20, 10, 10], "segmentation": [[30, 20, 40, 20, 40, 30, 30, 30]],
             "iscrowd": 0, "area": 100},
            {"id": 3, "category_id": 7, "bbox": [0, 0, 5, 5], "segmentation": [[0, 0, 5, 0, 5, 5]], "iscrowd": 1,
             "area": 12}]
    s = Sample("7", img, InstanceMasks(40, 56, anns, image_id=7))
    box = get_model("hf-sam-box").load(d).bind(fx.FakeDataset(DS)).predict(s)
    assert [x["category_id"] for x in box.detections] == [3, 7]  # crowd regions are not prompted
    with torch.no_grad():
        inp = proc(images=[img], input_boxes=[[[5, 5, 25, 15], [30, 20, 40, 30]]], return_tensors="pt")
        out = model(**inp, multimask_output=False)
    masks = proc.image_processor.post_process_masks(out.pred_masks, inp["original_sizes"], inp["reshaped_input_sizes"])[0]
    for j, det in enumerate(box.detections):
        got = mu.decode(dict(det["segmentation"], counts=det["segmentation"]["counts"].encode())).astype(bool)
        assert np.array_equal(got, masks[j, 0].numpy()) and det["score"] == pytest.approx(float(out.iou_scores[0, j, 0]))
    point = get_model("hf-sam-point").load(d).bind(fx.FakeDataset(DS)).predict(s)
    assert len(point.detections) == 2 and all(det["image_id"] == 7 for det in point.detections)
    with pytest.raises(UsageError, match="instance annotations"):
        get_model("hf-sam-box").load(d).bind(fx.FakeDataset(DS)).predict(Sample("x", img, None))


def test_farthest_point_prompt():
    from segbench.models.prompted import annotation_mask, farthest_point
    m = annotation_mask({"segmentation": [[2, 2, 12, 2, 12, 8, 2, 8]]}, 10, 14)
    x, y = farthest_point(m)
    assert m[y, x] and 4 <= y <= 5 and 4 <= x <= 10  # on the medial segment (first in raster order)


def test_clipseg_referring_and_zero_shot(tmp_path):
    torch.manual_seed(0)
    model, proc = fx.tiny_clipseg()
    d = fx.hf_save(model, proc, tmp_path / "clipseg")
    img = fx.rand_image()
    ds = LabelSpace.from_names(["background", "cat", "dog"])
    w = get_model("hf-clipseg", bg_threshold=0.0).load(d).bind(fx.FakeDataset(ds))
    sem = w.predict(Sample("a", img, None))
    with torch.no_grad():
        inp = proc(text=["cat", "dog"], images=[img] * 2, padding=True, return_tensors="pt")
        lg = model(**inp).logits
    lg = torch.nn.functional.interpolate(lg[:, None], size=img.shape[:2], mode="bilinear", align_corners=False)[:, 0]
    assert np.array_equal(sem.mask, lg.argmax(0).numpy() + 1)  # bg_threshold 0: never background
    allbg = get_model("hf-clipseg", bg_threshold=1.01).load(d).bind(fx.FakeDataset(ds)).predict(Sample("a", img, None))
    assert (allbg.mask == 0).all()
    ref = w.predict(Sample("r", img, ReferringTarget("the cat", np.zeros(img.shape[:2], bool))))
    assert ref.mask.shape == img.shape[:2] and set(np.unique(ref.mask)) <= {0, 1}


def test_hf_loading_errors(tmp_path):
    d, model, proc = _folder(tmp_path, fx.tiny_segformer, "seg")
    with pytest.raises(UsageError, match="'segformer' model"):
        get_model("hf-dpt").load(d)
    (tmp_path / "empty").mkdir()
    with pytest.raises(NotFoundError, match="config.json"):
        get_model("hf-segformer").load(tmp_path / "empty")
    with pytest.raises(NotFoundError):
        get_model("hf-segformer").load(tmp_path / "missing")
    # wrong shapes: a 4-class head saved under a 3-class config
    torch.manual_seed(1)
    m4, _ = fx.tiny_segformer({0: "a", 1: "b", 2: "c", 3: "d"})
    bad = tmp_path / "bad"
    fx.hf_save(m4, proc, bad)
    import json
    cfg = json.loads((d / "config.json").read_text())
    (bad / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(BadInputError, match="decode_head.classifier"):
        get_model("hf-segformer").load(bad)
    # an unsafe pickle in the folder is refused before transformers sees it
    import os

    class Evil:
        def __reduce__(self):
            return (os.system, ("true",))
    evil = tmp_path / "evil"
    fx.hf_save(model, proc, evil)
    torch.save({"x": Evil()}, evil / "pytorch_model.bin")
    with pytest.raises(BadInputError, match="execute code"):
        get_model("hf-segformer").load(evil)


@pytest.mark.parametrize("name,maker", [("hf-mask2former-semantic", fx.tiny_mask2former),
                                        ("hf-maskformer-semantic", fx.tiny_maskformer)])
def test_maskformer_semantic_fallback_equals_processor(tmp_path, name, maker):
    """The transformers<5 fallback (no ``return_segmentation_scores``) gives the processor's own scores."""
    d, model, proc = _folder(tmp_path, maker, name)
    w = get_model(name).load(d)
    img = fx.rand_image()
    with torch.no_grad():
        out = model(**proc(images=[img], return_tensors="pt"))
    ref = proc.post_process_semantic_segmentation(out, target_sizes=[img.shape[:2]], return_segmentation_scores=True)
    import segbench.models.inference as inf
    mine = inf.resize_logits(w.universal_scores(out, w.postprocess_mask_size), img.shape[:2])[0]
    torch.testing.assert_close(mine, ref[0].segmentation_scores, rtol=1e-5, atol=1e-6)


def test_resize_option_mmseg_keep_ratio(tmp_path):
    d, model, proc = _folder(tmp_path, fx.tiny_segformer, "seg")
    w = get_model("hf-segformer", resize="96x48", slide="32,24").load(d).bind(fx.FakeDataset(DS))
    assert w.size_policy()(40, 56, 1.0) == (48, 67)  # mmseg keep-ratio: f = min(96 / 56, 48 / 40) = 1.2
    assert w.predict(Sample("a", fx.rand_image(), None)).mask.shape == (40, 56)
    assert w.describe()["settings"]["preprocess"]["resize"] == "96x48"
    with pytest.raises(UsageError, match="resize"):
        get_model("hf-segformer", resize="big")


@pytest.mark.parametrize("h,w,keep,mult", [(300, 500, True, 32), (500, 300, True, 14), (384, 384, False, 1),
                                           (123, 457, True, 1), (123, 457, False, 32)])
def test_dpt_resize_size_equals_transformers(h, w, keep, mult):
    from transformers.models.dpt.image_processing_dpt import get_resize_output_image_size
    from segbench.models.hf import dpt_resize_size
    ref = get_resize_output_image_size(torch.zeros(3, h, w), (384, 384), keep, mult)
    assert dpt_resize_size(h, w, (384, 384), keep, mult) == (ref.height, ref.width)


def test_hf_batch_of_mixed_sizes_equals_single(tmp_path):
    d, model, proc = _folder(tmp_path, fx.tiny_segformer, "seg")
    w = get_model("hf-segformer", batch_size=3).load(d).bind(fx.FakeDataset(DS))
    samples = [Sample("a", fx.rand_image(40, 56, 1), None), Sample("b", fx.rand_image(30, 20, 2), None),
               Sample("c", fx.rand_image(40, 56, 3), None)]
    for s, p in zip(samples, w.predict_batch(samples)):
        assert np.array_equal(p.mask, w.predict(s).mask)


def test_instance_head_needs_only_the_thing_classes(tmp_path):
    torch.manual_seed(0)
    model, proc = fx.tiny_mask2former({0: "person"})
    d = fx.hf_save(model, proc, tmp_path / "p")
    w = get_model("hf-mask2former-instance").load(d).bind(fx.FakeDataset(DS))  # sky / wall are stuff
    dets = w.predict(Sample("1", fx.rand_image(), None)).detections
    assert dets and {x["category_id"] for x in dets} == {7}
    with pytest.raises(UsageError, match="cannot predict"):
        get_model("hf-mask2former-semantic").load(d).bind(fx.FakeDataset(DS))  # semantic needs every class

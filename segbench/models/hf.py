"""Hugging Face transformers wrappers: SegFormer, UperNet, DPT, MaskFormer / Mask2Former (semantic,
instance, panoptic), loaded offline from a local ``from_pretrained`` folder.

Every wrapper runs ``<ModelClass>.from_pretrained(DIR, local_files_only=True)`` with
``HF_HUB_OFFLINE=1`` set (no network), after checking that every ``*.bin`` in the folder loads with
``torch.load(weights_only=True)`` (``*.safetensors`` are safe by construction). Missing, unexpected
or wrongly shaped weights are refused with the first key named. ``DIR`` is what
``model.save_pretrained(DIR)`` + ``processor.save_pretrained(DIR)`` write (``config.json``,
``model.safetensors``, ``preprocessor_config.json``), e.g. a clone of
``huggingface.co/nvidia/segformer-b0-finetuned-ade-512-512``.

Pre-processing is the folder's own image processor (``SegformerImageProcessor``,
``DPTImageProcessor``, ``Mask2FormerImageProcessor``...; its class defaults when the folder has no
``preprocessor_config.json``). Post-processing is the processor's ``post_process_*`` function:

* semantic: SegFormer / UperNet / DPT logits are resized bilinearly (``align_corners=False``) to the
  image size (``post_process_semantic_segmentation``); Mask(2)Former semantic scores are
  ``einsum(softmax(class)[..., :-1], sigmoid(masks))`` from
  ``post_process_semantic_segmentation(return_segmentation_scores=True)``. The arg-max is taken over
  the classes the dataset scores (:class:`~segbench.models.labelmap.LabelMapping`).
  With ``--slide`` / ``--scales`` / ``--flip`` the same forward runs through
  :func:`segbench.models.inference.tta_inference` with the processor's mean/std and resize policy.
* instance: ``post_process_instance_segmentation(threshold=0.0, return_binary_maps=True)`` (the
  top-``num_queries`` (query, class) pairs scored ``class prob × mean mask prob``, as Mask2Former's
  COCO evaluation keeps 100 per image with no score threshold) → COCO RLE results.
* panoptic: ``post_process_panoptic_segmentation`` with Mask2Former's evaluation settings
  (``threshold=0.8``, ``mask_threshold=0.5``, ``overlap_mask_area_threshold=0.8``) and the dataset's
  stuff classes fused (``label_ids_to_fuse``) → ``PanopticPrediction`` (segment ids, 0 = void).

Label space: the config's ``id2label`` (e.g. ADE20K's 150 classes for ``*-ade``), mapped to the
dataset's classes by name; placeholder ``LABEL_i`` names mean "the dataset's train ids". Semantic and
panoptic heads must cover every evaluated class; instance heads only the thing classes (``is_thing``;
detections of other classes are dropped).

References
----------
Xie et al., SegFormer, NeurIPS 2021. Xiao et al., Unified Perceptual Parsing (UperNet), ECCV 2018.
Ranftl et al., Vision Transformers for Dense Prediction (DPT), ICCV 2021. Cheng et al., Per-Pixel
Classification is Not All You Need (MaskFormer), NeurIPS 2021. Cheng et al., Masked-attention Mask
Transformer (Mask2Former), CVPR 2022.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import BadInputError, NotFoundError, UsageError
from ..types import InstancePrediction, PanopticPrediction, Sample
from . import inference as inf
from ._lazy import offline, require
from .checkpoint import check_pickle_safe
from .labelmap import names_from_id2label
from .torch_base import SemanticTorchWrapper, TorchWrapper, sample_image
from .torchvision_models import coco_detections, sample_image_id

__all__ = ["HFWrapper", "HFSemantic", "SegFormer", "UperNet", "DPT", "Mask2FormerSemantic", "Mask2FormerInstance",
           "Mask2FormerPanoptic", "MaskFormerSemantic", "MaskFormerInstance", "MaskFormerPanoptic",
           "load_hf_model", "dpt_resize_size"]


def _first_line(e: Exception) -> str:
    s = str(e).strip().splitlines()
    return s[0] if s else type(e).__name__


def load_hf_model(model_class: str, path, model_types: Sequence[str], what: str):
    """``transformers.<model_class>.from_pretrained(path)`` offline, safely, with strict weight checks.

    Raises
    ------
    NotFoundError
        ``path`` is not a folder with ``config.json``.
    UsageError
        The folder holds another model type.
    BadInputError
        Unsafe pickle, or missing / unexpected / mis-shaped weights (first key named).
    """
    offline()
    p = Path(path)
    if not (p.is_dir() and (p / "config.json").is_file()):
        raise NotFoundError(f"{what} expects a local transformers folder with config.json and weights "
                            f"(model.save_pretrained(DIR)); found none; pass --weights DIR", path=str(p))
    for f in sorted(p.glob("*.bin")) + sorted(p.glob("*.pth")) + sorted(p.glob("*.pt")):
        check_pickle_safe(f)
    tr = require("transformers", what)
    try:
        tr.utils.logging.disable_progress_bar()
    except Exception:  # noqa: BLE001 - cosmetic only
        pass
    try:
        config = tr.AutoConfig.from_pretrained(str(p), local_files_only=True)
    except (OSError, ValueError, KeyError) as e:
        raise BadInputError(f"expected a transformers config.json, found an unreadable one ({_first_line(e)})",
                            path=str(p / "config.json")) from None
    if getattr(config, "model_type", None) not in model_types:
        raise UsageError(f"--weights holds a {config.model_type!r} model, but {what} needs "
                         f"{' or '.join(repr(t) for t in model_types)}; pick the matching --model")
    for cfg in (config, getattr(config, "backbone_config", None)):  # never fetch pretrained backbones
        if cfg is not None and getattr(cfg, "use_pretrained_backbone", False):
            cfg.use_pretrained_backbone = False
    cls = getattr(tr, model_class)
    verbosity = tr.utils.logging.get_verbosity()
    tr.utils.logging.set_verbosity_error()  # the problems are raised below as one line, not logged as a report
    try:
        # mismatched shapes are reported in ``info`` (and refused below) instead of a multi-line error
        model, info = cls.from_pretrained(str(p), config=config, local_files_only=True, output_loading_info=True,
                                          ignore_mismatched_sizes=True)
    except (RuntimeError, ValueError, OSError) as e:
        msg = _first_line(e)
        raise BadInputError(f"weights do not fit {what}: {msg}", path=str(p)) from None
    finally:
        tr.utils.logging.set_verbosity(verbosity)
    for kind, label in (("mismatched_keys", "has the wrong shape"), ("missing_keys", "is missing"),
                        ("unexpected_keys", "is unexpected")):
        keys = sorted(info.get(kind) or [], key=str)
        if keys:
            key = keys[0]
            if isinstance(key, (tuple, list)):
                if len(key) >= 3:
                    label = f"has shape {tuple(key[1])} in the checkpoint, expected {tuple(key[2])}"
                key = key[0]
            raise BadInputError(f"weights do not fit {what}: key {key!r} {label} ({len(keys)} such keys); the "
                                f"weights are for another configuration", path=str(p))
    return model.eval()


def load_hf_processor(processor_class: str, path, what: str):
    """The folder's image processor (``preprocessor_config.json``), else the class defaults."""
    tr = require("transformers", what)
    cls = getattr(tr, processor_class)
    p = Path(path)
    if (p / "preprocessor_config.json").is_file():
        try:
            return cls.from_pretrained(str(p), local_files_only=True), "preprocessor_config.json"
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise BadInputError(f"expected a readable preprocessor_config.json ({_first_line(e)})",
                                path=str(p / "preprocessor_config.json")) from None
    return cls(), f"{processor_class} defaults"


def dpt_resize_size(h: int, w: int, size: tuple, keep_aspect_ratio: bool, multiple: int) -> tuple:
    """``DPTImageProcessor``'s output size (scale as little as possible when keeping the aspect ratio,
    then round each side to a multiple of ``ensure_multiple_of``).

    >>> dpt_resize_size(300, 500, (384, 384), True, 32)
    (224, 384)
    """
    def constrain(val):
        x = round(val / multiple) * multiple
        if x < 0:
            x = math.ceil(val / multiple) * multiple
        return int(x)
    sh, sw = size[0] / h, size[1] / w
    if keep_aspect_ratio:
        if abs(1 - sw) < abs(1 - sh):
            sh = sw
        else:
            sw = sh
    return constrain(sh * h), constrain(sw * w)


class HFWrapper(TorchWrapper):
    """Base of transformers wrappers: offline safe loading, processor, ``id2label`` label space."""

    backend = "transformers"
    model_class: str = ""
    processor_class: str = ""
    model_types: tuple = ()

    def __init__(self, **kw: Any):
        super().__init__(**kw)
        self.processor = None
        self.processor_source = None

    def build(self, weights_path):
        model = load_hf_model(self.model_class, weights_path, self.model_types, f"model {self.name!r}")
        self.processor, self.processor_source = load_hf_processor(self.processor_class, weights_path,
                                                                  f"model {self.name!r}")
        return model

    def class_names(self):
        return names_from_id2label(getattr(self.module.config, "id2label", None))

    def num_outputs(self):
        return int(getattr(self.module.config, "num_labels", 0)) or None

    def _images(self, samples):
        out = []
        for s in samples:
            a = sample_image(s)
            if a.ndim == 2:
                a = np.repeat(a[:, :, None], 3, axis=2)
            elif a.shape[2] == 4:
                a = a[:, :, :3]
            elif a.shape[2] == 1:
                a = np.repeat(a, 3, axis=2)
            if a.dtype != np.uint8:
                a = np.clip(a.astype(np.float64) / (257.0 if a.dtype == np.uint16 else 1.0), 0, 255).astype(np.uint8)
            out.append(np.ascontiguousarray(a))
        return out

    def _inputs(self, images):
        inputs = self.processor(images=images, return_tensors="pt")
        dev = self.torch_device()
        return {k: v.to(dev) for k, v in inputs.items() if hasattr(v, "to")}

    def settings(self) -> dict:
        s = super().settings()
        s["processor"] = self.processor_source
        if self.processor is not None:
            try:
                d = self.processor.to_dict()
                s["processor_config"] = {k: d[k] for k in ("size", "image_mean", "image_std", "do_resize",
                                                           "do_normalize", "rescale_factor", "resample")
                                         if k in d and isinstance(d[k], (dict, list, int, float, bool, str))}
            except Exception:  # noqa: BLE001 - provenance only
                pass
        return s


class HFSemantic(HFWrapper, SemanticTorchWrapper):
    """Semantic transformers model: processor → model → logits → arg-max over the dataset's classes."""

    task = "semantic"
    antialias = True

    def build(self, weights_path):
        model = super().build(weights_path)
        p = self.processor
        self.mean = list(getattr(p, "image_mean", None) or inf.IMAGENET_MEAN)
        self.std = list(getattr(p, "image_std", None) or inf.IMAGENET_STD)
        rf = getattr(p, "rescale_factor", 1 / 255) if getattr(p, "do_rescale", True) else 1.0
        self.value_scale = 1.0 / float(rf)
        return model

    def _size(self):
        size = getattr(self.processor, "size", None) or {}
        return size if isinstance(size, dict) else {k: getattr(size, k) for k in ("height", "width",
                                                                                  "shortest_edge", "longest_edge")
                                                    if getattr(size, k, None) is not None}

    def base_size(self, h, w):
        if not getattr(self.processor, "do_resize", True):
            return h, w
        size = self._size()
        if size.get("height") and size.get("width"):
            return inf.fixed_size(h, w, (size["height"], size["width"]))
        if size.get("shortest_edge"):
            return inf.short_side_size(h, w, int(size["shortest_edge"]), size.get("longest_edge"))
        return h, w

    def resize_policy_name(self) -> str:
        return f"{type(self.processor).__name__} size={self._size()}"

    def _tta(self) -> bool:
        return bool(self.slide or (self.scales and list(self.scales) != [1.0]) or self.flip
                    or self.resize is not None)

    def forward_logits(self, x):
        return self.module(pixel_values=x).logits

    def processor_scores(self, outputs, sizes):
        """Reference post-processing → per-image class scores ``(K, H, W)`` at the image size."""
        return [inf.resize_logits(outputs.logits[i:i + 1], s)[0] for i, s in enumerate(sizes)]

    def predict_batch(self, samples: Sequence[Sample]) -> list:
        self._require_ready()
        if self._tta():
            return SemanticTorchWrapper.predict_batch(self, samples)
        torch = self.torch
        images = self._images(samples)
        out: list = [None] * len(samples)
        groups: dict = {}
        for i, im in enumerate(images):
            groups.setdefault(im.shape[:2], []).append(i)
        with torch.inference_mode():
            for shape, idx in groups.items():
                outputs = self.module(**self._inputs([images[i] for i in idx]))
                scores = self.processor_scores(outputs, [tuple(shape)] * len(idx))
                preds = self.to_prediction(torch.stack(scores))
                for i, p in zip(idx, preds):
                    out[i] = p
        return out


class SegFormer(HFSemantic):
    """SegFormer (``transformers.SegformerForSemanticSegmentation`` + ``SegformerImageProcessor``)."""

    name = "hf-segformer"
    model_class = "SegformerForSemanticSegmentation"
    processor_class = "SegformerImageProcessor"
    model_types = ("segformer",)
    reference = {"library": "transformers", "function": "transformers.SegformerForSemanticSegmentation",
                 "paper": "Xie et al., SegFormer: Simple and Efficient Design for Semantic Segmentation with "
                          "Transformers, NeurIPS 2021",
                 "published_weights": "huggingface.co/nvidia/segformer-b{0..5}-finetuned-{ade-512-512,cityscapes-1024-1024}"}


class UperNet(HFSemantic):
    """UperNet (``transformers.UperNetForSemanticSegmentation``; ConvNeXt / Swin backbones)."""

    name = "hf-upernet"
    model_class = "UperNetForSemanticSegmentation"
    processor_class = "SegformerImageProcessor"
    model_types = ("upernet",)
    reference = {"library": "transformers", "function": "transformers.UperNetForSemanticSegmentation",
                 "paper": "Xiao et al., Unified Perceptual Parsing for Scene Understanding, ECCV 2018",
                 "published_weights": "huggingface.co/openmmlab/upernet-{convnext,swin}-{tiny,small,base,large}"}


class DPT(HFSemantic):
    """DPT (``transformers.DPTForSemanticSegmentation`` + ``DPTImageProcessor``)."""

    name = "hf-dpt"
    model_class = "DPTForSemanticSegmentation"
    processor_class = "DPTImageProcessor"
    model_types = ("dpt",)
    reference = {"library": "transformers", "function": "transformers.DPTForSemanticSegmentation",
                 "paper": "Ranftl, Bochkovskiy, Koltun, Vision Transformers for Dense Prediction, ICCV 2021",
                 "published_weights": "huggingface.co/Intel/dpt-large-ade"}

    def base_size(self, h, w):
        p = self.processor
        if not getattr(p, "do_resize", True):
            return h, w
        size = self._size()
        return dpt_resize_size(h, w, (size.get("height", 384), size.get("width", 384)),
                               bool(getattr(p, "keep_aspect_ratio", False)), int(getattr(p, "ensure_multiple_of", 1) or 1))

    def forward_logits(self, x):
        return self.module(pixel_values=x).logits


# --------------------------------------------------------------------------- Mask(2)Former
class _MaskFormerMixin:
    model_types = ("mask2former",)

    def universal_scores(self, outputs, size):
        """Semantic scores ``(N, K, h, w)`` from query classes × masks (masks resized to ``size``)."""
        F = require("torch.nn.functional")
        torch = require("torch")
        masks = outputs.masks_queries_logits
        if size is not None:
            masks = F.interpolate(masks, size=tuple(size), mode="bilinear", align_corners=False)
        cls = outputs.class_queries_logits.softmax(-1)[..., :-1]
        return torch.einsum("bqc,bqhw->bchw", cls, masks.sigmoid())


class Mask2FormerSemantic(_MaskFormerMixin, HFSemantic):
    """Mask2Former, semantic head (``post_process_semantic_segmentation``)."""

    #: transformers' post-processing resizes Mask2Former's mask logits to 384x384 first (MaskFormer: none)
    postprocess_mask_size = (384, 384)

    name = "hf-mask2former-semantic"
    model_class = "Mask2FormerForUniversalSegmentation"
    processor_class = "Mask2FormerImageProcessor"
    reference = {"library": "transformers", "function": "transformers.Mask2FormerForUniversalSegmentation + "
                 "Mask2FormerImageProcessor.post_process_semantic_segmentation",
                 "paper": "Cheng et al., Masked-attention Mask Transformer for Universal Image Segmentation, CVPR 2022",
                 "published_weights": "huggingface.co/facebook/mask2former-swin-{tiny,small,base,large}-{ade,cityscapes}-semantic"}

    def forward_logits(self, x):
        return self.universal_scores(self.module(pixel_values=x), x.shape[-2:])

    def processor_scores(self, outputs, sizes):
        try:
            res = self.processor.post_process_semantic_segmentation(outputs, target_sizes=list(sizes),
                                                                     return_segmentation_scores=True)
        except TypeError:  # transformers < 5: same steps as its post_process_semantic_segmentation
            scores = self.universal_scores(outputs, self.postprocess_mask_size)
            return [inf.resize_logits(scores[i:i + 1], s)[0] for i, s in enumerate(sizes)]
        return [r.segmentation_scores if hasattr(r, "segmentation_scores") else r["segmentation_scores"] for r in res]


class MaskFormerSemantic(Mask2FormerSemantic):
    """MaskFormer, semantic head (``MaskFormerForInstanceSegmentation``)."""

    name = "hf-maskformer-semantic"
    postprocess_mask_size = None
    model_class = "MaskFormerForInstanceSegmentation"
    processor_class = "MaskFormerImageProcessor"
    model_types = ("maskformer",)
    reference = {"library": "transformers", "function": "transformers.MaskFormerForInstanceSegmentation + "
                 "MaskFormerImageProcessor.post_process_semantic_segmentation",
                 "paper": "Cheng, Schwing, Kirillov, Per-Pixel Classification is Not All You Need for Semantic "
                          "Segmentation, NeurIPS 2021",
                 "published_weights": "huggingface.co/facebook/maskformer-swin-{tiny,small,base,large}-{ade,coco}"}


class _UniversalNonSemantic(_MaskFormerMixin, HFWrapper):
    """Instance / panoptic heads: one image at a time through the processor's post-processing."""

    def _run(self, image):
        torch = self.torch
        with torch.inference_mode():
            return self.module(**self._inputs([image]))

    def predict_batch(self, samples: Sequence[Sample]) -> list:
        self._require_ready()
        return [self._predict_one(s, im) for s, im in zip(samples, self._images(samples))]


class _InstanceBind:
    def bind(self, dataset):
        from .base import ModelWrapper
        from .labelmap import LabelMapping
        from .torchvision_models import instance_classes
        ModelWrapper.bind(self, dataset)
        _, stuff = instance_classes(self.dataset_label_space)
        self.mapping = LabelMapping.build(self.class_names(), self.dataset_label_space, self.name,
                                          num_outputs=self.num_outputs(), skip=stuff)
        return self


class Mask2FormerInstance(_InstanceBind, _UniversalNonSemantic):
    """Mask2Former, instance head → COCO results (RLE, score, category)."""

    name = "hf-mask2former-instance"
    task = "instance"
    model_class = "Mask2FormerForUniversalSegmentation"
    processor_class = "Mask2FormerImageProcessor"
    reference = {"library": "transformers", "function": "transformers.Mask2FormerForUniversalSegmentation + "
                 "Mask2FormerImageProcessor.post_process_instance_segmentation",
                 "paper": "Cheng et al., Masked-attention Mask Transformer for Universal Image Segmentation, CVPR 2022",
                 "published_weights": "huggingface.co/facebook/mask2former-swin-{tiny,small,base,large}-coco-instance"}

    def __init__(self, threshold: float = 0.0, **kw: Any):
        super().__init__(**kw)
        self.options["threshold"] = float(threshold)

    def _predict_one(self, sample, image):
        h, w = image.shape[:2]
        outputs = self._run(image)
        res = self.processor.post_process_instance_segmentation(
            outputs, threshold=self.options["threshold"], target_sizes=[(h, w)], return_binary_maps=True)[0]
        segs = res["segments_info"]
        seg = res["segmentation"]
        if not segs or seg is None:
            return InstancePrediction([], image_id=sample_image_id(sample))
        masks = seg.cpu().numpy().astype(bool)
        if masks.ndim == 2:  # a single instance map (no binary maps) – never with return_binary_maps
            masks = np.stack([masks == s["id"] for s in segs])
        dets = coco_detections(masks, [s["score"] for s in segs], [s["label_id"] for s in segs], self.mapping,
                               sample_image_id(sample))
        return InstancePrediction(dets, image_id=sample_image_id(sample))


class MaskFormerInstance(Mask2FormerInstance):
    """MaskFormer, instance head."""

    name = "hf-maskformer-instance"
    model_class = "MaskFormerForInstanceSegmentation"
    processor_class = "MaskFormerImageProcessor"
    model_types = ("maskformer",)
    reference = {"library": "transformers", "function": "transformers.MaskFormerForInstanceSegmentation + "
                 "MaskFormerImageProcessor.post_process_instance_segmentation",
                 "paper": "Cheng, Schwing, Kirillov, Per-Pixel Classification is Not All You Need for Semantic "
                          "Segmentation, NeurIPS 2021", "published_weights": "huggingface.co/facebook/maskformer-swin-*-coco"}


class Mask2FormerPanoptic(_UniversalNonSemantic):
    """Mask2Former, panoptic head → ``PanopticPrediction`` (ids map + segments with native category ids)."""

    name = "hf-mask2former-panoptic"
    task = "panoptic"
    model_class = "Mask2FormerForUniversalSegmentation"
    processor_class = "Mask2FormerImageProcessor"
    reference = {"library": "transformers", "function": "transformers.Mask2FormerForUniversalSegmentation + "
                 "Mask2FormerImageProcessor.post_process_panoptic_segmentation",
                 "paper": "Cheng et al., Masked-attention Mask Transformer for Universal Image Segmentation, CVPR 2022",
                 "published_weights": "huggingface.co/facebook/mask2former-swin-{tiny,small,base,large}-coco-panoptic"}

    def __init__(self, threshold: float = 0.8, mask_threshold: float = 0.5, overlap_mask_area_threshold: float = 0.8,
                 **kw: Any):
        super().__init__(**kw)
        self.options.update({"threshold": float(threshold), "mask_threshold": float(mask_threshold),
                             "overlap_mask_area_threshold": float(overlap_mask_area_threshold)})

    def bind(self, dataset):
        super().bind(dataset)
        ls = self.dataset_label_space
        stuff = {c.train_id for c in ls.eval_classes if not c.is_thing}
        self._fuse = {int(m) for t, m in enumerate(self.mapping.train_to_model) if t in stuff and m >= 0}
        self._thing = {c.train_id: bool(c.is_thing) for c in ls.eval_classes}
        return self

    def _predict_one(self, sample, image):
        h, w = image.shape[:2]
        outputs = self._run(image)
        o = self.options
        res = self.processor.post_process_panoptic_segmentation(
            outputs, threshold=o["threshold"], mask_threshold=o["mask_threshold"],
            overlap_mask_area_threshold=o["overlap_mask_area_threshold"], label_ids_to_fuse=set(self._fuse),
            target_sizes=[(h, w)])[0]
        seg = res["segmentation"]
        ids = np.zeros((h, w), np.int32) if seg is None else seg.cpu().numpy().astype(np.int32)
        ids[ids < 0] = 0
        out_ids = np.zeros_like(ids)
        segments = []
        seen = set()
        next_id = 1
        for s in res["segments_info"]:
            sid = int(s["id"])
            if sid in seen or sid <= 0:
                continue
            seen.add(sid)
            cat = self.mapping.to_native(int(s["label_id"]))
            region = ids == sid
            area = int(region.sum())
            if cat is None or area == 0:
                continue  # a class the dataset does not score: void
            out_ids[region] = next_id
            t = self.mapping.to_train(int(s["label_id"]))
            segments.append({"id": next_id, "category_id": cat, "isthing": int(self._thing.get(t, False)),
                             "area": area, "score": float(s.get("score", 1.0))})
            next_id += 1
        return PanopticPrediction(out_ids, segments)


class MaskFormerPanoptic(Mask2FormerPanoptic):
    """MaskFormer, panoptic head."""

    name = "hf-maskformer-panoptic"
    model_class = "MaskFormerForInstanceSegmentation"
    processor_class = "MaskFormerImageProcessor"
    model_types = ("maskformer",)
    reference = {"library": "transformers", "function": "transformers.MaskFormerForInstanceSegmentation + "
                 "MaskFormerImageProcessor.post_process_panoptic_segmentation",
                 "paper": "Cheng, Schwing, Kirillov, Per-Pixel Classification is Not All You Need for Semantic "
                          "Segmentation, NeurIPS 2021", "published_weights": "huggingface.co/facebook/maskformer-swin-*-coco"}

"""Prompted transformers models: SAM (box and point prompts) and CLIPSeg (text prompts).

**SAM** (``transformers.SamModel`` + ``SamProcessor``): the prompts come from the ground truth, as in
the SAM paper's evaluation of promptable segmentation. For every non-crowd annotation of an instance
sample (COCO style):

* ``hf-sam-box``: its box ``[x, y, x + w, y + h]``; one mask per prompt (``multimask_output=False``);
* ``hf-sam-point``: one positive point, the pixel farthest from the object boundary (the maximum of
  the Euclidean distance transform of the mask, first in raster order; SAM paper App. D.1); three
  masks are predicted (``multimask_output=True``) and the one with the highest predicted IoU is kept
  (SAM's ambiguity-aware output).

The processor resizes the longest side to 1024, normalises and pads to 1024²;
``post_process_masks`` removes the padding, resizes the mask logits back bilinearly and binarises
them at 0. Each prediction is a COCO detection with the annotation's ``category_id`` and
``score`` = SAM's predicted IoU, so COCO AP / mIoU-style metrics score mask quality given oracle
prompts.

**CLIPSeg** (``transformers.CLIPSegForImageSegmentation`` + ``CLIPSegProcessor``; images resized to
352², CLIP mean/std):

* referring samples (:class:`~segbench.types.ReferringTarget`): the sample's text is the prompt; the
  mask is ``sigmoid(logits) > threshold`` after bilinear resizing of the logits to the image size
  (→ ``SemanticPrediction`` of 0/1);
* zero-shot semantic samples: one prompt per dataset class (``prompt_template``, default the class
  name); background-like classes (``background``, ``bg``, ``unlabeled``, ``void``, ``others``) are
  not prompted; a pixel is background where ``max_k sigmoid(logit_k) < bg_threshold`` and the
  arg-max class elsewhere (datasets without a background class: arg-max everywhere).

References
----------
Kirillov et al., Segment Anything, ICCV 2023. Lüddecke & Ecker, Image Segmentation Using Text and
Image Prompts, CVPR 2022.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import BadInputError, UsageError
from ..types import InstancePrediction, ReferringTarget, Sample, SemanticPrediction
from ._lazy import require
from .base import ModelWrapper
from .hf import HFWrapper
from .labelmap import normalize_name
from .torchvision_models import encode_rle, sample_image_id

__all__ = ["SAMBox", "SAMPoint", "SAMPropagate", "CLIPSeg", "annotation_mask", "farthest_point"]

_BACKGROUND = {"background", "bg", "unlabeled", "unlabelled", "void", "others", "other", "clutter"}


def annotation_mask(ann: dict, h: int, w: int) -> np.ndarray:
    """Binary ``(h, w)`` mask of a COCO annotation (polygons, RLE or uncompressed RLE), via pycocotools."""
    from pycocotools import mask as mask_utils
    seg = ann.get("segmentation")
    if seg is None:
        x, y, bw, bh = ann["bbox"]
        m = np.zeros((h, w), bool)
        m[int(y):int(np.ceil(y + bh)), int(x):int(np.ceil(x + bw))] = True
        return m
    if isinstance(seg, list):
        rles = mask_utils.frPyObjects(seg, h, w)
        rle = mask_utils.merge(rles)
    elif isinstance(seg, dict) and isinstance(seg.get("counts"), list):
        rle = mask_utils.frPyObjects(seg, h, w)
    else:
        rle = dict(seg)
        if isinstance(rle.get("counts"), str):
            rle["counts"] = rle["counts"].encode("ascii")
    return mask_utils.decode(rle).astype(bool)


def farthest_point(mask: np.ndarray) -> tuple[int, int] | None:
    """``(x, y)`` of the mask pixel farthest from its boundary (max of the EDT; first in raster order).

    >>> m = np.zeros((5, 7), bool); m[1:4, 1:6] = True
    >>> farthest_point(m)
    (2, 2)
    """
    from scipy.ndimage import distance_transform_edt
    if not mask.any():
        return None
    d = distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
    y, x = np.unravel_index(int(np.argmax(d)), d.shape)
    return int(x), int(y)


class _SAM(HFWrapper):
    task = "instance"
    model_class = "SamModel"
    processor_class = "SamProcessor"
    model_types = ("sam",)
    prompt = "box"
    reference = {"library": "transformers", "function": "transformers.SamModel + SamProcessor.post_process_masks",
                 "paper": "Kirillov et al., Segment Anything, ICCV 2023",
                 "published_weights": "huggingface.co/facebook/sam-vit-{base,large,huge}"}

    def __init__(self, max_prompts: int = 64, **kw: Any):
        super().__init__(**kw)
        self.options["prompt"] = self.prompt
        self.max_prompts = int(max_prompts)

    def build(self, weights_path):
        from pathlib import Path
        from .hf import load_hf_model
        model = load_hf_model(self.model_class, weights_path, self.model_types, f"model {self.name!r}")
        tr = require("transformers", self.name)
        p = Path(weights_path)
        if (p / "preprocessor_config.json").is_file() or (p / "processor_config.json").is_file():
            self.processor = tr.SamProcessor.from_pretrained(str(p), local_files_only=True)
            self.processor_source = "preprocessor_config.json"
        else:
            self.processor = tr.SamProcessor(image_processor=tr.SamImageProcessor())
            self.processor_source = "SamProcessor defaults"
        return model

    def class_names(self):
        return None

    def num_outputs(self):
        return None

    def bind(self, dataset):
        ModelWrapper.bind(self, dataset)
        self.mapping = True  # prompts carry the GT's category; nothing to map
        return self

    def _prompts(self, sample: Sample):
        t = sample.target
        if t is None or not hasattr(t, "annotations"):
            raise UsageError(f"model {self.name!r} takes its prompts from instance annotations (COCO style); "
                             f"sample {sample.sample_id!r} has a {type(t).__name__} target")
        return t, [a for a in t.annotations or [] if not a.get("iscrowd", 0)]

    def predict_batch(self, samples: Sequence[Sample]) -> list:
        self._require_ready()
        return [self._predict_one(s) for s in samples]

    def _predict_one(self, sample: Sample):
        torch = self.torch
        t, anns = self._prompts(sample)
        image = self._images([sample])[0]
        h, w = image.shape[:2]
        image_id = sample_image_id(sample)
        dets = []
        prompts = []
        for a in anns:
            if self.prompt == "box":
                x, y, bw, bh = (float(v) for v in a["bbox"])
                if bw <= 0 or bh <= 0:
                    continue
                prompts.append((a, [x, y, x + bw, y + bh]))
            else:
                pt = farthest_point(annotation_mask(a, t.height, t.width))
                if pt is not None:
                    prompts.append((a, [float(pt[0]), float(pt[1])]))
        dev = self.torch_device()
        with torch.inference_mode():
            pix = self.processor(images=[image], return_tensors="pt")
            emb = self.module.get_image_embeddings(pix["pixel_values"].to(dev))
            for k in range(0, len(prompts), self.max_prompts):
                chunk = prompts[k:k + self.max_prompts]
                if self.prompt == "box":
                    inp = self.processor(images=[image], input_boxes=[[p for _, p in chunk]], return_tensors="pt")
                    out = self.module(image_embeddings=emb, input_boxes=inp["input_boxes"].to(dev),
                                      multimask_output=False)
                else:
                    inp = self.processor(images=[image], input_points=[[[p] for _, p in chunk]],
                                         input_labels=[[[1] for _ in chunk]], return_tensors="pt")
                    out = self.module(image_embeddings=emb, input_points=inp["input_points"].to(dev),
                                      input_labels=inp["input_labels"].to(dev), multimask_output=True)
                masks = self.processor.image_processor.post_process_masks(
                    out.pred_masks.cpu(), inp["original_sizes"], inp["reshaped_input_sizes"])[0]  # (P, M, H, W)
                iou = out.iou_scores.cpu()[0]  # (P, M)
                best = iou.argmax(-1)
                for j, (a, _) in enumerate(chunk):
                    m = masks[j, int(best[j])].numpy()
                    from pycocotools import mask as mask_utils
                    rle = encode_rle(m)
                    bbox = [float(v) for v in mask_utils.toBbox(dict(rle, counts=rle["counts"].encode("ascii")))]
                    dets.append({"image_id": image_id, "category_id": int(a["category_id"]), "segmentation": rle,
                                 "score": float(iou[j, int(best[j])]), "bbox": bbox})
        return InstancePrediction(dets, image_id=image_id)


class SAMBox(_SAM):
    """SAM with one box prompt per ground-truth instance (``multimask_output=False``)."""

    name = "hf-sam-box"
    prompt = "box"


class SAMPoint(_SAM):
    """SAM with one point prompt per ground-truth instance (farthest from the boundary; best of 3 masks)."""

    name = "hf-sam-point"
    prompt = "point"


class CLIPSeg(HFWrapper):
    """CLIPSeg: referring (the sample's text) or zero-shot semantic (one prompt per class)."""

    name = "hf-clipseg"
    task = "semantic"
    model_class = "CLIPSegForImageSegmentation"
    processor_class = "CLIPSegProcessor"
    model_types = ("clipseg",)
    reference = {"library": "transformers", "function": "transformers.CLIPSegForImageSegmentation",
                 "paper": "Lueddecke & Ecker, Image Segmentation Using Text and Image Prompts, CVPR 2022",
                 "published_weights": "huggingface.co/CIDAS/clipseg-rd64-refined"}

    def __init__(self, threshold: float = 0.5, bg_threshold: float = 0.5, prompt_template: str = "{}", **kw: Any):
        super().__init__(**kw)
        if "{}" not in prompt_template:
            raise UsageError(f"prompt_template must contain '{{}}' for the class name, found {prompt_template!r}")
        self.options.update({"threshold": float(threshold), "bg_threshold": float(bg_threshold),
                             "prompt_template": prompt_template})

    def build(self, weights_path):
        from pathlib import Path
        from .hf import load_hf_model
        model = load_hf_model(self.model_class, weights_path, self.model_types, f"model {self.name!r}")
        tr = require("transformers", self.name)
        try:
            self.processor = tr.CLIPSegProcessor.from_pretrained(str(Path(weights_path)), local_files_only=True)
        except (OSError, ValueError, TypeError) as e:
            raise BadInputError(f"expected CLIPSeg's processor files (preprocessor_config.json, tokenizer "
                                f"vocab.json/merges.txt) in the folder, found none usable ({str(e).splitlines()[0]})",
                                path=str(weights_path)) from None
        self.processor_source = "preprocessor_config.json + tokenizer"
        return model

    def class_names(self):
        return None

    def num_outputs(self):
        return None

    def bind(self, dataset):
        ModelWrapper.bind(self, dataset)
        ls = self.dataset_label_space
        self._classes = []
        self._bg = None
        if ls is not None:
            for c in ls.eval_classes:
                if normalize_name(c.name) in _BACKGROUND and self._bg is None:
                    self._bg = c.train_id
                else:
                    self._classes.append((c.train_id, self.options["prompt_template"].format(c.name)))
        self.mapping = True
        return self

    def _logits(self, image, texts):
        torch = self.torch
        F = require("torch.nn.functional")
        dev = self.torch_device()
        inputs = self.processor(text=list(texts), images=[image] * len(texts), padding=True, return_tensors="pt")
        with torch.inference_mode():
            out = self.module(**{k: v.to(dev) for k, v in inputs.items()})
        lg = out.logits
        if lg.ndim == 2:
            lg = lg[None]
        return F.interpolate(lg[:, None], size=image.shape[:2], mode="bilinear", align_corners=False)[:, 0]

    def predict_batch(self, samples: Sequence[Sample]) -> list:
        self._require_ready()
        out = []
        for s, image in zip(samples, self._images(samples)):
            if isinstance(s.target, ReferringTarget):
                lg = self._logits(image, [s.target.text])[0]
                out.append(SemanticPrediction((lg.sigmoid() > self.options["threshold"]).cpu().numpy().astype(np.uint8)))
                continue
            if not self._classes:
                raise UsageError(f"model {self.name!r}: no class to prompt (bind a dataset with named classes)")
            lg = self._logits(image, [t for _, t in self._classes])
            prob = lg.sigmoid()
            best = prob.argmax(0).cpu().numpy()
            tids = np.array([t for t, _ in self._classes], dtype=np.int64)
            mask = tids[best]
            if self._bg is not None:
                mask[(prob.max(0).values < self.options["bg_threshold"]).cpu().numpy()] = self._bg
            n = len(self.dataset_label_space.eval_classes)
            out.append(SemanticPrediction(mask.astype(np.uint8 if n < 255 else np.uint16)))
        return out


class SAMPropagate(_SAM):
    """Semi-supervised video object segmentation baseline: SAM box prompts propagated frame to frame.

    Frame 0 is the given first-frame annotation (the semi-supervised protocol; DAVIS does not score
    it). For every later frame ``t`` and object ``k``, the box of object ``k``'s mask in frame
    ``t - 1`` (``[x_min, y_min, x_max + 1, y_max + 1]``) prompts SAM on frame ``t``
    (``multimask_output=False``); an object whose mask vanishes keeps its last box. Overlaps go to
    the object with the higher predicted IoU. Output: DAVIS object ids per frame (0 = background),
    written as indexed PNGs with the DAVIS palette.

    This is segbench's simple propagation protocol around the reference SAM (no memory, no
    re-identification); it is a baseline, not a published VOS method.
    """

    name = "hf-sam-propagate"
    task = "video"
    prompt = "box"

    def _frames(self, sample: Sample) -> list:
        from pathlib import Path
        t = sample.target
        if t is None or not hasattr(t, "frames") or t.masks is None:
            raise UsageError(f"model {self.name!r} needs a video sample with a first-frame annotation (DAVIS "
                             f"semi-supervised); sample {sample.sample_id!r} has {type(t).__name__}")
        d = Path(str(sample.image)) if sample.image is not None else None
        if d is None or not d.is_dir():
            raise BadInputError(f"expected the frame images folder of sequence {sample.sample_id!r} (JPEGImages/...), "
                                f"found none", path=str(d) if d else None)
        paths = []
        for f in t.frames:
            cands = [p for p in (d / f"{f}.jpg", d / f"{f}.jpeg", d / f"{f}.png") if p.is_file()]
            if not cands:
                raise BadInputError(f"expected frame image {f}.jpg of sequence {sample.sample_id!r}, found none",
                                    path=str(d))
            paths.append(cands[0])
        return paths

    def _predict_one(self, sample: Sample):
        from ..types import VideoPrediction
        from .base import load_image_array
        torch = self.torch
        t = sample.target
        paths = self._frames(sample)
        first = np.asarray(t.masks[0])
        objs = [int(k) for k in np.unique(first) if 0 < k < 255]
        prev = {k: first == k for k in objs}
        boxes = {}
        out = np.zeros((len(paths),) + first.shape, np.uint8)
        out[0] = np.where(first == 255, 0, first)
        dev = self.torch_device()
        for i in range(1, len(paths)):
            img = load_image_array(str(paths[i]), path_hint=str(paths[i]))
            image = self._images([Sample("f", img, None)])[0]
            for k in objs:
                ys, xs = np.nonzero(prev[k])
                if ys.size:
                    boxes[k] = [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]
            live = [k for k in objs if k in boxes]
            frame = np.zeros(first.shape, np.uint8)
            if live:
                with torch.inference_mode():
                    inp = self.processor(images=[image], input_boxes=[[boxes[k] for k in live]], return_tensors="pt")
                    res = self.module(pixel_values=inp["pixel_values"].to(dev),
                                      input_boxes=inp["input_boxes"].to(dev), multimask_output=False)
                masks = self.processor.image_processor.post_process_masks(
                    res.pred_masks.cpu(), inp["original_sizes"], inp["reshaped_input_sizes"])[0][:, 0].numpy()
                scores = res.iou_scores.cpu()[0, :, 0].numpy()
                if masks.shape[-2:] != first.shape:
                    raise BadInputError(f"sequence {sample.sample_id!r}: frame {paths[i].name} is "
                                        f"{masks.shape[-1]}x{masks.shape[-2]}, the annotation "
                                        f"{first.shape[1]}x{first.shape[0]}", path=str(paths[i]))
                for j in np.argsort(scores, kind="stable"):  # higher predicted IoU painted last
                    frame[masks[j]] = live[j]
                for j, k in enumerate(live):
                    prev[k] = frame == k
            out[i] = frame
        return VideoPrediction(frames=list(t.frames), masks=out)

"""torchvision wrappers: FCN, DeepLabV3, LR-ASPP (semantic) and Mask R-CNN v1/v2 (instance).

The architectures are torchvision's own builders (``torchvision.models.segmentation.fcn_resnet50``,
``torchvision.models.detection.maskrcnn_resnet50_fpn``...) called with ``weights=None,
weights_backbone=None`` (nothing is downloaded) and the class count read from the checkpoint; the
user's local checkpoint is loaded safely (:mod:`segbench.models.checkpoint`). The official weights
(``FCN_ResNet50_Weights.COCO_WITH_VOC_LABELS_V1`` etc., published at download.pytorch.org/models/)
are plain state dicts and load as they are.

Pre-processing is torchvision's ``weights.transforms()``:

* semantic (``transforms._presets.SemanticSegmentation(resize_size=520)``): the short side is resized
  to 520 (bilinear, antialias, on the uint8 image: ``F.resize``), scaled to 0..1 and normalised with
  the ImageNet mean/std. The model returns logits at its input size; segbench resizes them bilinearly
  to the original image size and takes the arg-max there. (torchvision's reference ``train.py``
  instead resizes the ground truth to 520 with nearest; segbench scores at native resolution, the
  convention of every official benchmark.)
* detection (``ObjectDetection``): images scaled to 0..1; the model's ``GeneralizedRCNNTransform``
  resizes (min 800, max 1333) and normalises, and pastes masks back at the original size.
  Masks are binarised at 0.5 (``references/detection/coco_eval.py``), encoded as COCO RLE, boxes as
  ``[x, y, w, h]``; ``box_score_thresh=0.05`` and 100 detections per image (torchvision defaults).

Label spaces: the official semantic weights predict the 21 PASCAL VOC classes
(``meta["categories"]``); Mask R-CNN the 91-index COCO category list (with ``N/A`` holes), i.e.
model index = COCO ``category_id``. A checkpoint with another class count predicts the dataset's
own classes (semantic: C outputs; Mask R-CNN: background + the thing classes, or background + all C).
Mask R-CNN must cover the dataset's thing classes only (``is_thing``; stuff classes are not scored by
instance metrics).

References
----------
Long et al., Fully Convolutional Networks for Semantic Segmentation, CVPR 2015.
Chen et al., Rethinking Atrous Convolution for Semantic Image Segmentation (DeepLabV3), arXiv 2017.
Howard et al., Searching for MobileNetV3 (LR-ASPP), ICCV 2019.
He et al., Mask R-CNN, ICCV 2017; Li et al., Benchmarking Detection Transfer Learning with Vision
Transformers (Mask R-CNN v2 recipe), arXiv 2021.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import BadInputError, UsageError
from ..types import InstancePrediction, Sample
from . import inference as inf
from ._lazy import require
from .checkpoint import load_into, read_state_dict
from .torch_base import SemanticTorchWrapper, TorchWrapper, sample_image

__all__ = ["TorchvisionSegmentation", "FCNResNet50", "FCNResNet101", "DeepLabV3ResNet50", "DeepLabV3ResNet101",
           "DeepLabV3MobileNetV3", "LRASPPMobileNetV3", "MaskRCNN", "MaskRCNNv2", "VOC_CATEGORIES",
           "coco_detections", "encode_rle", "instance_classes"]

#: torchvision's ``_VOC_CATEGORIES`` (the semantic weights' ``meta["categories"]``).
VOC_CATEGORIES = ["__background__", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat",
                  "chair", "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep",
                  "sofa", "train", "tvmonitor"]


class TorchvisionSegmentation(SemanticTorchWrapper):
    """Base of torchvision semantic models (``torchvision.models.segmentation``).

    Parameters
    ----------
    resize_size : int, default 520
        Short side of the resized input (``weights.transforms(resize_size=...)``).
    classes : {"dataset"}, optional
        Treat a 21-output checkpoint as trained on the dataset's own 21 classes instead of
        torchvision's VOC categories.
    **kw
        ``tta_average``, ``resize`` (:class:`~segbench.models.torch_base.SemanticTorchWrapper`) and
        ``device``, ``batch_size``, ``slide``, ``scales``, ``flip``.
    """

    backend = "torchvision"
    antialias = True
    builder: str = ""
    weights_enum: str = ""
    resize_size: int = 520

    def __init__(self, resize_size: int | None = None, classes: str | None = None, **kw: Any):
        super().__init__(**kw)
        if classes not in (None, "dataset"):
            raise UsageError(f"classes: expected 'dataset' (the checkpoint predicts the dataset's train ids), found "
                             f"{classes!r}")
        if classes:
            self.options["classes"] = classes
        if resize_size is not None:
            self.resize_size = int(resize_size)
            self.options["resize_size"] = int(resize_size)
        self._num_classes = None

    def base_size(self, h, w):
        return inf.short_side_size(h, w, self.resize_size)

    def resize_policy_name(self) -> str:
        return f"short side {self.resize_size} (torchvision Resize, bilinear, antialias, uint8)"

    def resize_input(self, x, size):
        TF = require("torchvision.transforms.functional", self.name)
        IM = require("torchvision.transforms", self.name).InterpolationMode
        torch = self.torch
        if tuple(x.shape[-2:]) == tuple(size):
            return x
        u8 = x.round().clamp(0, 255).to(torch.uint8)
        return TF.resize(u8, list(size), interpolation=IM.BILINEAR, antialias=True).to(torch.float32)

    def _classes_from_state(self, sd) -> int:
        for key in ("classifier.4.weight", "classifier.high_classifier.weight"):
            if key in sd:
                return int(sd[key].shape[0])
        raise BadInputError(f"weights do not fit {self.name}: key 'classifier.4.weight' is missing; the "
                            f"checkpoint is not a torchvision {self.builder} state dict", path=self.weights_path)

    def build(self, weights_path):
        seg = require("torchvision.models.segmentation", self.name)
        sd = read_state_dict(weights_path)
        k = self._classes_from_state(sd)
        kwargs = {"weights": None, "weights_backbone": None, "num_classes": k}
        if self.builder != "lraspp_mobilenet_v3_large":
            kwargs["aux_loss"] = any(key.startswith("aux_classifier.") for key in sd)
        model = getattr(seg, self.builder)(**kwargs)
        self._num_classes = k
        return load_into(model, sd, path=weights_path, what=f"torchvision {self.builder}")

    def num_outputs(self):
        return self._num_classes

    def class_names(self):
        if self.options.get("classes") == "dataset":
            return None
        return list(VOC_CATEGORIES) if self._num_classes == len(VOC_CATEGORIES) else None

    def forward_logits(self, x):
        return self.module(x)["out"]


def _semantic(clsname: str, name: str, builder: str, weights: str, paper: str, doc: str):
    cls = type(clsname, (TorchvisionSegmentation,), {"__module__": __name__,
        "name": name, "builder": builder, "weights_enum": weights,
        "reference": {"library": "torchvision", "function": f"torchvision.models.segmentation.{builder}",
                      "paper": paper,
                      "published_weights": f"torchvision.models.segmentation.{weights}.COCO_WITH_VOC_LABELS_V1 "
                                 "(download.pytorch.org/models)"},
        "__doc__": doc + "\n\nLabel space: 21 PASCAL VOC classes (official weights) or the dataset's."})
    return cls


_FCN = "Long, Shelhamer, Darrell, Fully Convolutional Networks for Semantic Segmentation, CVPR 2015"
_DLV3 = "Chen, Papandreou, Schroff, Adam, Rethinking Atrous Convolution for Semantic Image Segmentation, arXiv:1706.05587"
_MNV3 = "Howard et al., Searching for MobileNetV3, ICCV 2019"

FCNResNet50 = _semantic("FCNResNet50", "tv-fcn-resnet50", "fcn_resnet50", "FCN_ResNet50_Weights", _FCN, "FCN with a ResNet-50 backbone.")
FCNResNet101 = _semantic("FCNResNet101", "tv-fcn-resnet101", "fcn_resnet101", "FCN_ResNet101_Weights", _FCN,
                         "FCN with a ResNet-101 backbone.")
DeepLabV3ResNet50 = _semantic("DeepLabV3ResNet50", "tv-deeplabv3-resnet50", "deeplabv3_resnet50", "DeepLabV3_ResNet50_Weights", _DLV3,
                              "DeepLabV3 with a ResNet-50 backbone.")
DeepLabV3ResNet101 = _semantic("DeepLabV3ResNet101", "tv-deeplabv3-resnet101", "deeplabv3_resnet101", "DeepLabV3_ResNet101_Weights",
                               _DLV3, "DeepLabV3 with a ResNet-101 backbone.")
DeepLabV3MobileNetV3 = _semantic("DeepLabV3MobileNetV3", "tv-deeplabv3-mobilenetv3", "deeplabv3_mobilenet_v3_large",
                                 "DeepLabV3_MobileNet_V3_Large_Weights", _DLV3,
                                 "DeepLabV3 with a MobileNetV3-Large backbone.")
LRASPPMobileNetV3 = _semantic("LRASPPMobileNetV3", "tv-lraspp-mobilenetv3", "lraspp_mobilenet_v3_large", "LRASPP_MobileNet_V3_Large_Weights",
                              _MNV3, "LR-ASPP with a MobileNetV3-Large backbone.")


# --------------------------------------------------------------------------- instance
def encode_rle(mask: np.ndarray) -> dict:
    """COCO RLE of a binary ``(H, W)`` mask with ``counts`` as a str (JSON-ready), via pycocotools."""
    from pycocotools import mask as mask_utils
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


def instance_classes(label_space) -> tuple[list, list]:
    """``(thing names, stuff names)`` of a label space; instance models need to cover only the things
    (all classes count as things when none is flagged ``is_thing``)."""
    if label_space is None:
        return [], []
    ev = label_space.eval_classes
    things = [c.name for c in ev if c.is_thing]
    if not things:
        return [c.name for c in ev], []
    return things, [c.name for c in ev if not c.is_thing]


def sample_image_id(sample: Sample):
    """The COCO ``image_id`` of a sample (target's, then ``meta["image_id"]``, else the sample id)."""
    tid = getattr(sample.target, "image_id", None)
    if tid is None and isinstance(sample.meta, dict):
        tid = sample.meta.get("image_id")
    return sample.sample_id if tid is None else tid


def coco_detections(masks: np.ndarray, scores: Sequence[float], labels: Sequence[int], mapping, image_id,
                    boxes: np.ndarray | None = None) -> list:
    """COCO result dicts from binary masks ``(N, H, W)``: RLE ``segmentation``, ``bbox`` ``[x, y, w, h]``,
    ``score`` and the dataset's native ``category_id`` (detections of unmapped classes are dropped).

    ``boxes`` (``(N, 4)`` x1, y1, x2, y2) are used for ``bbox`` when given, else the mask's box.
    """
    from pycocotools import mask as mask_utils
    out = []
    for i in range(len(scores)):
        cat = mapping.to_native(int(labels[i]))
        if cat is None:
            continue
        rle = encode_rle(masks[i])
        if boxes is not None:
            x1, y1, x2, y2 = (float(v) for v in boxes[i])
            bbox = [x1, y1, x2 - x1, y2 - y1]
        else:
            bbox = [float(v) for v in mask_utils.toBbox(dict(rle, counts=rle["counts"].encode("ascii")))]
        out.append({"image_id": image_id, "category_id": cat, "segmentation": rle, "score": float(scores[i]),
                    "bbox": bbox})
    return out


class MaskRCNN(TorchWrapper):
    """Mask R-CNN, ResNet-50-FPN (``torchvision.models.detection.maskrcnn_resnet50_fpn``).

    Label space: the 91-index COCO category list (``weights.meta["categories"]``, index = COCO
    ``category_id``) for the official 91-output weights, else the dataset's classes with background
    at index 0 (``num_classes = C + 1``).

    Parameters
    ----------
    mask_threshold : float, default 0.5
        Binarisation of the pasted mask probabilities (torchvision's ``coco_eval``).
    box_score_thresh : float, default 0.05
    detections_per_img : int, default 100
    min_size, max_size : int, default 800, 1333
        ``GeneralizedRCNNTransform`` resize (torchvision defaults = the COCO protocol).
    """

    name = "tv-maskrcnn-resnet50-fpn"
    task = "instance"
    backend = "torchvision"
    builder = "maskrcnn_resnet50_fpn"
    reference = {"library": "torchvision", "function": "torchvision.models.detection.maskrcnn_resnet50_fpn",
                 "paper": "He, Gkioxari, Dollar, Girshick, Mask R-CNN, ICCV 2017",
                 "published_weights": "torchvision.models.detection.MaskRCNN_ResNet50_FPN_Weights.COCO_V1 (download.pytorch.org/models)"}

    def __init__(self, mask_threshold: float = 0.5, box_score_thresh: float = 0.05, detections_per_img: int = 100,
                 min_size: int = 800, max_size: int = 1333, **kw: Any):
        super().__init__(**kw)
        self.options.update({"mask_threshold": float(mask_threshold), "box_score_thresh": float(box_score_thresh),
                             "detections_per_img": int(detections_per_img), "min_size": int(min_size),
                             "max_size": int(max_size)})
        self._num_classes = None

    def build(self, weights_path):
        det = require("torchvision.models.detection", self.name)
        sd = read_state_dict(weights_path)
        key = "roi_heads.box_predictor.cls_score.weight"
        if key not in sd:
            raise BadInputError(f"weights do not fit {self.name}: key {key!r} is missing; the checkpoint is not a "
                                f"torchvision {self.builder} state dict", path=weights_path)
        k = int(sd[key].shape[0])
        model = getattr(det, self.builder)(weights=None, weights_backbone=None, num_classes=k,
                                           box_score_thresh=self.options["box_score_thresh"],
                                           box_detections_per_img=self.options["detections_per_img"],
                                           min_size=self.options["min_size"], max_size=self.options["max_size"])
        self._num_classes = k
        # torchvision uses FrozenBatchNorm2d with pretrained weights and BatchNorm2d without; in eval
        # mode both compute (x - mean) / sqrt(var + eps) * w + b, so the BN buffers may be absent.
        return load_into(model, sd, path=weights_path, what=f"torchvision {self.builder}")

    def class_names(self):
        det = require("torchvision.models.detection", self.name)
        if self._num_classes == 91:
            return list(det.MaskRCNN_ResNet50_FPN_Weights.COCO_V1.meta["categories"])
        return None

    def bind(self, dataset):
        from .labelmap import LabelMapping
        super(TorchWrapper, self).bind(dataset)
        names = self.class_names()
        ls = self.dataset_label_space
        things, stuff = instance_classes(ls)
        if names is None:
            if ls is not None and self._num_classes == len(things) + 1:
                names = ["__background__"] + things  # a checkpoint trained on the dataset's thing classes
            elif ls is not None and self._num_classes == ls.num_classes + 1:
                names = ["__background__"] + list(ls.names)
            else:
                n = None if ls is None else ls.num_classes
                raise UsageError(f"model {self.name!r} has {self._num_classes} outputs (background + classes) "
                                 f"without class names; the dataset has {n} classes ({len(things)} things); use "
                                 f"weights trained on it")
        self.mapping = LabelMapping.build(names, ls, self.name, num_outputs=self._num_classes, skip=stuff)
        return self

    def predict_batch(self, samples: Sequence[Sample]) -> list:
        self._require_ready()
        torch = self.torch
        dev = self.torch_device()
        imgs = [(inf.to_tensor(sample_image(s))[0] / 255.0).to(dev) for s in samples]
        with torch.inference_mode():
            outs = self.module(imgs)
        preds = []
        thr = self.options["mask_threshold"]
        for s, o in zip(samples, outs):
            masks = (o["masks"][:, 0] > thr).cpu().numpy()
            dets = coco_detections(masks, o["scores"].cpu().numpy().tolist(), o["labels"].cpu().numpy().tolist(),
                                   self.mapping, sample_image_id(s), boxes=o["boxes"].cpu().numpy())
            preds.append(InstancePrediction(dets, image_id=sample_image_id(s)))
        return preds


class MaskRCNNv2(MaskRCNN):
    """Mask R-CNN v2, ResNet-50-FPN (``torchvision.models.detection.maskrcnn_resnet50_fpn_v2``)."""

    name = "tv-maskrcnn-resnet50-fpn-v2"
    builder = "maskrcnn_resnet50_fpn_v2"
    reference = {"library": "torchvision", "function": "torchvision.models.detection.maskrcnn_resnet50_fpn_v2",
                 "paper": "Li, Xie, Lin, et al., Benchmarking Detection Transfer Learning with Vision Transformers, "
                          "arXiv:2111.11429 (v2 recipe); He et al., Mask R-CNN, ICCV 2017",
                 "published_weights": "torchvision.models.detection.MaskRCNN_ResNet50_FPN_V2_Weights.COCO_V1 (download.pytorch.org/models)"}

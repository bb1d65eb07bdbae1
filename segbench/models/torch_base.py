"""Shared machinery of the torch wrappers: device, loading, label mapping, batching, TTA.

:class:`TorchWrapper` holds a ``torch.nn.Module`` built from the reference library with *no*
pretrained weights (never downloaded) and loads the user's local checkpoint into it safely
(:mod:`segbench.models.checkpoint`). :class:`SemanticTorchWrapper` adds the dense-prediction path:
the reference's resize policy and normalisation, whole / sliding-window inference, multi-scale and
flip averaging (:mod:`segbench.models.inference`), then the arg-max over the classes the dataset
scores (:class:`~segbench.models.labelmap.LabelMapping`).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import BadInputError, UsageError
from ..types import Sample, SemanticPrediction
from . import inference as inf
from ._lazy import require
from .base import ModelWrapper, load_image_array
from .labelmap import LabelMapping

__all__ = ["TorchWrapper", "SemanticTorchWrapper", "sample_image"]


def sample_image(sample: Sample) -> np.ndarray:
    """The sample's image array (read from its path when needed)."""
    return load_image_array(sample.image, path_hint=str(sample.meta.get("image_path", sample.sample_id))
                            if isinstance(sample.meta, dict) else str(sample.sample_id))


class TorchWrapper(ModelWrapper):
    """Base of wrappers running a torch module.

    Subclasses implement :meth:`build` (``state_dict`` → module with matching architecture, or raise)
    and :meth:`class_names` (the model's classes in output order, or None for "the dataset's").
    """

    needs_weights = True
    supported_options = frozenset({"device", "batch_size"})
    #: pip name of the reference library (for ``library_version``).
    backend = "torch"

    def __init__(self, **kw: Any):
        from .base import PREDICT_OPTIONS
        unknown = sorted(set(kw) - set(PREDICT_OPTIONS))
        if unknown:  # each subclass consumed its own options before this point
            raise UsageError(f"model {self.name!r} has no option {unknown[0]!r}; see its docstring for the options "
                             f"(python -c \"import segbench.models as m; help(m.get_model_class('{self.name}'))\")")
        super().__init__(**kw)
        self.module = None
        self.mapping: LabelMapping | None = None

    # ---- torch helpers
    @property
    def torch(self):
        return require("torch", self.name)

    def torch_device(self):
        torch = self.torch
        dev = str(self.device or "cpu")
        if dev.startswith("cuda") and not torch.cuda.is_available():
            raise UsageError(f"--device {dev}: CUDA is not available on this machine; use --device cpu")
        try:
            return torch.device(dev)
        except RuntimeError as e:
            raise UsageError(f"--device: expected cpu, cuda or cuda:N, found {dev!r} ({e})") from None

    # ---- protocol
    def build(self, weights_path):  # pragma: no cover - abstract
        """Build the reference module and load ``weights_path`` into it; return the module."""
        raise NotImplementedError

    def class_names(self) -> list | None:
        """The model's class names in output order (None: it predicts the dataset's train ids)."""
        return None

    def num_outputs(self) -> int | None:
        return None

    def load(self, weights_path=None) -> "TorchWrapper":
        torch = self.torch  # the install hint comes before any file check
        super().load(weights_path)
        with torch.no_grad():
            module = self.build(weights_path)
        self.module = module.to(self.torch_device()).eval()
        return self

    def bind(self, dataset) -> "TorchWrapper":
        super().bind(dataset)
        self.mapping = LabelMapping.build(self.class_names(), self.dataset_label_space, self.name,
                                          num_outputs=self.num_outputs())
        return self

    def _require_ready(self):
        if self.module is None:
            raise UsageError(f"model {self.name!r}: call load(weights) before predict")
        if self.mapping is None:
            raise UsageError(f"model {self.name!r}: call bind(dataset) before predict")

    def predict(self, sample: Sample):
        return self.predict_batch([sample])[0]

    def library_version(self) -> str | None:
        try:
            import importlib
            return getattr(importlib.import_module(self.backend), "__version__", None)
        except Exception:  # noqa: BLE001 - provenance only
            return None

    def describe(self) -> dict:
        d = super().describe()
        d["library_version"] = self.library_version()
        d["torch_version"] = getattr(require("torch"), "__version__", None)
        if isinstance(self.mapping, LabelMapping):
            d["label_mapping"] = self.mapping.describe()
        return d


class SemanticTorchWrapper(TorchWrapper):
    """Dense semantic prediction with the reference's pre-processing and optional TTA.

    Class attributes set the reference's pre-processing: ``mean``, ``std`` (0..1 scale unless
    ``value_scale`` says otherwise), ``antialias`` and :meth:`base_size` (the resize policy).
    Subclasses implement :meth:`forward_logits` (normalised batch → logits).

    Parameters
    ----------
    tta_average : {"logits", "softmax"}, default "logits"
        What ``--scales`` / ``--flip`` average: raw logits (mmsegmentation 1.x ``SegTTAModel``) or
        softmax probabilities (mmsegmentation 0.x ``aug_test``).
    resize : str, optional
        Override the reference's resize policy: ``"none"`` keeps the image size; ``"LONGxSHORT"``
        is mmsegmentation's ``Resize(scale=(LONG, SHORT), keep_ratio=True)`` (plain bilinear, as
        mmcv's cv2 resize), e.g. ``2048x1024`` with ``--slide 1024,768`` for the mmseg Cityscapes
        protocol or ``2048x512`` for ADE20K. Multi-scale ratios scale ``(LONG, SHORT)`` (mmseg 0.x
        ``img_ratios``). The resize is torch's bilinear (``align_corners=False``) on the float image;
        cv2's fixed-point uint8 resize differs by at most 1 grey level (on ~13 % of pixels, measured).
    **kw
        ``device``, ``batch_size``, ``slide``, ``scales``, ``flip`` (:class:`ModelWrapper`).
    """

    task = "semantic"
    supported_options = frozenset({"device", "batch_size", "slide", "scales", "flip"})
    mean: Sequence[float] = inf.IMAGENET_MEAN
    std: Sequence[float] = inf.IMAGENET_STD
    value_scale: float = 255.0
    antialias: bool = False
    in_channels: int = 3

    def __init__(self, tta_average: str = "logits", resize: str | None = None, **kw: Any):
        super().__init__(**kw)
        self.resize = self._parse_resize(resize)
        if resize is not None:
            self.options["resize"] = str(resize)
        if tta_average not in ("logits", "softmax"):
            raise UsageError(f"tta_average: expected 'logits' or 'softmax', found {tta_average!r}")
        if self.slide is not None:
            try:
                self.slide = inf.parse_slide(self.slide)
            except (ValueError, TypeError) as e:
                raise UsageError(str(e)) from None
        if self.scales is not None and any(float(s) <= 0 for s in self.scales):
            raise UsageError(f"--scales: expected positive ratios, found {self.scales}")
        if tta_average != "logits":
            self.options["tta_average"] = tta_average
        self.tta_average = tta_average

    def base_size(self, h: int, w: int) -> tuple:
        """The reference's resize policy for an ``(h, w)`` image (default: keep the size)."""
        return h, w

    def forward_logits(self, x):  # pragma: no cover - abstract
        """Normalised ``(N, C, h, w)`` → logits ``(N, K, h', w')``."""
        raise NotImplementedError

    @staticmethod
    def _parse_resize(value):
        """``None`` (the reference's policy), ``"none"`` (keep the image size) or ``"LONGxSHORT"``
        (mmsegmentation ``Resize(scale=(LONG, SHORT), keep_ratio=True)``, e.g. ``2048x1024`` for Cityscapes,
        ``2048x512`` for ADE20K)."""
        if value is None:
            return None
        v = str(value).strip().lower()
        if v == "none":
            return "none"
        try:
            a, b = (int(x) for x in v.replace(",", "x").split("x"))
            if min(a, b) <= 0:
                raise ValueError
        except ValueError:
            raise UsageError(f"resize: expected 'none' or LONGxSHORT (mmseg keep-ratio scale, e.g. 2048x1024), "
                             f"found {value!r}") from None
        return (a, b)

    def size_policy(self):
        """``(h, w, ratio) -> (h', w')``: the reference's policy, or the ``resize`` option's."""
        if self.resize == "none":
            return lambda h, w, r: (h, w) if r == 1.0 else (max(1, int(h * r + 0.5)), max(1, int(w * r + 0.5)))
        if isinstance(self.resize, tuple):
            return inf.keep_ratio_policy(self.resize)
        return inf.scaled(self.base_size)

    def logits(self, batch):
        """Logits ``(N, K, H, W)`` at the input size for an un-normalised batch (0..255)."""
        mmseg = isinstance(self.resize, tuple)  # mmcv's cv2 bilinear resize: no antialiasing
        return inf.tta_inference(self.forward_logits, batch, size_fn=self.size_policy(),
                                 mean=self.mean, std=self.std, value_scale=self.value_scale,
                                 scales=self.scales, flip=self.flip, slide=self.slide,
                                 antialias=False if mmseg else self.antialias, average=self.tta_average,
                                 resize_fn=None if mmseg else self.resize_input)

    #: The reference's image resize ``(batch 0..255, size) -> batch``; None = bilinear (``antialias``).
    resize_input = None

    def to_prediction(self, logits) -> list:
        """Logits → predictions in the dataset's train ids (binary: one logit channel → ``> 0``)."""
        n_ds = len(self.mapping.train_to_model)
        if logits.shape[1] == 1 and n_ds == 2:
            if self.tta_average == "softmax":  # averaged sigmoid probabilities
                fg = (logits[:, 0] > 0.5).cpu().numpy()
            else:
                fg = (logits[:, 0] > 0).cpu().numpy()
            return [SemanticPrediction(m.astype(np.uint8)) for m in fg]
        return [SemanticPrediction(m) for m in self.mapping.argmax_to_train(logits)]

    def predict_batch(self, samples: Sequence[Sample]) -> list:
        self._require_ready()
        torch = self.torch
        dev = self.torch_device()
        imgs = [inf.to_tensor(sample_image(s), channels=self.in_channels) for s in samples]
        out: list = [None] * len(samples)
        # images of one size are batched together (the reference models take equal-size batches)
        groups: dict = {}
        for i, t in enumerate(imgs):
            groups.setdefault(tuple(t.shape[-2:]), []).append(i)
        with torch.inference_mode():
            for shape, idx in groups.items():
                batch = torch.cat([imgs[i] for i in idx]).to(dev)
                try:
                    logits = self.logits(batch)
                except RuntimeError as e:  # e.g. an image smaller than the architecture's pyramid
                    msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                    raise BadInputError(f"model {self.name!r} failed on the {shape[1]}x{shape[0]} image of sample "
                                        f"{samples[idx[0]].sample_id!r} ({msg}); the input may be too small for "
                                        f"this architecture (try --model-option resize=...)") from None
                preds = self.to_prediction(logits)
                for i, p in zip(idx, preds):
                    out[i] = p
        return out

    def settings(self) -> dict:
        s = super().settings()
        s["preprocess"] = {"mean": list(self.mean), "std": list(self.std), "value_scale": self.value_scale,
                           "antialias": self.antialias,
                           "resize": self.resize_policy_name() if self.resize is None else str(self.options["resize"])}
        return s

    def resize_policy_name(self) -> str:
        return "none"


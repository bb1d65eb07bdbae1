"""The :class:`ModelWrapper` protocol and :class:`ModelPredictionSource`.

A wrapper runs one reference implementation (scikit-image, torchvision, transformers,
segmentation-models-pytorch...) with that reference's own pre- and post-processing, and returns
typed predictions (:mod:`segbench.types`) in the *dataset's* train ids. A leaderboard row then says
exactly which code (``reference``: library, function, paper) and which weights (sha256) produced it.

Life cycle::

    model = get_model("skimage-otsu", device="cpu")   # options a wrapper lacks -> UsageError
    model.load(weights_path)                          # no-op for weight-free baselines
    model.bind(dataset)                               # checks / builds the label mapping
    pred = model.predict(sample)                      # -> Prediction

A model is also a :class:`~segbench.datasets.base.PredictionSource` through
:class:`ModelPredictionSource`, so ``segbench.engine`` can score it on the fly without writing files.

Examples
--------
>>> import numpy as np
>>> from segbench.models import get_model
>>> from segbench.types import Sample, SemanticMask
>>> m = get_model("skimage-otsu").load()
>>> img = np.zeros((4, 4), np.uint8); img[:, 2:] = 200
>>> m.predict(Sample("a", img, SemanticMask(np.zeros((4, 4), np.uint8)))).mask[0]
array([0, 0, 1, 1], dtype=uint8)
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np

from ..datasets.base import PredictionSource
from ..errors import BadInputError, NotFoundError, UsageError
from ..types import LabelSpace, Sample

__all__ = ["ModelWrapper", "ModelPredictionSource", "weights_sha256", "load_image_array",
           "PREDICT_OPTIONS"]

#: The ``segbench predict`` options every wrapper receives; ``supported_options`` says which it honours.
PREDICT_OPTIONS = ("device", "batch_size", "slide", "scales", "flip")

_DEFAULTS = {"device": "cpu", "batch_size": 1, "slide": None, "scales": None, "flip": False}

_FLAG = {"device": "--device", "batch_size": "--batch-size", "slide": "--slide", "scales": "--scales",
         "flip": "--flip"}


def weights_sha256(path) -> str | None:
    """sha256 of a weights file, or of a weights folder (sorted relative names + contents).

    Returns ``None`` when ``path`` is None.
    """
    if path is None:
        return None
    p = Path(path)
    h = hashlib.sha256()
    if p.is_dir():
        for f in sorted(x for x in p.rglob("*") if x.is_file()):
            h.update(str(f.relative_to(p)).encode() + b"\0")
            with open(f, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
    elif p.is_file():
        with open(p, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    else:
        raise NotFoundError("expected a weights file or folder, found nothing; pass --weights PATH", path=p)
    return h.hexdigest()


def load_image_array(image, path_hint: str | None = None) -> np.ndarray:
    """The sample's image as a numpy array (``(H, W)`` or ``(H, W, C)``), read from a path if needed.

    Raises :class:`BadInputError` naming the file for unreadable or truncated images.
    """
    if image is None:
        raise BadInputError("expected the input image of this sample, found none; a model needs the images: "
                            "point --gt at a dataset root that has them", path=path_hint)
    if isinstance(image, np.ndarray):
        return image
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(image) as im:
            im.load()
            if im.mode in ("I;16", "I;16B", "I;16L"):
                return np.array(im, dtype=np.uint16)
            if im.mode == "P":
                im = im.convert("RGB")
            return np.array(im)
    except FileNotFoundError:
        raise NotFoundError("expected an image file, found nothing", path=str(image)) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise BadInputError(f"expected a readable image, found a corrupt or truncated file ({e})",
                            path=str(image)) from None


class ModelWrapper:
    """Base class of model wrappers.

    Subclasses set the class attributes and implement :meth:`predict` (and :meth:`load` when they
    have weights).

    Attributes
    ----------
    name : str
        Registry name (``skimage-otsu``).
    reference : dict
        ``{"library": ..., "function": ..., "paper": ...}``: the implementation that runs.
    task : str
        Dataset task it predicts for (``binary``, ``semantic``, ``instance``...).
    needs_weights : bool
        ``load`` requires a weights path.
    supported_options : frozenset
        Which of :data:`PREDICT_OPTIONS` it honours; giving any other one a non-default value raises
        :class:`UsageError` (never silently ignored).

    Parameters
    ----------
    device : str, default "cpu"
    batch_size : int, default 1
    slide : tuple (crop, stride) or None
        Sliding-window inference; ``crop`` and ``stride`` are ``(h, w)`` pairs.
    scales : sequence of float or None
        Multi-scale inference (averaged).
    flip : bool
        Horizontal-flip averaging.
    **options
        Wrapper-specific options.
    """

    name: ClassVar[str] = "model"
    reference: ClassVar[dict] = {"library": "", "function": "", "paper": ""}
    task: ClassVar[str] = "semantic"
    needs_weights: ClassVar[bool] = False
    supported_options: ClassVar[frozenset] = frozenset({"batch_size"})

    def __init__(self, device: str = "cpu", batch_size: int = 1, slide=None, scales=None, flip: bool = False,
                 **options: Any):
        given = {"device": device, "batch_size": batch_size, "slide": slide, "scales": scales, "flip": flip}
        for key, val in given.items():
            if key in self.supported_options:
                continue
            default = _DEFAULTS[key]
            if key == "device" and str(val).lower() == "cpu":
                continue
            if key == "scales" and val is not None and list(val) == [1.0]:
                continue
            if val != default and not (val is None and default is None):
                sup = ", ".join(_FLAG[k] for k in PREDICT_OPTIONS if k in self.supported_options) or "none"
                raise UsageError(f"model {self.name!r} does not support {_FLAG[key]} (given {val!r}); "
                                 f"it supports: {sup}")
        if batch_size is not None and int(batch_size) < 1:
            raise UsageError(f"--batch-size: expected a positive integer, found {batch_size}")
        self.device = device
        self.batch_size = int(batch_size or 1)
        self.slide = slide
        self.scales = list(scales) if scales is not None else None
        self.flip = bool(flip)
        self.options = dict(options)
        self.weights_path: str | None = None
        self.weights_sha256: str | None = None
        self.loaded = False

    # ---- protocol
    def label_space(self) -> LabelSpace | None:
        """The classes the model predicts (None: it predicts in the bound dataset's space)."""
        return None

    def load(self, weights_path=None) -> "ModelWrapper":
        """Load weights (from a local path only; no network). Returns ``self``."""
        if weights_path is not None and not self.needs_weights:
            raise UsageError(f"model {self.name!r} has no weights; drop --weights")
        if weights_path is None and self.needs_weights:
            raise UsageError(f"model {self.name!r} needs weights: pass --weights PATH "
                             "(weights are never downloaded)")
        if weights_path is not None:
            self.weights_path = str(weights_path)
            self.weights_sha256 = weights_sha256(weights_path)
        self.loaded = True
        return self

    def bind(self, dataset) -> "ModelWrapper":
        """Check that the model can predict for ``dataset`` (task, label space) and prepare the mapping.

        Raises :class:`UsageError` with the reason when the spaces do not match.
        """
        self.dataset_label_space = dataset.label_space()
        return self

    def predict(self, sample: Sample):  # pragma: no cover - abstract
        """Return the prediction for one sample (a type from :mod:`segbench.types`)."""
        raise NotImplementedError

    def predict_batch(self, samples: Sequence[Sample]) -> list:
        """Predictions for several samples (default: one by one; batched wrappers override)."""
        return [self.predict(s) for s in samples]

    # ---- provenance
    def settings(self) -> dict:
        """The inference settings that change the numbers (recorded in the RunRecord)."""
        out = {"device": self.device, "batch_size": self.batch_size}
        if self.slide is not None:
            out["slide"] = [list(x) if isinstance(x, (tuple, list)) else x for x in self.slide]
        if self.scales is not None:
            out["scales"] = list(self.scales)
        if self.flip:
            out["flip"] = True
        out.update({k: v for k, v in self.options.items() if isinstance(v, (str, int, float, bool, type(None)))})
        return out

    def library_version(self) -> str | None:
        lib = (self.reference or {}).get("library", "")
        mod = {"scikit-image": "skimage", "segmentation-models-pytorch": "segmentation_models_pytorch"}.get(lib, lib)
        if not mod:
            return None
        try:
            import importlib
            return getattr(importlib.import_module(mod), "__version__", None)
        except Exception:  # noqa: BLE001 - provenance only
            return None

    def describe(self) -> dict:
        """The RunRecord ``model`` field: name, reference, library version, weights, settings."""
        return {"name": self.name, "source": "segbench predict", **dict(self.reference),
                "library_version": self.library_version(), "weights": self.weights_path,
                "weights_sha256": self.weights_sha256, "settings": self.settings()}


class ModelPredictionSource(PredictionSource):
    """A model as a :class:`PredictionSource`: predictions computed on the fly, nothing written.

    Parameters
    ----------
    model : ModelWrapper
        Already loaded (``model.load(...)``); bound to ``dataset`` here when given.
    dataset : DatasetAdapter, optional
    """

    def __init__(self, model: ModelWrapper, dataset=None):
        self.model = model
        self.path = None
        if not model.loaded:
            model.load(None)
        if dataset is not None:
            model.bind(dataset)

    def load(self, sample: Sample):
        return self.model.predict(sample)

    def available(self):
        return None

    def files(self) -> list:
        return [self.model.weights_path] if self.model.weights_path and os.path.isfile(self.model.weights_path) else []

    def describe(self) -> dict:
        return self.model.describe()

"""Classical thresholding baselines for binary datasets (no weights): Otsu and Sauvola.

Both compute a threshold ``t`` with scikit-image and label a pixel *bright* when ``image > t``
(scikit-image's own convention: ``binary = image > threshold_otsu(image)``). A binary dataset's label
space has two evaluated classes, train ids 0 and 1. Which of them is the *bright* one is the
**polarity**:

- ``polarity="bright"`` (default): bright pixels → train id 1, dark pixels → train id 0.
- ``polarity="dark"``: dark pixels → train id 1.

A dataset adapter may declare ``bright_train_id`` (0 or 1) to set the right default. For
``isbi-membrane`` the EM slices show membranes dark and cell interiors bright; its label PNGs store
255 = cell interior (train id 1, ``cell``) and 0 = membrane (train id 0, ``membrane``), so bright →
train id 1 — the default — is correct there (``ISBIMembrane.bright_train_id = 1``).

Colour images are converted to luminance first (``skimage.color.rgb2gray``); 16-bit images are used
as they are (thresholds are computed on the raw values).

References
----------
N. Otsu, "A threshold selection method from gray-level histograms", IEEE Trans. SMC 9(1), 1979.
J. Sauvola, M. Pietikäinen, "Adaptive document image binarization", Pattern Recognition 33(2), 2000.
scikit-image: ``skimage.filters.threshold_otsu``, ``skimage.filters.threshold_sauvola``.

Examples
--------
>>> import numpy as np
>>> from segbench.types import Sample
>>> img = np.array([[10, 10, 200, 200]], np.uint8)
>>> OtsuThreshold().load().predict(Sample("x", img, None)).mask.tolist()
[[0, 0, 1, 1]]
>>> OtsuThreshold(polarity="dark").load().predict(Sample("x", img, None)).mask.tolist()
[[1, 1, 0, 0]]
"""

from __future__ import annotations

import numpy as np

from ..errors import UsageError
from ..types import SemanticPrediction
from .base import ModelWrapper, load_image_array

__all__ = ["OtsuThreshold", "SauvolaThreshold", "to_gray"]


def to_gray(img: np.ndarray) -> np.ndarray:
    """``(H, W)`` grayscale from ``(H, W)``, ``(H, W, 1)``, RGB or RGBA arrays (alpha dropped)."""
    if img.ndim == 2:
        return img
    if img.ndim == 3 and img.shape[2] == 1:
        return img[..., 0]
    if img.ndim == 3 and img.shape[2] in (3, 4):
        from skimage.color import rgb2gray
        return rgb2gray(img[..., :3])
    raise UsageError(f"expected a 2-D grayscale or RGB image, found shape {img.shape}")


class _Threshold(ModelWrapper):
    task = "binary"
    supported_options = frozenset({"batch_size"})

    def __init__(self, polarity: str | None = None, **kw):
        if polarity not in (None, "bright", "dark"):
            raise UsageError(f"polarity: expected 'bright' or 'dark', found {polarity!r}")
        super().__init__(**kw)
        self.polarity = polarity
        self._bright_id = 0 if polarity == "dark" else 1

    def bind(self, dataset):
        ls = dataset.label_space()
        if ls is None or ls.num_classes != 2:
            n = None if ls is None else ls.num_classes
            raise UsageError(f"model {self.name!r} is a binary thresholding baseline; dataset "
                             f"{dataset.spec.name!r} has {n} evaluated classes (expected 2)")
        if self.polarity is None:
            self._bright_id = int(getattr(dataset, "bright_train_id", 1))
        self.dataset_label_space = ls
        return self

    def settings(self) -> dict:
        out = super().settings()
        out["bright_train_id"] = self._bright_id
        return out

    def threshold(self, gray: np.ndarray):  # pragma: no cover - abstract
        raise NotImplementedError

    def predict(self, sample):
        # the image keeps its dtype: scikit-image derives defaults from it (Sauvola's r = half the
        # dtype's range, e.g. 127.5 for uint8), so results equal calling the reference on the file
        gray = to_gray(load_image_array(sample.image, path_hint=f"sample {sample.sample_id}"))
        if gray.size == 0 or float(gray.min()) == float(gray.max()):
            bright = np.zeros(gray.shape, dtype=bool)  # a flat image has no bright part
        else:
            bright = gray > self.threshold(gray)
        mask = np.where(bright, self._bright_id, 1 - self._bright_id).astype(np.uint8)
        return SemanticPrediction(mask)


class OtsuThreshold(_Threshold):
    """Global Otsu threshold (``skimage.filters.threshold_otsu``, 256 bins), bright = ``image > t``.

    Parameters
    ----------
    polarity : {"bright", "dark"}, optional
        Which side is train id 1 (default: the dataset's ``bright_train_id``, else bright).
    nbins : int, default 256
    """

    name = "skimage-otsu"
    reference = {"library": "scikit-image", "function": "skimage.filters.threshold_otsu",
                 "paper": "Otsu, A threshold selection method from gray-level histograms, IEEE TSMC 1979"}

    def __init__(self, polarity: str | None = None, nbins: int = 256, **kw):
        super().__init__(polarity=polarity, **kw)
        self.options["nbins"] = int(nbins)

    def threshold(self, gray):
        from skimage.filters import threshold_otsu
        return threshold_otsu(gray, nbins=self.options["nbins"])


class SauvolaThreshold(_Threshold):
    """Local Sauvola threshold (``skimage.filters.threshold_sauvola``), bright = ``image > t(x)``.

    ``t = m * (1 + k * (s / r - 1))`` with the local mean ``m`` and standard deviation ``s`` over a
    ``window_size`` window and ``r`` half the image's value range (scikit-image's default).

    Parameters
    ----------
    polarity : {"bright", "dark"}, optional
    window_size : int, default 15 (scikit-image's default; odd)
    k : float, default 0.2 (scikit-image's default)
    """

    name = "skimage-sauvola"
    reference = {"library": "scikit-image", "function": "skimage.filters.threshold_sauvola",
                 "paper": "Sauvola & Pietikainen, Adaptive document image binarization, Pattern Recognition 2000"}

    def __init__(self, polarity: str | None = None, window_size: int = 15, k: float = 0.2, **kw):
        super().__init__(polarity=polarity, **kw)
        if int(window_size) < 3 or int(window_size) % 2 == 0:
            raise UsageError(f"window_size: expected an odd integer >= 3, found {window_size}")
        self.options["window_size"] = int(window_size)
        self.options["k"] = float(k)

    def threshold(self, gray):
        from skimage.filters import threshold_sauvola
        return threshold_sauvola(gray, window_size=self.options["window_size"], k=self.options["k"])

"""Classical edge-detector baselines producing soft boundary maps (no weights): ``skimage-sobel`` and
``skimage-canny``, for the boundary datasets (``bsds500``, ``crackforest``, ``sbd``).

- ``skimage-sobel``: the Sobel gradient magnitude of the luminance in 0..1
  (``skimage.filters.sobel(rgb2gray(image))``, optionally after a Gaussian blur ``sigma``), clipped to
  0..1 — a thick soft map (the benchmark thins each thresholded map).
- ``skimage-canny``: Canny's non-maximum-suppressed edges (``skimage.feature.canny(gray, sigma,
  low_threshold=0, high_threshold=0)``: every local maximum of the smoothed gradient) weighted by the
  smoothed gradient magnitude divided by its maximum — a thin soft map whose threshold sweep is the
  Canny hysteresis sweep of the classic BSDS baseline (Martin et al. 2004 evaluate Canny this way).

References
----------
J. Canny, "A computational approach to edge detection", IEEE TPAMI 8(6), 1986. I. Sobel, G. Feldman,
"A 3x3 isotropic gradient operator for image processing", 1968. D. Martin, C. Fowlkes, J. Malik,
TPAMI 26(5), 2004 (Canny as a BSDS baseline). scikit-image ``skimage.filters.sobel``,
``skimage.feature.canny``.

Examples
--------
>>> import numpy as np
>>> from segbench.types import Sample
>>> img = np.zeros((32, 32), np.uint8); img[:, 16:] = 200
>>> pb = CannyEdges().load().predict(Sample("x", img, None)).prob
>>> pb.shape, float(pb.max()), bool(pb[:, 16].any() or pb[:, 15].any())
((32, 32), 1.0, True)
"""

from __future__ import annotations

import numpy as np

from ..errors import UsageError
from ..types import BoundaryPrediction
from .base import ModelWrapper, load_image_array

__all__ = ["SobelEdges", "CannyEdges", "gray_float"]


def gray_float(img: np.ndarray) -> np.ndarray:
    """Luminance in 0..1 (float64) from grayscale / RGB / RGBA arrays of any integer or float type."""
    from skimage.color import rgb2gray
    from skimage.util import img_as_float
    a = np.asarray(img)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim == 3 and a.shape[2] in (3, 4):
        return rgb2gray(img_as_float(a[..., :3]))
    if a.ndim != 2:
        raise UsageError(f"expected a 2-D grayscale or RGB image, found shape {a.shape}")
    return img_as_float(a).astype(np.float64)


class _EdgeBaseline(ModelWrapper):
    task = "boundary"
    supported_options = frozenset({"batch_size"})

    def __init__(self, sigma: float = 0.0, **kw):
        super().__init__(**kw)
        if float(sigma) < 0:
            raise UsageError(f"sigma: expected a non-negative number, found {sigma}")
        self.options["sigma"] = float(sigma)

    def bind(self, dataset):
        task = getattr(dataset, "task", None) or dataset.spec.task
        if task != "boundary":
            raise UsageError(f"model {self.name!r} predicts soft boundary maps; dataset {dataset.spec.name!r} "
                             f"is a {task!r} task (use a boundary dataset: bsds500, crackforest, sbd)")
        self.dataset_label_space = dataset.label_space()
        return self

    def edges(self, gray: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def predict(self, sample):
        gray = gray_float(load_image_array(sample.image, path_hint=str(sample.sample_id)))
        pb = np.clip(self.edges(gray), 0.0, 1.0)
        return BoundaryPrediction(pb)


class SobelEdges(_EdgeBaseline):
    """Sobel gradient magnitude (``skimage.filters.sobel``) of the luminance, optionally Gaussian-blurred.

    Parameters
    ----------
    sigma : float, default 0
        Gaussian blur before the gradient (0 = none).
    """

    name = "skimage-sobel"
    reference = {"library": "scikit-image", "function": "skimage.filters.sobel",
                 "paper": "Sobel & Feldman, A 3x3 isotropic gradient operator for image processing, 1968"}

    def edges(self, gray):
        from skimage.filters import gaussian, sobel
        s = self.options["sigma"]
        g = gaussian(gray, sigma=s, preserve_range=True) if s > 0 else gray
        return sobel(g)


class CannyEdges(_EdgeBaseline):
    """Canny edges (all non-maximum-suppressed maxima) weighted by the normalised gradient magnitude.

    Parameters
    ----------
    sigma : float, default 2.0
        Gaussian smoothing of ``skimage.feature.canny``.
    """

    name = "skimage-canny"
    reference = {"library": "scikit-image", "function": "skimage.feature.canny",
                 "paper": "Canny, A computational approach to edge detection, IEEE TPAMI 1986"}

    def __init__(self, sigma: float = 2.0, **kw):
        super().__init__(sigma=sigma, **kw)

    def edges(self, gray):
        from scipy import ndimage as ndi
        from skimage.feature import canny
        s = self.options["sigma"]
        nms = canny(gray, sigma=s, low_threshold=0.0, high_threshold=0.0)
        sm = ndi.gaussian_filter(gray, s, mode="constant") if s > 0 else gray
        mag = np.hypot(ndi.sobel(sm, axis=0), ndi.sobel(sm, axis=1))
        mag = np.where(nms, mag, 0.0)
        top = float(mag.max()) if mag.size else 0.0
        return mag / top if top > 0 else mag

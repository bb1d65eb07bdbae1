"""Classical region baselines for the BSDS500 region benchmarks (no weights): SLIC, Felzenszwalb and
watershed hierarchies from scikit-image.

Each wrapper returns a :class:`~segbench.types.HierarchyPrediction`: one label map (labels ≥ 1) per
level, from fine to coarse, as the BSDS bench's ``segs`` input; ``segbench predict`` writes it as
``<id>.mat`` with the variable ``segs`` (a 1×N cell), which ``segbench eval --metrics bsds_regions``
(covering, PRI, VoI at ODS/OIS) and ``bsds_boundary`` (with ``nthresh`` = number of levels) read.

* ``skimage-slic``: ``skimage.segmentation.slic(image, n_segments=k, compactness=10, start_label=1)``
  for ``k`` in ``levels`` (default 512, 256, 128, 64, 32, 16, 8, 4);
* ``skimage-felzenszwalb``: ``skimage.segmentation.felzenszwalb(image, scale=s, sigma=0.8,
  min_size=20)`` (+1) for ``s`` in ``levels`` (default 25, 50, 100, 200, 400, 800, 1600, 3200);
* ``skimage-watershed``: ``skimage.segmentation.watershed(sobel(gray), markers=k)`` (``k`` regularly
  spaced markers, scikit-image's integer ``markers``) for ``k`` in ``levels`` (default 512 ... 4).

Options: ``levels`` (list), plus ``compactness`` (SLIC), ``sigma`` / ``min_size`` (Felzenszwalb).

References
----------
Achanta et al., SLIC Superpixels Compared to State-of-the-Art Superpixel Methods, TPAMI 2012.
Felzenszwalb & Huttenlocher, Efficient Graph-Based Image Segmentation, IJCV 2004.
Beucher & Meyer, The morphological approach to segmentation: the watershed transformation, 1993.

Examples
--------
>>> import numpy as np
>>> from segbench.types import Sample
>>> img = np.zeros((20, 30, 3), np.uint8); img[:, 15:] = 200
>>> pred = SLICRegions(levels=[8, 2]).load().predict(Sample("a", img, None))
>>> len(pred.segs), pred.segs[0].shape, int(pred.segs[0].min()) >= 1
(2, (20, 30), True)
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import UsageError
from ..types import HierarchyPrediction, Sample
from .base import ModelWrapper, load_image_array

__all__ = ["SLICRegions", "FelzenszwalbRegions", "WatershedRegions"]


class _Regions(ModelWrapper):
    task = "boundary"
    supported_options = frozenset({"batch_size"})
    default_levels: tuple = ()

    def __init__(self, levels: Sequence | None = None, **kw: Any):
        super().__init__(**kw)
        lv = list(self.default_levels if levels is None else levels)
        if not lv or any(float(v) <= 0 for v in lv):
            raise UsageError(f"levels: expected positive numbers (one per hierarchy level), found {levels!r}")
        self.levels = lv
        self.options["levels"] = ",".join(str(v) for v in lv)

    def _image(self, sample: Sample) -> np.ndarray:
        img = load_image_array(sample.image, path_hint=str(sample.sample_id))
        if img.ndim == 3 and img.shape[2] == 4:
            img = img[..., :3]
        return img

    def segment(self, img: np.ndarray, level) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def predict(self, sample: Sample) -> HierarchyPrediction:
        img = self._image(sample)
        segs = []
        for lv in self.levels:
            s = np.asarray(self.segment(img, lv)).astype(np.int32)
            if s.min() < 1:
                s = s - s.min() + 1
            segs.append(s)
        return HierarchyPrediction(segs)


class SLICRegions(_Regions):
    """SLIC superpixels at several ``n_segments`` (``skimage.segmentation.slic``)."""

    name = "skimage-slic"
    reference = {"library": "scikit-image", "function": "skimage.segmentation.slic",
                 "paper": "Achanta et al., SLIC Superpixels Compared to State-of-the-Art Superpixel Methods, TPAMI 2012"}
    default_levels = (512, 256, 128, 64, 32, 16, 8, 4)

    def __init__(self, compactness: float = 10.0, **kw: Any):
        super().__init__(**kw)
        self.options["compactness"] = float(compactness)

    def segment(self, img, level):
        from skimage.segmentation import slic
        return slic(img, n_segments=int(level), compactness=self.options["compactness"], start_label=1,
                    channel_axis=-1 if img.ndim == 3 else None)


class FelzenszwalbRegions(_Regions):
    """Felzenszwalb-Huttenlocher graph segmentation at several ``scale`` values."""

    name = "skimage-felzenszwalb"
    reference = {"library": "scikit-image", "function": "skimage.segmentation.felzenszwalb",
                 "paper": "Felzenszwalb & Huttenlocher, Efficient Graph-Based Image Segmentation, IJCV 2004"}
    default_levels = (25, 50, 100, 200, 400, 800, 1600, 3200)

    def __init__(self, sigma: float = 0.8, min_size: int = 20, **kw: Any):
        super().__init__(**kw)
        self.options.update({"sigma": float(sigma), "min_size": int(min_size)})

    def segment(self, img, level):
        from skimage.segmentation import felzenszwalb
        return felzenszwalb(img, scale=float(level), sigma=self.options["sigma"], min_size=self.options["min_size"],
                            channel_axis=-1 if img.ndim == 3 else None) + 1


class WatershedRegions(_Regions):
    """Watershed of the Sobel gradient magnitude with ``k`` regularly spaced markers per level."""

    name = "skimage-watershed"
    reference = {"library": "scikit-image", "function": "skimage.segmentation.watershed(skimage.filters.sobel(gray))",
                 "paper": "Beucher & Meyer, The morphological approach to segmentation: the watershed "
                          "transformation, 1993"}
    default_levels = (512, 256, 128, 64, 32, 16, 8, 4)

    def segment(self, img, level):
        from skimage.color import rgb2gray
        from skimage.filters import sobel
        from skimage.segmentation import watershed
        gray = rgb2gray(img) if img.ndim == 3 else img.astype(np.float64)
        return watershed(sobel(gray), markers=int(level))

"""CrackForest (road crack images with pixel-level annotation), registry name ``crackforest``.

Native layout (as released by the authors, e.g. ``cuilimeng/CrackForest-dataset``)::

    ROOT/image/NNN.jpg          480x320 RGB road photos (118 images)
    ROOT/groundTruth/NNN.mat    MATLAB v5, struct `groundTruth` with Segmentation (uint8: 1 = background,
                                2 = crack) and Boundaries (0/1) — the BSDS500 ground-truth layout, 1 annotator
    ROOT/seg/NNN.seg            the same annotation in the Berkeley .seg text format (0 = background,
                                1 = crack); used when an image has no groundTruth .mat

There is no official split: split ``all`` (the default) holds every annotated image.

Tasks (``--task``):

- ``boundary`` (default): :class:`~segbench.types.BoundaryMaps` targets, scored with ``bsds_boundary``
  (the BSDS protocol the dataset was released for) from soft maps ``PREDDIR/NNN.png`` or ``.mat``.
  For ``.seg``-only images the boundaries are ``seg2bdry`` of the label map, thinned.
- ``semantic``: :class:`~segbench.types.SemanticMask` targets with classes background (0) and crack
  (1) from ``Segmentation`` (1 → 0, 2 → 1), scored with ``miou`` (add ``boundary_iou``, ``bf``); predictions
  ``PREDDIR/NNN.png`` are label maps (0/1) or soft maps of P(crack) (8/16-bit, ``> --threshold``).

Reference: Y. Shi, L. Cui, Z. Qi, F. Meng, Z. Chen, "Automatic road crack detection using random
structured forests", IEEE T-ITS 17(12):3434-3445, 2016.

Examples
--------
>>> import tempfile
>>> root = CrackForest.make_fake(tempfile.mkdtemp(), num_samples=2, size=(32, 48))
>>> ds = CrackForest(root)
>>> ds.sample_ids(), ds.load("001").target.boundaries.shape
(['001', '002'], (1, 32, 48))
>>> CrackForest(root, task="semantic").label_space().names
['background', 'crack']
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from ..errors import BadInputError, NotFoundError, UsageError
from ..types import BoundaryMaps, ClassSpec, LabelSpace, Sample, SemanticMask, SemanticPrediction
from .base import DatasetAdapter, DatasetSpec, PredictionSource
from .bsds500 import BoundaryPredictions, boundary_metric_options, write_boundary_png, write_bsds_groundtruth

__all__ = ["CrackForest", "CrackSemanticPredictions"]


class CrackSemanticPredictions(BoundaryPredictions):
    """Crack masks for the semantic task: label maps (values in {0, 1}) or soft maps of P(crack)."""

    def __init__(self, path, threshold=None):
        super().__init__(path)
        self.threshold = threshold

    def load(self, sample: Sample):
        from ..io.labels import binarise, read_prob
        f = self.index.get(str(sample.sample_id))
        if f is None:
            raise NotFoundError(f"expected a prediction for sample {sample.sample_id} (<id>.png), found none",
                                path=self.path)
        if f.lower().endswith(".mat"):
            from ..io.mat import load_soft_map_mat
            a, rng = load_soft_map_mat(f), 1.0
        else:
            a, rng = read_prob(f)
        a = np.asarray(a)
        if a.shape != tuple(sample.target.shape):
            raise BadInputError(f"sample {sample.sample_id}: expected a mask of size {sample.target.shape} "
                                f"(the ground truth's), found {a.shape}", path=f)
        if a.dtype.kind in "iub" and a.size and int(a.max()) <= 1 and int(a.min()) >= 0:
            return SemanticPrediction(a.astype(np.uint8))
        if a.dtype.kind == "f" and (not np.all(np.isfinite(a)) or a.min() < 0 or a.max() > 1):
            raise BadInputError(f"sample {sample.sample_id}: expected probabilities in 0..1, found NaN or "
                                "values outside", path=f)
        return SemanticPrediction(binarise(a, rng, self.threshold))


class CrackForest(DatasetAdapter):
    """CrackForest adapter (see the module docstring)."""

    #: Options this adapter reads (``--option KEY=VALUE``; others are reported).
    option_names: ClassVar[tuple] = ("boundary_mode", "max_dist", "nthresh", "occurrence", "task", "thin", "threshold")
    spec: ClassVar[DatasetSpec] = DatasetSpec(
        name="crackforest", version="2016", task="boundary", splits={"all": 118}, default_split="all",
        default_metrics=("bsds_boundary",),
        license="Non-commercial research purposes only (as stated by the authors)",
        citation="Y. Shi, L. Cui, Z. Qi, F. Meng, Z. Chen. Automatic Road Crack Detection Using Random "
                 "Structured Forests. IEEE T-ITS 17(12):3434-3445, 2016.",
        homepage="https://github.com/cuilimeng/CrackForest-dataset", obtain="manual", size="30 MB")

    def __init__(self, root, split=None, **options):
        super().__init__(root, split, **options)
        self.task = options.get("task") or "boundary"
        if self.task not in ("boundary", "semantic"):
            raise UsageError(f"crackforest: --task must be 'boundary' or 'semantic', found {self.task!r}")

    def label_space(self):
        if self.task == "semantic":
            # native ids = train ids (the .mat's 1/2 are mapped when loading), so label PNGs hold 0/1
            return LabelSpace([ClassSpec("background", 0, 0, color=(0, 0, 0)),
                               ClassSpec("crack", 1, 1, color=(255, 255, 255))], name="crackforest")
        return None

    def default_metrics(self) -> tuple:
        return ("miou",) if self.task == "semantic" else self.spec.default_metrics

    def _index(self) -> dict:
        root = self.require_root()
        if self.split not in ("all",):
            raise NotFoundError(f"crackforest has one split 'all', found --split {self.split!r}", path=root)
        idx: dict = {}
        sdir = root / "seg"
        if sdir.is_dir():
            for f in sdir.glob("*.seg"):
                idx[f.stem] = str(f)
        gdir = root / "groundTruth"
        if gdir.is_dir():
            for f in gdir.glob("*.mat"):
                idx[f.stem] = str(f)
        if not idx:
            raise NotFoundError("expected groundTruth/*.mat or seg/*.seg under the CrackForest root, found none",
                                path=root)
        return idx

    def sample_ids(self) -> list[str]:
        return sorted(self._index())

    def load(self, sample_id: str) -> Sample:
        from ..io.mat import load_bsds_groundtruth, read_seg_file
        from ..metrics.functional.regions import seg_to_boundaries
        f = self._index().get(str(sample_id))
        if f is None:
            raise NotFoundError(f"no ground truth for sample {sample_id}", path=self.root)
        if f.endswith(".mat"):
            b, s = load_bsds_groundtruth(f)
        else:
            lab = read_seg_file(f) + 1  # .seg labels are 0-based; the .mat Segmentation is 1-based
            s = lab[None].astype(np.int32)
            b = seg_to_boundaries(lab)[None]
        img = None
        for ext in (".jpg", ".png"):
            p = self.root / "image" / f"{sample_id}{ext}"
            if p.is_file():
                img = str(p)
                break
        meta = {"gt_path": f}
        if self.task == "semantic":
            if s is None:
                raise BadInputError("expected a Segmentation field for the semantic task, found none", path=f)
            seg = s[0]
            bad = np.setdiff1d(np.unique(seg), [1, 2])
            if bad.size:
                raise BadInputError(f"expected Segmentation values 1 (background) and 2 (crack), found "
                                    f"{bad[:5].tolist()}", path=f)
            return Sample(str(sample_id), img, SemanticMask((seg - 1).astype(np.uint8)), meta)
        return Sample(str(sample_id), img, BoundaryMaps(b, s), meta)

    def predictions(self, path, **options) -> PredictionSource:
        if self.task == "semantic":
            return CrackSemanticPredictions(path, options.get("threshold"))
        return BoundaryPredictions(path)

    def metric_options(self, metric_name: str) -> dict:
        return boundary_metric_options(self.options, metric_name)

    def write_prediction(self, sample, prediction, out_dir) -> Path:
        """``segbench predict`` hook: 16-bit soft boundary PNGs, or 0/1 label PNGs (semantic task)."""
        return write_boundary_png(sample, prediction, out_dir)

    @classmethod
    def make_fake(cls, root, num_samples: int = 4, seed: int = 0, size=(64, 96), with_seg: bool = True,
                  **options) -> Path:
        """Write a fake CrackForest layout: random-walk cracks, groundTruth .mat (1x1 struct), .seg files
        and JPEG images."""
        from PIL import Image
        from ..io.mat import write_seg_file
        rng = np.random.default_rng(seed)
        root = Path(root) / "CrackForest"
        for d in ("image", "groundTruth", "seg"):
            (root / d).mkdir(parents=True, exist_ok=True)
        h, w = size
        for i in range(num_samples):
            sid = f"{i + 1:03d}"
            crack = np.zeros((h, w), bool)
            y = int(rng.integers(h // 4, 3 * h // 4))
            for x in range(w):
                y = int(np.clip(y + rng.integers(-1, 2), 1, h - 2))
                crack[y - 1:y + 1, x] = True
            seg = np.where(crack, 2, 1).astype(np.uint8)
            write_bsds_groundtruth(root / "groundTruth" / f"{sid}.mat", [seg], as_cell=False)
            if with_seg:
                write_seg_file(root / "seg" / f"{sid}.seg", seg.astype(np.int32) - 1, f"{sid}.jpg")
            Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(root / "image" / f"{sid}.jpg")
        return root

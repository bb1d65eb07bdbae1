"""SBD (Semantic Boundaries Dataset, Hariharan et al. 2011), registry name ``sbd``.

Native layout (``benchmark_RELEASE/dataset`` of ``benchmark.tgz``)::

    ROOT/img/<id>.jpg
    ROOT/cls/<id>.mat    struct `GTcls`: Segmentation (uint8 H x W, 0 = background, 1..20 = VOC classes),
                         Boundaries (20x1 cell of sparse logical H x W maps, one per class),
                         CategoriesPresent (class ids in the image)
    ROOT/inst/<id>.mat   struct `GTinst`: Segmentation (instance ids, 0 = none), Boundaries (cell, one
                         sparse map per instance), Categories (class of each instance)
    ROOT/train.txt, ROOT/val.txt   image ids (8498 / 2857)

Tasks (``--task``):

- ``boundary`` (default): class-agnostic boundaries (union of the 20 class maps of ``GTcls``, or of the
  instance maps with adapter option ``gt="inst"``) as one annotator, scored with ``bsds_boundary`` at
  the SBD benchmark's tolerance ``maxDist = 0.02`` (predictions as for ``bsds500``).
- ``semantic``: ``GTcls.Segmentation`` as a 21-class VOC label map (``miou``, ``boundary_iou``, ``bf``);
  predictions are label PNGs ``<id>.png`` with train ids 0..20 (255 = void).
- ``category``: the SBD benchmark proper, category-aware: the 20 class boundary maps of ``GTcls`` (or
  the instance maps grouped by category, ``gt="inst"``) as :class:`~segbench.types.MultiLabelMasks`,
  scored per category with ``category_boundary`` (MF-ODS, MF-OIS, AP; tolerance 0.02). Predictions in
  the CASENet / SEAL layout: ``PRED/class_001/<id>.png`` ... ``PRED/class_020/<id>.png`` (8/16-bit soft
  maps or ``.mat``, as for ``bsds500``), class ``k`` = VOC class ``k``.

Reference: B. Hariharan, P. Arbeláez, L. Bourdev, S. Maji, J. Malik, "Semantic contours from inverse
detectors", ICCV 2011.

Examples
--------
>>> import tempfile
>>> root = SBD.make_fake(tempfile.mkdtemp(), num_samples=2, size=(30, 40))
>>> ds = SBD(root, split="val")
>>> ds.sample_ids(), ds.load(ds.sample_ids()[0]).target.boundaries.shape
(['2008_000000', '2008_000001'], (1, 30, 40))
>>> SBD(root, split="val", task="semantic").label_space().num_classes
21
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from ..errors import BadInputError, NotFoundError, UsageError
from ..io.labels import voc_palette
from ..types import (BoundaryMaps, ClassSpec, LabelSpace, MultiLabelMasks, MultiLabelPrediction, Sample, SemanticMask,
                     SemanticPrediction)
from .base import DatasetAdapter, DatasetSpec, ManifestFile, PredictionSource
from .bsds500 import BoundaryPredictions, boundary_metric_options, read_boundary_prediction, write_boundary_png

__all__ = ["SBD", "VOC_CLASSES", "load_sbd_cls", "load_sbd_inst", "SemanticLabelPredictions"]

VOC_CLASSES = ("background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
               "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
               "train", "tvmonitor")


def _voc_color(i: int) -> tuple:
    return tuple(int(x) for x in voc_palette()[i])


def _struct(path, key):
    from ..io.mat import load_mat
    m = load_mat(path)
    if key not in m:
        have = ", ".join(k for k in m if not k.startswith("__"))
        raise BadInputError(f"expected a struct {key!r}, found: {have or 'nothing'}", path=path)
    v = m[key]
    while isinstance(v, np.ndarray) and v.dtype == object and v.size == 1:
        v = v.flat[0]
    if not (isinstance(v, (np.ndarray, np.void)) and v.dtype.names):
        raise BadInputError(f"expected {key!r} to be a struct, found {type(v).__name__}", path=path)
    return v.flat[0] if isinstance(v, np.ndarray) else v


def _get(st, name, path):
    if name not in st.dtype.names:
        raise BadInputError(f"expected field {name!r}, found {list(st.dtype.names)}", path=path)
    v = st[name]
    while isinstance(v, np.ndarray) and v.dtype == object and v.size == 1 and not hasattr(v.flat[0], "toarray") \
            and isinstance(v.flat[0], np.ndarray) and v.flat[0].dtype == object:
        v = v.flat[0]
    return v


def _cell_maps(cell, shape, path) -> list:
    from ..io.mat import to_dense
    out = []
    arr = np.asarray(cell, dtype=object) if not hasattr(cell, "toarray") else np.array([cell], dtype=object)
    for x in arr.ravel(order="F"):
        while isinstance(x, np.ndarray) and x.dtype == object and x.size == 1:
            x = x.flat[0]
        d = to_dense(x)
        if d.size == 0:
            d = np.zeros(shape, bool)
        if d.shape != tuple(shape):
            raise BadInputError(f"expected boundary maps of size {tuple(shape)}, found {d.shape}", path=path)
        out.append(d != 0)
    return out


def load_sbd_cls(path) -> tuple:
    """``(segmentation (H, W) uint8, class boundaries (20, H, W) bool)`` from ``cls/<id>.mat``."""
    from ..io.mat import to_dense
    st = _struct(path, "GTcls")
    seg = to_dense(_get(st, "Segmentation", path))
    while seg.dtype == object:
        seg = to_dense(seg.flat[0])
    seg = seg.astype(np.uint8)
    maps = _cell_maps(_get(st, "Boundaries", path), seg.shape, path)
    return seg, (np.stack(maps) if maps else np.zeros((0,) + seg.shape, bool))


def load_sbd_inst(path) -> tuple:
    """``(instance ids (H, W) int32, instance boundaries (N, H, W) bool, categories (N,) int)`` from
    ``inst/<id>.mat``."""
    from ..io.mat import to_dense
    st = _struct(path, "GTinst")
    seg = to_dense(_get(st, "Segmentation", path))
    while seg.dtype == object:
        seg = to_dense(seg.flat[0])
    seg = seg.astype(np.int32)
    maps = _cell_maps(_get(st, "Boundaries", path), seg.shape, path)
    cats = to_dense(_get(st, "Categories", path))
    while cats.dtype == object and cats.size:
        cats = to_dense(cats.flat[0])
    return seg, (np.stack(maps) if maps else np.zeros((0,) + seg.shape, bool)), cats.astype(np.int64).ravel()


class SemanticLabelPredictions(BoundaryPredictions):
    """Label PNGs ``<id>.png`` with train ids (255 = void) for the semantic task."""

    def load(self, sample: Sample):
        from ..io.labels import read_label
        f = self.index.get(str(sample.sample_id))
        if f is None:
            raise NotFoundError(f"expected a prediction for sample {sample.sample_id} (<id>.png), found none",
                                path=self.path)
        a = np.asarray(read_label(f))
        if a.shape != tuple(sample.target.shape):
            raise BadInputError(f"sample {sample.sample_id}: expected a label map of size {sample.target.shape}, "
                                f"found {a.shape}", path=f)
        return SemanticPrediction(a)


class CategoryBoundaryPredictions(PredictionSource):
    """Per-category soft boundary maps in the CASENet / SEAL layout: ``PRED/class_001/<id>.png`` ...
    ``PRED/class_NNN/<id>.png`` (or ``.mat`` / ``.tif``, read as for ``bsds500``) → a
    :class:`~segbench.types.MultiLabelPrediction` ``(C, H, W)`` in 0..1."""

    def __init__(self, path, num_classes: int):
        self.path = str(path)
        self.num_classes = int(num_classes)
        p = Path(path)
        if not p.is_dir():
            raise NotFoundError(f"expected a folder with class_001/ ... class_{self.num_classes:03d}/ sub-folders of "
                                "boundary maps, found nothing", path=p)
        self.folders = [p / f"class_{k:03d}" for k in range(1, self.num_classes + 1)]
        missing = [f.name for f in self.folders if not f.is_dir()]
        if missing:
            raise NotFoundError(f"expected {self.num_classes} category folders class_001 ... "
                                f"class_{self.num_classes:03d}, found {len(missing)} missing (first: "
                                f"{', '.join(missing[:3])})", path=p)
        self.sources = [BoundaryPredictions(f) for f in self.folders]

    def available(self) -> set:
        sets = [s.available() for s in self.sources]
        return set.intersection(*sets) if sets else set()

    def files(self) -> list:
        return [f for s in self.sources for f in s.files()]

    def load(self, sample: Sample):
        from ..types import BoundaryPrediction
        shape = sample.target.shape
        maps = np.zeros((self.num_classes,) + tuple(shape), np.float64)
        for k, src in enumerate(self.sources):
            f = src.index.get(str(sample.sample_id))
            if f is None:
                raise NotFoundError(f"expected {self.folders[k].name}/{sample.sample_id}.png (one map per "
                                    "category), found none", path=self.folders[k])
            pr = read_boundary_prediction(f, shape, None, sample.sample_id)
            if not isinstance(pr, BoundaryPrediction):
                raise BadInputError("expected a soft boundary map, found a segmentation hierarchy", path=f)
            maps[k] = pr.prob
        return MultiLabelPrediction(maps)


class SBD(DatasetAdapter):
    """SBD adapter (see the module docstring)."""

    #: Options this adapter reads (``--option KEY=VALUE``; others are reported).
    option_names: ClassVar[tuple] = ("boundary_mode", "gt", "images", "max_dist", "nthresh", "occurrence", "task",
                                     "thin")
    spec: ClassVar[DatasetSpec] = DatasetSpec(
        name="sbd", version="2011", task="boundary", splits={"train": 8498, "val": 2857}, default_split="val",
        default_metrics=("bsds_boundary",),
        license="For research purposes (images from PASCAL VOC 2011: Flickr terms of use)",
        citation="B. Hariharan, P. Arbelaez, L. Bourdev, S. Maji, J. Malik. Semantic Contours from Inverse "
                 "Detectors. ICCV 2011.",
        homepage="http://home.bharathh.info/pubs/codes/SBD/download.html", obtain="url",
        files=(ManifestFile("benchmark.tgz",
                            url="http://www.eecs.berkeley.edu/Research/Projects/CS/vision/grouping/semantic_contours/benchmark.tgz",
                            extract=True),),
        size="1.4 GB")

    #: SBD's benchmark tolerance (fraction of the diagonal)
    max_dist: ClassVar[float] = 0.02

    def __init__(self, root, split=None, **options):
        super().__init__(root, split, **options)
        self.task = options.get("task") or "boundary"
        if self.task not in ("boundary", "semantic", "category"):
            raise UsageError(f"sbd: --task must be 'boundary', 'category' or 'semantic', found {self.task!r}")
        self.gt_kind = options.get("gt") or "cls"
        if self.gt_kind not in ("cls", "inst"):
            raise UsageError(f"sbd: gt must be 'cls' or 'inst', found {self.gt_kind!r}")

    def label_space(self):
        if self.task == "semantic":
            return LabelSpace([ClassSpec(n, i, i, is_thing=i > 0, color=_voc_color(i))
                               for i, n in enumerate(VOC_CLASSES)], name="voc-21")
        if self.task == "category":
            return LabelSpace([ClassSpec(n, i, i - 1, is_thing=True, color=_voc_color(i))
                               for i, n in enumerate(VOC_CLASSES) if i > 0], name="sbd-20")
        return None

    def default_metrics(self) -> tuple:
        if self.task == "semantic":
            return ("miou",)
        if self.task == "category":
            return ("category_boundary",)
        return self.spec.default_metrics

    def metric_options(self, metric_name: str) -> dict:
        if metric_name == "category_boundary":
            opts = boundary_metric_options(self.options, "bsds_boundary", max_dist=self.max_dist)
            if self.options.get("images"):
                opts["images"] = str(self.options["images"])
            return opts
        return boundary_metric_options(self.options, metric_name, max_dist=self.max_dist)

    def _dataset_dir(self) -> Path:
        root = self.require_root()
        for cand in (root, root / "dataset", root / "benchmark_RELEASE" / "dataset"):
            if (cand / "cls").is_dir():
                return cand
        raise NotFoundError("expected SBD's cls/ folder under the root (benchmark_RELEASE/dataset), found none",
                            path=root)

    def sample_ids(self) -> list[str]:
        d = self._dataset_dir()
        lst = d / f"{self.split}.txt"
        if not lst.is_file():
            raise NotFoundError(f"expected the split list {self.split}.txt, found none (splits: train, val)",
                                path=lst)
        ids = [ln.strip() for ln in lst.read_text().splitlines() if ln.strip()]
        return ids

    def load(self, sample_id: str) -> Sample:
        d = self._dataset_dir()
        img = d / "img" / f"{sample_id}.jpg"
        img = str(img) if img.is_file() else None
        f = d / "cls" / f"{sample_id}.mat"
        if not f.is_file():
            raise NotFoundError(f"expected cls/{sample_id}.mat, found nothing", path=f)
        seg, maps = load_sbd_cls(f)
        if self.task == "semantic":
            bad = np.unique(seg[(seg > 20) & (seg != 255)])
            if bad.size:
                raise BadInputError(f"expected class ids 0..20 (255 = void), found {bad[:5].tolist()}", path=f)
            return Sample(str(sample_id), img, SemanticMask(seg), {"gt_path": str(f)})
        if self.gt_kind == "inst":
            fi = d / "inst" / f"{sample_id}.mat"
            _, imaps, cats = load_sbd_inst(fi)
            f = fi
            if self.task == "category":
                maps = np.zeros((20,) + seg.shape, bool)
                for m, c in zip(imaps, np.asarray(cats).ravel().tolist()):
                    if not 1 <= int(c) <= 20:
                        raise BadInputError(f"expected instance categories 1..20, found {c}", path=fi)
                    maps[int(c) - 1] |= m
            else:
                maps = imaps
        if self.task == "category":
            if maps.shape[0] != 20:
                raise BadInputError(f"expected 20 class boundary maps in GTcls.Boundaries, found {maps.shape[0]}",
                                    path=f)
            return Sample(str(sample_id), img, MultiLabelMasks(maps.astype(bool)), {"gt_path": str(f)})
        b = maps.any(axis=0) if maps.shape[0] else np.zeros(seg.shape, bool)
        return Sample(str(sample_id), img, BoundaryMaps(b[None]), {"gt_path": str(f)})

    def predictions(self, path, **options) -> PredictionSource:
        if self.task == "semantic":
            return SemanticLabelPredictions(path)
        if self.task == "category":
            return CategoryBoundaryPredictions(path, 20)
        return BoundaryPredictions(path)

    def write_prediction(self, sample, prediction, out_dir) -> Path:
        return write_boundary_png(sample, prediction, out_dir)

    @classmethod
    def make_fake(cls, root, num_samples: int = 4, seed: int = 0, size=(48, 64), **options) -> Path:
        """Write a fake SBD layout (cls/ and inst/ .mat with sparse per-class / per-instance boundary cells,
        img/*.jpg, train.txt, val.txt)."""
        import io
        import scipy.io
        import scipy.sparse
        from PIL import Image
        from ..io.atomic import atomic_write_bytes
        from ..metrics.functional.regions import seg_to_boundaries
        rng = np.random.default_rng(seed)
        root = Path(root) / "benchmark_RELEASE" / "dataset"
        for d in ("cls", "inst", "img"):
            (root / d).mkdir(parents=True, exist_ok=True)
        h, w = size
        ids = []
        for i in range(num_samples):
            sid = f"2008_{i:06d}"
            ids.append(sid)
            inst = np.zeros((h, w), np.int32)
            cats = []
            for k in range(int(rng.integers(1, 4))):
                y0, x0 = int(rng.integers(0, h - 8)), int(rng.integers(0, w - 8))
                inst[y0:y0 + int(rng.integers(6, h // 2)), x0:x0 + int(rng.integers(6, w // 2))] = k + 1
                cats.append(int(rng.integers(1, 21)))
            present = [k + 1 for k in range(len(cats)) if (inst == k + 1).any()]
            inst_ids = np.zeros_like(inst)
            for n, k in enumerate(present, 1):
                inst_ids[inst == k] = n
            cats = [cats[k - 1] for k in present]
            seg = np.zeros((h, w), np.uint8)
            for n, c in enumerate(cats, 1):
                seg[inst_ids == n] = c
            cb = np.empty((20, 1), object)
            for c in range(1, 21):
                cb[c - 1, 0] = scipy.sparse.csc_matrix(seg_to_boundaries(seg == c) & (seg == c)
                                                       if (seg == c).any() else np.zeros((h, w), bool))
            ib = np.empty((len(cats), 1), object)
            for n in range(1, len(cats) + 1):
                ib[n - 1, 0] = scipy.sparse.csc_matrix(seg_to_boundaries(inst_ids == n) & (inst_ids == n))
            for name, data in (("cls", {"GTcls": {"Segmentation": seg, "Boundaries": cb,
                                                  "CategoriesPresent": np.unique(seg[seg > 0]).astype(np.uint8)}}),
                               ("inst", {"GTinst": {"Segmentation": inst_ids.astype(np.uint8), "Boundaries": ib,
                                                    "Categories": np.array(cats, np.uint8).reshape(-1, 1)}})):
                buf = io.BytesIO()
                scipy.io.savemat(buf, data, do_compression=True)
                atomic_write_bytes(root / name / f"{sid}.mat", buf.getvalue())
            Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(root / "img" / f"{sid}.jpg")
        (root / "val.txt").write_text("\n".join(ids) + "\n")
        (root / "train.txt").write_text("")
        return root

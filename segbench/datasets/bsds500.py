"""BSDS500 (Berkeley Segmentation Data Set and Benchmarks 500), registry name ``bsds500``.

Native layout (the ``BSR/BSDS500`` folder of ``BSR_bsds500.tgz``)::

    ROOT/data/images/{train,val,test}/<id>.jpg
    ROOT/data/groundTruth/{train,val,test}/<id>.mat   1xK cell `groundTruth`, each a struct with
                                                       Segmentation (uint16 labels 1..n) and
                                                       Boundaries (0/1), K = 4..9 annotators

``--gt`` may be ``BSR/BSDS500``, ``BSR`` or the ``data`` folder. Samples carry a
:class:`~segbench.types.BoundaryMaps` target (all annotators' boundaries and segmentations).

Predictions (``PREDDIR``) — one file per image id, as the Berkeley bench reads them:

- ``<id>.png``: soft boundary map, 8-bit (``/255``) or 16-bit (``/65535``) grayscale, or float TIFF
  (``<id>.tif``) in 0..1;
- ``<id>.mat``: a soft map variable (``pb``, ``E``, ... see :func:`segbench.io.mat.load_soft_map_mat`),
  an ``ucm2`` (doubled grid; the boundary map is ``ucm2(3:2:end, 3:2:end)`` and the region benchmark
  cuts it at the thresholds) or ``segs`` (a cell of label maps: the region benchmark's hierarchy; the
  boundary benchmark then uses their boundaries with thresholds ``1..n``).

Metrics: ``bsds_boundary`` (default; ODS, OIS, AP, R50), ``bsds_regions`` (covering, PRI, VoI).

Examples
--------
>>> import tempfile
>>> root = BSDS500.make_fake(tempfile.mkdtemp(), num_samples=2, size=(40, 60))
>>> ds = BSDS500(root, split="test")
>>> ds.sample_ids()
['fake000', 'fake001']
>>> s = ds.load("fake000"); s.target.boundaries.shape[1:]
(40, 60)
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from ..errors import BadInputError, NotFoundError
from ..types import BoundaryMaps, BoundaryPrediction, HierarchyPrediction, Sample
from .base import DatasetAdapter, DatasetSpec, ManifestFile, PredictionSource

__all__ = ["BSDS500", "BoundaryPredictions", "read_boundary_prediction", "write_bsds_groundtruth",
           "write_boundary_png", "boundary_metric_options"]

_PRED_EXT = (".png", ".mat", ".tif", ".tiff", ".pgm", ".bmp")


def write_bsds_groundtruth(path, segmentations, boundaries=None, as_cell: bool = True) -> None:
    """Write a BSDS-style ``groundTruth`` .mat (1xK cell of structs, or a struct when ``as_cell`` is
    False and K == 1). Boundaries default to :func:`segbench.metrics.functional.regions.seg_to_boundaries`."""
    import io
    import scipy.io
    from ..io.atomic import atomic_write_bytes
    from ..metrics.functional.regions import seg_to_boundaries
    segs = [np.asarray(s) for s in segmentations]
    bnds = [seg_to_boundaries(s) for s in segs] if boundaries is None else [np.asarray(b) for b in boundaries]
    if as_cell:
        cell = np.empty((1, len(segs)), object)
        for k, (s, b) in enumerate(zip(segs, bnds)):
            cell[0, k] = {"Segmentation": s.astype(np.uint16), "Boundaries": b.astype(np.uint8)}
        data = {"groundTruth": cell}
    else:
        data = {"groundTruth": {"Segmentation": segs[0].astype(np.uint8), "Boundaries": bnds[0].astype(np.uint8)}}
    buf = io.BytesIO()
    scipy.io.savemat(buf, data, do_compression=True)
    atomic_write_bytes(path, buf.getvalue())


def boundary_metric_options(options: dict, metric_name: str, max_dist: float | None = None) -> dict:
    """Options for ``bsds_boundary`` from adapter options (``--option KEY=VALUE`` on the CLI):
    ``boundary_mode`` (exact | fast), ``nthresh``, ``max_dist``, ``thin`` (true | false), ``occurrence``
    (first | last). ``max_dist`` defaults to the dataset's tolerance when given."""
    if metric_name != "bsds_boundary":
        return {}
    out: dict = {}
    if max_dist is not None:
        out["max_dist"] = float(max_dist)
    try:
        if options.get("boundary_mode") is not None:
            out["mode"] = str(options["boundary_mode"])
            if out["mode"] not in ("exact", "fast"):
                raise ValueError
        if options.get("nthresh") is not None:
            out["nthresh"] = int(options["nthresh"])
            if out["nthresh"] < 1:
                raise ValueError
        if options.get("max_dist") is not None:
            out["max_dist"] = float(options["max_dist"])
        if options.get("thin") is not None:
            out["thin"] = str(options["thin"]).lower() not in ("0", "false", "no")
        if options.get("occurrence") is not None:
            out["occurrence"] = str(options["occurrence"])
            if out["occurrence"] not in ("first", "last"):
                raise ValueError
    except (TypeError, ValueError):
        from ..errors import UsageError
        raise UsageError("bsds_boundary options: expected boundary_mode=exact|fast, nthresh=N>=1, max_dist=FLOAT, "
                         f"thin=true|false, occurrence=first|last; found {dict(options)}") from None
    return out


def write_boundary_png(sample, prediction, out_dir) -> Path:
    """Write a soft boundary map as ``OUT/<id>.png``, 16-bit, ``round(p * 65535)`` (atomic); label maps
    (:class:`~segbench.types.SemanticPrediction`) as 8-bit PNGs of their values."""
    from ..io.labels import write_label
    from ..types import SemanticPrediction, SoftPrediction
    out = Path(out_dir) / f"{sample.sample_id}.png"
    if isinstance(prediction, SemanticPrediction):
        m = np.asarray(prediction.mask)
        write_label(out, m.astype(np.uint8) if int(m.max(initial=0)) <= 255 else m.astype(np.uint16))
        return out
    if not isinstance(prediction, (BoundaryPrediction, SoftPrediction)):
        raise BadInputError(f"expected a soft boundary map to write, found {type(prediction).__name__}")
    p = np.clip(np.asarray(prediction.prob, np.float64), 0.0, 1.0)
    write_label(out, np.rint(p * 65535).astype(np.uint16))
    return out


def _read_soft_image(p):
    """(values, full range) of a soft-map image; RGB(A) images whose colour channels are equal (gray
    saved as colour, as some tools do) are accepted as their first channel."""
    from ..io.labels import read_prob
    try:
        return read_prob(p)
    except BadInputError as err:
        from PIL import Image
        try:
            with Image.open(p) as im:
                im.load()
                a = np.asarray(im) if im.mode in ("RGB", "RGBA") else None
        except OSError:
            a = None
        if a is not None and a.ndim == 3 and (a[..., 0] == a[..., 1]).all() and (a[..., 0] == a[..., 2]).all():
            return a[..., 0], 255.0
        raise err from None


def read_boundary_prediction(path, shape, thresholds=None, sample_id: str = ""):
    """Read one prediction file into a :class:`BoundaryPrediction` (soft map in 0..1) or a
    :class:`HierarchyPrediction` (``segs`` / ``ucm2`` .mat files).

    Raises :class:`BadInputError` (naming the file) for a size that differs from ``shape``, values
    outside the file type's range or NaN.
    """
    p = Path(path)
    if p.suffix.lower() == ".mat":
        from ..io.mat import load_mat, load_segmentations_mat, load_soft_map_mat
        m = load_mat(p)
        if "segs" in m:
            segs = load_segmentations_mat(p)
            for s in segs:
                if s.shape != tuple(shape):
                    raise BadInputError(f"sample {sample_id}: expected segmentations of size {tuple(shape)} "
                                        f"(the ground truth's), found {s.shape}", path=p)
            return HierarchyPrediction(segs)
        if "ucm2" in m:
            from ..io.mat import to_dense
            from ..metrics.functional.boundary import bsds_thresholds
            from ..metrics.functional.regions import ucm_to_segs
            u = to_dense(m["ucm2"]).astype(np.float64)
            h, w = shape
            if u.shape != (2 * h + 1, 2 * w + 1):
                raise BadInputError(f"sample {sample_id}: expected ucm2 of size {(2 * h + 1, 2 * w + 1)} "
                                    f"(2H+1, 2W+1), found {u.shape}", path=p)
            thr = bsds_thresholds(99) if thresholds is None else thresholds
            return HierarchyPrediction(ucm_to_segs(u, thr), prob=u[2::2, 2::2])
        a = load_soft_map_mat(p)
        rng = 1.0
    else:
        a, rng = _read_soft_image(p)
    a = np.asarray(a)
    if a.shape != tuple(shape):
        raise BadInputError(f"sample {sample_id}: expected a boundary map of size {tuple(shape)} (the ground "
                            f"truth's, H x W), found {a.shape}; predict at full resolution", path=p)
    a = a.astype(np.float64) / rng
    if a.size and not np.all(np.isfinite(a)):
        raise BadInputError(f"sample {sample_id}: expected finite probabilities, found NaN or inf", path=p)
    if a.size and (a.min() < 0 or a.max() > 1):
        raise BadInputError(f"sample {sample_id}: expected probabilities in 0..1, found values in "
                            f"[{a.min():g}, {a.max():g}]; store 8-bit (0..255), 16-bit (0..65535) or float 0..1",
                            path=p)
    return BoundaryPrediction(a)


class BoundaryPredictions(PredictionSource):
    """Soft boundary maps / hierarchies from a folder: ``<id>.png`` (8/16-bit), ``<id>.mat``, ``<id>.tif``.

    When several files share an id the first of ``.png, .mat, .tif, .tiff, .pgm, .bmp`` is used.
    """

    def __init__(self, path, thresholds=None):
        self.path = str(path)
        p = Path(path)
        if not p.exists():
            raise NotFoundError("expected a folder of boundary maps (<id>.png or <id>.mat), found nothing", path=p)
        if not p.is_dir():
            raise BadInputError("expected a folder of boundary maps (<id>.png or <id>.mat), found a file", path=p)
        self.thresholds = thresholds
        index: dict = {}
        for f in sorted(p.iterdir()):
            ext = f.suffix.lower()
            if f.is_file() and ext in _PRED_EXT and not f.name.startswith("."):
                cur = index.get(f.stem)
                if cur is None or _PRED_EXT.index(ext) < _PRED_EXT.index(Path(cur).suffix.lower()):
                    index[f.stem] = str(f)
        self.index = index

    def available(self) -> set:
        return set(self.index)

    def files(self) -> list:
        return sorted(self.index.values())

    def load(self, sample: Sample):
        f = self.index.get(str(sample.sample_id))
        if f is None:
            raise NotFoundError(f"expected a prediction for sample {sample.sample_id} (<id>.png or <id>.mat), "
                                "found none", path=self.path)
        return read_boundary_prediction(f, sample.target.shape, self.thresholds, sample.sample_id)


class BSDS500(DatasetAdapter):
    """BSDS500 boundary / region benchmark adapter (see the module docstring)."""

    #: Options this adapter reads (``--option KEY=VALUE``; others are reported).
    option_names: ClassVar[tuple] = ("boundary_mode", "max_dist", "nthresh", "occurrence", "region_thresholds", "thin")
    spec: ClassVar[DatasetSpec] = DatasetSpec(
        name="bsds500", version="2011", task="boundary",
        splits={"train": 200, "val": 100, "test": 200}, default_split="test",
        default_metrics=("bsds_boundary",),
        license="Free for non-commercial research and educational purposes (Berkeley)",
        citation="P. Arbelaez, M. Maire, C. Fowlkes, J. Malik. Contour Detection and Hierarchical Image "
                 "Segmentation. IEEE TPAMI 33(5):898-916, 2011.",
        homepage="https://www2.eecs.berkeley.edu/Research/Projects/CS/vision/grouping/resources.html",
        obtain="url",
        files=(ManifestFile("BSR_bsds500.tgz",
                            url="http://www.eecs.berkeley.edu/Research/Projects/CS/vision/grouping/BSR/BSR_bsds500.tgz",
                            extract=True),),
        size="70 MB")

    gt_dirname: ClassVar[str] = "groundTruth"
    image_dirname: ClassVar[str] = "images"

    def label_space(self):
        return None

    # ---- layout
    def _data_dir(self) -> Path:
        root = self.require_root()
        for cand in (root / "data", root, root / "BSDS500" / "data", root / "BSR" / "BSDS500" / "data"):
            if (cand / self.gt_dirname).is_dir():
                return cand
        raise NotFoundError(f"expected {self.spec.name} ground truth at data/{self.gt_dirname}/<split>/*.mat "
                            f"under the root (the BSR/BSDS500 folder), found none", path=root)

    def _gt_dir(self) -> Path:
        d = self._data_dir() / self.gt_dirname / self.split
        if not d.is_dir():
            have = sorted(x.name for x in (self._data_dir() / self.gt_dirname).iterdir() if x.is_dir())
            raise NotFoundError(f"expected split {self.split!r} at {d}, found splits: {', '.join(have) or 'none'}; "
                                "pass --split", path=d)
        return d

    def sample_ids(self) -> list[str]:
        d = self._gt_dir()
        return sorted(f.stem for f in d.glob("*.mat"))

    def _image_path(self, sid: str):
        d = self._data_dir() / self.image_dirname / self.split
        for ext in (".jpg", ".png", ".jpeg"):
            if (d / (sid + ext)).is_file():
                return str(d / (sid + ext))
        return None

    def load(self, sample_id: str) -> Sample:
        from ..io.mat import load_bsds_groundtruth
        f = self._gt_dir() / f"{sample_id}.mat"
        b, s = load_bsds_groundtruth(f)
        return Sample(str(sample_id), self._image_path(sample_id), BoundaryMaps(b, s),
                      meta={"gt_path": str(f), "annotators": int(b.shape[0])})

    def predictions(self, path, **options) -> PredictionSource:
        return BoundaryPredictions(path, thresholds=options.get("region_thresholds"))

    def metric_options(self, metric_name: str) -> dict:
        """``--option boundary_mode=fast``, ``nthresh=N``, ``max_dist=F`` ... reach ``bsds_boundary``."""
        return boundary_metric_options(self.options, metric_name)

    def write_prediction(self, sample, prediction, out_dir) -> Path:
        """``segbench predict`` hook: 16-bit PNG soft maps the bench reads back (``/65535``)."""
        return write_boundary_png(sample, prediction, out_dir)

    @classmethod
    def make_fake(cls, root, num_samples: int = 4, seed: int = 0, size=(64, 96), annotators: int = 3,
                  splits=("test",), **options) -> Path:
        """Write a fake BSR/BSDS500 layout: Voronoi-region segmentations per annotator (jittered), their
        boundaries, and random JPEG images."""
        from PIL import Image
        rng = np.random.default_rng(seed)
        root = Path(root) / "BSDS500"
        h, w = size
        for split in splits:
            gdir = root / "data" / cls.gt_dirname / split
            idir = root / "data" / cls.image_dirname / split
            gdir.mkdir(parents=True, exist_ok=True)
            idir.mkdir(parents=True, exist_ok=True)
            for i in range(num_samples):
                sid = f"fake{i:03d}"
                segs = [_voronoi(h, w, int(rng.integers(3, 8)), rng) for _ in range(annotators)]
                write_bsds_groundtruth(gdir / f"{sid}.mat", segs)
                Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(idir / f"{sid}.jpg")
        return root


def _voronoi(h: int, w: int, n: int, rng) -> np.ndarray:
    pts = rng.random((n, 2)) * [h, w]
    yy, xx = np.mgrid[0:h, 0:w]
    d = (yy[..., None] - pts[:, 0]) ** 2 + (xx[..., None] - pts[:, 1]) ** 2
    return (np.argmin(d, axis=-1) + 1).astype(np.uint16)

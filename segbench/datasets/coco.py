"""COCO instances: ``coco`` (official layout) and ``coco-style`` (any COCO instances JSON).

Layouts
-------
``coco`` (``--gt`` = the COCO root, as unpacked from ``annotations_trainval2017.zip`` + ``val2017.zip``)::

    ROOT/annotations/instances_val2017.json     images, annotations (RLE / polygons), categories
    ROOT/val2017/*.jpg                          images (optional: metrics never read them)

``coco-style`` (``--gt`` = the instances JSON itself; images are not needed to score)::

    segbench eval RESULTS.json --dataset coco-style --gt INSTANCES.json [--iou-type bbox]

Predictions (both)
------------------
* a COCO **results JSON**: a list of ``{image_id, category_id, score, segmentation and/or bbox}``;
  segmentations as compressed RLE (``counts`` string), uncompressed RLE (``counts`` list) or polygons.
  Normalised like ``COCO.loadRes`` (see :mod:`segbench.io.coco`).
* a **folder of per-image instance PNGs** in the Cityscapes result format: ``<stem>.txt`` per image
  (``stem`` = the image's ``file_name`` without extension, or its id) with one line per instance
  ``relative/mask.png category_id score``; a mask PNG is non-zero on the instance and has the image's
  size. Masks are RLE-encoded with :func:`pycocotools.mask.encode`.

Samples are the GT's images sorted by id (``sample_id = str(image_id)``); the target is
:class:`~segbench.types.InstanceMasks` with the image's annotations. Metric: ``coco_ap``
(``--iou-type segm|bbox``). An LVIS-style GT (images with ``neg_category_ids`` /
``not_exhaustive_category_ids``, categories with ``frequency``) is evaluated with ``lvis_ap`` (federated,
300 detections per image) by default; ``--metrics coco_ap`` forces COCO rules.

Examples
--------
>>> import tempfile
>>> gt = CocoStyle.make_fake(tempfile.mkdtemp(), num_samples=3, seed=0)
>>> ds = CocoStyle(gt)
>>> len(ds.sample_ids()), ds.label_space().num_classes
(3, 8)
>>> preds = ds.predictions(gt.parent / "results.json")
>>> len(preds.load(ds.load(ds.sample_ids()[0])).detections) > 0
True
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from ..errors import BadInputError, NotFoundError, UsageError
from ..io.atomic import atomic_write_json
from ..io.coco import CocoGT, CocoResults, load_results
from ..types import InstanceMasks, InstancePrediction, Sample
from .base import DatasetAdapter, DatasetSpec, ManifestFile, PredictionSource

__all__ = ["Coco", "CocoStyle", "CocoResultsPredictions", "InstanceTxtPredictions", "synthetic_coco",
           "COCO_CATEGORY_IDS", "read_instance_txt"]

COCO_CATEGORY_IDS = [i for i in range(1, 91) if i not in (12, 26, 29, 30, 45, 66, 68, 69, 71, 83)]

_GT_CACHE: dict = {}
_RES_CACHE: dict = {}


def _file_key(path) -> tuple:
    p = Path(path)
    st = p.stat()
    return (str(p.resolve()), st.st_size, st.st_mtime_ns)


def cached_gt(path) -> CocoGT:
    """Parse an instances JSON once per process (keyed by path, size and mtime)."""
    p = Path(path)
    if not p.exists():
        raise NotFoundError("expected a COCO instances JSON, found no such file", path=p)
    key = _file_key(p)
    hit = _GT_CACHE.get(key)
    if hit is None:
        if len(_GT_CACHE) > 4:
            _GT_CACHE.clear()
        hit = _GT_CACHE[key] = CocoGT(p)
    return hit


def cached_results(path, gt: CocoGT, iou_type: str, unknown: str = "error",
                   lvis_max_dets: int | None = None) -> CocoResults:
    p = Path(path)
    key = _file_key(p) + (gt.path, iou_type, unknown, lvis_max_dets)
    hit = _RES_CACHE.get(key)
    if hit is None:
        if len(_RES_CACHE) > 4:
            _RES_CACHE.clear()
        hit = _RES_CACHE[key] = load_results(p, gt, iou_type, unknown=unknown, lvis_max_dets=lvis_max_dets)
    return hit


# --------------------------------------------------------------------------- prediction sources
class CocoResultsPredictions(PredictionSource):
    """Detections from a COCO results JSON, validated against the GT when built."""

    def __init__(self, path, gt_path, iou_type: str = "segm", unknown: str = "error",
                 lvis_max_dets: int | None = None):
        self.path = str(path)
        self.gt_path = str(gt_path)
        self.iou_type = iou_type
        self.unknown = unknown
        self.lvis_max_dets = lvis_max_dets  # LVIS: the area rule is read after the per-image cut
        self._res()  # validate now: one-line errors before any work

    def _res(self) -> CocoResults:
        r = self.__dict__.get("_res_obj")
        if r is None:
            r = self._res_obj = cached_results(self.path, cached_gt(self.gt_path), self.iou_type, self.unknown,
                                               self.lvis_max_dets)
        return r

    def __getstate__(self):
        d = dict(self.__dict__)
        d.pop("_res_obj", None)  # workers re-read (once per process) instead of receiving it by pickle
        return d

    def load(self, sample: Sample) -> InstancePrediction:
        iid = sample.target.image_id
        return InstancePrediction(list(self._res().by_image.get(iid, [])), iid)

    def available(self):
        return None  # an image without detections is legitimate

    def files(self) -> list:
        return [self.path]

    def user_description(self) -> dict:
        return {"name": Path(self.path).name, "source": "user predictions", "format": "coco-results-json",
                "num_detections": self._res().count}


def read_instance_txt(path) -> list:
    """Read a Cityscapes-style instance result file: lines ``mask.png class_id score``.

    Returns a list of ``(mask_path, class_id, score)`` with mask paths resolved relative to the txt's
    folder. Raises :class:`BadInputError` naming the file and line on a malformed line.
    """
    out = []
    base = Path(path).parent
    with open(path, encoding="utf-8") as f:
        for ln, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 3:
                raise BadInputError(f"line {ln}: expected 'mask.png class_id score', found {line.strip()!r}",
                                    path=path)
            try:
                cid = int(parts[1])
                score = float(parts[2])
            except ValueError:
                raise BadInputError(f"line {ln}: expected an integer class id and a numeric score, found "
                                    f"{line.strip()!r}", path=path) from None
            mp = Path(parts[0])
            out.append((mp if mp.is_absolute() else base / mp, cid, score))
    return out


def read_mask_png(path, shape, where: str) -> np.ndarray:
    """Binary mask (non-zero = instance) of a PNG, checked against ``shape``."""
    from PIL import Image
    p = Path(path)
    if not p.exists():
        raise NotFoundError(f"{where}: mask PNG not found", path=p)
    with Image.open(p) as im:
        a = np.asarray(im)
    if a.ndim == 3:
        a = a[..., :3].any(axis=-1) if a.shape[-1] >= 3 else a[..., 0]
    if tuple(a.shape[:2]) != tuple(shape):
        raise BadInputError(f"{where}: mask size {a.shape[0]}x{a.shape[1]} differs from the image size "
                            f"{shape[0]}x{shape[1]}", path=p)
    return a != 0


class InstanceTxtPredictions(PredictionSource):
    """Per-image instance PNGs listed in ``<stem>.txt`` files (Cityscapes result format)."""

    def __init__(self, path, stems: dict):
        self.path = str(path)
        p = Path(path)
        if not p.is_dir():
            raise NotFoundError("expected a folder of <image>.txt instance lists, found no such folder", path=p)
        self._txt = {}
        for f in sorted(p.rglob("*.txt")):
            self._txt.setdefault(f.stem, str(f))
        self.stems = stems  # sample id -> candidate stems

    def _find(self, sid):
        for s in self.stems.get(sid, (sid,)):
            if s in self._txt:
                return self._txt[s]
        return None

    def available(self) -> set:
        return {sid for sid in self.stems if self._find(sid) is not None}

    def files(self) -> list:
        return sorted(self._txt.values())

    def load(self, sample: Sample) -> InstancePrediction:
        from pycocotools import mask as mask_utils
        t = sample.target
        txt = self._find(sample.sample_id)
        dets = []
        if txt is not None:
            for j, (mp, cid, score) in enumerate(read_instance_txt(txt)):
                m = read_mask_png(mp, (t.height, t.width), f"{Path(txt).name} line {j + 1}")
                rle = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
                dets.append({"image_id": t.image_id, "category_id": cid, "score": score, "segmentation": rle,
                             "iscrowd": 0})
        return InstancePrediction(dets, t.image_id)


# --------------------------------------------------------------------------- adapters
class CocoStyle(DatasetAdapter):
    """Users' own COCO-format instance data: ``--gt`` is the instances JSON (see module docstring).

    Options: ``iou_type`` (``segm`` | ``bbox``), ``max_dets`` (``"1,10,100"``), ``images`` (image
    folder, optional), ``unknown`` (``error`` | ``ignore``: detections for images/categories not in
    the GT).
    """

    #: Options this adapter reads (``--option KEY=VALUE``; others are reported).
    option_names: ClassVar[tuple] = ("images", "iou_type", "max_dets", "unknown")
    spec: ClassVar[DatasetSpec] = DatasetSpec(
        name="coco-style", version="1", task="instance", splits={}, default_split="val",
        default_metrics=("coco_ap",), license="the user's", homepage="https://cocodataset.org/#format-data",
        citation="Lin et al., Microsoft COCO: Common Objects in Context, ECCV 2014", obtain="manual")

    def __init__(self, root, split=None, **options):
        super().__init__(root, split, **options)
        self.iou_type = options.get("iou_type") or "segm"
        if self.iou_type not in ("segm", "bbox"):
            raise UsageError(f"--iou-type: expected segm or bbox, found {self.iou_type!r}")
        self.max_dets = options.get("max_dets")
        self.unknown = options.get("unknown", "error")
        self.images_dir = options.get("images")

    # ---- GT
    def gt_path(self) -> Path:
        if self.root is None:
            raise UsageError("coco-style needs --gt INSTANCES.json (the COCO instances file)")
        p = self.root
        if not p.exists():
            raise NotFoundError("expected a COCO instances JSON (--gt), found no such file", path=p)
        if p.is_dir():
            cands = sorted(p.glob("*.json"))
            if len(cands) != 1:
                raise UsageError(f"coco-style: --gt must be the instances JSON file (found {len(cands)} .json files "
                                 f"in the folder {p})")
            p = cands[0]
        return p

    def gt(self) -> CocoGT:
        g = self.__dict__.get("_gt_obj")
        if g is None:
            g = self._gt_obj = cached_gt(self.gt_path())
        return g

    def image_dir(self) -> Path | None:
        return Path(self.images_dir) if self.images_dir else None

    def label_space(self):
        return self.gt().label_space(name=self.spec.name)

    def _id_map(self) -> dict:
        m = getattr(self, "_ids", None)
        if m is None:
            m = self._ids = {str(i): i for i in self.gt().image_ids}
        return m

    def __getstate__(self):
        d = dict(self.__dict__)
        d.pop("_ids", None)
        d.pop("_gt_obj", None)
        return d

    def sample_ids(self) -> list:
        return [str(i) for i in self.gt().image_ids]

    def load(self, sample_id) -> Sample:
        gt = self.gt()
        gt.require("bbox" if self.iou_type == "bbox" else "segmentation", self.iou_type)
        iid = self._id_map().get(str(sample_id))
        if iid is None:
            raise NotFoundError(f"image id {sample_id!r} is not in the COCO instances JSON", path=gt.path)
        im = gt.images[iid]
        d = self.image_dir()
        image = str(d / im["file_name"]) if d is not None and "file_name" in im else None
        target = InstanceMasks(int(im["height"]), int(im["width"]), gt.anns_by_image.get(iid, []), image_id=iid)
        meta = {"image_id": iid, "file_name": im.get("file_name")}
        for key in ("neg_category_ids", "not_exhaustive_category_ids"):  # LVIS federated annotation
            if key in im:
                meta[key] = list(im[key])
        return Sample(str(sample_id), image, target, meta)

    def predictions(self, path, **options) -> PredictionSource:
        if path is None:
            raise UsageError("expected predictions: a COCO results JSON or a folder of <image>.txt instance lists")
        p = Path(path)
        if not p.exists():
            raise NotFoundError("expected predictions (a COCO results JSON or a folder), found no such path", path=p)
        iou_type = options.get("iou_type") or self.iou_type
        if p.is_dir():
            gt = self.gt()
            stems = {str(i): (Path(gt.images[i].get("file_name", str(i))).stem, str(i)) for i in gt.image_ids}
            return InstanceTxtPredictions(p, stems)
        from ..metrics.instance import parse_lvis_max_dets  # the cap lvis_ap applies (metric_options below)
        return CocoResultsPredictions(p, self.gt_path(), iou_type, options.get("unknown", self.unknown),
                                      parse_lvis_max_dets(self.max_dets) if self.is_lvis() else None)

    def is_lvis(self) -> bool:
        """The GT is LVIS-style (images carry ``neg_category_ids``): evaluate with ``lvis_ap``.

        A GT where only some images, or not every category, carry the LVIS fields is refused (it would
        silently switch between COCO and LVIS evaluation, or leave categories out of APr/APc/APf).
        """
        hit = self.__dict__.get("_is_lvis")
        if hit is not None:
            return hit
        gt = self.gt()
        ims = gt.images
        flagged = [i for i, im in ims.items() if "neg_category_ids" in im]
        lvis = bool(ims) and len(flagged) == len(ims)
        if flagged and not lvis:
            miss = next(i for i, im in ims.items() if "neg_category_ids" not in im)
            raise BadInputError(f"expected every image of an LVIS ground truth to list 'neg_category_ids', found "
                                f"{len(flagged)} of {len(ims)} (first without: image {miss!r})", path=gt.path)
        if lvis:
            miss = next((i for i, im in ims.items() if "not_exhaustive_category_ids" not in im), None)
            if miss is not None:
                raise BadInputError(f"image {miss!r}: expected 'not_exhaustive_category_ids' (LVIS), found none",
                                    path=gt.path)
            bad = next((c for c in gt.categories if c.get("frequency") not in ("r", "c", "f")), None)
            if bad is not None:
                raise BadInputError(f"category {bad['id']!r}: expected 'frequency' r, c or f (LVIS), found "
                                    f"{bad.get('frequency')!r}", path=gt.path)
        self._is_lvis = lvis
        return lvis

    def default_metrics(self) -> tuple:
        return ("lvis_ap",) if self.is_lvis() else self.spec.default_metrics

    def metric_options(self, metric_name: str) -> dict:
        if metric_name in ("coco_ap", "coco-ap"):
            opts = {"iou_type": self.iou_type}
            if self.max_dets is not None:
                opts["max_dets"] = self.max_dets
            return opts
        if metric_name in ("lvis_ap", "lvis-ap"):
            opts = {"iou_type": self.iou_type,
                    "frequencies": {str(c["id"]): c["frequency"] for c in self.gt().categories if "frequency" in c}}
            if self.max_dets is not None:
                opts["max_dets"] = self.max_dets
            return opts
        return {}

    @classmethod
    def make_fake(cls, root, num_samples: int = 4, seed: int = 0, **options) -> Path:
        """Write ``root/instances.json`` and a matching ``root/results.json``; return the GT path."""
        root = Path(root)
        root.mkdir(parents=True, exist_ok=True)
        gt, res = synthetic_coco(num_samples, seed=seed, num_categories=options.get("num_categories", 8),
                                 dets_per_image=options.get("dets_per_image", 20),
                                 size=options.get("size", (96, 128)))
        atomic_write_json(root / "instances.json", gt)
        atomic_write_json(root / "results.json", res)
        return root / "instances.json"


class Coco(CocoStyle):
    """COCO 2017 instances in the official layout (``ROOT/annotations/instances_<split>2017.json``)."""

    spec: ClassVar[DatasetSpec] = DatasetSpec(
        name="coco", version="2017", task="instance", splits={"train": 118287, "val": 5000},
        default_split="val", default_metrics=("coco_ap",),
        license="annotations CC BY 4.0; images under their Flickr licences (see cocodataset.org/#termsofuse)",
        citation="Lin et al., Microsoft COCO: Common Objects in Context, ECCV 2014",
        homepage="https://cocodataset.org", obtain="url", size="1 GB (val2017 + annotations)",
        files=(ManifestFile("annotations_trainval2017.zip",
                            "http://images.cocodataset.org/annotations/annotations_trainval2017.zip",
                            size=252907541, extract=True),
               ManifestFile("val2017.zip", "http://images.cocodataset.org/zips/val2017.zip", size=815585330,
                            extract=True)))

    def gt_path(self) -> Path:
        root = self.require_root()
        if root.is_file():
            return root
        p = root / "annotations" / f"instances_{self.split}2017.json"
        if not p.exists():
            raise NotFoundError(f"coco not found at {root} (expected annotations/instances_{self.split}2017.json); "
                                f"run `segbench download coco --root DIR` or pass --gt pointing at the COCO root")
        return p

    def image_dir(self) -> Path | None:
        if self.images_dir:
            return Path(self.images_dir)
        d = self.root / f"{self.split}2017" if self.root is not None and self.root.is_dir() else None
        return d if d is not None and d.is_dir() else None

    @classmethod
    def make_fake(cls, root, num_samples: int = 4, seed: int = 0, **options) -> Path:
        """Write the official layout (annotations JSON + small JPEGs + a results JSON); return the root."""
        from PIL import Image
        root = Path(root)
        split = options.get("split", "val")
        (root / "annotations").mkdir(parents=True, exist_ok=True)
        (root / f"{split}2017").mkdir(parents=True, exist_ok=True)
        gt, res = synthetic_coco(num_samples, seed=seed, num_categories=options.get("num_categories", 8),
                                 dets_per_image=options.get("dets_per_image", 20),
                                 size=options.get("size", (96, 128)))
        rng = np.random.default_rng(seed)
        for im in gt["images"]:
            arr = rng.integers(0, 255, (im["height"], im["width"], 3), dtype=np.uint8)
            Image.fromarray(arr).save(root / f"{split}2017" / im["file_name"], quality=70)
        atomic_write_json(root / "annotations" / f"instances_{split}2017.json", gt)
        atomic_write_json(root / "results.json", res)
        return root


# --------------------------------------------------------------------------- synthetic data
def _ellipse_poly(rng, cx, cy, rx, ry, h, w, nv=12) -> list:
    ang = np.sort(rng.uniform(0, 2 * np.pi, nv))
    rad = 1 + 0.15 * rng.standard_normal(nv)
    x = np.clip(cx + rx * rad * np.cos(ang), 0, w)
    y = np.clip(cy + ry * rad * np.sin(ang), 0, h)
    return np.stack([x, y], 1).ravel().round(2).tolist()


def _uncompressed(mask_f: np.ndarray) -> list:
    """Uncompressed COCO RLE counts of a column-major flattened binary mask (test data only)."""
    if mask_f.size == 0:
        return []
    idx = np.flatnonzero(np.r_[True, mask_f[1:] != mask_f[:-1]])
    runs = np.diff(np.r_[idx, mask_f.size]).tolist()
    return ([0] + runs) if mask_f[0] else runs


def synthetic_coco(num_images: int = 500, gt_per_image: float = 7, dets_per_image: int = 100, seed: int = 0,
                   num_categories: int = 80, crowd_frac: float = 0.03, with_bbox: bool = True,
                   size=(480, 640)):
    """A seeded COCO-like instances dict and results list (masks as RLE / polygons).

    Ground truth: about ``gt_per_image`` ellipse-like polygons per image of 1–4 categories, 30 % stored
    as compressed RLE, ``crowd_frac`` crowd regions as uncompressed RLE; real COCO category ids.
    Detections: 0–3 perturbed copies of each object (10 % with a wrong category) plus random false
    positives up to ``dets_per_image``; scores uniform in 0.2–1 (copies) or 0–0.8 (false
    positives), 20 % rounded to one decimal (ties); masks as
    compressed RLE, boxes included when ``with_bbox``.

    Returns
    -------
    (gt_dict, results_list)
    """
    from pycocotools import mask as mu
    rng = np.random.default_rng(seed)
    cats = COCO_CATEGORY_IDS[:max(1, min(num_categories, len(COCO_CATEGORY_IDS)))]
    H, W = int(size[0]), int(size[1])
    images, anns, res = [], [], []
    aid = 1
    for i in range(num_images):
        iid = int(1000 + 7 * i)
        h, w = int(rng.integers(H // 2, H + 1)), int(rng.integers(W // 2, W + 1))
        images.append({"id": iid, "height": h, "width": w, "file_name": f"{iid:012d}.jpg"})
        ng = int(rng.poisson(gt_per_image))
        icats = rng.choice(cats, size=max(1, min(len(cats), 4)), replace=False)
        smax = max(3.5, min(h, w) / 2.2)
        shapes, polys = [], []
        for _ in range(ng):
            c = int(rng.choice(icats))
            s = float(np.exp(rng.uniform(np.log(3), np.log(smax))))
            sh = (c, rng.uniform(0, w), rng.uniform(0, h), s * rng.uniform(.6, 1.4), s * rng.uniform(.6, 1.4))
            shapes.append(sh)
            polys.append(_ellipse_poly(rng, *sh[1:], h, w))
        if polys:
            rles = mu.frPyObjects(polys, h, w)
            areas, boxes = mu.area(rles), mu.toBbox(rles)
        for g, sh in enumerate(shapes):
            crowd = int(rng.random() < crowd_frac)
            if crowd:
                seg = {"size": [h, w], "counts": _uncompressed(mu.decode(rles[g]).ravel(order="F"))}
            elif rng.random() < 0.3:
                seg = {"size": [h, w], "counts": rles[g]["counts"].decode()}
            else:
                seg = [polys[g]]
            anns.append({"id": aid, "image_id": iid, "category_id": sh[0], "segmentation": seg,
                         "area": float(areas[g]), "bbox": [float(v) for v in boxes[g]], "iscrowd": crowd})
            aid += 1
        dcats, dpolys = [], []
        for g, sh in enumerate(shapes):
            for _ in range(int(rng.integers(0, 4))):
                c = sh[0] if rng.random() < 0.9 else int(rng.choice(cats))
                p = np.array(polys[g]).reshape(-1, 2)
                ctr = np.array([sh[1], sh[2]])
                q = (p - ctr) * np.exp(rng.normal(0, .1)) + ctr + rng.normal(0, .08, 2) * [sh[3], sh[4]] \
                    + rng.normal(0, .03 * sh[3], p.shape)
                q[:, 0] = np.clip(q[:, 0], 0, w)
                q[:, 1] = np.clip(q[:, 1], 0, h)
                dcats.append(c)
                dpolys.append(q.ravel().round(2).tolist())
        n_copies = len(dcats)
        while len(dcats) < dets_per_image:
            c = int(rng.choice(icats)) if rng.random() < 0.3 else int(rng.choice(cats))
            s = float(np.exp(rng.uniform(np.log(3), np.log(smax))))
            dcats.append(c)
            dpolys.append(_ellipse_poly(rng, rng.uniform(0, w), rng.uniform(0, h), s * rng.uniform(.6, 1.4),
                                        s * rng.uniform(.6, 1.4), h, w))
        dcats, dpolys = dcats[:dets_per_image], dpolys[:dets_per_image]
        if dpolys:
            drles = mu.frPyObjects(dpolys, h, w)
            dboxes = mu.toBbox(drles)
        for k, c in enumerate(dcats):
            sc = float(rng.uniform(0.2, 1.0) if k < n_copies else rng.uniform(0.0, 0.8))
            if rng.random() < 0.2:
                sc = round(sc, 1)
            d = {"image_id": iid, "category_id": int(c), "score": sc,
                 "segmentation": {"size": [h, w], "counts": drles[k]["counts"].decode()}}
            if with_bbox:
                d["bbox"] = [round(float(v), 2) for v in dboxes[k]]
            res.append(d)
    gt = {"info": {"description": f"segbench synthetic COCO (seed {seed})"}, "images": images,
          "annotations": anns,
          "categories": [{"id": c, "name": f"class{c}", "supercategory": "thing"} for c in cats]}
    return gt, res

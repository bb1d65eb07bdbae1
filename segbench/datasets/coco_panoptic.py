"""COCO panoptic: ``coco-panoptic`` (official layout) and ``coco-panoptic-style`` (any JSON + PNG folder).

Layouts
-------
``coco-panoptic`` (``--gt`` = the COCO root, as unpacked from ``panoptic_annotations_trainval2017.zip``)::

    ROOT/annotations/panoptic_val2017.json      images, annotations (segments_info), categories
    ROOT/annotations/panoptic_val2017/*.png     RGB-id PNGs (id = R + 256 G + 256^2 B, 0 = void)
    ROOT/val2017/*.jpg                          images (optional; metrics never read them)

``coco-panoptic-style`` (``--gt`` = the ground-truth JSON): the PNG folder lies beside each JSON and is
named after its stem (panopticapi's convention: ``gt.json`` → ``gt/``); ``--gt-folder`` /
``--pred-folder`` override.

Predictions (both): ``PRED.json`` (COCO panoptic results: ``annotations`` with ``image_id``,
``file_name``, ``segments_info``) and its PNG folder (``PRED/`` beside it, or ``--pred-folder``).
Ground truth and predictions are matched by ``image_id``; a prediction segment's area is counted in
its PNG, the ground truth's comes from the JSON (as panopticapi). The label space is the GT JSON's
``categories`` (native ``id``, ``isthing``, ``color``) in file order.

Metrics: ``pq`` (default; exactly panopticapi), ``pq_modified`` (PQ†).

Examples
--------
>>> import tempfile
>>> root = CocoPanoptic.make_fake(tempfile.mkdtemp(), num_samples=2, size=(48, 64))
>>> ds = CocoPanoptic(root)
>>> len(ds.sample_ids()), ds.label_space().num_classes
(2, 16)
>>> s = ds.load(ds.sample_ids()[0]); s.target.ids.shape
(48, 64)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..errors import NotFoundError, UsageError
from ..io.panoptic import (PanopticJSON, id_to_rgb, load_panoptic_json, read_panoptic_png, validate_segments,
                           write_panoptic_json, write_panoptic_png)
from ..types import ClassSpec, LabelSpace, PanopticMap, PanopticPrediction, Sample, distinct_names
from .base import DatasetAdapter, DatasetSpec, ManifestFile, PredictionSource

__all__ = ["CocoPanoptic", "CocoPanopticStyle", "PanopticJSONPredictions", "label_space_from_categories",
           "synth_panoptic_image", "perturb_panoptic", "write_fake_panoptic", "write_fake_predictions",
           "FAKE_CATEGORIES"]

# a small COCO-like category table for fake twins and benchmarks (real COCO ids and colours)
FAKE_CATEGORIES = [
    {"id": 1, "name": "person", "isthing": 1, "color": [220, 20, 60], "supercategory": "person"},
    {"id": 2, "name": "bicycle", "isthing": 1, "color": [119, 11, 32], "supercategory": "vehicle"},
    {"id": 3, "name": "car", "isthing": 1, "color": [0, 0, 142], "supercategory": "vehicle"},
    {"id": 4, "name": "motorcycle", "isthing": 1, "color": [0, 0, 230], "supercategory": "vehicle"},
    {"id": 16, "name": "bird", "isthing": 1, "color": [165, 42, 42], "supercategory": "animal"},
    {"id": 17, "name": "cat", "isthing": 1, "color": [255, 77, 255], "supercategory": "animal"},
    {"id": 18, "name": "dog", "isthing": 1, "color": [0, 226, 252], "supercategory": "animal"},
    {"id": 44, "name": "bottle", "isthing": 1, "color": [0, 82, 0], "supercategory": "kitchen"},
    {"id": 62, "name": "chair", "isthing": 1, "color": [153, 69, 1], "supercategory": "furniture"},
    {"id": 84, "name": "book", "isthing": 1, "color": [0, 143, 149], "supercategory": "indoor"},
    {"id": 149, "name": "rug-merged", "isthing": 0, "color": [255, 180, 195], "supercategory": "floor"},
    {"id": 184, "name": "tree-merged", "isthing": 0, "color": [107, 142, 35], "supercategory": "plant"},
    {"id": 187, "name": "sky-other-merged", "isthing": 0, "color": [70, 130, 180], "supercategory": "sky"},
    {"id": 191, "name": "pavement-merged", "isthing": 0, "color": [96, 96, 96], "supercategory": "ground"},
    {"id": 193, "name": "grass-merged", "isthing": 0, "color": [152, 251, 152], "supercategory": "plant"},
    {"id": 199, "name": "wall-other-merged", "isthing": 0, "color": [102, 102, 156], "supercategory": "wall"},
]

_JSON_CACHE: dict = {}


def _cached_json(path, require_categories: bool = True) -> PanopticJSON:
    """Parse a panoptic JSON once per process (keyed by path, size and mtime)."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise NotFoundError("expected a COCO panoptic JSON file, found no such file", path=p) from None
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns, require_categories)
    hit = _JSON_CACHE.get(key)
    if hit is None:
        if len(_JSON_CACHE) > 8:
            _JSON_CACHE.clear()
        hit = _JSON_CACHE[key] = load_panoptic_json(p, require_categories=require_categories)
    return hit


def label_space_from_categories(categories, name: str = "") -> LabelSpace:
    """LabelSpace from COCO panoptic ``categories`` (file order → train ids 0..C-1).

    Class names key the per-class results, so a name used by two categories becomes ``"name (id N)"``
    for each of them (panopticapi keys by id and keeps both).
    """
    rows = []
    names = distinct_names([str(c.get("name", c["id"])) for c in categories], [c["id"] for c in categories])
    for i, c in enumerate(categories):
        rows.append(ClassSpec(names[i], int(c["id"]), i, str(c.get("supercategory", "")),
                              bool(int(c.get("isthing", 0)) == 1), False,
                              tuple(int(x) for x in (c.get("color") or (0, 0, 0)))[:3]))
    return LabelSpace(rows, name=name)


# --------------------------------------------------------------------------- prediction source
class PanopticJSONPredictions(PredictionSource):
    """COCO panoptic predictions: a JSON (annotations with segments_info) and a PNG folder.

    Parameters
    ----------
    path : path
        The predictions JSON.
    folder : path, optional
        PNG folder (default: the JSON path without ``.json``).
    categories : set of int, optional
        Valid category ids (checked while evaluating, with the image and segment named).
    """

    def __init__(self, path, folder=None, categories=None):
        p = Path(path)
        if p.is_dir():
            cands = sorted(p.glob("*.json"))
            if len(cands) != 1:
                raise UsageError(f"expected the predictions JSON file (COCO panoptic results) as PREDS, found the "
                                 f"folder {p} with {len(cands)} JSON files; pass PRED.json (its PNG folder lies "
                                 f"beside it, or use --pred-folder)")
            p = cands[0]
        self.path = str(p)
        if not p.exists():
            raise NotFoundError("expected the predictions JSON file (COCO panoptic results), found no such file",
                                path=p)
        self.folder = str(Path(folder) if folder else p.with_suffix(""))  # panopticapi's convention
        if not Path(self.folder).is_dir():
            raise NotFoundError(f"expected the prediction PNG folder {self.folder} (named after the JSON's stem, "
                                f"or pass --pred-folder), found no such folder", path=p)
        self.categories = set(categories) if categories is not None else None
        self._index()  # validate now: one-line errors before any work

    def _index(self) -> dict:
        idx = self.__dict__.get("_idx")
        if idx is None:
            js = _cached_json(self.path, require_categories=False)
            idx = self.__dict__["_idx"] = {str(k): v for k, v in js.by_image.items()}
        return idx

    def __getstate__(self):
        d = dict(self.__dict__)
        d.pop("_idx", None)  # rebuilt (from the per-process JSON cache) where it is used
        return d

    def available(self) -> set:
        return set(self._index())

    def files(self) -> list:
        out = [self.path]
        for a in self._index().values():
            out.append(os.path.join(self.folder, a["file_name"]))
        return out

    def load(self, sample: Sample) -> PanopticPrediction:
        ann = self._index().get(str(sample.meta.get("image_id", sample.sample_id)))
        if ann is None:
            ann = self._index().get(sample.sample_id)
        if ann is None:
            if self.missing != "void":  # the API path (evaluate_samples) has no coverage check before this
                raise NotFoundError(f"expected a prediction for image {sample.meta.get('image_id', sample.sample_id)!r} "
                                    f"in the predictions JSON, found none; add it or score it as all-void "
                                    f"(--missing void)", path=self.path)
            return PanopticPrediction(np.zeros(sample.target.shape, np.uint32), [], None)
        png = os.path.join(self.folder, ann["file_name"])
        ids = read_panoptic_png(png)
        return PanopticPrediction(ids, [dict(s) for s in ann["segments_info"]], png)

    def user_description(self) -> dict:
        return {"name": Path(self.path).stem, "source": "user predictions", "format": "coco-panoptic"}


# --------------------------------------------------------------------------- adapters
class _PanopticJSONDataset(DatasetAdapter):
    """Shared logic: a GT JSON + PNG folder."""

    def _gt_paths(self) -> tuple[Path, Path]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _paths(self) -> tuple[Path, Path]:
        cached = self.__dict__.get("_paths_cache")
        if cached is None:
            cached = self.__dict__["_paths_cache"] = self._gt_paths()
        return cached

    def _gt(self) -> PanopticJSON:
        gt = self.__dict__.get("_gt_cache")
        if gt is None:
            gt = self.__dict__["_gt_cache"] = _cached_json(self._paths()[0])
        return gt

    def label_space(self) -> LabelSpace:
        return label_space_from_categories(list(self._gt().categories.values()), name=self.spec.name)

    def sample_ids(self) -> list[str]:
        return [str(a["image_id"]) for a in self._gt().annotations]

    def _ann(self, sample_id: str) -> dict:
        idx = getattr(self, "_sid_index", None)
        gt = self._gt()
        if idx is None or idx[0] is not gt:
            idx = (gt, {str(k): v for k, v in gt.by_image.items()})
            self._sid_index = idx
        try:
            return idx[1][str(sample_id)]
        except KeyError:
            raise NotFoundError(f"expected image id {sample_id!r} in the ground truth, found none",
                                path=self._paths()[0]) from None

    def __getstate__(self):
        d = dict(self.__dict__)
        for k in ("_sid_index", "_gt_cache"):
            d.pop(k, None)
        return d

    def image_path(self, ann: dict, gt: PanopticJSON):
        im = gt.images.get(ann["image_id"])
        return im.get("file_name") if im else None

    def load(self, sample_id: str) -> Sample:
        ann = self._ann(sample_id)
        js, folder = self._paths()
        png = folder / ann["file_name"]
        ids = read_panoptic_png(png)
        segs = [dict(s) for s in ann["segments_info"]]
        return Sample(str(sample_id), self.image_path(ann, self._gt()), PanopticMap(ids, segs, str(png)),
                      {"image_id": ann["image_id"], "file_name": ann["file_name"], "gt_json": str(js)})

    def predictions(self, path, **options) -> PredictionSource:
        return PanopticJSONPredictions(path, options.get("pred_folder"), set(self._gt().categories))

    def validate(self, check_png: bool = True) -> None:
        """Check the GT JSON's segments (and PNG ids) of every image; raises a one-line error."""
        gt = self._gt()
        _, folder = self._paths()
        for a in gt.annotations:
            ids = np.unique(read_panoptic_png(folder / a["file_name"])) if check_png else None
            validate_segments(a["segments_info"], set(gt.categories), a["image_id"], folder / a["file_name"], ids)


class CocoPanoptic(_PanopticJSONDataset):
    """COCO panoptic 2017 in its official layout (``annotations/panoptic_<split>2017.json`` + PNG folder)."""

    #: Options this adapter reads (``--option KEY=VALUE``; others are reported).
    option_names: ClassVar[tuple] = ("gt_folder", "gt_json", "pred_folder")
    spec: ClassVar[DatasetSpec] = DatasetSpec(
        name="coco-panoptic", version="2017", task="panoptic", splits={"train": 118287, "val": 5000},
        default_split="val", default_metrics=("pq",), license="CC BY 4.0 (annotations); Flickr terms (images)",
        citation="Kirillov, He, Girshick, Rother, Dollar. Panoptic Segmentation. CVPR 2019. "
                 "Lin et al. Microsoft COCO: Common Objects in Context. ECCV 2014.",
        homepage="https://cocodataset.org/#panoptic-2020", obtain="url",
        files=(ManifestFile("panoptic_annotations_trainval2017.zip",
                            "http://images.cocodataset.org/annotations/panoptic_annotations_trainval2017.zip",
                            extract=True),),
        size="~820 MB annotations (+ images)")

    def _gt_paths(self) -> tuple[Path, Path]:
        root = self.require_root()
        js = Path(self.options["gt_json"]) if self.options.get("gt_json") else \
            root / "annotations" / f"panoptic_{self.split}2017.json"
        if not js.exists():
            raise NotFoundError(f"coco-panoptic: expected {js} (official layout annotations/panoptic_"
                                f"{self.split}2017.json); check --gt and --split", path=root)
        folder = Path(self.options["gt_folder"]) if self.options.get("gt_folder") else js.with_suffix("")
        if not folder.is_dir():
            raise NotFoundError(f"coco-panoptic: expected the PNG folder {folder} (unzip annotations/panoptic_"
                                f"{self.split}2017.zip there, or pass --gt-folder)", path=root)
        return js, folder

    def image_path(self, ann, gt):
        im = gt.images.get(ann["image_id"])
        if not im or self.root is None:
            return None
        return str(self.root / f"{self.split}2017" / im["file_name"])

    @classmethod
    def make_fake(cls, root, num_samples: int = 4, seed: int = 0, size=(96, 128), split: str = "val",
                  **options) -> Path:
        root = Path(root)
        write_fake_panoptic(root / "annotations" / f"panoptic_{split}2017.json", num_samples, seed, size,
                            image_dir=root / f"{split}2017", **options)
        return root


class CocoPanopticStyle(_PanopticJSONDataset):
    """Users' own COCO panoptic data: ``--gt GT.json``; PNG folder ``GT/`` beside it or ``--gt-folder``."""

    #: Options this adapter reads (``--option KEY=VALUE``; others are reported).
    option_names: ClassVar[tuple] = ("gt_folder", "pred_folder")
    spec: ClassVar[DatasetSpec] = DatasetSpec(
        name="coco-panoptic-style", version="1", task="panoptic", splits={}, default_split="",
        default_metrics=("pq",), obtain="manual",
        homepage="https://cocodataset.org/#format-data")

    def __init__(self, root, split: str | None = None, **options: Any):
        if root is None:
            raise UsageError("coco-panoptic-style needs --gt GT.json (COCO panoptic ground truth; its PNG folder "
                             "lies beside it named after its stem, or pass --gt-folder)")
        super().__init__(root, split=split or "", **options)

    def _gt_paths(self) -> tuple[Path, Path]:
        js = self.root
        if js.is_dir():
            cands = sorted(js.glob("*.json"))
            if len(cands) != 1:
                raise UsageError(f"coco-panoptic-style: expected --gt to be the ground-truth JSON file, found the "
                                 f"folder {js} with {len(cands)} JSON files; pass the JSON itself")
            js = cands[0]
        if not js.exists():
            raise NotFoundError("coco-panoptic-style: expected the ground-truth JSON (--gt), found no such file",
                                path=js)
        folder = Path(self.options["gt_folder"]) if self.options.get("gt_folder") else js.with_suffix("")
        if not folder.is_dir():
            raise NotFoundError(f"coco-panoptic-style: expected the ground-truth PNG folder {folder} beside the "
                                f"JSON (named after its stem), or pass --gt-folder", path=js)
        return js, folder

    @classmethod
    def make_fake(cls, root, num_samples: int = 4, seed: int = 0, size=(96, 128), **options) -> Path:
        js = Path(root) / "gt.json"
        write_fake_panoptic(js, num_samples, seed, size, **options)
        return js


# --------------------------------------------------------------------------- synthetic data
def _ellipse(h, w, cy, cx, ry, rx):
    yy, xx = np.ogrid[:h, :w]
    return ((yy - cy) / max(ry, 1)) ** 2 + ((xx - cx) / max(rx, 1)) ** 2 <= 1.0


def synth_panoptic_image(rng: np.random.Generator, size=(480, 640), num_segments: int = 20, categories=None,
                         crowd: bool = True, void: bool = True) -> tuple[np.ndarray, list]:
    """A COCO-like panoptic GT image: stuff regions, overlapping thing instances, crowd, void.

    Returns ``(ids (H, W) uint32, segments_info)``; areas and bboxes are exact.
    """
    cats = categories or FAKE_CATEGORIES
    things = [c["id"] for c in cats if c["isthing"] == 1]
    stuffs = [c["id"] for c in cats if c["isthing"] != 1]
    h, w = size
    cat_of: dict[int, int] = {}
    crowd_of: dict[int, int] = {}
    used: set = {0}

    def new_id():
        while True:
            i = int(rng.integers(1, 1 << 24))
            if i not in used:
                used.add(i)
                return i

    ids = np.zeros((h, w), np.uint32)
    # stuff: 3-5 regions from a coarse Voronoi partition (some categories twice -> merged later)
    n_stuff = int(rng.integers(3, 6))
    pts = rng.random((n_stuff, 2)) * (h, w)
    yy, xx = np.mgrid[:h, :w]
    lab = np.argmin((yy[..., None] - pts[:, 0]) ** 2 + (xx[..., None] - pts[:, 1]) ** 2, axis=-1)
    stuff_ids = {}
    for k in range(n_stuff):
        c = int(rng.choice(stuffs))
        if c not in stuff_ids:
            stuff_ids[c] = new_id()
            cat_of[stuff_ids[c]] = c
        ids[lab == k] = stuff_ids[c]
    # things: ellipses / rectangles pasted in order (later ones occlude)
    n_things = max(0, num_segments - len(stuff_ids))
    for k in range(n_things):
        c = int(rng.choice(things))
        sid = new_id()
        ry, rx = rng.integers(max(2, h // 40), max(3, h // 5)), rng.integers(max(2, w // 40), max(3, w // 5))
        cy, cx = rng.integers(0, h), rng.integers(0, w)
        if rng.random() < 0.5:
            m = _ellipse(h, w, cy, cx, ry, rx)
        else:
            m = np.zeros((h, w), bool)
            m[max(0, cy - ry):cy + ry, max(0, cx - rx):cx + rx] = True
        ids[m] = sid
        cat_of[sid] = c
        if crowd and rng.random() < 0.08:
            crowd_of[sid] = 1
    if void:
        # unlabeled blobs and thin boundary bands, as in COCO
        for _ in range(int(rng.integers(1, 4))):
            ry, rx = rng.integers(2, max(3, h // 10)), rng.integers(2, max(3, w // 10))
            ids[_ellipse(h, w, rng.integers(0, h), rng.integers(0, w), ry, rx)] = 0
        edge = np.zeros((h, w), bool)
        edge[:, 1:] |= ids[:, 1:] != ids[:, :-1]
        edge[1:, :] |= ids[1:, :] != ids[:-1, :]
        ids[edge & (rng.random((h, w)) < 0.5)] = 0
    from ..io.panoptic import segments_from_ids
    segs = segments_from_ids(ids, cat_of, crowd_of)
    return ids, segs


def perturb_panoptic(rng: np.random.Generator, ids: np.ndarray, segments: list, categories=None,
                     strength: float = 1.0) -> tuple[np.ndarray, list]:
    """A plausible prediction from a GT panoptic map: shifted / eroded / dropped / relabelled / split
    segments, spurious segments, predictions on crowd regions and void holes. Seeded by ``rng``."""
    cats = categories or FAKE_CATEGORIES
    all_cats = [c["id"] for c in cats]
    thing_set = {c["id"] for c in cats if c["isthing"] == 1}
    h, w = ids.shape
    src = ids.copy()
    # global jitter of the boundaries
    dy, dx = (int(x) for x in rng.integers(-2, 3, size=2) * strength)
    src = np.roll(src, (dy, dx), axis=(0, 1))
    cat_of = {int(s["id"]): int(s["category_id"]) for s in segments}
    out = np.zeros((h, w), np.uint32)
    used = {0}
    new_cat: dict[int, int] = {}

    def new_id():
        while True:
            i = int(rng.integers(1, 1 << 24))
            if i not in used:
                used.add(i)
                return i

    stuff_merge: dict[int, int] = {}
    for s in segments:
        sid = int(s["id"])
        m = src == sid
        if not m.any():
            continue
        r = rng.random()
        if r < 0.1 * strength:            # dropped (false negative): leave the pixels to whoever is below
            continue
        c = cat_of[sid]
        if rng.random() < 0.07 * strength:  # wrong category
            c = int(rng.choice(all_cats))
        if c not in thing_set and c in stuff_merge:
            pid = stuff_merge[c]
        else:
            pid = new_id()
            if c not in thing_set:
                stuff_merge[c] = pid
        if rng.random() < 0.2 * strength:   # erode or dilate by cropping a random band
            ys, xs = np.nonzero(m)
            cut = ys < np.percentile(ys, float(rng.uniform(5, 60)))
            m = m.copy()
            m[ys[cut], xs[cut]] = False
        if rng.random() < 0.1 * strength and c in thing_set:  # split into two instances
            ys, xs = np.nonzero(m)
            half = xs > np.median(xs)
            pid2 = new_id()
            out[ys[half], xs[half]] = pid2
            new_cat[pid2] = c
            m = m.copy()
            m[ys[half], xs[half]] = False
        out[m] = pid
        new_cat[pid] = c
    # predictions that cover crowd regions with the crowd's category (should be ignored)
    for s in segments:
        if s.get("iscrowd", 0) == 1 and rng.random() < 0.7:
            m = ids == int(s["id"])
            pid = new_id()
            out[m] = pid
            new_cat[pid] = int(s["category_id"])
    # spurious segments (false positives), some on GT void
    for _ in range(int(rng.integers(0, 4))):
        ry, rx = rng.integers(2, max(3, h // 8)), rng.integers(2, max(3, w // 8))
        m = _ellipse(h, w, rng.integers(0, h), rng.integers(0, w), ry, rx)
        pid = new_id()
        out[m] = pid
        new_cat[pid] = int(rng.choice(all_cats))
    # void holes in the prediction
    for _ in range(int(rng.integers(0, 3))):
        ry, rx = rng.integers(2, max(3, h // 12)), rng.integers(2, max(3, w // 12))
        out[_ellipse(h, w, rng.integers(0, h), rng.integers(0, w), ry, rx)] = 0
    from ..io.panoptic import segments_from_ids
    segs = segments_from_ids(out, new_cat)
    for s in segs:
        s.pop("iscrowd", None)
    return out, segs


def write_fake_panoptic(json_path, num_samples: int = 4, seed: int = 0, size=(96, 128), num_segments: int = 12,
                        categories=None, image_dir=None, crowd: bool = True, void: bool = True,
                        id_prefix: str | None = None, **_ignored) -> Path:
    """Write a seeded COCO panoptic GT (JSON + PNG folder beside it named after its stem)."""
    rng = np.random.default_rng(seed)
    cats = [dict(c) for c in (categories or FAKE_CATEGORIES)]
    json_path = Path(json_path)
    folder = json_path.with_suffix("")
    folder.mkdir(parents=True, exist_ok=True)
    images, anns = [], []
    h, w = size
    for i in range(num_samples):
        image_id = (f"{id_prefix}{i:06d}" if id_prefix else 100000 + i)
        stem = f"{image_id:012d}" if isinstance(image_id, int) else str(image_id)
        ids, segs = synth_panoptic_image(rng, (h, w), num_segments, cats, crowd=crowd, void=void)
        write_panoptic_png(folder / f"{stem}.png", ids)
        images.append({"id": image_id, "file_name": f"{stem}.jpg", "height": h, "width": w})
        anns.append({"image_id": image_id, "file_name": f"{stem}.png", "segments_info": segs})
        if image_dir is not None:
            from PIL import Image
            Path(image_dir).mkdir(parents=True, exist_ok=True)
            Image.fromarray(id_to_rgb(ids)).save(Path(image_dir) / f"{stem}.jpg", quality=70)
    write_panoptic_json(json_path, anns, cats, images)
    return json_path


def write_fake_predictions(gt_json, pred_json, seed: int = 1, strength: float = 1.0, gt_folder=None) -> Path:
    """Write seeded predictions (JSON + PNG folder) by perturbing every GT image of ``gt_json``."""
    gt = load_panoptic_json(gt_json)
    gfolder = Path(gt_folder) if gt_folder else Path(gt_json).with_suffix("")
    pred_json = Path(pred_json)
    pfolder = pred_json.with_suffix("")
    pfolder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    cats = list(gt.categories.values())
    anns = []
    for a in gt.annotations:
        ids = read_panoptic_png(gfolder / a["file_name"])
        pids, psegs = perturb_panoptic(rng, ids, a["segments_info"], cats, strength)
        write_panoptic_png(pfolder / a["file_name"], pids)
        anns.append({"image_id": a["image_id"], "file_name": a["file_name"], "segments_info": psegs})
    write_panoptic_json(pred_json, anns, cats)
    return pred_json

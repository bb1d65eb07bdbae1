"""Generic layouts for users' own data. ``cityscapes-style``: a folder of GT label PNGs and a folder of
prediction PNGs with the same stems.

Layout::

    GT/                      --gt GT  (or GT/<split>/ when --split names a sub-folder)
      labels.json            optional: the classes (or labels.csv, or --labels FILE, or --num-classes N)
      a.png  b.png  sub/c.png
    PREDS/
      a.png  b.png  sub/c.png   (same relative stems; a unique bare stem also matches)

Sample ids are the GT files' relative paths without extension (``a``, ``sub/c``). GT and predictions
hold the same encoding: the classes' ``id`` values (train ids ``0..C-1`` when ``labels.json`` lists
plain names or only ``--num-classes`` is given), ``255`` = ignore in the GT / void in predictions.
8-bit (L), palette (P: indices) and 16-bit PNGs are read; colour-coded RGB PNGs when the classes have
colours. ``--pred-encoding trainid`` reads predictions in train ids when the GT uses other native ids.
``--threshold`` reads predictions as soft probability maps (binary tasks: class 1 where the value is
above the threshold, default half the range).

``labels.json`` forms
---------------------
- ``["background", "road", ...]`` (ids = train ids = positions);
- ``[{"name": "road", "id": 7, "train_id": 0, "color": [128, 64, 128], "ignore_in_eval": false,
  "category": "flat", "is_thing": false}, ...]`` (``train_id`` defaults to the rank among evaluated
  rows, ``color`` to black);
- ``{"classes": <one of the above>, "ignore_index": 255}``;
- ``{"0": "background", "1": "road"}`` (id → name).

``labels.csv``: a header with ``name`` and ``id`` (optional ``train_id``, ``color`` as ``r g b`` or
``#rrggbb``, or ``r,g,b`` columns, ``ignore_in_eval``, ``category``, ``is_thing``); or header-less
``id,name`` rows. Lines starting with ``#`` are comments.

Examples
--------
>>> import tempfile
>>> gt = CityscapesStyle.make_fake(tempfile.mkdtemp(), num_samples=2, seed=0)
>>> ds = CityscapesStyle(gt)
>>> ds.sample_ids(), ds.label_space().num_classes
(['img_000', 'img_001'], 4)
"""

from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path
from typing import Any, Callable, ClassVar

import numpy as np

from ..errors import BadInputError, NotFoundError, UsageError
from ..io.labels import read_label_lazy, read_soft, write_label
from ..types import IGNORE_INDEX, ClassSpec, LabelSpace, Sample, SemanticPrediction
from .base import DatasetAdapter, DatasetSpec, PredictionSource

__all__ = ["CityscapesStyle", "FolderPredictions", "LabelFileReader", "load_label_table", "index_label_files"]

_EXTS = (".png",)
_IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


def index_label_files(folder, exts=_EXTS, skip=("labels.json", "labels.csv")) -> dict:
    """``{relative stem: path}`` of the image files under ``folder`` (recursive, sorted)."""
    folder = Path(folder)
    out = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for fn in sorted(filenames):
            if fn.startswith(".") or not fn.lower().endswith(tuple(exts)) or fn in skip:
                continue
            p = Path(dirpath) / fn
            rel = p.relative_to(folder).with_suffix("").as_posix()
            out[rel] = str(p)
    return dict(sorted(out.items()))


class FolderPredictions(PredictionSource):
    """Predictions read from files: ``index`` maps sample id → file, ``reader(path, sample)`` decodes.

    A sample without a file (only reached with ``--missing void``) gets an all-void prediction.
    """

    def __init__(self, path, index: dict, reader: Callable, ignore_index: int = IGNORE_INDEX,
                 extra: list | None = None, name: str | None = None):
        self.path = str(path)
        self.index = dict(index)
        self.reader = reader
        self.ignore_index = ignore_index
        self.extra = list(extra or [])
        self.name = name

    def load(self, sample: Sample):
        p = self.index.get(sample.sample_id)
        if p is None:
            shape = sample.target.shape
            dt = np.uint8 if self.ignore_index < 256 else np.int32
            return SemanticPrediction(np.full(shape, self.ignore_index, dt))
        return self.reader(p, sample)

    def available(self) -> set:
        return set(self.index) | set(self.extra)

    def files(self) -> list:
        return sorted(self.index.values())

    def user_description(self) -> dict:
        return {"name": self.name or Path(self.path).name, "source": "user predictions"}


class LabelFileReader:
    """Picklable ``reader(path, sample) -> SemanticPrediction`` for :class:`FolderPredictions`:
    :func:`~segbench.io.labels.read_label` with a lookup table / allowed values / colour table, or
    :func:`~segbench.io.labels.read_soft` when ``threshold`` is set; sized to the sample's GT."""

    def __init__(self, lut=None, allowed=None, colors=None, resize: str | None = None,
                 threshold: float | None = None, soft: bool = False):
        self.lut, self.allowed, self.colors = lut, allowed, colors
        self.resize, self.threshold, self.soft = resize, threshold, soft

    def __call__(self, path, sample) -> SemanticPrediction:
        shape = sample.target.shape
        if self.soft:
            return SemanticPrediction(read_soft(path, threshold=self.threshold, expected_shape=shape,
                                                resize=self.resize))
        return read_label_lazy(path, lut=self.lut, allowed=self.allowed, colors=self.colors, expected_shape=shape,
                               resize=self.resize, prediction=True)


# ----------------------------------------------------------------------------- label tables
def _parse_color(v) -> tuple:
    if v is None or v == "":
        return (0, 0, 0)
    if isinstance(v, str):
        s = v.strip()
        if s.startswith("#") and len(s) == 7:
            return tuple(int(s[i:i + 2], 16) for i in (1, 3, 5))
        parts = [p for p in re.split(r"[\s,;/]+", s.strip("()[]")) if p]
        v = [int(p) for p in parts]
    v = tuple(int(x) for x in v)
    if len(v) != 3 or not all(0 <= x <= 255 for x in v):
        raise ValueError(f"colour {v!r}")
    return v


def _truthy(v) -> bool:
    if isinstance(v, str):
        return v.strip().lower() in ("1", "true", "yes", "y", "t")
    return bool(v)


def _rows_to_space(rows: list, ignore_index: int, path) -> LabelSpace:
    specs = []
    if ignore_index == IGNORE_INDEX and sum(not _truthy(r.get("ignore_in_eval", False)) for r in rows) > 255:
        ignore_index = 65535  # more than 255 classes: train id 255 is a class, ignore moves to 65535
    # train ids default to the rank among evaluated rows in id order
    need_tid = any("train_id" not in r or r.get("train_id") in (None, "") for r in rows)
    evaluated = [r for r in rows if not _truthy(r.get("ignore_in_eval", False))]
    order = sorted(evaluated, key=lambda r: int(r["id"]))
    rank = {id(r): k for k, r in enumerate(order)}
    for r in rows:
        ign = _truthy(r.get("ignore_in_eval", False))
        if need_tid:
            tid = ignore_index if ign else rank[id(r)]
        else:
            tid = int(r["train_id"])
            if tid == ignore_index or tid < 0:
                ign, tid = True, ignore_index
        specs.append(ClassSpec(str(r["name"]), int(r["id"]), tid, str(r.get("category") or ""),
                               _truthy(r.get("is_thing", False)), ign, _parse_color(r.get("color"))))
    try:
        return LabelSpace(specs, ignore_index, Path(path).parent.name if path else "")
    except ValueError as e:
        raise BadInputError(f"expected evaluated classes with train ids 0..C-1, {e}", path=path) from None


def load_label_table(path) -> LabelSpace:
    """Read ``labels.json`` / ``labels.csv`` (forms in the module docstring) into a LabelSpace."""
    path = Path(path)
    if not path.exists():
        raise NotFoundError("expected a labels.json / labels.csv file, found nothing", path=path)
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(path.read_text())
            ignore = IGNORE_INDEX
            if isinstance(data, dict) and "classes" in data:
                ignore = int(data.get("ignore_index", IGNORE_INDEX))
                data = data["classes"]
            if isinstance(data, dict):
                rows = [{"name": v, "id": int(k)} for k, v in sorted(data.items(), key=lambda kv: int(kv[0]))]
            elif all(isinstance(x, str) for x in data):
                rows = [{"name": n, "id": i, "train_id": i} for i, n in enumerate(data)]
            else:
                rows = []
                for i, d in enumerate(data):
                    d = dict(d)
                    d.setdefault("id", d.get("train_id", i))
                    if "trainId" in d:
                        d["train_id"] = d.pop("trainId")
                    if "ignoreInEval" in d:
                        d["ignore_in_eval"] = d.pop("ignoreInEval")
                    if "hasInstances" in d:
                        d["is_thing"] = d.pop("hasInstances")
                    rows.append(d)
        else:
            text = [ln for ln in path.read_text().strip().splitlines() if not ln.lstrip().startswith("#")]
            first = [c.strip().lower() for c in next(csv.reader([text[0]]))] if text else []
            ignore = IGNORE_INDEX
            if "name" in first:
                rdr = csv.DictReader(text)
                rows = []
                for r in rdr:
                    r = {k.strip().lower(): (v.strip() if isinstance(v, str) else v) for k, v in r.items() if k}
                    if "trainid" in r:
                        r["train_id"] = r.pop("trainid")
                    if "color" not in r and all(k in r for k in ("r", "g", "b")):
                        r["color"] = (r["r"], r["g"], r["b"])
                    if "id" not in r:
                        r["id"] = r.get("train_id", len(rows))
                    rows.append(r)
            else:
                rows = []
                for r in csv.reader(text):
                    if not r or not r[0].strip():
                        continue
                    rows.append({"id": int(r[0]), "name": r[1].strip() if len(r) > 1 else f"class_{r[0]}"})
    except (ValueError, KeyError, TypeError, json.JSONDecodeError, StopIteration) as e:
        raise BadInputError(f"expected a label table (see `segbench datasets cityscapes-style`), found an "
                            f"unreadable one ({e})", path=path) from None
    if not rows:
        raise BadInputError("expected at least one class in the label table, found none", path=path)
    try:
        return _rows_to_space(rows, ignore, path)
    except (ValueError, KeyError) as e:
        raise BadInputError(f"expected rows with name and id, found a bad row ({e})", path=path) from None


def num_classes_option(n) -> int | None:
    """``--num-classes`` as an int (None when not given); 0, negatives and non-integers are refused."""
    if n is None or n == "":
        return None
    try:
        v = int(n)
        if v != float(n):
            raise ValueError
    except (TypeError, ValueError):
        raise UsageError(f"expected --num-classes to be a whole number >= 1, found {n!r}") from None
    if v < 1:
        raise UsageError(f"expected --num-classes >= 1, found {v}; pass the number of evaluated classes")
    return v


def space_for_num_classes(n: int) -> LabelSpace:
    """Classes ``0..n-1``; the ignore index is 255, or 65535 once 255 is itself a class id."""
    return LabelSpace.from_num_classes(n, ignore_index=IGNORE_INDEX if n <= 255 else 65535)


def check_num_classes(ls: LabelSpace, n: int | None, table) -> LabelSpace:
    """Refuse a ``--num-classes`` that disagrees with the label table read from ``table``."""
    if n is not None and ls.num_classes != n:
        raise UsageError(f"--num-classes {n} disagrees with the {ls.num_classes} evaluated classes of the label "
                         f"table {table}; drop one of the two")
    return ls


# ----------------------------------------------------------------------------- adapter
class CityscapesStyle(DatasetAdapter):
    """``cityscapes-style``: GT folder of label PNGs + prediction folder with the same stems.

    Parameters
    ----------
    root : path
        The GT folder (``--gt``).
    split : str, optional
        A sub-folder of ``root`` to use, if it exists (default: ``root`` itself).
    labels : path, optional
        ``labels.json`` / ``labels.csv`` (default: the one in the GT folder).
    num_classes : int, optional
        Classes ``0..N-1`` when there is no label table.
    pred_encoding : {'id', 'trainid'}, default 'id'
        Predictions hold the label table's ids (like the GT) or train ids.
    threshold : float, optional
        Read predictions as soft maps binarised at this threshold (2-class tables only).
    resize : {None, 'nearest'}
    images : path, optional
        Folder of the input images (same relative stems as the GT, any of .png .jpg .jpeg .tif .tiff
        .bmp), for ``segbench predict`` (``--option images=DIR``); scoring never needs them.
    """

    #: Options this adapter reads (``--option KEY=VALUE``; others are reported).
    option_names: ClassVar[tuple] = ("images", "labels", "num_classes", "pred_encoding", "resize", "threshold")
    spec: ClassVar[DatasetSpec] = DatasetSpec(
        name="cityscapes-style", version="1", task="semantic", splits={}, default_split="all",
        default_metrics=("miou",), license="(your data)", homepage="", obtain="manual")

    def __init__(self, root, split: str | None = None, **options: Any):
        super().__init__(root, split, **options)
        if self.root is None:
            raise UsageError("cityscapes-style needs --gt GT_FOLDER (a folder of label PNGs)")
        self._index: dict | None = None
        self._images: dict | None = None
        self._ls: LabelSpace | None = None

    # ---- layout
    def _image_files(self) -> dict:
        if self._images is None:
            folder = self.options.get("images")
            self._images = {}
            if folder:
                if not Path(folder).is_dir():
                    raise NotFoundError("expected the folder of input images (--option images=DIR), found nothing",
                                        path=folder)
                self._images = index_label_files(folder, exts=_IMAGE_EXTS, skip=())
        return self._images

    def gt_dir(self) -> Path:
        root = self.root
        if root is None or not root.exists():
            raise NotFoundError("expected a folder of ground-truth label PNGs, found nothing; check --gt",
                                path=root)
        if root.is_file():
            raise UsageError(f"cityscapes-style expects --gt to be a folder of label PNGs, found a file: {root}")
        if self.split and self.split != "all":
            if (root / self.split).is_dir():
                return root / self.split
            subs = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
            if subs:  # split folders exist but not this one: never score the whole tree under a split's name
                raise NotFoundError(f"expected a split folder {self.split}/ in the ground truth, found only "
                                    f"{', '.join(subs[:8])}{'...' if len(subs) > 8 else ''}; pass --split with "
                                    f"one of them, or --split all for the whole tree", path=root)
        return root

    def _files(self) -> dict:
        if self._index is None:
            self._index = index_label_files(self.gt_dir())
        return self._index

    def label_space(self) -> LabelSpace:
        if self._ls is None:
            lab = self.options.get("labels")
            n = num_classes_option(self.options.get("num_classes"))
            if not lab:
                for d in (self.gt_dir(), self.root):
                    found = [f for f in (d / "labels.json", d / "labels.csv") if f.exists()]
                    if found:
                        lab = found[0]
                        break
            if lab:
                self._ls = check_num_classes(load_label_table(lab), n, lab)
            elif n is None:
                raise UsageError(f"cityscapes-style needs the classes: put labels.json or labels.csv in "
                                 f"{self.gt_dir()}, or pass --labels FILE or --num-classes N")
            else:
                self._ls = space_for_num_classes(n)
        return self._ls

    def _tables(self):
        ls = self.label_space()
        ids = [c.id for c in ls.classes if c.id >= 0]
        maxid = max(ids + [ls.ignore_index, 0])
        identity = all((not c.ignore_in_eval) and c.id == c.train_id for c in ls.classes)
        size = 256 if maxid < 256 else 65536
        lut = None if identity else ls.id_to_train_lut(size)
        allowed = np.zeros(size, bool)
        allowed[[i for i in ids if i < size]] = True
        if 0 <= ls.ignore_index < size:
            allowed[ls.ignore_index] = True
        # the ignore value stays ignore, unless a class uses it as its id (binary 0/255 masks)
        if lut is not None and 0 <= ls.ignore_index < size and ls.ignore_index not in ids:
            lut[ls.ignore_index] = ls.ignore_index
        colors = None
        if any(c.color != (0, 0, 0) for c in ls.classes):
            colors = {}
            for c in ls.classes:
                colors.setdefault(tuple(c.color), c.id)
        return lut, allowed, colors

    def sample_ids(self) -> list[str]:
        return list(self._files())

    def load(self, sample_id: str) -> Sample:
        path = self._files().get(sample_id)
        if path is None:
            raise NotFoundError(f"expected a GT file for sample {sample_id!r}, found none", path=self.gt_dir())
        lut, allowed, colors = self._tables()
        target = read_label_lazy(path, lut=lut, allowed=allowed, colors=colors)
        image = self._image_files().get(sample_id)
        return Sample(sample_id, image, target, {"gt_path": path})

    def predictions(self, path, **options) -> FolderPredictions:
        opts = {**self.options, **options}
        if path is None or not Path(path).exists():
            raise NotFoundError("expected a folder of prediction PNGs, found nothing; check PREDS", path=path)
        if not Path(path).is_dir():
            raise UsageError(f"cityscapes-style expects PREDS to be a folder of PNGs, found a file: {path}")
        files = index_label_files(path)
        if not files:
            raise BadInputError("expected prediction PNGs in this folder, found none", path=path)
        gt_ids = self.sample_ids()
        index, used = {}, set()
        by_base: dict = {}
        for rel, p in files.items():
            by_base.setdefault(rel.rsplit("/", 1)[-1], []).append(rel)
        for sid in gt_ids:
            if sid in files:
                index[sid] = files[sid]
                used.add(sid)
            else:
                cand = by_base.get(sid.rsplit("/", 1)[-1], [])
                if len(cand) == 1:
                    index[sid] = files[cand[0]]
                    used.add(cand[0])
        extra = [r for r in files if r not in used]
        ls = self.label_space()
        enc = (opts.get("pred_encoding") or "id").lower().replace("-", "").replace("_", "")
        lut, allowed, colors = self._tables()
        threshold = opts.get("threshold")
        resize = opts.get("resize")
        C, ig = ls.num_classes, ls.ignore_index
        if enc in ("trainid", "train"):
            size = 256 if max(C, ig) < 256 else 65536
            p_lut, p_allowed = None, np.zeros(size, bool)
            p_allowed[:C] = True
            if 0 <= ig < size:
                p_allowed[ig] = True
            p_colors = {tuple(c.color): c.train_id for c in ls.eval_classes} if colors else None
        elif enc in ("id", "labelid", "native"):
            p_lut, p_allowed, p_colors = lut, allowed, colors
        else:
            raise UsageError(f"--pred-encoding: expected id or trainid for cityscapes-style, found {enc!r}")
        if threshold is not None and C != 2:
            raise UsageError(f"--threshold reads soft predictions for 2-class data; this label table has {C} classes")

        reader = LabelFileReader(p_lut, p_allowed, p_colors, resize, threshold, soft=threshold is not None)
        return FolderPredictions(path, index, reader, ig, extra=extra)

    # ---- fake twin
    @classmethod
    def make_fake(cls, root, num_samples: int = 4, seed: int = 0, num_classes: int = 4,
                  size: tuple = (24, 32), labels: str = "json", predictions: bool = False,
                  noise: float = 0.1, **options) -> Path:
        """Write ``root/gt/img_NNN.png`` (+ ``labels.json``/``labels.csv``) and, with ``predictions``,
        ``root/pred/img_NNN.png`` (GT with a fraction ``noise`` of pixels changed). Returns ``root/gt``."""
        rng = np.random.default_rng(seed)
        root = Path(root)
        gt = root / "gt"
        gt.mkdir(parents=True, exist_ok=True)
        names = [f"class_{i}" for i in range(num_classes)]
        if labels == "json":
            (gt / "labels.json").write_text(json.dumps(
                [{"name": n, "id": i, "color": [int(x) for x in rng.integers(0, 256, 3)]} for i, n in enumerate(names)]))
        elif labels == "csv":
            (gt / "labels.csv").write_text("id,name\n" + "".join(f"{i},{n}\n" for i, n in enumerate(names)))
        H, W = size
        for k in range(num_samples):
            m = _blocky(rng, H, W, num_classes)
            ign = rng.random((H, W)) < 0.05
            m[ign] = 255
            write_label(gt / f"img_{k:03d}.png", m)
            if predictions:
                p = m.copy()
                p[p == 255] = rng.integers(0, num_classes)
                flip = rng.random((H, W)) < noise
                p[flip] = rng.integers(0, num_classes, int(flip.sum()))
                write_label(root / "pred" / f"img_{k:03d}.png", p)
        return gt


def _blocky(rng, H, W, n, blocks=(3, 4)) -> np.ndarray:
    """A label map of random rectangles (nearest-seed Voronoi cells) with values 0..n-1."""
    k = int(rng.integers(blocks[0], blocks[1] + 4))
    ys = rng.integers(0, H, k)
    xs = rng.integers(0, W, k)
    lab = rng.integers(0, n, k)
    yy, xx = np.mgrid[0:H, 0:W]
    d = (yy[None] - ys[:, None, None]) ** 2 + (xx[None] - xs[:, None, None]) ** 2
    return lab[np.argmin(d, axis=0)].astype(np.uint8)

"""PASCAL VOC 2012 segmentation (``voc2012``), its SBD-augmented train list, and ``voc-style`` folders.

Native layout (``VOCtrainval_11-May-2012.tar``)::

    VOCdevkit/VOC2012/
      JPEGImages/<id>.jpg
      SegmentationClass/<id>.png          P-mode PNG; palette index = class id 0..20, 255 = void
                                          (object borders and difficult regions), VOC colour map
      ImageSets/Segmentation/{train,val,trainval}.txt   1464 / 1449 / 2913 ids
      SegmentationClassAug/<id>.png       (after `segbench prepare voc2012 --from benchmark.tgz`)
      ImageSets/Segmentation/trainaug.txt 10582 ids: (VOC train ∪ SBD train ∪ SBD val) − VOC val

Labels are read as palette *indices* (never converted to RGB); an RGB rendering is decoded with the
VOC colour map. Train ids equal VOC ids (0 = background, 1..20 objects); 255 stays void.

Examples
--------
>>> from segbench.datasets.voc import voc_colormap
>>> voc_colormap()[:3].tolist()
[[0, 0, 0], [128, 0, 0], [0, 128, 0]]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import BadInputError, NotFoundError
from ..io.labels import voc_palette
from ..types import IGNORE_INDEX, ClassSpec, LabelSpace, Sample, SemanticMask
from ._common import (SemanticFolderPredictions, decode_colors, pred_mode, read_array, resolve_root,
                      write_png)
from .base import DatasetAdapter, DatasetSpec, ManifestFile
from .styles import check_num_classes, load_label_table, num_classes_option, space_for_num_classes

__all__ = ["VOC2012", "VOCStyle", "voc_colormap", "VOC_CLASSES", "voc_label_space"]

VOC_CLASSES = ("background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
               "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
               "train", "tvmonitor")
VOID_COLOR = (224, 224, 192)


def voc_colormap(n: int = 256) -> np.ndarray:
    """The VOC devkit colour map (``VOClabelcolormap.m``): :func:`segbench.io.labels.voc_palette`.

    Returns ``(n, 3)`` uint8; index 255 is (224, 224, 192), the void colour.
    """
    return voc_palette(n)


def voc_label_space() -> LabelSpace:
    cm = voc_colormap()
    rows = [ClassSpec(n, i, i, is_thing=i > 0, color=tuple(int(v) for v in cm[i])) for i, n in enumerate(VOC_CLASSES)]
    rows.append(ClassSpec("void", 255, IGNORE_INDEX, ignore_in_eval=True, color=VOID_COLOR))
    return LabelSpace(rows, IGNORE_INDEX, "voc-21")


def _read_voc_label(path: Path, ls: LabelSpace) -> np.ndarray:
    arr = read_array(path)
    if arr.ndim == 3:  # an RGB rendering of the palette
        rows = ls.classes
        arr = decode_colors(arr[..., :3], [c.color for c in rows], [c.id for c in rows], IGNORE_INDEX,
                            strict_path=path)
    lut = ls.id_to_train_lut(256 if arr.max(initial=0) < 256 else 65536)
    valid = set(c.id for c in ls.classes)
    vals = np.unique(arr)
    bad = [int(v) for v in vals if int(v) not in valid]
    if bad:
        raise BadInputError(f"expected label ids {sorted(valid)[:5]}…{max(valid)}, found {bad[:5]}", path=path)
    return lut[arr.astype(np.int64)].astype(np.uint8)


def _read_list(path: Path) -> list:
    """Ids of an ImageSets list; also DrSleep's ``/JPEGImages/x.jpg /SegmentationClassAug/x.png`` lines."""
    ids = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        first = line.split()[0]
        ids.append(Path(first).stem if "/" in first or first.endswith((".jpg", ".png")) else first)
    return ids


def _is_voc_root(p: Path) -> bool:
    return (p / "SegmentationClass").is_dir() and (p / "ImageSets").is_dir()


class VOC2012(DatasetAdapter):
    """PASCAL VOC 2012 semantic segmentation (21 classes, 255 = void).

    Splits ``train`` (1464), ``val`` (1449), ``trainval`` (2913) and ``trainaug`` (10582, SBD-augmented:
    ``SegmentationClassAug``; run ``segbench prepare voc2012 --from benchmark.tgz`` to build it).

    Options
    -------
    pred_ids : train | native | color | auto
        Prediction PNG values (VOC ids = train ids, so ``train``/``native`` are the same here; P-mode
        palette PNGs are read as indices; RGB renderings as VOC colours).
    resize : nearest
        Resize predictions to the GT size.
    """

    #: Options this adapter reads (``--option KEY=VALUE``; others are reported).
    option_names = ("pred_encoding", "pred_ids", "resize")
    spec = DatasetSpec(
        name="voc2012", version="2012", task="semantic",
        splits={"train": 1464, "val": 1449, "trainval": 2913, "trainaug": 10582},
        default_split="val", default_metrics=("miou",),
        license="images: Flickr terms of use; annotations: PASCAL VOC (research use)",
        citation="@article{Everingham10,\n  author = {Everingham, M. and Van Gool, L. and Williams, C. K. I. and "
                 "Winn, J. and Zisserman, A.},\n  title = {The Pascal Visual Object Classes (VOC) Challenge},\n"
                 "  journal = {International Journal of Computer Vision},\n  volume = {88},\n  number = {2},\n"
                 "  pages = {303--338},\n  year = {2010}\n}",
        homepage="http://host.robots.ox.ac.uk/pascal/VOC/voc2012/",
        obtain="url",
        files=(ManifestFile("VOCtrainval_11-May-2012.tar",
                            "http://host.robots.ox.ac.uk/pascal/VOC/voc2012/VOCtrainval_11-May-2012.tar",
                            md5="6cd6e144f989b92b3379bac3b3de84fd", size=1999639040, extract=True),),
        size="2.0 GB (+1.4 GB SBD for trainaug)",
    )
    download_notes = ("For the SBD-augmented train list (trainaug, 10582 images) also fetch benchmark.tgz from "
                      "http://www.eecs.berkeley.edu/Research/Projects/CS/vision/grouping/semantic_contours/benchmark.tgz "
                      "(md5 82b4d87ceb2ed10f6038a1cba92111cb) and run `segbench prepare voc2012 --from benchmark.tgz`.")

    def __init__(self, root=None, split: str | None = None, **options):
        super().__init__(root, split, **options)
        self._root = None
        self._ids = None

    # ---- layout
    def dataset_root(self) -> Path:
        if self._root is None:
            self._root = resolve_root(self.spec.name, self.root, _is_voc_root, ("VOCdevkit/VOC2012", "VOC2012"))
        return self._root

    def label_space(self) -> LabelSpace:
        return voc_label_space()

    def _list_path(self) -> Path:
        d = self.dataset_root() / "ImageSets" / "Segmentation"
        names = [f"{self.split}.txt"] + (["trainaug.txt", "train_aug.txt"] if self.split == "trainaug" else [])
        for n in names:
            if (d / n).is_file():
                return d / n
        if self.split == "trainaug":
            raise NotFoundError("expected ImageSets/Segmentation/trainaug.txt (the SBD-augmented list), found none; "
                                "run `segbench prepare voc2012 --from benchmark.tgz` to build it", path=d)
        raise NotFoundError(f"expected the split list {self.split}.txt, found none (splits: train, val, trainval, "
                            "trainaug)", path=d)

    def sample_ids(self) -> list[str]:
        if self._ids is None:
            self._ids = _read_list(self._list_path())
        return list(self._ids)

    def gt_path(self, sid: str) -> Path:
        r = self.dataset_root()
        if self.split == "trainaug":
            for folder in ("SegmentationClassAug", "SegmentationClass"):
                p = r / folder / f"{sid}.png"
                if p.is_file():
                    return p
            raise NotFoundError(f"expected SegmentationClassAug/{sid}.png, found none; run `segbench prepare "
                                "voc2012 --from benchmark.tgz`", path=r)
        return r / "SegmentationClass" / f"{sid}.png"

    def load(self, sample_id: str) -> Sample:
        p = self.gt_path(sample_id)
        if not p.is_file():
            raise NotFoundError(f"expected the annotation of {sample_id}, found none", path=p)
        mask = _read_voc_label(p, self.label_space())
        img = self.dataset_root() / "JPEGImages" / f"{sample_id}.jpg"
        return Sample(sample_id, str(img) if img.is_file() else None, SemanticMask(mask),
                      {"gt_path": str(p), "split": self.split})

    def predictions(self, path, **options):
        return SemanticFolderPredictions(path, self.label_space(), pred_mode(options, "auto"),
                                         options.get("resize"))

    # ---- prepare: SBD → SegmentationClassAug + trainaug.txt
    @classmethod
    def prepare_root(cls, root, console=None, progress=None) -> None:
        """Build ``SegmentationClassAug`` and ``trainaug.txt`` / ``aug.txt`` when SBD's
        ``benchmark_RELEASE/dataset`` is under ``root`` (idempotent: existing PNGs are kept)."""
        root = Path(root)
        try:
            voc = resolve_root(cls.spec.name, root, _is_voc_root, ("VOCdevkit/VOC2012", "VOC2012"))
        except NotFoundError:
            return
        sbd = None
        for cand in [root, *sorted(p for p in root.rglob("dataset") if p.is_dir())]:
            if (cand / "cls").is_dir() and (cand / "train.txt").is_file():
                sbd = cand
                break
        if sbd is None:
            return
        convert_sbd_to_aug(voc, sbd, console=console, progress=progress)

    # ---- fake twin
    @classmethod
    def make_fake(cls, root, num_samples: int = 4, seed: int = 0, **options) -> Path:
        """VOCdevkit/VOC2012 with P-mode palette PNGs (255 void borders), JPEGs and split lists."""
        from PIL import Image
        rng = np.random.default_rng(seed)
        base = Path(root) / "VOCdevkit" / "VOC2012"
        for d in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
            (base / d).mkdir(parents=True, exist_ok=True)
        cm = voc_colormap()
        ids = [f"2007_{i:06d}" for i in range(num_samples)]
        for sid in ids:
            h, w = int(rng.integers(40, 64)), int(rng.integers(40, 64))
            m = np.zeros((h, w), np.uint8)
            for _ in range(int(rng.integers(1, 4))):
                c = int(rng.integers(1, 21))
                y0, x0 = int(rng.integers(0, h - 10)), int(rng.integers(0, w - 10))
                y1, x1 = y0 + int(rng.integers(6, 20)), x0 + int(rng.integers(6, 20))
                m[y0:y1, x0:x1] = 255  # void border (VOC style)
                m[y0 + 1:max(y0 + 1, y1 - 1), x0 + 1:max(x0 + 1, x1 - 1)] = c
            write_png(base / "SegmentationClass" / f"{sid}.png", m, palette=cm)
            Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(base / "JPEGImages" / f"{sid}.jpg")
        half = max(1, num_samples // 2)
        splits = {"train": ids[half:] or ids[:1], "val": ids[:half], "trainval": ids}
        for s, lst in splits.items():
            (base / "ImageSets" / "Segmentation" / f"{s}.txt").write_text("".join(i + "\n" for i in lst))
        return base


def convert_sbd_to_aug(voc: Path, sbd: Path, console=None, progress=None) -> int:
    """Write ``SegmentationClassAug/<id>.png`` (L-mode ids) from SBD ``cls/<id>.mat`` and VOC train
    annotations, plus ``trainaug.txt`` = (VOC train ∪ SBD train ∪ SBD val) − VOC val and ``aug.txt`` =
    SBD − (VOC train ∪ VOC val). VOC's own annotation is used for VOC train images (mmseg's
    train + aug concatenation); SBD's for the others. Returns the number of PNGs written."""
    from ..io.mat import load_mat
    seg = voc / "ImageSets" / "Segmentation"
    voc_train = _read_list(seg / "train.txt")
    voc_val = _read_list(seg / "val.txt")
    sbd_ids = _read_list(sbd / "train.txt") + _read_list(sbd / "val.txt")
    vset = set(voc_val)
    trainaug = sorted(set(voc_train + sbd_ids) - vset)
    aug = sorted(set(sbd_ids) - set(voc_train) - vset)
    out = voc / "SegmentationClassAug"
    out.mkdir(exist_ok=True)
    ls = voc_label_space()
    written = 0
    todo = [i for i in trainaug if not (out / f"{i}.png").is_file()]
    bar = _bar(console, progress, "SegmentationClassAug", len(todo))
    train_set = set(voc_train)
    for k, sid in enumerate(todo):
        vp = voc / "SegmentationClass" / f"{sid}.png"
        if sid in train_set and vp.is_file():
            m = _read_voc_label(vp, ls)
        else:
            mp = sbd / "cls" / f"{sid}.mat"
            if not mp.is_file():
                raise NotFoundError(f"expected SBD annotation cls/{sid}.mat (listed in SBD train/val), found none",
                                    path=sbd)
            try:
                m = np.asarray(load_mat(mp)["GTcls"][0]["Segmentation"][0], np.uint8)
            except (KeyError, IndexError, ValueError) as e:
                raise BadInputError(f"expected a GTcls struct with a Segmentation field, found {e}", path=mp) from None
        write_png(out / f"{sid}.png", m)
        written += 1
        bar(k + 1)
    (seg / "trainaug.txt").write_text("".join(i + "\n" for i in trainaug))
    (seg / "aug.txt").write_text("".join(i + "\n" for i in aug))
    bar(None)
    return written


def _bar(console, progress, label: str, total: int):
    """A small rich progress callback ``cb(done)``; ``cb(None)`` closes it."""
    enabled = progress if progress is not None else bool(console is not None and console.is_terminal)
    if not enabled or total == 0:
        return lambda done: None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    prog = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=console)
    prog.start()
    task = prog.add_task(label, total=total)

    def cb(done):
        if done is None:
            prog.stop()
        else:
            prog.update(task, completed=done)
    return cb


# ----------------------------------------------------------------------------- voc-style
class VOCStyle(VOC2012):
    """Users' own data in the VOC layout: ``SegmentationClass/*.png`` (P or L mode ids, 255 = void),
    optional ``ImageSets/Segmentation/<split>.txt`` (else every PNG) and ``JPEGImages``.

    Classes: ``--labels labels.json|labels.csv`` (the forms of ``cityscapes-style``; no evaluated class
    may have the void id 255) or ``--num-classes N`` (ids 0..N-1; above 255 classes the void id moves to
    65535), else the 21 VOC classes. ``--gt`` may point at the folder holding ``SegmentationClass`` or at a PNG folder.
    """

    #: Options this adapter reads (``--option KEY=VALUE``; others are reported).
    option_names = ("labels", "num_classes", "pred_encoding", "pred_ids", "resize")
    spec = DatasetSpec(
        name="voc-style", version="1", task="semantic", splits={}, default_split="val",
        default_metrics=("miou",), license="your data", obtain="manual",
        homepage="http://host.robots.ox.ac.uk/pascal/VOC/voc2012/htmldoc/devkit_doc.html",
        citation=VOC2012.spec.citation)

    def label_space(self) -> LabelSpace:
        ls = self.__dict__.get("_ls")  # read once: load() asks for it on every sample
        if ls is None:
            ls = self._ls = self._read_label_space()
        return ls

    def _read_label_space(self) -> LabelSpace:
        # one label-table reader for every style (forms: segbench.datasets.styles); VOC adds one rule:
        # the ignore index is void, so an evaluated class cannot carry it as its id
        n = num_classes_option(self.options.get("num_classes"))
        lab = self.options.get("labels")
        if not lab:
            return voc_label_space() if n is None else space_for_num_classes(n)
        ls = check_num_classes(load_label_table(lab), n, lab)
        clash = [c for c in ls.eval_classes if c.id == ls.ignore_index]
        if clash:
            raise BadInputError(f"expected class ids other than {ls.ignore_index} (void in the VOC layout), found "
                                f"class {clash[0].name!r} with id {ls.ignore_index}; give it another id, mark it "
                                f"ignore_in_eval, or move the void id with labels.json's "
                                f"{{\"classes\": [...], \"ignore_index\": N}} form", path=lab)
        return ls

    def dataset_root(self) -> Path:
        if self._root is None:
            if self.root is None or not Path(self.root).exists():
                raise NotFoundError(f"voc-style ground truth not found at {self.root}; pass --gt pointing at a "
                                    "folder with SegmentationClass/ (see `segbench download voc-style`)")
            self._root = Path(self.root)
        return self._root

    def _gt_dir(self) -> Path:
        r = self.dataset_root()
        return r / "SegmentationClass" if (r / "SegmentationClass").is_dir() else r

    def sample_ids(self) -> list[str]:
        if self._ids is None:
            lst = self.dataset_root() / "ImageSets" / "Segmentation" / f"{self.split}.txt"
            if lst.is_file():
                self._ids = _read_list(lst)
            else:
                self._ids = sorted(p.stem for p in self._gt_dir().glob("*.png"))
                if not self._ids:
                    raise NotFoundError("expected label PNGs (<id>.png), found none", path=self._gt_dir())
        return list(self._ids)

    def gt_path(self, sid: str) -> Path:
        return self._gt_dir() / f"{sid}.png"

    def load(self, sample_id: str) -> Sample:
        p = self.gt_path(sample_id)
        if not p.is_file():
            raise NotFoundError(f"expected the annotation of {sample_id}, found none", path=p)
        ls = self.label_space()
        arr = read_array(p)
        if arr.ndim == 3:
            rows = [c for c in ls.classes]
            arr = decode_colors(arr[..., :3], [c.color for c in rows], [c.id for c in rows], ls.ignore_index,
                                strict_path=p)
        known = {c.id for c in ls.classes} | {ls.ignore_index}
        vals = [int(v) for v in np.unique(arr) if int(v) not in known]
        if vals:
            raise BadInputError(f"expected ids of the label table ({ls.num_classes} classes) or "
                                f"{ls.ignore_index}, found {vals[:5]}; pass --labels or --num-classes", path=p)
        lut = ls.id_to_train_lut(65536)
        mask = lut[arr.astype(np.int64)]
        mask = mask.astype(np.uint8) if mask.max(initial=0) < 256 else mask
        img = self.dataset_root() / "JPEGImages" / f"{sample_id}.jpg"
        return Sample(sample_id, str(img) if img.is_file() else None, SemanticMask(mask), {"gt_path": str(p)})

    @classmethod
    def prepare_root(cls, root, console=None, progress=None) -> None:
        return None

    @classmethod
    def make_fake(cls, root, num_samples: int = 4, seed: int = 0, **options) -> Path:
        base = VOC2012.make_fake(root, num_samples, seed)
        return base

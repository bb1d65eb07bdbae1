"""Cityscapes (fine annotations), registry name ``cityscapes``.

Native layout (``--gt ROOT``; ``ROOT/gtFine`` itself is accepted too)::

    ROOT/leftImg8bit/<split>/<city>/<city>_<seq>_<frame>_leftImg8bit.png
    ROOT/gtFine/<split>/<city>/<city>_<seq>_<frame>_gtFine_labelIds.png     8-bit label ids 0..33
    ROOT/gtFine/<split>/<city>/<city>_<seq>_<frame>_gtFine_instanceIds.png  16-bit: id*1000+k for
                                                                             instances, else label id

Sample ids are ``<city>_<seq>_<frame>`` (e.g. ``frankfurt_000000_000294``). The GT label ids are mapped
to the 19 train ids (ignored labels → 255) with the official table :data:`LABELS` (cityscapesScripts
``helpers/labels.py``); instance ids are kept for iIoU. Targets are
:class:`~segbench.io.labels.NativeSemanticMask` objects: ``target.mask`` gives the train ids (checked:
a label id outside 0..33 is an error naming the file, the ids and their pixel counts), while ``miou``
folds the table into its histogram and never maps pixels one by one.

Predictions (``PREDS``): a folder (searched recursively) of single-channel PNGs, one per GT image,
whose name contains ``<city>_<seq>_<frame>`` (the cityscapesScripts convention, e.g.
``frankfurt_000000_000294_leftImg8bit.png`` or ``frankfurt_000000_000294_pred.png``). Encodings
(``--pred-encoding``): ``labelid`` (default, as the official evaluator and the benchmark server
expect; ignored label ids such as 0 = unlabeled are *void* predictions, wrong wherever the GT is
evaluated; 255 is read as void too), ``trainid`` (0..18, 255 = void) or ``color`` (RGB colour-coded
with the official colours). Two files for one image are an error unless exactly one of them ends in
``labelIds`` / ``trainIds`` (matching the encoding).

Metric: ``miou`` with the official definitions: class IoU, iIoU (instance-size weighted, with
cityscapesScripts' average instance sizes), and the 7 category IoU / iIoU; see
:class:`segbench.metrics.semantic.MeanIoU`.

cityscapesScripts' *category* iIoU counts a pixel of a vehicle instance predicted as ``caravan`` or
``trailer`` (ignored label ids of the vehicle category) as a category hit, although everywhere else such
a prediction is void. segbench matches this: in ``labelid`` (and ``color``) encoding, ignored label ids
of an evaluated category are read as void codes ``254 - k`` that the metric scores as void but keeps
in category ``k`` for the category iIoU (metric option ``void_categories``). ``trainid`` predictions
cannot express these ids. The adapter option ``strict_category_iiou=True`` turns the quirk off.

References
----------
M. Cordts et al., "The Cityscapes Dataset for Semantic Urban Scene Understanding", CVPR 2016.
https://github.com/mcordts/cityscapesScripts

Examples
--------
>>> import tempfile
>>> root = Cityscapes.make_fake(tempfile.mkdtemp(), num_samples=2, seed=0)
>>> ds = Cityscapes(root)
>>> ds.sample_ids()
['frankfurt_000000_000000', 'frankfurt_000000_000001']
>>> ds.label_space().num_classes, ds.load(ds.sample_ids()[0]).target.mask.dtype
(19, dtype('uint8'))
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..errors import BadInputError, NotFoundError, UsageError
from ..io.labels import NativeSemanticMask, read_label, read_label_lazy, write_color_label, write_label
from ..types import ClassSpec, LabelSpace, Sample
from .base import DatasetAdapter, DatasetSpec, ManifestFile
from .styles import FolderPredictions, LabelFileReader

__all__ = ["Cityscapes", "LABELS", "AVG_CLASS_SIZE", "cityscapes_label_space", "write_fake_predictions",
           "void_category_codes"]

# name, id, trainId, category, catId, hasInstances, ignoreInEval, color  (cityscapesScripts labels.py)
_TABLE = [
    ("unlabeled", 0, 255, "void", 0, False, True, (0, 0, 0)),
    ("ego vehicle", 1, 255, "void", 0, False, True, (0, 0, 0)),
    ("rectification border", 2, 255, "void", 0, False, True, (0, 0, 0)),
    ("out of roi", 3, 255, "void", 0, False, True, (0, 0, 0)),
    ("static", 4, 255, "void", 0, False, True, (0, 0, 0)),
    ("dynamic", 5, 255, "void", 0, False, True, (111, 74, 0)),
    ("ground", 6, 255, "void", 0, False, True, (81, 0, 81)),
    ("road", 7, 0, "flat", 1, False, False, (128, 64, 128)),
    ("sidewalk", 8, 1, "flat", 1, False, False, (244, 35, 232)),
    ("parking", 9, 255, "flat", 1, False, True, (250, 170, 160)),
    ("rail track", 10, 255, "flat", 1, False, True, (230, 150, 140)),
    ("building", 11, 2, "construction", 2, False, False, (70, 70, 70)),
    ("wall", 12, 3, "construction", 2, False, False, (102, 102, 156)),
    ("fence", 13, 4, "construction", 2, False, False, (190, 153, 153)),
    ("guard rail", 14, 255, "construction", 2, False, True, (180, 165, 180)),
    ("bridge", 15, 255, "construction", 2, False, True, (150, 100, 100)),
    ("tunnel", 16, 255, "construction", 2, False, True, (150, 120, 90)),
    ("pole", 17, 5, "object", 3, False, False, (153, 153, 153)),
    ("polegroup", 18, 255, "object", 3, False, True, (153, 153, 153)),
    ("traffic light", 19, 6, "object", 3, False, False, (250, 170, 30)),
    ("traffic sign", 20, 7, "object", 3, False, False, (220, 220, 0)),
    ("vegetation", 21, 8, "nature", 4, False, False, (107, 142, 35)),
    ("terrain", 22, 9, "nature", 4, False, False, (152, 251, 152)),
    ("sky", 23, 10, "sky", 5, False, False, (70, 130, 180)),
    ("person", 24, 11, "human", 6, True, False, (220, 20, 60)),
    ("rider", 25, 12, "human", 6, True, False, (255, 0, 0)),
    ("car", 26, 13, "vehicle", 7, True, False, (0, 0, 142)),
    ("truck", 27, 14, "vehicle", 7, True, False, (0, 0, 70)),
    ("bus", 28, 15, "vehicle", 7, True, False, (0, 60, 100)),
    ("caravan", 29, 255, "vehicle", 7, True, True, (0, 0, 90)),
    ("trailer", 30, 255, "vehicle", 7, True, True, (0, 0, 110)),
    ("train", 31, 16, "vehicle", 7, True, False, (0, 80, 100)),
    ("motorcycle", 32, 17, "vehicle", 7, True, False, (0, 0, 230)),
    ("bicycle", 33, 18, "vehicle", 7, True, False, (119, 11, 32)),
    ("license plate", -1, -1, "vehicle", 7, False, True, (0, 0, 142)),
]

#: The 35 official labels as ClassSpec rows (train id 255 for the ignored ones, incl. license plate -1).
LABELS = [ClassSpec(n, i, 255 if (ign or t < 0) else t, cat, inst, ign, col)
          for (n, i, t, cat, _cid, inst, ign, col) in _TABLE]

#: Category ids of cityscapesScripts (``catId``).
CATEGORY_IDS = {"void": 0, "flat": 1, "construction": 2, "object": 3, "nature": 4, "sky": 5, "human": 6,
                "vehicle": 7}

#: Average instance size (pixels) per class over the training set, cityscapesScripts' ``args.avgClassSize``
#: (the iIoU weights).
AVG_CLASS_SIZE = {
    "bicycle": 4672.3249222261, "caravan": 36771.8241758242, "motorcycle": 6298.7200839748,
    "rider": 3930.4788056518, "bus": 35732.1511111111, "train": 67583.7075812274,
    "car": 12794.0202738185, "person": 3462.4756337644, "truck": 27855.1264367816,
    "trailer": 16926.9763313609,
}

_SAMPLE_RE = re.compile(r"([A-Za-z][A-Za-z\-]*)_(\d{6})_(\d{6})")
_CITIES_VAL = ("frankfurt", "lindau", "munster")


def void_category_codes(ls: LabelSpace | None = None) -> dict:
    """``{native label id: code}`` for ignored labels of an evaluated category (caravan, parking...):
    code ``254 - k`` for category ``k`` of ``ls.categories()``. Predictions of those ids are void but
    keep their category, which cityscapesScripts' category iIoU uses (see the module docstring)."""
    ls = ls or cityscapes_label_space()
    cats = ls.categories()
    return {c.id: 254 - cats.index(c.category) for c in ls.classes
            if c.ignore_in_eval and c.id >= 0 and c.category in cats}


def cityscapes_label_space() -> LabelSpace:
    """The official Cityscapes label table (19 evaluated classes, ignore 255)."""
    return LabelSpace(LABELS, 255, "cityscapes-19")


_CITATION = """@inproceedings{Cordts2016Cityscapes,
  title={The Cityscapes Dataset for Semantic Urban Scene Understanding},
  author={Cordts, Marius and Omran, Mohamed and Ramos, Sebastian and Rehfeld, Timo and Enzweiler, Markus and Benenson, Rodrigo and Franke, Uwe and Roth, Stefan and Schiele, Bernt},
  booktitle={Proc. of the IEEE Conference on Computer Vision and Pattern Recognition (CVPR)},
  year={2016}
}"""


class Cityscapes(DatasetAdapter):
    """Cityscapes fine annotations in the native layout (see the module docstring).

    Parameters
    ----------
    root : path
        Dataset root holding ``gtFine/`` (and ``leftImg8bit/``), or the ``gtFine`` folder itself.
    split : {'train', 'val', 'test'}, default 'val'
    pred_encoding : {'labelid', 'trainid', 'color'}, default 'labelid'
    resize : {None, 'nearest'}
    instances : bool, default True
        Read ``*_instanceIds.png`` (when present) for iIoU.
    strict_category_iiou : bool, default False
        The fix for cityscapesScripts' category-iIoU quirk (see the module docstring): predictions of
        ignored label ids are plain void everywhere, also in the category iIoU. Default: match the
        reference.
    """

    #: Options this adapter reads (``--option KEY=VALUE``; others are reported).
    option_names: ClassVar[tuple] = ("instance_avg_size", "instances", "pred_encoding", "resize", "strict_category_iiou")
    spec: ClassVar[DatasetSpec] = DatasetSpec(
        name="cityscapes", version="1", task="semantic",
        splits={"train": 2975, "val": 500, "test": 1525}, default_split="val", default_metrics=("miou",),
        license="Cityscapes Dataset License (non-commercial research and teaching; registration required)",
        citation=_CITATION, homepage="https://www.cityscapes-dataset.com", obtain="login",
        files=(ManifestFile("gtFine_trainvaltest.zip",
                            "https://www.cityscapes-dataset.com/file-handling/?packageID=1", size=252567705,
                            extract=True),
               ManifestFile("leftImg8bit_trainvaltest.zip",
                            "https://www.cityscapes-dataset.com/file-handling/?packageID=3", size=11592327197,
                            extract=True)),
        size="241 MB (gtFine) + 11 GB (leftImg8bit)")

    def __init__(self, root, split: str | None = None, **options: Any):
        super().__init__(root, split, **options)
        self._index: dict | None = None

    # ---- layout
    def gt_split_dir(self) -> Path:
        root = self.require_root()
        cands = [root / "gtFine" / self.split, root / self.split]
        if root.name == self.split:
            cands.append(root)
        for c in cands:
            if c.is_dir():
                return c
        have = sorted(p.name for p in (root / "gtFine").iterdir() if p.is_dir()) if (root / "gtFine").is_dir() else []
        raise NotFoundError(f"expected Cityscapes ground truth in gtFine/{self.split}/<city>/ under the root, found "
                            f"{'splits ' + ', '.join(have) if have else 'no gtFine folder'}; pass --gt pointing at "
                            f"the Cityscapes root (holding gtFine/) or --split", path=root)

    def _files(self) -> dict:
        if self._index is None:
            d = self.gt_split_dir()
            idx = {}
            for dirpath, dirnames, filenames in os.walk(d):
                dirnames.sort()
                for fn in filenames:
                    if fn.endswith("_gtFine_labelIds.png"):
                        sid = fn[: -len("_gtFine_labelIds.png")]
                        idx[sid] = os.path.join(dirpath, fn)
            self._index = dict(sorted(idx.items()))
        return self._index

    def label_space(self) -> LabelSpace:
        return cityscapes_label_space()

    def sample_ids(self) -> list[str]:
        ids = list(self._files())
        if not ids:
            d = self.gt_split_dir()
            polys = next(iter(d.rglob("*_gtFine_polygons.json")), None)
            hint = (f"found polygons ({polys.name}) but no label PNGs: render them with cityscapesScripts' "
                    f"csCreateTrainIdLabelImgs / json2labelImg, or unpack the official gtFine_trainvaltest.zip, "
                    f"which ships the PNGs" if polys is not None else "found none")
            raise NotFoundError(f"expected <city>/*_gtFine_labelIds.png files, {hint}", path=d)
        return ids

    def metric_options(self, metric_name: str) -> dict:
        if metric_name in ("miou",):
            ls = self.label_space()
            cats = ls.categories()
            opts = {} if self.options.get("strict_category_iiou") else \
                {"void_categories": {str(254 - k): c for k, c in enumerate(cats)}}
            if self.options.get("instances", True):
                opts["instance_avg_size"] = dict(AVG_CLASS_SIZE)
            return opts
        return {}

    def load(self, sample_id: str) -> Sample:
        gt_path = self._files().get(sample_id)
        if gt_path is None:
            raise NotFoundError(f"expected {sample_id}_gtFine_labelIds.png, found none", path=self.gt_split_dir())
        ls = self.label_space()
        lut = ls.id_to_train_lut(256)
        allowed = [c.id for c in ls.classes if c.id >= 0]
        target = read_label_lazy(gt_path, lut=lut, allowed=allowed)
        inst = None
        inst_path = gt_path[: -len("labelIds.png")] + "instanceIds.png"
        if self.options.get("instances", True) and os.path.exists(inst_path):
            inst = read_label(inst_path, expected_shape=target.shape)
            target = read_label_lazy(gt_path, lut=lut, allowed=allowed, instance_ids=inst) \
                if not hasattr(target, "native") else NativeSemanticMask(target.native, target.lut, inst, gt_path)
        city = sample_id.split("_")[0]
        split_dir = self.gt_split_dir()
        img_root = split_dir.parent.parent / "leftImg8bit" / self.split
        image = img_root / city / f"{sample_id}_leftImg8bit.png"
        return Sample(sample_id, str(image), target,
                      {"city": city, "gt_path": gt_path, "instance_path": inst_path if inst is not None else None})

    # ---- predictions
    def predictions(self, path, **options) -> FolderPredictions:
        opts = {**self.options, **options}
        enc = (opts.get("pred_encoding") or "labelid").lower().replace("-", "").replace("_", "")
        if enc in ("labelids", "id", "ids"):
            enc = "labelid"
        if enc in ("trainids", "train"):
            enc = "trainid"
        if enc not in ("labelid", "trainid", "color", "colour"):
            raise UsageError(f"--pred-encoding: expected labelid, trainid or color for cityscapes, found {enc!r}")
        if path is None or not Path(path).exists():
            raise NotFoundError("expected a folder of prediction PNGs, found nothing; check PREDS", path=path)
        if not Path(path).is_dir():
            raise UsageError(f"cityscapes expects PREDS to be a folder of PNGs, found a file: {path}")
        gt_ids = set(self.sample_ids())
        found: dict = {}
        extra: list = []
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames.sort()
            for fn in sorted(filenames):
                if not fn.lower().endswith(".png"):
                    continue
                keys = ["_".join(m.groups()) for m in _SAMPLE_RE.finditer(fn)]
                hit = [k for k in keys if k in gt_ids]
                full = os.path.join(dirpath, fn)
                if hit:
                    found.setdefault(hit[0], []).append(full)
                elif keys:
                    extra.append(keys[0])
                else:
                    extra.append(os.path.relpath(full, path))
        index = {}
        suffix = {"labelid": "labelids", "trainid": "trainids", "color": "color", "colour": "color"}[enc]
        for sid, files in found.items():
            if len(files) == 1:
                index[sid] = files[0]
                continue
            pref = [f for f in files if Path(f).stem.lower().endswith(suffix)]
            if len(pref) == 1:
                index[sid] = pref[0]
                continue
            raise BadInputError(f"expected one prediction per image, found {len(files)} for {sid}: "
                                f"{', '.join(os.path.relpath(f, path) for f in files[:4])}; keep one (or name "
                                f"the right one *_{'labelIds' if enc == 'labelid' else 'trainIds'}.png)", path=path)
        if not index and not extra:
            raise BadInputError("expected prediction PNGs named <city>_<seq>_<frame>*.png, found none", path=path)
        ls = self.label_space()
        resize = opts.get("resize")
        if enc == "labelid":
            lut = ls.id_to_train_lut(256)
            if not opts.get("strict_category_iiou"):
                for lid, code in void_category_codes(ls).items():
                    lut[lid] = code
            lut[255] = 255
            allowed = [c.id for c in ls.classes if c.id >= 0] + [255]
            colors = None
        elif enc == "trainid":
            lut = None
            allowed = list(range(ls.num_classes)) + [255]
            colors = None
        else:
            lut = None
            allowed = None
            colors = {}
            for c in ls.eval_classes:
                colors.setdefault(tuple(c.color), c.train_id)
            codes = {} if opts.get("strict_category_iiou") else void_category_codes(ls)
            for c in ls.classes:
                colors.setdefault(tuple(c.color), codes.get(c.id, 255))

        return FolderPredictions(path, index, LabelFileReader(lut, allowed, colors, resize), 255, extra=extra)

    # ---- fake twin
    @classmethod
    def make_fake(cls, root, num_samples: int = 4, seed: int = 0, split: str = "val",
                  size: tuple = (64, 128), cities: tuple = _CITIES_VAL, images: bool = True, **options) -> Path:
        """Write a fake Cityscapes tree (labelIds + instanceIds + colour GT + images) and return its root.

        Label maps are random Voronoi cells over all 34 label ids (ignored ones included); thing cells
        get instance ids ``id*1000+k`` (some stay crowd regions without an instance id, as in the real
        data). Sample ``k`` goes to city ``cities[(k // 2) % len(cities)]`` with ids ``<city>_000000_<k:06d>``.
        """
        rng = np.random.default_rng(seed)
        root = Path(root)
        H, W = size
        thing_ids = [c.id for c in LABELS if c.is_thing]
        colors = {c.id: c.color for c in LABELS if c.id >= 0}
        for k in range(num_samples):
            city = cities[(k // 2) % len(cities)]
            sid = f"{city}_{0:06d}_{k:06d}"
            lab, inst = _fake_maps(rng, H, W, thing_ids)
            gdir = root / "gtFine" / split / city
            write_label(gdir / f"{sid}_gtFine_labelIds.png", lab)
            write_label(gdir / f"{sid}_gtFine_instanceIds.png", inst.astype(np.uint16))
            write_color_label(gdir / f"{sid}_gtFine_color.png", lab, colors)
            if images:
                img = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
                from PIL import Image
                from ..io.atomic import atomic_open
                with atomic_open(root / "leftImg8bit" / split / city / f"{sid}_leftImg8bit.png") as f:
                    Image.fromarray(img, "RGB").save(f, format="PNG")
        return root


def _fake_maps(rng, H: int, W: int, thing_ids, n_cells: int | None = None):
    n = int(n_cells or rng.integers(8, 20))
    ys = rng.integers(0, H, n)
    xs = rng.integers(0, W, n)
    ids = rng.integers(0, 34, n)
    # bias towards evaluated classes and things so every test image has some
    ids[: n // 3] = rng.choice(thing_ids, n // 3)
    yy, xx = np.mgrid[0:H, 0:W]
    d = (yy[None] - ys[:, None, None]) ** 2 + ((xx[None] - xs[:, None, None]) // 2) ** 2
    cell = np.argmin(d, axis=0)
    lab = ids[cell].astype(np.uint8)
    inst = lab.astype(np.int32)
    counters: dict = {}
    for c in range(n):
        lid = int(ids[c])
        if lid in thing_ids and rng.random() < 0.85:  # the rest stay crowd / group regions
            k = counters.get(lid, 0)
            counters[lid] = k + 1
            inst[cell == c] = lid * 1000 + k
    return lab, inst


def write_fake_predictions(gt_root, out_dir, split: str = "val", seed: int = 0, noise: float = 0.1,
                           encoding: str = "labelid", suffix: str = "_pred") -> list:
    """Write noisy predictions for the fake (or real) GT under ``gt_root``: each GT label map with a
    fraction ``noise`` of pixels set to random label ids (all 34, ignored ones included) and a shifted
    band, in ``labelid`` or ``trainid`` encoding. Returns the written paths."""
    rng = np.random.default_rng(seed)
    ds = Cityscapes(gt_root, split=split, instances=False)
    lut = ds.label_space().id_to_train_lut(256)
    out = []
    for sid, gp in ds._files().items():
        lab = read_label(gp)
        p = lab.copy()
        flip = rng.random(p.shape) < noise
        p[flip] = rng.integers(0, 34, int(flip.sum()))
        sh = int(rng.integers(1, 4))
        p[:, sh:] = np.where(rng.random(p.shape[1] - sh) < 0.3, p[:, :-sh], p[:, sh:])
        if encoding == "trainid":
            p = lut[p]
        dst = Path(out_dir) / f"{sid}{suffix}.png"
        write_label(dst, p)
        out.append(str(dst))
    return out

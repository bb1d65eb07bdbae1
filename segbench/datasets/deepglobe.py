"""DeepGlobe 2018 land cover classification (``deepglobe-landcover``) and road extraction
(``deepglobe-roads``).

Native layout (challenge release, also the Kaggle mirrors)::

    land cover: {train,valid,test}/<id>_sat.jpg   2448×2448 RGB, 50 cm
                train/<id>_mask.png               RGB colour-coded, 7 classes (below)
    roads:      {train,valid,test}/<id>_sat.jpg   1024×1024 RGB, 50 cm
                train/<id>_mask.png               road = white, background = black

Only ``train`` has public masks (803 land-cover tiles, 6226 road tiles). The masks were saved with
lossy artefacts, so the challenge prescribes binarising each channel at 128 before mapping colours to
classes; segbench does exactly that. Land-cover classes (colour → id): urban (0,255,255) 0,
agriculture (255,255,0) 1, rangeland (255,0,255) 2, forest (0,255,0) 3, water (0,0,255) 4,
barren (255,255,255) 5, unknown (0,0,0) 6 — unknown is not evaluated (train id 255), nor is the one
3-bit colour that is no class (red).

Examples
--------
>>> from segbench.datasets.deepglobe import landcover_label_space
>>> landcover_label_space().names
['urban_land', 'agriculture_land', 'rangeland', 'forest_land', 'water', 'barren_land']
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import BadInputError, NotFoundError
from ..types import IGNORE_INDEX, ClassSpec, LabelSpace, Sample, SemanticMask
from ._common import (SemanticFolderPredictions, decode_colors_threshold, pred_mode, read_array, resolve_root,
                      write_png)
from .base import DatasetAdapter, DatasetSpec, ManifestFile

__all__ = ["DeepGlobeLandCover", "DeepGlobeRoads", "landcover_label_space", "roads_label_space"]

LANDCOVER = (("urban_land", (0, 255, 255)), ("agriculture_land", (255, 255, 0)), ("rangeland", (255, 0, 255)),
             ("forest_land", (0, 255, 0)), ("water", (0, 0, 255)), ("barren_land", (255, 255, 255)))
UNKNOWN = ("unknown", (0, 0, 0))

_CITATION = ("@inproceedings{demir2018deepglobe,\n  title = {DeepGlobe 2018: A Challenge to Parse the Earth "
             "through Satellite Images},\n  author = {Demir, Ilke and Koperski, Krzysztof and Lindenbaum, David "
             "and Pang, Guan and Huang, Jing and Basu, Saikat and Hughes, Forest and Tuia, Devis and Raskar, "
             "Ramesh},\n  booktitle = {Proceedings of the IEEE Conference on Computer Vision and Pattern "
             "Recognition Workshops (CVPRW)},\n  pages = {172--181},\n  year = {2018}\n}")
_LICENSE = "DeepGlobe challenge terms (imagery © DigitalGlobe; non-commercial research use)"
_SPLITS = ("train", "valid", "test")


def landcover_label_space() -> LabelSpace:
    rows = [ClassSpec(n, i, i, color=c) for i, (n, c) in enumerate(LANDCOVER)]
    rows.append(ClassSpec(UNKNOWN[0], 6, IGNORE_INDEX, ignore_in_eval=True, color=UNKNOWN[1]))
    return LabelSpace(rows, IGNORE_INDEX, "deepglobe-landcover-6")


def roads_label_space() -> LabelSpace:
    return LabelSpace([ClassSpec("background", 0, 0, color=(0, 0, 0)),
                       ClassSpec("road", 1, 1, is_thing=False, color=(255, 255, 255))], IGNORE_INDEX,
                      "deepglobe-roads")


def _has_split_dirs(p: Path) -> bool:
    return (p / "train").is_dir() and any((p / "train").glob("*_sat.jpg"))


class _DeepGlobe(DatasetAdapter):
    def __init__(self, root=None, split: str | None = None, **options):
        super().__init__(root, split, **options)
        if self.split not in _SPLITS:
            raise BadInputError(f"expected split train, valid or test, found {self.split!r}")
        self._root = None
        self._ids = None

    def dataset_root(self) -> Path:
        if self._root is None:
            self._root = resolve_root(self.spec.name, self.root, _has_split_dirs)
        return self._root

    def sample_ids(self) -> list[str]:
        if self._ids is None:
            d = self.dataset_root() / self.split
            if not d.is_dir():
                raise NotFoundError(f"expected the {self.split}/ folder, found nothing", path=d)
            masks = sorted(p.name[: -len("_mask.png")] for p in d.glob("*_mask.png"))
            if not masks:
                sats = list(d.glob("*_sat.jpg"))
                raise NotFoundError(f"expected <id>_mask.png ground truth in {self.split}/, found "
                                    f"{len(sats)} images and no masks (DeepGlobe released masks only for train; "
                                    "use --split train)", path=d)
            self._ids = masks
        return list(self._ids)

    def _paths(self, sid: str):
        d = self.dataset_root() / self.split
        return d / f"{sid}_mask.png", d / f"{sid}_sat.jpg"

    def predictions(self, path, **options):
        return SemanticFolderPredictions(path, self.label_space(), pred_mode(options, "auto"),
                                         options.get("resize"), suffix="_mask",
                                         color_decoder=self._color_decoder())

    def _color_decoder(self):
        return None


class DeepGlobeLandCover(_DeepGlobe):
    """DeepGlobe land cover: 6 evaluated classes + unknown (ignored); colours binarised at 128.

    Predictions: ``<id>_mask.png`` (or ``<id>.png``) RGB colour-coded like the GT, or single-channel train ids.
    """

    #: Options this adapter reads (``--option KEY=VALUE``; others are reported).
    option_names = ("pred_encoding", "pred_ids", "resize")
    spec = DatasetSpec(
        name="deepglobe-landcover", version="2018", task="semantic",
        splits={"train": 803, "valid": 171, "test": 172}, default_split="train", default_metrics=("miou",),
        license=_LICENSE, citation=_CITATION, homepage="http://deepglobe.org/challenge.html", obtain="kaggle",
        files=(ManifestFile("deepglobe-land-cover-classification-dataset.zip",
                            "kaggle://datasets/balraj98/deepglobe-land-cover-classification-dataset", extract=True),),
        size="2.7 GB",
    )

    def label_space(self) -> LabelSpace:
        return landcover_label_space()

    def decode_mask(self, rgb: np.ndarray) -> np.ndarray:
        ls = self.label_space()
        return decode_colors_threshold(rgb[..., :3], [c.color for c in ls.classes],
                                       [c.train_id for c in ls.classes], 128, IGNORE_INDEX).astype(np.uint8)

    def _color_decoder(self):
        return self.decode_mask

    def load(self, sample_id: str) -> Sample:
        mp, ip = self._paths(sample_id)
        if not mp.is_file():
            raise NotFoundError(f"expected the mask of {sample_id}, found none", path=mp)
        arr = read_array(mp)
        if arr.ndim != 3:
            raise BadInputError(f"expected an RGB colour-coded mask, found a {arr.ndim}-D array", path=mp)
        return Sample(sample_id, str(ip) if ip.is_file() else None, SemanticMask(self.decode_mask(arr)),
                      {"gt_path": str(mp), "split": self.split})

    @classmethod
    def make_fake(cls, root, num_samples: int = 4, seed: int = 0, **options) -> Path:
        """``train/<id>_sat.jpg`` + ``<id>_mask.png`` with JPEG-like colour noise (< 128 off the pure values)."""
        from PIL import Image
        rng = np.random.default_rng(seed)
        base = Path(root) / "deepglobe-landcover"
        (base / "train").mkdir(parents=True, exist_ok=True)
        (base / "valid").mkdir(parents=True, exist_ok=True)
        cols = np.array([c for _, c in LANDCOVER] + [UNKNOWN[1]], np.int16)
        for i in range(num_samples):
            sid = str(100000 + int(rng.integers(0, 899999)))
            h = w = 48
            lab = np.kron(rng.integers(0, 7, (4, 4)), np.ones((12, 12), np.int64))
            rgb = cols[lab]
            noise = rng.integers(-60, 61, rgb.shape)
            rgb = np.clip(rgb + noise, 0, 255).astype(np.uint8)
            write_png(base / "train" / f"{sid}_mask.png", rgb)
            Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(base / "train" / f"{sid}_sat.jpg")
            Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(base / "valid" / f"{sid}9_sat.jpg")
        (base / "class_dict.csv").write_text("name,r,g,b\n" + "".join(
            f"{n},{c[0]},{c[1]},{c[2]}\n" for n, c in [*LANDCOVER, UNKNOWN]))
        return base


class DeepGlobeRoads(_DeepGlobe):
    """DeepGlobe road extraction: binary road masks (``>= 128`` = road), scored by road IoU."""

    #: Options this adapter reads (``--option KEY=VALUE``; others are reported).
    option_names = ("resize", "threshold")
    spec = DatasetSpec(
        name="deepglobe-roads", version="2018", task="binary",
        splits={"train": 6226, "valid": 1243, "test": 1101}, default_split="train", default_metrics=("miou",),
        license=_LICENSE, citation=_CITATION, homepage="http://deepglobe.org/challenge.html", obtain="kaggle",
        files=(ManifestFile("deepglobe-road-extraction-dataset.zip",
                            "kaggle://datasets/balraj98/deepglobe-road-extraction-dataset", extract=True),),
        size="3.8 GB",
    )

    def label_space(self) -> LabelSpace:
        return roads_label_space()

    @staticmethod
    def decode_mask(arr: np.ndarray) -> np.ndarray:
        a = np.asarray(arr)
        if a.ndim == 3:
            a = a[..., :3].max(axis=2) if a.shape[2] >= 3 else a[..., 0]
        if a.dtype == np.bool_:
            return a.astype(np.uint8)
        thr = 128 if a.max(initial=0) > 1 else 1  # 0/255 (native) or 0/1 masks
        return (a >= thr).astype(np.uint8)

    def _color_decoder(self):
        return self.decode_mask

    def load(self, sample_id: str) -> Sample:
        mp, ip = self._paths(sample_id)
        if not mp.is_file():
            raise NotFoundError(f"expected the mask of {sample_id}, found none", path=mp)
        return Sample(sample_id, str(ip) if ip.is_file() else None, SemanticMask(self.decode_mask(read_array(mp))),
                      {"gt_path": str(mp), "split": self.split})

    def predictions(self, path, **options):
        # binary road predictions: 0/255 or 0/1 PNGs (any channel count), thresholded like the GT
        return _BinaryFolderPredictions(path, self.label_space(), options.get("resize"), suffix="_mask",
                                         threshold=options.get("threshold"))

    @classmethod
    def make_fake(cls, root, num_samples: int = 4, seed: int = 0, **options) -> Path:
        """``train/<id>_sat.jpg`` + 3-channel ``<id>_mask.png`` (0/255 with JPEG-like noise)."""
        from PIL import Image
        rng = np.random.default_rng(seed)
        base = Path(root) / "deepglobe-roads"
        (base / "train").mkdir(parents=True, exist_ok=True)
        for i in range(num_samples):
            sid = str(10000 + i * 37)
            m = np.zeros((40, 40), np.uint8)
            m[:, int(rng.integers(0, 35)):][:, :4] = 255
            m[int(rng.integers(0, 35)):][:4] = 255
            rgb = np.repeat(m[..., None], 3, axis=2).astype(np.int16) + rng.integers(-40, 41, (40, 40, 3))
            write_png(base / "train" / f"{sid}_mask.png", np.clip(rgb, 0, 255).astype(np.uint8))
            Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(base / "train" / f"{sid}_sat.jpg")
        return base


class _BinaryFolderPredictions(SemanticFolderPredictions):
    """Binary masks: values ``>= threshold`` (default 128 for 8-bit, 1 for 0/1 images) are foreground."""

    def __init__(self, path, label_space, resize=None, suffix="", threshold=None):
        super().__init__(path, label_space, "train", resize, suffix)
        self.threshold = threshold

    def _decode(self, arr, p):
        a = np.asarray(arr)
        if a.ndim == 3:
            a = a[..., :3].max(axis=2)
        if self.threshold is not None:
            return (a >= self.threshold).astype(np.uint8)
        if a.dtype.kind == "f":
            return (a >= 0.5).astype(np.uint8)
        return (a >= (128 if a.max(initial=0) > 1 else 1)).astype(np.uint8)

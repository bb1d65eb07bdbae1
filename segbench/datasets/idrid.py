"""IDRiD — Indian Diabetic Retinopathy Image Dataset, segmentation part (``idrid``): 5 lesion/structure
masks per fundus image, multi-label.

Native layout (``A. Segmentation.zip`` from IEEE DataPort)::

    A. Segmentation/
      1. Original Images/{a. Training Set, b. Testing Set}/IDRiD_NN.jpg      4288×2848 fundus photographs
      2. All Segmentation Groundtruths/{a. Training Set, b. Testing Set}/
          1. Microaneurysms/IDRiD_NN_MA.tif      one binary TIFF per lesion type
          2. Haemorrhages/IDRiD_NN_HE.tif
          3. Hard Exudates/IDRiD_NN_EX.tif
          4. Soft Exudates/IDRiD_NN_SE.tif
          5. Optic Disc/IDRiD_NN_OD.tif

54 training images (IDRiD_01–54) and 27 test images (IDRiD_55–81). Not every image has every lesion:
a missing TIFF means the lesion is absent (``missing_lesion=empty``, the default: an all-negative
mask that still counts in the pooled precision-recall curve) or, with ``missing_lesion=skip``, that the
image is not scored for that lesion. A mask pixel is positive when any channel is > 0 (the TIFFs store
lesions in colour). The challenge scored each lesion by the area under the precision-recall curve of
the submitted probability maps (:class:`~segbench.metrics.competition.IDRiDAUPR`, ``idrid_aupr``).

Predictions: a folder of ``IDRiD_NN_<TYPE>.(png|jpg|tif)`` greyscale probability maps (0..255 → 0..1)
or ``.npy`` float maps, one per image and lesion type.

Examples
--------
>>> from segbench.datasets.idrid import LESIONS
>>> [code for code, _, _ in LESIONS]
['MA', 'HE', 'EX', 'SE', 'OD']
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..errors import BadInputError, NotFoundError
from ..types import IGNORE_INDEX, ClassSpec, LabelSpace, MultiLabelMasks, MultiLabelPrediction, Sample
from ..io.labels import label_image_shape
from ._common import read_array, resolve_root
from .base import DatasetAdapter, DatasetSpec, ManifestFile, PredictionSource

__all__ = ["IDRiD", "IDRiDProbabilityFolder", "LESIONS"]

LESIONS = (("MA", "microaneurysms", "1. Microaneurysms"), ("HE", "haemorrhages", "2. Haemorrhages"),
           ("EX", "hard_exudates", "3. Hard Exudates"), ("SE", "soft_exudates", "4. Soft Exudates"),
           ("OD", "optic_disc", "5. Optic Disc"))
_COLORS = ((255, 0, 0), (0, 255, 0), (255, 255, 0), (0, 0, 255), (255, 0, 255))
_SPLIT_DIRS = {"train": "a. Training Set", "test": "b. Testing Set"}
_GT_RE = re.compile(r"^(IDRiD_\d+)_(MA|HE|EX|SE|OD)\.tiff?$", re.IGNORECASE)
IMAGES_DIR = "1. Original Images"
GT_DIR = "2. All Segmentation Groundtruths"


def _is_root(p: Path) -> bool:
    return (p / GT_DIR).is_dir()


def _binary(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim == 3:
        a = a[..., :3].max(axis=2) if a.shape[2] >= 3 else a[..., 0]
    return a > 0


class IDRiDProbabilityFolder(PredictionSource):
    """Probability maps ``<id>_<TYPE>.png|jpg|tif|npy`` (8-bit → /255; ``.npy`` floats in 0..1)."""

    def __init__(self, path):
        self.path = str(path)
        self.folder = Path(path)
        if not self.folder.is_dir():
            raise NotFoundError("expected a folder of <id>_<TYPE>.png probability maps, found nothing", path=path)
        self._idx = None

    def _index(self) -> dict:
        if self._idx is None:
            idx = {}
            for p in self.folder.rglob("*"):
                m = re.match(r"^(IDRiD_\d+)_(MA|HE|EX|SE|OD)$", p.stem, re.IGNORECASE)
                if m and p.suffix.lower() in (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".npy", ".bmp"):
                    idx[(m.group(1), m.group(2).upper())] = p
            self._idx = idx
        return self._idx

    def available(self) -> set:
        return {k[0] for k in self._index()}

    def files(self) -> list:
        return sorted(str(p) for p in self._index().values())

    def load(self, sample):
        shape = sample.target.shape
        maps = np.zeros((len(LESIONS), *shape), np.float64)
        for c, (code, _, _) in enumerate(LESIONS):
            p = self._index().get((sample.sample_id, code))
            if p is None:
                raise NotFoundError(f"expected a probability map {sample.sample_id}_{code}.png, found none",
                                    path=self.folder)
            if p.suffix.lower() == ".npy":
                a = np.load(p).astype(np.float64)
            else:
                a = read_array(p)
                if a.ndim == 3:
                    a = a[..., :3].max(axis=2)
                a = a.astype(np.float64) / (65535.0 if a.dtype == np.uint16 else 255.0)
            if a.shape != tuple(shape):
                raise BadInputError(f"expected a {shape[0]}x{shape[1]} map (the image size), found "
                                    f"{a.shape[0]}x{a.shape[1]}", path=p)
            if a.min(initial=0) < 0 or a.max(initial=0) > 1:
                raise BadInputError(f"expected probabilities in 0..1, found {a.min():.3g}..{a.max():.3g}", path=p)
            maps[c] = a
        return MultiLabelPrediction(maps)


class IDRiD(DatasetAdapter):
    """IDRiD lesion segmentation: multi-label masks MA, HE, EX, SE, OD per image.

    Options
    -------
    missing_lesion : empty (default) | skip
        A lesion without a GT TIFF is absent (all-negative) or not scored for that image.
    """

    #: Options this adapter reads (``--option KEY=VALUE``; others are reported).
    option_names = ("missing_lesion",)
    spec = DatasetSpec(
        name="idrid", version="2018", task="multilabel", splits={"train": 54, "test": 27}, default_split="test",
        default_metrics=("idrid_aupr",), license="CC BY 4.0",
        citation="@data{h25w98-18,\n  doi = {10.21227/H25W98},\n  url = {https://dx.doi.org/10.21227/H25W98},\n"
                 "  author = {Porwal, Prasanna and Pachade, Samiksha and Kamble, Ravi and Kokare, Manesh and "
                 "Deshmukh, Girish and Sahasrabuddhe, Vivek and Meriaudeau, Fabrice},\n  publisher = {IEEE "
                 "Dataport},\n  title = {Indian Diabetic Retinopathy Image Dataset (IDRiD)},\n  year = {2018}\n}",
        homepage="https://ieee-dataport.org/open-access/indian-diabetic-retinopathy-image-dataset-idrid",
        obtain="manual",
        files=(ManifestFile("A. Segmentation.zip",
                            "https://ieee-dataport.org/open-access/indian-diabetic-retinopathy-image-dataset-idrid",
                            extract=True),),
        size="about 400 MB",
    )
    download_notes = ("IEEE DataPort needs a (free) login: download 'A. Segmentation.zip' from the dataset page, "
                      "then run prepare on it.")

    def __init__(self, root=None, split: str | None = None, **options):
        super().__init__(root, split, **options)
        if self.split not in _SPLIT_DIRS:
            raise BadInputError(f"expected split train or test, found {self.split!r}")
        self.missing = options.get("missing_lesion") or "empty"
        if self.missing not in ("empty", "skip"):
            raise BadInputError(f"expected missing_lesion empty or skip, found {self.missing!r}")
        self._root = None
        self._gt = None

    def dataset_root(self) -> Path:
        if self._root is None:
            self._root = resolve_root(self.spec.name, self.root, _is_root, ("A. Segmentation",))
        return self._root

    def label_space(self) -> LabelSpace:
        return LabelSpace([ClassSpec(code, i, i, category=name, color=col)
                           for i, ((code, name, _), col) in enumerate(zip(LESIONS, _COLORS))], IGNORE_INDEX, "idrid-5")

    def _gt_index(self) -> dict:
        if self._gt is None:
            d = self.dataset_root() / GT_DIR / _SPLIT_DIRS[self.split]
            if not d.is_dir():
                raise NotFoundError(f"expected '{GT_DIR}/{_SPLIT_DIRS[self.split]}', found nothing", path=d)
            idx: dict = {}
            for p in d.rglob("*"):
                m = _GT_RE.match(p.name)
                if m:
                    idx.setdefault(m.group(1), {})[m.group(2).upper()] = p
            self._gt = idx
        return self._gt

    def _image(self, sid: str) -> Path | None:
        d = self.dataset_root() / IMAGES_DIR / _SPLIT_DIRS[self.split]
        for ext in (".jpg", ".JPG", ".jpeg", ".png", ".tif"):
            if (d / f"{sid}{ext}").is_file():
                return d / f"{sid}{ext}"
        return None

    def sample_ids(self) -> list[str]:
        ids = set(self._gt_index())
        d = self.dataset_root() / IMAGES_DIR / _SPLIT_DIRS[self.split]
        if d.is_dir():
            ids |= {p.stem for p in d.iterdir() if re.match(r"^IDRiD_\d+$", p.stem)}
        if not ids:
            raise NotFoundError("expected IDRiD_NN images or IDRiD_NN_<TYPE>.tif masks, found none",
                                path=self.dataset_root())
        return sorted(ids)

    def load(self, sample_id: str) -> Sample:
        files = self._gt_index().get(sample_id, {})
        img = self._image(sample_id)
        shape = None
        if img is not None:
            shape = label_image_shape(img, "fundus image")
        layers, valid = [None] * len(LESIONS), np.ones(len(LESIONS), bool)
        for c, (code, _, _) in enumerate(LESIONS):
            p = files.get(code)
            if p is None:
                continue
            m = _binary(read_array(p))
            if shape is None:
                shape = m.shape
            if m.shape != tuple(shape):
                raise BadInputError(f"expected a {shape[0]}x{shape[1]} mask (the image size), found "
                                    f"{m.shape[0]}x{m.shape[1]}", path=p)
            layers[c] = m
        if shape is None:
            raise NotFoundError(f"expected the image or at least one mask of {sample_id}, found none",
                                path=self.dataset_root())
        for c in range(len(LESIONS)):
            if layers[c] is None:
                layers[c] = np.zeros(shape, bool)
                valid[c] = self.missing == "empty"
        meta = {"split": self.split, "gt_paths": {k: str(v) for k, v in files.items()},
                "gt_path": str(next(iter(files.values()))) if files else None}
        return Sample(sample_id, str(img) if img else None, MultiLabelMasks(np.stack(layers), valid=valid), meta)

    def predictions(self, path, **options):
        return IDRiDProbabilityFolder(path)

    @classmethod
    def make_fake(cls, root, num_samples: int = 4, seed: int = 0, **options) -> Path:
        """The ``A. Segmentation`` tree with RGB TIFF masks (lesion = red) and some lesions missing."""
        from PIL import Image
        rng = np.random.default_rng(seed)
        base = Path(root) / "A. Segmentation"
        h, w = 48, 72
        for split, first in (("train", 1), ("test", 55)):
            sd = _SPLIT_DIRS[split]
            (base / IMAGES_DIR / sd).mkdir(parents=True, exist_ok=True)
            for i in range(num_samples):
                sid = f"IDRiD_{first + i:02d}"
                img = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
                Image.fromarray(img).save(base / IMAGES_DIR / sd / f"{sid}.jpg")
                for c, (code, _, folder) in enumerate(LESIONS):
                    if code == "SE" and i % 2 == 0:
                        continue  # soft exudates absent in some images, as in the real data
                    m = np.zeros((h, w), bool)
                    for _ in range(int(rng.integers(1, 4))):
                        y, x = int(rng.integers(0, h - 6)), int(rng.integers(0, w - 6))
                        m[y:y + int(rng.integers(1, 8)), x:x + int(rng.integers(1, 8))] = True
                    rgb = np.zeros((h, w, 3), np.uint8)
                    rgb[m, 0] = 255
                    (base / GT_DIR / sd / folder).mkdir(parents=True, exist_ok=True)
                    Image.fromarray(rgb).save(base / GT_DIR / sd / folder / f"{sid}_{code}.tif")
        return base

"""ADE20K SceneParsing benchmark (``ade20k``): ``ADEChallengeData2016``, 150 classes.

Native layout (``ADEChallengeData2016.zip``)::

    ADEChallengeData2016/
      images/{training,validation}/ADE_{train,val}_%08d.jpg       20210 / 2000 images
      annotations/{training,validation}/ADE_{train,val}_%08d.png  L-mode, 0 = other (not evaluated),
                                                                   1..150 = the 150 classes
      objectInfo150.txt, sceneCategories.txt

segbench maps native id ``k`` (1..150) to train id ``k - 1`` and 0 to 255 (ignore): mmsegmentation's
``reduce_zero_label=True`` convention, equal to the official devkit, which drops label 0 from the
confusion matrix. Predictions are train ids 0..149 by default (``pred_ids=native`` for the devkit's
1..150 submission PNGs).

Examples
--------
>>> from segbench.datasets.ade20k import ade20k_label_space
>>> ls = ade20k_label_space()
>>> ls.num_classes, ls.names[:3], ls.by_id(1).train_id, ls.by_id(0).train_id
(150, ['wall', 'building', 'sky'], 0, 255)
"""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import BadInputError, NotFoundError
from ..types import IGNORE_INDEX, ClassSpec, LabelSpace, Sample, SemanticMask
from ._common import SemanticFolderPredictions, pred_mode, read_label, resolve_root, write_png
from .base import DatasetAdapter, DatasetSpec, ManifestFile

__all__ = ["ADE20K", "ade20k_label_space"]

_SPLIT_DIR = {"train": "training", "val": "validation", "training": "training", "validation": "validation"}


@lru_cache(maxsize=1)
def _table() -> tuple:
    path = Path(__file__).with_name("labels") / "ade20k_150.csv"
    with open(path, newline="") as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    return tuple((int(r["id"]), int(r["train_id"]), r["name"], (int(r["r"]), int(r["g"]), int(r["b"])))
                 for r in rows)


def ade20k_label_space() -> LabelSpace:
    """150 evaluated classes (ids 1..150 → train ids 0..149) and ``other`` (id 0 → ignore)."""
    rows = [ClassSpec("other", 0, IGNORE_INDEX, ignore_in_eval=True, color=(0, 0, 0))]
    rows += [ClassSpec(n, i, t, color=c) for i, t, n, c in _table()]
    return LabelSpace(rows, IGNORE_INDEX, "ade20k-150")


def _is_root(p: Path) -> bool:
    return (p / "annotations").is_dir() and (p / "images").is_dir()


class ADE20K(DatasetAdapter):
    """ADE20K SceneParsing (``ADEChallengeData2016``): 150 classes, label 0 ignored.

    Splits ``train`` (20210) and ``val`` (2000; the benchmark's test annotations are not public).

    Options
    -------
    pred_ids : train | native | color | auto
        ``train`` (default): prediction PNG values are 0..149 (255 = void); ``native``: 1..150 as the
        official devkit (0 = no prediction → void); ``color``: RGB in the mmseg palette.
    resize : nearest
    """

    #: Options this adapter reads (``--option KEY=VALUE``; others are reported).
    option_names = ("pred_encoding", "pred_ids", "resize")
    spec = DatasetSpec(
        name="ade20k", version="SceneParsing-2016", task="semantic",
        splits={"train": 20210, "val": 2000}, default_split="val", default_metrics=("miou",),
        license="BSD-3-Clause (SceneParsing devkit and annotations); images from SUN/Places under their terms",
        citation="@inproceedings{zhou2017scene,\n  title = {Scene Parsing through ADE20K Dataset},\n  author = {Zhou, "
                 "Bolei and Zhao, Hang and Puig, Xavier and Fidler, Sanja and Barriuso, Adela and Torralba, "
                 "Antonio},\n  booktitle = {Proceedings of the IEEE Conference on Computer Vision and Pattern "
                 "Recognition (CVPR)},\n  year = {2017}\n}",
        homepage="http://sceneparsing.csail.mit.edu/",
        obtain="url",
        files=(ManifestFile("ADEChallengeData2016.zip",
                            "http://data.csail.mit.edu/places/ADEchallenge/ADEChallengeData2016.zip", extract=True),),
        size="923 MB",
    )

    def __init__(self, root=None, split: str | None = None, **options):
        super().__init__(root, split, **options)
        if self.split not in _SPLIT_DIR:
            raise BadInputError(f"expected split train or val, found {self.split!r}")
        self._root = None
        self._ids = None

    def dataset_root(self) -> Path:
        if self._root is None:
            self._root = resolve_root(self.spec.name, self.root, _is_root, ("ADEChallengeData2016",))
        return self._root

    def label_space(self) -> LabelSpace:
        return ade20k_label_space()

    def _ann_dir(self) -> Path:
        return self.dataset_root() / "annotations" / _SPLIT_DIR[self.split]

    def sample_ids(self) -> list[str]:
        if self._ids is None:
            d = self._ann_dir()
            if not d.is_dir():
                raise NotFoundError(f"expected annotations/{_SPLIT_DIR[self.split]}/, found nothing", path=d)
            self._ids = sorted(p.stem for p in d.glob("*.png"))
            if not self._ids:
                raise NotFoundError("expected ADE_*.png annotations, found none", path=d)
        return list(self._ids)

    def load(self, sample_id: str) -> Sample:
        p = self._ann_dir() / f"{sample_id}.png"
        if not p.is_file():
            raise NotFoundError(f"expected the annotation of {sample_id}, found none", path=p)
        arr = read_label(p)
        if arr.max(initial=0) > 150:
            v = int(arr.max())
            raise BadInputError(f"expected ids 0..150, found {v} in {int((arr > 150).sum())} pixels", path=p)
        mask = self.label_space().id_to_train_lut(256)[arr.astype(np.int64)]
        img = self.dataset_root() / "images" / _SPLIT_DIR[self.split] / f"{sample_id}.jpg"
        return Sample(sample_id, str(img) if img.is_file() else None, SemanticMask(mask.astype(np.uint8)),
                      {"gt_path": str(p), "split": self.split})

    def predictions(self, path, **options):
        return SemanticFolderPredictions(path, self.label_space(), pred_mode(options, "train"),
                                         options.get("resize"))

    @classmethod
    def make_fake(cls, root, num_samples: int = 4, seed: int = 0, **options) -> Path:
        """``ADEChallengeData2016`` with L-mode annotations (0 = other) for both splits."""
        from PIL import Image
        rng = np.random.default_rng(seed)
        base = Path(root) / "ADEChallengeData2016"
        for split, tag in (("training", "train"), ("validation", "val")):
            (base / "images" / split).mkdir(parents=True, exist_ok=True)
            (base / "annotations" / split).mkdir(parents=True, exist_ok=True)
            for i in range(num_samples):
                sid = f"ADE_{tag}_{i + 1:08d}"
                h, w = int(rng.integers(32, 60)), int(rng.integers(32, 60))
                m = rng.integers(1, 151, size=(4, 4)).astype(np.uint8)
                m = np.kron(m, np.ones((h // 4 + 1, w // 4 + 1), np.uint8))[:h, :w]
                m[rng.random((h, w)) < 0.1] = 0
                write_png(base / "annotations" / split / f"{sid}.png", m)
                Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(
                    base / "images" / split / f"{sid}.jpg")
        (base / "objectInfo150.txt").write_text(
            "Idx\tRatio\tTrain\tVal\tName\n" + "".join(f"{i}\t0\t0\t0\t{n}\n" for i, _, n, _ in _table()))
        return base

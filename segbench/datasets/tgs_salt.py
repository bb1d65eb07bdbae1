"""Kaggle TGS Salt Identification Challenge (``tgs-salt``): 101×101 seismic images, binary salt masks.

Native layout (Kaggle competition ``tgs-salt-identification-challenge``)::

    train.csv            id,rle_mask      4000 rows; Kaggle run-length (column-major, 1-based), empty = no salt
    depths.csv           id,z             depth (feet) of every train and test image
    sample_submission.csv id,rle_mask
    train.zip → train/images/<id>.png    101×101 greyscale (stored as 8-bit RGB)
                train/masks/<id>.png     101×101, 0 = sediment, 65535 (16-bit) or 255 (8-bit) = salt
    test.zip  → test/images/<id>.png     18000 images, no public masks

The ground truth is read from the mask PNGs (any value > 0 is salt) or, when they are absent, from
``train.csv`` (``gt_source=csv`` forces it). Predictions are a Kaggle submission CSV (``id,rle_mask``)
or a folder of ``<id>.png`` masks. The competition score is :class:`~segbench.metrics.competition.TGSMeanAP`
(``tgs_map``).

Examples
--------
>>> import tempfile
>>> from segbench.datasets.tgs_salt import TGSSalt
>>> root = TGSSalt.make_fake(tempfile.mkdtemp(), num_samples=3)
>>> ds = TGSSalt(root)
>>> s = ds.load(ds.sample_ids()[0]); s.target.shape, sorted(s.meta)[:2]
((101, 101), ['depth', 'gt_path'])
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..errors import BadInputError, NotFoundError
from ..io.rle import read_rle_csv, rle_decode, rle_encode, write_rle_csv
from ..types import IGNORE_INDEX, ClassSpec, LabelSpace, Sample, SemanticMask, SemanticPrediction
from ..io.labels import label_image_shape
from ._common import read_array, resolve_root, write_png
from .base import DatasetAdapter, DatasetSpec, ManifestFile, PredictionSource
from .deepglobe import _BinaryFolderPredictions

__all__ = ["TGSSalt", "TGSSubmission", "TGS_SHAPE"]

TGS_SHAPE = (101, 101)


def _is_root(p: Path) -> bool:
    return (p / "train.csv").is_file() or (p / "train" / "masks").is_dir()


class TGSSubmission(PredictionSource):
    """Predictions from a Kaggle submission CSV ``id,rle_mask`` (masks at 101×101)."""

    def __init__(self, path, id_column: str = "id", rle_column: str = "rle_mask"):
        self.path = str(path)
        self._rows = read_rle_csv(path, id_column, rle_column)

    def available(self) -> set:
        return set(self._rows)

    def files(self) -> list:
        return [self.path]

    def load(self, sample):
        if sample.sample_id not in self._rows:
            raise NotFoundError(f"expected a row for id {sample.sample_id!r}, found none", path=self.path)
        shape = getattr(sample.target, "shape", TGS_SHAPE) or TGS_SHAPE
        m = rle_decode(self._rows[sample.sample_id], shape, where=f"{self.path} (id {sample.sample_id})")
        return SemanticPrediction(m.astype(np.uint8))


class TGSSalt(DatasetAdapter):
    """TGS Salt: 4000 labelled 101×101 images (split ``train``); binary salt masks.

    Options
    -------
    gt_source : auto | png | csv
        Where the masks come from (``auto``: ``train/masks`` when present, else ``train.csv``).
    threshold : float
        For PNG prediction folders: foreground at ``>= threshold`` (default: > 0 for 0/1, >= 128 for 8-bit).
    """

    #: Options this adapter reads (``--option KEY=VALUE``; others are reported).
    option_names = ("gt_source", "resize", "threshold")
    spec = DatasetSpec(
        name="tgs-salt", version="2018", task="binary", splits={"train": 4000, "test": 18000},
        default_split="train", default_metrics=("tgs_map",),
        license="Kaggle competition rules (non-commercial research and education)",
        citation="@misc{tgs-salt-identification-challenge,\n  author = {Addison Howard and Mark Landry and Sergey "
                 "Lopatin and Walter Reade and Will Cukierski},\n  title = {TGS Salt Identification Challenge},\n"
                 "  year = {2018},\n  howpublished = {\\url{https://kaggle.com/competitions/"
                 "tgs-salt-identification-challenge}},\n  note = {Kaggle}\n}",
        homepage="https://www.kaggle.com/competitions/tgs-salt-identification-challenge",
        obtain="kaggle",
        files=(ManifestFile("tgs-salt-identification-challenge.zip",
                            "kaggle://competitions/tgs-salt-identification-challenge", extract=True),),
        size="470 MB",
    )

    def __init__(self, root=None, split: str | None = None, **options):
        super().__init__(root, split, **options)
        self._root = None
        self._ids = None
        self._csv = None
        self._depths = None

    def dataset_root(self) -> Path:
        if self._root is None:
            self._root = resolve_root(self.spec.name, self.root, _is_root)
        return self._root

    def label_space(self) -> LabelSpace:
        return LabelSpace([ClassSpec("sediment", 0, 0, color=(0, 0, 0)),
                           ClassSpec("salt", 1, 1, color=(255, 255, 255))], IGNORE_INDEX, "tgs-salt")

    def _source(self) -> str:
        src = self.options.get("gt_source") or "auto"
        if src not in ("auto", "png", "csv"):
            raise BadInputError(f"expected gt_source auto|png|csv, found {src!r}")
        if src == "auto":
            src = "png" if (self.dataset_root() / self.split / "masks").is_dir() else "csv"
        return src

    def _rows(self) -> dict:
        if self._csv is None:
            p = self.dataset_root() / f"{self.split}.csv"
            if not p.is_file():
                raise NotFoundError(f"expected {self.split}.csv with the run-length masks (or {self.split}/masks/), "
                                    "found neither (the test split has no public masks)", path=self.dataset_root())
            self._csv = read_rle_csv(p, "id", "rle_mask")
        return self._csv

    def depths(self) -> dict:
        if self._depths is None:
            p = self.dataset_root() / "depths.csv"
            depths = {}
            if p.is_file():
                with open(p, newline="") as f:
                    for r in csv.DictReader(f):
                        try:
                            depths[r["id"]] = float(r["z"])
                        except (KeyError, ValueError):
                            raise BadInputError(f"expected columns id,z with numeric z, found {r}", path=p) from None
            self._depths = depths  # kept only once the whole file has been read
        return self._depths

    def sample_ids(self) -> list[str]:
        if self._ids is None:
            if self._source() == "png":
                self._ids = sorted(p.stem for p in (self.dataset_root() / self.split / "masks").glob("*.png"))
            else:
                self._ids = sorted(self._rows())
            if not self._ids:
                raise NotFoundError(f"expected masks for split {self.split}, found none", path=self.dataset_root())
        return list(self._ids)

    def load(self, sample_id: str) -> Sample:
        r = self.dataset_root()
        img = r / self.split / "images" / f"{sample_id}.png"
        meta = {"split": self.split}
        if sample_id in self.depths():
            meta["depth"] = self.depths()[sample_id]
        if self._source() == "png":
            p = r / self.split / "masks" / f"{sample_id}.png"
            if not p.is_file():
                raise NotFoundError(f"expected the mask of {sample_id}, found none", path=p)
            a = read_array(p)
            if a.ndim == 3:
                a = a[..., :3].max(axis=2)
            mask = (a > 0).astype(np.uint8)
            meta["gt_path"] = str(p)
        else:
            rows = self._rows()
            if sample_id not in rows:
                raise NotFoundError(f"expected id {sample_id!r} in {self.split}.csv, found none", path=r)
            shape = TGS_SHAPE
            if img.is_file():
                shape = label_image_shape(img)
            mask = rle_decode(rows[sample_id], shape, where=f"{r / (self.split + '.csv')} (id {sample_id})")
            mask = mask.astype(np.uint8)
            meta["gt_path"] = str(r / f"{self.split}.csv")
        return Sample(sample_id, str(img) if img.is_file() else None, SemanticMask(mask), meta)

    def predictions(self, path, **options):
        p = Path(path)
        if p.is_file() and p.suffix.lower() == ".csv":
            return TGSSubmission(p)
        return _BinaryFolderPredictions(p, self.label_space(), options.get("resize"),
                                        threshold=options.get("threshold"))

    @classmethod
    def prepare_root(cls, root, console=None, progress=None) -> None:
        """Extract the nested ``train.zip`` / ``test.zip`` of the competition archive into ``train/``
        and ``test/`` (idempotent)."""
        from .download import safe_extract
        root = Path(root)
        for name in ("train", "test"):
            z = next((p for p in [root / f"{name}.zip", *root.glob(f"*/{name}.zip")] if p.is_file()), None)
            if z is None or (z.parent / name / "images").is_dir():
                continue
            safe_extract(z, z.parent / name, console=console, progress=progress)

    @classmethod
    def make_fake(cls, root, num_samples: int = 4, seed: int = 0, **options) -> Path:
        """``train.csv`` + ``depths.csv`` + ``train/{images,masks}`` (16-bit 0/65535 masks, some empty)."""
        rng = np.random.default_rng(seed)
        base = Path(root) / "tgs-salt"
        (base / "train" / "images").mkdir(parents=True, exist_ok=True)
        (base / "train" / "masks").mkdir(parents=True, exist_ok=True)
        rows, depths = {}, {}
        for i in range(num_samples):
            sid = "".join(rng.choice(list("0123456789abcdef"), 10))
            m = np.zeros(TGS_SHAPE, bool)
            if i % 3:
                yy, xx = np.mgrid[:101, :101]
                cy, cx, rad = rng.integers(0, 101), rng.integers(0, 101), rng.integers(10, 60)
                m = (yy - cy) ** 2 + (xx - cx) ** 2 < rad ** 2
            write_png(base / "train" / "masks" / f"{sid}.png", (m * 65535).astype(np.uint16))
            g = rng.integers(0, 255, TGS_SHAPE, dtype=np.uint8)
            write_png(base / "train" / "images" / f"{sid}.png", np.stack([g] * 3, axis=2))
            rows[sid] = rle_encode(m)
            depths[sid] = int(rng.integers(50, 960))
        write_rle_csv(base / "train.csv", rows, "id", "rle_mask")
        (base / "depths.csv").write_text("id,z\n" + "".join(f"{k},{v}\n" for k, v in depths.items()))
        return base

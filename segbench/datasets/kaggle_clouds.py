"""Kaggle Understanding Clouds from Satellite Images (``kaggle-clouds``): 4 overlapping cloud patterns.

Native layout (Kaggle competition ``understanding_cloud_organization``)::

    train.csv              Image_Label,EncodedPixels    4 rows per image: "<image>.jpg_<Label>",
                           Label in Fish, Flower, Gravel, Sugar; Kaggle run-length at 1400×2100
                           (column-major, 1-based); empty = the pattern is absent
    train_images/<image>.jpg   5546 images, 1400×2100 (H×W)
    test_images/<image>.jpg    3698 images, no public labels
    sample_submission.csv  Image_Label,EncodedPixels    masks at 350×525

A pixel may carry several labels (the patterns overlap), so the target is a
:class:`~segbench.types.MultiLabelMasks` ``(4, H, W)``. Submissions — and so the competition's
scoring — are at 350×525 (a quarter of each side): segbench decodes the training masks at
1400×2100 and reduces them to 350×525 (``scoring_size``; ``reduce=nearest`` takes the top-left
pixel of each 4×4 block like ``cv2.resize(..., INTER_NEAREST)``, ``reduce=area`` takes the 4×4
majority, ties → 1). ``segbench prepare kaggle-clouds`` caches the reduced masks as bit-packed PNGs
(``masks_350x525/<image>.png``, bit k = class k) so evaluation does not decode 4 × 2.9 M-pixel
runs per image.

Examples
--------
>>> from segbench.datasets.kaggle_clouds import CLOUD_CLASSES, split_image_label
>>> CLOUD_CLASSES
('Fish', 'Flower', 'Gravel', 'Sugar')
>>> split_image_label("0011165.jpg_Flower")
('0011165.jpg', 'Flower')
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import BadInputError, NotFoundError
from ..io.rle import read_rle_csv, rle_decode, rle_encode, write_rle_csv
from ..types import IGNORE_INDEX, ClassSpec, LabelSpace, MultiLabelMasks, MultiLabelPrediction, Sample
from ..io.labels import label_image_shape
from ._common import find_file, read_array, read_label, resolve_root, write_png
from .base import DatasetAdapter, DatasetSpec, ManifestFile, PredictionSource

__all__ = ["KaggleClouds", "CloudsSubmission", "CLOUD_CLASSES", "FULL_SHAPE", "SCORING_SHAPE", "reduce_mask",
           "split_image_label"]

CLOUD_CLASSES = ("Fish", "Flower", "Gravel", "Sugar")
CLOUD_COLORS = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40))  # display colours (segbench)
FULL_SHAPE = (1400, 2100)
SCORING_SHAPE = (350, 525)


def split_image_label(key: str) -> tuple[str, str]:
    """``"<image>_<Label>"`` → ``(image, Label)`` (the image name itself may contain ``_``)."""
    img, sep, lab = key.rpartition("_")
    if not sep or lab not in CLOUD_CLASSES:
        raise BadInputError(f"expected Image_Label like '0011165.jpg_Fish' with a label in {CLOUD_CLASSES}, "
                            f"found {key!r}")
    return img, lab


def reduce_mask(mask: np.ndarray, shape: tuple, method: str = "nearest") -> np.ndarray:
    """Reduce a boolean mask by an integer factor per side (1400×2100 → 350×525).

    ``nearest``: pixel ``(f*i, f*j)`` (OpenCV ``INTER_NEAREST``); ``area``: block majority (ties → True).
    """
    m = np.asarray(mask, bool)
    h, w = m.shape[-2:]
    H, W = shape
    if (h, w) == (H, W):
        return m
    if h % H or w % W:
        raise BadInputError(f"expected a mask size that is an integer multiple of {H}x{W}, found {h}x{w}")
    fy, fx = h // H, w // W
    if method == "nearest":
        return m[..., ::fy, ::fx]
    if method == "area":
        blocks = m.reshape(*m.shape[:-2], H, fy, W, fx).sum(axis=(-3, -1))
        return blocks * 2 >= fy * fx
    raise BadInputError(f"expected reduce nearest or area, found {method!r}")


def _parse_shape(value) -> tuple | None:
    if value in (None, "", "full"):
        return None if value == "full" else SCORING_SHAPE
    if isinstance(value, (tuple, list)):
        return int(value[0]), int(value[1])
    try:
        h, w = str(value).lower().split("x")
        return int(h), int(w)
    except ValueError:
        raise BadInputError(f"expected scoring_size HxW (e.g. 350x525) or 'full', found {value!r}") from None


def _is_root(p: Path) -> bool:
    return (p / "train.csv").is_file() and ((p / "train_images").is_dir() or (p / "sample_submission.csv").is_file()
                                            or _looks_like_clouds_csv(p / "train.csv"))


def _looks_like_clouds_csv(p: Path) -> bool:
    try:
        with open(p, encoding="utf-8-sig") as f:
            return f.readline().strip().startswith("Image_Label")
    except OSError:
        return False


def _group(rows: dict, where) -> dict:
    """``{"img_Label": rle}`` → ``{img: [rle per class]}`` (missing labels → None)."""
    out: dict = {}
    for key, rle in rows.items():
        try:
            img, lab = split_image_label(key)
        except BadInputError as e:
            raise BadInputError(e.message, path=where) from None
        out.setdefault(img, [None] * 4)[CLOUD_CLASSES.index(lab)] = rle
    return out


class CloudsSubmission(PredictionSource):
    """A submission CSV ``Image_Label,EncodedPixels`` (run-length at the scoring size, 350×525).

    An image-label row that is missing is refused; an empty cell is an empty mask.
    """

    def __init__(self, path, shape: tuple = SCORING_SHAPE):
        self.path = str(path)
        self.shape = shape
        self._rows = _group(read_rle_csv(path, "Image_Label", "EncodedPixels"), path)

    def available(self) -> set:
        return set(self._rows)

    def files(self) -> list:
        return [self.path]

    def load(self, sample):
        rles = self._rows.get(sample.sample_id)
        if rles is None:
            raise NotFoundError(f"expected rows {sample.sample_id}_<Label> for the 4 labels, found none",
                                path=self.path)
        shape = sample.target.shape if getattr(sample.target, "shape", None) else self.shape
        masks = np.zeros((4, *shape), bool)
        valid = getattr(sample.target, "valid", None)
        for k, rle in enumerate(rles):
            if rle is None and valid is not None and not valid[k]:
                continue  # the pair is not in the ground truth either: not scored
            if rle is None:
                raise BadInputError(f"expected a row {sample.sample_id}_{CLOUD_CLASSES[k]}, found none (write an "
                                    "empty EncodedPixels for an absent pattern)", path=self.path)
            masks[k] = rle_decode(rle, shape, where=f"{self.path} ({sample.sample_id}_{CLOUD_CLASSES[k]}; masks are "
                                                      f"{shape[0]}x{shape[1]})")
        return MultiLabelPrediction(masks)


class CloudMaskFolder(PredictionSource):
    """Predictions as PNGs: ``<image>_<Label>.png`` binary masks, or one bit-packed ``<image>.png``
    (bit k = class k, the ``masks_350x525`` cache format)."""

    def __init__(self, path):
        self.path = str(path)
        self.folder = Path(path)
        if not self.folder.is_dir():
            raise NotFoundError("expected a CSV submission or a folder of PNG masks, found nothing", path=path)

    def available(self) -> set:
        names = set()
        for p in self.folder.glob("*.png"):
            stem = p.stem
            img, sep, lab = stem.rpartition("_")
            name = img if sep and lab in CLOUD_CLASSES else stem
            names.add(name)
            if not Path(name).suffix:
                names.add(name + ".jpg")  # bit-packed cache files are named by the image stem
        return names

    def files(self) -> list:
        return sorted(str(p) for p in self.folder.glob("*.png"))

    def load(self, sample):
        shape = sample.target.shape
        packed = (find_file(self.folder, sample.sample_id, (".png",))
                  or find_file(self.folder, Path(sample.sample_id).stem, (".png",)))
        if packed is not None:
            bits = read_label(packed).astype(np.uint8)
            masks = np.stack([(bits >> k) & 1 for k in range(4)]).astype(bool)
        else:
            masks = np.zeros((4, *shape), bool)
            valid = getattr(sample.target, "valid", None)
            for k, lab in enumerate(CLOUD_CLASSES):
                p = self.folder / f"{sample.sample_id}_{lab}.png"
                if not p.is_file():
                    if valid is not None and not valid[k]:
                        continue  # pair not in the ground truth: not scored
                    raise NotFoundError(f"expected {p.name} (or a bit-packed {sample.sample_id}.png), found none",
                                        path=self.folder)
                a = read_array(p)
                a = a[..., :3].max(axis=2) if a.ndim == 3 else a
                if a.shape != tuple(shape):
                    raise BadInputError(f"expected a {shape[0]}x{shape[1]} mask (the scoring size), found "
                                        f"{a.shape[0]}x{a.shape[1]}", path=p)
                masks[k] = a >= (128 if a.max(initial=0) > 1 else 1)
        if masks.shape[1:] != tuple(shape):
            raise BadInputError(f"expected {shape[0]}x{shape[1]} masks (the scoring size), found "
                                f"{masks.shape[1]}x{masks.shape[2]}", path=self.folder)
        return MultiLabelPrediction(masks)


class KaggleClouds(DatasetAdapter):
    """Understanding Clouds: multi-label masks of Fish, Flower, Gravel, Sugar, scored at 350×525.

    Options
    -------
    scoring_size : "350x525" (default) | "full" | "HxW"
        Size of targets (and so of predictions) — the competition scores at 350×525.
    reduce : nearest (default) | area
        How the 1400×2100 training masks are reduced to the scoring size (``--option reduce=area``).
    """

    #: Options this adapter reads (``--option KEY=VALUE``; others are reported).
    option_names = ("reduce", "scoring_size")
    spec = DatasetSpec(
        name="kaggle-clouds", version="2019", task="multilabel", splits={"train": 5546, "test": 3698},
        default_split="train", default_metrics=("clouds_dice",),
        license="Kaggle competition rules (non-commercial research and education); NASA Worldview imagery",
        citation="@article{rasp2020combining,\n  title = {Combining crowdsourcing and deep learning to explore the "
                 "mesoscale organization of shallow convection},\n  author = {Rasp, Stephan and Schulz, Hauke and "
                 "Bony, Sandrine and Stevens, Bjorn},\n  journal = {Bulletin of the American Meteorological "
                 "Society},\n  volume = {101},\n  number = {11},\n  pages = {E1980--E1995},\n  year = {2020}\n}",
        homepage="https://www.kaggle.com/competitions/understanding_cloud_organization",
        obtain="kaggle",
        files=(ManifestFile("understanding_cloud_organization.zip",
                            "kaggle://competitions/understanding_cloud_organization", extract=True),),
        size="5.9 GB",
    )

    def __init__(self, root=None, split: str | None = None, **options):
        super().__init__(root, split, **options)
        self.scoring_shape = _parse_shape(options.get("scoring_size"))
        self.method = options.get("reduce") or "nearest"
        if self.method not in ("nearest", "area"):
            raise BadInputError(f"expected reduce nearest or area, found {self.method!r}")
        self._root = None
        self._rows = None

    def dataset_root(self) -> Path:
        if self._root is None:
            self._root = resolve_root(self.spec.name, self.root, _is_root)
        return self._root

    def label_space(self) -> LabelSpace:
        return LabelSpace([ClassSpec(n, i, i, color=c) for i, (n, c) in enumerate(zip(CLOUD_CLASSES, CLOUD_COLORS))],
                          IGNORE_INDEX, "clouds-4")

    def _index(self) -> dict:
        if self._rows is None:
            p = self.dataset_root() / f"{self.split}.csv"
            if not p.is_file():
                raise NotFoundError(f"expected {self.split}.csv (Image_Label,EncodedPixels), found nothing; only the "
                                    "train split has public labels", path=p)
            # an (image, label) pair without a row is not scored (valid=False), as on Kaggle, where the
            # score is the mean over the listed pairs; the real train.csv lists all 4 labels per image
            self._rows = _group(read_rle_csv(p, "Image_Label", "EncodedPixels"), p)
        return self._rows

    def sample_ids(self) -> list[str]:
        return sorted(self._index())

    def _cache_path(self, sid: str) -> Path | None:
        if self.scoring_shape != SCORING_SHAPE or self.method != "nearest":
            return None
        p = self.dataset_root() / "masks_350x525" / f"{Path(sid).stem}.png"
        return p if p.is_file() else None

    def image_shape(self, sample_id: str) -> tuple:
        """``(H, W)`` of the image the run-lengths refer to: the image file's size when it is on disk,
        else the competition's 1400×2100."""
        img = self.dataset_root() / f"{self.split}_images" / sample_id
        if img.is_file():
            return label_image_shape(img, "JPEG image")
        return FULL_SHAPE

    def full_masks(self, sample_id: str) -> np.ndarray:
        """``(4, H, W)`` bool masks decoded from ``train.csv`` at the image size (1400×2100)."""
        rles = self._index().get(sample_id)
        if rles is None:
            raise NotFoundError(f"expected rows {sample_id}_<Label> in {self.split}.csv, found none",
                                path=self.dataset_root())
        where = self.dataset_root() / f"{self.split}.csv"
        shape = self.image_shape(sample_id)
        return np.stack([rle_decode(r or "", shape, where=f"{where} ({sample_id}_{CLOUD_CLASSES[k]}; image "
                                                          f"{shape[0]}x{shape[1]})")
                         for k, r in enumerate(rles)])

    def load(self, sample_id: str) -> Sample:
        img = self.dataset_root() / f"{self.split}_images" / sample_id
        meta = {"split": self.split, "gt_path": str(self.dataset_root() / f"{self.split}.csv")}
        cache = self._cache_path(sample_id)
        if cache is not None:
            bits = read_label(cache).astype(np.uint8)
            masks = np.stack([(bits >> k) & 1 for k in range(4)]).astype(bool)
            meta["cache"] = str(cache)
        else:
            full = self.full_masks(sample_id)
            if self.scoring_shape is None:
                masks = full
            else:
                try:
                    masks = reduce_mask(full, self.scoring_shape, self.method)
                except BadInputError as e:
                    raise BadInputError(f"{e.message} (image {sample_id}); pass --option scoring_size=full to score "
                                        "at the image size", path=meta["gt_path"]) from None
        valid = np.array([r is not None for r in self._index()[sample_id]], bool)
        return Sample(sample_id, str(img) if img.is_file() else None,
                      MultiLabelMasks(np.ascontiguousarray(masks), valid=valid), meta)

    def predictions(self, path, **options):
        p = Path(path)
        if p.is_file() and p.suffix.lower() == ".csv":
            return CloudsSubmission(p, self.scoring_shape or FULL_SHAPE)
        return CloudMaskFolder(p)

    @classmethod
    def prepare_root(cls, root, console=None, progress=None) -> None:
        """Extract nested image zips, then cache the 350×525 masks as bit-packed PNGs (idempotent,
        resumable: finished PNGs are kept)."""
        from .download import safe_extract
        from .voc import _bar
        root = Path(root)
        for name in ("train_images", "test_images"):
            z = root / f"{name}.zip"
            if z.is_file() and not (root / name).is_dir():
                safe_extract(z, root / name if not _zip_has_top(z, name) else root, console=console,
                             progress=progress)
        try:
            ds = cls(root, split="train")
            ids = ds.sample_ids()
        except (NotFoundError, BadInputError):
            return
        out = ds.dataset_root() / "masks_350x525"
        out.mkdir(exist_ok=True)
        todo = [i for i in ids if not (out / f"{Path(i).stem}.png").is_file()]
        bar = _bar(console, progress, "clouds masks 350x525", len(todo))
        for k, sid in enumerate(todo):
            m = reduce_mask(ds.full_masks(sid), SCORING_SHAPE, "nearest")
            bits = sum((m[c].astype(np.uint8) << c) for c in range(4)).astype(np.uint8)
            write_png(out / f"{Path(sid).stem}.png", bits)
            bar(k + 1)
        bar(None)

    @classmethod
    def make_fake(cls, root, num_samples: int = 4, seed: int = 0, **options) -> Path:
        """``train.csv`` (1400×2100 run-lengths, overlapping labels, some absent) + ``train_images``.

        ``full_size=False`` (default True) writes a 1400×2100 CSV without the (large) JPEGs.
        """
        from PIL import Image
        rng = np.random.default_rng(seed)
        base = Path(root) / "kaggle-clouds"
        (base / "train_images").mkdir(parents=True, exist_ok=True)
        rows = {}
        for i in range(num_samples):
            img = f"{int(rng.integers(0, 16**7)):07x}.jpg"
            for k, lab in enumerate(CLOUD_CLASSES):
                m = np.zeros(FULL_SHAPE, bool)
                if rng.random() < 0.7:
                    for _ in range(int(rng.integers(1, 3))):
                        y0, x0 = int(rng.integers(0, 1200)), int(rng.integers(0, 1800))
                        m[y0:y0 + int(rng.integers(50, 500)), x0:x0 + int(rng.integers(50, 700))] = True
                rows[f"{img}_{lab}"] = rle_encode(m)
            if options.get("images", True):  # full-size JPEG (smooth, so small and fast to write)
                g = np.linspace(0, 255, FULL_SHAPE[1], dtype=np.uint8)[None, :, None]
                Image.fromarray(np.broadcast_to(g, (*FULL_SHAPE, 3)).copy()).save(base / "train_images" / img,
                                                                                 quality=50)
        write_rle_csv(base / "train.csv", rows, "Image_Label", "EncodedPixels")
        write_rle_csv(base / "sample_submission.csv", {k.replace(".jpg", "t.jpg"): "1 1" for k in list(rows)[:4]},
                      "Image_Label", "EncodedPixels")
        return base


def _zip_has_top(z: Path, name: str) -> bool:
    import zipfile
    try:
        with zipfile.ZipFile(z) as zf:
            return all(n.startswith(name + "/") for n in zf.namelist())
    except zipfile.BadZipFile:
        return False

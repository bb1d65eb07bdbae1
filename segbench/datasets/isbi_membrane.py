"""ISBI 2012 EM segmentation challenge (neuronal membranes), registry name ``isbi-membrane``.

Serial-section TEM of the *Drosophila* first instar larva ventral nerve cord, 30 training slices with
labels and 30 test slices (test labels were never released), 512×512, 8-bit grayscale.

Two native layouts are read (``layout="auto"`` picks PNG when ``train/label/`` exists):

- **PNG folders** (as in the U-Net repository ``zhixuhao/unet`` ``data/membrane``)::

      ROOT/train/image/N.png     8-bit grayscale slice
      ROOT/train/label/N.png     8-bit label: 255 = cell interior, 0 = membrane
      ROOT/test/N.png            test slice (``N_predict.png`` files next to them are ignored)

- **Multi-page TIFF** (the original challenge files)::

      ROOT/train-volume.tif      30 pages, the training slices
      ROOT/train-labels.tif      30 pages, the labels (255 / 0 as above)
      ROOT/test-volume.tif       30 pages, the test slices

  ``--gt`` may also point at ``train-labels.tif`` itself. Sample ids are the slice numbers
  ``"0"``, ``"1"``, ... in both layouts (the PNG stems), so one set of predictions fits both.

Classes (binary task; train ids are what metrics see)::

    name       native id (label value)   train id
    membrane   0                         0
    cell       255                       1

Any other label value is refused (which values, how many pixels).

Predictions (``PREDS`` is a folder of PNG/TIFF files named ``N.png`` or ``N_predict.png``, or one
multi-page TIFF with a page per slice) may be

- label maps: mode ``1``, or single-channel images whose values are all in {0, 1} (train ids), or
  {0, 255} (native ids; equivalent to a soft map at the default threshold);
- soft maps of P(cell) as 8- or 16-bit integers (``L``, ``I;16``) or float32 in 0..1 (``F``),
  binarised as ``value > threshold``: ``--threshold`` ≤ 1 is a fraction of the full range of the file's
  type (default 0.5, i.e. 127.5 for 8-bit and 32767.5 for 16-bit); a value > 1 is taken in the file's
  own units.

A prediction whose size differs from the GT's is an error unless ``--resize nearest`` (real case: the
U-Net's ``test/N_predict.png`` are 16-bit 256×256 maps for 512×512 slices). Multi-channel images
are refused.

References
----------
I. Arganda-Carreras et al., "Crowdsourcing the creation of image segmentation algorithms for
connectomics", Frontiers in Neuroanatomy 9:142, 2015. A. Cardona et al., PLoS Biology 8(10), 2010.

Examples
--------
>>> import tempfile
>>> root = ISBIMembrane.make_fake(tempfile.mkdtemp(), num_samples=2, size=32)
>>> ds = ISBIMembrane(root)
>>> ds.sample_ids(), ds.label_space().names
(['0', '1'], ['membrane', 'cell'])
>>> sorted(set(ds.load("0").target.mask.ravel().tolist()))
[0, 1]
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

import numpy as np

from ..errors import BadInputError, NotFoundError, UsageError
from ..types import ClassSpec, LabelSpace, Sample, SemanticMask, SemanticPrediction, SoftPrediction
from .base import DatasetAdapter, DatasetSpec, ManifestFile, PredictionSource

__all__ = ["ISBIMembrane", "ISBIPredictions", "read_single_channel", "binarise"]

_IMG_EXT = (".png", ".tif", ".tiff")
_TIFF_NAMES = {"train": ("train-volume.tif", "train-labels.tif"), "test": ("test-volume.tif", None)}


def _num_key(stem: str):
    return (0, int(stem), "") if stem.isdigit() else (1, 0, stem)


def read_single_channel(path, page: int | None = None) -> tuple[np.ndarray, str]:
    """Read a single-channel image (or page ``page`` of a multi-page TIFF) as ``(array, mode)``.

    Raises :class:`BadInputError` naming the file for corrupt / truncated files and multi-channel
    images.
    """
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(path) as im:
            if page is not None:
                n = getattr(im, "n_frames", 1)
                if page >= n:
                    raise BadInputError(f"expected at least {page + 1} pages, found {n}", path=path)
                im.seek(page)
            im.load()
            mode = im.mode
            if mode in ("RGB", "RGBA", "LA", "CMYK", "YCbCr", "HSV", "RGBX", "LAB", "PA"):
                raise BadInputError(
                    f"expected a single-channel label or probability map, found mode {mode} "
                    f"({len(im.getbands())} channels); save one channel (e.g. PIL .convert('L'))", path=path)
            if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
                arr = np.array(im, dtype=np.uint16)
            else:
                arr = np.array(im)
    except BadInputError:
        raise
    except FileNotFoundError:
        raise NotFoundError("expected an image file, found nothing", path=path) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as e:
        raise BadInputError(f"expected a readable PNG/TIFF, found a corrupt or truncated file ({e}); "
                            "re-export it", path=path) from None
    if arr.ndim != 2:
        raise BadInputError(f"expected a 2-D single-channel image, found shape {arr.shape}", path=path)
    return arr, mode


def binarise(arr: np.ndarray, mode: str, threshold: float | None = None) -> np.ndarray:
    """Train-id mask ``(H, W)`` uint8 (0/1) from a label map or a soft map of P(class 1).

    Label maps with values in {0, 1} (and mode ``1``) are taken as train ids. Anything else is a
    soft map binarised as ``value > t`` where ``t = threshold * range`` for ``threshold <= 1`` (range
    255 for 8-bit, 65535 for 16-bit, 1 for float) and ``t = threshold`` otherwise; default 0.5.

    Examples
    --------
    >>> binarise(np.array([[0, 127, 128, 255]], np.uint8), "L").tolist()
    [[0, 0, 1, 1]]
    >>> binarise(np.array([[0, 1]], np.uint8), "L").tolist()
    [[0, 1]]
    >>> binarise(np.array([[0, 40000]], np.uint16), "I;16").tolist()
    [[0, 1]]
    """
    if arr.dtype == bool:
        return arr.astype(np.uint8)
    thr = 0.5 if threshold is None else float(threshold)
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)):
            raise BadInputError("expected finite probabilities, found NaN or inf")
        lo, hi = float(arr.min(initial=0)), float(arr.max(initial=0))
        if lo < 0 or hi > 1:
            raise BadInputError(f"expected float probabilities in 0..1, found values in {lo:g}..{hi:g}")
        return (arr > thr).astype(np.uint8)
    if arr.size and int(arr.max()) <= 1 and int(arr.min()) >= 0:
        return arr.astype(np.uint8)
    if arr.dtype == np.uint8:
        full = 255.0
    elif arr.dtype == np.uint16 or (mode == "I" and arr.size and int(arr.max()) <= 65535):
        full = 65535.0
    else:
        full = float(np.iinfo(arr.dtype).max) if np.issubdtype(arr.dtype, np.integer) else 1.0
    if int(arr.min()) < 0:
        raise BadInputError(f"expected non-negative values, found {int(arr.min())}")
    t = thr * full if thr <= 1 else thr
    return (arr > t).astype(np.uint8)


class ISBIPredictions(PredictionSource):
    """Reader of ``isbi-membrane`` predictions (see the module docstring for the accepted forms).

    Parameters
    ----------
    path : folder or multi-page TIFF file
    threshold : float, optional
    resize : {"nearest"} or None
    """

    def __init__(self, path, threshold: float | None = None, resize: str | None = None):
        self.path = str(path)
        self.threshold = threshold
        if resize not in (None, "nearest"):
            raise UsageError(f"--resize: expected 'nearest', found {resize!r}")
        self.resize = resize
        p = Path(path)
        self._stack = None
        self._index: dict[str, str] = {}
        if not p.exists():
            raise NotFoundError("expected a prediction folder or multi-page TIFF, found nothing", path=p)
        if p.is_file():
            if p.suffix.lower() not in (".tif", ".tiff"):
                raise BadInputError("expected a prediction folder or a multi-page TIFF (.tif), found a "
                                    f"{p.suffix or 'suffix-less'} file", path=p)
            from PIL import Image
            try:
                with Image.open(p) as im:
                    n = getattr(im, "n_frames", 1)
            except Exception as e:  # noqa: BLE001 - turned into one line
                raise BadInputError(f"expected a readable multi-page TIFF, found a corrupt file ({e})", path=p) from None
            self._stack = str(p)
            self._index = {str(i): str(p) for i in range(n)}
        else:
            exact, suffixed = {}, {}
            for f in sorted(p.iterdir()):
                if not f.is_file() or f.suffix.lower() not in _IMG_EXT or f.name.startswith("."):
                    continue
                m = re.fullmatch(r"(.+)_predict", f.stem)
                if m:
                    suffixed[m.group(1)] = str(f)
                else:
                    exact[f.stem] = str(f)
            self._index = {**suffixed, **exact}
            if not self._index:
                raise BadInputError("expected prediction files (N.png / N_predict.png / .tif) in this folder, "
                                    "found none; check the path", path=p)

    def available(self) -> set:
        return set(self._index)

    def files(self) -> list:
        return sorted(set(self._index.values()))

    def load(self, sample: Sample):
        sid = sample.sample_id
        if sid not in self._index:
            # --missing void: score as all-void (ignored pixels)
            return SemanticPrediction(np.full(sample.target.shape, 255, np.uint8))
        f = self._index[sid]
        arr, mode = read_single_channel(f, page=int(sid) if self._stack else None)
        try:
            mask = binarise(arr, mode, self.threshold)
        except BadInputError as e:
            raise BadInputError(e.message, path=f) from None
        gt_shape = sample.target.shape
        if mask.shape != gt_shape:
            if self.resize != "nearest":
                where = f"{f} (page {sid})" if self._stack else f
                raise BadInputError(
                    f"expected a prediction of {gt_shape[0]}×{gt_shape[1]} (the GT's size) for sample {sid}, "
                    f"found {mask.shape[0]}×{mask.shape[1]}; pass --resize nearest to resize it", path=where)
            from PIL import Image
            mask = np.array(Image.fromarray(mask).resize((gt_shape[1], gt_shape[0]), Image.NEAREST))
        return SemanticPrediction(mask)


class ISBIMembrane(DatasetAdapter):
    """Adapter of the ISBI 2012 membrane data (PNG folders or the challenge's multi-page TIFFs).

    Parameters
    ----------
    root : path
        Dataset root (or ``train-labels.tif`` itself).
    split : {"train", "test"}, default "train"
        Only ``train`` has labels; ``test`` is for ``segbench predict``.
    layout : {"auto", "png", "tiff"}, default "auto"
    threshold, resize
        Prediction options (see :class:`ISBIPredictions`).
    """

    spec: ClassVar[DatasetSpec] = DatasetSpec(
        name="isbi-membrane", version="2012", task="binary",
        splits={"train": 30, "test": 30}, default_split="train", default_metrics=("miou",),
        license="research use (ISBI 2012 challenge data; no explicit licence)",
        citation="Arganda-Carreras et al., Crowdsourcing the creation of image segmentation algorithms for "
                 "connectomics, Front. Neuroanat. 9:142 (2015); Cardona et al., PLoS Biol 8(10):e1000502 (2010)",
        homepage="https://imagej.net/events/isbi-2012-segmentation-challenge",
        obtain="manual",
        files=(ManifestFile("train-volume.tif"), ManifestFile("train-labels.tif"), ManifestFile("test-volume.tif")),
        size="about 24 MB")

    #: For thresholding baselines: the train id of the *bright* pixels (cell interiors are bright).
    bright_train_id: ClassVar[int] = 1

    _LABEL_SPACE = LabelSpace([ClassSpec("membrane", 0, 0, color=(0, 0, 0)),
                               ClassSpec("cell", 255, 1, color=(255, 255, 255))],
                              name="isbi-membrane")

    def __init__(self, root, split: str | None = None, layout: str = "auto", threshold: float | None = None,
                 resize: str | None = None, **options):
        super().__init__(root, split=split, **options)
        if self.split not in ("train", "test"):
            raise UsageError(f"isbi-membrane has the splits 'train' and 'test', not {self.split!r}")
        if layout not in ("auto", "png", "tiff"):
            raise UsageError(f"layout: expected auto, png or tiff, found {layout!r}")
        self.layout = layout
        self.threshold = threshold
        self.resize = resize
        self._ids: list[str] | None = None
        self._resolved: tuple | None = None

    # ---- layout
    def _resolve(self) -> tuple:
        """``(layout, image_source, label_source)``: folders for PNG, files for TIFF."""
        if self._resolved is not None:
            return self._resolved
        if self.root is None or not self.root.exists():
            raise NotFoundError(
                f"isbi-membrane not found at {self.root}; pass --gt pointing at a folder with train/label/*.png "
                "or train-labels.tif (see dataset_cards/isbi-membrane.md)")
        root = self.root
        if root.is_file():
            if root.suffix.lower() not in (".tif", ".tiff"):
                raise BadInputError("expected the dataset folder or train-labels.tif, found another file", path=root)
            vol = root.with_name(root.name.replace("labels", "volume"))
            self._resolved = ("tiff", vol if vol.is_file() and vol != root else None, root)
            return self._resolved
        png_ok = (root / self.split).is_dir()
        img_name, lab_name = _TIFF_NAMES[self.split]
        tif_ok = (root / (lab_name or img_name)).is_file()
        layout = self.layout
        if layout == "auto":
            layout = "png" if png_ok else ("tiff" if tif_ok else "")
        if layout == "png":
            if not png_ok:
                raise NotFoundError(f"expected the PNG layout ({self.split}/...), found no {self.split}/ folder",
                                    path=root)
            if self.split == "train":
                self._resolved = ("png", root / "train" / "image", root / "train" / "label")
            else:
                self._resolved = ("png", root / "test", None)
        elif layout == "tiff":
            if not tif_ok:
                raise NotFoundError(f"expected {lab_name or img_name} (TIFF layout), found nothing", path=root)
            img = root / img_name
            self._resolved = ("tiff", img if img.is_file() else None, root / lab_name if lab_name else None)
        else:
            raise NotFoundError(f"expected {self.split}/label/*.png or {lab_name or img_name} under the root, "
                                "found neither; pass --gt pointing at the isbi-membrane root", path=root)
        return self._resolved

    def label_space(self) -> LabelSpace:
        return self._LABEL_SPACE

    def sample_ids(self) -> list[str]:
        if self._ids is not None:
            return list(self._ids)
        layout, img, lab = self._resolve()
        if layout == "png":
            folder = lab if lab is not None else img
            if folder is None or not folder.is_dir():
                raise NotFoundError(f"expected the folder {folder}, found nothing", path=self.root)
            stems = [f.stem for f in folder.iterdir() if f.is_file() and f.suffix.lower() == ".png"
                     and not f.stem.endswith("_predict") and not f.name.startswith(".")]
            ids = sorted(stems, key=_num_key)
        else:
            from PIL import Image
            src = lab if lab is not None else img
            try:
                with Image.open(src) as im:
                    n = getattr(im, "n_frames", 1)
            except Exception as e:  # noqa: BLE001
                raise BadInputError(f"expected a readable multi-page TIFF, found a corrupt file ({e})", path=src) from None
            ids = [str(i) for i in range(n)]
        self._ids = ids
        return list(ids)

    def _label(self, sid: str) -> np.ndarray | None:
        layout, _, lab = self._resolve()
        if lab is None:
            return None
        if layout == "png":
            f = lab / f"{sid}.png"
            arr, mode = read_single_channel(f)
        else:
            f = lab
            arr, mode = read_single_channel(f, page=int(sid))
        if arr.dtype == bool:
            return arr.astype(np.uint8)
        vals, counts = np.unique(arr, return_counts=True)
        bad = [(int(v), int(c)) for v, c in zip(vals, counts) if int(v) not in (0, 255)]
        if bad:
            shown = ", ".join(f"{v} ({c} px)" for v, c in bad[:8])
            where = f"{f} (page {sid})" if layout == "tiff" else f
            raise BadInputError(f"expected label values 0 (membrane) and 255 (cell), found {shown}; "
                                f"{sum(c for _, c in bad)} pixels in all", path=where)
        return (arr == 255).astype(np.uint8)

    def load(self, sample_id: str) -> Sample:
        layout, img, _ = self._resolve()
        if layout == "png":
            image = img / f"{sample_id}.png" if img is not None else None
            image = str(image) if image is not None and image.is_file() else None
        else:
            image = read_single_channel(img, page=int(sample_id))[0] if img is not None else None
        mask = self._label(sample_id)
        target = SemanticMask(mask) if mask is not None else None
        return Sample(sample_id, image, target, meta={"split": self.split, "layout": layout})

    def predictions(self, path, threshold=None, resize=None, **options) -> PredictionSource:
        if self.split == "test":
            raise UsageError("the ISBI 2012 test labels were never released; evaluate on --split train")
        thr = threshold if threshold is not None else self.threshold
        return ISBIPredictions(path, threshold=thr, resize=resize if resize is not None else self.resize)

    # ---- writing predictions (used by `segbench predict`)
    def write_prediction(self, sample: Sample, prediction, out_dir) -> Path:
        """Write ``N.png``: 8-bit 0/255 (membrane/cell) for label maps, 16-bit P(cell) for soft maps."""
        from ..io.atomic import atomic_open
        from PIL import Image
        out = Path(out_dir) / f"{sample.sample_id}.png"
        if isinstance(prediction, SoftPrediction):
            arr = np.clip(np.rint(np.asarray(prediction.prob, np.float64) * 65535), 0, 65535).astype(np.uint16)
            im = Image.fromarray(arr)
        elif isinstance(prediction, SemanticPrediction):
            m = np.asarray(prediction.mask)
            im = Image.fromarray(np.where(m == 1, 255, 0).astype(np.uint8), mode="L")
        else:
            raise UsageError(f"isbi-membrane predictions are label or soft maps, not {type(prediction).__name__}")
        with atomic_open(out, "wb") as f:
            im.save(f, format="PNG")
        return out

    # ---- fake twin
    @classmethod
    def make_fake(cls, root, num_samples: int = 4, seed: int = 0, size: int = 64, layout: str = "both",
                  num_test: int | None = None, **options) -> Path:
        """Write a fake twin: Voronoi "cells" with dark membranes, in the PNG and/or TIFF layout.

        Parameters
        ----------
        root : path
        num_samples : int
            Training slices (labelled); ``num_test`` test slices (default the same).
        seed : int
        size : int
            Slice side in pixels.
        layout : {"both", "png", "tiff"}
            ``both`` writes the two layouts under one root, with identical pixels.
        """
        from PIL import Image
        from scipy import ndimage

        from ..io.atomic import atomic_open

        root = Path(root)
        rng = np.random.default_rng(seed)
        n_test = num_samples if num_test is None else num_test

        def slice_pair():
            k = max(3, size * size // 200)
            pts = rng.uniform(0, size, (k, 2))
            yy, xx = np.mgrid[0:size, 0:size]
            d = (yy[..., None] - pts[:, 0]) ** 2 + (xx[..., None] - pts[:, 1]) ** 2
            lab = np.argmin(d, axis=-1)
            edge = np.zeros((size, size), bool)
            edge[:-1] |= lab[:-1] != lab[1:]
            edge[:, :-1] |= lab[:, :-1] != lab[:, 1:]
            edge = ndimage.binary_dilation(edge, iterations=1)
            label = np.where(edge, 0, 255).astype(np.uint8)
            img = np.where(edge, 70.0, 170.0) + rng.normal(0, 18, (size, size))
            img = ndimage.gaussian_filter(img, 0.7)
            return np.clip(np.rint(img), 0, 255).astype(np.uint8), label

        train = [slice_pair() for _ in range(num_samples)]
        test = [slice_pair()[0] for _ in range(n_test)]

        def save(path, arr):
            with atomic_open(path, "wb") as f:
                Image.fromarray(arr, mode="L").save(f, format="PNG")

        def save_stack(path, arrs):
            if not arrs:
                return
            ims = [Image.fromarray(a, mode="L") for a in arrs]
            with atomic_open(path, "w+b") as f:  # the TIFF writer reads back what it wrote
                ims[0].save(f, format="TIFF", save_all=True, append_images=ims[1:])

        if layout in ("both", "png"):
            for i, (img, lab) in enumerate(train):
                save(root / "train" / "image" / f"{i}.png", img)
                save(root / "train" / "label" / f"{i}.png", lab)
            for i, img in enumerate(test):
                save(root / "test" / f"{i}.png", img)
        if layout in ("both", "tiff"):
            save_stack(root / "train-volume.tif", [t[0] for t in train])
            save_stack(root / "train-labels.tif", [t[1] for t in train])
            save_stack(root / "test-volume.tif", test)
        if layout not in ("both", "png", "tiff"):
            raise UsageError(f"layout: expected both, png or tiff, found {layout!r}")
        return root

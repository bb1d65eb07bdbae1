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

Predictions (``PREDS`` is a folder of PNG/TIFF files named ``N.png`` or ``N_predict.png`` — the latter
wins when both exist, as in the U-Net repository's ``test/`` folder — or one multi-page TIFF with a
page per slice) are maps of the *cell* class (white = cell, like the labels) and may be

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

__all__ = ["ISBIMembrane", "ISBIPredictions", "read_tiff_page", "tiff_page_count", "to_train_ids"]

_IMG_EXT = (".png", ".tif", ".tiff")
#: stored label value -> train id: 0 (membrane) -> 0, 255 (cell) -> 1, anything else -> 255 (refused earlier)
_GT_LUT = np.full(256, 255, np.uint8)
_GT_LUT[0], _GT_LUT[255] = 0, 1
_TIFF_NAMES = {"train": ("train-volume.tif", "train-labels.tif"), "test": ("test-volume.tif", None)}


def _num_key(stem: str):
    return (0, int(stem), "") if stem.isdigit() else (1, 0, stem)


def _planar_stack(im) -> bool:
    """A single RGB/RGBA page with separate component planes: how tifffile (< 2026 defaults) stores a
    ``(3, H, W)`` or ``(4, H, W)`` grayscale stack; its planes are the slices."""
    try:
        planar = im.tag_v2.get(284)  # PlanarConfiguration: 2 = separate planes
    except AttributeError:
        return False
    return getattr(im, "n_frames", 1) == 1 and im.mode in ("RGB", "RGBA") and planar == 2


def _tifffile_stack(path):
    """``(N, H, W)`` array of a TIFF Pillow cannot decode (e.g. float32 stored as planar RGB by
    tifffile), read with tifffile when it is installed; None otherwise."""
    try:
        import tifffile
    except ImportError:
        return None
    try:
        arr = tifffile.imread(str(path))
    except Exception:  # noqa: BLE001 - the caller reports the original error
        return None
    arr = np.asarray(arr)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    return arr if arr.ndim == 3 else None


def _full_range(arr: np.ndarray) -> float:
    if np.issubdtype(arr.dtype, np.floating):
        return 1.0
    if arr.dtype == np.uint8:
        return 255.0
    if arr.dtype == np.uint16 or (arr.size and int(arr.max()) <= 65535):
        return 65535.0
    return float(np.iinfo(arr.dtype).max)


def tiff_page_count(path) -> int:
    """Number of slices of a TIFF stack (pages; or planes of a planar-RGB-stored 3/4-slice stack)."""
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(path) as im:
            if _planar_stack(im):
                return len(im.getbands())
            return getattr(im, "n_frames", 1)
    except FileNotFoundError:
        raise NotFoundError("expected a TIFF file, found nothing", path=path) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as e:
        stack = _tifffile_stack(path)
        if stack is not None:
            return int(stack.shape[0])
        raise BadInputError(f"expected a readable multi-page TIFF, found a corrupt file ({e})", path=path) from None


def read_tiff_page(path, page: int) -> tuple[np.ndarray, float]:
    """Page ``page`` of a multi-page TIFF as ``(values, full_range)`` (like
    :func:`segbench.io.labels.read_prob` for one PNG): 8-bit → 255, 16-bit → 65535, float → 1.

    Raises :class:`BadInputError` naming the file for corrupt / truncated files, missing pages and
    multi-channel pages.
    """
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(path) as im:
            if _planar_stack(im):
                stack = _tifffile_stack(path)
                if stack is not None:
                    if page >= stack.shape[0]:
                        raise BadInputError(f"expected at least {page + 1} slices, found {stack.shape[0]}", path=path)
                    return np.ascontiguousarray(stack[page]), _full_range(stack)
                bits = im.tag_v2.get(258)
                if bits is not None and any(int(b) != 8 for b in (bits if isinstance(bits, tuple) else (bits,))):
                    raise BadInputError("expected one page per slice, found a 3/4-slice stack stored as "
                                        f"{bits}-bit planar RGB; install tifffile or save one page per slice",
                                        path=path)
                im.load()
                arr = np.array(im)
                if page >= arr.shape[2]:
                    raise BadInputError(f"expected at least {page + 1} slices, found {arr.shape[2]}", path=path)
                return np.ascontiguousarray(arr[..., page]), 255.0
            n = getattr(im, "n_frames", 1)
            if page >= n:
                raise BadInputError(f"expected at least {page + 1} pages, found {n}", path=path)
            im.seek(page)
            im.load()
            mode = im.mode
            if mode == "1":
                return np.array(im).astype(np.uint8), 1.0
            if mode in ("L", "P"):
                return np.array(im), 255.0
            if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
                return np.array(im).astype(np.uint16), 65535.0
            if mode == "I":
                a = np.array(im).astype(np.int32)
                return a, (65535.0 if a.size == 0 or int(a.max()) <= 65535 else float(2 ** 31 - 1))
            if mode == "F":
                return np.array(im).astype(np.float32), 1.0
            raise BadInputError(f"expected single-channel pages, found mode {mode} ({len(im.getbands())} "
                                f"channels) on page {page}", path=path)
    except BadInputError:
        raise
    except FileNotFoundError:
        raise NotFoundError("expected a TIFF file, found nothing", path=path) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as e:
        stack = _tifffile_stack(path)
        if stack is not None and page < stack.shape[0]:
            return np.ascontiguousarray(stack[page]), _full_range(stack)
        raise BadInputError(f"expected a readable multi-page TIFF, found a corrupt or truncated file ({e}); "
                            "re-export it", path=path) from None


def to_train_ids(values: np.ndarray, full_range: float, threshold: float | None = None, path=None) -> np.ndarray:
    """Train-id mask ``(H, W)`` uint8 (0/1) from a label map or a soft map of P(cell).

    Integer maps whose values are all in {0, 1} are taken as train ids. Anything else is a soft map
    binarised by :func:`segbench.io.labels.binarise` (``value > t``; ``threshold`` ≤ 1 is a fraction of
    ``full_range``, default 0.5; > 1 is in the file's units). Float maps must lie in 0..1.

    Examples
    --------
    >>> to_train_ids(np.array([[0, 127, 128, 255]], np.uint8), 255.0).tolist()
    [[0, 0, 1, 1]]
    >>> to_train_ids(np.array([[0, 1]], np.uint8), 255.0).tolist()
    [[0, 1]]
    >>> to_train_ids(np.array([[0, 40000]], np.uint16), 65535.0).tolist()
    [[0, 1]]
    """
    from ..io.labels import binarise
    values = np.asarray(values)
    if np.issubdtype(values.dtype, np.floating):
        if values.size and not np.all(np.isfinite(values)):
            raise BadInputError("expected finite probabilities, found NaN or inf", path=path)
        lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
        if lo < 0 or hi > 1:
            raise BadInputError(f"expected float probabilities in 0..1, found values in {lo:g}..{hi:g}", path=path)
        return binarise(values, 1.0, threshold)
    if values.size and int(values.min()) < 0:
        raise BadInputError(f"expected non-negative values, found {int(values.min())}", path=path)
    if values.size == 0 or int(values.max()) <= 1:
        return values.astype(np.uint8)
    return binarise(values, full_range, threshold)


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
            n = tiff_page_count(p)
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
            # N_predict.png wins over N.png: in the U-Net layout test/N.png is the *image* and
            # test/N_predict.png the prediction next to it
            self._index = {**exact, **suffixed}
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
        from ..io.labels import check_shape, read_prob
        if self._stack:
            values, rng = read_tiff_page(f, int(sid))
            where = f"{f} (page {sid})"
        else:
            values, rng = read_prob(f)
            where = f
        mask = to_train_ids(values, rng, self.threshold, path=where)
        mask = check_shape(mask, sample.target.shape, path=where, resize=self.resize)
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

    #: Options this adapter reads (``--option KEY=VALUE``; others are reported).
    option_names: ClassVar[tuple] = ("layout", "resize", "threshold")
    spec: ClassVar[DatasetSpec] = DatasetSpec(
        name="isbi-membrane", version="2012", task="binary",
        splits={"train": 30, "test": 30}, default_split="train", default_metrics=("miou", "isbi_rand"),
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
                f"isbi-membrane not found at {self.root}; run `segbench download isbi-membrane --root DIR`, or "
                "pass --gt pointing at a folder with train/label/*.png or train-labels.tif "
                "(see dataset_cards/isbi-membrane.md)")
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
            ids = [str(i) for i in range(tiff_page_count(lab if lab is not None else img))]
        self._ids = ids
        return list(ids)

    def _label(self, sid: str) -> np.ndarray | None:
        layout, _, lab = self._resolve()
        if lab is None:
            return None
        from ..io.labels import check_values, read_label
        if layout == "png":
            return read_label(lab / f"{sid}.png", lut=_GT_LUT, allowed=(0, 255))
        values, _ = read_tiff_page(lab, int(sid))
        where = f"{lab} (page {sid})"
        check_values(values, (0, 255), path=where)
        return _GT_LUT[values.astype(np.int64)]

    def load(self, sample_id: str) -> Sample:
        layout, img, _ = self._resolve()
        if layout == "png":
            image = img / f"{sample_id}.png" if img is not None else None
            image = str(image) if image is not None and image.is_file() else None
        else:
            image = read_tiff_page(img, int(sample_id))[0] if img is not None else None
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
        from ..io.labels import write_label
        out = Path(out_dir) / f"{sample.sample_id}.png"
        if isinstance(prediction, SoftPrediction):
            arr = np.clip(np.rint(np.asarray(prediction.prob, np.float64) * 65535), 0, 65535).astype(np.uint16)
            write_label(out, arr)
        elif isinstance(prediction, SemanticPrediction):
            m = np.asarray(prediction.mask)
            write_label(out, np.where(m == 1, 255, 0).astype(np.uint8))
        else:
            raise UsageError(f"isbi-membrane predictions are label or soft maps, not {type(prediction).__name__}")
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

"""ISPRS 2D semantic labelling benchmark: Vaihingen (``isprs-vaihingen``) and Potsdam (``isprs-potsdam``).

Labels are RGB colour-coded TIFF tiles with 6 classes::

    impervious surfaces (255,255,255)   building (0,0,255)   low vegetation (0,255,255)
    tree (0,255,0)                      car (255,255,0)      clutter/background (255,0,0)

and two ground-truth variants: the full reference, and the official *eroded* reference ("no
boundary"), where a 3-pixel-radius band along class boundaries is black (0,0,0) and not evaluated.
segbench binarises each channel at 128 (a few released tiles carry off-by-a-few colour values), maps
colours to ids 0..5 (6 = boundary, ignored) and, by default, evaluates on the eroded reference with
6 classes (``gt=full`` for the full reference; ``ignore_clutter=True`` for the common 5-class protocol
where clutter pixels are not evaluated).

Native layouts::

    Vaihingen  ISPRS_semantic_labeling_Vaihingen.zip → top/top_mosaic_09cm_area<N>.tif (IRRG, ~2500×2000)
               ISPRS_semantic_labeling_Vaihingen_ground_truth_COMPLETE.zip        → top_mosaic_09cm_area<N>.tif
               ISPRS_semantic_labeling_Vaihingen_ground_truth_eroded_COMPLETE.zip → top_mosaic_09cm_area<N>_noBoundary.tif
    Potsdam    2_Ortho_RGB.zip → top_potsdam_<r>_<c>_RGB.tif (6000×6000; 3_Ortho_IRRG / 4_Ortho_RGBIR too)
               5_Labels_all.zip → top_potsdam_<r>_<c>_label.tif
               5_Labels_all_noBoundary.zip → top_potsdam_<r>_<c>_label_noBoundary.tif

``segbench prepare`` extracts the archives (nested ones included) under ``raw/`` and converts the
colour-coded labels to id PNGs (``labels/<tile>.png``, ``labels_eroded/<tile>.png``) so evaluation
does not decode 36 M-pixel colour TIFFs each time. The adapter reads either form.

Large tiles: evaluation is per tile by default. ``patch_size`` (and ``patch_stride``) turns every
tile into windows ``<tile>@<y>_<x>`` covering it (the last row/column of windows flush with the border,
as mmsegmentation's clipping); :func:`stitch_windows` puts window predictions back into a tile (the
window whose centre is closest wins where windows overlap). Prediction folders may hold whole-tile
predictions (``<tile>.png`` / ``.tif``, ISPRS ``*_class.tif`` names too) or mmsegmentation-style
patches ``<tile>_<x0>_<y0>_<x1>_<y1>.png``, which are stitched.

Examples
--------
>>> from segbench.datasets.isprs import tile_windows
>>> tile_windows(5, 7, 4)            # (y0, x0, y1, x1) windows covering a 5x7 tile
[(0, 0, 4, 4), (0, 3, 4, 7), (1, 0, 5, 4), (1, 3, 5, 7)]
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import BadInputError, NotFoundError
from ..types import IGNORE_INDEX, ClassSpec, LabelSpace, Sample, SemanticMask, SemanticPrediction
from ._common import decode_colors_threshold, not_found, pred_mode, read_array, read_label, write_png
from .base import DatasetAdapter, DatasetSpec, ManifestFile, PredictionSource

__all__ = ["ISPRSVaihingen", "ISPRSPotsdam", "ISPRS_CLASSES", "isprs_label_space", "decode_isprs_rgb",
           "tile_windows", "stitch_windows", "MMSEG_TO_ISPRS"]

ISPRS_CLASSES = (("impervious_surfaces", (255, 255, 255)), ("building", (0, 0, 255)),
                 ("low_vegetation", (0, 255, 255)), ("tree", (0, 255, 0)), ("car", (255, 255, 0)),
                 ("clutter", (255, 0, 0)))
BOUNDARY_ID = 6
#: mmsegmentation's Potsdam/Vaihingen converters give ids (after reduce_zero_label) in the order
#: impervious, clutter, car, tree, low vegetation, building; this maps them to the ISPRS order.
MMSEG_TO_ISPRS = np.array([0, 5, 4, 3, 2, 1], np.uint8)

_CITATION = ("@article{rottensteiner2012isprs,\n  title = {The ISPRS benchmark on urban object classification and 3D "
             "building reconstruction},\n  author = {Rottensteiner, Franz and Sohn, Gunho and Jung, Jaewook and "
             "Gerke, Markus and Baillard, Caroline and Benitez, Sebastien and Breitkopf, Uwe},\n  journal = {ISPRS "
             "Annals of the Photogrammetry, Remote Sensing and Spatial Information Sciences},\n  volume = {I-3},\n"
             "  pages = {293--298},\n  year = {2012}\n}")


def isprs_label_space(ignore_clutter: bool = False) -> LabelSpace:
    """6 classes in the ISPRS legend order (ids 0..5) + boundary (id 6, ignored).

    With ``ignore_clutter`` clutter is not evaluated (5 classes, clutter pixels → 255).
    """
    rows = []
    for i, (n, c) in enumerate(ISPRS_CLASSES):
        ign = ignore_clutter and n == "clutter"
        rows.append(ClassSpec(n, i, IGNORE_INDEX if ign else i, is_thing=n in ("building", "car"),
                              ignore_in_eval=ign, color=c))
    rows.append(ClassSpec("boundary", BOUNDARY_ID, IGNORE_INDEX, ignore_in_eval=True, color=(0, 0, 0)))
    return LabelSpace(rows, IGNORE_INDEX, "isprs-5" if ignore_clutter else "isprs-6")


def decode_isprs_rgb(rgb: np.ndarray) -> np.ndarray:
    """RGB colour-coded ISPRS label ``(H, W, 3)`` → native ids 0..5, 6 = boundary (black), 255 = magenta
    (no class). Channels are binarised at 128."""
    cols = [c for _, c in ISPRS_CLASSES] + [(0, 0, 0)]
    return decode_colors_threshold(np.asarray(rgb)[..., :3], cols, list(range(7)), 128, IGNORE_INDEX).astype(np.uint8)


def tile_windows(h: int, w: int, size: int, stride: int | None = None) -> list[tuple]:
    """Windows ``(y0, x0, y1, x1)`` of ``size`` covering an ``h×w`` tile with the given ``stride``;
    the last row/column is shifted to end at the border (no padding). Tiles smaller than ``size``
    give one window of the tile size."""
    stride = stride or size
    if size <= 0 or stride <= 0:
        raise BadInputError(f"expected positive patch size and stride, found {size} and {stride}")

    def starts(n):
        if n <= size:
            return [0]
        s = list(range(0, n - size + 1, stride))
        if s[-1] + size < n:
            s.append(n - size)
        return s

    return [(y, x, min(y + size, h), min(x + size, w)) for y in starts(h) for x in starts(w)]


def stitch_windows(shape: tuple, windows: list, fill: int = IGNORE_INDEX) -> np.ndarray:
    """Stitch ``[((y0, x0, y1, x1), labels), ...]`` into an ``shape`` label map.

    Where windows overlap, each pixel takes the label of the window in which it lies farthest from the
    window border (centre priority: predictions near a window edge see less context): the distance to
    the nearest border ``min(dy, dx)``, ties broken by ``dy + dx``, remaining ties by the earlier window.
    Pixels no window covers get ``fill``.
    """
    out = np.full(shape, fill, np.uint8)
    best = np.full(shape, -1, np.int64)
    for (y0, x0, y1, x1), lab in windows:
        lab = np.asarray(lab)
        if lab.shape != (y1 - y0, x1 - x0):
            raise BadInputError(f"expected a {y1 - y0}x{x1 - x0} window at ({y0}, {x0}), found {lab.shape}")
        if y0 < 0 or x0 < 0 or y1 > shape[0] or x1 > shape[1]:
            raise BadInputError(f"expected windows inside the {shape[0]}x{shape[1]} tile, found "
                                f"({y0}, {x0}, {y1}, {x1})")
        hh, ww = y1 - y0, x1 - x0
        dy = np.minimum(np.arange(hh), np.arange(hh)[::-1])
        dx = np.minimum(np.arange(ww), np.arange(ww)[::-1])
        d = (np.minimum(dy[:, None], dx[None, :]).astype(np.int64) << 32) + (dy[:, None] + dx[None, :])
        cur = best[y0:y1, x0:x1]
        take = d > cur
        out[y0:y1, x0:x1][take] = lab[take]
        cur[take] = d[take]
    return out


class _Index:
    """Files of one ISPRS root: images, full labels, eroded labels, prepared PNGs (by tile id)."""

    def __init__(self, images: dict, full: dict, eroded: dict, prep_full: dict, prep_eroded: dict):
        self.images, self.full, self.eroded = images, full, eroded
        self.prep_full, self.prep_eroded = prep_full, prep_eroded


class _ISPRS(DatasetAdapter):
    #: Options this adapter reads (``--option KEY=VALUE``; others are reported).
    option_names = ("allow_partial", "gt", "ignore_clutter", "modality", "patch_size", "patch_stride",
                    "pred_encoding", "pred_ids")
    image_re: re.Pattern
    full_re: re.Pattern
    eroded_re: re.Pattern
    split_tiles: dict
    tile_of_pred: re.Pattern
    default_modality = ""

    def __init__(self, root=None, split: str | None = None, **options):
        super().__init__(root, split, **options)
        if self.split == "val":
            self.split = "test"  # mmsegmentation calls the held-out tiles "val"
        if self.split not in self.split_tiles:
            raise BadInputError(f"expected split {' or '.join(self.split_tiles)} (or val), found {self.split!r}")
        self.gt = options.get("gt") or "eroded"
        if self.gt not in ("eroded", "full"):
            raise BadInputError(f"expected gt eroded or full, found {self.gt!r}")
        self.ignore_clutter = _truthy(options.get("ignore_clutter", False))
        self.patch_size = int(options["patch_size"]) if options.get("patch_size") else None
        self.patch_stride = int(options["patch_stride"]) if options.get("patch_stride") else None
        self.allow_partial = _truthy(options.get("allow_partial", False))
        self.modality = options.get("modality") or self.default_modality
        self._idx = None
        self._ids = None
        self._shapes: dict = {}

    # ---- index
    def base(self) -> Path:
        from .download import default_root
        b = Path(self.root) if self.root is not None else default_root(self.spec.name)
        if not b.exists():
            raise not_found(self.spec.name, b)
        return b

    def _classify(self, p: Path):
        """``(kind, tile)`` for a TIFF: kind in image | full | eroded, or None."""
        raise NotImplementedError

    def index(self) -> _Index:
        if self._idx is None:
            b = self.base()
            images, full, eroded = {}, {}, {}
            for p in sorted(b.rglob("*")):
                if p.suffix.lower() not in (".tif", ".tiff") or not p.is_file():
                    continue
                kind = self._classify(p)
                if kind is None:
                    continue
                {"image": images, "full": full, "eroded": eroded}[kind[0]].setdefault(kind[1], p)
            prep_full = {p.stem: p for p in (b / "labels").glob("*.png")} if (b / "labels").is_dir() else {}
            prep_er = {p.stem: p for p in (b / "labels_eroded").glob("*.png")} if (b / "labels_eroded").is_dir() else {}
            if not (full or eroded or prep_full or prep_er):
                raise not_found(self.spec.name, b, "no label tiles found; see `segbench download "
                                f"{self.spec.name}` for the files to fetch")
            self._idx = _Index(images, full, eroded, prep_full, prep_er)
        return self._idx

    def _gt_file(self, tile: str) -> tuple[Path, bool]:
        """(path, is_prepared_png) of the GT of ``tile`` in the chosen variant."""
        ix = self.index()
        prep, raw = (ix.prep_eroded, ix.eroded) if self.gt == "eroded" else (ix.prep_full, ix.full)
        if tile in prep:
            return prep[tile], True
        if tile in raw:
            return raw[tile], False
        other = "full" if self.gt == "eroded" else "eroded"
        there = tile in (ix.full if other == "full" else ix.eroded)
        hint = f" (the {other} reference is there: pass gt={other})" if there else ""
        raise NotFoundError(f"expected the {self.gt} ground truth of tile {tile}, found none{hint}", path=self.base())

    def label_space(self) -> LabelSpace:
        return isprs_label_space(self.ignore_clutter)

    def tiles(self) -> list[str]:
        ix = self.index()
        have = set(ix.prep_eroded) | set(ix.eroded) if self.gt == "eroded" else set(ix.prep_full) | set(ix.full)
        listed = self.split_tiles[self.split]
        present = [t for t in listed if t in have]
        missing = [t for t in listed if t not in have]
        if not present:
            raise NotFoundError(f"expected {self.gt} ground truth for the {len(listed)} {self.split} tiles, found none "
                                f"(tiles on disk: {', '.join(sorted(have)[:5]) or 'none'})", path=self.base())
        if missing and not self.allow_partial:
            raise NotFoundError(f"expected {self.gt} ground truth for all {len(listed)} {self.split} tiles, found "
                                f"{len(missing)} missing (first: {', '.join(missing[:5])}); complete the download or "
                                "pass allow_partial=True", path=self.base())
        return present

    def tile_shape(self, tile: str) -> tuple:
        if tile not in self._shapes:
            from PIL import Image
            p, _ = self._gt_file(tile)
            try:
                with Image.open(p) as im:
                    self._shapes[tile] = (im.height, im.width)
            except Exception:
                self._shapes[tile] = self._read_tile_native(tile).shape
        return self._shapes[tile]

    def sample_ids(self) -> list[str]:
        if self._ids is None:
            tiles = self.tiles()
            if self.patch_size:
                ids = []
                for t in tiles:
                    h, w = self.tile_shape(t)
                    ids += [f"{t}@{y0}_{x0}" for y0, x0, _, _ in tile_windows(h, w, self.patch_size, self.patch_stride)]
                self._ids = ids
            else:
                self._ids = tiles
        return list(self._ids)

    def _read_tile_native(self, tile: str) -> np.ndarray:
        p, prepared = self._gt_file(tile)
        st = p.stat()
        return _read_native(str(p), prepared, st.st_mtime_ns, st.st_size)

    def window_of(self, sample_id: str) -> tuple[str, tuple | None]:
        """``"2_10@512_1024"`` → ``("2_10", (y0, x0, y1, x1))``; whole tiles → ``(tile, None)``."""
        tile, sep, pos = sample_id.partition("@")
        if not sep:
            return tile, None
        try:
            y0, x0 = (int(v) for v in pos.split("_"))
        except ValueError:
            raise BadInputError(f"expected a window id <tile>@<y>_<x>, found {sample_id!r}") from None
        h, w = self.tile_shape(tile)
        size = self.patch_size or max(h, w)
        return tile, (y0, x0, min(y0 + size, h), min(x0 + size, w))

    def load(self, sample_id: str) -> Sample:
        tile, win = self.window_of(sample_id)
        native = self._read_tile_native(tile)
        lut = self.label_space().id_to_train_lut(256)
        if win is not None:
            y0, x0, y1, x1 = win
            native = native[y0:y1, x0:x1]
        mask = lut[native]
        img = self.index().images.get(tile)
        p, _ = self._gt_file(tile)
        meta = {"gt_path": str(p), "tile": tile, "window": win, "gt_variant": self.gt, "split": self.split}
        return Sample(sample_id, str(img) if img else None, SemanticMask(np.ascontiguousarray(mask)), meta)

    def predictions(self, path, **options):
        return ISPRSPredictions(path, self, pred_mode(options, "auto"))

    # ---- prepare
    @classmethod
    def prepare_root(cls, root, console=None, progress=None) -> None:
        """Extract the ISPRS archives (nested zips included; DSM archives skipped) under ``raw/`` and
        convert colour labels to id PNGs ``labels/<tile>.png`` / ``labels_eroded/<tile>.png``
        (idempotent: existing outputs are kept)."""
        from .download import archive_kind, safe_extract
        from .voc import _bar
        root = Path(root)
        raw = root / "raw"
        for _ in range(3):  # nested archives: Potsdam.zip → 5_Labels_all.zip → tiles
            found = False
            for z in sorted(root.rglob("*.zip")):
                if "DSM" in z.name or "dsm" in z.name or z.name.startswith("."):
                    continue
                dest = raw / z.stem
                marker = dest / ".segbench-extracted"
                if marker.is_file() or archive_kind(z) != "zip":
                    continue
                safe_extract(z, dest, console=console, progress=progress)
                marker.write_text(z.name + "\n")
                found = True
            if not found:
                break
        ds = cls(root, split=next(iter(cls.split_tiles)), allow_partial=True)
        try:
            ix = ds.index()
        except NotFoundError:
            return
        jobs = [(t, p, root / "labels" / f"{t}.png") for t, p in ix.full.items()]
        jobs += [(t, p, root / "labels_eroded" / f"{t}.png") for t, p in ix.eroded.items()]
        jobs = [j for j in jobs if not j[2].is_file()]
        bar = _bar(console, progress, f"{cls.spec.name} labels", len(jobs))
        for k, (t, p, out) in enumerate(jobs):
            out.parent.mkdir(parents=True, exist_ok=True)
            write_png(out, _read_native(str(p), False, p.stat().st_mtime_ns, p.stat().st_size))
            bar(k + 1)
        bar(None)

    @classmethod
    def _fake_tiles(cls) -> list[str]:
        return [t for ts in cls.split_tiles.values() for t in ts]


@lru_cache(maxsize=2)
def _read_native(path: str, prepared: bool, mtime_ns: int = 0, size: int = 0) -> np.ndarray:
    """Native ids of a label tile (cached by path, mtime and size: window samples of one tile share
    the decode)."""
    if prepared:
        a = read_label(path)
        return a.astype(np.uint8)
    a = read_array(path)
    if a.ndim == 2:  # already an id image
        if a.max(initial=0) > BOUNDARY_ID and a.max() != IGNORE_INDEX:
            raise BadInputError(f"expected an RGB colour-coded label tile (or ids 0..6), found a single-channel "
                                f"image with values up to {int(a.max())}", path=path)
        return a.astype(np.uint8)
    # a colour-coded label has (almost) only 0/255 channel values; an orthophoto does not
    sub = a[::7, ::7, :3]
    mid = ((sub > 40) & (sub < 215)).any(axis=2).mean() if sub.size else 0.0
    if mid > 0.05:
        raise BadInputError(f"expected an ISPRS colour-coded label tile (channels near 0 or 255), found "
                            f"{mid:.0%} of pixels with intermediate values — an image tile? Keep the images in a "
                            "folder named 'top' (Vaihingen) or check the file", path=path)
    return decode_isprs_rgb(a)


def _truthy(v) -> bool:
    if isinstance(v, str):
        return v.strip().lower() in ("1", "true", "yes", "on")
    return bool(v)


class ISPRSPredictions(PredictionSource):
    """ISPRS predictions: whole tiles (``<tile>.png|tif``, RGB colour-coded or single-channel ids; ISPRS
    submission names like ``top_potsdam_2_13_class.tif`` are recognised) or mmsegmentation-style
    patches ``<tile>_<x0>_<y0>_<x1>_<y1>.png`` stitched into tiles.

    ``pred_ids``: ``auto`` (RGB → ISPRS colours, else ids), ``train``/``native`` (ids 0..5 in the ISPRS
    legend order), ``color``, or ``mmseg`` (ids in mmsegmentation's converter order, remapped).
    """

    def __init__(self, path, dataset: "_ISPRS", pred_ids: str = "auto"):
        self.path = str(path)
        self.folder = Path(path)
        if not self.folder.is_dir():
            raise NotFoundError("expected a folder of tile predictions, found nothing", path=path)
        if pred_ids not in ("auto", "train", "native", "color", "mmseg"):
            raise BadInputError(f"expected pred_ids auto|train|native|color|mmseg, found {pred_ids!r}")
        self.pred_ids = pred_ids
        self.ds = dataset
        self._tiles = None
        self._patches = None
        self._cache = (None, None)

    def _scan(self):
        if self._tiles is None:
            tiles, patches = {}, {}
            for p in sorted(self.folder.rglob("*")):
                if not p.is_file() or p.suffix.lower() not in (".png", ".tif", ".tiff", ".npy"):
                    continue
                m = re.match(r"^(.*?)_(\d+)_(\d+)_(\d+)_(\d+)$", p.stem)
                tile = self.ds.pred_tile_id(m.group(1)) if m else None
                if m and tile:
                    x0, y0, x1, y1 = (int(v) for v in m.groups()[1:])
                    patches.setdefault(tile, []).append(((y0, x0, y1, x1), p))
                    continue
                tile = self.ds.pred_tile_id(p.stem)
                if tile:
                    tiles.setdefault(tile, p)
            self._tiles, self._patches = tiles, patches
        return self._tiles, self._patches

    def available(self) -> set:
        tiles, patches = self._scan()
        have = set(tiles) | set(patches)
        return {sid for sid in self.ds.sample_ids() if sid.partition("@")[0] in have}

    def files(self) -> list:
        tiles, patches = self._scan()
        return sorted([str(p) for p in tiles.values()] + [str(p) for ps in patches.values() for _, p in ps])

    def _decode(self, arr: np.ndarray, p: Path) -> np.ndarray:
        mode = self.pred_ids
        if mode == "auto":
            mode = "color" if arr.ndim == 3 else "train"
        if mode == "color":
            if arr.ndim != 3:
                raise BadInputError("expected an RGB colour-coded prediction, found a single-channel image", path=p)
            native = decode_isprs_rgb(arr)
        else:
            if arr.ndim == 3:
                raise BadInputError(f"expected single-channel ids, found {arr.shape[2]} channels (pred_ids=color for "
                                    "colour-coded tiles)", path=p)
            a = arr.astype(np.int64)
            bad = (a > 5) & (a != IGNORE_INDEX)
            if bad.any():
                raise BadInputError(f"expected ids 0..5 or 255, found {int(a[bad][0])} in {int(bad.sum())} pixels",
                                    path=p)
            native = a.astype(np.uint8)
            if mode == "mmseg":
                lut = np.full(256, IGNORE_INDEX, np.uint8)
                lut[:6] = MMSEG_TO_ISPRS
                native = lut[native]
        return self.ds.label_space().id_to_train_lut(256)[native]

    def _read(self, p: Path) -> np.ndarray:
        a = np.load(p) if p.suffix == ".npy" else read_array(p)
        if a.ndim == 3 and a.shape[2] == 1:
            a = a[..., 0]
        return self._decode(a, p)

    def tile_prediction(self, tile: str) -> np.ndarray:
        """The whole-tile prediction (train ids), stitched from patches when needed."""
        if self._cache[0] == tile:
            return self._cache[1]
        tiles, patches = self._scan()
        shape = self.ds.tile_shape(tile)
        if tile in tiles:
            pred = self._read(tiles[tile])
        elif tile in patches:
            covered = np.zeros(shape, bool)
            for (y0, x0, y1, x1), _ in patches[tile]:
                covered[y0:y1, x0:x1] = True
            if not covered.all():
                ys, xs = np.nonzero(~covered)
                raise BadInputError(f"expected the patches of tile {tile} to cover its {shape[0]}x{shape[1]} pixels, "
                                    f"found {int((~covered).sum())} uncovered (first at row {ys[0]}, col {xs[0]})",
                                    path=self.path)
            pred = stitch_windows(shape, [(w, self._read(p)) for w, p in patches[tile]])
        else:
            raise NotFoundError(f"expected a prediction for tile {tile} (<tile>.png or patches "
                                f"<tile>_<x0>_<y0>_<x1>_<y1>.png), found none", path=self.path)
        if pred.shape != tuple(shape):
            raise BadInputError(f"expected a {shape[0]}x{shape[1]} prediction for tile {tile}, found "
                                f"{pred.shape[0]}x{pred.shape[1]}", path=self.path)
        self._cache = (tile, pred)
        return pred

    def load(self, sample):
        tile, win = self.ds.window_of(sample.sample_id)
        pred = self.tile_prediction(tile)
        if win is not None:
            y0, x0, y1, x1 = win
            pred = pred[y0:y1, x0:x1]
        return SemanticPrediction(np.ascontiguousarray(pred))


# ----------------------------------------------------------------------------- Vaihingen
_V_TRAIN = [1, 3, 5, 7, 11, 13, 15, 17, 21, 23, 26, 28, 30, 32, 34, 37]
_V_TEST = [2, 4, 6, 8, 10, 12, 14, 16, 20, 22, 24, 27, 29, 31, 33, 35, 38]


class ISPRSVaihingen(_ISPRS):
    """ISPRS Vaihingen: 33 IRRG tiles at 9 cm (16 train, 17 test), 6 classes; eroded GT by default.

    Options: ``gt`` eroded|full, ``ignore_clutter`` (5-class protocol), ``patch_size`` /
    ``patch_stride`` (window samples), ``allow_partial``, ``pred_ids`` auto|train|color|mmseg.
    """

    spec = DatasetSpec(
        name="isprs-vaihingen", version="2D-semantic-labeling", task="semantic",
        splits={"train": 16, "test": 17}, default_split="test", default_metrics=("miou",),
        license="ISPRS benchmark terms (research use; cite the benchmark; no redistribution)",
        citation=_CITATION,
        homepage="https://www.isprs.org/education/benchmarks/UrbanSemLab/2d-sem-label-vaihingen.aspx",
        obtain="manual",
        files=(ManifestFile("ISPRS_semantic_labeling_Vaihingen.zip",
                            "https://www.isprs.org/education/benchmarks/UrbanSemLab/2d-sem-label-vaihingen.aspx"),
               ManifestFile("ISPRS_semantic_labeling_Vaihingen_ground_truth_COMPLETE.zip",
                            "https://www.isprs.org/education/benchmarks/UrbanSemLab/2d-sem-label-vaihingen.aspx"),
               ManifestFile("ISPRS_semantic_labeling_Vaihingen_ground_truth_eroded_COMPLETE.zip",
                            "https://www.isprs.org/education/benchmarks/UrbanSemLab/2d-sem-label-vaihingen.aspx")),
        size="about 420 MB",
    )
    download_notes = ("The ISPRS data are behind a request form on the benchmark page (a download link is sent "
                      "by e-mail). Fetch the three zips above into one folder.")
    split_tiles = {"train": [f"area{n}" for n in _V_TRAIN], "test": [f"area{n}" for n in _V_TEST]}
    image_re = re.compile(r"^top_mosaic_09cm_area(\d+)\.(?i:tiff?)$")
    eroded_re = re.compile(r"^top_mosaic_09cm_area(\d+)_noBoundary\.(?i:tiff?)$")

    def _classify(self, p: Path):
        m = self.eroded_re.match(p.name)
        if m:
            return "eroded", f"area{m.group(1)}"
        m = self.image_re.match(p.name)
        if m:
            # images and the references share the name: images live in a folder called "top"; a folder
            # named like the eroded archive (gts_eroded_*, *noBoundary*) holds eroded references
            parent = p.parent.name.lower()
            if parent == "top":
                return "image", f"area{m.group(1)}"
            eroded = "eroded" in parent or "noboundary" in parent.replace("_", "")
            return ("eroded" if eroded else "full"), f"area{m.group(1)}"
        return None

    @staticmethod
    def pred_tile_id(stem: str) -> str | None:
        m = re.search(r"area(\d+)", stem)
        return f"area{m.group(1)}" if m else None

    @classmethod
    def make_fake(cls, root, num_samples: int = 4, seed: int = 0, **options) -> Path:
        """All 33 tiles (tiny) in the three archives' layouts: ``top/`` IRRG images, full colour GT and
        ``_noBoundary`` eroded GT (3-channel TIFFs, boundary band black)."""
        base = Path(root) / "isprs-vaihingen"
        rng = np.random.default_rng(seed)
        for t in cls._fake_tiles():
            n = t[4:]
            _write_fake_tile(rng, base / "ISPRS_semantic_labeling_Vaihingen" / "top" / f"top_mosaic_09cm_area{n}.tif",
                             base / "ground_truth_COMPLETE" / f"top_mosaic_09cm_area{n}.tif",
                             base / "ground_truth_eroded_COMPLETE" / f"top_mosaic_09cm_area{n}_noBoundary.tif")
        return base


# ----------------------------------------------------------------------------- Potsdam
_P_TRAIN = ["2_10", "2_11", "2_12", "3_10", "3_11", "3_12", "4_10", "4_11", "4_12", "5_10", "5_11", "5_12",
            "6_10", "6_11", "6_12", "6_7", "6_8", "6_9", "7_10", "7_11", "7_12", "7_7", "7_8", "7_9"]
_P_TEST = ["2_13", "2_14", "3_13", "3_14", "4_13", "4_14", "4_15", "5_13", "5_14", "5_15", "6_13", "6_14", "6_15",
           "7_13"]


class ISPRSPotsdam(_ISPRS):
    """ISPRS Potsdam: 38 tiles of 6000×6000 at 5 cm (24 train, 14 test), 6 classes; eroded GT by default.

    Options as :class:`ISPRSVaihingen`, plus ``modality`` RGB (default) | IRRG | RGBIR for the image
    paths recorded in samples.
    """

    spec = DatasetSpec(
        name="isprs-potsdam", version="2D-semantic-labeling", task="semantic",
        splits={"train": 24, "test": 14}, default_split="test", default_metrics=("miou",),
        license="ISPRS benchmark terms (research use; cite the benchmark; no redistribution)",
        citation=_CITATION,
        homepage="https://www.isprs.org/education/benchmarks/UrbanSemLab/2d-sem-label-potsdam.aspx",
        obtain="manual",
        files=(ManifestFile("2_Ortho_RGB.zip",
                            "https://www.isprs.org/education/benchmarks/UrbanSemLab/2d-sem-label-potsdam.aspx"),
               ManifestFile("5_Labels_all.zip",
                            "https://www.isprs.org/education/benchmarks/UrbanSemLab/2d-sem-label-potsdam.aspx"),
               ManifestFile("5_Labels_all_noBoundary.zip",
                            "https://www.isprs.org/education/benchmarks/UrbanSemLab/2d-sem-label-potsdam.aspx")),
        size="about 13 GB (Potsdam.zip; RGB + labels about 4 GB)",
    )
    download_notes = ("The ISPRS data are behind a request form on the benchmark page; the Potsdam archive holds "
                      "the zips above (DSM and other orthophoto zips are not needed).")
    split_tiles = {"train": _P_TRAIN, "test": _P_TEST}
    default_modality = "RGB"
    image_re = re.compile(r"^top_potsdam_(\d+)_(\d+)_(RGB|IRRG|RGBIR)\.(?i:tiff?)$")
    full_re = re.compile(r"^top_potsdam_(\d+)_(\d+)_label\.(?i:tiff?)$")
    eroded_re = re.compile(r"^top_potsdam_(\d+)_(\d+)_label_noBoundary\.(?i:tiff?)$")

    def _classify(self, p: Path):
        m = self.eroded_re.match(p.name)
        if m:
            return "eroded", f"{m.group(1)}_{m.group(2)}"
        m = self.full_re.match(p.name)
        if m:
            return "full", f"{m.group(1)}_{m.group(2)}"
        m = self.image_re.match(p.name)
        if m and m.group(3) == self.modality:
            return "image", f"{m.group(1)}_{m.group(2)}"
        return None

    @staticmethod
    def pred_tile_id(stem: str) -> str | None:
        m = re.match(r"^(?:top_potsdam_)?(\d+)_(\d+)(?:_(?:class|label|RGB|IRRG|pred))?$", stem)
        return f"{m.group(1)}_{m.group(2)}" if m else None

    @classmethod
    def make_fake(cls, root, num_samples: int = 4, seed: int = 0, **options) -> Path:
        """All 38 tiles (tiny): ``2_Ortho_RGB``, ``5_Labels_all``, ``5_Labels_all_noBoundary`` folders."""
        base = Path(root) / "isprs-potsdam"
        rng = np.random.default_rng(seed)
        for t in cls._fake_tiles():
            _write_fake_tile(rng, base / "2_Ortho_RGB" / f"top_potsdam_{t}_RGB.tif",
                             base / "5_Labels_all" / f"top_potsdam_{t}_label.tif",
                             base / "5_Labels_all_noBoundary" / f"top_potsdam_{t}_label_noBoundary.tif")
        return base


def _write_fake_tile(rng, img_path: Path, full_path: Path, eroded_path: Path, h: int = 30, w: int = 38) -> None:
    from PIL import Image
    from scipy import ndimage
    ids = np.kron(rng.integers(0, 6, (3, 4)), np.ones((10, 10), np.int64))[:h, :w]
    if ids.shape != (h, w):
        ids = np.pad(ids, ((0, h - ids.shape[0]), (0, w - ids.shape[1])), mode="edge")
    cols = np.array([c for _, c in ISPRS_CLASSES], np.int16)
    rgb = cols[ids]
    # a few off-by-a-few colour values, as in some released tiles
    rgb = np.clip(rgb + rng.integers(-3, 4, rgb.shape), 0, 255).astype(np.uint8)
    edge = np.zeros((h, w), bool)
    edge[:, 1:] |= ids[:, 1:] != ids[:, :-1]
    edge[1:, :] |= ids[1:, :] != ids[:-1, :]
    band = ndimage.binary_dilation(edge, iterations=1)
    er = rgb.copy()
    er[band] = 0
    for p, a in ((img_path, rng.integers(0, 255, (h, w, 3), dtype=np.uint8)), (full_path, rgb), (eroded_path, er)):
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(a).save(p, format="TIFF")

"""Helpers shared by the folder-based adapters (VOC, ADE20K, ISPRS, DeepGlobe, TGS Salt, Clouds, IDRiD):
root resolution, label image reading, colour-coded label decoding and a folder prediction source.

Examples
--------
>>> import numpy as np
>>> from segbench.datasets._common import decode_colors
>>> rgb = np.array([[[255, 255, 255], [0, 0, 255]]], np.uint8)
>>> decode_colors(rgb, [(255, 255, 255), (0, 0, 255)], [0, 1]).tolist()
[[0, 1]]
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from PIL import Image

from ..errors import BadInputError, NotFoundError
from ..io.atomic import atomic_open
from ..io.labels import refuse_non_png
from ..types import IGNORE_INDEX, LabelSpace, SemanticPrediction
from .base import PredictionSource

__all__ = ["resolve_root", "read_array", "read_label", "decode_colors", "decode_colors_threshold",
           "write_png", "SemanticFolderPredictions", "find_file", "not_found", "pred_mode"]

Image.MAX_IMAGE_PIXELS = None  # ISPRS / DeepGlobe / IDRiD tiles are large but trusted


def not_found(name: str, root, what: str = "") -> NotFoundError:
    extra = f" ({what})" if what else ""
    return NotFoundError(f"{name} not found at {root}{extra}; run `segbench download {name} --root DIR` "
                         f"(or `segbench prepare {name} --from PATH`), or pass --gt pointing at the dataset root")


def resolve_root(name: str, root, is_root, candidates: Sequence[str] = (), depth: int = 3) -> Path:
    """Find the dataset folder: ``root`` itself, a known sub-path, or a folder ``depth`` levels down
    for which ``is_root(path)`` is True. ``root=None`` means :func:`download.default_root`.

    Raises :class:`NotFoundError` ("… not found — run `segbench download NAME`") when nothing matches.
    """
    from .download import default_root
    base = Path(root) if root is not None else default_root(name)
    if not base.exists():
        raise not_found(name, base)
    if is_root(base):
        return base
    for c in candidates:
        if is_root(base / c):
            return base / c
    frontier = [base]
    for _ in range(depth):
        nxt = []
        for d in frontier:
            try:
                kids = sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith("."))
            except OSError:
                continue
            for k in kids:
                if is_root(k):
                    return k
            nxt.extend(kids)
        frontier = nxt
    raise not_found(name, base, "no folder with the dataset's layout inside")


def read_array(path) -> np.ndarray:
    """Read an image file keeping its values (P-mode → palette indices, 16-bit kept, RGB kept).

    TIFFs Pillow cannot decode are read with ``tifffile`` when it is installed.
    """
    path = Path(path)
    try:
        with Image.open(path) as im:
            refuse_non_png(im, path)
            if im.mode == "I;16" or im.mode.startswith("I;16"):
                return np.array(im, dtype=np.uint16)
            if im.mode in ("CMYK", "YCbCr", "LAB", "HSV"):
                im = im.convert("RGB")
            return np.array(im)
    except FileNotFoundError:
        raise NotFoundError("expected this file, found nothing", path=path) from None
    except BadInputError:
        raise
    except Exception as e:  # PIL.UnidentifiedImageError, decoder errors, ...
        if path.suffix.lower() in (".tif", ".tiff"):
            try:
                import tifffile
            except ImportError:
                tifffile = None
            if tifffile is not None:
                try:
                    arr = np.asarray(tifffile.imread(str(path)))
                except Exception:
                    arr = None
                if arr is not None and arr.ndim >= 2 and arr.size:
                    return arr
        raise BadInputError(f"expected a readable image, found {type(e).__name__}: {e}", path=path) from None


def read_label(path) -> np.ndarray:
    """Read a single-channel label image (L / P / I;16) as an integer ``(H, W)`` array.

    PNGs go through :func:`segbench.io.labels.read_label` (P-mode → palette indices, RGB refused);
    other formats (TIFF) through :func:`read_array`.
    """
    if str(path).lower().endswith(".png"):
        from ..io.labels import read_label as _read_label_png
        return _read_label_png(path)
    arr = read_array(path)
    if arr.ndim == 3:
        raise BadInputError(f"expected a single-channel label image (L or P mode), found {arr.shape[2]} "
                            "channels (an RGB colour rendering?)", path=path)
    return arr


def decode_colors(rgb: np.ndarray, colors: Iterable, ids: Iterable[int], unknown: int = IGNORE_INDEX,
                  strict_path=None) -> np.ndarray:
    """Map an RGB colour-coded label image ``(H, W, 3)`` to ids by exact colour match.

    Pixels of other colours get ``unknown``; with ``strict_path`` set they raise a
    :class:`BadInputError` naming the first unknown colour and its position.
    """
    a = np.asarray(rgb)
    if a.ndim != 3 or a.shape[2] < 3:
        raise BadInputError(f"expected an RGB colour-coded label image (H, W, 3), found shape {a.shape}",
                            path=strict_path)
    if strict_path is not None:  # unknown colours are errors: the shared reader lists them with counts
        from ..io.labels import colors_to_ids
        table = {tuple(int(v) for v in c): int(i) for c, i in zip(colors, ids)}
        return colors_to_ids(np.ascontiguousarray(a[..., :3]), table, path=strict_path)
    key = (a[..., 0].astype(np.uint32) << 16) | (a[..., 1].astype(np.uint32) << 8) | a[..., 2].astype(np.uint32)
    ckeys = np.array([(int(c[0]) << 16) | (int(c[1]) << 8) | int(c[2]) for c in colors], np.uint32)
    cids = np.array(list(ids), np.int64)
    order = np.argsort(ckeys)
    ckeys, cids = ckeys[order], cids[order]
    pos = np.clip(np.searchsorted(ckeys, key), 0, len(ckeys) - 1)
    hit = ckeys[pos] == key
    out = np.where(hit, cids[pos], unknown)
    if strict_path is not None and not hit.all():
        y, x = np.argwhere(~hit)[0]
        raise BadInputError(f"expected only the label colours {[tuple(map(int, c)) for c in colors]}, found "
                            f"colour {tuple(int(v) for v in a[y, x, :3])} at (row {y}, col {x}) "
                            f"in {int((~hit).sum())} pixels", path=strict_path)
    return out.astype(np.uint8 if out.max(initial=0) < 256 else np.int64)


def decode_colors_threshold(rgb: np.ndarray, colors: Iterable, ids: Iterable[int], threshold: int = 128,
                            unknown: int = IGNORE_INDEX) -> np.ndarray:
    """Map an RGB label image whose colours are pure 0/255 combinations after binarising each channel at
    ``threshold`` (``>= threshold`` → 255), as the DeepGlobe challenge prescribes for its lossy masks.
    """
    a = np.asarray(rgb)
    if a.ndim != 3 or a.shape[2] < 3:
        raise BadInputError(f"expected an RGB colour-coded label image (H, W, 3), found shape {a.shape}")
    # 3-bit code per pixel, built in place in one uint8 array (a 6000×6000 tile stays at 36 MB)
    code = (a[..., 0] >= threshold).view(np.uint8) << 2
    code |= (a[..., 1] >= threshold).view(np.uint8) << 1
    code |= (a[..., 2] >= threshold).view(np.uint8)
    ids = list(ids)
    small = max([int(unknown), *map(int, ids)]) < 256
    lut = np.full(8, unknown, np.uint8 if small else np.int64)
    for c, i in zip(colors, ids):
        lut[(int(c[0] >= 128) << 2) | (int(c[1] >= 128) << 1) | int(c[2] >= 128)] = i
    return lut[code]


def write_png(path, arr: np.ndarray, palette: Sequence | None = None) -> None:
    """Write ``arr`` as PNG atomically (uint8 → L or P with ``palette``; uint16 → I;16; (H,W,3) → RGB)."""
    a = np.asarray(arr)
    if a.ndim == 3:
        im = Image.fromarray(a.astype(np.uint8), "RGB")
    elif a.dtype == np.uint16:
        a16 = np.ascontiguousarray(a.astype("<u2"))
        im = Image.frombytes("I;16", (a16.shape[1], a16.shape[0]), a16.tobytes())
    else:
        a8 = np.ascontiguousarray(a.astype(np.uint8))
        if palette is not None:
            im = Image.frombytes("P", (a8.shape[1], a8.shape[0]), a8.tobytes())
            flat = [int(v) for c in palette for v in c]
            im.putpalette(flat + [0] * (768 - len(flat)))
        else:
            im = Image.frombytes("L", (a8.shape[1], a8.shape[0]), a8.tobytes())
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    with atomic_open(path, "wb") as f:
        f.write(buf.getvalue())


_EXTS = (".png", ".tif", ".tiff", ".bmp", ".npy")


def find_file(folder: Path, stem: str, exts: Sequence[str] = _EXTS) -> Path | None:
    for e in exts:
        p = folder / f"{stem}{e}"
        if p.is_file():
            return p
    return None


def _resize_nearest(a: np.ndarray, shape: tuple) -> np.ndarray:
    h, w = a.shape[:2]
    H, W = shape
    ys = np.minimum((np.arange(H) * h) // H, h - 1)
    xs = np.minimum((np.arange(W) * w) // W, w - 1)
    return a[ys][:, xs]


class SemanticFolderPredictions(PredictionSource):
    """Semantic predictions in a folder: one ``<sample_id>.png`` (or .tif/.npy) per sample.

    Parameters
    ----------
    path : folder
    label_space : LabelSpace
    pred_ids : {"train", "native", "color", "auto"}, default "auto"
        How pixel values are read: train ids (0..C-1, 255 = void), native dataset ids (mapped with the
        label space), or RGB colours of the label space; "auto" = colours for 3-channel images, train
        ids otherwise.
    resize : {"nearest"} or None
        Resize predictions to the ground-truth size (never interpolated).
    """

    def __init__(self, path, label_space: LabelSpace, pred_ids: str = "auto", resize: str | None = None,
                 suffix: str = "", color_decoder=None):
        self.path = str(path)
        self.folder = Path(path)
        if not self.folder.is_dir():
            raise NotFoundError("expected a folder of prediction images (<sample_id>.png), found nothing",
                                path=path)
        self.label_space = label_space
        self.pred_ids = pred_ids or "auto"
        if self.pred_ids not in ("auto", "train", "native", "color"):
            raise BadInputError(f"expected a prediction encoding this dataset reads (--pred-encoding trainid, "
                                f"labelid, color or auto), found {self.pred_ids!r}")
        self.resize = resize
        self.suffix = suffix
        self.color_decoder = color_decoder
        self._files = None

    def _index(self) -> dict:
        if self._files is None:
            idx = {}
            for p in sorted(self.folder.rglob("*")):
                if p.is_file() and p.suffix.lower() in _EXTS and not p.name.startswith("."):
                    rel = p.relative_to(self.folder).with_suffix("").as_posix()
                    if self.suffix and rel.endswith(self.suffix):
                        rel = rel[: -len(self.suffix)]
                    idx.setdefault(rel, p)
                    idx.setdefault(Path(rel).name, p)
            self._files = idx
        return self._files

    def available(self) -> set:
        return set(self._index())

    def files(self) -> list:
        return sorted({str(p) for p in self._index().values()})

    def _decode(self, arr: np.ndarray, p: Path) -> np.ndarray:
        ls = self.label_space
        mode = self.pred_ids
        if mode == "auto":
            mode = "color" if arr.ndim == 3 else "train"
        if mode == "color":
            if self.color_decoder is not None:
                return self.color_decoder(arr)
            cols = [c.color for c in ls.eval_classes]
            return decode_colors(arr, cols, [c.train_id for c in ls.eval_classes], ls.ignore_index, strict_path=p)
        if arr.ndim == 3:
            raise BadInputError(f"expected single-channel {mode} ids, found {arr.shape[2]} channels; pass "
                                "pred_ids=color for colour-coded predictions", path=p)
        if mode == "native":
            if arr.min(initial=0) < 0:
                raise BadInputError(f"expected non-negative ids, found {int(arr.min())}", path=p)
            size = max(256, int(arr.max(initial=0)) + 1)
            lut = ls.id_to_train_lut(size)
            known = np.zeros(size, bool)
            known[[c.id for c in ls.classes if 0 <= c.id < size]] = True
            if 0 <= ls.ignore_index < size:
                known[ls.ignore_index] = True
            idx = arr.astype(np.intp, copy=False)
            unknown = ~known[idx]
            if unknown.any():  # like cityscapesScripts' "Unknown label with id": never silently void
                v = int(arr[unknown][0])
                raise BadInputError(f"expected ids of the label table or {ls.ignore_index} (void), found {v} in "
                                    f"{int(unknown.sum())} pixels; pass --pred-encoding trainid for train ids",
                                    path=p)
            return lut[idx]
        bad = (arr >= ls.num_classes) & (arr != ls.ignore_index)
        if bad.any():
            v = int(arr[bad][0])
            raise BadInputError(f"expected train ids 0..{ls.num_classes - 1} or {ls.ignore_index}, found {v} "
                                f"in {int(bad.sum())} pixels; pass --pred-encoding labelid for dataset ids", path=p)
        return arr

    def load(self, sample):
        p = self._index().get(sample.sample_id)
        if p is None:
            p = self._index().get(Path(sample.sample_id).name)
        if p is None:
            raise NotFoundError(f"expected a prediction file {sample.sample_id}.png, found none", path=self.path)
        arr = np.load(p) if p.suffix == ".npy" else read_array(p)
        gt_shape = getattr(sample.target, "shape", None)
        if (arr.ndim == 3 and gt_shape and tuple(arr.shape[1:]) == tuple(gt_shape)
                and tuple(arr.shape[:2]) != tuple(gt_shape)):
            raise BadInputError(f"expected a {gt_shape[0]}x{gt_shape[1]} map of ids, found a "
                                f"{'x'.join(map(str, arr.shape))} channel-first array; for class scores save their "
                                f"argmax over the first axis", path=p)
        if arr.ndim == 3 and arr.shape[2] == 4:
            arr = arr[..., :3]
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[..., 0]
        if arr.dtype.kind == "f":
            finite = np.isfinite(arr)
            if not finite.all() or not np.array_equal(arr, np.round(arr)):
                v = arr[~finite][0] if not finite.all() else arr[arr != np.round(arr)][0]
                raise BadInputError(f"expected integer class ids, found the value {v!r} in a {arr.dtype} array; "
                                    f"save integer ids (the argmax of class scores)", path=p)
            arr = arr.astype(np.int64)
        elif arr.dtype.kind not in "iub":
            raise BadInputError(f"expected an integer array of class ids, found dtype {arr.dtype}", path=p)
        m = self._decode(arr, p)
        if gt_shape and tuple(m.shape) != tuple(gt_shape):
            if self.resize == "nearest":
                m = _resize_nearest(m, gt_shape)
            else:
                raise BadInputError(f"expected a {gt_shape[0]}x{gt_shape[1]} prediction (the ground-truth size), "
                                    f"found {m.shape[0]}x{m.shape[1]}; pass --resize nearest to resize", path=p)
        return SemanticPrediction(np.asarray(m))


_ENCODINGS = {"trainid": "train", "train": "train", "labelid": "native", "id": "native", "native": "native",
              "color": "color", "colour": "color", "mmseg": "mmseg", "auto": "auto"}


def pred_mode(options: dict, default: str = "auto") -> str:
    """The prediction id convention from eval options: ``pred_ids`` (``--option pred_ids=...``) or the
    CLI's ``--pred-encoding`` (``trainid`` → train, ``labelid``/``id`` → native, ``color``)."""
    v = options.get("pred_ids") or options.get("pred_encoding")
    if not v:
        return default
    if v not in _ENCODINGS:
        raise BadInputError(f"expected a prediction encoding among {sorted(_ENCODINGS)}, found {v!r}")
    return _ENCODINGS[v]

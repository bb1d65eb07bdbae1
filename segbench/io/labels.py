"""Label-map PNG readers and writers: single-channel (L, P, I;16, I, 1), colour-coded RGB (with a
colour table), soft probability maps (binarised at a threshold), and nearest-neighbour resizing.

No dataset knowledge lives here: callers pass the lookup table, the allowed values or the colour
table. Every problem a user can cause is a :class:`~segbench.errors.BadInputError` naming the file.

Modes read as label maps
------------------------
``L`` (8-bit) → uint8; ``P`` (palette) → the palette *indices* (uint8), as VOC / Cityscapes-style
tools write them; ``I;16`` (16-bit) → uint16; ``I`` (32-bit) → int32; ``1`` → uint8 0/1;
``RGB``/``RGBA`` only with a colour table (``colors=``), each colour mapped to its id (an unknown
colour is an error naming the colours and their pixel counts). Other multi-channel images where a
single-channel label is expected are refused with the file, the expected and the found mode.

Examples
--------
>>> import tempfile, os, numpy as np
>>> d = tempfile.mkdtemp(); p = os.path.join(d, "a.png")
>>> write_label(p, np.array([[0, 1], [2, 255]], np.uint8))
>>> read_label(p).tolist()
[[0, 1], [2, 255]]
>>> read_label(p, lut=np.r_[np.arange(3), np.full(253, 255)].astype(np.uint8)).tolist()
[[0, 1], [2, 255]]
"""

from __future__ import annotations

import os
import warnings
import zlib
from typing import Mapping

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import BadInputError, NotFoundError
from ..types import SemanticMask, SemanticPrediction
from .atomic import atomic_open

__all__ = [
    "voc_palette", "open_image", "read_label", "read_color_label", "colors_to_ids", "ids_to_colors", "read_soft",
    "read_prob", "binarise", "resize_nearest", "check_shape", "check_values", "format_value_counts",
    "write_label", "write_color_label", "SINGLE_CHANNEL_MODES", "label_image_shape", "refuse_non_png",
    "NativeSemanticMask", "NativeSemanticPrediction", "checked_lut", "read_label_lazy",
]

SINGLE_CHANNEL_MODES = ("L", "P", "I;16", "I;16L", "I;16B", "I", "1")
_MODE_CHANNELS = {"RGB": 3, "RGBA": 4, "LA": 2, "PA": 2, "CMYK": 4, "YCbCr": 3, "HSV": 3, "LAB": 3,
                  "RGBX": 4, "La": 2, "RGBa": 4}


# ----------------------------------------------------------------------------- lazily mapped label maps
def voc_palette(n: int = 256) -> np.ndarray:
    """The PASCAL VOC colour map (devkit ``VOClabelcolormap.m``), also DAVIS's and SBD's palette.

    Bit ``3j + k`` of the index (k = 0, 1, 2 for R, G, B) sets bit ``7 - j`` of that channel.

    Parameters
    ----------
    n : int
        Number of entries (default 256).

    Returns
    -------
    ndarray, shape (n, 3), uint8
        Index 1 is (128, 0, 0); index 255 is (224, 224, 192), the VOC void colour.

    Examples
    --------
    >>> voc_palette()[[0, 1, 2, 255]].tolist()
    [[0, 0, 0], [128, 0, 0], [0, 128, 0], [224, 224, 192]]
    """
    idx = np.arange(n, dtype=np.int64)
    pal = np.zeros((n, 3), np.int64)
    for j in range(8):
        for k in range(3):
            pal[:, k] |= ((idx >> (3 * j + k)) & 1) << (7 - j)
    return pal.astype(np.uint8)


def checked_lut(lut: np.ndarray | None, allowed, size: int = 256) -> np.ndarray:
    """A lookup table ``stored value -> train id`` with ``-1`` for values that are not allowed.

    ``lut`` None means identity; ``allowed`` None means every value of ``lut`` is allowed.
    """
    base = np.arange(size, dtype=np.int32) if lut is None else np.asarray(lut, np.int32)[:size].copy()
    if base.size < size:
        base = np.concatenate([base, np.full(size - base.size, -1, np.int32)])
    if allowed is not None:
        table = _allowed_table(allowed, size)[:size]
        base[~table] = -1
    return base


def _materialise(native: np.ndarray, lut: np.ndarray, path) -> np.ndarray:
    out = np.asarray(lut)[native]
    if out.size and int(out.min()) < 0:
        bad = native[out < 0]
        u, c = np.unique(bad, return_counts=True)
        raise BadInputError(f"label values outside the label space: {format_value_counts(u, c)}; fix the file "
                            f"or the label table / --num-classes", path=path)
    hi = int(out.max()) if out.size else 0
    return out.astype(np.uint8 if hi < 256 else np.uint16)


class _NativeLabels:
    """Shared part of :class:`NativeSemanticMask` / :class:`NativeSemanticPrediction`: ``native`` stored
    values + a checked ``lut``; ``mask`` (train ids) materialised on first access."""

    native: np.ndarray
    lut: np.ndarray
    path: str | None
    _mask: np.ndarray | None

    @property
    def mask(self) -> np.ndarray:  # type: ignore[override]
        if self._mask is None:
            object.__setattr__(self, "_mask", _materialise(self.native, self.lut, self.path))
        return self._mask

    @property
    def shape(self) -> tuple:
        return tuple(self.native.shape)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(shape={self.shape}, path={self.path!r})"


class NativeSemanticMask(_NativeLabels, SemanticMask):
    """A :class:`~segbench.types.SemanticMask` kept as the *stored* values plus a lookup table.

    ``mask`` (train ids) is computed on first access; metrics that understand ``native`` / ``lut``
    (``miou``) fold the table into their histogram instead and never touch every pixel twice. The
    table is a :func:`checked_lut` (``-1`` = value not allowed → BadInputError naming ``path``).
    """

    def __init__(self, native: np.ndarray, lut: np.ndarray, instance_ids: np.ndarray | None = None,
                 path: str | None = None):
        object.__setattr__(self, "native", native)
        object.__setattr__(self, "lut", lut)
        object.__setattr__(self, "instance_ids", instance_ids)
        object.__setattr__(self, "path", None if path is None else str(path))
        object.__setattr__(self, "_mask", None)


class NativeSemanticPrediction(_NativeLabels, SemanticPrediction):
    """A :class:`~segbench.types.SemanticPrediction` kept as stored values plus a checked lookup table
    (see :class:`NativeSemanticMask`)."""

    def __init__(self, native: np.ndarray, lut: np.ndarray, path: str | None = None):
        object.__setattr__(self, "native", native)
        object.__setattr__(self, "lut", lut)
        object.__setattr__(self, "path", None if path is None else str(path))
        object.__setattr__(self, "_mask", None)


# ----------------------------------------------------------------------------- opening
def open_image(path) -> Image.Image:
    """Open and fully decode an image; corrupt, truncated or non-image files raise BadInputError.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    PIL.Image.Image (loaded)
    """
    path = str(path)
    if not os.path.exists(path):
        raise NotFoundError("expected an image file here, found nothing; check the path", path=path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im = Image.open(path)
            try:
                refuse_non_png(im, path)
            except BadInputError:
                im.close()
                raise
            im.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, zlib.error, EOFError) as e:
        raise BadInputError(f"expected a readable image, found a corrupt or truncated file ({_short(e)}); "
                            f"re-export or re-download it", path=path) from None
    except Image.DecompressionBombError as e:  # pragma: no cover - giant images
        raise BadInputError(f"image too large to decode safely ({_short(e)})", path=path) from None
    return im


def refuse_non_png(im: Image.Image, path) -> None:
    """A file named ``.png`` must hold PNG data: JPEG bytes behind the name decode, but their lossy
    values (ids changed at edges) would be scored silently."""
    if im.format != "PNG" and str(path).lower().endswith(".png"):
        raise BadInputError(f"expected PNG data, found {im.format or 'another format'} in a file named .png"
                            + ("; JPEG is lossy and changes label values at edges, so save labels as real PNGs"
                               if im.format == "JPEG" else ""), path=path)


def _short(e: Exception) -> str:
    msg = str(e).strip().splitlines()
    return (msg[0] if msg else type(e).__name__)[:160]


def label_image_shape(path, what: str = "image") -> tuple:
    """``(H, W)`` of an image from its header, without decoding its pixels; one-line errors naming the
    file for a missing or unreadable one (``what`` says which file, e.g. ``"fundus image"``)."""
    try:
        with Image.open(str(path)) as im:
            return (im.height, im.width)
    except FileNotFoundError:
        raise NotFoundError(f"expected the {what} file, found nothing", path=path) from None
    except Exception as e:  # PIL.UnidentifiedImageError, truncated header, ...
        raise BadInputError(f"expected a readable {what} (its size sets the mask size), found "
                            f"{type(e).__name__}: {e}", path=path) from None


# ----------------------------------------------------------------------------- values
def format_value_counts(values: np.ndarray, counts: np.ndarray, limit: int = 10) -> str:
    """``"40 (123 px), 77 (5 px)"`` for the first ``limit`` values (and ``"+N more"``)."""
    parts = [f"{int(v)} ({int(c)} px)" for v, c in zip(values[:limit], counts[:limit])]
    if len(values) > limit:
        parts.append(f"+{len(values) - limit} more")
    return ", ".join(parts)


def _describe_allowed(allowed: np.ndarray) -> str:
    vals = np.flatnonzero(allowed)
    if vals.size == 0:
        return "nothing"
    runs, start, prev = [], vals[0], vals[0]
    for v in vals[1:]:
        if v != prev + 1:
            runs.append((start, prev))
            start = v
        prev = v
    runs.append((start, prev))
    txt = ", ".join(f"{a}" if a == b else f"{a}..{b}" for a, b in runs[:6])
    return txt + (", ..." if len(runs) > 6 else "")


def _allowed_table(allowed, size: int) -> np.ndarray | None:
    if allowed is None:
        return None
    if isinstance(allowed, np.ndarray) and allowed.dtype == bool:
        t = np.zeros(max(size, allowed.size), bool)
        t[:allowed.size] = allowed
        return t
    t = np.zeros(size, bool)
    vals = np.asarray(list(allowed), np.int64)
    vals = vals[(vals >= 0) & (vals < size)]
    t[vals] = True
    return t


def check_values(arr: np.ndarray, allowed, path=None, what: str = "label values") -> None:
    """Raise BadInputError when ``arr`` holds values outside ``allowed`` (listing values + pixel counts).

    Parameters
    ----------
    arr : ndarray of int
    allowed : iterable of int or bool ndarray (table indexed by value)
    path : str, optional
        Named in the message.
    """
    arr = np.asarray(arr)
    if arr.size == 0:
        return
    lo, hi = int(arr.min()), int(arr.max())
    table = _allowed_table(allowed, max(hi + 1, 1))
    if lo >= 0:
        # fast: contiguous allowed range [0, k] covers [lo, hi]
        if table[lo:hi + 1].all():
            return
        cnt = np.bincount(arr.ravel().astype(np.int64, copy=False), minlength=table.size)
        bad = np.flatnonzero((cnt[:table.size] > 0) & ~table[:cnt.size])
        if bad.size == 0:
            return
        counts = cnt[bad]
    else:
        u, c = np.unique(arr, return_counts=True)
        okm = np.array([0 <= v < table.size and table[v] for v in u])
        bad, counts = u[~okm], c[~okm]
        if bad.size == 0:
            return
    raise BadInputError(f"{what} outside the label space: {format_value_counts(bad, counts)} "
                        f"(allowed: {_describe_allowed(table)}); fix the file or the label table / --num-classes",
                        path=path)


def _check_image_values(im: Image.Image, allowed, path) -> None:
    """Value check on an 8-bit image using PIL's extrema / histogram (no numpy pass when clean)."""
    table = _allowed_table(allowed, 256)
    lo, hi = im.getextrema()
    if table[lo:hi + 1].all():
        return
    hist = np.asarray(im.histogram()[:256], np.int64)
    bad = np.flatnonzero((hist > 0) & ~table[:256])
    if bad.size:
        raise BadInputError(f"label values outside the label space: {format_value_counts(bad, hist[bad])} "
                            f"(allowed: {_describe_allowed(table)}); fix the file or the label table / "
                            f"--num-classes", path=path)


# ----------------------------------------------------------------------------- label maps
def _refuse_multichannel(im: Image.Image, path, expected: str) -> None:
    n = _MODE_CHANNELS.get(im.mode, len(im.getbands()))
    raise BadInputError(
        f"expected a single-channel label PNG ({expected}), found mode {im.mode} with {n} channels; "
        f"save class ids as an 8-bit grayscale / palette PNG (or give the dataset's colour table for "
        f"colour-coded labels)", path=path)


def read_label(path, *, lut: np.ndarray | None = None, allowed=None, colors=None,
               expected_shape: tuple | None = None, resize: str | None = None,
               dtype=None) -> np.ndarray:
    """Read a label map PNG as an integer array.

    Parameters
    ----------
    path : str or Path
    lut : ndarray, optional
        Lookup table applied to the stored values (``out = lut[value]``), e.g. native ids → train ids.
        For 8-bit images a 256-entry table is applied by Pillow (``Image.point``), which is faster than
        numpy indexing.
    allowed : iterable of int or bool table, optional
        Stored values that are valid (checked *before* the lookup table); others raise BadInputError
        listing the values and their pixel counts.
    colors : mapping or (N, 3) array, optional
        Colour table for RGB colour-coded labels: ``{(r, g, b): id}`` or an array whose row ``i`` is
        the colour of id ``i``. Without it RGB images are refused.
    expected_shape : (H, W), optional
        Shape the map must have (the GT's); a mismatch is an error naming both shapes unless
        ``resize='nearest'``.
    resize : {None, 'nearest'}
    dtype : numpy dtype, optional
        Cast the result.

    Returns
    -------
    ndarray, shape (H, W)
        uint8 for L / P / 1, uint16 for I;16, int32 for I (or the LUT's dtype).

    Raises
    ------
    BadInputError
        Corrupt file, multi-channel image, unknown colour, value outside ``allowed``, shape mismatch.
    NotFoundError
        Missing file.
    """
    im = open_image(path)
    mode = im.mode
    if mode in ("RGB", "RGBA") and colors is not None:
        arr = np.asarray(im)
        if mode == "RGBA":
            alpha = arr[..., 3]
            if (alpha != 255).any():
                raise BadInputError("expected an opaque colour-coded label PNG, found transparent pixels "
                                    f"({int((alpha != 255).sum())} px); save it as RGB", path=path)
            arr = arr[..., :3]
        out = colors_to_ids(arr, colors, path=path)
        if allowed is not None:
            check_values(out, allowed, path)
        if lut is not None:
            out = np.asarray(lut)[out]
    elif mode in ("L", "P", "1"):
        if mode == "1":
            im = im.convert("L").point(lambda v: 1 if v else 0)
        if mode == "P":
            # palette indices, not colours
            im = Image.frombytes("L", im.size, im.tobytes())
        if allowed is not None:
            _check_image_values(im, allowed, path)
        if lut is not None:
            lut = np.asarray(lut)
            if lut.dtype == np.uint8 and lut.size >= 256:
                out = np.array(im.point(lut[:256].tolist()))
            else:
                out = lut[np.array(im)]
        else:
            out = np.array(im)
    elif mode in ("I;16", "I;16L", "I;16B", "I", "I;16N"):
        out = np.array(im)
        if mode == "I":
            out = out.astype(np.int32, copy=False)
        else:
            out = out.astype(np.uint16, copy=False)
        if allowed is not None:
            check_values(out, allowed, path)
        if lut is not None:
            lut = np.asarray(lut)
            if out.size and (int(out.min()) < 0 or int(out.max()) >= lut.size):
                bad = out[(out < 0) | (out >= lut.size)]
                u, c = np.unique(bad, return_counts=True)
                raise BadInputError(f"label values outside the label space: {format_value_counts(u, c)}",
                                    path=path)
            out = lut[out]
    elif mode == "F":
        raise BadInputError("expected an integer label PNG (mode L, P or I;16), found a float image (mode F); "
                            "write class ids as integers", path=path)
    else:
        _refuse_multichannel(im, path, "mode L, P or I;16" + (", or RGB with a colour table" if colors is None else ""))
    if expected_shape is not None:
        out = check_shape(out, expected_shape, path, resize)
    if dtype is not None:
        out = out.astype(dtype, copy=False)
    return out


_CHECKED_CACHE: dict = {}


def _cached_checked_lut(lut, allowed, size: int) -> np.ndarray:
    key = (id(lut), id(allowed), size)
    hit = _CHECKED_CACHE.get(key)
    if hit is not None and hit[0] is lut and hit[1] is allowed:
        return hit[2]
    t = checked_lut(lut, allowed, size)
    if len(_CHECKED_CACHE) > 64:
        _CHECKED_CACHE.clear()
    _CHECKED_CACHE[key] = (lut, allowed, t)
    return t


def read_label_lazy(path, *, lut: np.ndarray | None = None, allowed=None, colors=None,
                    expected_shape: tuple | None = None, resize: str | None = None, prediction: bool = False,
                    instance_ids: np.ndarray | None = None):
    """Read a label PNG as a :class:`NativeSemanticMask` / :class:`NativeSemanticPrediction`: the stored
    values plus a checked lookup table (``lut`` → train ids, ``allowed`` stored values), so that the
    mapping and the value check happen on the metric's histogram instead of on every pixel.

    Same arguments and errors as :func:`read_label` (decode errors, multi-channel refusal, unknown
    colours and size mismatches are raised here; values outside ``allowed`` when the map is used).
    8-bit maps become lazy objects; 16-bit / 32-bit ones are mapped and checked at once.
    """
    raw = read_label(path, colors=colors, expected_shape=expected_shape, resize=resize)
    if raw.dtype == np.uint8:
        table = _cached_checked_lut(lut, allowed, 256)
        if prediction:
            return NativeSemanticPrediction(raw, table, str(path))
        return NativeSemanticMask(raw, table, instance_ids, str(path))
    if allowed is not None:
        check_values(raw, allowed, path)
    if lut is None:
        out = raw
    else:
        if raw.size and int(raw.min()) < 0:
            check_values(raw, range(0), path)
        size = max(int(np.asarray(lut).size), (int(raw.max()) + 1) if raw.size else 1)
        out = _materialise(raw, checked_lut(lut, None, size), path)
    return SemanticPrediction(out) if prediction else SemanticMask(out, instance_ids)


def read_color_label(path, colors, **kw) -> np.ndarray:
    """Read a colour-coded RGB label PNG into ids with the colour table ``colors`` (see :func:`read_label`)."""
    return read_label(path, colors=colors, **kw)


def _color_table(colors) -> tuple[np.ndarray, np.ndarray]:
    """(sorted packed colours uint32, ids) from a mapping or an (N, 3) array."""
    if isinstance(colors, Mapping):
        items = list(colors.items())
        keys = np.array([(int(c[0]) << 16) | (int(c[1]) << 8) | int(c[2]) for c, _ in items], np.uint32)
        ids = np.array([int(i) for _, i in items], np.int64)
    else:
        arr = np.asarray(colors, np.int64).reshape(-1, 3)
        keys = ((arr[:, 0] << 16) | (arr[:, 1] << 8) | arr[:, 2]).astype(np.uint32)
        ids = np.arange(arr.shape[0], dtype=np.int64)
    order = np.argsort(keys, kind="stable")
    keys, ids = keys[order], ids[order]
    # first entry wins for duplicate colours
    first = np.ones(keys.size, bool)
    first[1:] = keys[1:] != keys[:-1]
    return keys[first], ids[first]


def colors_to_ids(rgb: np.ndarray, colors, path=None) -> np.ndarray:
    """Map an ``(H, W, 3)`` uint8 colour image to ids with a colour table.

    Parameters
    ----------
    rgb : ndarray (H, W, 3) uint8
    colors : mapping ``{(r, g, b): id}`` or ``(N, 3)`` array (row i = colour of id i)
    path : optional, for the error message

    Returns
    -------
    ndarray (H, W), uint8 when all ids < 256 else int32

    Raises
    ------
    BadInputError
        Colours not in the table, listed with their pixel counts.

    Examples
    --------
    >>> import numpy as np
    >>> rgb = np.array([[[0, 0, 0], [255, 0, 0]]], np.uint8)
    >>> colors_to_ids(rgb, [(0, 0, 0), (255, 0, 0)]).tolist()
    [[0, 1]]
    """
    rgb = np.asarray(rgb)
    keys, ids = _color_table(colors)
    packed = (rgb[..., 0].astype(np.uint32) << 16) | (rgb[..., 1].astype(np.uint32) << 8) | rgb[..., 2]
    flat = packed.ravel()
    # run-length: colour label images are mostly long runs
    n = flat.size
    if n == 0:
        return np.zeros(rgb.shape[:2], np.uint8)
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    starts = np.concatenate(([0], change))
    vals = flat[starts]
    pos = np.searchsorted(keys, vals)
    pos = np.minimum(pos, keys.size - 1)
    ok = keys[pos] == vals
    if not ok.all():
        lens = np.diff(np.append(starts, n))
        bad = vals[~ok]
        u, inv = np.unique(bad, return_inverse=True)
        cnt = np.bincount(inv, weights=lens[~ok]).astype(np.int64)
        order = np.argsort(-cnt, kind="stable")
        txt = ", ".join(f"({(int(v) >> 16) & 255}, {(int(v) >> 8) & 255}, {int(v) & 255}) ({int(c)} px)"
                        for v, c in zip(u[order][:10], cnt[order][:10]))
        more = f", +{u.size - 10} more" if u.size > 10 else ""
        raise BadInputError(f"expected only the label table's colours, found {u.size} unknown colour(s): "
                            f"{txt}{more}; fix the image or the colour table", path=path)
    out_dtype = np.uint8 if ids.size == 0 or int(ids.max()) < 256 else np.int32
    run_ids = ids[pos].astype(out_dtype)
    lens = np.diff(np.append(starts, n))
    return np.repeat(run_ids, lens).reshape(rgb.shape[:2])


def ids_to_colors(ids: np.ndarray, colors, missing=(0, 0, 0)) -> np.ndarray:
    """Colour-code an id map: ``(H, W)`` → ``(H, W, 3)`` uint8 with ``colors[id]`` (array (N, 3) or mapping id→rgb)."""
    ids = np.asarray(ids)
    if isinstance(colors, Mapping):
        n = max([int(k) for k in colors] + [int(ids.max()) if ids.size else 0]) + 1
        table = np.tile(np.asarray(missing, np.uint8), (n, 1))
        for k, c in colors.items():
            table[int(k)] = c
    else:
        table = np.asarray(colors, np.uint8).reshape(-1, 3)
        n = max(table.shape[0], (int(ids.max()) + 1) if ids.size else 0)
        if n > table.shape[0]:
            table = np.vstack([table, np.tile(np.asarray(missing, np.uint8), (n - table.shape[0], 1))])
    return table[ids]


# ----------------------------------------------------------------------------- soft maps
def read_prob(path, *, expected_shape: tuple | None = None, resize: str | None = None) -> tuple[np.ndarray, float]:
    """Read a soft probability map: returns ``(values, full_range)``.

    8-bit (L) → range 255, 16-bit (I;16) → 65535, 32-bit int (I) → 65535 when values fit 16 bits else
    2**31-1, float (F) → 1.0. Multi-channel images are refused.
    """
    im = open_image(path)
    mode = im.mode
    if mode == "L":
        arr, rng = np.array(im), 255.0
    elif mode == "P":
        arr, rng = np.array(im.convert("L")), 255.0
    elif mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        arr, rng = np.array(im).astype(np.uint16, copy=False), 65535.0
    elif mode == "I":
        arr = np.array(im).astype(np.int32, copy=False)
        rng = 65535.0 if (arr.size == 0 or int(arr.max()) <= 65535) else float(2 ** 31 - 1)
    elif mode == "F":
        arr, rng = np.array(im).astype(np.float32, copy=False), 1.0
    elif mode == "1":
        arr, rng = np.array(im).astype(np.uint8), 1.0
    else:
        _refuse_multichannel(im, path, "a single-channel 8- or 16-bit probability map")
    if expected_shape is not None:
        arr = check_shape(arr, expected_shape, path, resize)
    return arr, rng


def binarise(values: np.ndarray, full_range: float, threshold: float | None = None) -> np.ndarray:
    """``values > t`` as uint8 0/1.

    ``threshold`` None → half the range (127.5 for 8-bit, 32767.5 for 16-bit, 0.5 for float);
    ``threshold <= 1`` → a fraction of the range; ``> 1`` → in the file's own units.

    Examples
    --------
    >>> import numpy as np
    >>> binarise(np.array([0, 127, 128, 255], np.uint8), 255.0).tolist()
    [0, 0, 1, 1]
    >>> binarise(np.array([0, 30000, 40000], np.uint16), 65535.0, 0.6).tolist()
    [0, 0, 1]
    """
    if threshold is None:
        t = full_range / 2.0
    elif threshold <= 1:
        t = float(threshold) * full_range
    else:
        t = float(threshold)
    return (np.asarray(values) > t).astype(np.uint8)


def read_soft(path, *, threshold: float | None = None, expected_shape: tuple | None = None,
              resize: str | None = None) -> np.ndarray:
    """Read an 8/16-bit (or float) probability map and binarise it (see :func:`binarise`)."""
    arr, rng = read_prob(path, expected_shape=expected_shape, resize=resize)
    return binarise(arr, rng, threshold)


# ----------------------------------------------------------------------------- shapes
def resize_nearest(arr: np.ndarray, shape: tuple) -> np.ndarray:
    """Nearest-neighbour resize of a label / id map to ``shape`` (pixel-centre sampling, like
    Pillow's ``Image.NEAREST``); never interpolates values.

    Examples
    --------
    >>> import numpy as np
    >>> resize_nearest(np.array([[1, 2], [3, 4]]), (4, 4)).tolist()[0]
    [1, 1, 2, 2]
    """
    arr = np.asarray(arr)
    H, W = int(shape[0]), int(shape[1])
    h, w = arr.shape[:2]
    if (h, w) == (H, W):
        return arr
    ri = np.minimum(((np.arange(H) + 0.5) * (h / H)).astype(np.int64), h - 1)
    ci = np.minimum(((np.arange(W) + 0.5) * (w / W)).astype(np.int64), w - 1)
    return arr[ri[:, None], ci[None, :]]


def check_shape(arr: np.ndarray, expected_shape: tuple, path=None, resize: str | None = None) -> np.ndarray:
    """Return ``arr`` if its ``(H, W)`` equals ``expected_shape``; resize it when ``resize='nearest'``;
    otherwise raise BadInputError naming both shapes and the file."""
    exp = tuple(int(x) for x in expected_shape[:2])
    got = tuple(arr.shape[:2])
    if got == exp:
        return arr
    if resize == "nearest":
        return resize_nearest(arr, exp)
    raise BadInputError(f"expected a prediction of size {exp[0]}x{exp[1]} (H x W, the ground truth's), found "
                        f"{got[0]}x{got[1]}; pass --resize nearest to resize it", path=path)


# ----------------------------------------------------------------------------- writers
def write_label(path, arr: np.ndarray, palette=None) -> None:
    """Write a label map PNG atomically.

    uint8 / bool (or any values in 0..255) → ``L`` (or ``P`` with ``palette``: (N, 3) colours by index),
    values in 0..65535 → 16-bit ``I;16``. Negative or larger values are refused (ValueError).
    """
    arr = np.asarray(arr)
    if arr.ndim != 2:
        raise ValueError(f"label maps are 2-D, got shape {arr.shape}")
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)
    lo = int(arr.min()) if arr.size else 0
    hi = int(arr.max()) if arr.size else 0
    if lo < 0 or hi > 65535:
        raise ValueError(f"label values must be in 0..65535, got {lo}..{hi}")
    if arr.dtype == np.uint8 or (hi <= 255 and arr.dtype != np.uint16):
        im = Image.fromarray(np.ascontiguousarray(arr, np.uint8), mode=None)
        if palette is not None:
            im = im.convert("P") if im.mode != "P" else im
            pal = np.zeros((256, 3), np.uint8)
            p = np.asarray(palette, np.uint8).reshape(-1, 3)[:256]
            pal[:p.shape[0]] = p
            im.putpalette(pal.ravel().tolist())
    else:
        im = Image.fromarray(np.ascontiguousarray(arr, np.uint16))
    with atomic_open(path, "wb") as f:
        im.save(f, format="PNG")


def write_color_label(path, ids: np.ndarray, colors) -> None:
    """Write an id map as a colour-coded RGB PNG (``colors[id]``) atomically."""
    rgb = ids_to_colors(ids, colors)
    with atomic_open(path, "wb") as f:
        Image.fromarray(np.ascontiguousarray(rgb, np.uint8), "RGB").save(f, format="PNG")

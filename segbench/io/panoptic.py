"""Panoptic formats: COCO RGB-id PNGs, the 2-channel PNG format and COCO panoptic JSON files.

COCO panoptic (Kirillov et al. 2019, ``cocodataset/panopticapi``) stores one PNG per image whose
RGB colour encodes a segment id::

    id = R + 256 * G + 256**2 * B          (0 = VOID, unlabeled)

and one JSON file whose ``annotations`` list has, per image, ``image_id``, ``file_name`` and
``segments_info`` (``id, category_id, iscrowd, area, bbox``); ``categories`` lists
``id, name, isthing, color``.

Decoding is what dominates panoptic evaluation, so :func:`read_panoptic_png` has several backends:

* ``"pil"`` -- Pillow (a core dependency, always available);
* ``"cv2"`` -- OpenCV (``opencv-python-headless``), used when importable;
* ``"spng"`` -- ``pyspng`` (libspng), the fastest measured, used when importable
  (``pip install 'segbench[fast]'``).

``backend=None`` (the default) picks the first importable of ``spng``, ``cv2``, ``pil``; the
environment variable ``SEGBENCH_PNG_BACKEND`` forces one. All backends are lossless and give the
same ids (tested). The RGB → id conversion reads the decoded ``(H, W, 3)`` bytes with one strided
(unaligned) little-endian ``uint32`` view and masks the high byte, i.e. one pass and no
``uint32 (H, W, 3)`` temporary (panopticapi's ``rgb2id`` makes three).

Examples
--------
>>> import numpy as np, tempfile, os
>>> from segbench.io.panoptic import write_panoptic_png, read_panoptic_png, id_to_rgb, rgb_to_id
>>> ids = np.array([[0, 1, 256], [65536, 16777215, 5]], np.uint32)
>>> bool((rgb_to_id(id_to_rgb(ids)) == ids).all())
True
>>> p = os.path.join(tempfile.mkdtemp(), "a.png"); write_panoptic_png(p, ids)
>>> bool((read_panoptic_png(p, backend="pil") == ids).all())
True
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from ..errors import BadInputError, NotFoundError
from .atomic import atomic_open, atomic_write_json
from .values import integral_id

__all__ = [
    "VOID", "OFFSET_2CH", "panoptic_categories", "rgb_to_id", "bgr_to_id", "id_to_rgb", "read_panoptic_png", "write_panoptic_png",
    "available_backends", "read_two_channel_png", "two_channel_to_ids", "ids_to_two_channel",
    "write_two_channel_png", "load_panoptic_json", "PanopticJSON", "validate_segments", "segments_from_ids",
]

VOID = 0
#: Offset of the 2-channel format's ``category_id * OFFSET + instance_id`` panoptic label
#: (panopticapi ``converters/2channels2panoptic_coco_format.py``).
OFFSET_2CH = 1000

_BACKENDS = ("spng", "cv2", "pil")
_PNG_SIG = b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------- ids <-> colours
def rgb_to_id(rgb: np.ndarray) -> np.ndarray:
    """Segment ids from an RGB(A) image: ``R + 256 G + 256**2 B`` (alpha ignored).

    Parameters
    ----------
    rgb : ndarray, shape (H, W, 3) or (H, W, 4), uint8

    Returns
    -------
    ndarray, shape (H, W), uint32

    Examples
    --------
    >>> import numpy as np
    >>> int(rgb_to_id(np.array([[[1, 2, 3]]], np.uint8))[0, 0]) == 1 + 2 * 256 + 3 * 65536
    True
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] not in (3, 4):
        raise BadInputError(f"expected an (H, W, 3) RGB array of segment colours, found shape {rgb.shape}")
    if rgb.dtype != np.uint8:
        rgb = rgb.astype(np.uint8)
    h, w, c = rgb.shape
    if c == 4:
        a = np.ascontiguousarray(rgb).view("<u4")[..., 0]
        return np.bitwise_and(a, np.uint32(0xFFFFFF)).astype(np.uint32, copy=False)
    return _packed3_to_id(np.ascontiguousarray(rgb), h, w, big_endian=False)


def bgr_to_id(bgr: np.ndarray) -> np.ndarray:
    """Segment ids from a BGR image (OpenCV order): ``R + 256 G + 256**2 B``; shape (H, W) uint32."""
    bgr = np.asarray(bgr)
    if bgr.ndim != 3 or bgr.shape[2] not in (3, 4):
        raise BadInputError(f"expected an (H, W, 3) BGR array of segment colours, found shape {bgr.shape}")
    if bgr.shape[2] == 4:
        bgr = bgr[..., :3]
    h, w, _ = bgr.shape
    return _packed3_to_id(np.ascontiguousarray(bgr, dtype=np.uint8), h, w, big_endian=True)


def _packed3_to_id(a: np.ndarray, h: int, w: int, big_endian: bool) -> np.ndarray:
    """One pass over packed 3-byte pixels with an unaligned strided 32-bit view.

    Little endian (RGB): the 4 bytes at ``3i`` are ``R G B x`` → ``x<<24 | B<<16 | G<<8 | R``.
    Big endian (BGR): the 4 bytes at ``3i-1`` are ``x B G R`` → ``x<<24 | B<<16 | G<<8 | R``.
    The pixel whose window would leave the buffer is done by hand.
    """
    n = h * w
    out = np.empty(n, np.uint32)
    flat = a.reshape(-1)
    mask = np.uint32(0xFFFFFF)
    if n > 1:
        if not big_endian:
            v = np.ndarray((n - 1,), dtype="<u4", buffer=flat, offset=0, strides=(3,))
            np.bitwise_and(v, mask, out=out[:-1])
            r, g, b = (int(x) for x in flat[3 * n - 3:3 * n])
            out[-1] = r | (g << 8) | (b << 16)
        else:
            v = np.ndarray((n - 1,), dtype=">u4", buffer=flat, offset=2, strides=(3,))
            np.bitwise_and(v, mask, out=out[1:])
            b, g, r = (int(x) for x in flat[0:3])
            out[0] = r | (g << 8) | (b << 16)
    elif n == 1:
        x, y, z = (int(t) for t in flat[:3])
        out[0] = (x | (y << 8) | (z << 16)) if not big_endian else (z | (y << 8) | (x << 16))
    return out.reshape(h, w)


def id_to_rgb(ids: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rgb_to_id`: ``(H, W)`` ids (< 2**24) → ``(H, W, 3)`` uint8 RGB."""
    ids = np.asarray(ids)
    if ids.size and (ids.min() < 0 or ids.max() >= 1 << 24):
        raise BadInputError(f"expected segment ids in 0..16777215 (24-bit RGB), found {ids.min()}..{ids.max()}")
    u = np.ascontiguousarray(ids, dtype="<u4")
    return u.view(np.uint8).reshape(*ids.shape, 4)[..., :3].copy()


# --------------------------------------------------------------------------- PNG decode
def available_backends() -> list[str]:
    """PNG decoders importable here, fastest first (``pil`` is always last and always present)."""
    out = []
    for b in _BACKENDS:
        if b == "pil" or _import_backend(b) is not None:
            out.append(b)
    return out


_BACKEND_CACHE: dict[str, Any] = {}


def _import_backend(name: str):
    if name in _BACKEND_CACHE:
        return _BACKEND_CACHE[name]
    mod = None
    try:
        if name == "spng":
            import pyspng as mod  # type: ignore
        elif name == "cv2":
            import cv2 as mod  # type: ignore
            mod.setNumThreads(1)
        elif name == "pil":
            import PIL.Image as mod
    except Exception:  # pragma: no cover - optional backend missing or broken
        mod = None
    _BACKEND_CACHE[name] = mod
    return mod


def _choose_backend(backend: str | None) -> str:
    backend = backend or os.environ.get("SEGBENCH_PNG_BACKEND") or "auto"
    if backend == "auto":
        for b in _BACKENDS:
            if _import_backend(b) is not None:
                return b
        return "pil"
    if backend not in _BACKENDS:
        raise BadInputError(f"expected a PNG backend in {', '.join(_BACKENDS)} or auto, found {backend!r}")
    if _import_backend(backend) is None:
        raise BadInputError(f"PNG backend {backend!r} is not installed; pip install "
                            f"{'pyspng' if backend == 'spng' else 'opencv-python-headless'} or use backend='pil'")
    return backend


def _png_header(data: bytes, path) -> tuple[int, int]:
    """(bit depth, colour type) from the IHDR chunk."""
    if data[:8] != _PNG_SIG or len(data) < 29:
        raise BadInputError("expected a PNG file (panoptic segment-id image), found other content; "
                            "re-save it as an RGB PNG", path=path)
    return data[24], data[25]


def read_panoptic_png(path, backend: str | None = None) -> np.ndarray:
    """Decode a COCO panoptic PNG into its segment-id map.

    Parameters
    ----------
    path : path
        RGB (or RGBA, alpha ignored; or palette, expanded) 8-bit PNG.
    backend : {"spng", "cv2", "pil", "auto"}, optional
        Decoder; default ``SEGBENCH_PNG_BACKEND`` or the fastest importable.

    Returns
    -------
    ndarray, shape (H, W), uint32
        ``R + 256 G + 256**2 B``.

    Raises
    ------
    NotFoundError, BadInputError
        Missing file; not a PNG; grey-level / 16-bit PNG (not an RGB-id image).
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise NotFoundError("expected the panoptic PNG named in the JSON's file_name, found no such file",
                            path=path) from None
    depth, ctype = _png_header(data, path)
    b = _choose_backend(backend)
    if ctype not in (2, 6, 3) or (ctype != 3 and depth != 8):
        raise BadInputError(
            f"expected an 8-bit RGB PNG whose colours encode segment ids (R + 256*G + 256^2*B), found PNG "
            f"colour type {ctype} with bit depth {depth}; a 2-channel (category, instance) PNG must be converted "
            f"first (segbench.io.panoptic.two_channel_to_ids)", path=path)
    if ctype == 3:
        b = "pil"  # palette: let Pillow expand it
    try:
        if b == "spng":
            arr = _import_backend("spng").load(data)
            return rgb_to_id(arr)
        if b == "cv2":
            cv2 = _import_backend("cv2")
            arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
            if arr is None:
                raise ValueError("cv2 could not decode")
            return bgr_to_id(arr)
        from PIL import Image
        with Image.open(io.BytesIO(data)) as im:
            if im.mode not in ("RGB", "RGBA"):
                im = im.convert("RGB")
            arr = np.asarray(im)
        return rgb_to_id(arr)
    except BadInputError:
        raise
    except Exception as e:
        raise BadInputError(f"expected a readable PNG, found a corrupt file ({type(e).__name__}: {e}); "
                            f"re-export it", path=path) from None


def write_panoptic_png(path, ids: np.ndarray) -> None:
    """Write an ``(H, W)`` segment-id map as a COCO panoptic RGB PNG (atomically)."""
    from PIL import Image
    rgb = id_to_rgb(ids)
    buf = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buf, format="PNG")
    with atomic_open(path, "wb") as f:
        f.write(buf.getvalue())


# --------------------------------------------------------------------------- 2-channel format
def read_two_channel_png(path) -> tuple[np.ndarray, np.ndarray]:
    """Read a 2-channel panoptic PNG: channel 0 = category id, channel 1 = instance id.

    Returns
    -------
    (category, instance) : two ndarrays ``(H, W)`` uint8 -> int32
    """
    from PIL import Image
    try:
        with Image.open(path) as im:
            a = np.asarray(im.convert("RGB") if im.mode not in ("RGB", "RGBA", "LA") else im)
    except FileNotFoundError:
        raise NotFoundError("expected a 2-channel panoptic PNG, found no such file", path=path) from None
    if a.ndim != 3:
        raise BadInputError(f"expected a 2-channel PNG (category, instance), found shape {a.shape}", path=path)
    return a[..., 0].astype(np.int32), a[..., 1].astype(np.int32)


def ids_to_two_channel(ids: np.ndarray, segments: Sequence[Mapping], thing_categories: Iterable[int],
                       void_category: int = 0) -> np.ndarray:
    """Segment-id map + segments → 2-channel ``(H, W, 3)`` uint8 image (category, instance, 0).

    Stuff segments get instance 0; thing segments get instances 1, 2, ... per category in segment
    order (the 2-channel format of the panoptic paper). Void pixels get ``void_category``.
    """
    ids = np.asarray(ids)
    things = set(int(c) for c in thing_categories)
    out = np.zeros((*ids.shape, 3), np.uint8)
    out[..., 0] = void_category
    per_cat: dict[int, int] = {}
    for s in segments:
        cat = int(s["category_id"])
        if not 0 <= cat <= 255:
            raise BadInputError(f"category id {cat} does not fit the 2-channel format (0..255)")
        inst = 0
        if cat in things:
            inst = per_cat.get(cat, 0) + 1
            per_cat[cat] = inst
            if inst > 255:
                raise BadInputError(f"category {cat} has more than 255 instances; the 2-channel format holds 255")
        m = ids == int(s["id"])
        out[m, 0] = cat
        out[m, 1] = inst
    return out


def write_two_channel_png(path, two: np.ndarray) -> None:
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(np.asarray(two, np.uint8), "RGB").save(buf, format="PNG")
    with atomic_open(path, "wb") as f:
        f.write(buf.getvalue())


def two_channel_to_ids(category: np.ndarray, instance: np.ndarray, categories: Mapping[int, Mapping],
                       void_categories: Iterable[int] = (0,), offset: int = OFFSET_2CH
                       ) -> tuple[np.ndarray, list]:
    """2-channel (category, instance) maps → (segment-id map, segments_info).

    Segment id = ``category * offset + instance`` as in panopticapi's
    ``2channels2panoptic_coco_format.py``; pixels whose category is in ``void_categories`` or not in
    ``categories`` are VOID (0). ``iscrowd`` is 0; ``area`` and ``bbox`` are computed.
    """
    category = np.asarray(category, np.int64)
    instance = np.asarray(instance, np.int64)
    pan = category * offset + instance
    valid = np.isin(category, [c for c in categories if c not in set(void_categories)])
    pan = np.where(valid, pan, 0).astype(np.uint32)
    segs = segments_from_ids(pan, {int(i): int(i) // offset for i in np.unique(pan) if i != VOID})
    return pan, segs


def segments_from_ids(ids: np.ndarray, id_to_category: Mapping[int, int], iscrowd: Mapping[int, int] | None = None
                      ) -> list:
    """``segments_info`` (id, category_id, iscrowd, area, bbox ``[x, y, w, h]``) for the ids of a map."""
    ids = np.asarray(ids)
    u, cnt = np.unique(ids, return_counts=True)
    out = []
    for sid, a in zip(u.tolist(), cnt.tolist()):
        if sid == VOID or sid not in id_to_category:
            continue
        ys, xs = np.nonzero(ids == sid)
        out.append({"id": int(sid), "category_id": int(id_to_category[sid]),
                    "iscrowd": int((iscrowd or {}).get(sid, 0)), "area": int(a),
                    "bbox": [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)]})
    return out


# --------------------------------------------------------------------------- JSON
def _image_key(v):
    """An ``image_id`` as a dict key: integral floats become ``int`` (panopticapi's dict pairs 1.0 with 1);
    ints, strings and other floats are kept; anything else (lists, ``None``, ``bool``) gives ``None``."""
    if isinstance(v, bool):
        return None
    if isinstance(v, float):
        return int(v) if v.is_integer() else v
    if isinstance(v, (int, str)):
        return v
    return None


def panoptic_categories(cats: Sequence, path=None) -> dict:
    """``{id: category}`` of a panoptic ``categories`` list, checked as panopticapi reads it: integer
    (or integral float) ids, each once; ``isthing`` 0 or 1; ``color`` ``[R, G, B]`` in 0..255."""
    out: dict = {}
    for c in cats:
        try:
            cid = integral_id(c["id"])
        except (KeyError, TypeError, ValueError, IndexError):
            raise BadInputError(f"expected categories with an integer 'id', found {c!r}", path=path) from None
        if cid in out:
            raise BadInputError(f"category id {cid} appears twice in 'categories'; keep one", path=path)
        if c.get("isthing", 0) not in (0, 1):  # panopticapi tests isthing == 1
            raise BadInputError(f"category {cid}: expected 'isthing' 0 or 1, found {c.get('isthing')!r}", path=path)
        col = c.get("color")
        if col is not None and not (isinstance(col, (list, tuple)) and len(col) >= 3 and all(
                isinstance(x, int) and not isinstance(x, bool) and 0 <= x <= 255 for x in col[:3])):
            raise BadInputError(f"category {cid}: expected 'color' as [R, G, B] integers 0..255, found {col!r}",
                                path=path)
        out[cid] = dict(c)
    return out


class PanopticJSON:
    """A parsed, validated COCO panoptic JSON file.

    Attributes
    ----------
    path : Path
    categories : dict
        ``{category_id: category dict}`` in file order.
    annotations : list of dict
        In file order.
    by_image : dict
        ``image_id → annotation``.
    images : dict
        ``image_id → image dict`` (may be empty for prediction files).
    """

    def __init__(self, path, data: Mapping, require_categories: bool = True):
        self.path = Path(path)
        if not isinstance(data, Mapping) or not isinstance(data.get("annotations"), list):
            raise BadInputError("expected a COCO panoptic JSON object with an 'annotations' list "
                                "(image_id, file_name, segments_info), found none", path=path)
        cats = data.get("categories")
        if require_categories and not isinstance(cats, list):
            raise BadInputError("expected a 'categories' list (id, name, isthing) in the ground-truth JSON, "
                                "found none", path=path)
        self.categories: dict = panoptic_categories(cats or [], path)
        self.annotations = data["annotations"]
        self.by_image: dict = {}
        for i, a in enumerate(self.annotations):
            if not isinstance(a, Mapping) or "image_id" not in a or "file_name" not in a \
                    or not isinstance(a.get("segments_info"), list):
                raise BadInputError(f"annotation #{i}: expected image_id, file_name and a segments_info list, "
                                    f"found keys {sorted(a) if isinstance(a, Mapping) else type(a).__name__}",
                                    path=path)
            iid = _image_key(a["image_id"])
            if iid is None:
                raise BadInputError(f"annotation #{i}: expected an integer or string image_id, found "
                                    f"{a['image_id']!r}", path=path)
            if not isinstance(a["file_name"], str) or not a["file_name"]:
                raise BadInputError(f"image {iid!r}: expected 'file_name' as the PNG's name, found "
                                    f"{a['file_name']!r}", path=path)
            bad = next((s for s in a["segments_info"] if not isinstance(s, Mapping)), None)
            if bad is not None:
                raise BadInputError(f"image {iid!r}: expected each segments_info entry as an object (id, "
                                    f"category_id, ...), found {bad!r}", path=path)
            if iid in self.by_image:
                raise BadInputError(f"image {iid!r} has two annotations; keep one per image", path=path)
            a["image_id"] = iid
            self.by_image[iid] = a
        self.images = {_image_key(im.get("id")): im for im in data.get("images") or [] if isinstance(im, Mapping)}
        self.info = data.get("info")

    def folder_beside(self) -> Path:
        """panopticapi's convention: the PNG folder is the JSON path without ``.json``."""
        return self.path.with_suffix("")


def load_panoptic_json(path, require_categories: bool = True) -> PanopticJSON:
    """Read and check a COCO panoptic JSON file (one-line errors naming the file)."""
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read())
    except FileNotFoundError:
        raise NotFoundError("expected a COCO panoptic JSON file, found no such file", path=path) from None
    except (ValueError, UnicodeDecodeError) as e:
        raise BadInputError(f"expected valid JSON, found a parse error ({e}); fix or re-export the file",
                            path=path) from None
    return PanopticJSON(path, data, require_categories=require_categories)


def validate_segments(segments: Sequence[Mapping], categories: Mapping | set | None, image, path=None,
                      present_ids: np.ndarray | None = None) -> None:
    """Check a segments_info list (and, given ``present_ids``, the PNG's ids against it).

    Errors name the image and the segment: a duplicated segment id, a category id not in the
    categories, a segment in the PNG but not in the JSON, a JSON segment absent from the PNG.
    """
    seen = set()
    for s in segments:
        try:
            sid = integral_id(s["id"])
            cat = integral_id(s["category_id"])
        except (KeyError, TypeError, ValueError, IndexError):
            raise BadInputError(f"image {image!r}: expected segments with integer 'id' and 'category_id', "
                                f"found {s!r}", path=path) from None
        if sid in seen:
            raise BadInputError(f"image {image!r}: segment id {sid} appears twice in segments_info; "
                                f"segment ids must be unique per image", path=path)
        seen.add(sid)
        if categories is not None and cat not in categories:
            raise BadInputError(f"image {image!r}: segment {sid} has category_id {cat}, which is not in the "
                                f"categories; use one of the ground truth's category ids", path=path)
    if present_ids is not None:
        present = set(int(x) for x in np.asarray(present_ids).tolist())
        extra = sorted(present - seen - {VOID})
        if extra:
            raise BadInputError(f"image {image!r}: segment {extra[0]} is in the PNG but not in the JSON's "
                                f"segments_info ({len(extra)} such ids); add it or paint it 0 (void)", path=path)
        missing = sorted(seen - present)
        if missing:
            raise BadInputError(f"image {image!r}: segment {missing[0]} is in the JSON's segments_info but not in "
                                f"the PNG ({len(missing)} such ids); remove it from the JSON", path=path)


def write_panoptic_json(path, annotations: list, categories: list, images: list | None = None) -> None:
    """Write a COCO panoptic JSON (atomically)."""
    d = {"annotations": annotations, "categories": categories}
    if images is not None:
        d = {"images": images, **d}
    atomic_write_json(path, d, indent=None)


__all__.append("write_panoptic_json")

"""DAVIS boundary F-measure: ``seg2bmap`` boundaries matched within a disk of ``bound_th``.

This is the contour accuracy *F* of the DAVIS benchmark (Perazzi et al., CVPR 2016) exactly as
``davis2017-evaluation`` computes it in ``davis2017/metrics.py`` (``f_measure`` / ``_seg2bmap``):

1. ``bound_pix = bound_th`` if ``bound_th >= 1`` else ``ceil(bound_th * ||(H, W)||)`` (8 px at 480p);
2. both masks (void pixels removed when given) are turned into 1-px boundary maps with
   :func:`seg2bmap` (D. Martin's BSDS code: a pixel is a boundary pixel when it differs from its east,
   south or south-east neighbour);
3. each boundary map is dilated with ``skimage.morphology.disk(bound_pix)`` the way ``cv2.dilate`` does
   (anchor at the kernel centre, nothing outside the image);
4. ``precision = |B_pred ∩ dil(B_gt)| / |B_pred|``, ``recall = |B_gt ∩ dil(B_pred)| / |B_gt|`` with the
   official conventions for empty boundaries (no predicted boundary: P = 1, R = 0; no GT boundary:
   P = 0, R = 1; neither: P = R = 1) and ``F = 2PR / (P + R)`` (0 when ``P + R = 0``).

The work is done on the bounding box of both masks grown by one pixel, which gives the same boundary
maps and the same matches as the full frame (boundaries never leave that box), so the cost follows the
object size instead of the frame size. The dilation is a union of row-window ORs (one per distinct row
of the disk), computed with cumulative sums; it equals ``cv2.dilate`` with the disk kernel bit for bit.

Stable API (other metrics build on it, e.g. the semantic ``bf`` metric):

- :func:`seg2bmap` ``(seg, width=None, height=None) -> bool (H, W)``
- :func:`boundary_counts` ``(fg_pred, fg_gt, bound_th=0.008, void=None) -> BoundaryCounts``
  integer counts ``(fg_match, n_fg, gt_match, n_gt)`` (sum them for dataset-level states)
- :func:`f_from_counts` ``(fg_match, n_fg, gt_match, n_gt) -> (precision, recall, F)``
- :func:`boundary_f` ``(fg_pred, fg_gt, bound_th=0.008, void=None) -> float``
- :func:`boundary_prf` ``(fg_pred, fg_gt, bound_th=0.008, void=None) -> (precision, recall, F)``
- :func:`f_measure` — the official signature ``(foreground_mask, gt_mask, void_pixels=None, bound_th=0.008)``
- :func:`bound_pix`, :func:`disk_footprint`, :func:`dilate_disk`

Examples
--------
>>> import numpy as np
>>> gt = np.zeros((480, 854), bool); gt[100:200, 100:300] = True
>>> pred = np.zeros_like(gt); pred[103:203, 100:300] = True
>>> round(boundary_f(pred, gt), 6)
1.0
>>> boundary_counts(pred, gt).n_gt
600

References
----------
davis2017-evaluation, ``davis2017/metrics.py`` (github.com/davisvideochallenge/davis2017-evaluation);
Martin, Fowlkes, Malik, "Learning to detect natural image boundaries", TPAMI 2004 (``seg2bmap``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["seg2bmap", "bound_pix", "disk_footprint", "dilate_disk", "BoundaryCounts", "boundary_counts",
           "f_from_counts", "boundary_f", "boundary_prf", "f_measure", "mask_bbox", "pack_rows", "unpack_rows",
           "dilate_packed", "count_and"]


# ----------------------------------------------------------------------------- boundaries
def seg2bmap(seg, width: int | None = None, height: int | None = None) -> np.ndarray:
    """Binary boundary map with 1-px boundaries, offset half a pixel towards the origin.

    Parameters
    ----------
    seg : ndarray, shape (H, W)
        Segmentation; any non-zero value is foreground.
    width, height : int, optional
        Size of the output map (default the input's). A different size reproduces the reference's
        (quirky) index mapping ``(1 + floor(y - 1 + height / h), 1 + floor(x - 1 + width / h))``.

    Returns
    -------
    ndarray of bool, shape (height, width)
        ``b = seg ^ east | seg ^ south | seg ^ south_east`` (outside the image is 0); on the last row only
        the east term, on the last column only the south term, and the bottom-right pixel is 0.

    Examples
    --------
    >>> m = np.zeros((4, 4), bool); m[1:3, 1:3] = True
    >>> seg2bmap(m).astype(int)
    array([[1, 1, 1, 0],
           [1, 0, 1, 0],
           [1, 1, 1, 0],
           [0, 0, 0, 0]])
    """
    seg = np.asarray(seg)
    if seg.ndim != 2:
        raise ValueError(f"seg2bmap expects a 2-D mask, got shape {seg.shape}")
    seg = seg.astype(bool)
    h, w = seg.shape
    width = w if width is None else int(width)
    height = h if height is None else int(height)
    b = np.zeros((h, w), dtype=bool)
    if h == 0 or w == 0:
        return b
    # interior: compare with east, south, south-east neighbours (0 outside)
    b[:-1, :-1] = (seg[:-1, :-1] ^ seg[:-1, 1:]) | (seg[:-1, :-1] ^ seg[1:, :-1]) | (seg[:-1, :-1] ^ seg[1:, 1:])
    # last column (not last row): east and south-east are outside (0); south is inside
    b[:-1, -1] = seg[:-1, -1] ^ seg[1:, -1]
    # last row (not last column): only the east term counts
    b[-1, :-1] = seg[-1, :-1] ^ seg[-1, 1:]
    b[-1, -1] = False
    if w == width and h == height:
        return b
    ys, xs = np.nonzero(b)
    jj = 1 + np.floor((ys - 1) + height / h).astype(np.int64)
    ii = 1 + np.floor((xs - 1) + width / h).astype(np.int64)
    if jj.size and (jj.max() >= height or ii.max() >= width):
        raise ValueError(f"can't convert {w}x{h} seg to {width}x{height} bmap")
    out = np.zeros((height, width), dtype=bool)
    out[jj, ii] = True
    return out


def bound_pix(shape, bound_th: float = 0.008) -> float:
    """Dilation radius: ``bound_th`` if ``>= 1`` (pixels) else ``ceil(bound_th * ||shape||)``.

    >>> bound_pix((480, 854))
    8.0
    """
    if bound_th >= 1:
        return bound_th
    return float(np.ceil(bound_th * np.linalg.norm(tuple(shape[-2:]))))


def disk_footprint(radius) -> np.ndarray:
    """``skimage.morphology.disk(radius)`` (strict radius): ``X**2 + Y**2 <= radius**2`` on
    ``arange(-radius, radius + 1)``.

    >>> disk_footprint(1).astype(int)
    array([[0, 1, 0],
           [1, 1, 1],
           [0, 1, 0]])
    """
    L = np.arange(-radius, radius + 1)
    X, Y = np.meshgrid(L, L)
    return (X ** 2 + Y ** 2) <= radius ** 2


_ROWS_CACHE: dict = {}


def _footprint_rows(radius):
    """``[(dy, lo, hi), ...]``: for each kernel row with a non-zero, its vertical offset from the anchor and
    the (contiguous) horizontal offset interval. Anchor = kernel centre ``(size // 2)`` as in cv2."""
    key = float(radius)
    rows = _ROWS_CACHE.get(key)
    if rows is None:
        fp = disk_footprint(radius)
        kh, kw = fp.shape
        ay, ax = kh // 2, kw // 2
        rows = []
        for k in range(kh):
            nz = np.flatnonzero(fp[k])
            if nz.size == 0:
                continue
            if nz[-1] - nz[0] + 1 != nz.size:  # a disk row is always one run; keep it general anyway
                for c in nz:
                    rows.append((k - ay, int(c - ax), int(c - ax)))
                continue
            rows.append((k - ay, int(nz[0] - ax), int(nz[-1] - ax)))
        rows = tuple(rows)
        _ROWS_CACHE[key] = rows
    return rows


# ---- bit-packed rows: (H, ceil(W / 64)) uint64, pixel x is bit (x % 64) of word x // 64
def pack_rows(bmap: np.ndarray) -> np.ndarray:
    """Pack a boolean map ``(H, W)`` into little-endian ``uint64`` words ``(H, ceil(W / 64))``."""
    bmap = np.asarray(bmap, dtype=bool)
    h, w = bmap.shape
    nw = max((w + 63) // 64, 1)
    buf = np.zeros((h, nw * 8), dtype=np.uint8)
    if w:
        pk = np.packbits(bmap, axis=1, bitorder="little")
        buf[:, :pk.shape[1]] = pk
    return buf.view("<u8")


def unpack_rows(packed: np.ndarray, width: int) -> np.ndarray:
    """Inverse of :func:`pack_rows` (bits beyond ``width`` are dropped)."""
    packed = np.ascontiguousarray(packed, dtype="<u8")
    return np.unpackbits(packed.view(np.uint8), axis=1, bitorder="little")[:, :width].astype(bool)


_U64 = [np.uint64(i) for i in range(65)]


def _shift_words(p: np.ndarray, d: int) -> np.ndarray:
    """``out[x] = p[x + d]`` on packed rows (negative ``d`` shifts the other way); outside is 0."""
    h, nw = p.shape
    if d == 0:
        return p.copy()
    q, b = divmod(abs(d), 64)
    if q == 0 and nw == 1:
        return (p >> _U64[b]) if d > 0 else (p << _U64[b])
    if q == 0:
        if d > 0:
            out = p >> _U64[b]
            out[:, :-1] |= p[:, 1:] << _U64[64 - b]
        else:
            out = p << _U64[b]
            out[:, 1:] |= p[:, :-1] >> _U64[64 - b]
        return out
    out = np.zeros_like(p)
    if q >= nw:
        return out
    if d > 0:
        src = p[:, q:]
        out[:, :nw - q] = src >> _U64[b] if b else src
        if b and nw - q > 1:
            out[:, :nw - q - 1] |= src[:, 1:] << _U64[64 - b]
    else:
        src = p[:, :nw - q]
        out[:, q:] = src << _U64[b] if b else src
        if b and nw - q > 1:
            out[:, q + 1:] |= src[:, :-1] >> _U64[64 - b]
    return out


def dilate_packed(p: np.ndarray, radius, pad_rows: int = 0) -> np.ndarray:
    """Disk dilation of packed rows (see :func:`dilate_disk`).

    With ``pad_rows = k`` the output has ``k`` extra rows above and below (row ``i`` of the output is
    row ``i - k`` of the input frame), so that a dilation near a crop's top/bottom is not cut off.
    Bits to the right of the original width may be set; mask them (or AND with a clean map).
    """
    h, nw = p.shape
    H = h + 2 * pad_rows
    out = np.zeros((H, nw), dtype=p.dtype)
    if h == 0 or not p.any():
        return out
    right = [p]  # right[k][x] = any(p[x .. x + k])
    left = [p]   # left[k][x]  = any(p[x - k .. x])
    wins: dict = {}
    for dy, lo, hi in _footprint_rows(radius):
        win = wins.get((lo, hi))
        if win is None:
            if lo <= 0 <= hi:
                while len(right) <= hi:
                    right.append(right[-1] | _shift_words(p, len(right)))
                while len(left) <= -lo:
                    left.append(left[-1] | _shift_words(p, -len(left)))
                win = left[-lo] | right[hi] if lo < 0 and hi > 0 else (left[-lo] if hi == 0 else right[hi])
            else:  # an interval without the anchor column (never produced by a disk; kept general)
                win = np.zeros_like(p)
                for d in range(lo, hi + 1):
                    win |= _shift_words(p, d)
            wins[(lo, hi)] = win
        # out_frame[y] |= win[y + dy]  ->  out[y + pad] |= win[y + dy]
        # frame rows y in [-pad, h + pad) with 0 <= y + dy < h
        y_start = max(-pad_rows, -dy)
        y_stop = min(h + pad_rows, h - dy)
        if y_stop > y_start:
            out[y_start + pad_rows:y_stop + pad_rows] |= win[y_start + dy:y_stop + dy]
    return out


def dilate_disk(bmap: np.ndarray, radius) -> np.ndarray:
    """``cv2.dilate(bmap, disk(radius))`` for a boolean map (outside the image contributes nothing).

    Parameters
    ----------
    bmap : ndarray of bool, shape (H, W)
    radius : float
        Disk radius in pixels (``skimage.morphology.disk`` semantics).

    Returns
    -------
    ndarray of bool, shape (H, W)
        ``out[y, x] = any(bmap[y + dy, x + dx] for (dy, dx) in disk)`` (anchor at the kernel centre).

    Examples
    --------
    >>> b = np.zeros((5, 5), bool); b[2, 2] = True
    >>> dilate_disk(b, 1).astype(int)[1:4, 1:4]
    array([[0, 1, 0],
           [1, 1, 1],
           [0, 1, 0]])
    """
    bmap = np.asarray(bmap, dtype=bool)
    h, w = bmap.shape
    if h == 0 or w == 0:
        return np.zeros((h, w), dtype=bool)
    return unpack_rows(dilate_packed(pack_rows(bmap), radius), w)


def count_and(a: np.ndarray, b: np.ndarray) -> int:
    """Number of set bits of ``a & b`` (packed rows of equal shape)."""
    return int(_popcount(a & b))


def _popcount(x: np.ndarray) -> int:
    if hasattr(np, "bitwise_count"):
        return int(np.bitwise_count(x).sum())
    return int(_POP8[np.ascontiguousarray(x).view(np.uint8)].sum())


_POP8 = np.array([bin(i).count("1") for i in range(256)], dtype=np.int64)


def mask_bbox(mask: np.ndarray):
    """``(y0, y1, x0, x1)`` (half-open) of the non-zero pixels, or None when the mask is empty."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


# ----------------------------------------------------------------------------- F measure
class BoundaryCounts(NamedTuple):
    """Integer boundary-match counts of one mask pair.

    ``fg_match``: predicted boundary pixels within the disk of a GT boundary pixel; ``n_fg``: predicted
    boundary pixels; ``gt_match``: GT boundary pixels within the disk of a predicted one; ``n_gt``: GT
    boundary pixels. Counts add over images for dataset-level precision / recall.
    """

    fg_match: int
    n_fg: int
    gt_match: int
    n_gt: int


def f_from_counts(fg_match, n_fg, gt_match, n_gt) -> tuple:
    """Precision, recall and F from boundary counts, with the DAVIS conventions for empty boundaries.

    Returns
    -------
    (precision, recall, F) : floats
        ``P = fg_match / n_fg``, ``R = gt_match / n_gt``, ``F = 2PR / (P + R)``; no predicted boundary:
        P = 1, R = 0; no GT boundary: P = 0, R = 1; neither: P = R = 1; ``F = 0`` when ``P + R = 0``.

    >>> f_from_counts(5, 10, 10, 10)
    (0.5, 1.0, 0.6666666666666666)
    >>> f_from_counts(0, 0, 0, 0)
    (1, 1, 1.0)
    """
    if n_fg == 0 and n_gt > 0:
        precision, recall = 1, 0
    elif n_fg > 0 and n_gt == 0:
        precision, recall = 0, 1
    elif n_fg == 0 and n_gt == 0:
        precision, recall = 1, 1
    else:
        precision = float(fg_match) / float(n_fg)
        recall = float(gt_match) / float(n_gt)
    if precision + recall == 0:
        f = 0.0
    else:
        f = 2 * precision * recall / (precision + recall)
    return precision, recall, float(f)


def boundary_counts(fg_pred, fg_gt, bound_th: float = 0.008, void=None, radius=None) -> BoundaryCounts:
    """Boundary match counts of a predicted and a GT binary mask (DAVIS ``f_measure`` internals).

    Parameters
    ----------
    fg_pred, fg_gt : ndarray, shape (H, W)
        Binary masks (non-zero = foreground).
    bound_th : float, default 0.008
        Tolerance: a fraction of the image diagonal (< 1) or pixels (>= 1).
    void : ndarray of bool, shape (H, W), optional
        Pixels removed from both masks before the boundaries are taken.
    radius : float, optional
        Dilation radius in pixels; overrides ``bound_th`` (use it when scoring a crop of a larger image).

    Returns
    -------
    BoundaryCounts
    """
    fg_pred = np.asarray(fg_pred)
    fg_gt = np.asarray(fg_gt)
    if fg_pred.shape != fg_gt.shape or fg_pred.ndim != 2:
        raise ValueError(f"boundary_counts: masks must be 2-D with equal shapes, got {fg_pred.shape} and {fg_gt.shape}")
    fg_pred = fg_pred.astype(bool, copy=False)
    fg_gt = fg_gt.astype(bool, copy=False)
    if void is not None:
        keep = ~np.asarray(void, dtype=bool)
        fg_pred = fg_pred & keep
        fg_gt = fg_gt & keep
    r = bound_pix(fg_pred.shape, bound_th) if radius is None else radius
    box = mask_bbox(fg_pred | fg_gt)
    if box is None:
        return BoundaryCounts(0, 0, 0, 0)
    h, w = fg_pred.shape
    y0, y1, x0, x1 = max(box[0] - 1, 0), min(box[1] + 1, h), max(box[2] - 1, 0), min(box[3] + 1, w)
    bp = pack_rows(seg2bmap(fg_pred[y0:y1, x0:x1]))
    bg = pack_rows(seg2bmap(fg_gt[y0:y1, x0:x1]))
    n_fg = _popcount(bp)
    n_gt = _popcount(bg)
    if n_fg == 0 or n_gt == 0:
        return BoundaryCounts(0, n_fg, 0, n_gt)
    fg_match = count_and(bp, dilate_packed(bg, r))
    gt_match = count_and(bg, dilate_packed(bp, r))
    return BoundaryCounts(fg_match, n_fg, gt_match, n_gt)


def boundary_prf(fg_pred, fg_gt, bound_th: float = 0.008, void=None) -> tuple:
    """``(precision, recall, F)`` of the DAVIS boundary measure for one mask pair."""
    return f_from_counts(*boundary_counts(fg_pred, fg_gt, bound_th, void))


def boundary_f(fg_pred, fg_gt, bound_th: float = 0.008, void=None) -> float:
    """DAVIS boundary F-measure of a predicted and a GT binary mask (see the module docstring).

    Parameters
    ----------
    fg_pred, fg_gt : ndarray, shape (H, W)
        Binary masks.
    bound_th : float, default 0.008
    void : ndarray of bool, optional

    Returns
    -------
    float in [0, 1]

    >>> m = np.zeros((48, 85), bool); m[10:30, 10:40] = True
    >>> boundary_f(m, m), boundary_f(np.zeros_like(m), m), boundary_f(np.zeros_like(m), np.zeros_like(m))
    (1.0, 0.0, 1.0)
    """
    return boundary_prf(fg_pred, fg_gt, bound_th, void)[2]


def f_measure(foreground_mask, gt_mask, void_pixels=None, bound_th: float = 0.008) -> float:
    """The official ``davis2017.metrics.f_measure`` signature (prediction first)."""
    return boundary_f(foreground_mask, gt_mask, bound_th, void_pixels)

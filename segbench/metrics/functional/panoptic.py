"""Panoptic quality (PQ, SQ, RQ) exactly as COCO's ``panopticapi.evaluation``, and PQ† (modified PQ).

Definitions (Kirillov et al., "Panoptic Segmentation", CVPR 2019). Per image, a ground-truth segment
``g`` and a predicted segment ``p`` of the same category *match* when

.. math:: \\mathrm{IoU}(p, g) = \\frac{|p \\cap g|}{|p| + |g| - |p \\cap g| - |p \\cap \\mathrm{VOID}|} > 0.5

(``|g|`` is the ground truth's ``area`` from the JSON, ``|p|`` is counted in the PNG, VOID is the
ground truth's id 0). Crowd ground-truth segments (``iscrowd=1``) are never matched and never counted
as false negatives. An unmatched prediction is ignored (not a false positive) when more than half of
it lies on VOID plus the crowd region of its category (the last crowd segment of that category in
``segments_info``, as panopticapi does). Per class ``c``:

.. math:: PQ_c = \\frac{\\sum_{TP} \\mathrm{IoU}}{TP + FP/2 + FN/2},\\quad
          SQ_c = \\frac{\\sum_{TP} \\mathrm{IoU}}{TP},\\quad RQ_c = \\frac{TP}{TP + FP/2 + FN/2}

and PQ / SQ / RQ are means over the classes with ``TP + FP + FN > 0`` (all, things, stuff).

The state of a dataset is per-class ``tp, fp, fn`` (int64) and ``iou`` (float64 sum); states add.

Speed: a segment map is piecewise constant, so instead of ``np.unique`` over ``H*W`` combined labels
(a sort, what panopticapi does) the pairing first finds the runs of equal ``(gt id, pred id)`` along
the flattened image (two comparisons into reused scratch masks, then the run starts found word by
word, :func:`run_lengths`), maps the run values to segment slots with a per-thread lookup table (a
``searchsorted`` fallback for ids beyond 24 bits), and builds the small
``(segments_gt + 2) x (segments_pred + 2)`` intersection matrix with one ``bincount`` over the runs.
Matching, FN and FP then run in plain Python over the ~20 segments and ~50 overlapping pairs of an
image (cheaper than many numpy calls on tiny arrays), with the same integer counts and the same
float operations, in the same order, as panopticapi.

References
----------
panopticapi ``evaluation.py`` (``pq_compute_single_core``, ``PQStat.pq_average``);
torchmetrics ``functional/detection/_panoptic_quality_common.py`` for PQ† (Porzi et al., "Seamless
Scene Segmentation", CVPR 2019).

Examples
--------
>>> import numpy as np
>>> gt = np.array([[1, 1, 2, 2]], np.uint32); pr = np.array([[7, 7, 7, 9]], np.uint32)
>>> st = pq_image_stats(gt, [{"id": 1, "category_id": 1, "area": 2}, {"id": 2, "category_id": 2, "area": 2}],
...                     pr, [{"id": 7, "category_id": 1}, {"id": 9, "category_id": 2}], {1: 0, 2: 1}, 2)
>>> st["tp"].tolist(), st["fp"].tolist(), st["fn"].tolist(), st["iou"].round(4).tolist()
([1, 0], [0, 1], [0, 1], [0.6667, 0.0])
"""

from __future__ import annotations

import math
import threading
from typing import Any, Mapping, Sequence

import numpy as np

from ...errors import BadInputError
from ...io.values import integral_id

__all__ = ["VOID", "pair_counts", "run_lengths", "pq_image_stats", "pq_summary", "empty_stats", "pq_modified_image_stats",
           "pq_modified_summary"]

VOID = 0


def empty_stats(num_classes: int) -> dict:
    """A zero PQ state: ``tp, fp, fn`` int64 ``(C,)`` and ``iou`` float64 ``(C,)``."""
    return {"tp": np.zeros(num_classes, np.int64), "fp": np.zeros(num_classes, np.int64),
            "fn": np.zeros(num_classes, np.int64), "iou": np.zeros(num_classes, np.float64)}


def _as_ids(a, name: str) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype == np.uint32:
        return a
    if a.dtype.kind not in "iub":
        raise BadInputError(f"expected an integer segment-id map for {name}, found dtype {a.dtype}")
    if a.size and (a.min() < 0 or a.max() > 0xFFFFFFFF):
        raise BadInputError(f"expected segment ids in 0..2**32-1 for {name}, found {a.min()}..{a.max()}")
    return a.astype(np.uint32)


def pair_counts(gt_ids: np.ndarray, pred_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Joint histogram of two segment-id maps: the distinct ``(gt id, pred id)`` pairs and pixel counts.

    Parameters
    ----------
    gt_ids, pred_ids : ndarray, shape (H, W), unsigned integer (< 2**32)

    Returns
    -------
    g, p : ndarray (K,) int64
        Pair ids, sorted by ``(g, p)``.
    n : ndarray (K,) int64
        Pixels of each pair.

    Examples
    --------
    >>> g, p, n = pair_counts(np.array([[1, 1, 0]]), np.array([[5, 6, 6]]))
    >>> g.tolist(), p.tolist(), n.tolist()
    ([0, 1, 1], [6, 5, 6], [1, 1, 1])
    """
    gv, pv, lengths = run_lengths(gt_ids, pred_ids)  # runs first: a few thousand instead of H*W pixels
    lengths = lengths.astype(np.int64, copy=False)
    key = (gv.astype(np.uint64) << np.uint64(32)) | pv.astype(np.uint64)
    if key.size > 1:
        order = np.argsort(key, kind="stable")
        key = key[order]
        lengths = lengths[order]
        first = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
        cnt = np.add.reduceat(lengths, first)
        key = key[first]
    else:
        cnt = lengths
    return (key >> np.uint64(32)).astype(np.int64), (key & np.uint64(0xFFFFFFFF)).astype(np.int64), cnt


def _json_area(v):
    """A segment's JSON ``area``: ``-1`` when absent; else a number >= 0 kept as it is (an integral value
    as ``int``, a fractional one as ``float``: panopticapi puts it in the union unchanged)."""
    if v is None:
        return -1
    if isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) and v >= 0:
        return int(v)
    if isinstance(v, (float, np.floating)) and math.isfinite(v) and v >= 0:
        return int(v) if float(v).is_integer() else float(v)
    raise ValueError(f"not an area: {v!r}")


def _segment_table(segments: Sequence[Mapping], image, path, what: str) -> tuple:
    """ids, category ids, crowd flags, JSON areas (or -1) of a segments_info list; checks the values
    (:func:`integral_id`, areas >= 0) and duplicated ids. Areas are int64, or float64 when one is fractional."""
    n = len(segments)
    ids = np.empty(n, np.int64)
    cats = np.empty(n, np.int64)
    crowd = np.zeros(n, bool)
    area = [-1] * n
    for i, s in enumerate(segments):
        try:
            ids[i] = integral_id(s["id"])
            cats[i] = integral_id(s["category_id"])
            crowd[i] = s.get("iscrowd", 0) == 1
            area[i] = _json_area(s.get("area"))
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
            raise BadInputError(f"image {image!r}: expected {what} segments with integer 'id' and 'category_id' "
                                f"(and a non-negative 'area'), found {s!r}", path=path) from None
    if n > 1:
        srt = np.sort(ids)
        dup = srt[1:][srt[1:] == srt[:-1]]
        if dup.size:
            raise BadInputError(f"image {image!r}: {what} segment id {int(dup[0])} appears twice in segments_info; "
                                f"segment ids must be unique per image", path=path)
    return ids, cats, crowd, np.array(area) if n else np.zeros(0, np.int64)


def run_lengths(gt_ids: np.ndarray, pred_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs of constant ``(gt id, pred id)`` along the flattened maps: values at run starts and lengths.

    Two comparisons and one ``or`` over ``H*W`` pixels, written into per-thread scratch masks (a
    fresh ``H*W`` mask per image costs more in page faults than the comparison itself), then the
    run starts in two levels (:func:`_flatnonzero_words`); everything after works on the runs (a
    few thousand for a 640x480 COCO image instead of 307200 pixels).

    Returns
    -------
    g, p : ndarray (R,)
        Ground-truth and predicted id of each run (the maps' dtype, uint32 for RGB ids).
    n : ndarray (R,) intp
        Pixels of each run.

    Examples
    --------
    >>> g, p, n = run_lengths(np.array([[1, 1, 1], [1, 2, 2]]), np.array([[5, 5, 6], [6, 6, 6]]))
    >>> g.tolist(), p.tolist(), n.tolist()
    ([1, 1, 2], [5, 6, 6], [2, 2, 2])
    """
    g = _as_ids(gt_ids, "the ground truth")
    p = _as_ids(pred_ids, "the prediction")
    if g.shape != p.shape:
        raise BadInputError(f"expected the prediction to have the ground truth's size {g.shape}, found {p.shape}")
    g = g.ravel()
    p = p.ravel()
    n = g.size
    if n == 0:
        z = np.zeros(0, np.int64)
        return z.astype(np.uint32), z.astype(np.uint32), z
    words, tmp = _scratch_masks(n)  # length: n rounded up to a multiple of 8
    ch = words[:n]
    words[n:] = False
    ch[0] = True  # a run starts at pixel 0
    np.not_equal(g[1:], g[:-1], out=ch[1:])
    np.not_equal(p[1:], p[:-1], out=tmp[1:n])
    np.bitwise_or(ch[1:], tmp[1:n], out=ch[1:])
    starts = _flatnonzero_words(words)
    lengths = np.empty(starts.size, np.intp)
    np.subtract(starts[1:], starts[:-1], out=lengths[:-1])
    lengths[-1] = n - starts[-1]
    return g.take(starts), p.take(starts), lengths


def _flatnonzero_words(mask: np.ndarray) -> np.ndarray:
    """``np.flatnonzero(mask)`` for a sparse bool mask whose length is a multiple of 8.

    ``flatnonzero`` visits every byte (about 0.35 ns each, 110 us for a 640x480 change mask); here
    it first finds the non-zero 8-byte words (one compare over ``n/8`` words), then the set bytes
    inside only those words. On the benchmark's COCO-like maps (about 9500 runs in 307200 pixels)
    one word in eight holds a run start and this takes 75 us instead of 112 us; the result is the
    same array.
    """
    m64 = mask.view(np.uint64)
    w = np.flatnonzero(m64 != 0)
    j = np.flatnonzero(m64[w].view(bool))
    out = w[j >> 3]
    out <<= 3
    out |= j & 7
    return out


_SCRATCH_MAX = 1 << 23  # pixels; larger images get fresh masks instead of keeping big ones per thread


def _scratch_masks(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Two bool arrays of length ``n`` rounded up to a multiple of 8, to overwrite.

    Per-thread buffers reused across images; both start on an 8-byte boundary, so the first can be
    read as ``uint64`` words (:func:`_flatnonzero_words`).
    """
    k = -(-n // 8) * 8
    if n > _SCRATCH_MAX:
        return np.empty(k, bool), np.empty(k, bool)
    buf = getattr(_TLS, "masks", None)
    if buf is None or buf.shape[1] < k:
        buf = _TLS.masks = np.empty((2, max(k, 1 << 16)), bool)
    return buf[0, :k], buf[1, :k]


def _segment_lists(segments: Sequence[Mapping], image, path, what: str) -> tuple[list, list, list, list]:
    """:func:`_segment_table` as Python lists (ids, category ids, crowd flags, areas or -1).

    Well-formed ``segments_info`` (plain ``int`` values, unique ids) is read in pure Python, which is
    cheaper than numpy for the ~20 segments of an image; anything else goes through
    :func:`_segment_table`, so conversions and error messages are the same.
    """
    try:
        ids = [s["id"] for s in segments]
        cats = [s["category_id"] for s in segments]
        crowd = [s.get("iscrowd", 0) == 1 for s in segments]
        raw = [s.get("area") for s in segments]
        area = [-1 if a is None else a for a in raw]
        every = ids + cats + area
    except (KeyError, TypeError, AttributeError):
        every = None
    if every and set(map(type, every)) == {int} and -(1 << 63) <= min(ids + cats) and max(every) < 1 << 63 \
            and (min(area) >= 0 or (min(area) == -1 and -1 not in raw)) and len(set(ids)) == len(ids):
        return ids, cats, crowd, area
    gid, gcat, gcrowd, garea = _segment_table(segments, image, path, what)
    return gid.tolist(), gcat.tolist(), gcrowd.tolist(), garea.tolist()


def pq_image_stats(gt_ids: np.ndarray, gt_segments: Sequence[Mapping], pred_ids: np.ndarray,
                   pred_segments: Sequence[Mapping], cat_to_index: Mapping[int, int], num_classes: int,
                   image: Any = None, path=None, gt_area: str = "json", pairs=None, iou_out: np.ndarray | None = None,
                   crowd: str = "last", gt_path=None) -> dict:
    """One image's PQ contribution, exactly as ``panopticapi.evaluation.pq_compute_single_core``.

    Parameters
    ----------
    gt_ids, pred_ids : ndarray, shape (H, W)
        Segment-id maps (``R + 256 G + 256**2 B``); 0 is VOID in the ground truth.
    gt_segments, pred_segments : list of dict
        ``segments_info`` (``id, category_id``; ground truth also ``iscrowd`` and ``area``).
    cat_to_index : mapping
        Evaluated category id → class index ``0..C-1``. Predicted categories outside it are an error;
        ground-truth segments of other categories are not scored (panopticapi accumulates them but
        never reports them).
    num_classes : int
    image : any
        Image id used in error messages.
    path : str, optional
        Prediction file named in error messages.
    gt_path : str, optional
        Ground-truth file named in errors about the ground truth's ``segments_info`` (default ``path``).
    gt_area : {"json", "png"}
        ``|g|`` in the IoU: the JSON ``area`` (panopticapi; falls back to the PNG count when the JSON
        has none) or always the PNG pixel count.
    crowd : {"last", "all"}
        Crowd region of a category used to ignore unmatched predictions: panopticapi keeps only the
        last crowd segment of each category in ``segments_info`` (``"last"``, default, to match it);
        ``"all"`` uses the union of the category's crowd segments.
    pairs : tuple, optional
        Precomputed ``(gt values, pred values, pixel counts)`` (:func:`run_lengths` or
        :func:`pair_counts` output) instead of the maps.
    iou_out : ndarray (C,), optional
        When given, each matched IoU is also added into it in panopticapi's order (pairs sorted by
        ``(gt id, pred id)``), i.e. a running sum like panopticapi's ``PQStat``.

    Returns
    -------
    dict
        ``tp, fp, fn`` int64 ``(C,)``, ``iou`` float64 ``(C,)``.

    Raises
    ------
    BadInputError
        A predicted segment in the PNG but not in the JSON, a category not in ``cat_to_index``, a
        duplicated segment id, a JSON segment absent from the PNG (messages name image and segment).

    Notes
    -----
    The pixel work is :func:`run_lengths` and one ``bincount`` over the runs (the intersection
    matrix); the per-segment logic runs in plain Python on the ~20 segments and ~50 overlapping
    pairs of an image, where it is cheaper than many numpy calls on tiny arrays. IoUs are Python
    ``int / int`` divisions, bitwise equal to panopticapi's numpy ones (pixel counts < 2**53).
    """
    gv, pv, n = run_lengths(gt_ids, pred_ids) if pairs is None else pairs
    gid, gcat, gcrowd, garea = _segment_lists(gt_segments, image, gt_path or path, "ground-truth")
    pid, pcat, _, _ = _segment_lists(pred_segments, image, path, "predicted")
    kg, kp = len(gid), len(pid)

    # ---- intersection matrix (kg + 2) x (kp + 2). Rows: 0 = ids not in the GT JSON, 1 + j = GT
    #      segment j, kg + 1 = VOID when 0 is not in the JSON; columns: 0 = ids not in the prediction
    #      JSON (an error), 1 + j = predicted segment j, kp + 1 = VOID when 0 is not in the JSON.
    M = _joint_histogram(gv, pv, n, gid, pid)
    pcls = [cat_to_index.get(c, -1) for c in pcat]
    colsum = M.sum(axis=0).tolist()
    if colsum[0] or -1 in pcls:
        _prediction_error(np.array(pid, np.int64), np.array(pcat, np.int64), np.array(pcls, np.int64),
                          np.unique(np.asarray(pv, np.int64)), image, path)
    parea = colsum[1:kp + 1]
    if 0 in parea:
        miss = [i for i, a in zip(pid, parea) if a == 0]
        raise BadInputError(f"image {image!r}: segment {miss[0]} is in the JSON's segments_info but not in "
                            f"the PNG ({len(miss)} such segment(s)); remove it from the JSON or paint it",
                            path=path)
    if gt_area == "png" or min(garea, default=0) < 0:
        gpix = M[1:kg + 1].sum(axis=1).tolist()
        garea = gpix if gt_area == "png" else [b if a < 0 else a for a, b in zip(garea, gpix)]
    void_row = gid.index(VOID) + 1 if VOID in gid else kg + 1
    pvoid = M[void_row, 1:kp + 1].tolist()
    gcls = [cat_to_index.get(c, -1) for c in gcat]

    # ---- matches: same category, GT not crowd, IoU > 0.5 (void of the prediction out of the union)
    inter = M[1:kg + 1, 1:kp + 1]
    gi, pj = np.nonzero(inter)
    gmatched = [False] * kg
    pmatched = [False] * kp
    matches = []
    for i, j, it in zip(gi.tolist(), pj.tolist(), inter[gi, pj].tolist()):
        if gcrowd[i] or gcat[i] != pcat[j]:
            continue
        union = parea[j] + garea[i] - it - pvoid[j]
        iou = it / union if union else math.inf  # numpy's it / 0 (it > 0)
        if iou > 0.5:
            matches.append((gid[i], pid[j], gcls[i], iou))
            gmatched[i] = True
            pmatched[j] = True
    tp = [0] * num_classes
    fp = [0] * num_classes
    fn = [0] * num_classes
    ious = [0.0] * num_classes
    if matches:
        matches.sort()  # panopticapi's order: (gt id, pred id); ids are unique, so no ties
        for _, _, c, iou in matches:
            if c >= 0:
                tp[c] += 1
                ious[c] += iou
                if iou_out is not None:
                    iou_out[c] += iou

    # ---- false negatives (crowd ignored); the crowd region of each category: its last crowd segment
    crowd_rows: dict[int, list] = {}
    for i in range(kg):
        if gmatched[i]:
            continue
        if gcrowd[i]:
            if crowd == "all":
                crowd_rows.setdefault(gcat[i], []).append(i)
            else:  # panopticapi: a dict category -> crowd segment, so the last one wins
                crowd_rows[gcat[i]] = [i]
        elif gcls[i] >= 0:
            fn[gcls[i]] += 1

    # ---- false positives: ignored when more than half is VOID + the crowd of the same category
    crowd_inter = {c: [inter[i].tolist() for i in rows] for c, rows in crowd_rows.items()}
    for j in range(kp):
        if pmatched[j]:
            continue
        ign = pvoid[j]
        for row in crowd_inter.get(pcat[j], ()):
            ign += row[j]
        if ign / parea[j] <= 0.5:
            fp[pcls[j]] += 1
    return {"tp": np.array(tp, np.int64), "fp": np.array(fp, np.int64), "fn": np.array(fn, np.int64),
            "iou": np.array(ious, np.float64)}


_LUT_BITS = 24  # RGB ids are < 2**24
_TLS = threading.local()  # one lookup table per thread (Dask workers run tasks in threads)


def _lut() -> np.ndarray:
    lut = getattr(_TLS, "lut", None)
    if lut is None:
        lut = _TLS.lut = np.zeros(1 << _LUT_BITS, np.uint16)  # calloc: pages appear only when touched
    return lut


def _joint_histogram(gv: np.ndarray, pv: np.ndarray, n: np.ndarray, gid: list, pid: list) -> np.ndarray:
    """Pixels of each (GT slot, prediction slot) pair: int64 ``(len(gid) + 2, len(pid) + 2)``.

    Slot of a value: ``1 + j`` for ``table[j]``, ``len(table) + 1`` for VOID (0) when 0 is not in the
    table, 0 for other values not in the table. ``gv, pv, n`` are the run values and lengths.

    With ids < 2**24 and a small matrix, the per-thread lookup table of :func:`_lut` (2**24 uint16,
    allocated with ``calloc``: only the pages of ids actually seen become resident) maps the runs in
    two gathers, holding ``row * width`` for the ground truth and the column for the prediction, so
    the flat index is one ``uint16`` addition; its entries are reset after use. Other ids fall back
    to ``searchsorted`` (:func:`_slots`).
    """
    kg, kp = len(gid), len(pid)
    w = kp + 2
    size = (kg + 2) * w
    gv = np.asarray(gv)
    pv = np.asarray(pv)
    small = size <= 1 << 16 and gv.dtype.kind == "u" and pv.dtype.kind == "u"
    if small:
        for t in (gid, pid):
            if t and (min(t) < 0 or max(t) >= 1 << _LUT_BITS):
                small = False
    if small and gv.size:
        lut = _lut()
        try:
            idx = _coded(lut, gid, gv, w)
            idx += _coded(lut, pid, pv, 1)
        except IndexError:  # a map value >= 2**24
            idx = None
        if idx is not None:
            return np.bincount(idx, weights=n, minlength=size).astype(np.int64).reshape(kg + 2, w)
    gs = _slot_map(np.asarray(gid, np.int64), gv, kg)
    ps = _slot_map(np.asarray(pid, np.int64), pv, kp)
    gs += 1
    ps += 1
    return np.bincount(gs * w + ps, weights=n, minlength=size).astype(np.int64).reshape(kg + 2, w)


def _coded(lut: np.ndarray, table: list, values: np.ndarray, scale: int) -> np.ndarray:
    """``slot * scale`` of each value as uint16 (slots as in :func:`_joint_histogram`), via ``lut``."""
    k = len(table)
    where = np.array(table, np.intp)  # converted once for the write and the reset
    if VOID not in table:
        lut[VOID] = (k + 1) * scale
    lut[where] = np.arange(scale, (k + 1) * scale, scale, dtype=np.uint16)
    try:
        return np.take(lut, values)  # np.take: ~5x faster than fancy indexing here; raises for ids >= 2**24
    finally:
        lut[where] = 0
        lut[VOID] = 0


def _slot_map(table_ids: np.ndarray, values: np.ndarray, zero_slot: int) -> np.ndarray:
    """Slot of each value: its index in ``table_ids``; ``zero_slot`` for VOID (0) when 0 is not in the
    table; ``-1`` for other values not in the table (``searchsorted`` via :func:`_slots`)."""
    values = np.asarray(values)
    slot, hit = _slots(table_ids, np.asarray(values, np.int64))
    slot[~hit] = -1
    if not (table_ids == VOID).any():
        slot[values == VOID] = zero_slot
    return slot


def _slots(table_ids: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of each value in ``table_ids`` (unique) and whether it was found (``searchsorted``)."""
    k = table_ids.size
    if k == 0:
        return np.zeros(values.shape, np.int64), np.zeros(values.shape, bool)
    order = np.argsort(table_ids, kind="stable")
    srt = table_ids[order]
    pos = np.minimum(np.searchsorted(srt, values), k - 1)
    hit = srt[pos] == values
    return np.where(hit, order[pos], 0).astype(np.int64), hit


def _prediction_error(pid, pcat, pcls, present, image, path):
    """Raise the first problem in panopticapi's order (PNG ids ascending: unknown id, then category)."""
    bad_cat = {int(pid[j]): int(pcat[j]) for j in np.flatnonzero(pcls < 0).tolist()}
    known = set(pid.tolist())
    for v in present.tolist():
        if v not in known:
            if v == VOID:
                continue
            raise BadInputError(f"image {image!r}: segment {v} is in the PNG but not in the JSON's segments_info; "
                                f"add it or paint it 0 (void)", path=path)
        if v in bad_cat:
            raise BadInputError(f"image {image!r}: segment {v} has category_id {bad_cat[v]}, which is not in the "
                                f"categories; use one of the ground truth's category ids", path=path)
    sid = next(iter(bad_cat))
    raise BadInputError(f"image {image!r}: segment {sid} has category_id {bad_cat[sid]}, which is not in the "
                        f"categories; use one of the ground truth's category ids", path=path)


def pq_summary(tp, fp, fn, iou, is_thing: Sequence[bool], names: Sequence[str] | None = None) -> tuple[dict, dict]:
    """PQ, SQ, RQ (all / things / stuff) and per-class values from a summed state (panopticapi's
    ``pq_average``).

    Returns
    -------
    values : dict
        ``PQ SQ RQ PQ_th SQ_th RQ_th PQ_st SQ_st RQ_st`` (fractions; NaN when no class qualifies) and
        ``N N_th N_st`` (number of classes averaged).
    per_class : dict
        name → ``pq sq rq`` (fractions); NaN for classes with no GT and no prediction.
    """
    tp = np.asarray(tp)
    fp = np.asarray(fp)
    fn = np.asarray(fn)
    iou = np.asarray(iou, np.float64)
    C = tp.size
    names = list(names) if names is not None else [str(i) for i in range(C)]
    per_class = {}
    rows = []
    for c in range(C):
        t, f, m, s = int(tp[c]), int(fp[c]), int(fn[c]), float(iou[c])
        if t + f + m == 0:
            per_class[names[c]] = {"pq": math.nan, "sq": math.nan, "rq": math.nan}
            continue
        den = t + 0.5 * f + 0.5 * m
        pq = s / den
        sq = s / t if t != 0 else 0.0
        rq = t / den
        per_class[names[c]] = {"pq": pq, "sq": sq, "rq": rq}
        rows.append((c, pq, sq, rq))
    values = {}
    for suffix, sel in (("", None), ("_th", True), ("_st", False)):
        acc = [0.0, 0.0, 0.0]
        k = 0
        for c, pq, sq, rq in rows:
            if sel is not None and bool(is_thing[c]) != sel:
                continue
            acc[0] += pq
            acc[1] += sq
            acc[2] += rq
            k += 1
        for name, v in zip(("PQ", "SQ", "RQ"), acc):
            values[name + suffix] = v / k if k else math.nan
        values["N" + suffix] = k
    return values, per_class


# --------------------------------------------------------------------------- PQ† (torchmetrics)
def pq_modified_image_stats(gt_ids: np.ndarray, gt_segments: Sequence[Mapping], pred_ids: np.ndarray,
                            pred_segments: Sequence[Mapping], cat_to_index: Mapping[int, int], num_classes: int,
                            stuff_categories: set, modified_stuff: bool = True, crowd_as_void: bool = True,
                            iou_float32: bool = True, image: Any = None, path=None, pairs=None,
                            gt_path=None) -> dict:
    """One image's contribution to torchmetrics' (Modified)PanopticQuality.

    The panoptic maps are read as torchmetrics' ``(category_id, instance_id)`` colours: a thing
    segment is its own colour, all segments of a stuff category merge into ``(cat, 0)``, VOID (id 0,
    ids not in ``segments_info``, and with ``crowd_as_void`` crowd ground truth) is the void colour.
    Then (torchmetrics ``_panoptic_quality_update_sample``):

    * IoU = ``|p∩g| / (|p| - |p∩void_t| + |g| - |void_p∩g| - |p∩g|)`` for same-category pairs;
    * things (and all classes when ``modified_stuff`` is False): match at IoU > 0.5 → tp, iou sum;
      unmatched gt with at most half of it on predicted void → fn; unmatched predictions with at most
      half on gt void → fp;
    * stuff with ``modified_stuff`` (PQ†, Porzi et al.): iou sum of every overlapping pair, tp += 1 per
      gt stuff colour, no fp / fn.

    torchmetrics divides two integer tensors, which torch does in float32, so each IoU is a float32
    value (then summed in float64); ``iou_float32=True`` (default) reproduces that, ``False`` uses
    float64 IoUs.

    Returns the same state as :func:`pq_image_stats`; :func:`pq_modified_summary` turns it into values.
    """
    g, p, n = pair_counts(gt_ids, pred_ids) if pairs is None else pairs
    gid, gcat, gcrowd, _ = _segment_table(gt_segments, image, gt_path or path, "ground-truth")
    pid, pcat, _, _ = _segment_table(pred_segments, image, path, "predicted")
    check_prediction(p, pid, pcat, cat_to_index, image, path)
    VOIDC = -1

    def colours(ids, cats, crowd, segs_ids, is_gt):
        # map every segment to a colour key (cat, inst) encoded as int: cat * 2**33 + inst (inst = id or 0)
        col = {}
        for j in range(segs_ids.size):
            c = int(cats[j])
            if c not in cat_to_index or (is_gt and crowd_as_void and crowd[j]):
                col[int(segs_ids[j])] = VOIDC
            elif c in stuff_categories:
                col[int(segs_ids[j])] = c * (1 << 33)
            else:
                col[int(segs_ids[j])] = c * (1 << 33) + 1 + int(segs_ids[j])
        return col

    gcol = colours(gid, gcat, gcrowd, gid, True)
    pcol = colours(pid, pcat, None, pid, False)
    gk = np.array([gcol.get(int(x), VOIDC) for x in g.tolist()], np.int64)
    pk = np.array([pcol.get(int(x), VOIDC) for x in p.tolist()], np.int64)
    inter: dict = {}
    for a, b, c in zip(pk.tolist(), gk.tolist(), n.tolist()):
        inter[(a, b)] = inter.get((a, b), 0) + c
    parea: dict = {}
    garea: dict = {}
    for (a, b), c in inter.items():
        parea[a] = parea.get(a, 0) + c
        garea[b] = garea.get(b, 0) + c
    st = empty_stats(num_classes)
    pmatched, gmatched = set(), set()
    for (a, b), c in sorted(inter.items()):
        if b == VOIDC or a == VOIDC:
            continue
        ca, cb = a >> 33, b >> 33
        if ca != cb:
            continue
        union = parea[a] - inter.get((a, VOIDC), 0) + garea[b] - inter.get((VOIDC, b), 0) - c
        iou = float(np.float32(c) / np.float32(union)) if iou_float32 else c / union
        k = cat_to_index[int(cb)]
        if modified_stuff and int(cb) in stuff_categories:
            if iou > 0:
                st["iou"][k] += iou
        elif iou > 0.5:
            pmatched.add(a)
            gmatched.add(b)
            st["iou"][k] += iou
            st["tp"][k] += 1
    for b, area in garea.items():
        if b == VOIDC or b in gmatched:
            continue
        cb = int(b >> 33)
        if modified_stuff and cb in stuff_categories:
            continue
        if _ratio(inter.get((VOIDC, b), 0), area, iou_float32) <= 0.5:
            st["fn"][cat_to_index[cb]] += 1
    for a, area in parea.items():
        if a == VOIDC or a in pmatched:
            continue
        ca = int(a >> 33)
        if modified_stuff and ca in stuff_categories:
            continue
        if _ratio(inter.get((a, VOIDC), 0), area, iou_float32) <= 0.5:
            st["fp"][cat_to_index[ca]] += 1
    if modified_stuff:
        for b in garea:
            if b != VOIDC and int(b >> 33) in stuff_categories:
                st["tp"][cat_to_index[int(b >> 33)]] += 1
    return st


def _ratio(a, b, f32):
    return float(np.float32(a) / np.float32(b)) if f32 else a / b


def check_prediction(p_pair_ids, pid, pcat, cat_to_index, image, path) -> None:
    """PNG ids vs ``segments_info`` of a prediction (same errors as :func:`pq_image_stats`)."""
    pu = np.unique(p_pair_ids)
    known = set(pid.tolist())
    for x in pu.tolist():
        if x != VOID and x not in known:
            raise BadInputError(f"image {image!r}: segment {x} is in the PNG but not in the JSON's segments_info; "
                                f"add it or paint it 0 (void)", path=path)
    for j in range(pid.size):
        if int(pcat[j]) not in cat_to_index:
            raise BadInputError(f"image {image!r}: segment {int(pid[j])} has category_id {int(pcat[j])}, which is "
                                f"not in the categories; use one of the ground truth's category ids", path=path)
    miss = sorted(known - set(pu.tolist()))
    if miss:
        raise BadInputError(f"image {image!r}: segment {miss[0]} is in the JSON's segments_info but not in the PNG "
                            f"({len(miss)} such segment(s)); remove it from the JSON or paint it", path=path)


def pq_modified_summary(tp, fp, fn, iou, is_thing: Sequence[bool], names: Sequence[str] | None = None,
                        float32: bool = True) -> tuple[dict, dict]:
    """torchmetrics' ``_panoptic_quality_compute``: ``sq = iou/tp`` (0 without tp), ``rq = tp/(tp+fp/2+fn/2)``,
    ``pq = sq * rq``; means over classes with a positive denominator (all / things / stuff).

    torchmetrics computes ``rq`` from int32 counts times ``0.5``, i.e. in float32; ``float32=True``
    reproduces it (``False``: float64)."""
    tpi = np.asarray(tp, np.int64)
    fpi = np.asarray(fp, np.int64)
    fni = np.asarray(fn, np.int64)
    tp = tpi.astype(np.float64)
    iou = np.asarray(iou, np.float64)
    names = list(names) if names is not None else [str(i) for i in range(tp.size)]
    with np.errstate(divide="ignore", invalid="ignore"):
        sq = np.where(tp > 0, iou / np.where(tp > 0, tp, 1), 0.0)
        if float32:
            h = np.float32(0.5)
            den = (tpi.astype(np.float32) + h * fpi.astype(np.float32)) + h * fni.astype(np.float32)
            rq = np.where(den > 0, tpi.astype(np.float32) / np.where(den > 0, den, np.float32(1)),
                          np.float32(0)).astype(np.float32).astype(np.float64)
            den = den.astype(np.float64)
        else:
            den = tp + 0.5 * fpi + 0.5 * fni
            rq = np.where(den > 0, tp / np.where(den > 0, den, 1), 0.0)
    pq = sq * rq
    ok = den > 0
    thing = np.asarray(is_thing, bool)
    values = {}
    for suffix, sel in (("", ok), ("_th", ok & thing), ("_st", ok & ~thing)):
        for name, arr in (("PQ", pq), ("SQ", sq), ("RQ", rq)):
            values[name + suffix] = float(arr[sel].mean()) if sel.any() else math.nan
        values["N" + suffix] = int(sel.sum())
    per_class = {names[c]: ({"pq": float(pq[c]), "sq": float(sq[c]), "rq": float(rq[c])} if ok[c] else
                            {"pq": math.nan, "sq": math.nan, "rq": math.nan}) for c in range(tp.size)}
    return values, per_class

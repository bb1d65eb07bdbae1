"""COCO detection / instance-segmentation AP and AR, identical to ``pycocotools.cocoeval.COCOeval``.

The evaluation has three stages, as in pycocotools, but vectorised with numpy:

1. + 2. :func:`evaluate_batch` — per image, detections sorted by score (stable, so ties keep file
   order) per category and cut at ``max(maxDets)``; IoUs between detections and ground truths of the
   same category with :func:`pycocotools.mask.iou` (crowd ground truths use the detection's area as
   the denominator: ``iou = |d ∩ g| / |d|``), one call per image. Then the greedy matching of
   ``COCOeval.evaluateImg`` for all images of the batch, all area ranges and all IoU thresholds at
   once: detections are visited in score order; each takes the unmatched non-ignored ground truth
   with the highest IoU ``>= t`` (ties: the later one), and only when there is none an ignored one
   (crowd ground truths can be matched repeatedly). The result per detection is a code per (area
   range, threshold): 1 = true positive, 0 = false positive, 2 = ignored; per image and category the
   number of non-ignored ground truths per area range. These :class:`Records` are the mergeable
   state.
3. :func:`accumulate` + :func:`summarize` — per category, detections of all images sorted by
   ``-score`` with a stable sort (ties: image order, then rank in the image), cumulative TP/FP,
   ``recall = TP / npig``, ``precision = TP / (TP + FP + eps)`` made monotone from the right
   (``np.maximum.accumulate`` on the reversed array), sampled at 101 recall thresholds with
   ``searchsorted(side='left')``. ``summarize`` reproduces ``COCOeval.summarize`` exactly.

pycocotools quirks kept by default (each with an option to fix it):

* ``stats[0]`` (AP) is read at ``maxDets == 100`` whatever ``maxDets`` is, the other AP numbers at
  ``maxDets[2]``; with ``fix_max_dets=True`` every AP and the area ARs use ``maxDets[-1]``.
* a match to a ground truth whose annotation ``id`` is 0 counts as *unmatched* (pycocotools stores the
  matched id and tests it for truth); ``fix_zero_gt_id=True`` counts it as a match.

Examples
--------
>>> gt = {"images": [{"id": 1, "height": 10, "width": 10}],
...       "categories": [{"id": 1, "name": "a"}],
...       "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 4, 4],
...                        "area": 16, "iscrowd": 0}]}
>>> dets = [{"image_id": 1, "category_id": 1, "score": 0.9, "bbox": [0, 0, 4, 4]}]
>>> stats = evaluate_coco(gt, dets, iou_type="bbox")
>>> round(stats["AP"], 6), round(stats["AR100"], 6)
(1.0, 1.0)

References
----------
Lin et al., "Microsoft COCO: Common Objects in Context", ECCV 2014; ``pycocotools/cocoeval.py``
(github.com/cocodataset/cocoapi).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from pycocotools import mask as mask_utils

__all__ = ["COCOParams", "Records", "evaluate_batch", "evaluate_images", "evaluate_lvis", "summarize_lvis",
           "lvis_image_detections", "lvis_frequency_groups", "LVIS_KEYS",
           "accumulate", "summarize", "evaluate_coco", "STAT_KEYS", "IOU_THRS", "REC_THRS"]

IOU_THRS = np.linspace(.5, 0.95, int(np.round((0.95 - .5) / .05)) + 1, endpoint=True)
REC_THRS = np.linspace(.0, 1.00, int(np.round((1.00 - .0) / .01)) + 1, endpoint=True)
MAX_DETS = (1, 10, 100)
AREA_RNG = ((0 ** 2, 1e5 ** 2), (0 ** 2, 32 ** 2), (32 ** 2, 96 ** 2), (96 ** 2, 1e5 ** 2))
AREA_LBL = ("all", "small", "medium", "large")
STAT_KEYS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")
_EPS = np.spacing(1)
_ONE_GROUP_MAX = 64  # batches with at most this many images are matched as one padded group


@dataclass(frozen=True)
class COCOParams:
    """Evaluation parameters (``COCOeval.params`` for ``segm`` / ``bbox``).

    Attributes
    ----------
    iou_type : {'segm', 'bbox'}
    iou_thrs : tuple of float
        T thresholds, default ``np.linspace(.5, .95, 10)``.
    rec_thrs : tuple of float
        R recall points, default ``np.linspace(0, 1, 101)``.
    max_dets : tuple of int
        M, sorted ascending (pycocotools sorts them).
    area_rng : tuple of (lo, hi)
        A area ranges (inclusive bounds, as pycocotools: ignored when ``area < lo or area > hi``).
    area_lbl : tuple of str
    fix_zero_gt_id : bool
        Count a match to a GT with ``id == 0`` as a match (pycocotools counts it as unmatched).
    federated : bool
        LVIS rules (``lvis.LVISEval``): no crowd regions (``iscrowd`` is not read; a GT's ``ignore``
        flag is), and unmatched detections flagged ``"_ignore_unmatched"`` (categories the image is
        not exhaustively annotated for) are ignored instead of counted as false positives.
    """

    iou_type: str = "segm"
    iou_thrs: tuple = tuple(float(x) for x in IOU_THRS)
    rec_thrs: tuple = tuple(float(x) for x in REC_THRS)
    max_dets: tuple = MAX_DETS
    area_rng: tuple = AREA_RNG
    area_lbl: tuple = AREA_LBL
    fix_zero_gt_id: bool = False
    federated: bool = False

    def __post_init__(self):
        md = tuple(sorted(int(m) for m in self.max_dets))
        if not md or md[0] < 1:
            raise ValueError(f"max_dets must be positive integers, got {self.max_dets}")
        object.__setattr__(self, "max_dets", md)
        if self.iou_type not in ("segm", "bbox"):
            raise ValueError(f"iou_type must be 'segm' or 'bbox', got {self.iou_type!r}")

    @property
    def thr_array(self) -> np.ndarray:
        """Matching thresholds ``min(t, 1 - 1e-10)`` as pycocotools uses them."""
        return np.array([min(t, 1 - 1e-10) for t in self.iou_thrs], dtype=np.float64)


# ----------------------------------------------------------------------------- records (the state)
@dataclass
class Records:
    """Per-image matching results, mergeable by concatenation.

    Attributes
    ----------
    image_ids : list
        Distinct image ids seen (any hashable, sortable type).
    det_img : (N,) int32
        Index into ``image_ids`` of each kept detection.
    det_cat : (N,) int64
        Category id.
    det_rank : (N,) int32
        Rank of the detection in its image and category (0 = highest score).
    det_score : (N,) float64
    det_code : (N, A, T) uint8
        1 true positive, 0 false positive, 2 ignored; per area range and IoU threshold.
    gt_img, gt_cat : (P,) int32 / int64
        One row per (image, category) that has ground truth.
    gt_npig : (P, A) int64
        Non-ignored ground truths per area range.
    """

    image_ids: list = field(default_factory=list)
    det_img: np.ndarray = None
    det_cat: np.ndarray = None
    det_rank: np.ndarray = None
    det_score: np.ndarray = None
    det_code: np.ndarray = None
    gt_img: np.ndarray = None
    gt_cat: np.ndarray = None
    gt_npig: np.ndarray = None

    @classmethod
    def empty(cls, A: int, T: int) -> "Records":
        return cls([], np.zeros(0, np.int32), np.zeros(0, np.int64), np.zeros(0, np.int32),
                   np.zeros(0, np.float64), np.zeros((0, A, T), np.uint8), np.zeros(0, np.int32),
                   np.zeros(0, np.int64), np.zeros((0, A), np.int64))

    @property
    def num_detections(self) -> int:
        return int(self.det_img.shape[0])

    @staticmethod
    def concat(parts: Sequence["Records"]) -> "Records":
        """Concatenate records (image ids are re-indexed; an image should appear in one part only)."""
        parts = [p for p in parts if p is not None]
        if len(parts) == 1:
            return parts[0]
        ids: list = []
        di, gi = [], []
        for p in parts:
            off = len(ids)
            ids.extend(p.image_ids)
            di.append(p.det_img.astype(np.int32) + off)
            gi.append(p.gt_img.astype(np.int32) + off)
        return Records(ids, np.concatenate(di), np.concatenate([p.det_cat for p in parts]),
                       np.concatenate([p.det_rank for p in parts]), np.concatenate([p.det_score for p in parts]),
                       np.concatenate([p.det_code for p in parts]), np.concatenate(gi),
                       np.concatenate([p.gt_cat for p in parts]), np.concatenate([p.gt_npig for p in parts]))

    def to_dict(self) -> dict:
        return {"image_ids": list(self.image_ids), "det_img": self.det_img, "det_cat": self.det_cat,
                "det_rank": self.det_rank, "det_score": self.det_score, "det_code": self.det_code,
                "gt_img": self.gt_img, "gt_cat": self.gt_cat, "gt_npig": self.gt_npig}

    @classmethod
    def from_dict(cls, d: dict) -> "Records":
        return cls(list(d["image_ids"]), *(np.asarray(d[k]) for k in (
            "det_img", "det_cat", "det_rank", "det_score", "det_code", "gt_img", "gt_cat", "gt_npig")))


# ----------------------------------------------------------------------------- geometry
def _areas(rles: list) -> np.ndarray:
    """:func:`pycocotools.mask.area` of a list, in chunks of 255 (pycocotools builds a uint8 array of
    the list length, which overflows for longer lists under numpy 2)."""
    if len(rles) <= 255:
        return np.asarray(mask_utils.area(rles), np.float64)
    return np.concatenate([np.asarray(mask_utils.area(rles[i:i + 255]), np.float64)
                           for i in range(0, len(rles), 255)])


def _to_rle(seg, h: int, w: int):
    """COCO segmentation → RLE dict (``COCO.annToRLE``: polygons merged, uncompressed RLE encoded)."""
    if isinstance(seg, list):
        return mask_utils.merge(mask_utils.frPyObjects(seg, h, w))
    if isinstance(seg["counts"], list):
        return mask_utils.frPyObjects(seg, h, w)
    return seg


def _fill_area(objs, idx, area, hw, iou_type):
    """Area of annotations without an ``area`` field: mask area (segm) or box area (bbox)."""
    for j, i in enumerate(idx):
        a = objs[i]
        h, w = hw[j]
        if iou_type == "segm" and a.get("segmentation") is not None:
            area[i] = float(mask_utils.area(_to_rle(a["segmentation"], h, w)))
        else:
            area[i] = float(a["bbox"][2] * a["bbox"][3])
    return area


# ----------------------------------------------------------------------------- stages 1 + 2
def _match_group(ious, img, step, g_ign, g_crowd, thr):
    """Greedy matching for candidate rows of images sharing one padded GT count.

    ious : (n, G) rows sorted by step; img : (n,) image index; g_ign : (nimg, A, G); g_crowd : (nimg, G).
    Returns (n, A, T) matched GT column or -1.
    """
    n, G = ious.shape
    nimg, A, _ = g_ign.shape
    T = thr.shape[0]
    used = np.zeros((nimg, A, T, G), dtype=bool)
    out = np.empty((n, A, T), dtype=np.int64)
    nsteps = int(step[-1]) + 1
    bounds = np.searchsorted(step, np.arange(nsteps + 1), side="left")
    for s in range(nsteps):
        lo, hi = bounds[s], bounds[s + 1]
        if lo == hi:
            continue
        io = ious[lo:hi]                                           # (k, G)
        ii = img[lo:hi]
        ge = (io[:, None, :] >= thr[None, :, None])[:, None]       # (k, 1, T, G)
        free = ~used[ii]                                           # (k, A, T, G)
        ign = g_ign[ii][:, :, None, :]                             # (k, A, 1, G)
        val = io[:, None, None, ::-1]
        reg = ge & free & ~ign
        m_reg = np.where(reg[..., ::-1], val, -2.0).argmax(axis=-1)    # reversed: ties -> last GT
        has_reg = reg.any(axis=-1)
        igc = ge & (free | g_crowd[ii][:, None, None, :]) & ign
        m_ig = np.where(igc[..., ::-1], val, -2.0).argmax(axis=-1)
        has_ig = igc.any(axis=-1)
        m = np.where(has_reg, G - 1 - m_reg, np.where(has_ig, G - 1 - m_ig, -1))
        out[lo:hi] = m
        k_i, a_i, t_i = np.nonzero(m >= 0)
        if k_i.size:
            used[ii[k_i], a_i, t_i, m[k_i, a_i, t_i]] = True
    return out


def evaluate_batch(items: Sequence, params: COCOParams, cat_ids=None) -> Records:
    """Stages 1 and 2 for a batch of images: sort, cut, IoU and greedy matching → :class:`Records`.

    Parameters
    ----------
    items : sequence of ``(image_id, height, width, gts, dets)``
        ``gts``: COCO annotation dicts of the evaluated categories (``category_id``, ``segmentation``
        / ``bbox``, ``area``, ``iscrowd``, ``id``); ``dets``: detection dicts (``category_id``,
        ``score``, ``segmentation`` and/or ``bbox``) as normalised by
        :func:`segbench.io.coco.load_results` (``area`` a number, or ``None`` for the mask area) or as a
        model writes them (no ``area``: the box area when there is a box, as ``COCO.loadRes``, else the
        mask area). Each image appears once.
    params : COCOParams
    cat_ids : sequence of int, optional
        Evaluated categories; annotations and detections of others are dropped (as pycocotools).

    Notes
    -----
    Detections of an (image, category) are sorted by ``-score`` with a stable sort (ties keep file
    order) and cut at ``max(maxDets)``. IoUs come from one :func:`pycocotools.mask.iou` call per image
    (detections and GTs of categories present on both sides; other pairs are masked to -1). Only
    detections whose best same-category IoU reaches the lowest threshold take part in the greedy
    matching; it runs for all images, area ranges and thresholds at once, one detection rank at a
    time (:func:`_match_group`).
    """
    A, T = len(params.area_rng), len(params.iou_thrs)
    items = list(items)
    n = len(items)
    if n == 0:
        return Records.empty(A, T)
    lo = np.array([r[0] for r in params.area_rng], np.float64)[:, None]
    hi = np.array([r[1] for r in params.area_rng], np.float64)[:, None]
    iou_type = params.iou_type
    thr = params.thr_array
    tmin = float(thr.min())
    image_ids = [it[0] for it in items]
    hs = np.array([int(it[1]) for it in items], np.int64)
    ws = np.array([int(it[2]) for it in items], np.int64)
    gts_all: list = []
    dets_all: list = []
    gl = np.empty(n, np.int64)
    dl = np.empty(n, np.int64)
    for i, it in enumerate(items):
        gl[i] = len(it[3])
        dl[i] = len(it[4])
        gts_all.extend(it[3])
        dets_all.extend(it[4])
    M, N = len(gts_all), len(dets_all)
    g_img = np.repeat(np.arange(n, dtype=np.int64), gl)
    g_cat = np.fromiter((g["category_id"] for g in gts_all), np.int64, M)
    d_img = np.repeat(np.arange(n, dtype=np.int64), dl)
    d_cat = np.fromiter((d["category_id"] for d in dets_all), np.int64, N)
    if cat_ids is not None:  # objects of other categories are not evaluated (pycocotools' catIds)
        cat_ids = np.asarray(list(cat_ids), np.int64)
        gk, dk_ = np.isin(g_cat, cat_ids), np.isin(d_cat, cat_ids)
        if not gk.all():
            gts_all = [g for g, k in zip(gts_all, gk) if k]
            g_img, g_cat = g_img[gk], g_cat[gk]
            M = len(gts_all)
        if not dk_.all():
            dets_all = [d for d, k in zip(dets_all, dk_) if k]
            d_img, d_cat = d_img[dk_], d_cat[dk_]
            N = len(dets_all)
    # ---- ground truth
    if params.federated:  # LVIS: no crowd regions; the GT's own "ignore" flag
        g_crowd = np.zeros(M, bool)
        g_base = np.fromiter((bool(g.get("ignore", 0)) for g in gts_all), bool, M)
    else:
        g_crowd = np.fromiter((bool(g.get("iscrowd", 0)) for g in gts_all), bool, M)
        g_base = g_crowd
    g_area = np.fromiter((g.get("area", np.nan) for g in gts_all), np.float64, M)
    if M and np.isnan(g_area).any():
        idx = np.flatnonzero(np.isnan(g_area))
        g_area = _fill_area(gts_all, idx, g_area, list(zip(hs[g_img[idx]], ws[g_img[idx]])), iou_type)
    if params.federated and M and not (g_area > 0).all():
        # lvis-api's get_ann_ids keeps objects with 0 < area only: zero-area annotations do not exist for it
        gk = g_area > 0
        gts_all = [g for g, k in zip(gts_all, gk) if k]
        g_img, g_cat, g_crowd, g_base, g_area = g_img[gk], g_cat[gk], g_crowd[gk], g_base[gk], g_area[gk]
        M = len(gts_all)
    g_ign = g_base[None, :] | (g_area[None, :] < lo) | (g_area[None, :] > hi)           # (A, M)
    # (image, category) keys on dense category codes: ids may span all of int64 (same order as the ids)
    cats_u = np.unique(np.concatenate([g_cat, d_cat]))
    mul = max(len(cats_u), 1)
    gkey = g_img * mul + np.searchsorted(cats_u, g_cat)
    ukey, inv = np.unique(gkey, return_inverse=True)
    npig = np.zeros((len(ukey), A), np.int64)
    for a in range(A):
        npig[:, a] = np.bincount(inv.reshape(-1), weights=~g_ign[a], minlength=len(ukey)).astype(np.int64)
    # ---- detections: sort by (image, category, -score), stable; cut at maxDets[-1]
    d_score = np.fromiter((d["score"] for d in dets_all), np.float64, N)
    order = np.lexsort((-d_score, d_cat, d_img))
    dkey = d_img[order] * mul + np.searchsorted(cats_u, d_cat[order])
    starts = np.flatnonzero(np.r_[True, dkey[1:] != dkey[:-1]]) if N else np.zeros(0, np.int64)
    rank = np.arange(N) - np.repeat(starts, np.diff(np.r_[starts, N])) if N else np.zeros(0, np.int64)
    md = params.max_dets[-1]
    if N and rank.max() >= md:
        keep = rank < md
        order, dkey, rank = order[keep], dkey[keep], rank[keep]
    D = len(order)
    k_img = d_img[order]
    k_cat = d_cat[order]
    k_score = d_score[order]
    k_dets = [dets_all[j] for j in order]
    # area: given (box area set by load_results), None (mask area), or absent: the box area when the
    # detection has a box (what COCO.loadRes does with box-carrying results, e.g. a model's), else the mask's
    nan = np.nan
    k_area = np.fromiter(((d["area"] if d["area"] is not None else nan) if "area" in d else
                          (d["bbox"][2] * d["bbox"][3] if d.get("bbox") else nan) for d in k_dets), np.float64, D)
    need = np.flatnonzero(np.isnan(k_area)) if D else np.zeros(0, np.int64)
    if need.size:  # mask areas (and boxes for bbox evaluation), like COCO.loadRes
        rles = [_to_rle(k_dets[i]["segmentation"], int(hs[k_img[i]]), int(ws[k_img[i]])) for i in need]
        k_area[need] = _areas(rles)
        if iou_type == "bbox":
            bbs = mask_utils.toBbox(rles)
            for j, i in enumerate(need):
                if "bbox" not in k_dets[i]:
                    k_dets[i] = dict(k_dets[i], bbox=[float(v) for v in bbs[j]])
    if params.federated and D and not (k_area > 0).all():  # lvis-api drops zero-area results too
        kk = k_area > 0
        order, dkey, rank = order[kk], dkey[kk], rank[kk]
        k_img, k_cat, k_score, k_area = k_img[kk], k_cat[kk], k_score[kk], k_area[kk]
        k_dets = [d for d, k in zip(k_dets, kk) if k]
        D = len(order)
    det_out = (k_area[None, :] < lo) | (k_area[None, :] > hi)                        # (A, D)
    if params.federated:  # unmatched detections of not-exhaustively annotated categories are ignored
        det_out |= np.fromiter((bool(d.get("_ignore_unmatched", False)) for d in k_dets), bool, D)[None, :]
    codes = np.ascontiguousarray(np.broadcast_to(np.where(det_out.T[:, :, None], np.uint8(2), np.uint8(0)),
                                                 (D, A, T)))
    # ---- IoU per image for (image, category) pairs present on both sides
    rows_all = np.flatnonzero(np.isin(dkey, ukey)) if D and M else np.zeros(0, np.int64)
    cols_all = np.flatnonzero(np.isin(gkey, dkey)) if D and M else np.zeros(0, np.int64)
    r_b = np.searchsorted(k_img[rows_all], np.arange(n + 1))
    c_b = np.searchsorted(g_img[cols_all], np.arange(n + 1))
    cand_parts, iou_parts, img_parts, col_parts = [], [], [], []
    for i in np.flatnonzero((np.diff(r_b) > 0) & (np.diff(c_b) > 0)):
        rows = rows_all[r_b[i]:r_b[i + 1]]
        cols = cols_all[c_b[i]:c_b[i + 1]]
        h, w = int(hs[i]), int(ws[i])
        dsub = [k_dets[r] for r in rows]
        gsub = [gts_all[c] for c in cols]
        try:
            if iou_type == "bbox":
                dg = np.array([d["bbox"] for d in dsub], np.float64).reshape(-1, 4)
                gg = np.array([g["bbox"] for g in gsub], np.float64).reshape(-1, 4)
            else:
                dg = [_to_rle(d["segmentation"], h, w) for d in dsub]
                gg = [_to_rle(g["segmentation"], h, w) for g in gsub]
        except (KeyError, TypeError) as e:
            from ...errors import BadInputError
            key = "bbox" if iou_type == "bbox" else "segmentation"
            raise BadInputError(f"image {image_ids[i]!r}: an annotation or detection has no usable {key!r} "
                                f"({type(e).__name__}: {e}); {iou_type} evaluation needs it"
                                + ("" if iou_type == "bbox" else " (or use --iou-type bbox)")) from None
        io = np.asarray(mask_utils.iou(dg, gg, g_crowd[cols].astype(np.uint8)), np.float64).reshape(len(rows),
                                                                                                   len(cols))
        io = np.where(k_cat[rows][:, None] == g_cat[cols][None, :], io, -1.0)
        isc = io.max(axis=1) >= tmin
        if isc.any():
            cand_parts.append(rows[isc])
            iou_parts.append(io[isc])
            img_parts.append(i)
            col_parts.append(cols)
    if cand_parts:
        _match_and_code(cand_parts, iou_parts, img_parts, col_parts, dkey, g_ign, g_crowd, gts_all, det_out,
                        codes, thr, params)
    return Records(
        image_ids=image_ids, det_img=k_img.astype(np.int32), det_cat=k_cat.astype(np.int64),
        det_rank=rank.astype(np.int32), det_score=k_score.astype(np.float64), det_code=codes,
        gt_img=(ukey // mul).astype(np.int32), gt_cat=cats_u[ukey % mul].astype(np.int64), gt_npig=npig)


def _match_and_code(cand_parts, iou_parts, img_parts, col_parts, dkey, g_ign, g_crowd, gts_all, det_out, codes,
                    thr, params) -> None:
    """Greedy matching of the candidate detections (grouped by padded GT count) and their codes."""
    A = g_ign.shape[0]
    cand = np.concatenate(cand_parts)
    ck = dkey[cand]
    st = np.flatnonzero(np.r_[True, ck[1:] != ck[:-1]])
    step_all = np.arange(len(cand)) - np.repeat(st, np.diff(np.r_[st, len(cand)]))
    offs = np.concatenate([[0], np.cumsum([len(c) for c in cand_parts])])
    groups: dict = {}
    if len(iou_parts) <= _ONE_GROUP_MAX:  # small batches (engine chunks): one group, padding is cheaper
        groups[max(io.shape[1] for io in iou_parts)] = list(range(len(iou_parts)))
    else:
        for j, io in enumerate(iou_parts):
            G = io.shape[1]
            groups.setdefault(1 << max(0, (G - 1).bit_length()), []).append(j)
    for Gp, js in groups.items():
        nimg = len(js)
        gi = np.ones((nimg, A, Gp), bool)
        gc = np.zeros((nimg, Gp), bool)
        gz = np.ones((nimg, Gp), bool)
        ious, img, step, det = [], [], [], []
        for q, j in enumerate(js):
            cols = col_parts[j]
            G = len(cols)
            gi[q, :, :G] = g_ign[:, cols]
            gc[q, :G] = g_crowd[cols]
            if not params.fix_zero_gt_id:
                gz[q, :G] = [gts_all[c].get("id", 1) != 0 for c in cols]
            io = iou_parts[j]
            if G < Gp:
                pad = np.full((io.shape[0], Gp), -1.0)
                pad[:, :G] = io
                io = pad
            ious.append(io)
            img.append(np.full(len(io), q, np.int64))
            step.append(step_all[offs[j]:offs[j + 1]])
            det.append(cand_parts[j])
        ious = np.concatenate(ious)
        img = np.concatenate(img)
        step = np.concatenate(step)
        det = np.concatenate(det)
        o = np.argsort(step, kind="stable")
        ious, img, step, det = ious[o], img[o], step[o], det[o]
        m = _match_group(ious, img, step, gi, gc, thr)                     # (n, A, T)
        matched = m >= 0
        mm = np.maximum(m, 0)
        gim = gi[img[:, None, None], np.arange(A)[None, :, None], mm] & matched
        mnz = matched & gz[img[:, None, None], mm]
        dtig = gim | (~mnz & det_out.T[det][:, :, None])
        codes[det] = np.where(dtig, np.uint8(2), np.where(mnz, np.uint8(1), np.uint8(0)))


def evaluate_images(items, params: COCOParams, batch_size: int = 512) -> Records:
    """Stages 1 + 2 over ``items`` = iterable of ``(image_id, h, w, gts, dets)``, in batches."""
    parts, batch = [], []
    for it in items:
        batch.append(it)
        if len(batch) >= batch_size:
            parts.append(evaluate_batch(batch, params))
            batch = []
    if batch or not parts:
        parts.append(evaluate_batch(batch, params))
    return Records.concat(parts)


# ----------------------------------------------------------------------------- stage 3: accumulate
def _sort_key_images(image_ids: list) -> np.ndarray:
    """Position of each image in pycocotools' order (``np.unique`` of the image ids)."""
    if not image_ids:
        return np.zeros(0, np.int64)
    _, inv = np.unique(np.asarray(image_ids), return_inverse=True)
    return inv.reshape(-1)


def _first_count_reaching(npig: np.ndarray, rec_thrs: np.ndarray) -> np.ndarray:
    """Smallest integer ``c`` with ``c / n >= thr`` in float64 (exactly as ``rc = tp / npig``).

    npig : (P,) positive ints; rec_thrs : (R,). Returns (P, R) int64.
    """
    n = npig.astype(np.float64)[:, None]
    c = np.ceil(rec_thrs[None, :] * n).astype(np.int64)
    for _ in range(3):  # fix the rare off-by-one of the float product
        c = c - (((c - 1) / n >= rec_thrs[None, :]) & (c > 0))
        c = c + ((c / n) < rec_thrs[None, :])
    return c


def accumulate(rec: Records, cat_ids: Sequence, params: COCOParams) -> dict:
    """Stage 3: precision ``(T, R, K, A, M)`` and recall ``(T, K, A, M)`` as ``COCOeval.accumulate``.

    Entries are -1 for categories without (non-ignored) ground truth in an area range. All
    categories are processed together: detections sorted by (category, -score, image order, rank),
    segmented cumulative sums, the precision envelope per category segment, and one ``searchsorted``
    over integer keys that keep segments and rows apart (exact).

    Returns
    -------
    dict with ``precision``, ``recall``, ``scores`` (score at each recall point), ``npig`` (K, A),
    ``cat_ids``.
    """
    cat_ids = np.asarray(sorted(cat_ids), dtype=np.int64)
    T, R = len(params.iou_thrs), len(params.rec_thrs)
    K, A, M = len(cat_ids), len(params.area_rng), len(params.max_dets)
    precision = np.full((T, R, K, A, M), -1.0)
    recall = np.full((T, K, A, M), -1.0)
    scores = np.full((T, R, K, A, M), -1.0)
    npig = np.zeros((K, A), np.int64)
    out = {"precision": precision, "recall": recall, "scores": scores, "npig": npig, "cat_ids": cat_ids}
    if K == 0:
        return out
    rec_thrs = np.asarray(params.rec_thrs, dtype=np.float64)
    if rec.gt_cat.size:
        gk = np.searchsorted(cat_ids, rec.gt_cat)
        ok = (gk < K) & (cat_ids[np.minimum(gk, K - 1)] == rec.gt_cat)
        np.add.at(npig, gk[ok], rec.gt_npig[ok])
    valid = npig > 0                                                     # (K, A)
    if not valid.any():
        return out
    # thresholds on the integer TP count, per (k, a)
    kth = np.zeros((K, A, R), np.int64)
    kv, av = np.nonzero(valid)
    kth[kv, av] = _first_count_reaching(npig[kv, av], rec_thrs)
    # detections of evaluated categories, sorted by (k, -score, image order, rank)
    if rec.det_cat.size:
        dk = np.searchsorted(cat_ids, rec.det_cat)
        ok = (dk < K) & (cat_ids[np.minimum(dk, K - 1)] == rec.det_cat)
        ok &= valid[np.minimum(dk, K - 1)].any(axis=1)
        imgpos = _sort_key_images(rec.image_ids)[rec.det_img]
        sel = np.flatnonzero(ok)
        order = sel[np.lexsort((rec.det_rank[sel], imgpos[sel], -rec.det_score[sel], dk[sel]))]
    else:
        dk = np.zeros(0, np.int64)
        order = np.zeros(0, np.int64)
    dk_all = dk[order]
    rank_all = rec.det_rank[order]
    score_all = rec.det_score[order]
    code_all = rec.det_code[order].reshape(len(order), A * T)           # (N, A*T)
    rows = A * T
    row_a = np.repeat(np.arange(A), T)
    for mi, md in enumerate(params.max_dets):
        keep = rank_all < md
        if keep.all():
            dks, sc, code = dk_all, score_all, code_all
        else:
            dks, sc, code = dk_all[keep], score_all[keep], code_all[keep]
        N = len(dks)
        bounds = np.searchsorted(dks, np.arange(K + 1), side="left")
        nk = np.diff(bounds)                                              # (K,)
        codeT = np.ascontiguousarray(code.T)                              # (rows, N)
        tpc = np.empty((rows, N), np.int32)
        fpc = np.empty((rows, N), np.int32)
        tpb = codeT == 1
        fpb = codeT == 0
        nz = np.flatnonzero(nk)
        for k in nz:
            s, e = bounds[k], bounds[k + 1]
            np.cumsum(tpb[:, s:e], axis=1, out=tpc[:, s:e])
            np.cumsum(fpb[:, s:e], axis=1, out=fpc[:, s:e])
        # pr = tp / (fp + tp + eps) in float64; fp + tp is an exact integer sum
        denom = (fpc + tpc).astype(np.float64)
        denom += _EPS
        pr = np.divide(tpc, denom, dtype=np.float64)
        for k in nz:
            s, e = bounds[k], bounds[k + 1]
            if e - s > 1:
                pr[:, s:e] = np.maximum.accumulate(pr[:, e - 1:s - 1 if s else None:-1], axis=1)[:, ::-1]
        # first column where the segment's TP count reaches c = the column of its c-th TP (exact,
        # equal to searchsorted(rc, recThrs, 'left'))
        if N:
            ntp = np.where(nk[None, :] > 0, tpc[:, np.maximum(bounds[1:] - 1, 0)], 0)     # (rows, K)
        else:
            ntp = np.zeros((rows, K), np.int64)
        r_i, c_i = np.nonzero(tpb)                                        # sorted by row, then column
        first = np.concatenate([[0], np.cumsum(ntp.ravel(), dtype=np.int64)])[:-1].reshape(rows, K)
        c = kth[:, row_a, :].transpose(1, 0, 2)                           # (rows, K, R)
        hit = (c >= 1) & (c <= ntp[:, :, None])
        idx = np.where(hit, first[:, :, None] + c - 1, 0)
        local = np.where(c == 0, 0, nk[None, :, None])
        if c_i.size:
            local = np.where(hit, c_i[idx] - bounds[None, :K, None], local)
        inside = local < nk[None, :, None]
        col = np.where(inside, bounds[None, :K, None] + local, 0)
        if N:
            q = np.where(inside, pr[np.arange(rows)[:, None, None], col], 0.0)     # (rows, K, R)
            ss = np.where(inside, sc[col], 0.0)
            last = ntp.astype(np.float64)                                  # (rows, K)
        else:
            q = np.zeros((rows, K, R))
            ss = np.zeros((rows, K, R))
            last = np.zeros((rows, K))
        q = q.reshape(A, T, K, R).transpose(1, 3, 2, 0)                   # (T, R, K, A)
        ss = ss.reshape(A, T, K, R).transpose(1, 3, 2, 0)
        rc = last.reshape(A, T, K).transpose(1, 2, 0) / np.where(valid, npig, 1)[None]   # (T, K, A)
        vmask = valid[None, None]
        precision[..., mi] = np.where(vmask, q, -1.0)
        scores[..., mi] = np.where(vmask, ss, -1.0)
        recall[..., mi] = np.where(valid[None], np.where((nk > 0)[None, :, None], rc, 0.0), -1.0)
    return out


def summary_cells(precision: np.ndarray, recall: np.ndarray, iou_thrs, area_lbl, max_dets, ap: bool,
                  iou_thr=None, area: str = "all", md: int = 100) -> np.ndarray:
    """The cells of ``precision`` (``ap``) or ``recall`` that one ``COCOeval.summarize`` number averages:
    IoU threshold ``iou_thr`` (all when None), area range ``area``, maxDets ``md`` (no cell when ``md``
    is not among ``max_dets``, as pycocotools). Shared by COCO and YouTube-VIS summaries."""
    aind = [i for i, lbl in enumerate(area_lbl) if lbl == area]
    mind = [i for i, m in enumerate(max_dets) if m == md]
    s = precision if ap else recall
    if iou_thr is not None:
        s = s[np.where(iou_thr == np.asarray(iou_thrs))[0]]
    return s[:, :, :, aind, mind] if ap else s[:, :, aind, mind]


def _mean_valid(s) -> float:
    v = s[s > -1]
    return -1.0 if len(v) == 0 else float(np.mean(v))


def summarize(acc: dict, params: COCOParams, fix_max_dets: bool = False) -> dict:
    """The 12 numbers of ``COCOeval.summarize`` (``-1`` where undefined), keyed by :data:`STAT_KEYS`.

    With ``fix_max_dets=True`` every AP and the area ARs use ``maxDets[-1]`` (pycocotools reads AP at
    a literal 100 and the others at ``maxDets[2]``), and the AR keys are ``AR<m>`` for the first,
    second and last ``maxDets``.
    """
    precision, recall = acc["precision"], acc["recall"]
    iou_thrs = np.asarray(params.iou_thrs)
    md = list(params.max_dets)

    def _s(ap, iou_thr=None, area="all", max_dets=100):
        return _mean_valid(summary_cells(precision, recall, iou_thrs, params.area_lbl, md, ap, iou_thr, area,
                                         max_dets))

    def _at(i):
        if i < len(md):
            return md[i]
        if fix_max_dets:
            return md[-1]
        raise ValueError(f"pycocotools' summarize needs at least 3 maxDets, got {md}; "
                         f"pass fix_max_dets=True to summarise at maxDets[-1]")

    if fix_max_dets:
        last = md[-1]
        m0, m1 = md[0], md[1] if len(md) > 1 else md[-1]
        vals = [_s(1, max_dets=last), _s(1, .5, max_dets=last), _s(1, .75, max_dets=last),
                _s(1, area="small", max_dets=last), _s(1, area="medium", max_dets=last),
                _s(1, area="large", max_dets=last),
                _s(0, max_dets=m0), _s(0, max_dets=m1), _s(0, max_dets=last),
                _s(0, area="small", max_dets=last), _s(0, area="medium", max_dets=last),
                _s(0, area="large", max_dets=last)]
        ar_keys = [f"AR{m0}", f"AR{m1}", f"AR{last}"]
    else:
        m2 = _at(2)
        vals = [_s(1), _s(1, .5, max_dets=m2), _s(1, .75, max_dets=m2), _s(1, area="small", max_dets=m2),
                _s(1, area="medium", max_dets=m2), _s(1, area="large", max_dets=m2),
                _s(0, max_dets=_at(0)), _s(0, max_dets=_at(1)), _s(0, max_dets=m2),
                _s(0, area="small", max_dets=m2), _s(0, area="medium", max_dets=m2),
                _s(0, area="large", max_dets=m2)]
        ar_keys = [f"AR{_at(0)}", f"AR{_at(1)}", f"AR{m2}"]
    keys = list(STAT_KEYS[:6]) + ar_keys + list(STAT_KEYS[9:])
    if len(set(keys)) < len(keys):  # e.g. maxDets [100, 100, 100]
        keys = list(STAT_KEYS)
    return dict(zip(keys, vals))


def stats_array(stats: dict) -> np.ndarray:
    """The 12 summary numbers in ``COCOeval.stats`` order."""
    return np.array(list(stats.values()), dtype=np.float64)


# ----------------------------------------------------------------------------- one-shot API
def evaluate_coco(gt, results, iou_type: str = "segm", max_dets=MAX_DETS, fix_max_dets: bool = False,
                  fix_zero_gt_id: bool = False, return_all: bool = False):
    """Evaluate a COCO results list/file against an instances dict/file, like ``COCOeval``.

    Parameters
    ----------
    gt : path, dict or :class:`segbench.io.coco.CocoGT`
    results : path, list or :class:`segbench.io.coco.CocoResults`
    iou_type : {'segm', 'bbox'}
    max_dets : sequence of int
    fix_max_dets, fix_zero_gt_id : bool
        Fixes of pycocotools quirks (see the module docstring); off by default.
    return_all : bool
        Also return the accumulated arrays and the records.

    Returns
    -------
    dict
        The 12 summary numbers (``-1`` where undefined, as pycocotools); with ``return_all`` a tuple
        ``(stats, acc, records)``.
    """
    from ...io.coco import CocoGT, CocoResults, load_results

    g = gt if isinstance(gt, CocoGT) else CocoGT(gt)
    r = results if isinstance(results, CocoResults) else load_results(results, g, iou_type)
    params = COCOParams(iou_type=iou_type, max_dets=tuple(max_dets), fix_zero_gt_id=fix_zero_gt_id)
    empty: list = []
    items = ((iid, int(g.images[iid]["height"]), int(g.images[iid]["width"]),
              g.anns_by_image.get(iid, empty), r.by_image.get(iid, empty)) for iid in g.image_ids
             if iid in g.anns_by_image or iid in r.by_image)
    rec = evaluate_images(items, params)
    acc = accumulate(rec, g.cat_ids, params)
    stats = summarize(acc, params, fix_max_dets=fix_max_dets)
    return (stats, acc, rec) if return_all else stats


# ----------------------------------------------------------------------------- LVIS (federated)
LVIS_KEYS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "APr", "APc", "APf")


def lvis_image_detections(dets: list, gts: list, neg_category_ids=(), not_exhaustive_category_ids=(),
                          max_dets: int = 300) -> list:
    """LVIS' per-image preparation of detections (``LVISResults`` + ``LVISEval._prepare``).

    Keeps the ``max_dets`` highest-scoring detections of the image (stable for ties), drops those whose
    category is neither annotated in the image nor in ``neg_category_ids`` (federated: the image says
    nothing about them), and flags those of ``not_exhaustive_category_ids`` with
    ``"_ignore_unmatched"`` (unmatched ones are ignored, not false positives).
    """
    if max_dets >= 0 and len(dets) > max_dets:
        dets = sorted(dets, key=lambda d: d["score"], reverse=True)[:max_dets]
    # categories present in the image: lvis-api reads them from annotations with 0 < area only
    allowed = {g["category_id"] for g in gts if g.get("area") is None or g["area"] > 0} | set(neg_category_ids or ())
    nel = set(not_exhaustive_category_ids or ())
    out = []
    for d in dets:
        c = d["category_id"]
        if c not in allowed:
            continue
        out.append(dict(d, _ignore_unmatched=True) if c in nel else d)
    return out


def lvis_frequency_groups(categories: Sequence[dict]) -> list:
    """Indices (into categories sorted by id) of the rare / common / frequent groups (``frequency``)."""
    cats = sorted(categories, key=lambda c: c["id"])
    return [[k for k, c in enumerate(cats) if c.get("frequency") == f] for f in ("r", "c", "f")]


def summarize_lvis(acc: dict, params: COCOParams, freq_groups: Sequence) -> dict:
    """``LVISEval.summarize``: AP, AP50, AP75, APs/m/l, APr/c/f and AR@max_dets (+ per area); -1 where
    undefined. ``acc`` comes from :func:`accumulate` with one ``max_dets`` value."""
    precision = acc["precision"][..., -1]          # (T, R, K, A)
    recall = acc["recall"][..., -1]                # (T, K, A)
    thrs = np.asarray(params.iou_thrs)

    def _s(ap, iou_thr=None, area="all", fg=None):
        aidx = [i for i, l in enumerate(params.area_lbl) if l == area]
        if ap:
            s = precision
            if iou_thr is not None:
                s = s[np.where(iou_thr == thrs)[0]]
            s = s[:, :, fg, aidx] if fg is not None else s[:, :, :, aidx]
        else:
            s = recall
            if iou_thr is not None:
                s = s[np.where(iou_thr == thrs)[0]]
            s = s[:, :, aidx]
        return _mean_valid(s)

    md = params.max_dets[-1]
    out = {"AP": _s(1), "AP50": _s(1, .5), "AP75": _s(1, .75), "APs": _s(1, area="small"),
           "APm": _s(1, area="medium"), "APl": _s(1, area="large"), "APr": _s(1, fg=list(freq_groups[0])),
           "APc": _s(1, fg=list(freq_groups[1])), "APf": _s(1, fg=list(freq_groups[2])), f"AR@{md}": _s(0)}
    for area in ("small", "medium", "large"):
        out[f"AR{area[0]}@{md}"] = _s(0, area=area)
    return out


def evaluate_lvis(gt, results, iou_type: str = "segm", max_dets: int = 300, return_all: bool = False):
    """LVIS federated evaluation, like ``lvis.LVISEval`` (lvis-api 0.5.3).

    Parameters
    ----------
    gt : path, dict or :class:`segbench.io.coco.CocoGT`
        LVIS annotations: images carry ``neg_category_ids`` and ``not_exhaustive_category_ids``,
        categories a ``frequency`` (``r``/``c``/``f``).
    results : path, list or :class:`segbench.io.coco.CocoResults`
    iou_type : {'segm', 'bbox'}
    max_dets : int
        Detections kept per image (highest scores), 300 officially.

    Returns
    -------
    dict of the 13 summary numbers (``-1`` where undefined); with ``return_all`` a tuple
    ``(stats, acc, records)``.
    """
    from ...io.coco import CocoGT, CocoResults, load_results

    g = gt if isinstance(gt, CocoGT) else CocoGT(gt)
    md = int(max_dets) if max_dets and max_dets > 0 else 10 ** 9
    r = results if isinstance(results, CocoResults) else load_results(results, g, iou_type, lvis_max_dets=md)
    params = COCOParams(iou_type=iou_type, max_dets=(md,), federated=True)
    empty: list = []
    items = []
    for iid in g.image_ids:
        gts = g.anns_by_image.get(iid, empty)
        dets = r.by_image.get(iid, empty)
        if not gts and not dets:
            continue
        im = g.images[iid]
        items.append((iid, int(im["height"]), int(im["width"]), gts,
                      lvis_image_detections(dets, gts, im.get("neg_category_ids", ()),
                                            im.get("not_exhaustive_category_ids", ()), md)))
    rec = evaluate_images(items, params)
    acc = accumulate(rec, g.cat_ids, params)
    stats = summarize_lvis(acc, params, lvis_frequency_groups(g.categories))
    return (stats, acc, rec) if return_all else stats

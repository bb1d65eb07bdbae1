"""COCO detection / instance-segmentation AP and AR, identical to ``pycocotools.cocoeval.COCOeval``.

The evaluation has three stages, as in pycocotools, but vectorised with numpy:

1. :func:`prepare_image` — per image: detections sorted by score (stable, so ties keep file order)
   per category and cut at ``max(maxDets)``; IoUs between detections and ground truths of the same
   category with :func:`pycocotools.mask.iou` (crowd ground truths use the detection's area as the
   denominator: ``iou = |d ∩ g| / |d|``), one call per image.
2. :func:`match_batch` — the greedy matching of ``COCOeval.evaluateImg`` for all images of a batch, all
   area ranges and all IoU thresholds at once. Detections are visited in score order; each takes the
   unmatched non-ignored ground truth with the highest IoU ``>= t`` (ties: the later one), and only when
   there is none an ignored one (crowd ground truths can be matched repeatedly). The result per
   detection is a code per (area range, threshold): 1 = true positive, 0 = false positive,
   2 = ignored; per image and category the number of non-ignored ground truths per area range.
   These :class:`Records` are the mergeable state.
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
from typing import Any, Sequence

import numpy as np
from pycocotools import mask as mask_utils

__all__ = ["COCOParams", "Records", "PreparedImage", "prepare_image", "match_batch", "evaluate_images",
           "accumulate", "summarize", "evaluate_coco", "STAT_KEYS", "IOU_THRS", "REC_THRS"]

IOU_THRS = np.linspace(.5, 0.95, int(np.round((0.95 - .5) / .05)) + 1, endpoint=True)
REC_THRS = np.linspace(.0, 1.00, int(np.round((1.00 - .0) / .01)) + 1, endpoint=True)
MAX_DETS = (1, 10, 100)
AREA_RNG = ((0 ** 2, 1e5 ** 2), (0 ** 2, 32 ** 2), (32 ** 2, 96 ** 2), (96 ** 2, 1e5 ** 2))
AREA_LBL = ("all", "small", "medium", "large")
STAT_KEYS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")
_EPS = np.spacing(1)


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
    """

    iou_type: str = "segm"
    iou_thrs: tuple = tuple(float(x) for x in IOU_THRS)
    rec_thrs: tuple = tuple(float(x) for x in REC_THRS)
    max_dets: tuple = MAX_DETS
    area_rng: tuple = AREA_RNG
    area_lbl: tuple = AREA_LBL
    fix_zero_gt_id: bool = False

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


# ----------------------------------------------------------------------------- stage 1: one image
def _to_rle(seg, h: int, w: int):
    """COCO segmentation → RLE dict (``COCO.annToRLE``: polygons merged, uncompressed RLE encoded)."""
    if isinstance(seg, list):
        return mask_utils.merge(mask_utils.frPyObjects(seg, h, w))
    if isinstance(seg["counts"], list):
        return mask_utils.frPyObjects(seg, h, w)
    return seg


def _geoms(objs: list, h: int, w: int, iou_type: str):
    if iou_type == "bbox":
        return np.array([o["bbox"] for o in objs], dtype=np.float64).reshape(-1, 4)
    return [_to_rle(o["segmentation"], h, w) for o in objs]


@dataclass
class PreparedImage:
    """Stage-1 output for one image (see :func:`prepare_image`)."""

    image_id: Any
    det_cat: np.ndarray        # (D,) kept detections, sorted by (category, -score, file order)
    det_rank: np.ndarray       # (D,)
    det_score: np.ndarray      # (D,)
    det_out: np.ndarray        # (A, D) detection area outside each range
    cand: np.ndarray           # (C,) indices of detections that can match at the lowest threshold
    cand_step: np.ndarray      # (C,) rank among candidates of the same category
    ious: np.ndarray           # (C, G') masked IoUs (-1 across categories)
    g_ign: np.ndarray          # (A, G') GT ignored per area range
    g_crowd: np.ndarray        # (G',)
    g_idnz: np.ndarray         # (G',) GT id != 0
    gt_cat: np.ndarray         # (P,) categories with GT
    gt_npig: np.ndarray        # (P, A)


def prepare_image(image_id, h: int, w: int, gts: list, dets: list, params: COCOParams) -> PreparedImage:
    """Sort, cut and compute IoUs for one image (stage 1).

    Parameters
    ----------
    image_id : hashable
    h, w : int
        Image size (for polygons and uncompressed RLE).
    gts : list of dict
        COCO annotations (``category_id``, ``segmentation`` / ``bbox``, ``area``, ``iscrowd``, ``id``)
        of categories being evaluated.
    dets : list of dict
        Detections normalised by :func:`segbench.io.coco.load_results` (``area`` present when it comes
        from the box; otherwise the mask area is used).
    params : COCOParams

    Returns
    -------
    PreparedImage
    """
    A = len(params.area_rng)
    lo = np.array([a[0] for a in params.area_rng], np.float64)[:, None]
    hi = np.array([a[1] for a in params.area_rng], np.float64)[:, None]
    iou_type = params.iou_type
    nG = len(gts)
    nD = len(dets)
    if nG:
        g_cat = np.array([g["category_id"] for g in gts], dtype=np.int64)
        g_crowd = np.array([bool(g.get("iscrowd", 0)) for g in gts], dtype=bool)
        g_area = np.array([g["area"] if "area" in g else np.nan for g in gts], dtype=np.float64)
        if np.isnan(g_area).any():
            g_area = _fill_area(gts, g_area, h, w, iou_type)
        g_ign = g_crowd[None, :] | (g_area[None, :] < lo) | (g_area[None, :] > hi)      # (A, G)
        ucat, inv = np.unique(g_cat, return_inverse=True)
        npig = np.zeros((len(ucat), A), np.int64)
        for a in range(A):
            npig[:, a] = np.bincount(inv, weights=~g_ign[a], minlength=len(ucat)).astype(np.int64)
    else:
        g_cat = np.zeros(0, np.int64)
        ucat = np.zeros(0, np.int64)
        npig = np.zeros((0, A), np.int64)
    T = len(params.iou_thrs)
    if nD == 0:
        z = np.zeros(0, np.int64)
        return PreparedImage(image_id, z, z.astype(np.int32), np.zeros(0), np.zeros((A, 0), bool), z, z,
                             np.zeros((0, 0)), np.zeros((A, 0), bool), np.zeros(0, bool), np.zeros(0, bool),
                             ucat, npig)
    d_cat = np.array([d["category_id"] for d in dets], dtype=np.int64)
    d_score = np.array([d["score"] for d in dets], dtype=np.float64)
    order = np.lexsort((-d_score, d_cat))           # stable: ties keep file order
    sc = d_cat[order]
    starts = np.flatnonzero(np.r_[True, sc[1:] != sc[:-1]])
    run = np.diff(np.r_[starts, len(sc)])
    rank = np.arange(len(sc)) - np.repeat(starts, run)
    md = params.max_dets[-1]
    if rank.max() >= md:
        keep = rank < md
        order, sc, rank = order[keep], sc[keep], rank[keep]
    dk = [dets[i] for i in order]
    D = len(dk)
    score = d_score[order]
    area = np.array([d.get("area", np.nan) for d in dk], dtype=np.float64)
    need_area = np.isnan(area)
    if need_area.any():
        idx = np.flatnonzero(need_area)
        if iou_type == "segm" or any("bbox" not in dk[i] for i in idx):
            rles = [_to_rle(dk[i]["segmentation"], h, w) for i in idx]
            area[idx] = mask_utils.area(rles)
            if iou_type == "bbox":
                bbs = mask_utils.toBbox(rles)
                for j, i in enumerate(idx):
                    if "bbox" not in dk[i]:
                        dk[i] = dict(dk[i], bbox=[float(v) for v in bbs[j]])
        else:  # pragma: no cover - load_results always sets the area of boxed detections
            area[idx] = [dk[i]["bbox"][2] * dk[i]["bbox"][3] for i in idx]
    det_out = (area[None, :] < lo) | (area[None, :] > hi)              # (A, D)
    empty_c = np.zeros(0, np.int64)
    if nG == 0:
        return PreparedImage(image_id, sc, rank.astype(np.int32), score, det_out, empty_c, empty_c,
                             np.zeros((0, 0)), np.zeros((A, 0), bool), np.zeros(0, bool), np.zeros(0, bool),
                             ucat, npig)
    rows = np.flatnonzero(np.isin(sc, ucat))
    if rows.size == 0:
        return PreparedImage(image_id, sc, rank.astype(np.int32), score, det_out, empty_c, empty_c,
                             np.zeros((0, 0)), np.zeros((A, 0), bool), np.zeros(0, bool), np.zeros(0, bool),
                             ucat, npig)
    cols = np.flatnonzero(np.isin(g_cat, sc[rows]))
    gsub = [gts[j] for j in cols]
    dsub = [dk[i] for i in rows]
    crowd = g_crowd[cols]
    ious = np.asarray(mask_utils.iou(_geoms(dsub, h, w, iou_type), _geoms(gsub, h, w, iou_type),
                                     crowd.astype(np.uint8)), dtype=np.float64).reshape(len(rows), len(cols))
    same = sc[rows][:, None] == g_cat[cols][None, :]
    ious = np.where(same, ious, -1.0)
    tmin = float(params.thr_array.min())
    is_c = ious.max(axis=1) >= tmin
    cand = rows[is_c]
    ious = ious[is_c]
    if cand.size:
        cc = sc[cand]
        st = np.flatnonzero(np.r_[True, cc[1:] != cc[:-1]])
        step = np.arange(len(cc)) - np.repeat(st, np.diff(np.r_[st, len(cc)]))
    else:
        step = empty_c
    g_idnz = np.array([g.get("id", 1) != 0 for g in gsub], dtype=bool)
    return PreparedImage(image_id, sc, rank.astype(np.int32), score, det_out, cand, step, ious,
                         g_ign[:, cols], crowd, g_idnz, ucat, npig)


def _fill_area(anns, area, h, w, iou_type):
    """Area of annotations without an ``area`` field: mask area (segm) or box area (bbox)."""
    for i in np.flatnonzero(np.isnan(area)):
        a = anns[i]
        if "segmentation" in a and a["segmentation"] is not None and iou_type == "segm":
            area[i] = float(mask_utils.area(_to_rle(a["segmentation"], h, w)))
        else:
            area[i] = float(a["bbox"][2] * a["bbox"][3])
    return area


# ----------------------------------------------------------------------------- stage 2: matching
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


def match_batch(images: Sequence[PreparedImage], params: COCOParams) -> Records:
    """Stage 2: match all prepared images and return their :class:`Records`.

    Images are grouped by their (padded) number of candidate ground truths; inside a group the k-th
    candidate detection of every (image, category) is matched in one vectorised step, for all area
    ranges and IoU thresholds.
    """
    A = len(params.area_rng)
    T = len(params.iou_thrs)
    thr = params.thr_array
    images = list(images)
    if not images:
        return Records.empty(A, T)
    n_det = [len(p.det_cat) for p in images]
    N = int(sum(n_det))
    off = np.concatenate([[0], np.cumsum(n_det)]).astype(np.int64)
    det_out = np.concatenate([p.det_out for p in images], axis=1) if N else np.zeros((A, 0), bool)
    codes = np.where(det_out.T[:, :, None], np.uint8(2), np.uint8(0))          # (N, A, 1)
    codes = np.ascontiguousarray(np.broadcast_to(codes, (N, A, T)))
    # group images with candidates by padded G
    groups: dict = {}
    for i, p in enumerate(images):
        if p.cand.size:
            G = p.ious.shape[1]
            Gp = 1 << max(0, (G - 1).bit_length())
            groups.setdefault(Gp, []).append(i)
    for Gp, idxs in groups.items():
        nimg = len(idxs)
        g_ign = np.ones((nimg, A, Gp), bool)
        g_crowd = np.zeros((nimg, Gp), bool)
        g_idnz = np.ones((nimg, Gp), bool)
        rows_iou, rows_img, rows_step, rows_det = [], [], [], []
        for j, i in enumerate(idxs):
            p = images[i]
            G = p.ious.shape[1]
            g_ign[j, :, :G] = p.g_ign
            g_crowd[j, :G] = p.g_crowd
            g_idnz[j, :G] = p.g_idnz
            io = p.ious
            if G < Gp:
                io = np.pad(io, ((0, 0), (0, Gp - G)), constant_values=-1.0)
            rows_iou.append(io)
            rows_img.append(np.full(len(p.cand), j, np.int64))
            rows_step.append(p.cand_step)
            rows_det.append(p.cand + off[i])
        ious = np.concatenate(rows_iou)
        img = np.concatenate(rows_img)
        step = np.concatenate(rows_step)
        det = np.concatenate(rows_det)
        o = np.argsort(step, kind="stable")
        ious, img, step, det = ious[o], img[o], step[o], det[o]
        m = _match_group(ious, img, step, g_ign, g_crowd, thr)          # (n, A, T)
        matched = m >= 0
        mm = np.maximum(m, 0)
        ar_a = np.arange(A)[None, :, None]
        gim = g_ign[img[:, None, None], ar_a, mm] & matched
        if params.fix_zero_gt_id:
            mnz = matched
        else:
            mnz = matched & g_idnz[img[:, None, None], mm]
        out_rng = det_out.T[det][:, :, None]
        dtig = gim | (~mnz & out_rng)
        codes[det] = np.where(dtig, np.uint8(2), np.where(mnz, np.uint8(1), np.uint8(0)))
    det_img = np.repeat(np.arange(len(images), dtype=np.int32), n_det)
    gt_n = [len(p.gt_cat) for p in images]
    return Records(
        image_ids=[p.image_id for p in images], det_img=det_img,
        det_cat=np.concatenate([p.det_cat for p in images]).astype(np.int64),
        det_rank=np.concatenate([p.det_rank for p in images]).astype(np.int32),
        det_score=np.concatenate([p.det_score for p in images]).astype(np.float64),
        det_code=codes,
        gt_img=np.repeat(np.arange(len(images), dtype=np.int32), gt_n),
        gt_cat=np.concatenate([p.gt_cat for p in images]).astype(np.int64),
        gt_npig=np.concatenate([p.gt_npig for p in images]).reshape(-1, A).astype(np.int64))


def evaluate_images(items, params: COCOParams, batch_size: int = 512) -> Records:
    """Stages 1 + 2 over ``items`` = iterable of ``(image_id, h, w, gts, dets)``."""
    parts, batch = [], []
    for it in items:
        batch.append(prepare_image(*it, params))
        if len(batch) >= batch_size:
            parts.append(match_batch(batch, params))
            batch = []
    if batch or not parts:
        parts.append(match_batch(batch, params))
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
        aind = [i for i, l in enumerate(params.area_lbl) if l == area]
        mind = [i for i, m in enumerate(md) if m == max_dets]
        if ap:
            s = precision
            if iou_thr is not None:
                s = s[np.where(iou_thr == iou_thrs)[0]]
            s = s[:, :, :, aind, mind]
        else:
            s = recall
            if iou_thr is not None:
                s = s[np.where(iou_thr == iou_thrs)[0]]
            s = s[:, :, aind, mind]
        return _mean_valid(s)

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

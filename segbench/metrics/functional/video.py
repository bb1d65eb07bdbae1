"""Video object segmentation measures of DAVIS: region J, boundary F, their statistics, and the
unsupervised Hungarian matching — exactly as ``davis2017-evaluation`` computes them.

Per sequence (``davis2017/evaluation.py``, ``davis2017/davis.py``, ``davis2017/results.py``):

- **GT objects** are the ids ``1..K`` with ``K = max`` id of the *first* annotated frame after void
  (255) pixels are set to background. Ids above K and void pixels are background (the official reader
  zeroes void, so void is never excluded; ``use_void=True`` excludes it instead).
- **semi-supervised**: the first and last frames are not scored; predicted ids must be ``1..K`` (an id
  above K is an error, as in the official code; ``extra_ids="ignore"`` treats it as background). A
  predicted object that never appears scores as an empty mask.
- **unsupervised**: every frame is scored; the ``P = max`` predicted id (at most 20 proposals) objects
  ``1..P`` (padded with empty masks to K) are matched one-to-one to GT objects by the Hungarian
  algorithm (``scipy.optimize.linear_sum_assignment``) maximising the mean over frames of
  ``(J + F) / 2``.
- **J** per object per frame: ``|pred ∩ gt| / |pred ∪ gt|``, 1 when the union is empty.
- **F** per object per frame: :func:`segbench.metrics.functional.davis_boundary.boundary_f`
  (``bound_th = 0.008`` of the image diagonal).
- **statistics** per object (:func:`db_statistics`): mean, recall (fraction of frames > 0.5) and decay
  (mean of the first minus the last of 4 quantile bins).
- **global**: ``J_mean = mean`` over all objects of all sequences of the per-object means (likewise
  recall and decay) and ``J&F = (J_mean + F_mean) / 2``.

Examples
--------
>>> import numpy as np
>>> gt = np.zeros((5, 48, 85), np.uint8); gt[:, 10:30, 10:40] = 1
>>> res = evaluate_sequence(gt, gt.copy(), task="semi-supervised")
>>> res["objects"], [len(j) for j in res["J"]], res["J"][0][0], res["F"][0][0]
([1], [3], 1.0, 1.0)

References
----------
Pont-Tuset et al., "The 2017 DAVIS Challenge on Video Object Segmentation", arXiv:1704.00675;
github.com/davisvideochallenge/davis2017-evaluation.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.optimize import linear_sum_assignment

from .coco import summary_cells
from .davis_boundary import (_popcount, bound_pix, dilate_packed, f_from_counts, mask_bbox, pack_rows, seg2bmap)

__all__ = ["VOID", "TASKS", "db_statistics", "frame_scores", "evaluate_sequence", "num_gt_objects",
           "summarize"]

VOID = 255
TASKS = ("semi-supervised", "unsupervised")


def db_statistics(per_frame_values, fix_decay_bins: bool = False) -> tuple:
    """Mean, recall and decay of one object's per-frame values (``davis2017/utils.py``).

    Parameters
    ----------
    per_frame_values : ndarray, shape (T,)
    fix_decay_bins : bool, default False
        The reference casts the bin edges to ``uint8``, which wraps for sequences longer than 256
        scored frames; ``True`` keeps them as integers (the reference result for T <= 256 is unchanged).

    Returns
    -------
    (M, O, D) : floats
        ``M = nanmean(v)``, ``O = nanmean(v > 0.5)``; with ``ids = round(linspace(1, T, 5) + 1e-10) - 1``
        and bins ``v[ids[i]:ids[i + 1] + 1]``, ``D = nanmean(bin_0) - nanmean(bin_3)``.

    Examples
    --------
    >>> db_statistics(np.array([1.0, 1.0, 0.5, 0.0]))
    (0.625, 0.5, 0.75)
    """
    v = np.asarray(per_frame_values, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        m = np.nanmean(v)
        o = np.nanmean(v > 0.5)
    ids = np.round(np.linspace(1, len(v), 4 + 1) + 1e-10) - 1
    ids = ids.astype(np.int64) if fix_decay_bins else ids.astype(np.uint8)
    with np.errstate(over="ignore"):  # uint8 edges wrap past 255 exactly as in the reference
        bins = [v[ids[i]:ids[i + 1] + 1] for i in range(4)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        d = np.nanmean(bins[0]) - np.nanmean(bins[3])
    return float(m), float(o), float(d)


def num_gt_objects(first_frame: np.ndarray) -> int:
    """``K``: the largest id of the first annotated frame with void (255) set to 0 (official rule)."""
    f = np.asarray(first_frame)
    if f.size == 0:
        return 0
    m = np.where(f == VOID, 0, f).max()
    return int(m)


class _Object:
    """One object of one frame: bool mask, bounding box, area, packed boundary and its dilation.

    The boundary lives in word-aligned frame coordinates (rows from ``y0``, 64-px words from ``w0``),
    wide enough for the dilation, so pairs of objects are compared by slicing the overlap.
    """

    __slots__ = ("mask", "box", "area", "y0", "w0", "b", "d", "n")

    def __init__(self, mask: np.ndarray, radius: float, r_int: int):
        self.mask = mask
        self.box = box = mask_bbox(mask)
        self.b = self.d = None
        self.n = 0
        self.area = 0
        if box is None:
            return
        h, w = mask.shape
        self.area = int(np.count_nonzero(mask[box[0]:box[1], box[2]:box[3]]))
        y0, y1 = max(box[0] - 1, 0), min(box[1] + 1, h)
        x0, x1 = max(box[2] - 1, 0), min(box[3] + 1, w)
        bm = seg2bmap(mask[y0:y1, x0:x1])
        wa = max(x0 - r_int, 0) // 64
        wb = (min(x1 + r_int, w) + 63) // 64
        full = np.zeros((y1 - y0, (wb - wa) * 64), dtype=bool)
        full[:, x0 - wa * 64:x1 - wa * 64] = bm
        self.b = pack_rows(full)
        self.y0, self.w0 = y0, wa
        self.n = _popcount(self.b)
        if self.n:
            self.d = dilate_packed(self.b, radius, pad_rows=r_int)


def _match(a: _Object, b: _Object, r_int: int) -> int:
    """Boundary pixels of ``a`` within the dilated boundary of ``b``."""
    dy0 = b.y0 - r_int
    ya, yb = max(a.y0, dy0), min(a.y0 + a.b.shape[0], dy0 + b.d.shape[0])
    wa, wb = max(a.w0, b.w0), min(a.w0 + a.b.shape[1], b.w0 + b.d.shape[1])
    if ya >= yb or wa >= wb:
        return 0
    x = a.b[ya - a.y0:yb - a.y0, wa - a.w0:wb - a.w0] & b.d[ya - dy0:yb - dy0, wa - b.w0:wb - b.w0]
    return _popcount(x)


def _intersection(a: _Object, b: _Object) -> int:
    if a.box is None or b.box is None:
        return 0
    y0, y1 = max(a.box[0], b.box[0]), min(a.box[1], b.box[1])
    x0, x1 = max(a.box[2], b.box[2]), min(a.box[3], b.box[3])
    if y0 >= y1 or x0 >= x1:
        return 0
    return int(np.count_nonzero(a.mask[y0:y1, x0:x1] & b.mask[y0:y1, x0:x1]))


def frame_scores(gt: np.ndarray, pred: np.ndarray, n_gt: int, n_pred: int, bound_th: float = 0.008,
                 void: np.ndarray | None = None) -> tuple:
    """J and F of every (predicted object, GT object) pair of one frame.

    Parameters
    ----------
    gt : ndarray, shape (H, W)
        GT ids; ``1..n_gt`` are objects, anything else is background.
    pred : ndarray, shape (H, W)
        Predicted ids; ``1..n_pred`` are objects, anything else is background.
    n_gt, n_pred : int
    bound_th : float
    void : ndarray of bool, optional
        Pixels excluded from J and removed from both masks before F (``use_void``).

    Returns
    -------
    (J, F) : ndarrays, shape (n_pred, n_gt)
        ``J[p, g]`` and ``F[p, g]`` of predicted object ``p + 1`` against GT object ``g + 1``:
        ``J = |P ∩ G| / |P ∪ G|`` (1 for an empty union), ``F`` as
        :func:`segbench.metrics.functional.davis_boundary.boundary_f`.
    """
    gt = np.asarray(gt)
    pred = np.asarray(pred)
    if gt.shape != pred.shape:
        raise ValueError(f"GT {gt.shape} and prediction {pred.shape} differ in size")
    radius = bound_pix(gt.shape, bound_th)
    r_int = int(np.ceil(radius)) + 1
    keep = None if void is None else ~np.asarray(void, dtype=bool)

    def objs(lab, n):
        out = []
        for k in range(1, n + 1):
            m = lab == k
            if keep is not None:
                m &= keep
            out.append(_Object(m, radius, r_int))
        return out

    go = objs(gt, n_gt)
    po = objs(pred, n_pred)
    J = np.empty((n_pred, n_gt), dtype=np.float64)
    F = np.empty((n_pred, n_gt), dtype=np.float64)
    for i, a in enumerate(po):
        for j, g in enumerate(go):
            inter = _intersection(a, g)
            union = a.area + g.area - inter
            J[i, j] = 1 if union == 0 else np.int64(inter) / np.int64(union)
            if a.n and g.n:
                fm = _match(a, g, r_int)
                gm = _match(g, a, r_int)
            else:
                fm = gm = 0
            F[i, j] = f_from_counts(fm, a.n, gm, g.n)[2]
    return J, F


def evaluate_sequence(gt: np.ndarray, pred_frames, task: str = "semi-supervised", bound_th: float = 0.008,
                      max_proposals: int = 20, use_void: bool = False, extra_ids: str = "error",
                      objects: str = "first_frame", name: str = "sequence", frame_names=None) -> dict:
    """Per-object per-frame J and F of one sequence, matched as the official evaluation does.

    Parameters
    ----------
    gt : ndarray, shape (T, H, W), or a list of T (H, W) arrays
        GT ids of all annotated frames (255 = void).
    pred_frames : ndarray (T, H, W) or sequence of (H, W) arrays
        Predicted ids for the same frames (frames that are not scored may be None).
    task : {"semi-supervised", "unsupervised"}
    bound_th : float, default 0.008
    max_proposals : int, default 20
        Unsupervised: largest allowed predicted id.
    use_void : bool, default False
        Exclude GT void pixels (the official code, by zeroing void when reading, counts them as
        background; False reproduces it).
    extra_ids : {"error", "ignore"}
        Semi-supervised: a predicted id above K is an error (official) or background.
    objects : {"first_frame", "all_frames"}
        K from the first frame (official) or from all frames.
    name : str
        Sequence name for error messages.
    frame_names : sequence of str, optional
        Frame names for error messages.

    Returns
    -------
    dict
        ``objects`` (GT ids), ``J`` / ``F`` (one list of per-frame floats per object),
        ``frames`` (scored frame names), ``matched`` (predicted id of each GT object; unsupervised).

    Raises
    ------
    ValueError
        On an id above K (semi-supervised, ``extra_ids="error"``), more than ``max_proposals`` ids
        (unsupervised), or mismatching sizes; the message names the sequence and frame.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    if not isinstance(gt, (list, tuple)):
        gt = np.asarray(gt)
    T = len(gt)
    names = list(frame_names) if frame_names is not None else [f"{i:05d}" for i in range(T)]
    if T == 0:
        return {"objects": [], "J": [], "F": [], "frames": [], "matched": []}
    if objects == "all_frames":
        K = int(max(num_gt_objects(f) for f in gt))
    elif objects == "first_frame":
        K = num_gt_objects(gt[0])
    else:
        raise ValueError(f"objects must be 'first_frame' or 'all_frames', got {objects!r}")
    idx = list(range(1, T - 1)) if task == "semi-supervised" else list(range(T))
    if task == "semi-supervised" and T < 3:
        raise ValueError(f"sequence {name!r} has {T} annotated frame(s); semi-supervised scoring skips the first "
                         "and last frames and needs at least 3")
    preds = []
    for i in idx:
        p = pred_frames[i]
        if p is None:
            raise ValueError(f"sequence {name!r}: no prediction for frame {names[i]!r}")
        p = np.asarray(p)
        if p.shape != np.shape(gt[i]):
            raise ValueError(f"sequence {name!r} frame {names[i]!r}: prediction is {p.shape[1] if p.ndim > 1 else '?'}x"
                             f"{p.shape[0]} but the annotation is {gt[i].shape[1]}x{gt[i].shape[0]}")
        preds.append(p)
    pmax = [int(p.max()) if p.size else 0 for p in preds]
    P = max(pmax) if pmax else 0
    if task == "semi-supervised":
        if P > K:
            if extra_ids == "error":
                bad = next(k for k, v in enumerate(pmax) if v > K)
                raise ValueError(f"sequence {name!r} frame {names[idx[bad]]!r}: predicted object id {pmax[bad]} but the "
                                 f"first annotated frame has {K} object(s) (ids 1..{K}); remove it or pass "
                                 "extra_ids='ignore'")
            elif extra_ids != "ignore":
                raise ValueError(f"extra_ids must be 'error' or 'ignore', got {extra_ids!r}")
        n_pred = K
    else:
        if P > max_proposals:
            bad = next(k for k, v in enumerate(pmax) if v > max_proposals)
            raise ValueError(f"sequence {name!r} frame {names[idx[bad]]!r}: predicted id {pmax[bad]} exceeds the "
                             f"maximum of {max_proposals} proposals of the unsupervised task")
        n_pred = max(P, K)
    Jall = np.zeros((n_pred, K, len(idx)))
    Fall = np.zeros((n_pred, K, len(idx)))
    for t, (i, p) in enumerate(zip(idx, preds)):
        g = gt[i]
        void = (g == VOID) if use_void else None
        J, F = frame_scores(g, p, K, n_pred, bound_th, void)
        Jall[:, :, t] = J
        Fall[:, :, t] = F
    if task == "semi-supervised":
        rows = np.arange(K)
        cols = np.arange(K)
        matched = list(range(1, K + 1))
    else:
        score = (np.mean(Jall, axis=2) + np.mean(Fall, axis=2)) / 2
        rows, cols = linear_sum_assignment(-score)
        # the official code lists the matched pairs in predicted-id order; keep GT order here
        order = np.argsort(cols)
        rows, cols = rows[order], cols[order]
        matched = [int(r) + 1 for r in rows]
    return {"objects": [int(c) + 1 for c in cols],
            "J": [Jall[r, c, :].tolist() for r, c in zip(rows, cols)],
            "F": [Fall[r, c, :].tolist() for r, c in zip(rows, cols)],
            "frames": [names[i] for i in idx],
            "matched": matched}


def summarize(sequences: dict, fix_decay_bins: bool = False) -> tuple:
    """Global DAVIS statistics from per-sequence results.

    Parameters
    ----------
    sequences : dict
        ``{name: {"objects": [...], "J": [[...], ...], "F": [[...], ...]}}`` (as returned by
        :func:`evaluate_sequence`).
    fix_decay_bins : bool

    Returns
    -------
    (values, per_sequence, per_object) : dicts
        ``values`` has ``J&F J_mean J_recall J_decay F_mean F_recall F_decay`` (NaN without objects);
        ``per_sequence[name]`` the same keys averaged over the sequence's objects plus ``num_objects``;
        ``per_object["name_k"]`` the statistics of GT object k.
    """
    JM, JR, JD, FM, FR, FD = [], [], [], [], [], []
    per_seq, per_obj = {}, {}
    for name in sorted(sequences):
        s = sequences[name]
        sj, sf = [], []
        for obj, jv, fv in zip(s["objects"], s["J"], s["F"]):
            jm, jr, jd = db_statistics(np.asarray(jv, dtype=np.float64), fix_decay_bins)
            fm, fr, fd = db_statistics(np.asarray(fv, dtype=np.float64), fix_decay_bins)
            JM.append(jm); JR.append(jr); JD.append(jd)
            FM.append(fm); FR.append(fr); FD.append(fd)
            sj.append((jm, jr, jd)); sf.append((fm, fr, fd))
            per_obj[f"{name}_{obj}"] = {"J&F": (jm + fm) / 2, "J_mean": jm, "J_recall": jr, "J_decay": jd,
                                        "F_mean": fm, "F_recall": fr, "F_decay": fd}
        per_seq[name] = _stats(sj, sf)
        per_seq[name]["num_objects"] = len(sj)
    values = _stats(list(zip(JM, JR, JD)), list(zip(FM, FR, FD)))
    return values, per_seq, per_obj


def _stats(j: list, f: list) -> dict:
    if not j:
        nan = float("nan")
        return {"J&F": nan, "J_mean": nan, "J_recall": nan, "J_decay": nan,
                "F_mean": nan, "F_recall": nan, "F_decay": nan}
    ja = np.array(j, dtype=np.float64)
    fa = np.array(f, dtype=np.float64)
    jm, jr, jd = (float(np.mean(ja[:, k])) for k in range(3))
    fm, fr, fd = (float(np.mean(fa[:, k])) for k in range(3))
    return {"J&F": (jm + fm) / 2.0, "J_mean": jm, "J_recall": jr, "J_decay": jd,
            "F_mean": fm, "F_recall": fr, "F_decay": fd}


# ============================================================================= YouTube-VIS video AP
"""YouTube-VIS video instance AP, as ``YTVOSeval`` of the YouTube-VIS cocoapi fork computes it
(``PythonAPI/pycocotools/ytvoseval.py`` and ``ytvos.py``; github.com/youtubevos/cocoapi):

- a track is one ``segmentations`` list (one RLE / polygons / None per frame); its area is the mean of
  its non-empty per-frame areas (``avg_area``; GT from the JSON ``areas``, results from the RLEs);
- the IoU of a predicted and a GT track is ``sum_t |P_t ∩ G_t| / sum_t |P_t ∪ G_t|`` over the frames
  (0 when the union is empty);
- per video and category, results are sorted by score (stable) and cut to 100, and matched greedily
  to GT tracks at IoU thresholds .50:.05:.95 exactly as COCOeval does (crowd GT is ignored and can be
  matched many times); area ranges all / small < 128² / medium < 256² / large;
- accumulation and the 12 summary numbers are COCOeval's (101 recall points, maxDets 1 / 10 / 100).
"""

YTVIS_IOU_THRS = np.linspace(.5, 0.95, int(np.round((0.95 - .5) / .05)) + 1, endpoint=True)
YTVIS_REC_THRS = np.linspace(.0, 1.00, int(np.round((1.00 - .0) / .01)) + 1, endpoint=True)
YTVIS_MAX_DETS = (1, 10, 100)
YTVIS_AREA_RNG = ((0 ** 2, 1e5 ** 2), (0 ** 2, 128 ** 2), (128 ** 2, 256 ** 2), (256 ** 2, 1e5 ** 2))
YTVIS_AREA_LBL = ("all", "small", "medium", "large")
YTVIS_KEYS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")


def ytvis_rle(seg, h: int, w: int):
    """One frame's segmentation as a compressed RLE dict (``ytvos.annToRLE``), or None when absent.

    Polygons (list of lists) are merged; uncompressed RLE (list ``counts``) is compressed.
    """
    from pycocotools import mask as mask_utils
    if not seg:
        return None
    if isinstance(seg, list):
        return mask_utils.merge(mask_utils.frPyObjects(seg, h, w))
    if isinstance(seg.get("counts"), list):
        return mask_utils.frPyObjects(seg, h, w)
    return seg


def ytvis_avg_area(areas) -> float:
    """Mean of the truthy per-frame areas (0 when there is none), as ``ytvos`` computes ``avg_area``."""
    vals = [a for a in areas if a]
    return 0 if len(vals) == 0 else np.array(vals).mean()


def ytvis_track_ious(dets: list, gts: list, length: int) -> np.ndarray:
    """Spatio-temporal mask IoU ``(D, G)`` of predicted and GT tracks (lists of per-frame RLE or None).

    ``IoU = sum_t |D_t ∩ G_t| / sum_t |D_t ∪ G_t|``, 0 when the union is empty. Intersections are
    exact integers (recovered from ``pycocotools.mask.iou`` and the areas).
    """
    from pycocotools import mask as mask_utils
    D, G = len(dets), len(gts)
    inter = np.zeros((D, G), dtype=np.int64)
    union = np.zeros((D, G), dtype=np.int64)
    if D == 0 or G == 0:
        return np.zeros((D, G))
    T = max([len(s) for s in dets] + [len(s) for s in gts] + [length])
    for t in range(T):
        di = [i for i, s in enumerate(dets) if t < len(s) and s[t]]
        gi = [j for j, s in enumerate(gts) if t < len(s) and s[t]]
        if not di and not gi:
            continue
        da = np.zeros(D, dtype=np.int64)
        ga = np.zeros(G, dtype=np.int64)
        if di:
            da[di] = mask_utils.area([dets[i][t] for i in di]).astype(np.int64)
        if gi:
            ga[gi] = mask_utils.area([gts[j][t] for j in gi]).astype(np.int64)
        union += da[:, None] + ga[None, :]
        if di and gi:
            iou = np.asarray(mask_utils.iou([dets[i][t] for i in di], [gts[j][t] for j in gi], [0] * len(gi)),
                             dtype=np.float64).reshape(len(di), len(gi))
            s = da[di][:, None] + ga[gi][None, :]
            it = np.rint(iou * s / (1.0 + iou)).astype(np.int64)
            inter[np.ix_(di, gi)] += it
            union[np.ix_(di, gi)] -= it
    with np.errstate(invalid="ignore", divide="ignore"):
        ious = inter.astype(np.float64) / union.astype(np.float64)
    ious[union == 0] = 0.0
    return ious


def ytvis_evaluate_video(gts: list, dets: list, length: int, iou_thrs=YTVIS_IOU_THRS,
                         area_rng=YTVIS_AREA_RNG, max_det: int = YTVIS_MAX_DETS[-1]) -> list:
    """Match one video's tracks of one category (``YTVOSeval.computeIoU`` + ``evaluateVid``).

    Parameters
    ----------
    gts : list of dict
        ``id, segmentations`` (RLE or None per frame), ``avg_area``, ``iscrowd``; in JSON order.
    dets : list of dict
        ``id, score, segmentations``, ``avg_area``; in results-file order.
    length : int

    Returns
    -------
    list (one per area range) of dict
        ``scores`` (D,), ``tp`` / ``fp`` (T, D) bool — matched / unmatched and not ignored, in score
        order, at most ``max_det`` — and ``npig`` (non-ignored GT count); None when the video has
        neither GT nor results of this category.
    """
    if len(gts) == 0 and len(dets) == 0:
        return [None] * len(area_rng)
    order = np.argsort([-d["score"] for d in dets], kind="mergesort")
    dts_sorted = [dets[i] for i in order][:max_det]
    ious_all = ytvis_track_ious([d["segmentations"] for d in dts_sorted], [g["segmentations"] for g in gts], length)
    T = len(iou_thrs)
    out = []
    for a_lo, a_hi in area_rng:
        g_ign = [1 if (g["iscrowd"] or g["avg_area"] < a_lo or g["avg_area"] > a_hi) else 0 for g in gts]
        gtind = np.argsort(g_ign, kind="mergesort")
        gt = [gts[i] for i in gtind]
        gtIg = np.array([g_ign[i] for i in gtind])
        iscrowd = [int(g["iscrowd"]) for g in gt]
        dt = dts_sorted   # re-sorting the sorted list by -score (stable) keeps it as is
        ious = ious_all[:, gtind] if ious_all.size else ious_all
        G, D = len(gt), len(dt)
        gtm = np.zeros((T, G))
        dtm = np.zeros((T, D))
        dtIg = np.zeros((T, D))
        if not (len(gts) == 0 or len(dets) == 0):
            for tind, t in enumerate(iou_thrs):
                for dind, d in enumerate(dt):
                    iou = min([t, 1 - 1e-10])
                    m = -1
                    for gind in range(G):
                        if gtm[tind, gind] > 0 and not iscrowd[gind]:
                            continue
                        if m > -1 and gtIg[m] == 0 and gtIg[gind] == 1:
                            break
                        if ious[dind, gind] < iou:
                            continue
                        iou = ious[dind, gind]
                        m = gind
                    if m == -1:
                        continue
                    dtIg[tind, dind] = gtIg[m]
                    dtm[tind, dind] = gt[m]["id"]
                    gtm[tind, m] = d["id"]
        a = np.array([d["avg_area"] < a_lo or d["avg_area"] > a_hi for d in dt]).reshape((1, D))
        dtIg = np.logical_or(dtIg, np.logical_and(dtm == 0, np.repeat(a, T, 0)))
        out.append({"scores": [float(d["score"]) for d in dt],
                    "tp": np.logical_and(dtm, np.logical_not(dtIg)),
                    "fp": np.logical_and(np.logical_not(dtm), np.logical_not(dtIg)),
                    "npig": int(np.count_nonzero(gtIg == 0))})
    return out


def ytvis_accumulate(per_cat: list, rec_thrs=YTVIS_REC_THRS, max_dets=YTVIS_MAX_DETS, num_thrs: int = 10,
                     num_areas: int = 4) -> dict:
    """COCOeval ``accumulate`` over videos.

    Parameters
    ----------
    per_cat : list (categories, in sorted id order) of list (videos, in sorted id order) of per-area
        records from :func:`ytvis_evaluate_video` (None entries skipped).

    Returns
    -------
    dict with ``precision`` (T, R, K, A, M) and ``recall`` (T, K, A, M), -1 where undefined.
    """
    T, R, K, A, M = num_thrs, len(rec_thrs), len(per_cat), num_areas, len(max_dets)
    precision = -np.ones((T, R, K, A, M))
    recall = -np.ones((T, K, A, M))
    for k, vids in enumerate(per_cat):
        for a in range(A):
            E = [v[a] for v in vids if v is not None and v[a] is not None]
            if len(E) == 0:
                continue
            for m, max_det in enumerate(max_dets):
                dtScores = np.concatenate([np.asarray(e["scores"], dtype=np.float64)[0:max_det] for e in E])
                inds = np.argsort(-dtScores, kind="mergesort")
                tps = np.concatenate([np.asarray(e["tp"], dtype=bool).reshape(T, -1)[:, 0:max_det] for e in E],
                                     axis=1)[:, inds]
                fps = np.concatenate([np.asarray(e["fp"], dtype=bool).reshape(T, -1)[:, 0:max_det] for e in E],
                                     axis=1)[:, inds]
                npig = sum(int(e["npig"]) for e in E)
                if npig == 0:
                    continue
                tp_sum = np.cumsum(tps, axis=1).astype(dtype=np.float64)
                fp_sum = np.cumsum(fps, axis=1).astype(dtype=np.float64)
                for t, (tp, fp) in enumerate(zip(tp_sum, fp_sum)):
                    nd = len(tp)
                    rc = tp / npig
                    pr = tp / (fp + tp + np.spacing(1))
                    recall[t, k, a, m] = rc[-1] if nd else 0
                    if nd:
                        pr = np.maximum.accumulate(pr[::-1])[::-1]
                    q = np.zeros((R,))
                    inds_r = np.searchsorted(rc, rec_thrs, side="left")
                    ok = inds_r < nd
                    q[ok] = pr[inds_r[ok]]
                    # the reference stops at the first recall threshold it cannot reach
                    if not ok.all():
                        q[np.argmin(ok):] = 0
                    precision[t, :, k, a, m] = q
    return {"precision": precision, "recall": recall}


def ytvis_summarize(precision: np.ndarray, recall: np.ndarray, iou_thrs=YTVIS_IOU_THRS,
                    max_dets=YTVIS_MAX_DETS) -> dict:
    """The 12 COCOeval summary numbers (``-1`` → NaN) keyed ``AP AP50 AP75 APs APm APl AR1 AR10 AR100 ARs
    ARm ARl``."""

    def _s(ap=1, iou_thr=None, area="all", md=100):
        s = summary_cells(precision, recall, iou_thrs, YTVIS_AREA_LBL, max_dets, ap == 1, iou_thr, area, md)
        return float("nan") if len(s[s > -1]) == 0 else float(np.mean(s[s > -1]))

    md = max_dets
    vals = [_s(1), _s(1, .5, md=md[2]), _s(1, .75, md=md[2]), _s(1, area="small", md=md[2]),
            _s(1, area="medium", md=md[2]), _s(1, area="large", md=md[2]), _s(0, md=md[0]), _s(0, md=md[1]),
            _s(0, md=md[2]), _s(0, area="small", md=md[2]), _s(0, area="medium", md=md[2]),
            _s(0, area="large", md=md[2])]
    return dict(zip(YTVIS_KEYS, vals))

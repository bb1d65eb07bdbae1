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
from scipy import ndimage
from scipy.optimize import linear_sum_assignment

from .davis_boundary import (_popcount, bound_pix, dilate_packed, f_from_counts, pack_rows, seg2bmap)

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
    (0.625, 0.5, 1.0)
    """
    v = np.asarray(per_frame_values, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        m = np.nanmean(v)
        o = np.nanmean(v > 0.5)
    ids = np.round(np.linspace(1, len(v), 4 + 1) + 1e-10) - 1
    ids = ids.astype(np.int64) if fix_decay_bins else ids.astype(np.uint8)
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


class _Boundary:
    """Packed boundary of one object in one frame, in word-aligned frame coordinates."""

    __slots__ = ("y0", "w0", "b", "d", "n")

    def __init__(self, y0, w0, b, d, n):
        self.y0, self.w0, self.b, self.d, self.n = y0, w0, b, d, n


def _object_boundary(labels: np.ndarray, obj: int, sl, radius: float, r_int: int) -> _Boundary | None:
    """Boundary (packed) and its disk dilation for ``labels == obj`` within the slice ``sl``."""
    if sl is None:
        return None
    h, w = labels.shape
    y0, y1 = max(sl[0].start - 1, 0), min(sl[0].stop + 1, h)
    x0, x1 = max(sl[1].start - 1, 0), min(sl[1].stop + 1, w)
    bm = seg2bmap(labels[y0:y1, x0:x1] == obj)
    # word-aligned column window wide enough for the horizontal dilation
    wa = max(x0 - r_int, 0) // 64
    wb = (min(x1 + r_int, w) + 63) // 64
    full = np.zeros((y1 - y0, (wb - wa) * 64), dtype=bool)
    full[:, x0 - wa * 64:x1 - wa * 64] = bm
    b = pack_rows(full)
    n = _popcount(b)
    if n == 0:
        return _Boundary(y0, wa, b, None, 0)
    d = dilate_packed(b, radius, pad_rows=r_int)
    return _Boundary(y0, wa, b, d, n)


def _match(a: _Boundary, b: _Boundary, r_int: int) -> int:
    """Boundary pixels of ``a`` within the dilated boundary of ``b``."""
    dy0 = b.y0 - r_int
    ya, yb = max(a.y0, dy0), min(a.y0 + a.b.shape[0], dy0 + b.d.shape[0])
    wa, wb = max(a.w0, b.w0), min(a.w0 + a.b.shape[1], b.w0 + b.d.shape[1])
    if ya >= yb or wa >= wb:
        return 0
    x = a.b[ya - a.y0:yb - a.y0, wa - a.w0:wb - a.w0] & b.d[ya - dy0:yb - dy0, wa - b.w0:wb - b.w0]
    return _popcount(x)


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
        ``J[p, g]`` and ``F[p, g]`` of predicted object ``p + 1`` against GT object ``g + 1``.
    """
    gt = np.asarray(gt)
    pred = np.asarray(pred)
    if gt.shape != pred.shape:
        raise ValueError(f"GT {gt.shape} and prediction {pred.shape} differ in size")
    G, P = n_gt + 1, n_pred + 1
    gl = np.where((gt >= 1) & (gt <= n_gt), gt, 0).astype(np.intp)
    pl = np.where((pred >= 1) & (pred <= n_pred), pred, 0).astype(np.intp)
    if void is not None:
        keep = ~np.asarray(void, dtype=bool)
        gl = np.where(keep, gl, 0)
        pl = np.where(keep, pl, 0)
        hist = np.bincount((gl * P + pl)[keep].ravel(), minlength=G * P).reshape(G, P)
    else:
        hist = np.bincount((gl * P + pl).ravel(), minlength=G * P).reshape(G, P)
    inter = hist[1:, 1:].T.astype(np.int64)              # (n_pred, n_gt)
    area_g = hist[1:, :].sum(axis=1).astype(np.int64)    # (n_gt,)
    area_p = hist[:, 1:].sum(axis=0).astype(np.int64)    # (n_pred,)
    union = area_p[:, None] + area_g[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        J = inter / union
    J[union == 0] = 1

    radius = bound_pix(gt.shape, bound_th)
    r_int = int(np.ceil(radius)) + 1
    sl_g = ndimage.find_objects(gl.astype(np.int32), max_label=n_gt) if n_gt else []
    sl_p = ndimage.find_objects(pl.astype(np.int32), max_label=n_pred) if n_pred else []
    bg = [_object_boundary(gl, k + 1, sl_g[k], radius, r_int) for k in range(n_gt)]
    bp = [_object_boundary(pl, k + 1, sl_p[k], radius, r_int) for k in range(n_pred)]
    F = np.empty((n_pred, n_gt), dtype=np.float64)
    for i in range(n_pred):
        a = bp[i]
        n_fg = a.n if a is not None else 0
        for j in range(n_gt):
            g = bg[j]
            n_g = g.n if g is not None else 0
            if n_fg and n_g:
                fm = _match(a, g, r_int)
                gm = _match(g, a, r_int)
            else:
                fm = gm = 0
            F[i, j] = f_from_counts(fm, n_fg, gm, n_g)[2]
    return J, F


def evaluate_sequence(gt: np.ndarray, pred_frames, task: str = "semi-supervised", bound_th: float = 0.008,
                      max_proposals: int = 20, use_void: bool = False, extra_ids: str = "error",
                      objects: str = "first_frame", name: str = "sequence", frame_names=None) -> dict:
    """Per-object per-frame J and F of one sequence, matched as the official evaluation does.

    Parameters
    ----------
    gt : ndarray, shape (T, H, W)
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
    gt = np.asarray(gt)
    T = gt.shape[0]
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
        if p.shape != gt[i].shape:
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

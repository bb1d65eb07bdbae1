"""Pure numpy maths of click-based interactive segmentation (GrabCut / Berkeley / DAVIS / SBD protocol).

A session on one object produces a mask after each simulated click ``k = 1..N`` (``N ≤ max_clicks``,
20 in RITM / f-BRS). With ``IoU_k`` the IoU of mask ``k`` (pixels whose GT is the ignore label are
left out of intersection and union):

- ``NoC@t = k*`` the first click with ``IoU_k ≥ t``, or ``max_clicks`` when no click reaches ``t``;
  ``NoC@85`` / ``NoC@90`` are the means over objects of NoC at ``t = 0.85`` / ``0.90``;
- ``NoF@t`` (number of failures) counts objects whose NoC equals ``max_clicks`` — RITM's
  ``(scores_arr == max_clicks).sum()``, which also counts an object first reaching ``t`` exactly at
  click ``max_clicks``; ``nof_mode="strict"`` counts only objects that never reach ``t``;
- ``mIoU@k`` = mean over objects of ``IoU_k``.

The click simulator (:func:`next_click`, :class:`ClickSimulator`) is RITM's ``Clicker``: the error
regions are the false negatives ``FN = gt ∧ ¬pred`` and false positives ``FP = ¬gt ∧ pred`` (outside the
ignore region); each is zero-padded by one pixel, its exact Euclidean distance transform (distance of
each error pixel to the nearest non-error pixel, OpenCV ``DIST_L2`` with the precise mask, float32) is
taken (exact here; OpenCV's is within one float32 ulp, see :func:`next_click`), the padding removed,
and pixels already clicked are zeroed. The next click goes to the pixel of
largest distance, positive if ``max FN-distance > max FP-distance``, else negative; among ties the
first pixel in row-major order.

References
----------
K. Sofiiuk, I. Petrov, A. Konushin, "Reviving Iterative Training with Mask Guidance for Interactive
Segmentation" (RITM), ICIP 2022: ``isegm/inference/clicker.py`` (``Clicker._get_next_click``),
``isegm/inference/utils.py`` (``get_iou``, ``compute_noc_metric``).
K. Sofiiuk et al., "f-BRS: Rethinking Backpropagating Refinement for Interactive Segmentation", CVPR 2020.
N. Xu et al., "Deep Interactive Object Selection", CVPR 2016 (NoC protocol).

Examples
--------
>>> import numpy as np
>>> gt = np.zeros((5, 5), bool); gt[1:4, 1:4] = True
>>> next_click(gt, np.zeros_like(gt))
(True, (2, 2))
>>> noc(np.array([0.5, 0.86, 0.91]), 0.85), noc(np.array([0.5, 0.86, 0.91]), 0.95, max_clicks=20)
(2, 20)
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from scipy import ndimage

__all__ = ["mask_iou", "session_ious", "noc", "noc_scores", "miou_curve", "edt_float32", "next_click",
           "ClickSimulator", "simulate_session", "threshold_tag"]


def threshold_tag(t: float) -> str:
    """``0.85 -> "85"`` (``NoC@85``); ``0.875 -> "87.5"``."""
    return f"{float(t) * 100:g}"


def mask_iou(gt: np.ndarray, pred: np.ndarray, ignore: np.ndarray | None = None) -> float:
    """IoU of a predicted mask with the object mask, ignore pixels left out (RITM ``get_iou``).

    Returns NaN when the union is empty (RITM divides 0 by 0).
    """
    g = np.asarray(gt, bool)
    p = np.asarray(pred, bool)
    if ignore is not None:
        keep = ~np.asarray(ignore, bool)
        g = g & keep
        p = p & keep
    u = int(np.count_nonzero(g | p))
    i = int(np.count_nonzero(g & p))
    return i / u if u else float("nan")


def session_ious(gt: np.ndarray, masks: np.ndarray, ignore: np.ndarray | None = None) -> np.ndarray:
    """``(N,)`` IoU after each click of ``masks`` ``(N, H, W)``."""
    return np.array([mask_iou(gt, m, ignore) for m in masks], np.float64)


def noc(ious: np.ndarray, thr: float, max_clicks: int = 20) -> int:
    """Number of clicks to reach ``thr``: first ``k`` (1-based) with ``ious[k-1] ≥ thr``, else
    ``max_clicks``. Only the first ``max_clicks`` entries count."""
    v = np.asarray(ious, np.float64)[:max_clicks] >= thr
    return int(np.argmax(v)) + 1 if v.any() else int(max_clicks)


def noc_scores(all_ious: Sequence[np.ndarray], thrs: Sequence[float] = (0.85, 0.9), max_clicks: int = 20,
               nof_mode: str = "reference") -> dict:
    """Mean NoC and number of failures over objects, per threshold.

    Parameters
    ----------
    all_ious : sequence of ndarray (N_i,)
    thrs : sequence of float
    max_clicks : int, default 20
    nof_mode : {"reference", "strict"}
        ``reference``: ``#{NoC = max_clicks}`` (RITM); ``strict``: ``#{never reaches thr}``.

    Returns
    -------
    dict
        ``NoC`` (list of float), ``NoF`` (list of int), ``noc_per_object`` (ndarray (n_obj, n_thr)).
    """
    if nof_mode not in ("reference", "strict"):
        raise ValueError(f"nof_mode must be 'reference' or 'strict', got {nof_mode!r}")
    n = len(all_ious)
    per = np.array([[noc(a, t, max_clicks) for t in thrs] for a in all_ious], np.int64).reshape(n, len(thrs))
    if nof_mode == "reference":
        nof = [(per[:, j] == max_clicks).sum() for j in range(len(thrs))]
    else:
        nof = [sum(not (np.asarray(a, np.float64)[:max_clicks] >= t).any() for a in all_ious) for t in thrs]
    return {"NoC": [float(per[:, j].mean()) if n else float("nan") for j in range(len(thrs))],
            "NoF": [int(x) for x in nof], "noc_per_object": per}


def miou_curve(all_ious: Sequence[np.ndarray], max_clicks: int = 20) -> np.ndarray:
    """``(max_clicks,)`` mean IoU after click ``k`` over objects (NaN IoUs left out).

    A session shorter than ``k`` clicks (stopped early at the target IoU, as RITM does outside its
    IoU-analysis mode) keeps its last IoU.
    """
    if not all_ious:
        return np.full(max_clicks, np.nan)
    rows = []
    for a in all_ious:
        a = np.asarray(a, np.float64)[:max_clicks]
        if a.size == 0:
            rows.append(np.full(max_clicks, np.nan))
        else:
            rows.append(np.concatenate([a, np.full(max_clicks - a.size, a[-1])]))
    m = np.array(rows)
    ok = ~np.isnan(m)
    with np.errstate(invalid="ignore"):
        return np.where(ok.any(0), np.where(ok, m, 0).sum(0) / np.maximum(ok.sum(0), 1), np.nan)


def edt_float32(mask: np.ndarray) -> np.ndarray:
    """Exact Euclidean distance of each nonzero pixel to the nearest zero pixel, as float32.

    Squared distances are exact integers (scipy's feature transform); their float32 square root is
    what OpenCV's ``distanceTransform(DIST_L2, DIST_MASK_PRECISE)`` returns.
    """
    m = np.asarray(mask, bool)
    if not m.any():
        return np.zeros(m.shape, np.float32)
    if m.all():  # no zero pixel: OpenCV reports a large constant; never happens with padding
        return np.full(m.shape, np.float32(np.hypot(*m.shape)), np.float32)
    idx = ndimage.distance_transform_edt(m, return_distances=False, return_indices=True)
    grid = np.indices(m.shape)
    d2 = ((idx - grid).astype(np.int64) ** 2).sum(0)
    return np.sqrt(d2.astype(np.float32))


def next_click(gt: np.ndarray, pred: np.ndarray, not_clicked: np.ndarray | None = None,
               ignore: np.ndarray | None = None, padding: bool = True,
               distance_transform: Callable | None = None) -> tuple[bool, tuple[int, int]]:
    """RITM's next simulated click for ``pred`` against the object mask ``gt``.

    Parameters
    ----------
    gt, pred : ndarray (H, W) bool
    not_clicked : ndarray (H, W) bool, optional
        False at pixels already clicked (default: all True).
    ignore : ndarray (H, W) bool, optional
        Pixels never counted as errors.
    padding : bool, default True
        Zero-pad the error masks by one pixel before the distance transform (RITM default), so image
        borders count as region boundaries.
    distance_transform : callable, optional
        ``f(mask bool (H, W)) -> float32 (H, W)`` distance of each nonzero pixel to the nearest zero.
        Default :func:`edt_float32` (exact). OpenCV's ``distanceTransform(DIST_L2, 0)`` returns the same
        distances up to one float32 ulp, position dependent (vectorised vs scalar code), which can
        change RITM's pick among pixels at exactly equal distance (1 click in ~1500 on the synthetic
        sessions of the tests); a model wrapper that needs RITM's clicks bit for bit passes
        ``lambda m: cv2.distanceTransform(m.astype(np.uint8), cv2.DIST_L2, 0)``.

    Returns
    -------
    (bool, (int, int))
        ``is_positive`` and ``(y, x)``.
    """
    g = np.asarray(gt, bool)
    p = np.asarray(pred, bool)
    keep = np.ones(g.shape, bool) if ignore is None else ~np.asarray(ignore, bool)
    fn = g & ~p & keep
    fp = ~g & p & keep
    dt_fn = edt_float32 if distance_transform is None else distance_transform
    if padding:
        fn_dt = np.asarray(dt_fn(np.pad(fn, 1)))[1:-1, 1:-1]
        fp_dt = np.asarray(dt_fn(np.pad(fp, 1)))[1:-1, 1:-1]
    else:
        fn_dt, fp_dt = np.asarray(dt_fn(fn)), np.asarray(dt_fn(fp))
    if not_clicked is not None:
        nc = np.asarray(not_clicked, bool)
        fn_dt = fn_dt * nc
        fp_dt = fp_dt * nc
    fn_max, fp_max = fn_dt.max(), fp_dt.max()
    pos = bool(fn_max > fp_max)
    dt, mx = (fn_dt, fn_max) if pos else (fp_dt, fp_max)
    flat = int(np.flatnonzero(dt.ravel() == mx)[0])
    return pos, (flat // g.shape[1], flat % g.shape[1])


class ClickSimulator:
    """Stateful RITM clicker for one object: call :meth:`click` with the current prediction.

    Parameters
    ----------
    gt : ndarray (H, W) bool
    ignore : ndarray (H, W) bool, optional
    padding : bool, default True
    distance_transform : callable, optional
        See :func:`next_click`.

    Examples
    --------
    >>> import numpy as np
    >>> gt = np.zeros((6, 6), bool); gt[1:5, 1:5] = True
    >>> sim = ClickSimulator(gt)
    >>> sim.click(np.zeros_like(gt))
    (True, 2, 2)
    >>> pred = gt.copy(); pred[0, :] = True
    >>> sim.click(pred), len(sim.clicks)
    ((False, 0, 0), 2)
    """

    def __init__(self, gt: np.ndarray, ignore: np.ndarray | None = None, padding: bool = True,
                 distance_transform: Callable | None = None):
        self.gt = np.asarray(gt, bool)
        self.distance_transform = distance_transform
        self.ignore = None if ignore is None else np.asarray(ignore, bool)
        self.padding = padding
        self.not_clicked = np.ones(self.gt.shape, bool)
        self.clicks: list = []

    def click(self, pred: np.ndarray) -> tuple[bool, int, int]:
        pos, (y, x) = next_click(self.gt, pred, self.not_clicked, self.ignore, self.padding,
                                 self.distance_transform)
        self.not_clicked[y, x] = False
        c = (pos, int(y), int(x))
        self.clicks.append(c)
        return c


def simulate_session(gt: np.ndarray, predict: Callable[[list], np.ndarray], max_clicks: int = 20,
                     ignore: np.ndarray | None = None, stop_iou: float | None = None,
                     padding: bool = True, distance_transform: Callable | None = None) -> tuple[np.ndarray, list]:
    """Run RITM's evaluation loop for one object with a model's ``predict(clicks) -> mask``.

    The first click is computed against an empty prediction; after each click the model predicts a
    mask from all clicks so far (``(is_positive, y, x)`` tuples); the next click is computed against
    that mask. With ``stop_iou`` the session stops once the IoU reaches it (RITM's ``max_iou_thr``).

    Returns
    -------
    masks : ndarray (N, H, W) bool
    clicks : list of (bool, int, int)
    """
    sim = ClickSimulator(gt, ignore, padding, distance_transform)
    pred = np.zeros(sim.gt.shape, bool)
    masks = []
    for _ in range(int(max_clicks)):
        sim.click(pred)
        pred = np.asarray(predict(list(sim.clicks)), bool)
        masks.append(pred)
        if stop_iou is not None and mask_iou(sim.gt, pred, ignore) >= stop_iou:
            break
    return np.stack(masks) if masks else np.zeros((0,) + sim.gt.shape, bool), list(sim.clicks)

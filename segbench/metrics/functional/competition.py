"""Pure numpy maths of Kaggle competition scores (TGS Salt mean AP, Understanding Clouds Dice).

Examples
--------
>>> import numpy as np
>>> from segbench.metrics.functional.competition import tgs_image_hits, TGS_THRESHOLDS
>>> gt = np.zeros((4, 4), bool); gt[:2] = True
>>> pr = gt.copy(); pr[2, 0] = True          # IoU = 8/9 = 0.889
>>> tgs_image_hits(gt, pr)                    # passes 0.50 ... 0.85 -> 8 of 10 thresholds
8
>>> len(TGS_THRESHOLDS)
10
"""

from __future__ import annotations

import numpy as np

__all__ = ["TGS_THRESHOLDS", "tgs_image_hits", "tgs_image_score", "pair_counts", "dice_from_counts",
           "binned_pr_counts", "aupr_from_bins"]

#: IoU thresholds of the TGS Salt metric: ``np.arange(0.5, 1.0, 0.05)`` (0.50, 0.55, ..., 0.95),
#: as in the competition's evaluation page and the reference kernel (same float values).
TGS_THRESHOLDS = np.arange(0.5, 1.0, 0.05)


def tgs_image_hits(gt: np.ndarray, pred: np.ndarray, thresholds: np.ndarray = TGS_THRESHOLDS) -> int:
    """Number of IoU thresholds at which an image counts as a true positive (TGS Salt).

    Each image holds at most one object (the salt mask). At threshold ``t`` the image's precision is
    ``TP / (TP + FP + FN)``: 1 when ``IoU(gt, pred) > t``, else 0 (one FP and/or one FN). When both
    masks are empty there is nothing to find and the precision is 1 at every threshold; an empty GT
    with a non-empty prediction (a FP) or the reverse (a FN) scores 0.

    Parameters
    ----------
    gt, pred : ndarray of bool, shape (H, W)
    thresholds : ndarray, default :data:`TGS_THRESHOLDS`

    Returns
    -------
    int
        Count of thresholds passed, ``0 .. len(thresholds)``; the image score is ``hits / len``.
    """
    g = np.asarray(gt, bool)
    p = np.asarray(pred, bool)
    ng, npred = int(g.sum()), int(p.sum())
    if ng == 0 and npred == 0:
        return len(thresholds)
    if ng == 0 or npred == 0:
        return 0
    inter = int(np.logical_and(g, p).sum())
    union = ng + npred - inter
    iou = inter / union
    return int((iou > np.asarray(thresholds)).sum())


def tgs_image_score(gt: np.ndarray, pred: np.ndarray, thresholds: np.ndarray = TGS_THRESHOLDS) -> float:
    """Mean precision of one image over the IoU thresholds (see :func:`tgs_image_hits`)."""
    return tgs_image_hits(gt, pred, thresholds) / len(thresholds)


def pair_counts(gt: np.ndarray, pred: np.ndarray) -> tuple[int, int, int]:
    """``(|X ∩ Y|, |X|, |Y|)`` of two binary masks (integers, exact and mergeable)."""
    g = np.asarray(gt, bool)
    p = np.asarray(pred, bool)
    return int(np.logical_and(g, p).sum()), int(g.sum()), int(p.sum())


def dice_from_counts(inter, size_gt, size_pred) -> np.ndarray:
    """Dice ``2|X∩Y| / (|X| + |Y|)``, defined as 1 when both masks are empty (Understanding Clouds).

    Works elementwise on arrays of counts.
    """
    inter = np.asarray(inter, dtype=np.float64)
    denom = np.asarray(size_gt, dtype=np.float64) + np.asarray(size_pred, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        d = np.where(denom > 0, 2.0 * inter / np.where(denom > 0, denom, 1.0), 1.0)
    return d


def binned_pr_counts(gt: np.ndarray, score: np.ndarray, bins: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Histogram of scores of positive and negative pixels.

    ``score`` in 0..1 is quantised to ``round(score * (bins - 1))``; 8-bit probability maps (the
    IDRiD submission format) are represented exactly with the default 256 bins.

    Returns
    -------
    pos, neg : ndarray of int64, shape (bins,)
    """
    q = np.clip(np.rint(np.asarray(score, np.float64) * (bins - 1)), 0, bins - 1).astype(np.int64)
    g = np.asarray(gt, bool)
    pos = np.bincount(q[g], minlength=bins).astype(np.int64)
    neg = np.bincount(q[~g], minlength=bins).astype(np.int64)
    return pos, neg


def aupr_from_bins(pos: np.ndarray, neg: np.ndarray) -> tuple[float, float]:
    """Area under the precision-recall curve from binned counts.

    Thresholds run over the bin edges from high to low (a pixel is predicted positive when its bin is
    ``>= k``). Returns ``(aupr_trapezoid, average_precision)``: the trapezoidal area under the
    (recall, precision) points — ``sklearn.metrics.auc(recall, precision)`` over
    ``precision_recall_curve`` — and the step-wise average precision
    ``sum (R_k - R_{k-1}) P_k`` (``sklearn.metrics.average_precision_score``). NaN without positives.
    """
    pos = np.asarray(pos, np.int64)
    neg = np.asarray(neg, np.int64)
    npos = int(pos.sum())
    if npos == 0:
        return float("nan"), float("nan")
    tp = np.cumsum(pos[::-1])
    fp = np.cumsum(neg[::-1])
    keep = (pos[::-1] + neg[::-1]) > 0  # distinct score values only (as sklearn's thresholds)
    tp, fp = tp[keep], fp[keep]
    precision = tp / (tp + fp)
    recall = tp / npos
    # sklearn's curve ends with (recall 0, precision 1)
    r = np.concatenate([[0.0], recall])
    p = np.concatenate([[1.0], precision])
    aupr = float(np.sum((r[1:] - r[:-1]) * (p[1:] + p[:-1]) / 2.0))
    ap = float(np.sum((r[1:] - r[:-1]) * p[1:]))
    return aupr, ap

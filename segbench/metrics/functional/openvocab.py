"""Pure numpy maths of zero-shot / open-vocabulary semantic segmentation (SPNet / ZS3Net protocol).

The classes are split into *seen* (labelled in training) and *unseen* ones. One confusion matrix over
all classes is accumulated over the test set (:func:`segbench.metrics.functional.semantic.confusion_matrix`,
generalised zero-shot setting: the prediction may be any class) and, with ``IoU_c`` from it:

- ``mIoU_seen = mean_{c ∈ seen} IoU_c``, ``mIoU_unseen = mean_{c ∈ unseen} IoU_c``;
- ``hIoU = 2 · mIoU_seen · mIoU_unseen / (mIoU_seen + mIoU_unseen)`` (harmonic mean; 0 when both are 0);
- ``mIoU`` over all classes.

Classes absent from both GT and prediction (NaN IoU) are left out of the means, as in the
confusion-matrix evaluators SPNet and ZS3Net build on (``np.nanmean``).

References
----------
Y. Xian et al., "Semantic Projection Network for Zero- and Few-Label Semantic Segmentation" (SPNet),
CVPR 2019. M. Bucher et al., "Zero-Shot Semantic Segmentation" (ZS3Net), NeurIPS 2019.

Examples
--------
>>> import numpy as np
>>> cm = np.array([[4, 1, 0], [0, 3, 1], [1, 1, 2]])
>>> s = zeroshot_scores(cm, unseen=[2])
>>> round(s["mIoU_seen"], 4), round(s["mIoU_unseen"], 4), round(s["hIoU"], 4)
(0.5833, 0.4, 0.4746)
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .semantic import scores_from_confusion

__all__ = ["zeroshot_scores", "harmonic_mean"]


def harmonic_mean(a: float, b: float) -> float:
    """``2ab / (a + b)``; 0 when ``a + b = 0``, NaN when either is NaN."""
    if np.isnan(a) or np.isnan(b):
        return float("nan")
    return float(2 * a * b / (a + b)) if (a + b) else 0.0


def _nanmean(x) -> float:
    x = np.asarray(x, np.float64)
    ok = ~np.isnan(x)
    return float(x[ok].sum() / ok.sum()) if ok.any() else float("nan")


def zeroshot_scores(cm: np.ndarray, unseen: Sequence[int], void: np.ndarray | None = None) -> dict:
    """Seen / unseen / harmonic mIoU from a ``(C, C)`` confusion matrix.

    Parameters
    ----------
    cm : ndarray of int, shape (C, C)
        Rows GT, columns prediction.
    unseen : sequence of int
        Train ids of the unseen classes; the others are seen.
    void : ndarray of int, shape (C,), optional
        Void predictions per GT class (see :func:`~segbench.metrics.functional.semantic.scores_from_confusion`).

    Returns
    -------
    dict
        ``IoU`` (ndarray (C,)), ``mIoU_seen, mIoU_unseen, hIoU, mIoU`` (floats).
    """
    cm = np.asarray(cm, np.int64)
    C = cm.shape[0]
    u = np.zeros(C, bool)
    u[np.asarray(list(unseen), np.int64)] = True
    s = scores_from_confusion(cm, void)
    iou = s["IoU"]
    seen_m, unseen_m = _nanmean(iou[~u]), _nanmean(iou[u])
    return {"IoU": iou, "mIoU_seen": seen_m, "mIoU_unseen": unseen_m, "hIoU": harmonic_mean(seen_m, unseen_m),
            "mIoU": s["mIoU"]}

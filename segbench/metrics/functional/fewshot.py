"""Pure numpy maths of few-shot segmentation (PASCAL-5i / COCO-20i / FSS-1000 protocol).

An episode has a query image, a target class ``c`` (one of the fold's test classes) and a binary
query mask (1 = class ``c``, 0 = background, ``ignore_index`` = unlabelled boundary pixels). The
prediction is a binary mask. Per episode, for ``k ∈ {0 = background, 1 = foreground}``:

- ``inter_k = #{pred = gt = k}``, ``union_k = #{pred = k} + #{gt = k} - inter_k``, counted over
  pixels whose GT is not ``ignore_index`` (HSNet ``Evaluator.classify_prediction``: the prediction is
  set to the ignore index where the GT is ignored, and ``histc(bins=2, min=0, max=1)`` counts 0s and 1s).

The run sums these per class of the episode (``index_add_``), giving ``I[k, c]`` and ``U[k, c]``:

- class-wise ``IoU_c = I[1, c] / max(U[1, c], 1)``; ``mIoU = mean_{c ∈ fold} IoU_c`` (a fold class that
  was never sampled counts with IoU 0, as in HSNet / PANet's ``class_ids_interest``);
- ``FB-IoU = ½ Σ_k (Σ_{c ∈ fold} I[k, c]) / (Σ_{c ∈ fold} U[k, c])`` (foreground and background IoU
  over all episodes, averaged).

References
----------
J. Min, D. Kang, M. Cho, "Hypercorrelation Squeeze for Few-Shot Segmentation" (HSNet), ICCV 2021:
``common/evaluation.py`` and ``common/utils.py`` (``AverageMeter.compute_iou``).
K. Wang et al., "PANet: Few-Shot Image Semantic Segmentation with Prototype Alignment", ICCV 2019.
A. Shaban et al., "One-Shot Learning for Semantic Segmentation", BMVC 2017 (PASCAL-5i).

Examples
--------
>>> import numpy as np
>>> gt = np.array([[1, 1, 0], [0, 255, 0]]); pr = np.array([[1, 0, 0], [1, 1, 0]])
>>> i, u = episode_inter_union(pr, gt)
>>> i.tolist(), u.tolist()
([2, 1], [4, 3])
>>> s = fewshot_scores(np.array([[2], [1]]), np.array([[4], [3]]))
>>> round(s["mIoU"], 4), round(s["FB_IoU"], 4)
(0.3333, 0.4167)
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["episode_inter_union", "fewshot_scores"]


def episode_inter_union(pred: np.ndarray, gt: np.ndarray, ignore_index: int = 255) -> tuple[np.ndarray, np.ndarray]:
    """Background / foreground intersection and union counts of one episode.

    Parameters
    ----------
    pred : ndarray (H, W), bool or int — nonzero = foreground
    gt : ndarray (H, W) int — 0 background, 1 foreground, ``ignore_index`` unlabelled
    ignore_index : int, default 255

    Returns
    -------
    inter, union : ndarray of int64, shape (2,)
        Index 0 = background, 1 = foreground.

    Raises
    ------
    ValueError
        Shapes differ or the GT has values other than 0, 1 and ``ignore_index``.
    """
    pred = np.asarray(pred)
    gt = np.asarray(gt)
    if pred.shape != gt.shape:
        raise ValueError(f"prediction shape {pred.shape} differs from the query mask shape {gt.shape}")
    valid = gt != ignore_index
    g = gt[valid]
    bad = (g != 0) & (g != 1)
    if bad.any():
        raise ValueError(f"query mask has values {sorted(set(np.unique(g[bad]).tolist()))[:10]} "
                         f"(expected 0, 1 or {ignore_index})")
    g = g.astype(bool)
    p = pred[valid] != 0
    i1 = int(np.count_nonzero(p & g))
    n_p1, n_g1, n = int(np.count_nonzero(p)), int(np.count_nonzero(g)), int(g.size)
    i0 = n - n_p1 - n_g1 + i1  # pred = gt = 0
    inter = np.array([i0, i1], np.int64)
    area_p = np.array([n - n_p1, n_p1], np.int64)
    area_g = np.array([n - n_g1, n_g1], np.int64)
    return inter, area_p + area_g - inter


def fewshot_scores(inter: np.ndarray, union: np.ndarray, classes: Sequence[int] | None = None) -> dict:
    """Class-wise mIoU and FB-IoU from per-class background / foreground counts.

    Parameters
    ----------
    inter, union : ndarray of int, shape (2, C)
        Row 0 background, row 1 foreground, summed over the episodes of each class.
    classes : sequence of int, optional
        Column indices of the fold's classes (default: all ``C``).

    Returns
    -------
    dict
        ``IoU`` (ndarray (K,), foreground IoU per fold class, in ``classes`` order), ``mIoU``,
        ``FB_IoU``, ``bg_IoU``, ``fg_IoU`` (floats).
    """
    inter = np.asarray(inter, np.int64).reshape(2, -1)
    union = np.asarray(union, np.int64).reshape(2, -1)
    cols = np.arange(inter.shape[1]) if classes is None else np.asarray(list(classes), np.int64)
    iu = inter[:, cols].astype(np.float64)
    un = union[:, cols]
    iou = iu / np.maximum(un, 1).astype(np.float64)
    tot_i = inter[:, cols].sum(1).astype(np.float64)
    tot_u = union[:, cols].sum(1).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        fb = tot_i / tot_u
    return {"IoU": iou[1], "mIoU": float(iou[1].mean()) if cols.size else float("nan"),
            "FB_IoU": float(fb.mean()), "bg_IoU": float(fb[0]), "fg_IoU": float(fb[1])}

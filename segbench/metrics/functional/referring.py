"""Pure numpy maths of referring-expression segmentation (RefCOCO / RefCOCO+ / RefCOCOg protocol).

Each expression has a binary GT mask and a binary predicted mask. With per-expression intersection
``I_e = |P_e ∩ G_e|`` and union ``U_e = |P_e ∪ G_e|`` (pixel counts):

- overall IoU ``oIoU = Σ_e I_e / Σ_e U_e`` (cumulative intersection over cumulative union);
- mean IoU ``mIoU = (1/E) Σ_e IoU_e`` with ``IoU_e = I_e / U_e`` and ``IoU_e = 0`` when ``U_e = 0``;
- precision at threshold ``t``: ``P@t = (1/E) #{e : IoU_e ≥ t}`` for ``t ∈ {0.5, 0.6, 0.7, 0.8, 0.9}``.

This is the evaluation loop of LAVT (``test.py``: ``computeIoU`` then ``cum_I += I; cum_U += U``,
``this_iou = 0.0 if U == 0 else I * 1.0 / U``, ``seg_correct += this_iou >= t``, ``overall = cum_I /
cum_U`` or 0 when ``cum_U == 0``), inherited from RRN / CMSA and used by CRIS, ReSTR, PolyFormer...

References
----------
Z. Yang et al., "LAVT: Language-Aware Vision Transformer for Referring Image Segmentation", CVPR 2022.
Z. Wang et al., "CRIS: CLIP-Driven Referring Image Segmentation", CVPR 2022.
L. Yu et al., "Modeling Context in Referring Expressions", ECCV 2016 (RefCOCO / RefCOCO+).

Examples
--------
>>> import numpy as np
>>> gt = np.array([[1, 1, 0], [0, 0, 0]], bool); pr = np.array([[1, 0, 0], [1, 0, 0]], bool)
>>> intersection_union(pr, gt)
(1, 3)
>>> s = referring_scores([1, 4], [3, 4])
>>> round(s["oIoU"], 4), round(s["mIoU"], 4), s["P@0.5"], s["P@0.9"]
(0.7143, 0.6667, 0.5, 0.5)
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["intersection_union", "expression_iou", "referring_scores", "DEFAULT_THRESHOLDS", "threshold_key"]

DEFAULT_THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)


def threshold_key(t: float) -> str:
    """``0.5 -> "P@0.5"`` (the values key of a precision threshold)."""
    return f"P@{float(t):g}"


def intersection_union(pred: np.ndarray, gt: np.ndarray, ignore: np.ndarray | None = None) -> tuple[int, int]:
    """Intersection and union pixel counts of two binary masks (nonzero = foreground).

    Parameters
    ----------
    pred, gt : ndarray (H, W), bool or integer (nonzero = foreground)
    ignore : ndarray (H, W) bool, optional
        Pixels left out of both counts.

    Returns
    -------
    (int, int)
        ``I = |pred ∧ gt|``, ``U = |pred ∨ gt|``.
    """
    p = np.asarray(pred) != 0
    g = np.asarray(gt) != 0
    if p.shape != g.shape:
        raise ValueError(f"prediction shape {p.shape} differs from the mask shape {g.shape}")
    if ignore is not None:
        keep = ~np.asarray(ignore, bool)
        p = p & keep
        g = g & keep
    return int(np.count_nonzero(p & g)), int(np.count_nonzero(p | g))


def expression_iou(I, U, empty_iou: float = 0.0) -> np.ndarray:
    """Per-expression IoU ``I / U`` (``empty_iou`` where ``U == 0``; LAVT uses 0)."""
    I = np.asarray(I, np.int64)
    U = np.asarray(U, np.int64)
    out = np.full(I.shape, float(empty_iou))
    nz = U != 0
    out[nz] = I[nz].astype(np.float64) / U[nz].astype(np.float64)
    return out


def referring_scores(I, U, thresholds: Sequence[float] = DEFAULT_THRESHOLDS, empty_iou: float = 0.0) -> dict:
    """oIoU, mIoU and precision@t of a set of expressions from their intersection / union counts.

    Parameters
    ----------
    I, U : array-like of int, shape (E,)
    thresholds : sequence of float
    empty_iou : float, default 0.0
        IoU of an expression whose prediction and GT are both empty (LAVT: 0).

    Returns
    -------
    dict
        ``oIoU, mIoU`` and ``P@t`` per threshold (floats; NaN when ``E = 0``; ``oIoU = 0`` when
        ``Σ U = 0``, as LAVT), ``IoU`` (ndarray (E,)).
    """
    I = np.asarray(I, np.int64).ravel()
    U = np.asarray(U, np.int64).ravel()
    iou = expression_iou(I, U, empty_iou)
    E = I.size
    out: dict = {"IoU": iou}
    if E == 0:
        out.update({"oIoU": float("nan"), "mIoU": float("nan")})
        out.update({threshold_key(t): float("nan") for t in thresholds})
        return out
    cu = int(U.sum())
    out["oIoU"] = float(int(I.sum()) / cu) if cu else 0.0
    out["mIoU"] = float(np.mean(iou))
    for t in thresholds:
        out[threshold_key(t)] = float(np.count_nonzero(iou >= float(t)) / E)
    return out

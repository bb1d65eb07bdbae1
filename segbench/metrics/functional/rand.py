"""Foreground-restricted Rand and information-theoretic scores (ISBI 2012 EM challenge, SNEMI3D).

Two label images are compared through their contingency table ``n_ij`` (pixels of ground-truth segment
``i`` and predicted segment ``j``), restricted to the ground truth's foreground (its label 0, the
membranes, is pruned out). Predicted label 0 (pixels the prediction puts on a boundary) is treated as
**singletons**, one segment per pixel, as in the challenge's Fiji code (``trainableSegmentation.metrics``,
Arganda-Carreras et al. 2015) and the SNEMI3D ``adapted_rand``; ``background="segment"`` treats it as
one ordinary segment instead (scikit-image's behaviour when label 0 is not relabelled).

With ``a_i = sum_j n_ij`` (ground truth), ``b_j = sum_i n_ij`` (prediction, ``j > 0``), ``z = sum_i n_i0``
(foreground pixels predicted as boundary) and ``n`` the foreground pixels:

- Rand (``normalization="n2"``, the Fiji ``foregroundRestrictedStatsN2``):
  ``P = (sum_ij n_ij^2 + z) / (sum_j b_j^2 + z)`` (merge score), ``R = (sum_ij n_ij^2 + z) / sum_i a_i^2``
  (split score), ``V_rand = 2PR / (P + R)``; ``normalization="pairs"`` counts pixel pairs instead,
  subtracting ``n`` from each sum (scikit-image's ``adapted_rand_error``).
- Information: ``H(T) = log n - sum_i a_i log a_i / n``, ``H(S) = log n - sum_j b_j log b_j / n`` (singletons
  add nothing), ``H(S, T) = log n - sum_ij n_ij log n_ij / n``, ``I = H(S) + H(T) - H(S, T)``;
  ``V_info = 2I / (H(S) + H(T))``, split ``I / H(S)``, merge ``I / H(T)`` (natural logarithms; the ratios do
  not depend on the base).

All the sums are per-image sufficient statistics; several images (the slices of a stack) are pooled by
adding them, i.e. scored as one image whose segments are the slices' segments.

References
----------
Arganda-Carreras et al., "Crowdsourcing the creation of image segmentation algorithms for connectomics",
Front. Neuroanat. 2015. scikit-image ``skimage.metrics.adapted_rand_error`` / ``variation_of_information``.

Examples
--------
>>> import numpy as np
>>> gt = np.array([[1, 1, 0, 2, 2]])
>>> pred = np.array([[1, 1, 0, 1, 1]])        # the two cells merged
>>> s = rand_info_stats(gt, pred)
>>> v = rand_info_scores(s)
>>> round(v["V_rand_split"], 6), round(v["V_rand_merge"], 6)
(1.0, 0.5)
"""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np

LN2 = math.log(2.0)

__all__ = ["label_components", "rand_info_stats", "rand_info_scores", "add_stats", "STAT_KEYS"]

#: The integer sums (exact) and the float ``x log x`` sums of :func:`rand_info_stats`.
STAT_KEYS = ("n", "sum_a2", "sum_b2", "sum_ab2", "z", "alog", "blog", "ablog")


def label_components(foreground: np.ndarray, connectivity: int = 1) -> np.ndarray:
    """Connected components of a boolean map: ``int32`` labels ``1..K``, 0 elsewhere.

    Parameters
    ----------
    foreground : ndarray of bool, shape (H, W)
    connectivity : {1, 2}
        1 = 4-neighbourhood (the ISBI Fiji code), 2 = 8-neighbourhood.
    """
    from scipy import ndimage as ndi
    structure = ndi.generate_binary_structure(2, int(connectivity))
    lab, _ = ndi.label(np.asarray(foreground, bool), structure=structure, output=np.int32)
    return lab


def _zero_stats() -> dict:
    """Statistics of no pixels: integer sums 0, ``x log x`` sums 0.0."""
    return {k: 0.0 if k.endswith("log") else 0 for k in STAT_KEYS}


def _xlogx(counts: np.ndarray) -> float:
    c = counts[counts > 1].astype(np.float64)
    return float(np.dot(c, np.log(c))) if c.size else 0.0


def rand_info_stats(gt_labels: np.ndarray, pred_labels: np.ndarray, background: str = "singletons") -> dict:
    """Sufficient statistics of one image: contingency sums over the ground truth's foreground.

    Parameters
    ----------
    gt_labels, pred_labels : ndarray of int, shape (H, W)
        Segment labels; ground-truth 0 is pruned out, predicted 0 handled per ``background``.
    background : {"singletons", "segment"}

    Returns
    -------
    dict
        ``n, sum_a2, sum_b2, sum_ab2, z`` (Python ints) and ``alog, blog, ablog`` (floats, ``sum x log x``
        of the GT sizes, predicted sizes and cell counts).
    """
    g = np.asarray(gt_labels).ravel()
    p = np.asarray(pred_labels).ravel()
    if g.shape != p.shape:
        raise ValueError(f"label images differ in size: {np.shape(gt_labels)} vs {np.shape(pred_labels)}")
    sel = g > 0
    g = g[sel].astype(np.int64)
    p = p[sel].astype(np.int64)
    n = int(g.size)
    if n == 0:
        return _zero_stats()
    if p.min() < 0:
        raise ValueError("predicted labels must be >= 0")
    width = int(p.max()) + 1
    cells, cnt = np.unique(g * width + p, return_counts=True)
    gi, pj = cells // width, cells % width
    a = np.bincount(gi, weights=cnt).astype(np.int64)
    a = a[a > 0]
    if background == "singletons":
        real = pj > 0
        z = int(cnt[~real].sum())
    elif background == "segment":
        real = np.ones(pj.size, bool)
        z = 0
    else:
        raise ValueError(f"background must be 'singletons' or 'segment', found {background!r}")
    cr = cnt[real].astype(np.int64)
    b = np.bincount(pj[real], weights=cr).astype(np.int64)
    b = b[b > 0]
    return {"n": n, "sum_a2": int(np.dot(a, a)), "sum_b2": int(np.dot(b, b)), "sum_ab2": int(np.dot(cr, cr)),
            "z": z, "alog": _xlogx(a), "blog": _xlogx(b), "ablog": _xlogx(cr)}


def add_stats(stats) -> dict:
    """Sum per-image statistics (in the given order)."""
    out = _zero_stats()
    for s in stats:
        for k in STAT_KEYS:
            out[k] += s[k]
    return out


def _ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def rand_info_scores(s: Mapping, normalization: str = "n2") -> dict:
    """``V_rand``, ``V_rand_split``, ``V_rand_merge``, ``V_info``, ``V_info_split``, ``V_info_merge`` (and
    ``rand_error = 1 - V_rand``; the conditional entropies ``H_gt_given_pred`` / ``H_pred_given_gt`` of
    the variation of information, in bits) from :func:`rand_info_stats` sums; NaN when undefined (no
    foreground).

    ``V_rand_merge`` is the Fiji code's Rand *precision* (over the predicted segment sizes) and
    ``V_rand_split`` its *recall* (over the ground truth's); scikit-image's ``adapted_rand_error`` names
    them the other way round (its ``precision`` divides by the true sizes) — the numbers agree.

    Parameters
    ----------
    s : mapping
        Statistics (one image or pooled with :func:`add_stats`).
    normalization : {"n2", "pairs"}
        ``n2``: sums of squared counts (Fiji, SNEMI3D); ``pairs``: pixel pairs (scikit-image).
    """
    n = s["n"]
    nan = float("nan")
    if n == 0:
        return {k: nan for k in ("V_rand", "V_rand_split", "V_rand_merge", "rand_error", "V_info", "V_info_split",
                                 "V_info_merge", "H_gt_given_pred", "H_pred_given_gt")}
    if normalization == "n2":
        off = 0
    elif normalization == "pairs":
        off = n
    else:
        raise ValueError(f"normalization must be 'n2' or 'pairs', found {normalization!r}")
    ab = s["sum_ab2"] + s["z"] - off
    merge = _ratio(ab, s["sum_b2"] + s["z"] - off)   # precision
    split = _ratio(ab, s["sum_a2"] - off)             # recall
    v_rand = _ratio(2.0 * merge * split, merge + split)
    log_n = math.log(n)
    h_t = log_n - s["alog"] / n
    h_s = log_n - s["blog"] / n
    h_st = log_n - s["ablog"] / n
    mi = h_s + h_t - h_st
    return {"V_rand": v_rand, "V_rand_split": split, "V_rand_merge": merge, "rand_error": 1.0 - v_rand,
            "V_info": _ratio(2.0 * mi, h_s + h_t), "V_info_split": _ratio(mi, h_s), "V_info_merge": _ratio(mi, h_t),
            "H_gt_given_pred": (h_st - h_s) / LN2, "H_pred_given_gt": (h_st - h_t) / LN2}

"""BSDS500 region benchmarks: segmentation covering, Probabilistic Rand Index, Variation of Information.

As the Berkeley ``bench`` computes them (``evaluation_reg_image.m``, ``match_segmentations.m``,
``match_segmentations2.m``, ``collect_eval_reg.m``) for a hierarchy of segmentations (a cell ``segs``
of label maps, or an ``ucm2`` cut at thresholds):

- **Covering** of the ground truth by a segmentation: for each GT region ``R`` (label >= 1 of every
  annotator) its best Jaccard overlap with a segment, weighted by its area:
  ``cntR = sum_R |R| max_S J(R, S)``, ``sumR = sum_R |R|`` (over all annotators). The Jaccard index
  counts all pixels, label 0 included (``|R ∪ S|`` uses the full-image row/column sums).
  ODS = ``max_t sum cntR / sum sumR``, OIS = per-image best threshold, Best = per-region best over
  thresholds.
- **PRI**: the Rand index averaged over the annotators,
  ``RI = 1 - (sum_i a_i^2 / 2 + sum_j b_j^2 / 2 - sum_ij n_ij^2) / C(N, 2)`` on the contingency table
  ``n`` (labels shifted to start at 1, label 0 counted as a label).
- **VoI**: ``H(S) + H(G) - 2 I(S; G)`` in bits, averaged over the annotators.
  ODS/OIS: best of the per-threshold image mean / mean of per-image bests (max for PRI, min for VoI).

References
----------
P. Arbeláez, M. Maire, C. Fowlkes, J. Malik, "Contour detection and hierarchical image segmentation",
TPAMI 33(5), 2011. M. Meila, "Comparing clusterings: an axiomatic view", ICML 2005 (VoI).

Examples
--------
>>> import numpy as np
>>> gt = np.array([[1, 1, 2, 2]] * 2)
>>> rand_index_voi(gt, gt)
(1.0, 0.0)
>>> round(covering_counts(np.array([[1, 1, 1, 1]] * 2), gt[None])[0] / 8, 4)
0.5
"""

from __future__ import annotations

import numpy as np

__all__ = ["contingency", "rand_index_voi", "covering_counts", "region_image_eval", "seg_to_boundaries",
           "ucm_to_segs", "region_summary"]


def contingency(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Contingency table ``n[i, j] = #{pixels with a == i and b == j}`` (int64) for non-negative
    integer label maps of the same shape."""
    a = np.asarray(a).ravel().astype(np.int64)
    b = np.asarray(b).ravel().astype(np.int64)
    if a.size != b.size:
        raise ValueError(f"label maps differ in size: {a.size} vs {b.size}")
    na = int(a.max()) + 1 if a.size else 1
    nb = int(b.max()) + 1 if b.size else 1
    return np.bincount(a * nb + b, minlength=na * nb).reshape(na, nb)


def _shift_to_one(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x).astype(np.int64)
    m = x.min() if x.size else 1
    return x - m + 1 if m < 1 else x


def rand_index_voi(seg: np.ndarray, gt: np.ndarray) -> tuple[float, float]:
    """Rand index and Variation of Information (bits) of two label maps (``compare_segmentations.m``).

    Labels are shifted so that the smallest is 1 when a map has labels < 1 (as the bench does), so
    label 0 counts as a label like any other.
    """
    n = contingency(_shift_to_one(seg), _shift_to_one(gt)).astype(np.float64)
    N = n.sum()
    nu = n.sum(1)
    nv = n.sum(0)
    c2 = N * (N - 1) / 2
    ri = 1.0 - ((nu * nu).sum() / 2 + (nv * nv).sum() / 2 - (n * n).sum()) / c2 if c2 > 0 else 1.0
    joint = n / N
    m1 = joint.sum(1)
    m2 = joint.sum(0)
    h1 = -np.sum(m1 * np.log2(m1 + (m1 == 0)))
    h2 = -np.sum(m2 * np.log2(m2 + (m2 == 0)))
    outer = m1[:, None] * m2[None, :]
    lq = np.log2((joint + (joint == 0) * outer + (outer == 0)) / (outer + (outer == 0)))
    mi = np.sum(joint * lq)
    return float(ri), float(h1 + h2 - 2 * mi)


def _jaccard_matches(seg: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """``match_segmentations.m`` for one annotator: Jaccard ``(max(seg), max(gt))`` of labels >= 1."""
    seg = np.asarray(seg).astype(np.int64)
    gt = np.asarray(gt).astype(np.int64)
    n = contingency(np.maximum(seg, 0), np.maximum(gt, 0)).astype(np.float64)
    ns, ng = int(max(seg.max(), 0)) + 1, int(max(gt.max(), 0)) + 1
    full = np.zeros((ns, ng))
    full[:n.shape[0], :n.shape[1]] = n
    rs = full.sum(1)[:, None]
    cs = full.sum(0)[None, :]
    den = rs + cs - full
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.where(den > 0, full / np.where(den > 0, den, 1), 0.0)
    return acc[1:, 1:]


def covering_counts(seg: np.ndarray, gts: np.ndarray) -> tuple[float, float, float, float, np.ndarray]:
    """Covering counts of one segmentation against K annotators (``evaluation_reg_image.m``).

    Parameters
    ----------
    seg : (H, W) int label map (labels >= 1 are segments)
    gts : (K, H, W) int GT label maps

    Returns
    -------
    cntR, sumR : float
        GT covered by the segmentation: ``sum |R| max_S J``, ``sum |R|`` over GT regions of all annotators.
    cntP, sumP : float
        The segmentation covered by the GT: ``sum |S| max_R J``, ``sum |S|``.
    matchesGT : (total GT regions,) float
        Best Jaccard of each GT region (for the Best covering over a hierarchy).
    """
    seg = np.asarray(seg)
    mats = [_jaccard_matches(seg, g) for g in gts]
    ns = int(max(seg.max(), 0))
    matches = np.concatenate([m for m in mats], axis=1) if mats else np.zeros((ns, 0))
    area_seg = np.bincount(np.maximum(seg.ravel(), 0).astype(np.int64), minlength=ns + 1)[1:ns + 1]
    areas_gt = np.concatenate([np.bincount(np.maximum(g.ravel(), 0).astype(np.int64),
                                           minlength=int(max(g.max(), 0)) + 1)[1:] for g in gts])
    mseg = matches.max(1) if matches.shape[1] else np.zeros(ns)
    mgt = matches.max(0) if matches.shape[0] else np.zeros(matches.shape[1])
    return (float((areas_gt * mgt).sum()), float(areas_gt.sum()),
            float((area_seg * mseg).sum()), float(area_seg.sum()), mgt)


def _ri_voi_from_table(n: np.ndarray) -> tuple[float, float]:
    n = n.astype(np.float64)
    N = n.sum()
    nu = n.sum(1)
    nv = n.sum(0)
    c2 = N * (N - 1) / 2
    ri = 1.0 - ((nu * nu).sum() / 2 + (nv * nv).sum() / 2 - (n * n).sum()) / c2 if c2 > 0 else 1.0
    nz = n[n > 0] / N
    pu = nu[nu > 0] / N
    pv = nv[nv > 0] / N
    # VoI = H(S) + H(G) - 2 I = 2 H(S, G) - H(S) - H(G)
    hj = -np.sum(nz * np.log2(nz))
    return float(ri), float(2 * hj + np.sum(pu * np.log2(pu)) + np.sum(pv * np.log2(pv)))


def _jaccard_from_table(n: np.ndarray) -> np.ndarray:
    full = n.astype(np.float64)
    den = full.sum(1)[:, None] + full.sum(0)[None, :] - full
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.where(den > 0, full / np.where(den > 0, den, 1), 0.0)
    return acc[1:, 1:]


def region_image_eval(segs, gts) -> dict:
    """Per-image region benchmark over a hierarchy ``segs`` (list of T label maps).

    One contingency table per (level, annotator) gives both the Jaccard overlaps (covering) and the
    Rand index / VoI.

    Returns
    -------
    dict of lists (length T) ``cntR sumR cntP sumP RI VOI`` plus ``cntR_best`` (float): the
    covering numerator with each GT region's best match over all levels.
    """
    gts = np.asarray(gts)
    if gts.ndim == 2:
        gts = gts[None]
    out = {k: [] for k in ("cntR", "sumR", "cntP", "sumP", "RI", "VOI")}
    gflat = []
    for g in gts:
        gf = g.ravel().astype(np.int64)
        if gf.size and gf.min() < 0:
            gf = gf - gf.min()
        gflat.append((gf, int(gf.max()) + 1 if gf.size else 1))
    areas_gt = np.concatenate([np.bincount(gf, minlength=ng)[1:] for gf, ng in gflat])
    best = None
    for s in segs:
        s = np.asarray(s)
        if s.shape != gts.shape[1:]:
            raise ValueError(f"segmentation shape {s.shape} differs from the ground truth {gts.shape[1:]}")
        sf = s.ravel().astype(np.int64)
        if sf.size and sf.min() < 0:
            sf = sf - sf.min()
        ns = int(sf.max()) + 1 if sf.size else 1
        mats = []
        ri = voi = 0.0
        for gf, ng in gflat:
            n = np.bincount(sf * ng + gf, minlength=ns * ng).reshape(ns, ng)
            mats.append(_jaccard_from_table(n))
            a, b = _ri_voi_from_table(n)
            ri += a
            voi += b
        matches = np.concatenate(mats, axis=1)
        area_seg = np.bincount(sf, minlength=ns)[1:]
        mseg = matches.max(1) if matches.shape[1] else np.zeros(ns - 1)
        mgt = matches.max(0) if matches.shape[0] else np.zeros(matches.shape[1])
        vals = (float((areas_gt * mgt).sum()), float(areas_gt.sum()), float((area_seg * mseg).sum()),
                float(area_seg.sum()), ri / len(gts), voi / len(gts))
        for k, v in zip(("cntR", "sumR", "cntP", "sumP", "RI", "VOI"), vals):
            out[k].append(v)
        best = mgt if best is None else np.maximum(best, mgt)
    out["cntR_best"] = float((areas_gt * best).sum()) if best is not None else 0.0
    return out


def seg_to_boundaries(seg: np.ndarray, thin: bool = True) -> np.ndarray:
    """Boundary map of a label map as BSDS's ``seg2bdry(seg, 'imageSize')``, thinned with
    ``bwmorph(..., 'thin', inf)`` when ``thin`` (the BSDS500 ``Boundaries`` fields are exactly this map
    of their ``Segmentation``).

    Pixel ``(i, j)`` is a boundary pixel when any of the four label changes inside the 2x2 block
    ``(i..i+1, j..j+1)`` occurs (right of ``(i, j)``, right of ``(i+1, j)``, below ``(i, j)``, below
    ``(i, j+1)``); the last row and column copy the previous ones (the bench's border replication).
    """
    s = np.asarray(seg)
    h, w = s.shape
    b = np.zeros((h, w), bool)
    if h < 2 or w < 2:
        if h >= 2:
            b[:-1, 0] = s[:-1, 0] != s[1:, 0]
            b[-1] = b[-2]
        elif w >= 2:
            b[0, :-1] = s[0, :-1] != s[0, 1:]
            b[:, -1] = b[:, -2]
        return b
    eh = s[:, :-1] != s[:, 1:]  # (h, w-1): change to the right
    ev = s[:-1, :] != s[1:, :]  # (h-1, w): change below
    b[:-1, :-1] = eh[:-1, :] | eh[1:, :] | ev[:, :-1] | ev[:, 1:]
    b[-1, :] = b[-2, :]
    b[:, -1] = b[:, -2]
    if thin:
        from .boundary import thin as _thin
        b = _thin(b)
    return b


def ucm_to_segs(ucm2: np.ndarray, thresholds) -> list:
    """Cut an ultrametric contour map at thresholds into label maps (``bwlabel(ucm <= t)`` with
    8-connectivity on the doubled grid, then ``labels(2:2:end, 2:2:end)``)."""
    from scipy import ndimage as ndi
    u = np.asarray(ucm2, float)
    out = []
    for t in thresholds:
        lab, _ = ndi.label(u <= t, structure=np.ones((3, 3), bool))
        out.append(lab[1::2, 1::2].astype(np.int32))
    return out


def region_summary(per_image: dict) -> dict:
    """Dataset numbers of ``collect_eval_reg.m`` from per-image results.

    Parameters
    ----------
    per_image : dict
        ``image id -> region_image_eval(...)`` output (all with the same number of levels).

    Returns
    -------
    dict
        ``SC_ODS SC_OIS SC_best PRI_ODS PRI_OIS VOI_ODS VOI_OIS`` (+ the per-level curves).
    """
    ids = sorted(per_image)
    if not ids:
        nan = float("nan")
        return {k: nan for k in ("SC_ODS", "SC_OIS", "SC_best", "PRI_ODS", "PRI_OIS", "VOI_ODS", "VOI_OIS")}
    T = min(len(per_image[i]["cntR"]) for i in ids)
    cR = np.zeros(T); sR = np.zeros(T); ri = np.zeros(T); voi = np.zeros(T)
    cR_max = sR_max = cR_best = sR_best = 0.0
    ri_max = voi_min = 0.0
    for i in ids:
        d = per_image[i]
        a = np.asarray(d["cntR"][:T], float); b = np.asarray(d["sumR"][:T], float)
        r = a / (b + (b == 0))
        k = int(np.argmax(r))
        cR += a; sR += b
        cR_max += a[k]; sR_max += b[k]
        cR_best += float(d["cntR_best"]); sR_best += b[0]
        x = np.asarray(d["RI"][:T], float); y = np.asarray(d["VOI"][:T], float)
        ri += x; voi += y
        ri_max += x.max(); voi_min += y.min()
    n = len(ids)
    R = cR / (sR + (sR == 0))
    return {"SC_ODS": float(R.max()), "SC_OIS": float(cR_max / (sR_max + (sR_max == 0))),
            "SC_best": float(cR_best / (sR_best + (sR_best == 0))),
            "PRI_ODS": float((ri / n).max()), "PRI_OIS": float(ri_max / n),
            "VOI_ODS": float((voi / n).min()), "VOI_OIS": float(voi_min / n),
            "SC_curve": R.tolist(), "PRI_curve": (ri / n).tolist(), "VOI_curve": (voi / n).tolist()}

"""Pure numpy maths of the semantic-segmentation family: confusion matrix, IoU and friends, and
Cityscapes' instance-weighted iIoU and category-level scores.

Conventions
-----------
- ``gt`` and ``pred`` are ``(H, W)`` (any shape, really) integer arrays of *train ids* ``0..C-1``.
- ``gt == ignore_index`` pixels are not scored at all (they are not in the matrix).
- ``pred == ignore_index`` is a *void* prediction: it is wrong for the pixel's GT class (a false
  negative of that class) and a false positive of no class. cityscapesScripts does the same (a
  prediction with an ignored label id counts in the GT row, in no evaluated column). These counts are
  kept apart in a ``void`` vector of length ``C`` next to the ``(C, C)`` matrix.
- Any other value outside ``0..C-1`` is a :class:`ValueError` here (the readers in
  :mod:`segbench.io.labels` turn it into a :class:`~segbench.errors.BadInputError` that names the file,
  the values and their pixel counts before it gets here).

A class absent from both GT and prediction has ``tp + fp + fn = 0``: its IoU, Dice (and, as 0/0,
Acc / precision) are NaN and it is left out of the means (``np.nanmean``). A class absent from the GT
but predicted somewhere gets IoU 0 and counts in mIoU (as in cityscapesScripts and mmseg).

Speed: the counting is one ``np.bincount`` over the combined index ``gt * K + pred``; label maps have
long runs of equal pixels, so the combined index is run-length encoded first when that makes the
array at least 3× shorter (runs are counted with their lengths as weights, exact below 2**53).

Many classes: a dense int64 matrix costs ``C² × 8`` bytes (32 GiB for ``C = 65535``). When that
exceeds :data:`SPARSE_MATRIX_BYTES` (64 MiB, ``C > 2896``) the counts are kept *keyed*
(:class:`KeyedConfusion`): the sorted distinct pair keys ``gt * C + pred`` (int64) that occur, with
their int64 pixel counts — ``O(nnz)`` memory, where ``nnz`` is the number of distinct (GT, prediction)
pairs seen. Keyed states merge by adding the counts of equal keys (:func:`merge_keyed`; canonical, so
any shard split gives the same arrays), and every score needs only the diagonal, the row sums and
the column sums (:func:`scores_from_sums`), so the keyed and dense paths give the same bits.

References
----------
M. Cordts et al., "The Cityscapes Dataset for Semantic Urban Scene Understanding", CVPR 2016
(IoU, iIoU, category scores); cityscapesScripts ``evaluation/evalPixelLevelSemanticLabeling.py``.
J. Long et al., "Fully Convolutional Networks for Semantic Segmentation", CVPR 2015 (pixel acc.,
mean acc., mean IoU, frequency-weighted IoU).

Examples
--------
>>> import numpy as np
>>> gt = np.array([[0, 0, 1, 1], [2, 2, 255, 1]], np.uint8)
>>> pr = np.array([[0, 1, 1, 1], [2, 255, 0, 1]], np.uint8)
>>> cm, void = confusion_matrix(gt, pr, 3, return_void=True)
>>> cm.tolist(), void.tolist()
([[1, 1, 0], [0, 3, 0], [0, 0, 1]], [0, 0, 1])
>>> s = scores_from_confusion(cm, void)
>>> s["IoU"].round(4).tolist(), round(s["mIoU"], 4), round(s["aAcc"], 4)
([0.5, 0.75, 0.5], 0.5833, 0.7143)
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np

__all__ = [
    "confusion_matrix", "scores_from_confusion", "pair_histogram", "category_scores",
    "instance_records", "instance_iou", "confusion_and_instances", "fold_histogram", "INSTANCE_MIN_ID",
    "KeyedConfusion", "keyed_confusion", "keyed_confusion_and_instances", "merge_keyed", "use_keyed",
    "SPARSE_MATRIX_BYTES", "scores_from_sums",
]

#: cityscapesScripts only counts pixels whose instance id is ``> 1000`` as instances
#: (``instanceNp[instanceNp > 1000]``); ids are ``class_id * 1000 + k``.
INSTANCE_MIN_ID = 1000

_DENSE_MAX_BINS = 1 << 24
#: Largest dense confusion matrix :func:`confusion_matrix` accepts (2 GiB: about 16,000 classes).
_MAX_MATRIX_BYTES = 1 << 31

#: Above this many bytes for a dense ``(C, C)`` int64 matrix (``C² × 8``; 64 MiB = about 2,900
#: classes) the run's state is a :class:`KeyedConfusion` (sorted pair keys + counts) instead; see
#: :func:`use_keyed`. Module attribute, read at call time (tests lower it to force the keyed path).
SPARSE_MATRIX_BYTES = 64 << 20


def _count(key: np.ndarray, nbins: int) -> np.ndarray:
    """``np.bincount(key, minlength=nbins)`` as int64, run-length encoded when worthwhile."""
    key = key.ravel()
    n = key.size
    if n == 0:
        return np.zeros(nbins, np.int64)
    if n > 4096:
        change = np.flatnonzero(key[1:] != key[:-1])
        if 3 * change.size < n:
            starts = np.empty(change.size + 1, np.intp)
            starts[0] = 0
            np.add(change, 1, out=starts[1:])
            lens = np.diff(starts, append=n)
            cnt = np.bincount(key[starts], weights=lens, minlength=nbins)
            return cnt.astype(np.int64)
    return np.bincount(key, minlength=nbins).astype(np.int64, copy=False)


def pair_histogram(a: np.ndarray, b: np.ndarray, na: int, nb: int) -> np.ndarray:
    """Joint histogram ``H[i, j] = #{a == i and b == j}`` of two non-negative integer arrays.

    Parameters
    ----------
    a, b : ndarray of int, same shape, values in ``0..na-1`` and ``0..nb-1``
    na, nb : int

    Returns
    -------
    ndarray of int64, shape (na, nb)
    """
    nbins = na * nb
    if nbins <= _DENSE_MAX_BINS:
        if a.dtype == np.uint8 and b.dtype == np.uint8 and nb == 256:
            key = a.astype(np.uint16)
            key <<= 8
            key |= b
        else:
            kt = np.uint32 if nbins <= (1 << 32) else np.int64
            key = a.astype(kt) * kt(nb)
            key += b.astype(kt, copy=False)
        return _count(key, nbins).reshape(na, nb)
    # sparse: few distinct pairs, huge space
    key = a.astype(np.int64).ravel() * nb + b.astype(np.int64).ravel()
    vals, cnt = np.unique(key, return_counts=True)
    out = np.zeros((na, nb), np.int64)
    out[vals // nb, vals % nb] = cnt
    return out


def _check_pair(gt, pred, num_classes) -> tuple[np.ndarray, np.ndarray, int]:
    """``(gt, pred, C)`` as arrays and int, after the checks every confusion builder needs: same shape,
    ``1 <= C <= 65535``."""
    gt = np.asarray(gt)
    pred = np.asarray(pred)
    if gt.shape != pred.shape:
        raise ValueError(f"gt and pred shapes differ: {gt.shape} vs {pred.shape}")
    C = int(num_classes)
    if not 1 <= C <= 65535:
        raise ValueError(f"num_classes must be in 1..65535, got {C}")
    return gt, pred, C


def confusion_matrix(gt: np.ndarray, pred: np.ndarray, num_classes: int, ignore_index: int = 255,
                     return_void: bool = False, void_values: Sequence[int] = (), split_void: bool = False):
    """Confusion matrix of one pair (or a batch) of label maps.

    ``cm[i, j]`` = number of pixels with GT class ``i`` predicted as class ``j``. GT pixels equal to
    ``ignore_index`` are skipped; predictions equal to ``ignore_index`` are *void* (wrong for the GT
    class, a false positive of no class) and are counted in ``void[i]``.

    Parameters
    ----------
    gt, pred : ndarray of int (uint8, uint16, int32, int64...), same shape
        Train ids ``0..C-1`` or ``ignore_index``.
    num_classes : int
        ``C`` (label values may use the whole uint16 range; the matrix is dense, ``C²×8`` bytes, so
        ``C`` is limited to about 16,000 classes = 2 GiB; :func:`keyed_confusion` takes any ``C`` up
        to 65535 in ``O(nnz)`` memory).
    ignore_index : int, default 255
    return_void : bool, default False
        Also return the void vector.
    void_values : sequence of int, optional
        Further prediction values (outside ``0..C-1``) that count as void like ``ignore_index`` (e.g.
        codes for "ignored label of category K", see :func:`instance_records`).
    split_void : bool, default False
        Return the void counts per void value: shape ``(C, 1 + len(void_values))``, column 0 for
        ``ignore_index`` and then the (sorted, distinct) ``void_values``.

    Returns
    -------
    cm : ndarray of int64, shape (C, C)
    void : ndarray of int64, shape (C,)
        Only when ``return_void``.

    Raises
    ------
    ValueError
        Shapes differ, or a value outside ``0..C-1`` that is not ``ignore_index``.

    Examples
    --------
    >>> import numpy as np
    >>> confusion_matrix(np.array([0, 1, 1, 255]), np.array([0, 1, 0, 1]), 2).tolist()
    [[1, 0], [1, 1]]
    """
    gt, pred, C = _check_pair(gt, pred, num_classes)
    if C * C * 8 > _MAX_MATRIX_BYTES:
        raise ValueError(f"a dense {C}x{C} int64 confusion matrix needs {C * C * 8 / 2 ** 30:.1f} GiB; "
                         f"use keyed_confusion() for more than {int((_MAX_MATRIX_BYTES / 8) ** 0.5)} classes")
    if gt.dtype.kind not in "iub" or pred.dtype.kind not in "iub":
        raise ValueError(f"label maps must be integer arrays, got {gt.dtype} and {pred.dtype}")
    ig = int(ignore_index)
    if 0 <= ig < C:
        raise ValueError(f"ignore_index {ig} is also a class id (0..{C - 1}); use an ignore index >= C "
                         f"(e.g. 65535 for more than 255 classes)")
    vv = sorted({int(v) for v in void_values if int(v) != ig and not 0 <= int(v) < C})
    if gt.size == 0:
        cm = np.zeros((C, C), np.int64)
        vz = np.zeros((C, 1 + len(vv)), np.int64) if split_void else np.zeros(C, np.int64)
        return (cm, vz) if return_void else cm

    if gt.dtype == np.uint8 and pred.dtype == np.uint8 and C <= 256 and 0 <= ig < 256:
        K = 256  # fast path: no range scan, no masking; everything outside 0..C-1 lands in the border
        full = pair_histogram(gt, pred, 256, 256)
    else:
        gmin, gmax = int(gt.min()), int(gt.max())
        pmin, pmax = int(pred.min()), int(pred.max())
        K = max(C, gmax + 1, pmax + 1, (ig + 1) if ig >= 0 else 0)
        if min(gmin, pmin) < 0 or K * K > _DENSE_MAX_BINS:
            # remap to 0..C (C = void / ignore) on the valid pixels only
            valid = gt != ig
            g = gt[valid]
            p = pred[valid]
            bad_g = (g < 0) | (g >= C)
            if bad_g.any():
                raise ValueError(_bad_values("gt", g[bad_g], C, ig))
            isvoid = (p == ig) | np.isin(p, vv) if vv else p == ig
            bad_p = ((p < 0) | (p >= C)) & ~isvoid
            if bad_p.any():
                raise ValueError(_bad_values("pred", p[bad_p], C, ig))
            p = p.astype(np.int64)
            p[p == ig] = C
            for i, v in enumerate(vv):
                p[p == v] = C + 1 + i
            full = pair_histogram(g, p, C, C + 1 + len(vv))
            cm = np.ascontiguousarray(full[:, :C])
            vcols = np.ascontiguousarray(full[:, C:])
            void = vcols if split_void else vcols.sum(1)
            return (cm, void) if return_void else cm
        full = pair_histogram(gt, pred, K, K)

    cm, void = _finish_full(full, C, ig, K, vv)
    if return_void:
        return cm, (void if split_void else void.sum(1))
    return cm


def _finish_full(full: np.ndarray, C: int, ig: int, K: int, void_values=()):
    """Identity-table :func:`fold_histogram` of a ``(K, K)`` histogram of train ids."""
    return fold_histogram(full, C, ig, None, None, void_values)


def fold_histogram(full: np.ndarray, num_classes: int, ignore_index: int = 255, gt_lut: np.ndarray | None = None,
                   pred_lut: np.ndarray | None = None, void_values: Sequence[int] = ()):
    """Fold a joint histogram of *stored* values into the train-id confusion matrix.

    ``full[a, b]`` counts pixels whose stored GT value is ``a`` and stored prediction value is ``b``.
    ``gt_lut[a]`` / ``pred_lut[b]`` give their train ids (``ignore_index`` = ignore / void, ``-1`` =
    value not allowed); None = the values are train ids already. Because the mapping is applied to the
    small histogram instead of every pixel, reading a native-id label map costs no per-pixel lookup.

    Parameters
    ----------
    full : ndarray (R, K) int64
    num_classes : int
    ignore_index : int
    gt_lut, pred_lut : ndarray of int, optional
    void_values : sequence of int
        Further void codes (see :func:`confusion_matrix`).

    Returns
    -------
    cm : ndarray (C, C) int64
    void : ndarray (C, 1 + len(void_values)) int64
        Column 0: predictions equal to ``ignore_index``; then one column per void value.

    Raises
    ------
    ValueError
        Stored values that are not allowed (message lists the stored values and pixel counts).
    """
    C, ig = int(num_classes), int(ignore_index)
    vv = sorted({int(v) for v in void_values if int(v) != ig and not 0 <= int(v) < C})
    R, K = full.shape
    rt = np.arange(R, dtype=np.int64) if gt_lut is None else _pad_lut(gt_lut, R)
    ct = np.arange(K, dtype=np.int64) if pred_lut is None else _pad_lut(pred_lut, K)
    row_ok = ((rt >= 0) & (rt < C)) | (rt == ig)
    col_ok = ((ct >= 0) & (ct < C)) | (ct == ig)
    for v in vv:
        col_ok |= ct == v
    rows = full.sum(1)
    bad = np.flatnonzero((rows > 0) & ~row_ok)
    if bad.size:
        raise ValueError(_bad_msg("gt", bad, rows[bad], C, ig, gt_lut is not None))
    cols = full.sum(0)
    bad = np.flatnonzero((cols > 0) & ~col_ok)
    if bad.size:
        raise ValueError(_bad_msg("pred", bad, cols[bad], C, ig, pred_lut is not None))
    if gt_lut is None and pred_lut is None and R >= C and K >= C:
        cm = np.ascontiguousarray(full[:C, :C])
        vcols = np.zeros((C, 1 + len(vv)), np.int64)
        for i, v in enumerate([ig] + vv):
            if 0 <= v < K:
                vcols[:, i] = full[:C, v]
        return cm, vcols
    r, c = np.nonzero(full)
    n = full[r, c]
    tr, tc = rt[r], ct[c]
    keep = (tr >= 0) & (tr < C)
    tr, tc, n = tr[keep], tc[keep], n[keep]
    cm = np.zeros((C, C), np.int64)
    isc = (tc >= 0) & (tc < C)
    np.add.at(cm, (tr[isc], tc[isc]), n[isc])
    vcols = np.zeros((C, 1 + len(vv)), np.int64)
    for i, v in enumerate([ig] + vv):
        sel = tc == v
        if sel.any():
            np.add.at(vcols[:, i], tr[sel], n[sel])
    return cm, vcols


def _pad_lut(lut, size: int) -> np.ndarray:
    lut = np.asarray(lut, np.int64)
    if lut.size >= size:
        return lut[:size]
    return np.concatenate([lut, np.full(size - lut.size, -1, np.int64)])


def _bad_msg(what: str, vals, counts, C: int, ig: int, native: bool) -> str:
    listed = ", ".join(f"{int(v)} ({int(c)} px)" for v, c in zip(vals[:10], counts[:10]))
    if len(vals) > 10:
        listed += f", +{len(vals) - 10} more"
    if native:
        return f"{what} has values outside the label table: {listed}"
    return f"{what} has values outside 0..{C - 1} (ignore {ig}): {listed}"


def _bad_values(what: str, vals: np.ndarray, C: int, ig: int) -> str:
    u, c = np.unique(vals, return_counts=True)
    listed = ", ".join(f"{int(a)} ({int(b)} px)" for a, b in zip(u[:10], c[:10]))
    return f"{what} has values outside 0..{C - 1} (ignore {ig}): {listed}"


def _div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num = np.asarray(num, np.float64)
    den = np.asarray(den, np.float64)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _nanmean(x: np.ndarray) -> float:
    x = np.asarray(x, np.float64)
    ok = ~np.isnan(x)
    return float(x[ok].sum() / ok.sum()) if ok.any() else float("nan")


def scores_from_confusion(cm, void: np.ndarray | None = None) -> dict:
    """Per-class and summary scores from a confusion matrix.

    With ``tp = cm[c, c]``, ``gt_c = Σ_j cm[c, j] + void[c]``, ``pred_c = Σ_i cm[i, c]``,
    ``fn = gt_c - tp``, ``fp = pred_c - tp``:

    - ``IoU = tp / (tp + fp + fn)``, ``Dice = 2 tp / (2 tp + fp + fn)``,
      ``Acc = recall = tp / gt_c``, ``precision = tp / pred_c``;
    - ``mIoU``, ``mAcc``, ``mDice``: means over classes whose score is defined (not NaN);
    - ``aAcc = Σ tp / Σ gt_c`` (overall pixel accuracy; void predictions are wrong);
    - ``fwIoU = Σ_c (gt_c / Σ gt) · IoU_c`` over classes present in the GT (Long et al. 2015).

    0/0 gives NaN: a class absent from both GT and prediction has NaN IoU/Dice and is left out of
    the means; a class absent from the GT has NaN Acc/recall; a class never predicted has NaN
    precision.

    Only the diagonal, the row sums and the column sums are used (:func:`scores_from_sums`), so a
    :class:`KeyedConfusion` (many classes) gives exactly the same numbers as its dense matrix, in
    ``O(nnz + C)``.

    Parameters
    ----------
    cm : ndarray of int, shape (C, C), or KeyedConfusion
    void : ndarray of int, shape (C,), optional
        Pixels of each GT class predicted as void.

    Returns
    -------
    dict
        ``IoU, Acc, Dice, precision, recall`` (ndarray (C,) float64), ``tp, fp, fn`` (int64 (C,)),
        ``mIoU, mAcc, aAcc, fwIoU, mDice`` (float).

    Examples
    --------
    >>> import numpy as np
    >>> s = scores_from_confusion(np.array([[3, 1], [0, 0]]))
    >>> s["IoU"].tolist(), s["mIoU"], s["Acc"].tolist()
    ([0.75, 0.0], 0.375, [0.75, nan])
    >>> k = KeyedConfusion.from_dense(np.array([[3, 1], [0, 0]]))
    >>> scores_from_confusion(k)["IoU"].tolist()
    [0.75, 0.0]
    """
    if isinstance(cm, KeyedConfusion):
        C = cm.num_classes
        tp, rows, cols = cm.diagonal(), cm.row_sums(), cm.col_sums()
    else:
        cm = np.asarray(cm, np.int64)
        C = cm.shape[0]
        tp = np.diagonal(cm).copy()
        rows, cols = cm.sum(1), cm.sum(0)
    void = np.zeros(C, np.int64) if void is None else np.asarray(void, np.int64)
    return scores_from_sums(tp, rows + void, cols)


def scores_from_sums(tp: np.ndarray, gt_c: np.ndarray, pred_c: np.ndarray) -> dict:
    """The scores of :func:`scores_from_confusion` from the diagonal and the marginals.

    Parameters
    ----------
    tp : ndarray of int64, shape (C,)
        Diagonal of the confusion matrix.
    gt_c : ndarray of int64, shape (C,)
        Row sums plus void predictions (all scored GT pixels of each class).
    pred_c : ndarray of int64, shape (C,)
        Column sums (pixels predicted as each class).

    Returns
    -------
    dict
        As :func:`scores_from_confusion`.

    Examples
    --------
    >>> import numpy as np
    >>> round(scores_from_sums(np.array([3, 0]), np.array([4, 0]), np.array([3, 1]))["mIoU"], 3)
    0.375
    """
    tp = np.asarray(tp, np.int64)
    gt_c = np.asarray(gt_c, np.int64)
    pred_c = np.asarray(pred_c, np.int64)
    fn = gt_c - tp
    fp = pred_c - tp
    iou = _div(tp, tp + fp + fn)
    dice = _div(2 * tp, 2 * tp + fp + fn)
    acc = _div(tp, gt_c)
    prec = _div(tp, pred_c)
    total = int(gt_c.sum())
    aacc = float(tp.sum() / total) if total else float("nan")
    present = gt_c > 0
    if total:
        fw = float((gt_c[present] * np.nan_to_num(iou[present])).sum() / total)
    else:
        fw = float("nan")
    return {"IoU": iou, "Acc": acc, "Dice": dice, "precision": prec, "recall": acc.copy(),
            "tp": tp, "fp": fp, "fn": fn,
            "mIoU": _nanmean(iou), "mAcc": _nanmean(acc), "aAcc": aacc, "fwIoU": fw, "mDice": _nanmean(dice)}


def category_scores(cm, void: np.ndarray | None, class_category: Sequence[int],
                    num_categories: int) -> np.ndarray:
    """Category-level IoU (Cityscapes' 7 categories) from the class confusion matrix.

    For category ``K`` with evaluated classes ``S``: ``tp = Σ_{i,j∈S} cm[i, j]``,
    ``fn = Σ_{i∈S} gt_i - tp`` (void predictions included), ``fp = Σ_{i∉S, j∈S} cm[i, j]``;
    ``IoU_K = tp / (tp + fp + fn)`` (NaN for 0/0 or a category without evaluated classes). This is
    cityscapesScripts' ``getIouScoreForCategory``.

    Parameters
    ----------
    cm : ndarray (C, C), or KeyedConfusion
    void : ndarray (C,) or None
    class_category : sequence of int, length C
        Category index of each class (``-1`` = none).
    num_categories : int

    Returns
    -------
    ndarray of float64, shape (num_categories,)
    """
    keyed = isinstance(cm, KeyedConfusion)
    cm = cm if keyed else np.asarray(cm, np.int64)
    C = cm.num_classes if keyed else cm.shape[0]
    void = np.zeros(C, np.int64) if void is None else np.asarray(void, np.int64)
    cat = np.asarray(class_category, np.int64)
    out = np.full(num_categories, np.nan)
    rows = (cm.row_sums() if keyed else cm.sum(1)) + void
    for k in range(num_categories):
        s = cat == k
        if not s.any():
            continue
        tp = cm.block_sum(s, s) if keyed else int(cm[np.ix_(s, s)].sum())
        fn = int(rows[s].sum()) - tp
        fp = cm.block_sum(~s, s) if keyed else int(cm[np.ix_(~s, s)].sum())
        den = tp + fp + fn
        out[k] = tp / den if den else np.nan
    return out


def instance_records(pred: np.ndarray, instance_ids: np.ndarray, class_lut: np.ndarray,
                     class_category: Sequence[int] | None = None, ignore_index: int = 255,
                     min_id: int = INSTANCE_MIN_ID, void_category: Mapping[int, int] | None = None) -> np.ndarray:
    """Per-instance pixel counts for the instance-weighted iIoU (cityscapesScripts' ``evaluatePair``).

    An instance is a distinct value ``v > min_id`` of ``instance_ids`` whose class
    ``class_lut[v // 1000]`` is an evaluated train id (not ``ignore_index``). For each instance:
    ``size`` (pixels), ``tp`` (pixels predicted as its class) and ``cat_tp`` (pixels predicted as any
    class of its category; equals ``tp`` when ``class_category`` is None).

    Parameters
    ----------
    pred : ndarray of int, shape (H, W)
        Predicted train ids (``ignore_index`` = void).
    instance_ids : ndarray of int, shape (H, W)
        ``native_class_id * 1000 + k`` for instance pixels, anything ``<= min_id`` elsewhere.
    class_lut : ndarray of int
        Native class id → train id (``ignore_index`` when not evaluated).
    class_category : sequence of int, optional
        Category index of each train id (``-1`` for none).
    ignore_index : int
    min_id : int, default 1000
    void_category : dict of int to int, optional
        Void prediction codes that still belong to a category (code → category index):
        cityscapesScripts counts a vehicle pixel predicted as ``caravan`` / ``trailer`` (ignored labels
        of the vehicle category) as a category hit in the category iIoU.

    Returns
    -------
    ndarray of int64, shape (N, 4)
        Rows ``(train_id, size, tp, cat_tp)``, sorted by instance id.
    """
    inst = np.asarray(instance_ids)
    pred = np.asarray(pred)
    if inst.shape != pred.shape:
        raise ValueError(f"instance_ids and pred shapes differ: {inst.shape} vs {pred.shape}")
    starts, lens = _runs(inst.ravel(), pred.ravel())
    if starts is None:
        iv, pv, w = inst.ravel(), pred.ravel(), None
    else:
        iv, pv, w = inst.ravel()[starts], pred.ravel()[starts], lens
    return _instance_records_weighted(iv, pv, w, class_lut, class_category, ignore_index, min_id, void_category)


def _runs(*keys: np.ndarray):
    """Starts and lengths of the runs over which every 1-D key is constant, or ``(None, None)`` when
    runs would not make the arrays at least 3x shorter (or the input is small)."""
    n = keys[0].size
    if n <= 4096:
        return None, None
    change = keys[0][1:] != keys[0][:-1]
    for k in keys[1:]:
        change |= k[1:] != k[:-1]
    idx = np.flatnonzero(change)
    if 3 * idx.size >= n:
        return None, None
    starts = np.empty(idx.size + 1, np.intp)
    starts[0] = 0
    np.add(idx, 1, out=starts[1:])
    return starts, np.diff(starts, append=n)


def _instance_records_weighted(iv, pv, w, class_lut, class_category, ignore_index, min_id, void_category):
    """:func:`instance_records` on (instance id, prediction) samples with pixel weights ``w``
    (run lengths; None = 1 each)."""
    m = iv > min_id
    if not m.any():
        return np.zeros((0, 4), np.int64)
    iv = iv[m].astype(np.int64, copy=False)
    pv = pv[m].astype(np.int64, copy=False)
    w = None if w is None else w[m]
    lut = np.asarray(class_lut, np.int64)
    cls_native = iv // 1000
    cls = np.where(cls_native >= lut.size, ignore_index, lut[np.minimum(cls_native, lut.size - 1)])
    keep = cls != ignore_index
    if not keep.all():
        iv, pv, cls = iv[keep], pv[keep], cls[keep]
        w = None if w is None else w[keep]
    if iv.size == 0:
        return np.zeros((0, 4), np.int64)
    correct = pv == cls
    if class_category is None:
        catok = correct
    else:
        cc = np.asarray(class_category, np.int64)
        catlut = np.full(max(int(pv.max()), cc.size - 1) + 1, -2, np.int64)
        catlut[:cc.size] = cc
        for code, k in (void_category or {}).items():
            if cc.size <= int(code) < catlut.size:
                catlut[int(code)] = int(k)
        pc = catlut[np.maximum(pv, 0)]
        pc[pv < 0] = -2
        ccls = cc[cls]
        catok = ((pc == ccls) & (ccls >= 0)) | correct
    # aggregate by instance id: code = 4*id + 2*catok + correct
    lo = int(iv.min())
    span = int(iv.max()) - lo + 1
    code = (iv - lo) * 4 + catok.astype(np.int64) * 2 + correct.astype(np.int64)
    if span * 4 <= _DENSE_MAX_BINS:
        h = np.bincount(code, weights=w, minlength=span * 4)
        h = np.rint(h).astype(np.int64).reshape(span, 4) if w is not None else h.reshape(span, 4)
        ids = np.flatnonzero(h.sum(1))
        h = h[ids]
    else:
        vals, inv0 = np.unique(code, return_inverse=True)
        cnt = np.bincount(inv0, weights=w)
        cnt = np.rint(cnt).astype(np.int64) if w is not None else cnt.astype(np.int64)
        uid, inv = np.unique(vals // 4, return_inverse=True)
        h = np.zeros((uid.size, 4), np.int64)
        np.add.at(h, (inv, vals % 4), cnt)
        ids = uid
        lo = 0
    size = h.sum(1)
    tp = h[:, 1] + h[:, 3]
    cat_tp = h[:, 2] + h[:, 3]
    inst_cls = lut[np.minimum((ids + lo) // 1000, lut.size - 1)]
    return np.stack([inst_cls, size, tp, cat_tp], axis=1).astype(np.int64)


def confusion_and_instances(gt: np.ndarray, pred: np.ndarray, instance_ids: np.ndarray | None, num_classes: int,
                            ignore_index: int, class_lut: np.ndarray | None = None, class_category=None,
                            void_values: Sequence[int] = (), void_category: Mapping[int, int] | None = None,
                            min_id: int = INSTANCE_MIN_ID, gt_lut: np.ndarray | None = None,
                            pred_lut: np.ndarray | None = None):
    """:func:`confusion_matrix` (``return_void=True, split_void=True``) and :func:`instance_records` of
    one image in one pass: the runs over which GT, prediction and instance id are all constant are
    found once and both histograms are built from them (label maps are mostly long runs).

    ``gt`` and ``pred`` may hold *stored* values (e.g. Cityscapes label ids) with ``gt_lut`` /
    ``pred_lut`` mapping them to train ids (``-1`` = not allowed); the mapping is applied to the
    histogram and to the runs, never per pixel (see :func:`fold_histogram`). Without
    ``instance_ids`` (None) only the matrix is computed and ``records`` is None.

    Returns
    -------
    cm : ndarray (C, C) int64
    void : ndarray (C, 1 + len(void_values)) int64
    records : ndarray (N, 4) int64, or None
    """
    gt = np.asarray(gt)
    pred = np.asarray(pred)
    inst = None if instance_ids is None else np.asarray(instance_ids)
    C = int(num_classes)
    ig = int(ignore_index)
    if gt.shape != pred.shape:
        raise ValueError(f"gt and pred shapes differ: {gt.shape} vs {pred.shape}")
    if inst is not None and inst.shape != gt.shape:
        raise ValueError(f"instance_ids and gt shapes differ: {inst.shape} vs {gt.shape}")
    if 0 <= ig < C:
        raise ValueError(f"ignore_index {ig} is also a class id (0..{C - 1}); use an ignore index >= C")
    if gt.dtype == np.uint8 and pred.dtype == np.uint8 and C <= 256 and 0 <= ig < 256:
        key = gt.ravel().astype(np.uint16)
        key <<= 8
        key |= pred.ravel()
        if inst is None:
            full = _count(key, 65536).reshape(256, 256)
            cm, void = fold_histogram(full, C, ig, gt_lut, pred_lut, void_values)
            return cm, void, None
        ifl = inst.ravel()
        starts, lens = _runs(key, ifl)
        if starts is None:
            full = np.bincount(key, minlength=65536).astype(np.int64).reshape(256, 256)
            iv, pv, w = ifl, pred.ravel(), None
        else:
            full = np.bincount(key[starts], weights=lens, minlength=65536).astype(np.int64).reshape(256, 256)
            iv, pv, w = ifl[starts], pred.ravel()[starts], lens
        cm, void = fold_histogram(full, C, ig, gt_lut, pred_lut, void_values)
        if pred_lut is not None:
            pv = _pad_lut(pred_lut, 256)[pv]
        rec = _instance_records_weighted(iv, pv, w, class_lut, class_category, ig, min_id, void_category)
        return cm, void, rec
    # general path: map stored values to train ids per pixel, then the plain functions
    if gt_lut is not None:
        gt = _apply_checked(gt, gt_lut, "gt")
    if pred_lut is not None:
        pred = _apply_checked(pred, pred_lut, "pred")
    cm, void = confusion_matrix(gt, pred, C, ig, return_void=True, void_values=void_values, split_void=True)
    rec = None
    if inst is not None:
        rec = instance_records(pred, inst, class_lut, class_category, ig, min_id, void_category)
    return cm, void, rec


def _apply_checked(a: np.ndarray, lut, what: str) -> np.ndarray:
    lut = np.asarray(lut, np.int64)
    a = np.asarray(a)
    inside = (a >= 0) & (a < lut.size)
    out = np.full(a.shape, -1, np.int64)
    out[inside] = lut[a[inside]]
    bad = out < 0
    if bad.any():
        u, c = np.unique(a[bad], return_counts=True)
        raise ValueError(_bad_msg(what, u, c, 0, 0, True))
    return out


def instance_iou(records: np.ndarray, cm, void: np.ndarray | None,
                 avg_size: Sequence[float], class_category: Sequence[int] | None = None,
                 num_categories: int = 0, instance_categories: Sequence[int] = (),
                 category_void_fp: Sequence[int] | None = None) -> dict:
    """Cityscapes iIoU per class and per category from instance records and the confusion matrix.

    Each instance ``i`` of class ``c`` gets the weight ``w_i = avg_size[c] / size_i`` (the class's
    average instance size over the training set divided by the instance's size). Then
    ``iTP_c = Σ_i w_i tp_i``, ``iFN_c = Σ_i w_i (size_i - tp_i)``, ``FP_c`` from the matrix
    (unweighted) and ``iIoU_c = iTP / (iTP + FP + iFN)``. Categories use ``cat_tp`` and the
    category's FP. Sums use :func:`math.fsum` (exactly rounded: independent of the order of
    instances, so shards merged in any order give the same bits).

    Parameters
    ----------
    records : ndarray (N, 4)
        From :func:`instance_records` (any number of images, concatenated).
    cm, void : confusion matrix (ndarray (C, C) or KeyedConfusion) and void vector of the same images
    avg_size : sequence of float, length C
        Average instance size per train id (NaN for classes without iIoU).
    class_category : sequence of int, optional
    num_categories : int
    instance_categories : sequence of int
        Categories that get an iIoU (cityscapesScripts: those whose labels all have instances).
    category_void_fp : sequence of int, optional
        Per category, further FP pixels: evaluated GT pixels of other categories predicted with a void
        code of this category (cityscapesScripts counts caravan / trailer predictions there).

    Returns
    -------
    dict
        ``iIoU`` (ndarray (C,)), ``iIoU_category`` (ndarray (num_categories,)).
    """
    keyed = isinstance(cm, KeyedConfusion)
    cm = cm if keyed else np.asarray(cm, np.int64)
    C = cm.num_classes if keyed else cm.shape[0]
    rec = np.asarray(records, np.int64).reshape(-1, 4)
    avg = np.asarray(avg_size, np.float64)
    if keyed:
        fp = cm.col_sums() - cm.diagonal()
    else:
        pred_c = cm.sum(0)
        fp = pred_c - np.diagonal(cm)
    out = np.full(C, np.nan)
    for c in range(C):
        if not np.isfinite(avg[c]):
            continue
        r = rec[rec[:, 0] == c]
        w = [float(avg[c]) / float(s) for s in r[:, 1]]
        itp = math.fsum(float(t) * wi for t, wi in zip(r[:, 2], w))
        ifn = math.fsum(float(s - t) * wi for s, t, wi in zip(r[:, 1], r[:, 2], w))
        den = itp + ifn + float(fp[c])
        out[c] = itp / den if den != 0 else np.nan
    cats = np.full(num_categories, np.nan)
    if class_category is not None:
        cc = np.asarray(class_category, np.int64)
        for k in instance_categories:
            s = cc == k
            fpk = cm.block_sum(~s, s) if keyed else int(cm[np.ix_(~s, s)].sum())
            if category_void_fp is not None:
                fpk += int(category_void_fp[k])
            terms_tp, terms_fn = [], []
            for c in np.flatnonzero(s):
                if not np.isfinite(avg[c]):
                    continue
                r = rec[rec[:, 0] == c]
                for size, ctp in zip(r[:, 1], r[:, 3]):
                    wi = float(avg[c]) / float(size)
                    terms_tp.append(float(ctp) * wi)
                    terms_fn.append(float(size - ctp) * wi)
            itp, ifn = math.fsum(terms_tp), math.fsum(terms_fn)
            den = itp + ifn + float(fpk)
            cats[k] = itp / den if den != 0 else np.nan
    return {"iIoU": out, "iIoU_category": cats}


# --------------------------------------------------------------------------- keyed (sparse) counts
def use_keyed(num_classes: int) -> bool:
    """True when a dense ``(C, C)`` int64 matrix would exceed :data:`SPARSE_MATRIX_BYTES`.

    >>> use_keyed(19), use_keyed(65535)
    (False, True)
    """
    C = int(num_classes)
    return C * C * 8 > SPARSE_MATRIX_BYTES


class KeyedConfusion:
    """A confusion matrix kept as its non-zero cells: ``O(nnz)`` memory for any ``C ≤ 65535``.

    Cell ``(i, j)`` (GT class ``i`` predicted as ``j``) has the key ``i * C + j``; ``keys`` are the
    sorted distinct keys of the non-zero cells (int64) and ``counts`` their pixel counts (int64, > 0).
    This canonical form depends only on the counted pixels, never on how they were split into images
    or shards, so merged states are identical arrays.

    Parameters
    ----------
    keys : ndarray of int64, shape (nnz,)
        Strictly increasing, in ``0..C²-1``.
    counts : ndarray of int64, shape (nnz,)
    num_classes : int
        ``C``.

    Examples
    --------
    >>> import numpy as np
    >>> k = KeyedConfusion.from_dense(np.array([[3, 1], [0, 2]]))
    >>> k.keys.tolist(), k.counts.tolist()
    ([0, 1, 3], [3, 1, 2])
    >>> k.row_sums().tolist(), k.col_sums().tolist(), k.diagonal().tolist()
    ([4, 2], [3, 3], [3, 2])
    >>> (k + k).to_dense().tolist()
    [[6, 2], [0, 4]]
    """

    __slots__ = ("keys", "counts", "num_classes")

    def __init__(self, keys, counts, num_classes: int):
        self.keys = np.asarray(keys, np.int64).ravel()
        self.counts = np.asarray(counts, np.int64).ravel()
        self.num_classes = int(num_classes)
        if self.keys.shape != self.counts.shape:
            raise ValueError(f"keys and counts differ in length: {self.keys.size} vs {self.counts.size}")

    @classmethod
    def empty(cls, num_classes: int) -> "KeyedConfusion":
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), num_classes)

    @classmethod
    def from_dense(cls, cm: np.ndarray) -> "KeyedConfusion":
        """The non-zero cells of a dense ``(C, C)`` matrix."""
        cm = np.asarray(cm, np.int64)
        flat = cm.ravel()
        keys = np.flatnonzero(flat).astype(np.int64)
        return cls(keys, flat[keys], cm.shape[0])

    def to_dense(self) -> np.ndarray:
        """The ``(C, C)`` int64 matrix (only sensible for small ``C``)."""
        C = self.num_classes
        out = np.zeros(C * C, np.int64)
        out[self.keys] = self.counts
        return out.reshape(C, C)

    @property
    def nnz(self) -> int:
        return int(self.keys.size)

    def rows_cols(self) -> tuple[np.ndarray, np.ndarray]:
        """GT class and predicted class of every stored cell."""
        r = self.keys // self.num_classes
        return r, self.keys - r * self.num_classes

    def diagonal(self) -> np.ndarray:
        """``tp``: ndarray (C,) int64."""
        r, c = self.rows_cols()
        out = np.zeros(self.num_classes, np.int64)
        d = r == c
        out[r[d]] = self.counts[d]
        return out

    def row_sums(self) -> np.ndarray:
        """``Σ_j cm[i, j]``: ndarray (C,) int64 (exact integer sums)."""
        r, _ = self.rows_cols()
        out = np.zeros(self.num_classes, np.int64)
        np.add.at(out, r, self.counts)
        return out

    def col_sums(self) -> np.ndarray:
        """``Σ_i cm[i, j]``: ndarray (C,) int64."""
        _, c = self.rows_cols()
        out = np.zeros(self.num_classes, np.int64)
        np.add.at(out, c, self.counts)
        return out

    def block_sum(self, row_mask: np.ndarray, col_mask: np.ndarray) -> int:
        """``cm[np.ix_(row_mask, col_mask)].sum()`` for boolean masks of length C."""
        r, c = self.rows_cols()
        sel = np.asarray(row_mask, bool)[r] & np.asarray(col_mask, bool)[c]
        return int(self.counts[sel].sum())

    def top_pairs(self, k: int, off_diagonal: bool = True) -> list[tuple[int, int, int]]:
        """The ``k`` largest cells ``(gt, pred, count)``, largest first (ties: smaller key first)."""
        r, c = self.rows_cols()
        sel = r != c if off_diagonal else np.ones(r.size, bool)
        idx = np.flatnonzero(sel)
        order = idx[np.lexsort((self.keys[idx], -self.counts[idx]))][: max(0, int(k))]
        return [(int(r[i]), int(c[i]), int(self.counts[i])) for i in order]

    def __add__(self, other: "KeyedConfusion") -> "KeyedConfusion":
        return merge_keyed([self, other])

    def __eq__(self, other) -> bool:
        return (isinstance(other, KeyedConfusion) and self.num_classes == other.num_classes
                and np.array_equal(self.keys, other.keys) and np.array_equal(self.counts, other.counts))

    def __repr__(self) -> str:
        return f"KeyedConfusion({self.num_classes} classes, {self.nnz} non-zero cells, {int(self.counts.sum())} px)"


def _reduce_sorted(keys: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum the counts of equal keys (int64, exact); ``keys`` must be sorted."""
    if keys.size == 0:
        return keys.astype(np.int64), counts.astype(np.int64)
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    return keys[starts].astype(np.int64), np.add.reduceat(counts.astype(np.int64, copy=False), starts)


def merge_keyed(parts: Sequence[KeyedConfusion], num_classes: int | None = None) -> KeyedConfusion:
    """Sum of keyed confusion matrices (equal keys add), in canonical form.

    The result is the same arrays whatever the order or grouping of ``parts`` (integer addition).

    Parameters
    ----------
    parts : sequence of KeyedConfusion
        All with the same ``num_classes``.
    num_classes : int, optional
        Needed when ``parts`` is empty.

    Returns
    -------
    KeyedConfusion

    Examples
    --------
    >>> a = KeyedConfusion([0, 5], [2, 1], 3)
    >>> b = KeyedConfusion([5, 8], [4, 1], 3)
    >>> m = merge_keyed([a, b])
    >>> m.keys.tolist(), m.counts.tolist()
    ([0, 5, 8], [2, 5, 1])
    """
    parts = [p for p in parts]
    if not parts:
        if num_classes is None:
            raise ValueError("merge_keyed of nothing needs num_classes")
        return KeyedConfusion.empty(num_classes)
    C = parts[0].num_classes
    if any(p.num_classes != C for p in parts):
        raise ValueError("cannot merge keyed confusion matrices with different numbers of classes")
    parts = [p for p in parts if p.nnz]
    if not parts:
        return KeyedConfusion.empty(C)
    if len(parts) == 1:
        return KeyedConfusion(parts[0].keys.copy(), parts[0].counts.copy(), C)
    keys = np.concatenate([p.keys for p in parts])
    counts = np.concatenate([p.counts for p in parts])
    order = np.argsort(keys, kind="stable")
    k, c = _reduce_sorted(keys[order], counts[order])
    return KeyedConfusion(k, c, C)


def _weighted_unique(key: np.ndarray, w: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct keys and their (weighted) int64 counts."""
    if w is None:
        u, c = np.unique(key, return_counts=True)
        return u.astype(np.int64), c.astype(np.int64)
    order = np.argsort(key, kind="stable")
    return _reduce_sorted(key[order], w[order])


def _bad_values_w(what: str, vals: np.ndarray, w: np.ndarray | None, C: int, ig: int) -> str:
    u, c = _weighted_unique(vals.astype(np.int64), w)
    listed = ", ".join(f"{int(a)} ({int(b)} px)" for a, b in zip(u[:10], c[:10]))
    if u.size > 10:
        listed += f", +{u.size - 10} more"
    return f"{what} has values outside 0..{C - 1} (ignore {ig}): {listed}"


def keyed_confusion(gt: np.ndarray, pred: np.ndarray, num_classes: int, ignore_index: int = 255,
                    void_values: Sequence[int] = (), split_void: bool = False):
    """Confusion counts of one pair (or a batch) of label maps as a :class:`KeyedConfusion`.

    Same conventions as :func:`confusion_matrix` (GT ``ignore_index`` not scored; prediction
    ``ignore_index`` or one of ``void_values`` = void, counted per GT class), for any
    ``C ≤ 65535`` in ``O(nnz)`` memory: the pair keys ``gt * C + pred`` (below 2**32 for
    ``C ≤ 65535``) of the pixels — of their runs, when run-length encoding makes the arrays at least
    3× shorter — are sorted and equal keys counted (``O(n log n)``).

    Parameters
    ----------
    gt, pred : ndarray of int, same shape
        Train ids ``0..C-1`` or ``ignore_index`` (predictions may also hold ``void_values``).
    num_classes : int
        ``C``, 1..65535.
    ignore_index : int, default 255
        Must not be a class id (use 65535 for more than 255 classes).
    void_values : sequence of int, optional
    split_void : bool, default False
        Void counts per void value: shape ``(C, 1 + len(void_values))`` (column 0 = ``ignore_index``).

    Returns
    -------
    cm : KeyedConfusion
    void : ndarray of int64, shape (C,) or (C, 1 + len(void_values))

    Raises
    ------
    ValueError
        Shapes differ, non-integer maps, or values outside ``0..C-1`` (lists values and pixel counts).

    Examples
    --------
    >>> import numpy as np
    >>> gt = np.array([60000, 60000, 7, 65535], np.uint16)
    >>> pr = np.array([60000, 7, 65535, 3], np.uint16)
    >>> cm, void = keyed_confusion(gt, pr, 65535, ignore_index=65535)
    >>> cm.top_pairs(5, off_diagonal=False), int(void[7])
    ([(60000, 7, 1), (60000, 60000, 1)], 1)
    """
    gt, pred, C = _check_pair(gt, pred, num_classes)
    if gt.dtype.kind not in "iub" or pred.dtype.kind not in "iub":
        raise ValueError(f"label maps must be integer arrays, got {gt.dtype} and {pred.dtype}")
    ig = int(ignore_index)
    if 0 <= ig < C:
        raise ValueError(f"ignore_index {ig} is also a class id (0..{C - 1}); use an ignore index >= C "
                         f"(e.g. 65535 for more than 255 classes)")
    vv = sorted({int(v) for v in void_values if int(v) != ig and not 0 <= int(v) < C})
    vcols = np.zeros((C, 1 + len(vv)), np.int64)
    g, p = gt.ravel(), pred.ravel()
    starts, lens = _runs(g, p)
    w = None
    if starts is not None:
        g, p, w = g[starts], p[starts], lens.astype(np.int64)
    valid = g != ig
    if not valid.all():
        g, p = g[valid], p[valid]
        w = None if w is None else w[valid]
    if g.size:
        bad_g = (g < 0) | (g >= C)
        if bad_g.any():
            raise ValueError(_bad_values_w("gt", g[bad_g], None if w is None else w[bad_g], C, ig))
        isvoid = (p == ig) | np.isin(p, vv) if vv else p == ig
        bad_p = ((p < 0) | (p >= C)) & ~isvoid
        if bad_p.any():
            raise ValueError(_bad_values_w("pred", p[bad_p], None if w is None else w[bad_p], C, ig))
        if isvoid.any():
            gv, pv = g[isvoid], p[isvoid]
            wv = None if w is None else w[isvoid]
            for i, v in enumerate([ig] + vv):
                sel = pv == v
                if sel.any():
                    cnt = np.bincount(gv[sel].astype(np.intp), weights=None if wv is None else wv[sel], minlength=C)
                    vcols[:, i] = np.rint(cnt).astype(np.int64) if wv is not None else cnt
            keep = ~isvoid
            g, p = g[keep], p[keep]
            w = None if w is None else w[keep]
    kt = np.uint32 if C * C <= (1 << 32) else np.int64
    key = g.astype(kt) * kt(C)
    key += p.astype(kt, copy=False)
    keys, counts = _weighted_unique(key, w)
    cm = KeyedConfusion(keys, counts, C)
    return cm, (vcols if split_void else vcols.sum(1))


def keyed_confusion_and_instances(gt: np.ndarray, pred: np.ndarray, instance_ids: np.ndarray | None,
                                  num_classes: int, ignore_index: int, class_lut: np.ndarray | None = None,
                                  class_category=None, void_values: Sequence[int] = (),
                                  void_category: Mapping[int, int] | None = None, min_id: int = INSTANCE_MIN_ID,
                                  gt_lut: np.ndarray | None = None, pred_lut: np.ndarray | None = None):
    """:func:`confusion_and_instances` with a :class:`KeyedConfusion` instead of the dense matrix.

    Stored values with ``gt_lut`` / ``pred_lut`` are mapped to train ids per pixel first (``-1`` in
    a table = value not allowed).

    Returns
    -------
    cm : KeyedConfusion
    void : ndarray (C, 1 + len(void_values)) int64
    records : ndarray (N, 4) int64, or None
    """
    gt = np.asarray(gt)
    pred = np.asarray(pred)
    inst = None if instance_ids is None else np.asarray(instance_ids)
    if gt.shape != pred.shape:
        raise ValueError(f"gt and pred shapes differ: {gt.shape} vs {pred.shape}")
    if inst is not None and inst.shape != gt.shape:
        raise ValueError(f"instance_ids and gt shapes differ: {inst.shape} vs {gt.shape}")
    if gt_lut is not None:
        gt = _apply_checked(gt, gt_lut, "gt")
    if pred_lut is not None:
        pred = _apply_checked(pred, pred_lut, "pred")
    cm, void = keyed_confusion(gt, pred, num_classes, ignore_index, void_values, split_void=True)
    rec = None
    if inst is not None:
        rec = instance_records(pred, inst, class_lut, class_category, ignore_index, min_id, void_category)
    return cm, void, rec

"""Cityscapes instance-level AP (``cityscapes_ap``), as cityscapesScripts' ``evalInstanceLevelSemanticLabeling``.

Ground truth: the ``*_gtFine_instanceIds.png`` map (``label_id * 1000 + k`` for instances, the plain
label id for pixels without an instance, e.g. crowd "group" regions). Predictions: per image a list of
binary masks with a label id and a confidence (the result-txt format ``mask.png label_id confidence``).

Algorithm (per IoU threshold ``t`` in ``np.arange(0.5, 1.0, 0.05)`` and class; only the 8 classes with
instances that are evaluated: person, rider, car, truck, bus, train, motorcycle, bicycle):

* GT instances are the ids ``>= 1000`` with at least ``min_region_size`` = 100 pixels.
* A prediction overlaps a GT region of its class when they intersect; ``overlap = |g ∩ p| / |g ∪ p|``.
* Each GT with ≥ 1 prediction of overlap ``> t`` is a true positive scored with the highest confidence;
  the other such predictions are false positives (with their own confidences); a GT without one is a
  hard false negative.
* A prediction with no overlap ``> t`` with any GT region of its class (including groups and small
  instances) is a false positive unless ``(void pixels + pixels on group regions + pixels on small
  instances) / |p| > t`` (void = pixels whose raw GT value is an ignored label id; a pixel on a small
  group counts twice, as in the reference).
* ``AP`` from the precision/recall at every distinct score (the reference's step integration with
  ``np.convolve(recall, [-0.5, 0, 0.5])``); ``nan`` for a class without GT, 0 without predictions.

``values``: ``AP`` (nan-mean over classes and thresholds) and ``AP50`` (at 0.5); ``per_class``:
``AP``, ``AP50``. The state per (class, threshold) is the list of (is-TP, score) entries plus counts
of hard false negatives, so shards concatenate and the result does not depend on their order (only
cumulative sums at distinct scores are used).

Examples
--------
>>> import numpy as np
>>> from segbench.types import Sample, SemanticMask, InstancePrediction
>>> gt = np.full((20, 20), 7, np.int32); gt[2:14, 2:14] = 26001
>>> m = CityscapesInstanceAP()
>>> p = np.zeros((20, 20), bool); p[2:14, 2:13] = True
>>> m.update(InstancePrediction([{"category_id": 26, "score": 0.9, "mask": p}]),
...          Sample("a", None, SemanticMask(gt != 0, gt)))
>>> r = m.compute(); round(r.values["AP"], 4), r.per_class["car"]["AP50"]
(0.9, 1.0)

References
----------
cityscapesScripts ``evaluation/evalInstanceLevelSemanticLabeling.py`` (github.com/mcordts/cityscapesScripts).
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from ..errors import BadInputError
from .base import Metric, MetricResult

__all__ = ["CityscapesInstanceAP", "OVERLAPS", "INSTANCE_LABELS", "VOID_LABEL_IDS", "image_entries", "class_ap"]

OVERLAPS = np.arange(0.5, 1., 0.05)
MIN_REGION_SIZE = 100
#: (name, label id) of the evaluated classes with instances, in cityscapesScripts' order.
INSTANCE_LABELS = (("person", 24), ("rider", 25), ("car", 26), ("truck", 27), ("bus", 28), ("train", 31),
                   ("motorcycle", 32), ("bicycle", 33))
#: Label ids with ``ignoreInEval`` (a prediction's pixels on them are void).
VOID_LABEL_IDS = (0, 1, 2, 3, 4, 5, 6, 9, 10, 14, 15, 16, 18, 29, 30, -1)
#: Known label ids (0..33 and -1): others in a prediction are an error.
KNOWN_LABEL_IDS = frozenset(range(-1, 34))


def _label_of(ids: np.ndarray) -> np.ndarray:
    return np.where(ids < 1000, ids, ids // 1000)


def image_entries(inst: np.ndarray, preds: list, overlaps=OVERLAPS, min_region_size: int = MIN_REGION_SIZE,
                  labels=INSTANCE_LABELS, void_ids=VOID_LABEL_IDS):
    """Match one image's predictions with its instanceIds map.

    Parameters
    ----------
    inst : (H, W) int
        Raw ``instanceIds`` values.
    preds : list of (mask (H, W) bool, label_id int, confidence float)
        In file order (duplicates already removed).

    Returns
    -------
    entries : list of (class index, overlap index, is_tp (n,) bool, score (n,) float)
    hard_fns : (L, O) int64
    have_gt, have_pred : (L,) bool
    """
    L, O = len(labels), len(overlaps)
    label_ids = [lid for _, lid in labels]
    inst = np.asarray(inst).astype(np.int64, copy=False)
    lo_v, hi_v = (int(inst.min()), int(inst.max())) if inst.size else (0, 0)
    if lo_v >= 0 and hi_v < 1 << 20:  # raw instanceIds values: a histogram is much faster than a sort
        cnt = np.bincount(inst.ravel(), minlength=hi_v + 1)
        ids = np.flatnonzero(cnt).astype(np.int64)
        pix = cnt[ids]
        lut = np.zeros(hi_v + 1, bool)
        vv = np.asarray([v for v in void_ids if 0 <= v <= hi_v], np.int64)
        lut[vv] = True
        void = lut[inst]
    else:
        ids, pix = np.unique(inst, return_counts=True)
        void = np.isin(inst, np.asarray(void_ids))
    lab = _label_of(ids)
    hard = np.zeros((L, O), np.int64)
    have_gt = np.zeros(L, bool)
    have_pred = np.zeros(L, bool)
    entries = []
    # predictions grouped by class
    per_class: dict = {}
    for mask, lid, conf in preds:
        lid = int(lid)
        if lid not in label_ids:
            continue
        m = np.asarray(mask, dtype=bool)
        if m.shape != inst.shape:
            raise BadInputError(f"prediction mask size {m.shape[0]}x{m.shape[1]} differs from the ground truth "
                                f"{inst.shape[0]}x{inst.shape[1]}")
        ppix = int(np.count_nonzero(m))
        if not ppix:
            continue
        vals = inst[m]
        vi = int(np.count_nonzero(void[m]))
        u, c = np.unique(vals, return_counts=True)
        per_class.setdefault(lid, []).append((ppix, float(conf), vi, u, c))
    for li, lid in enumerate(label_ids):
        gsel = lab == lid
        g_ids = ids[gsel]                                   # all GT regions of the class (groups too)
        g_pix = pix[gsel]
        g_keep = (g_ids >= 1000) & (g_pix >= min_region_size)
        have_gt[li] = bool(g_keep.any())
        plist = per_class.get(lid, [])
        have_pred[li] = bool(plist)
        G, P = len(g_ids), len(plist)
        inter = np.zeros((P, G), np.int64)
        p_pix = np.zeros(P, np.int64)
        p_conf = np.zeros(P, np.float64)
        p_void = np.zeros(P, np.int64)
        for j, (ppix, conf, vi, u, c) in enumerate(plist):
            p_pix[j], p_conf[j], p_void[j] = ppix, conf, vi
            if G:
                pos = np.searchsorted(g_ids, u)
                ok = (pos < G) & (g_ids[np.minimum(pos, G - 1)] == u)
                inter[j, pos[ok]] = c[ok]
        # overlap = inter / (gpix + ppix - inter), as Python floats of the integer counts
        if P and G:
            ov = inter / (g_pix[None, :] + p_pix[:, None] - inter)
            ov = np.where(inter > 0, ov, -1.0)
        else:
            ov = np.zeros((P, G))
        # ignore share of unmatched predictions (groups and small regions; a small group counts twice)
        ign_w = (g_ids < 1000).astype(np.int64) + (g_pix < min_region_size).astype(np.int64)
        p_ign = (p_void + (inter * ign_w[None, :]).sum(axis=1)) if P else p_void
        prop = p_ign / np.maximum(p_pix, 1) if P else np.zeros(0)
        kept = np.flatnonzero(g_keep)
        for oi in range(O):
            t = float(overlaps[oi])
            hit = ov > t                                     # (P, G)
            true_l, score_l = [], []
            for g in kept:
                col = hit[:, g]
                if not col.any():
                    hard[li, oi] += 1
                    continue
                confs = p_conf[col]
                k = int(np.argmax(confs))
                true_l.append(1.0)
                score_l.append(confs[k])
                if confs.size > 1:
                    rest = np.delete(confs, k)
                    true_l.extend([0.0] * rest.size)
                    score_l.extend(rest.tolist())
            if P:
                found = hit.any(axis=1) if G else np.zeros(P, bool)
                fp = (~found) & (prop <= t)
                for j in np.flatnonzero(fp):
                    true_l.append(0.0)
                    score_l.append(p_conf[j])
            if true_l:
                entries.append((li, oi, np.asarray(true_l, bool), np.asarray(score_l, np.float64)))
    return entries, hard, have_gt, have_pred


def class_ap(y_true: np.ndarray, y_score: np.ndarray, hard_fns: int, have_gt: bool, have_pred: bool) -> float:
    """AP of one class at one threshold, exactly as cityscapesScripts' ``evaluateMatches``."""
    if not have_gt:
        return float("nan")
    if not have_pred:
        return 0.0
    if y_score.size == 0:
        return 0.0  # the reference crashes here (empty cumsum); nothing was detected
    order = np.argsort(y_score)
    ys = y_score[order]
    yt = y_true[order].astype(np.float64)
    cs = np.cumsum(yt)
    _, uidx = np.unique(ys, return_index=True)
    n_pr = len(uidx) + 1
    n_ex = len(ys)
    n_true = cs[-1]
    cs = np.append(cs, 0)
    cum = cs[uidx - 1]
    tp = n_true - cum
    fp = n_ex - uidx - tp
    fn = cum + hard_fns
    with np.errstate(divide="ignore", invalid="ignore"):
        p = tp / (tp + fp)
        r = tp / (tp + fn)
    precision = np.zeros(n_pr)
    recall = np.zeros(n_pr)
    precision[:-1] = p
    recall[:-1] = r
    precision[-1] = 1.
    recall[-1] = 0.
    rfc = np.append(recall[0], recall)
    rfc = np.append(rfc, 0.)
    steps = np.convolve(rfc, [-0.5, 0, 0.5], "valid")
    return float(np.dot(precision, steps))


class CityscapesInstanceAP(Metric):
    """Cityscapes instance-level AP and AP50 (see the module docstring).

    Parameters
    ----------
    label_space : LabelSpace, optional
        Not needed: the evaluated classes are cityscapesScripts' 8 instance classes.
    min_region_size : int, default 100
    """

    name: ClassVar[str] = "cityscapes_ap"
    option_names: ClassVar[tuple] = ("min_region_size",)
    version: ClassVar[str] = "1"
    task: ClassVar[str] = "instance"
    summary_keys: ClassVar[tuple] = ("AP", "AP50")

    def __init__(self, label_space=None, **options):
        options = dict(options, min_region_size=int(options.get("min_region_size", MIN_REGION_SIZE)))
        super().__init__(label_space, **options)
        L, O = len(INSTANCE_LABELS), len(OVERLAPS)
        self._idx = [np.zeros(0, np.int32)]
        self._true = [np.zeros(0, bool)]
        self._score = [np.zeros(0, np.float64)]
        self._hard = np.zeros((L, O), np.int64)
        self._have = np.zeros((2, L), np.int64)

    def update(self, prediction, sample) -> None:
        t = sample.target
        inst = getattr(t, "instance_ids", None)
        if inst is None:
            raise BadInputError(f"sample {sample.sample_id}: cityscapes_ap needs the instanceIds ground truth "
                                f"(*_gtFine_instanceIds.png), found none")
        preds = []
        for d in (getattr(prediction, "detections", None) or []):
            m = d.get("mask")
            if m is None:
                from pycocotools import mask as mask_utils
                m = mask_utils.decode(d["segmentation"]).astype(bool)
            preds.append((m, int(d["category_id"]), float(d["score"])))
        entries, hard, hg, hp = image_entries(inst, preds, min_region_size=self.options["min_region_size"])
        O = len(OVERLAPS)
        for li, oi, yt, ys in entries:
            self._idx.append(np.full(len(yt), li * O + oi, np.int32))
            self._true.append(yt)
            self._score.append(ys)
        self._hard += hard
        self._have[0] += hg
        self._have[1] += hp

    def state_dict(self) -> dict:
        return {"idx": np.concatenate(self._idx), "true": np.concatenate(self._true),
                "score": np.concatenate(self._score), "hard_fns": self._hard.copy(), "have": self._have.copy()}

    def _load_state(self, state: dict) -> None:
        self._idx = [np.asarray(state["idx"], np.int32)]
        self._true = [np.asarray(state["true"], bool)]
        self._score = [np.asarray(state["score"], np.float64)]
        self._hard = np.asarray(state["hard_fns"], np.int64).copy()
        self._have = np.asarray(state["have"], np.int64).copy()

    def merge(self, other: "CityscapesInstanceAP") -> "CityscapesInstanceAP":
        self._require_same_type(other)
        self._idx += other._idx
        self._true += other._true
        self._score += other._score
        self._hard = self._hard + other._hard
        self._have = self._have + other._have
        return self

    def ap_matrix(self) -> np.ndarray:
        """``(L, O)`` AP per class and overlap threshold (the reference's ``resultApMatrix[0]``)."""
        L, O = len(INSTANCE_LABELS), len(OVERLAPS)
        idx = np.concatenate(self._idx)
        yt = np.concatenate(self._true)
        ys = np.concatenate(self._score)
        order = np.argsort(idx, kind="stable")
        idx, yt, ys = idx[order], yt[order], ys[order]
        bounds = np.searchsorted(idx, np.arange(L * O + 1))
        aps = np.zeros((L, O))
        for li in range(L):
            for oi in range(O):
                s, e = bounds[li * O + oi], bounds[li * O + oi + 1]
                aps[li, oi] = class_ap(yt[s:e], ys[s:e], int(self._hard[li, oi]), bool(self._have[0, li]),
                                       bool(self._have[1, li]))
        return aps

    def compute(self) -> MetricResult:
        aps = self.ap_matrix()
        o50 = np.where(np.isclose(OVERLAPS, 0.5))
        with np.errstate(all="ignore"):
            import warnings
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                ap = float(np.nanmean(aps)) if not np.isnan(aps).all() else math.nan
                ap50 = float(np.nanmean(aps[:, o50])) if not np.isnan(aps[:, o50]).all() else math.nan
        per_class = {name: {"AP": float(np.average(aps[li, :])), "AP50": float(np.average(aps[li, o50]))}
                     for li, (name, _) in enumerate(INSTANCE_LABELS)}
        return MetricResult(values={"AP": ap, "AP50": ap50}, per_class=per_class,
                            artifacts={"ap_matrix": np.round(aps, 6).tolist(),
                                       "overlaps": [round(float(o), 2) for o in OVERLAPS],
                                       "classes": [n for n, _ in INSTANCE_LABELS]})

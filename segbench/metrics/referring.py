"""Referring-expression segmentation metric ``referring`` (RefCOCO / RefCOCO+ / RefCOCOg protocol).

One sample = one expression (``Sample.target`` is a :class:`~segbench.types.ReferringTarget`); the
state is a keyed map ``expression id -> (I, U)`` of integer pixel counts, so shards merged then
computed equal one pass bit for bit, and the bootstrap (:mod:`segbench.metrics.stats`) can resample
expressions.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..errors import BadInputError
from ..types import LabelSpace, SoftPrediction
from .base import Metric, MetricResult
from .functional.referring import DEFAULT_THRESHOLDS, intersection_union, referring_scores, threshold_key

__all__ = ["ReferringIoU"]


class ReferringIoU(Metric):
    """Overall IoU, mean IoU and precision@{0.5..0.9} over referring expressions (LAVT / CRIS protocol).

    With ``I_e = |P_e ∩ G_e|`` and ``U_e = |P_e ∪ G_e|`` per expression ``e`` (``E`` expressions):

    ``oIoU = Σ I_e / Σ U_e``, ``mIoU = (1/E) Σ IoU_e`` with ``IoU_e = I_e / U_e`` (0 when ``U_e = 0``),
    ``P@t = #{IoU_e ≥ t} / E``.

    Values (fractions in 0..1): ``oIoU mIoU P@0.5 P@0.6 P@0.7 P@0.8 P@0.9``. ``per_sample`` (one entry
    per expression, keyed by sample id): ``I, U, IoU``. ``artifacts``: ``num_expressions``.

    Parameters
    ----------
    label_space : LabelSpace, optional
        Not used (binary task).
    thresholds : list of float, default [0.5, 0.6, 0.7, 0.8, 0.9]
    threshold : float, default 0.5
        Binarisation of a :class:`~segbench.types.SoftPrediction` (``prob > threshold``).
    empty_iou : float, default 0.0
        IoU of an expression whose GT and prediction are both empty (LAVT: 0.0).

    Predictions: :class:`~segbench.types.SemanticPrediction` (nonzero = referred object) or
    :class:`~segbench.types.SoftPrediction`. GT: nonzero pixels of ``ReferringTarget.mask``.

    Examples
    --------
    >>> import numpy as np
    >>> from segbench.types import ReferringTarget, Sample, SemanticPrediction
    >>> m = ReferringIoU()
    >>> g = np.zeros((4, 4), bool); g[:2, :2] = True
    >>> m.update(SemanticPrediction(g.astype(np.uint8)), Sample("e1", None, ReferringTarget("left cat", g)))
    >>> p = np.zeros((4, 4), np.uint8); p[:2, :1] = 1
    >>> m.update(SemanticPrediction(p), Sample("e2", None, ReferringTarget("the cat", g)))
    >>> r = m.compute().values
    >>> r["oIoU"], r["mIoU"], r["P@0.5"], r["P@0.6"]
    (0.75, 0.75, 1.0, 0.5)

    References
    ----------
    Z. Yang et al., LAVT, CVPR 2022 (``test.py``: cum_I / cum_U, mean IoU, precision@K);
    Z. Wang et al., CRIS, CVPR 2022; L. Yu et al., RefCOCO, ECCV 2016.
    """

    name: ClassVar[str] = "referring"
    option_names: ClassVar[tuple] = ("empty_iou", "threshold", "thresholds")
    version: ClassVar[str] = "1"
    task: ClassVar[str] = "referring"
    summary_keys: ClassVar[tuple] = ("oIoU", "mIoU") + tuple(threshold_key(t) for t in DEFAULT_THRESHOLDS)

    def __init__(self, label_space: LabelSpace | None = None, **options: Any):
        super().__init__(label_space, **options)
        self.thresholds = tuple(float(t) for t in options.get("thresholds", DEFAULT_THRESHOLDS))
        self.threshold = float(options.get("threshold", 0.5))
        self.empty_iou = float(options.get("empty_iou", 0.0))
        self.records: dict = {}

    def update(self, prediction, sample) -> None:
        target = sample.target
        gt = np.asarray(getattr(target, "mask", target))
        if isinstance(prediction, SoftPrediction):
            pm = np.asarray(prediction.prob) > self.threshold
        else:
            pm = np.asarray(getattr(prediction, "mask", prediction))
        if pm.shape != gt.shape:
            raise BadInputError(f"expression {sample.sample_id}: expected a prediction of shape {gt.shape} "
                                f"(the mask's), found {pm.shape}; resize the prediction to the image size")
        key = str(sample.sample_id)
        if key in self.records:
            raise BadInputError(f"expression id {key!r} seen twice; give every expression its own sample id")
        I, U = intersection_union(pm, gt)
        self.records[key] = [I, U]

    def merge(self, other: "ReferringIoU") -> "ReferringIoU":
        self._require_same_type(other)
        dup = set(self.records) & set(other.records)
        if dup:
            raise ValueError(f"cannot merge states that share expression ids: {sorted(dup)[:5]}")
        self.records = {**self.records, **other.records}
        return self

    def state_dict(self) -> dict:
        return {"records": {k: list(v) for k, v in self.records.items()}}

    def _load_state(self, state: dict) -> None:
        self.records = {str(k): [int(v[0]), int(v[1])] for k, v in (state.get("records") or {}).items()}

    def compute(self) -> MetricResult:
        keys = sorted(self.records)
        I = np.array([self.records[k][0] for k in keys], np.int64)
        U = np.array([self.records[k][1] for k in keys], np.int64)
        s = referring_scores(I, U, self.thresholds, self.empty_iou)
        values = {"oIoU": s["oIoU"], "mIoU": s["mIoU"]}
        values.update({threshold_key(t): s[threshold_key(t)] for t in self.thresholds})
        per_sample = {k: {"I": int(I[i]), "U": int(U[i]), "IoU": float(s["IoU"][i])} for i, k in enumerate(keys)}
        return MetricResult(values=values, per_class={}, per_sample=per_sample,
                            artifacts={"num_expressions": len(keys), "cum_I": int(I.sum()), "cum_U": int(U.sum())})

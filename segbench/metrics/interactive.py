"""Interactive segmentation metric ``interactive`` (NoC / NoF / mIoU@k, RITM and f-BRS protocol).

One sample = one object: the target is its mask (``SemanticMask`` 0 / 1 with ``ignore_index``
pixels, or any target with a ``mask`` attribute, nonzero = object) and the prediction an
:class:`~segbench.types.InteractivePrediction` holding the mask after each click (produce it with
:func:`segbench.metrics.functional.interactive.simulate_session`, RITM's click simulator). The state is
a keyed map ``object id -> IoU per click``; shards merged then computed equal one pass.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..errors import BadInputError
from ..types import LabelSpace
from .base import Metric, MetricResult
from .functional.interactive import miou_curve, noc_scores, session_ious, threshold_tag

__all__ = ["InteractiveNoC"]


class InteractiveNoC(Metric):
    """Mean number of clicks to reach an IoU, number of failures, and the mIoU@k curve.

    ``NoC@t = mean_objects min{k : IoU_k ≥ t}`` (``max_clicks`` when never reached);
    ``NoF@t = #{objects with NoC@t = max_clicks}`` (RITM; ``nof_mode="strict"``: never reached);
    ``mIoU@k = mean_objects IoU_k``. Only the first ``max_clicks`` masks of a session count.

    Values: ``NoC@85 NoC@90`` (mean clicks, 1..max_clicks — not fractions), ``NoF@85 NoF@90``
    (object counts), ``mIoU@1 mIoU@5 mIoU@10 mIoU@20`` (fractions; the clicks listed in
    ``curve_clicks`` that are ≤ ``max_clicks``). ``per_sample``: ``NoC@..`` and ``IoU@1`` per object.
    ``artifacts``: ``miou_curve`` (mean IoU after clicks 1..max_clicks), ``max_clicks``.

    Parameters
    ----------
    label_space : LabelSpace, optional
        Not used (binary task).
    thresholds : list of float, default [0.85, 0.9]
    max_clicks : int, default 20
    nof_mode : {"reference", "strict"}, default "reference"
    ignore_index : int, default 255
        GT value of ignored pixels.
    curve_clicks : list of int, default [1, 5, 10, 20]

    Examples
    --------
    >>> import numpy as np
    >>> from segbench.types import InteractivePrediction, Sample, SemanticMask
    >>> gt = np.zeros((4, 4), np.uint8); gt[:2, :2] = 1
    >>> half = np.zeros((4, 4), bool); half[:2, :1] = True
    >>> m = InteractiveNoC(max_clicks=3)
    >>> m.update(InteractivePrediction(np.stack([half, gt.astype(bool), gt.astype(bool)])), Sample("o1", None, SemanticMask(gt)))
    >>> m.update(InteractivePrediction(np.stack([half] * 3)), Sample("o2", None, SemanticMask(gt)))
    >>> r = m.compute().values
    >>> r["NoC@85"], r["NoF@85"], r["mIoU@1"]
    (2.5, 1, 0.5)

    References
    ----------
    K. Sofiiuk et al., RITM, ICIP 2022 (``isegm/inference/utils.py: compute_noc_metric``,
    ``isegm/inference/clicker.py``); K. Sofiiuk et al., f-BRS, CVPR 2020; N. Xu et al., CVPR 2016.
    """

    name: ClassVar[str] = "interactive"
    option_names: ClassVar[tuple] = ("curve_clicks", "ignore_index", "max_clicks", "nof_mode", "thresholds")
    version: ClassVar[str] = "1"
    task: ClassVar[str] = "interactive"
    summary_keys: ClassVar[tuple] = ("NoC@85", "NoC@90", "NoF@85", "NoF@90")

    def __init__(self, label_space: LabelSpace | None = None, **options: Any):
        super().__init__(label_space, **options)
        self.thresholds = tuple(float(t) for t in options.get("thresholds", (0.85, 0.9)))
        self.max_clicks = int(options.get("max_clicks", 20))
        self.nof_mode = str(options.get("nof_mode", "reference"))
        if self.nof_mode not in ("reference", "strict"):
            raise ValueError(f"nof_mode must be 'reference' or 'strict', got {self.nof_mode!r}")
        self.ignore_index = int(options.get("ignore_index", 255 if label_space is None else label_space.ignore_index))
        self.curve_clicks = [int(k) for k in options.get("curve_clicks", (1, 5, 10, 20))]
        self.records: dict = {}

    def update(self, prediction, sample) -> None:
        gt_raw = np.asarray(getattr(sample.target, "mask", sample.target))
        masks = np.asarray(getattr(prediction, "masks", prediction))
        if masks.ndim == 2:
            masks = masks[None]
        if masks.ndim != 3 or masks.shape[1:] != gt_raw.shape or masks.shape[0] == 0:
            raise BadInputError(f"object {sample.sample_id}: expected the masks after clicks 1..N as an array "
                                f"(N, {gt_raw.shape[0]}, {gt_raw.shape[1]}) with N >= 1, found shape {masks.shape}")
        ignore = gt_raw == self.ignore_index if gt_raw.dtype.kind in "iu" else None
        gt = (gt_raw != 0) & (~ignore if ignore is not None else True)
        key = str(sample.sample_id)
        if key in self.records:
            raise BadInputError(f"object id {key!r} seen twice; give every object its own sample id")
        self.records[key] = session_ious(gt, masks[: self.max_clicks] != 0, ignore).tolist()

    def merge(self, other: "InteractiveNoC") -> "InteractiveNoC":
        self._require_same_type(other)
        dup = set(self.records) & set(other.records)
        if dup:
            raise ValueError(f"cannot merge states that share object ids: {sorted(dup)[:5]}")
        self.records = {**self.records, **other.records}
        return self

    def state_dict(self) -> dict:
        return {"records": {k: list(v) for k, v in self.records.items()}}

    def _load_state(self, state: dict) -> None:
        self.records = {str(k): [float("nan") if x is None else float(x) for x in v]
                        for k, v in (state.get("records") or {}).items()}

    def compute(self) -> MetricResult:
        keys = sorted(self.records)
        ious = [np.asarray(self.records[k], np.float64) for k in keys]
        s = noc_scores(ious, self.thresholds, self.max_clicks, self.nof_mode)
        curve = miou_curve(ious, self.max_clicks)
        values: dict = {}
        for j, t in enumerate(self.thresholds):
            values[f"NoC@{threshold_tag(t)}"] = s["NoC"][j]
        for j, t in enumerate(self.thresholds):
            values[f"NoF@{threshold_tag(t)}"] = s["NoF"][j]
        for k in self.curve_clicks:
            if 1 <= k <= self.max_clicks:
                values[f"mIoU@{k}"] = float(curve[k - 1])
        per_sample = {}
        for i, k in enumerate(keys):
            d = {f"NoC@{threshold_tag(t)}": int(s["noc_per_object"][i, j]) for j, t in enumerate(self.thresholds)}
            d["IoU@1"] = float(ious[i][0]) if ious[i].size else float("nan")
            per_sample[k] = d
        return MetricResult(values=values, per_class={}, per_sample=per_sample,
                            artifacts={"miou_curve": curve.tolist(), "max_clicks": self.max_clicks,
                                       "num_objects": len(keys), "nof_mode": self.nof_mode})

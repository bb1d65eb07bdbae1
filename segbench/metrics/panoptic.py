"""Panoptic metrics: ``pq`` (COCO panopticapi PQ / SQ / RQ) and ``pq_modified`` (PQ†, torchmetrics).

Both hold the per-class state ``tp, fp, fn`` (int64) and ``iou`` (float64 sum of matched IoUs);
merging adds them. The engine merges fixed chunks in a fixed order, so 1 and N workers give
identical numbers (also for the float sum). The maths is in
:mod:`segbench.metrics.functional.panoptic`.

Inputs: ``sample.target`` is a :class:`~segbench.types.PanopticMap` and the prediction a
:class:`~segbench.types.PanopticPrediction` (segment-id map + ``segments_info`` with native COCO
category ids); the label space's ``ClassSpec.id`` are those category ids and ``is_thing`` splits
things / stuff.

Examples
--------
>>> import numpy as np
>>> from segbench.types import ClassSpec, LabelSpace, PanopticMap, PanopticPrediction, Sample
>>> ls = LabelSpace([ClassSpec("person", 1, 0, is_thing=True), ClassSpec("sky", 2, 1)])
>>> ids = np.array([[1, 1, 2, 2]], np.uint32)
>>> segs = [{"id": 1, "category_id": 1, "iscrowd": 0, "area": 2}, {"id": 2, "category_id": 2, "iscrowd": 0, "area": 2}]
>>> m = PanopticQuality(ls)
>>> m.update(PanopticPrediction(ids, segs), Sample("a", None, PanopticMap(ids, segs)))
>>> m.compute().values["PQ"]
1.0
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..errors import BadInputError, UsageError
from ..types import LabelSpace, PanopticMap, PanopticPrediction
from .base import Metric, MetricResult
from .functional import panoptic as F

__all__ = ["PanopticQuality", "ModifiedPanopticQuality", "pq_compute"]


def _ids_of(obj, what: str, sample_id) -> np.ndarray:
    ids = getattr(obj, "ids", None)
    if ids is None:
        path = getattr(obj, "png_path", None)
        if not path:
            raise BadInputError(f"sample {sample_id!r}: the {what} has neither an id map nor a PNG path")
        from ..io.panoptic import read_panoptic_png
        ids = read_panoptic_png(path)
    return ids


def _quick_means(st) -> list:
    """Per-image PQ, SQ, RQ: means over the classes with ``tp + fp + fn > 0``, or ``None`` without any.

    The ~20 classes of an image are handled in plain Python (cheaper than a dozen numpy calls on
    tiny arrays); each mean is ``np.add.reduce(values) / k``, which is exactly what ``ndarray.mean``
    computes (same pairwise summation), so the values are bitwise those of the vectorised form.
    """
    tp, fp, fn, iou = st["tp"], st["fp"], st["fn"], st["iou"]
    sel = np.flatnonzero(tp + fp + fn)  # counts are >= 0
    k = sel.size
    if not k:
        return [None, None, None]
    pq, sq, rq = [], [], []
    for t, f, m, s in zip(tp[sel].tolist(), fp[sel].tolist(), fn[sel].tolist(), iou[sel].tolist()):
        den = t + 0.5 * f + 0.5 * m
        pq.append(s / den)
        sq.append(s / t if t > 0 else 0.0)
        rq.append(t / den)
    sums = np.add.reduce(np.array((pq, sq, rq)), axis=1).tolist()  # each row: the pairwise sum of a 1-D reduce
    return [sums[0] / k, sums[1] / k, sums[2] / k]


class _PQBase(Metric):
    task: ClassVar[str] = "panoptic"

    def __init__(self, label_space: LabelSpace | None = None, **options: Any):
        super().__init__(label_space, **options)
        if label_space is None:
            raise UsageError(f"metric {self.name!r} needs a label space (the panoptic categories)")
        ev = label_space.eval_classes
        self._cat_to_index = {int(c.id): int(c.train_id) for c in ev}
        self._is_thing = [bool(c.is_thing) for c in ev]
        self._names = [c.name for c in ev]
        self._stuff = {int(c.id) for c in ev if not c.is_thing}
        self._state = F.empty_stats(len(ev))
        self._per_sample: dict = {}

    # ---- protocol
    _adds_iou_itself: ClassVar[bool] = False

    def _image_stats(self, gt_ids, gt_segs, pr_ids, pr_segs, image, path, gt_path=None) -> dict:  # pragma: no cover
        raise NotImplementedError

    def update(self, prediction, sample) -> None:
        t = sample.target
        if not isinstance(t, PanopticMap):
            raise BadInputError(f"sample {sample.sample_id!r}: metric {self.name!r} expects a panoptic target, "
                                f"found {type(t).__name__}")
        if not isinstance(prediction, PanopticPrediction):
            raise BadInputError(f"sample {sample.sample_id!r}: metric {self.name!r} expects a panoptic prediction "
                                f"(PNG + segments_info), found {type(prediction).__name__}")
        gt = _ids_of(t, "ground truth", sample.sample_id)
        pr = _ids_of(prediction, "prediction", sample.sample_id)
        if gt.shape != pr.shape:
            raise BadInputError(f"image {sample.meta.get('image_id', sample.sample_id)!r}: expected the prediction "
                                f"to have the ground truth's size {gt.shape}, found {pr.shape}",
                                path=prediction.png_path)
        image = sample.meta.get("image_id", sample.sample_id)
        st = self._image_stats(gt, t.segments, pr, prediction.segments, image, prediction.png_path,
                               sample.meta.get("gt_json") or t.png_path)
        for k in ("tp", "fp", "fn") if self._adds_iou_itself else ("tp", "fp", "fn", "iou"):
            self._state[k] += st[k]
        if self.options.get("per_sample", True):
            self._per_sample[str(sample.sample_id)] = _quick_means(st)

    def _summary(self, st):
        return F.pq_summary(st["tp"], st["fp"], st["fn"], st["iou"], self._is_thing, self._names)

    def compute(self) -> MetricResult:
        values, per_class = self._summary(self._state)
        n_classes = {k: values.pop(k) for k in ("N", "N_th", "N_st")}  # counts are not fractions: artifacts
        values = self._rename(values)
        per_sample = None
        if self._per_sample:
            per_sample = {sid: {self.summary_keys[0]: v[0], self.summary_keys[1]: v[1], self.summary_keys[2]: v[2]}
                          for sid, v in self._per_sample.items()}
        return MetricResult(values=values, per_class=per_class, per_sample=per_sample,
                            artifacts={"tp": self._state["tp"].tolist(), "fp": self._state["fp"].tolist(),
                                       "fn": self._state["fn"].tolist(), "iou_sum": self._state["iou"].tolist(),
                                       "classes": list(self._names), "num_classes_averaged": n_classes})

    def _rename(self, values: dict) -> dict:
        return values

    def state_dict(self) -> dict:
        return {"tp": self._state["tp"].copy(), "fp": self._state["fp"].copy(), "fn": self._state["fn"].copy(),
                "iou": self._state["iou"].copy(), "per_sample": dict(self._per_sample)}

    def _load_state(self, state: dict) -> None:
        n = len(self._names)
        for k, dt in (("tp", np.int64), ("fp", np.int64), ("fn", np.int64), ("iou", np.float64)):
            a = np.asarray(state[k], dtype=dt)
            if a.shape != (n,):
                raise ValueError(f"{self.name} state {k!r}: expected shape ({n},), found {a.shape}")
            self._state[k] = a.copy()
        self._per_sample = {str(k): list(v) for k, v in (state.get("per_sample") or {}).items()}


class PanopticQuality(_PQBase):
    """PQ, SQ, RQ (all / things / stuff, per class) exactly as COCO ``panopticapi.evaluation``.

    Options
    -------
    gt_area : {"json", "png"}, default "json"
        Ground-truth segment area in the IoU's union: the JSON ``area`` like panopticapi (falls back to
        the PNG count when absent), or the PNG pixel count.
    crowd : {"last", "all"}, default "last"
        panopticapi ignores an unmatched prediction over VOID plus only the *last* crowd segment of its
        category in ``segments_info`` (a dict keeps one per category); ``"all"`` uses every crowd
        segment of the category (the evident intent).
    per_sample : bool, default True
        Keep per-image PQ / SQ / RQ (for bootstrap CIs and galleries).

    Values: ``PQ SQ RQ PQ_th SQ_th RQ_th PQ_st SQ_st RQ_st`` (fractions). ``per_class``: ``pq sq rq``
    (NaN for classes absent from both GT and predictions; panopticapi prints 0 for them and leaves them
    out of the means, as here). ``artifacts``: the per-class state ``tp fp fn iou_sum`` (lists in
    ``classes`` order) and ``num_classes_averaged`` (``N N_th N_st``).

    Reference: ``panopticapi.evaluation.pq_compute`` (Kirillov et al., CVPR 2019).
    """

    name: ClassVar[str] = "pq"
    option_names: ClassVar[tuple] = ("crowd", "gt_area", "per_sample")
    version: ClassVar[str] = "1"
    summary_keys: ClassVar[tuple] = ("PQ", "SQ", "RQ", "PQ_th", "SQ_th", "RQ_th", "PQ_st", "SQ_st", "RQ_st")

    _adds_iou_itself: ClassVar[bool] = True  # matched IoUs go into the state one by one, as panopticapi sums

    def _image_stats(self, gt_ids, gt_segs, pr_ids, pr_segs, image, path, gt_path=None):
        return F.pq_image_stats(gt_ids, gt_segs, pr_ids, pr_segs, self._cat_to_index, len(self._names),
                                image=image, path=path, gt_path=gt_path, gt_area=self.options.get("gt_area", "json"),
                                iou_out=self._state["iou"], crowd=self.options.get("crowd", "last"))


class ModifiedPanopticQuality(_PQBase):
    """PQ† ("modified PQ", Porzi et al., CVPR 2019) as torchmetrics' ``ModifiedPanopticQuality``.

    Things are scored like PQ (match at IoU > 0.5, fp / fn); for stuff classes every overlapping
    prediction adds its IoU and each ground-truth stuff region counts once, without fp / fn, so
    ``PQ†_stuff = mean IoU``-like. Follows torchmetrics' definition exactly, including its IoU union
    (void of both sides removed), its fn / fp filters (segments mostly on the other side's void are
    ignored) and its float32 IoUs.

    Options
    -------
    modified_stuff : bool, default True
        False gives torchmetrics' plain ``PanopticQuality``.
    crowd_as_void : bool, default True
        torchmetrics has no crowd notion; crowd ground truth is treated as void.
    iou_float32 : bool, default True
        Reproduce torchmetrics' float32 arithmetic (IoUs and RQ; ``False``: float64 throughout).

    Values: ``PQ_mod SQ_mod RQ_mod PQ_mod_th SQ_mod_th RQ_mod_th PQ_mod_st SQ_mod_st RQ_mod_st``.
    """

    name: ClassVar[str] = "pq_modified"
    option_names: ClassVar[tuple] = ("crowd_as_void", "iou_float32", "modified_stuff", "per_sample")
    version: ClassVar[str] = "1"
    summary_keys: ClassVar[tuple] = ("PQ_mod", "SQ_mod", "RQ_mod", "PQ_mod_th", "SQ_mod_th", "RQ_mod_th",
                                     "PQ_mod_st", "SQ_mod_st", "RQ_mod_st")

    def _image_stats(self, gt_ids, gt_segs, pr_ids, pr_segs, image, path, gt_path=None):
        pairs = F.pair_counts(gt_ids, pr_ids)
        return F.pq_modified_image_stats(
            gt_ids, gt_segs, pr_ids, pr_segs, self._cat_to_index, len(self._names), self._stuff,
            modified_stuff=self.options.get("modified_stuff", True),
            crowd_as_void=self.options.get("crowd_as_void", True),
            iou_float32=self.options.get("iou_float32", True), image=image, path=path, pairs=pairs,
            gt_path=gt_path)

    def _summary(self, st):
        return F.pq_modified_summary(st["tp"], st["fp"], st["fn"], st["iou"], self._is_thing, self._names,
                                     float32=self.options.get("iou_float32", True))

    def _rename(self, values: dict) -> dict:
        out = {}
        for k, v in values.items():
            base, _, suf = k.partition("_")
            out[f"{base}_mod" + (f"_{suf}" if suf else "")] = v
        return out



def pq_compute(gt_json, pred_json, gt_folder=None, pred_folder=None, workers: int = 1) -> dict:
    """panopticapi's ``pq_compute`` with segbench's engine: same inputs, same result layout.

    Parameters
    ----------
    gt_json, pred_json : path
        COCO panoptic JSON files.
    gt_folder, pred_folder : path, optional
        PNG folders (default: beside each JSON, named after its stem).
    workers : int
        Processes (identical numbers for any value).

    Returns
    -------
    dict
        ``{"All": {"pq", "sq", "rq", "n"}, "Things": {...}, "Stuff": {...}, "per_class": {category_id:
        {"pq", "sq", "rq"}}}`` like ``panopticapi.evaluation.pq_compute`` (per-class values of classes
        without GT and predictions are 0.0 there, as in panopticapi).

    Examples
    --------
    >>> import tempfile, os
    >>> from segbench.datasets.coco_panoptic import write_fake_panoptic
    >>> gt = write_fake_panoptic(os.path.join(tempfile.mkdtemp(), "gt.json"), num_samples=2, size=(24, 32), crowd=False)
    >>> pq_compute(gt, gt)["All"]["pq"]
    1.0
    """
    from ..datasets.coco_panoptic import CocoPanopticStyle
    from ..engine import check_coverage, evaluate_samples
    ds = CocoPanopticStyle(gt_json, gt_folder=gt_folder)
    src = ds.predictions(pred_json, pred_folder=pred_folder if pred_folder is not None else
                         (gt_folder if str(pred_json) == str(gt_json) else None))
    check_coverage(ds, src, ds.sample_ids())  # panopticapi refuses a ground-truth image without prediction
    out = evaluate_samples(ds, src, ds.build_metrics(["pq"]), workers=workers)
    r = out.results[f"{PanopticQuality.name}@{PanopticQuality.version}"]
    n = r.artifacts["num_classes_averaged"]
    res = {name: {"pq": r.values["PQ" + suf], "sq": r.values["SQ" + suf], "rq": r.values["RQ" + suf],
                  "n": n["N" + suf]} for name, suf in (("All", ""), ("Things", "_th"), ("Stuff", "_st"))}
    res["per_class"] = {}
    for c in ds.label_space().eval_classes:
        v = r.per_class[c.name]
        res["per_class"][c.id] = {k: (0.0 if v[k] != v[k] else v[k]) for k in ("pq", "sq", "rq")}
    return res

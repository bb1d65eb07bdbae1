"""COCO instance-segmentation / detection AP and AR (``coco_ap``), identical to pycocotools' COCOeval.

The state is the per-image matching result (:class:`~segbench.metrics.functional.coco.Records`):
per kept detection its category, rank in its image, score and a TP / FP / ignored code per area range
and IoU threshold, plus per (image, category) the number of non-ignored ground truths per area range.
States concatenate, so shards merged then computed equal one pass (the order of images does not
matter: ``compute`` sorts exactly as pycocotools does). Sorting, cumulative sums and the 101-point
interpolation happen only in :meth:`COCOAP.compute`.

Examples
--------
>>> from segbench.types import InstanceMasks, InstancePrediction, Sample, LabelSpace, ClassSpec
>>> ls = LabelSpace([ClassSpec("cat", 1, 0, is_thing=True)])
>>> gt = InstanceMasks(10, 10, [{"id": 1, "category_id": 1, "bbox": [0, 0, 4, 4], "area": 16,
...                               "iscrowd": 0}], image_id=1)
>>> m = COCOAP(ls, iou_type="bbox")
>>> m.update(InstancePrediction([{"category_id": 1, "score": 0.9, "bbox": [0, 0, 4, 4], "area": 16}]),
...          Sample("1", None, gt))
>>> round(m.compute().values["AP"], 6)
1.0
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from ..errors import UsageError
from .base import Metric, MetricResult
from .functional.coco import (LVIS_KEYS, COCOParams, Records, STAT_KEYS, accumulate, evaluate_batch,
                              lvis_image_detections, summarize, summarize_lvis)

__all__ = ["COCOAP", "LVISAP", "parse_max_dets", "parse_lvis_max_dets", "pr_curve_figure"]


def parse_max_dets(value) -> tuple:
    """``"1,10,100"`` / ``[1, 10, 100]`` → ``(1, 10, 100)`` (usage error otherwise)."""
    if value is None:
        return (1, 10, 100)
    try:
        if isinstance(value, str):
            vals = tuple(int(v) for v in value.replace(" ", "").split(",") if v)
        else:
            vals = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise UsageError(f"max_dets: expected comma-separated positive integers (e.g. 1,10,100), found {value!r}") \
            from None
    if not vals or min(vals) < 1:
        raise UsageError(f"max_dets: expected positive integers, found {value!r}")
    return tuple(sorted(vals))


def parse_lvis_max_dets(value) -> int:
    """LVIS' one per-image cap: ``None`` → 300; ``"300"``, ``300`` or the last of a list / ``"a,b"``."""
    md = 300 if value is None else value
    if isinstance(md, (list, tuple)):
        md = md[-1]
    try:
        return int(str(md).split(",")[-1])
    except ValueError:
        raise UsageError(f"max_dets: expected one positive integer for LVIS (e.g. 300), found {md!r}") from None


class COCOAP(Metric):
    """COCO AP / AR for ``segm`` (mask IoU) or ``bbox`` evaluation.

    ``values``: ``AP AP50 AP75 APs APm APl AR1 AR10 AR100 ARs ARm ARl`` (fractions; NaN where
    pycocotools prints -1, i.e. no ground truth in that setting). ``per_class``: ``AP AP50 AP75 APs
    APm APl AR`` per category (at the last ``maxDets``) and ``num_gt``. ``per_sample``: per image
    ``TP50 FP50 FN50 num_gt`` (IoU 0.50, area all). ``artifacts``: precision at the 101 recall points
    per class at IoU 0.50 and 0.75 and their class means (area all, last ``maxDets``), rounded to 4
    decimals.

    Parameters
    ----------
    label_space : LabelSpace, optional
        Categories to evaluate: native ``id`` = COCO ``category_id`` (others are ignored, as
        pycocotools does). Without it, every category seen is evaluated.
    iou_type : {'segm', 'bbox'}, default 'segm'
    max_dets : sequence of int or str, default (1, 10, 100)
    fix_max_dets : bool, default False
        pycocotools reads AP at ``maxDets == 100`` and the other APs at ``maxDets[2]``; True reads all
        of them at ``maxDets[-1]``.
    fix_zero_gt_id : bool, default False
        pycocotools counts a match to a ground truth with annotation ``id`` 0 as unmatched; True
        counts it as a match.

    Notes
    -----
    The formulas are those of ``COCOeval`` (see :mod:`segbench.metrics.functional.coco`):
    ``AP = mean over IoU thresholds, classes (with GT) and 101 recall points of the interpolated
    precision``, ``AR = mean over IoU thresholds and classes of the final recall``.
    """

    name: ClassVar[str] = "coco_ap"
    option_names: ClassVar[tuple] = ("fix_max_dets", "fix_zero_gt_id", "iou_type", "max_dets")
    version: ClassVar[str] = "1"
    task: ClassVar[str] = "instance"
    summary_keys: ClassVar[tuple] = STAT_KEYS

    def __init__(self, label_space=None, **options):
        iou_type = options.get("iou_type") or "segm"
        if iou_type not in ("segm", "bbox"):
            raise UsageError(f"--iou-type: expected segm or bbox, found {iou_type!r}")
        md = parse_max_dets(options.get("max_dets"))
        options = dict(options, iou_type=iou_type, max_dets=list(md),
                       fix_max_dets=bool(options.get("fix_max_dets", False)),
                       fix_zero_gt_id=bool(options.get("fix_zero_gt_id", False)))
        super().__init__(label_space, **options)
        if not options["fix_max_dets"] and len(md) < 3:
            raise UsageError(f"max_dets: pycocotools' summary needs 3 values (got {list(md)}); give 3 or set "
                             f"fix_max_dets=True")
        self.params = COCOParams(iou_type=iou_type, max_dets=md, fix_zero_gt_id=options["fix_zero_gt_id"])
        self._cats = None
        if label_space is not None:
            self._cats = sorted(int(c.id) for c in label_space.eval_classes)
        self._pending: list = []
        self._parts: list = []

    # ---- state
    def update(self, prediction, sample) -> None:
        t = sample.target
        image_id = t.image_id if getattr(t, "image_id", None) is not None else sample.sample_id
        gts = list(t.annotations or [])
        dets = list(getattr(prediction, "detections", None) or []) if prediction is not None else []
        self._pending.append((image_id, int(t.height), int(t.width), gts, dets))
        if len(self._pending) >= 256:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._parts.append(evaluate_batch(self._pending, self.params, self._cats))
            self._pending = []

    def records(self) -> Records:
        """All matching records so far (flushes pending images)."""
        self._flush()
        if not self._parts:
            return Records.empty(len(self.params.area_rng), len(self.params.iou_thrs))
        rec = Records.concat(self._parts)
        self._parts = [rec]
        return rec

    def state_dict(self) -> dict:
        return {"format": "coco-records-1", **self.records().to_dict()}

    def _load_state(self, state: dict) -> None:
        self._pending = []
        self._parts = [Records.from_dict(state)] if state.get("det_img") is not None else []

    def merge(self, other: "COCOAP") -> "COCOAP":
        self._require_same_type(other)
        self._flush()
        other._flush()
        self._parts.extend(other._parts)
        return self

    # ---- result
    def _cat_ids(self, rec: Records) -> list:
        if self._cats is not None:
            return self._cats
        return sorted(set(rec.gt_cat.tolist()) | set(rec.det_cat.tolist()))

    def compute(self) -> MetricResult:
        rec = self.records()
        cats = self._cat_ids(rec)
        acc = accumulate(rec, cats, self.params)
        stats = summarize(acc, self.params, fix_max_dets=self.options["fix_max_dets"])
        values = {k: (math.nan if v == -1 else float(v)) for k, v in stats.items()}
        names = self._names(cats)
        prec = acc["precision"]                       # (T, R, K, A, M)
        rcl = acc["recall"]                           # (T, K, A, M)
        thr = np.asarray(self.params.iou_thrs)
        i50 = np.flatnonzero(np.isclose(thr, 0.5))
        i75 = np.flatnonzero(np.isclose(thr, 0.75))
        per_class = {}
        curves50, curves75 = {}, {}
        for k, cid in enumerate(cats):
            if acc["npig"][k, 0] == 0 and not (acc["npig"][k] > 0).any():
                continue
            row = {"AP": _mv(prec[:, :, k, 0, -1])}
            row["AP50"] = _mv(prec[i50, :, k, 0, -1]) if i50.size else math.nan
            row["AP75"] = _mv(prec[i75, :, k, 0, -1]) if i75.size else math.nan
            for a, lbl in enumerate(self.params.area_lbl[1:4], start=1):
                if a < prec.shape[3]:
                    row["AP" + lbl[0]] = _mv(prec[:, :, k, a, -1])
            row["AR"] = _mv(rcl[:, k, 0, -1])
            row["num_gt"] = int(acc["npig"][k, 0])
            per_class[names[k]] = row
            if i50.size and acc["npig"][k, 0] > 0:
                curves50[names[k]] = np.round(prec[i50[0], :, k, 0, -1], 4).tolist()
            if i75.size and acc["npig"][k, 0] > 0:
                curves75[names[k]] = np.round(prec[i75[0], :, k, 0, -1], 4).tolist()

        def _mean_curve(ti):
            if not ti.size:
                return []
            p = prec[ti[0], :, :, 0, -1]              # (R, K)
            ok = (p > -1).all(axis=0)
            return np.round(p[:, ok].mean(axis=1), 4).tolist() if ok.any() else []

        all_ok = (prec[:, :, :, 0, -1] > -1).all(axis=(0, 1))
        mean_all = (np.round(prec[:, :, all_ok, 0, -1].mean(axis=(0, 2)), 4).tolist() if all_ok.any() else [])
        artifacts = {"pr_curves": {
            "recall": [round(float(r), 2) for r in self.params.rec_thrs],
            "iou_type": self.params.iou_type, "area": "all", "max_dets": int(self.params.max_dets[-1]),
            "iou50": curves50, "iou75": curves75,
            "mean_iou50": _mean_curve(i50), "mean_iou75": _mean_curve(i75), "mean": mean_all},
            "num_images": len(rec.image_ids), "num_detections": rec.num_detections}
        return MetricResult(values=values, per_class=per_class, per_sample=self._per_sample(rec, i50),
                            artifacts=artifacts)

    def _per_sample(self, rec: Records, i50) -> dict | None:
        """Per image at IoU 0.50 (area all, all kept detections): TP, FP, FN and the GT count."""
        if not i50.size or not rec.image_ids:
            return None
        n = len(rec.image_ids)
        code = rec.det_code[:, 0, int(i50[0])]
        tp = np.bincount(rec.det_img, weights=(code == 1), minlength=n).astype(np.int64)
        fp = np.bincount(rec.det_img, weights=(code == 0), minlength=n).astype(np.int64)
        ng = np.bincount(rec.gt_img, weights=rec.gt_npig[:, 0], minlength=n).astype(np.int64)
        return {str(iid): {"TP50": int(tp[i]), "FP50": int(fp[i]), "FN50": int(ng[i] - tp[i]), "num_gt": int(ng[i])}
                for i, iid in enumerate(rec.image_ids)}

    def _names(self, cats) -> list:
        if self.label_space is None:
            return [str(c) for c in cats]
        by_id = {int(c.id): c.name for c in self.label_space.eval_classes}
        return [by_id.get(int(c), str(c)) for c in cats]


class LVISAP(COCOAP):
    """LVIS federated AP (``lvis_ap``), identical to ``lvis.LVISEval`` (lvis-api 0.5.3).

    Per image, detections are cut to the ``max_dets`` (300) highest scores; those of categories the
    image neither contains nor lists in ``neg_category_ids`` are dropped; unmatched detections of its
    ``not_exhaustive_category_ids`` are ignored; there are no crowd regions. The image lists come from
    ``sample.meta`` (the COCO adapters copy them from the image records). ``values``: ``AP AP50 AP75
    APs APm APl APr APc APf AR@300 ARs@300 ARm@300 ARl@300``.

    Parameters
    ----------
    label_space : LabelSpace, optional
    iou_type : {'segm', 'bbox'}
    max_dets : int, default 300
    frequencies : dict, optional
        ``{category id (str or int): 'r' | 'c' | 'f'}`` for APr / APc / APf.
    """

    name: ClassVar[str] = "lvis_ap"
    option_names: ClassVar[tuple] = ("fix_max_dets", "fix_zero_gt_id", "frequencies", "iou_type", "max_dets")
    version: ClassVar[str] = "1"
    task: ClassVar[str] = "instance"
    summary_keys: ClassVar[tuple] = LVIS_KEYS + ("AR@300",)

    def __init__(self, label_space=None, **options):
        md = parse_lvis_max_dets(options.get("max_dets", 300))
        options = dict(options, max_dets=[md], fix_max_dets=True)
        options["frequencies"] = {str(k): str(v) for k, v in (options.get("frequencies") or {}).items()}
        super().__init__(label_space, **options)
        self.params = COCOParams(iou_type=self.params.iou_type, max_dets=(md,), federated=True)

    def update(self, prediction, sample) -> None:
        t = sample.target
        image_id = t.image_id if getattr(t, "image_id", None) is not None else sample.sample_id
        gts = list(t.annotations or [])
        dets = list(getattr(prediction, "detections", None) or []) if prediction is not None else []
        meta = sample.meta or {}
        dets = lvis_image_detections(dets, gts, meta.get("neg_category_ids") or (),
                                     meta.get("not_exhaustive_category_ids") or (), self.params.max_dets[-1])
        self._pending.append((image_id, int(t.height), int(t.width), gts, dets))
        if len(self._pending) >= 256:
            self._flush()

    def compute(self) -> MetricResult:
        rec = self.records()
        cats = self._cat_ids(rec)
        acc = accumulate(rec, cats, self.params)
        freq = self.options.get("frequencies") or {}
        groups = [[k for k, c in enumerate(cats) if freq.get(str(c)) == f] for f in ("r", "c", "f")]
        stats = summarize_lvis(acc, self.params, groups)
        values = {k: (math.nan if v == -1 else float(v)) for k, v in stats.items()}
        names = self._names(cats)
        prec = acc["precision"]
        per_class = {}
        for k, cid in enumerate(cats):
            if not (acc["npig"][k] > 0).any():
                continue
            per_class[names[k]] = {"AP": _mv(prec[:, :, k, 0, -1]), "AP50": _mv(prec[0, :, k, 0, -1]),
                                   "num_gt": int(acc["npig"][k, 0]), "frequency": freq.get(str(cid), "")}
        return MetricResult(values=values, per_class=per_class,
                            artifacts={"num_images": len(rec.image_ids), "num_detections": rec.num_detections})


def _mv(s) -> float:
    v = np.asarray(s)
    v = v[v > -1]
    return float(np.mean(v)) if v.size else math.nan


def pr_curve_figure(artifact, result, record, metric_key: str):
    """Precision–recall figure of a ``coco_ap`` result (``artifacts["pr_curves"]``) for the report.

    Left: the class-mean curves at IoU 0.50, 0.75 and averaged over IoU 0.50:0.95; right: per-class
    curves at IoU 0.50 (at most 20 classes, highest AP first). Returns None when there is nothing to draw.
    """
    from matplotlib.figure import Figure
    if not isinstance(artifact, dict) or not artifact.get("recall"):
        return None
    rec = np.asarray(artifact["recall"], dtype=float)
    fig = Figure(figsize=(10, 4))
    ax1 = fig.add_subplot(1, 2, 1)
    drawn = False
    for key, lbl in (("mean_iou50", "IoU 0.50"), ("mean_iou75", "IoU 0.75"), ("mean", "IoU 0.50:0.95")):
        c = artifact.get(key) or []
        if len(c) == len(rec):
            ax1.plot(rec, c, label=lbl)
            drawn = True
    ax1.set_xlabel("recall")
    ax1.set_ylabel("precision")
    ax1.set_xlim(0, 1)
    ax1.set_ylim(0, 1.02)
    ax1.set_title(f"mean precision-recall, {metric_key}")
    if drawn:
        ax1.legend(loc="lower left", fontsize=8)
    ax2 = fig.add_subplot(1, 2, 2)
    per = artifact.get("iou50") or {}
    pc = getattr(result, "per_class", None) or {}
    names = sorted(per, key=lambda n: -(pc.get(n, {}).get("AP50") or 0))[:20]
    for n in names:
        ax2.plot(rec, per[n], lw=1, label=n)
    ax2.set_xlabel("recall")
    ax2.set_xlim(0, 1)
    ax2.set_ylim(0, 1.02)
    ax2.set_title("per class, IoU 0.50")
    if names:
        ax2.legend(loc="lower left", fontsize=6, ncol=2)
    if not drawn and not names:
        return None
    return fig

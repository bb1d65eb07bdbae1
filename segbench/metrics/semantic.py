"""Semantic-segmentation metrics: :class:`MeanIoU` (registry name ``miou``).

One int64 confusion matrix per run (plus the void-prediction vector) is the whole state, so shards
merged then computed equal one pass, bit for bit. For many classes (a dense matrix above
:data:`~segbench.metrics.functional.semantic.SPARSE_MATRIX_BYTES`, i.e. more than about 2,900 classes,
up to 65535) the matrix is kept as keyed counts
(:class:`~segbench.metrics.functional.semantic.KeyedConfusion`), with the same numbers. With
Cityscapes-style instance ids in the targets and the classes' average instance sizes as an option, the
same metric also computes Cityscapes' iIoU; with categories in the label space it computes the
category-level IoU (and iIoU).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..errors import BadInputError
from ..types import LabelSpace, SoftPrediction
from .base import Metric, MetricResult, label_space_or_num_classes
from .functional import semantic as _fs
from .functional.semantic import (INSTANCE_MIN_ID, KeyedConfusion, category_scores, confusion_and_instances,
                                  instance_iou, keyed_confusion_and_instances, merge_keyed, scores_from_confusion)

__all__ = ["MeanIoU", "CONFUSION_ARTIFACT_MAX_CLASSES", "CONFUSION_TOP_PAIRS"]

#: The full confusion matrix goes into ``artifacts["confusion_matrix"]`` (and the report's heat map)
#: only up to this many classes; above it the artifact is the :data:`CONFUSION_TOP_PAIRS` largest
#: off-diagonal cells (``confusion_top_pairs``) and a note.
CONFUSION_ARTIFACT_MAX_CLASSES = 512
#: Number of most-confused (GT, prediction) pairs kept when the matrix is not stored.
CONFUSION_TOP_PAIRS = 100
#: Pending per-image keyed counts are merged into the run's state once they hold this many cells
#: (or more than the state itself), so memory stays O(nnz) and updates O(nnz log nnz) amortised.
_KEYED_FLUSH_CELLS = 1 << 20


class MeanIoU(Metric):
    """Dataset-level confusion-matrix IoU family: mIoU, mAcc, aAcc, fwIoU, mDice (+ iIoU, categories).

    The confusion matrix is accumulated over *all pixels of all images* and the scores are computed
    once from it, as the official evaluators do (cityscapesScripts, the PASCAL VOC devkit, mmseg):
    ``IoU_c = TP_c / (TP_c + FP_c + FN_c)`` with dataset totals. torchmetrics' ``MeanIoU`` (and
    ``MulticlassJaccardIndex`` when reset per image) averages *per-image* IoUs instead, which weighs a
    small image region as much as a whole image and is undefined for classes absent from an image; its
    numbers are not comparable with published Cityscapes / VOC / ADE20K results, so segbench follows the
    dataset-level definition (``MulticlassJaccardIndex(average=None)`` accumulated over the dataset gives
    the same per-class IoU, which the tests check).

    Targets / predictions read as stored values plus a lookup table
    (:class:`~segbench.io.labels.NativeSemanticMask`, e.g. Cityscapes label ids) are counted in the
    stored-value space and the table is folded into the small joint histogram (no per-pixel mapping);
    the numbers are identical to mapping every pixel first.

    GT pixels equal to ``ignore_index`` are not scored; predictions equal to ``ignore_index`` are void
    (wrong for the GT class, a false positive of none), as in cityscapesScripts. A class absent from both
    GT and predictions has NaN IoU and is left out of the means (shown as "n/a" in tables).

    Values (fractions in 0..1): ``mIoU mAcc aAcc fwIoU mDice``; with categories in the label space
    ``mIoU_category``; with ``instance_avg_size`` and targets carrying ``instance_ids``: ``iIoU``
    (mean over the instance classes) and ``iIoU_category``. ``per_class``: ``IoU Acc Dice precision
    recall`` (+ ``iIoU``). ``artifacts``: ``confusion_matrix`` (list of lists, rows = GT, columns =
    prediction, train-id order), ``void`` (per GT class), ``class_names``, ``categories``. Above
    :data:`CONFUSION_ARTIFACT_MAX_CLASSES` classes the matrix, ``void`` and ``class_names`` are left out
    (a 65535² matrix would be 32 GiB) and ``confusion_top_pairs`` lists the
    :data:`CONFUSION_TOP_PAIRS` most confused ``[gt name, predicted name, pixels]`` (largest first),
    with ``confusion_note`` saying so, ``confusion_nnz`` and ``void_total``.

    Storage: with ``C`` classes the state is a dense ``(C, C)`` int64 matrix while ``C² × 8`` bytes
    stay within :data:`~segbench.metrics.functional.semantic.SPARSE_MATRIX_BYTES` (64 MiB, ``C ≤ 2896``),
    else a :class:`~segbench.metrics.functional.semantic.KeyedConfusion` (sorted pair keys
    ``gt * C + pred`` and int64 counts; state keys ``confusion_keys`` / ``confusion_counts``), for
    any ``C ≤ 65535`` in ``O(nnz)`` memory. Every score uses only the diagonal, the row and the column
    sums, so both storages give the same bits; keyed states merge by adding counts of equal keys, in
    canonical form, so any shard split gives identical states.

    Parameters
    ----------
    label_space : LabelSpace
    ignore_index : int, optional
        Defaults to the label space's (255).
    instance_avg_size : dict of str to float, optional
        Average instance size (pixels) per thing class name; enables iIoU (Cityscapes:
        ``args.avgClassSize`` of cityscapesScripts).
    threshold : float, default 0.5
        Binarisation threshold when a :class:`~segbench.types.SoftPrediction` arrives (2 classes).
    per_sample : bool, default True
        Keep each image's own mIoU and pixel accuracy (``per_sample`` of the result: worst-case
        galleries, bootstrap over images); the dataset-level values never use them.
    void_categories : dict of str to str, optional
        Prediction codes (outside ``0..C-1``) that are void but belong to a category, ``{"254":
        "vehicle"}``: scored as void everywhere except in the category iIoU, where they count as a
        category hit (cityscapesScripts' behaviour for ``caravan`` / ``trailer`` predictions).
    confusion_storage : {"auto", "dense", "keyed"}, default "auto"
        Force the dense or the keyed state (``auto``: keyed when a dense matrix would exceed
        ``SPARSE_MATRIX_BYTES``). The numbers do not depend on it.

    Examples
    --------
    >>> import numpy as np
    >>> from segbench.types import LabelSpace, Sample, SemanticMask, SemanticPrediction
    >>> ls = LabelSpace.from_names(["bg", "fg"])
    >>> m = MeanIoU(ls)
    >>> gt = np.array([[0, 0], [1, 1]], np.uint8)
    >>> m.update(SemanticPrediction(np.array([[0, 1], [1, 1]], np.uint8)), Sample("a", None, SemanticMask(gt)))
    >>> r = m.compute()
    >>> round(r.values["mIoU"], 4), r.per_class["fg"]["IoU"]
    (0.5833, 0.6666666666666666)

    65535 classes (ignore index 65535), keyed state:

    >>> big = MeanIoU(LabelSpace.from_num_classes(65535), ignore_index=65535, per_sample=False)
    >>> g = np.array([[60001, 60001], [42, 65535]], np.uint16)
    >>> p = np.array([[60001, 42], [42, 7]], np.uint16)
    >>> big.update(SemanticPrediction(p), Sample("b", None, SemanticMask(g)))
    >>> rb = big.compute()
    >>> round(rb.values["mIoU"], 4), rb.artifacts["confusion_top_pairs"]
    (0.5, [['class_60001', 'class_42', 1]])

    References
    ----------
    cityscapesScripts ``evaluation/evalPixelLevelSemanticLabeling.py``; Cordts et al., CVPR 2016;
    Long et al., CVPR 2015 (fwIoU).
    """

    name: ClassVar[str] = "miou"
    option_names: ClassVar[tuple] = ("confusion_storage", "ignore_index", "instance_avg_size", "num_classes", "per_sample", "threshold", "void_categories")
    version: ClassVar[str] = "1"
    task: ClassVar[str] = "semantic"
    summary_keys: ClassVar[tuple] = ("mIoU", "mAcc", "aAcc", "fwIoU", "mDice")

    def __init__(self, label_space: LabelSpace | None = None, **options: Any):
        label_space = label_space_or_num_classes(label_space, options, "MeanIoU")
        super().__init__(label_space, **options)
        ls = self.label_space
        self.num_classes = ls.num_classes
        self.ignore_index = int(options.get("ignore_index", ls.ignore_index))
        self.threshold = float(options.get("threshold", 0.5))
        self._per_sample = bool(options.get("per_sample", True))
        # categories (index per train id, -1 = none)
        cats = ls.categories()
        self._cat_names = cats
        self._class_cat = np.array([cats.index(c.category) if c.category else -1 for c in ls.eval_classes],
                                   np.int64)
        # instance categories: every labelled row of the category has instances (cityscapesScripts)
        inst_cats = []
        for k, cname in enumerate(cats):
            rows = [c for c in ls.classes if c.category == cname and c.id >= 0]
            if rows and all(c.is_thing for c in rows):
                inst_cats.append(k)
        self._inst_cats = inst_cats
        avg = options.get("instance_avg_size") or {}
        self._avg = np.array([float(avg[n]) if n in avg else np.nan for n in ls.names], np.float64)
        self._use_inst = bool(avg)
        vc = options.get("void_categories") or {}
        self._void_values = sorted(int(k) for k in vc)
        self._void_cat = {int(k): cats.index(v) for k, v in vc.items() if v in cats}
        if self._use_inst:
            self._lut = ls.id_to_train_lut(65536).astype(np.int64)
        storage = str(options.get("confusion_storage", "auto"))
        if storage not in ("auto", "dense", "keyed"):
            raise ValueError(f"confusion_storage must be auto, dense or keyed, got {storage!r}")
        self.keyed = storage == "keyed" or (storage == "auto" and _fs.use_keyed(self.num_classes))
        self._reset()

    @property
    def confusion(self):
        """The run's confusion counts: ndarray (C, C) int64, or a KeyedConfusion for many classes."""
        if self._pending:
            self._flush()
        return self._cm

    @confusion.setter
    def confusion(self, value) -> None:
        self._pending = []
        self._pending_cells = 0
        self._cm = value

    def _flush(self) -> None:
        self._cm = merge_keyed([self._cm] + self._pending)
        self._pending = []
        self._pending_cells = 0

    def _reset(self) -> None:
        C = self.num_classes
        try:
            self.confusion = KeyedConfusion.empty(C) if self.keyed else np.zeros((C, C), np.int64)
        except MemoryError:
            raise MemoryError(f"a dense {C}x{C} confusion matrix needs {C * C * 8 / 2**30:.1f} GiB and does not fit "
                              f"in memory; pass confusion_storage='keyed' (or 'auto')") from None
        self.void = np.zeros(C, np.int64)
        self.void_codes = np.zeros((C, len(self._void_values)), np.int64)
        self.instances = np.zeros((0, 4), np.int64)
        self.instance_images = 0
        self.num_samples = 0
        self.per_sample: dict = {}

    # ------------------------------------------------------------------ protocol
    def update(self, prediction, sample) -> None:
        target = sample.target
        # stored values + lookup table (NativeSemanticMask / NativeSemanticPrediction): the table is
        # folded into the histogram, no per-pixel mapping
        g_native = getattr(target, "native", None)
        if g_native is not None:
            gt, gt_lut, gpath = g_native, target.lut, getattr(target, "path", None)
        else:
            gt, gt_lut, gpath = target.mask, None, (sample.meta or {}).get("gt_path")
        p_native = getattr(prediction, "native", None)
        if p_native is not None:
            pm, pred_lut, ppath = p_native, prediction.lut, getattr(prediction, "path", None)
        elif isinstance(prediction, SoftPrediction):
            pm, pred_lut, ppath = (np.asarray(prediction.prob) > self.threshold).astype(np.uint8), None, None
        else:
            pm, pred_lut, ppath = np.asarray(getattr(prediction, "mask", prediction)), None, None
        if pm.shape != gt.shape:
            raise BadInputError(f"sample {sample.sample_id}: expected a prediction of shape {gt.shape} "
                                f"(the GT's), found {pm.shape}; pass --resize nearest to resize it", path=ppath)
        inst = getattr(target, "instance_ids", None) if self._use_inst else None
        fn = keyed_confusion_and_instances if self.keyed else confusion_and_instances
        try:
            cm, vcols, rec = fn(
                gt, pm, inst, self.num_classes, self.ignore_index, self._lut if inst is not None else None,
                self._class_cat, self._void_values, self._void_cat, INSTANCE_MIN_ID, gt_lut, pred_lut)
        except ValueError as e:
            msg = str(e)
            path = gpath if msg.startswith("gt") else ppath if msg.startswith("pred") else None
            raise BadInputError(f"sample {sample.sample_id}: {msg}; expected "
                                + ("the label table's values" if (gt_lut is not None or pred_lut is not None)
                                   else f"train ids 0..{self.num_classes - 1} or {self.ignore_index} (void)"),
                                path=path) from None
        if self.keyed:
            self._pending.append(cm)
            self._pending_cells += cm.nnz
            if self._pending_cells > max(_KEYED_FLUSH_CELLS, self._cm.nnz):
                self._flush()
            npix = int(cm.counts.sum())
        else:
            self._cm += cm
            npix = int(cm.sum())
        self.void += vcols.sum(1)
        if self._void_values:
            self.void_codes += vcols[:, 1:]
        self.num_samples += 1
        if self._per_sample:
            ss = scores_from_confusion(cm, vcols.sum(1))
            self.per_sample[str(sample.sample_id)] = {"mIoU": ss["mIoU"], "aAcc": ss["aAcc"],
                                                      "pixels": npix + int(vcols.sum())}
        if rec is not None:
            if rec.size:
                self.instances = np.concatenate([self.instances, rec])
            self.instance_images += 1

    def merge(self, other: "MeanIoU") -> "MeanIoU":
        self._require_same_type(other)
        if other.num_classes != self.num_classes:
            raise ValueError("cannot merge MeanIoU states with different numbers of classes")
        oc = self._coerce(other.confusion)
        if self.keyed:  # added lazily, like updates: the canonical sum does not depend on when
            self._pending.append(oc)
            self._pending_cells += oc.nnz
            if self._pending_cells > max(_KEYED_FLUSH_CELLS, self._cm.nnz):
                self._flush()
        else:
            self.confusion = self.confusion + oc
        self.void = self.void + other.void
        self.void_codes = self.void_codes + other.void_codes
        self.instances = np.concatenate([self.instances, other.instances])
        self.instance_images += other.instance_images
        self.num_samples += other.num_samples
        self.per_sample = {**self.per_sample, **other.per_sample}
        return self

    def _coerce(self, cm):
        """``cm`` (dense or keyed) in this metric's storage."""
        if self.keyed:
            return cm if isinstance(cm, KeyedConfusion) else KeyedConfusion.from_dense(cm)
        return cm.to_dense() if isinstance(cm, KeyedConfusion) else cm

    def state_dict(self) -> dict:
        cm = self.confusion
        if self.keyed:
            head = {"confusion_keys": cm.keys.copy(), "confusion_counts": cm.counts.copy(),
                    "num_classes": int(self.num_classes)}
        else:
            head = {"confusion": cm.copy()}
        return {**head, "void": self.void.copy(), "void_codes": self.void_codes.copy(),
                "instances": self.instances.copy(), "instance_images": int(self.instance_images),
                "num_samples": int(self.num_samples), "per_sample": dict(self.per_sample)}

    def _load_state(self, state: dict) -> None:
        C = self.num_classes
        if "confusion_keys" in state:
            if int(state.get("num_classes", C)) != C:
                raise ValueError(f"state has {state.get('num_classes')} classes, the metric {C}")
            cm = KeyedConfusion(state["confusion_keys"], state["confusion_counts"], C)
        else:
            cm = np.asarray(state["confusion"], np.int64).reshape(C, C)
        self.confusion = self._coerce(cm)
        self.void = np.asarray(state.get("void", np.zeros(C)), np.int64).reshape(C)
        V = len(self._void_values)
        self.void_codes = np.asarray(state.get("void_codes", np.zeros((C, V))), np.int64).reshape(C, V)
        self.instances = np.asarray(state.get("instances", np.zeros((0, 4))), np.int64).reshape(-1, 4)
        self.instance_images = int(state.get("instance_images", 0))
        self.num_samples = int(state.get("num_samples", 0))
        self.per_sample = dict(state.get("per_sample") or {})

    def compute(self) -> MetricResult:
        cmat = self.confusion
        s = scores_from_confusion(cmat, self.void)
        names = self.label_space.names
        values = {k: s[k] for k in ("mIoU", "mAcc", "aAcc", "fwIoU", "mDice")}
        per_class = {n: {"IoU": float(s["IoU"][i]), "Acc": float(s["Acc"][i]), "Dice": float(s["Dice"][i]),
                         "precision": float(s["precision"][i]), "recall": float(s["recall"][i])}
                     for i, n in enumerate(names)}
        if self.num_classes <= CONFUSION_ARTIFACT_MAX_CLASSES:
            dense = cmat.to_dense() if self.keyed else cmat
            artifacts: dict = {"confusion_matrix": dense.tolist(), "void": self.void.tolist(),
                               "class_names": list(names), "num_samples": self.num_samples}
        else:
            kc = cmat if self.keyed else KeyedConfusion.from_dense(cmat)
            artifacts = {"confusion_top_pairs": [[names[i], names[j], n]
                                                 for i, j, n in kc.top_pairs(CONFUSION_TOP_PAIRS)],
                         "confusion_note": f"{self.num_classes} classes: the full confusion matrix is not stored "
                                           f"(more than {CONFUSION_ARTIFACT_MAX_CLASSES} classes); "
                                           f"confusion_top_pairs lists the {CONFUSION_TOP_PAIRS} largest "
                                           f"off-diagonal cells as [gt, prediction, pixels]",
                         "confusion_nnz": kc.nnz, "void_total": int(self.void.sum()),
                         "num_samples": self.num_samples}
        ncat = len(self._cat_names)
        if ncat:
            cat_iou = category_scores(cmat, self.void, self._class_cat, ncat)
            values["mIoU_category"] = _nanmean(cat_iou)
            artifacts["categories"] = {c: {"IoU": float(cat_iou[k])} for k, c in enumerate(self._cat_names)}
        if self._use_inst and self.instance_images:
            cvfp = np.zeros(ncat, np.int64)
            for j, code in enumerate(self._void_values):
                k = self._void_cat.get(code)
                if k is not None:
                    cvfp[k] += int(self.void_codes[self._class_cat != k, j].sum())
            ii = instance_iou(self.instances, cmat, self.void, self._avg, self._class_cat, ncat,
                              self._inst_cats, cvfp)
            values["iIoU"] = _nanmean(ii["iIoU"])
            for i, n in enumerate(names):
                per_class[n]["iIoU"] = float(ii["iIoU"][i])
            if ncat:
                values["iIoU_category"] = _nanmean(ii["iIoU_category"])
                for k, c in enumerate(self._cat_names):
                    artifacts["categories"][c]["iIoU"] = float(ii["iIoU_category"][k])
        per_sample = dict(sorted(self.per_sample.items())) if self._per_sample else None
        return MetricResult(values=values, per_class=per_class, per_sample=per_sample, artifacts=artifacts)


def _nanmean(x) -> float:
    x = np.asarray(x, np.float64)
    ok = ~np.isnan(x)
    return float(x[ok].sum() / ok.sum()) if ok.any() else float("nan")

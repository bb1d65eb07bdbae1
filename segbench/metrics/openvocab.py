"""Zero-shot semantic segmentation metric ``zeroshot`` (SPNet / ZS3Net protocol).

One int64 confusion matrix over all classes (plus the void-prediction vector) is the state, counted by
:func:`segbench.metrics.functional.semantic.confusion_matrix`; shards merged then computed equal one
pass bit for bit.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..errors import BadInputError, UsageError
from ..types import LabelSpace
from .base import Metric, MetricResult, label_space_or_num_classes
from .functional.openvocab import zeroshot_scores
from .functional.semantic import confusion_matrix, scores_from_confusion

__all__ = ["ZeroShotIoU"]


class ZeroShotIoU(Metric):
    """mIoU over seen classes, over unseen classes and their harmonic mean (generalised zero-shot).

    ``IoU_c`` from the dataset-level confusion matrix (as ``miou``); ``mIoU_seen`` / ``mIoU_unseen`` are
    the means over the seen / unseen classes (classes absent from GT and prediction left out),
    ``hIoU = 2 · seen · unseen / (seen + unseen)``, ``mIoU`` over all classes.

    Values: ``mIoU_seen mIoU_unseen hIoU mIoU``. ``per_class``: ``IoU`` and ``unseen`` (bool as 0/1).
    ``per_sample``: ``mIoU`` of the image (from its own matrix; reports only).

    Parameters
    ----------
    label_space : LabelSpace
    unseen : list of str or int
        The unseen classes (names or train ids), e.g. VOC's ``["cow", "motorbike", "airplane", "sofa",
        "cat", "tv"]`` split of ZS3Net (required).
    ignore_index : int, optional
        Defaults to the label space's (255).

    Examples
    --------
    >>> import numpy as np
    >>> from segbench.types import LabelSpace, Sample, SemanticMask, SemanticPrediction
    >>> m = ZeroShotIoU(LabelSpace.from_names(["bg", "cat", "cow"]), unseen=["cow"])
    >>> g = np.array([[0, 1, 2, 2]], np.uint8)
    >>> m.update(SemanticPrediction(np.array([[0, 1, 2, 1]], np.uint8)), Sample("a", None, SemanticMask(g)))
    >>> r = m.compute().values
    >>> r["mIoU_seen"], r["mIoU_unseen"], round(r["hIoU"], 4)
    (0.75, 0.5, 0.6)

    References
    ----------
    Y. Xian et al., SPNet, CVPR 2019; M. Bucher et al., ZS3Net, NeurIPS 2019.
    """

    name: ClassVar[str] = "zeroshot"
    option_names: ClassVar[tuple] = ("ignore_index", "num_classes", "unseen")
    version: ClassVar[str] = "1"
    task: ClassVar[str] = "semantic"
    summary_keys: ClassVar[tuple] = ("mIoU_seen", "mIoU_unseen", "hIoU", "mIoU")

    def __init__(self, label_space: LabelSpace | None = None, **options: Any):
        label_space = label_space_or_num_classes(label_space, options, "the zeroshot metric", UsageError)
        super().__init__(label_space, **options)
        ls = self.label_space
        self.num_classes = ls.num_classes
        self.ignore_index = int(options.get("ignore_index", ls.ignore_index))
        unseen = options.get("unseen")
        if not unseen:
            raise UsageError("the zeroshot metric needs the unseen classes: unseen=[names or train ids]")
        names = ls.names
        idx = []
        for c in unseen:
            if isinstance(c, str) and c in names:
                idx.append(names.index(c))
            else:
                try:
                    i = int(c)
                except (TypeError, ValueError):
                    raise UsageError(f"unseen class {c!r} is not in the label space ({', '.join(names[:8])}...)") from None
                if not 0 <= i < self.num_classes:
                    raise UsageError(f"unseen class id {i} is outside 0..{self.num_classes - 1}")
                idx.append(i)
        self.unseen = sorted(set(idx))
        C = self.num_classes
        self.confusion = np.zeros((C, C), np.int64)
        self.void = np.zeros(C, np.int64)
        self.per_sample: dict = {}

    def update(self, prediction, sample) -> None:
        gt = np.asarray(getattr(sample.target, "mask", sample.target))
        pm = np.asarray(getattr(prediction, "mask", prediction))
        if pm.shape != gt.shape:
            raise BadInputError(f"sample {sample.sample_id}: expected a prediction of shape {gt.shape} "
                                f"(the GT's), found {pm.shape}; pass --resize nearest to resize it")
        try:
            cm, void = confusion_matrix(gt, pm, self.num_classes, self.ignore_index, return_void=True)
        except ValueError as e:
            raise BadInputError(f"sample {sample.sample_id}: {e}; expected train ids 0..{self.num_classes - 1} "
                                f"or {self.ignore_index}") from None
        self.confusion += cm
        self.void += void
        self.per_sample[str(sample.sample_id)] = {"mIoU": scores_from_confusion(cm, void)["mIoU"]}

    def merge(self, other: "ZeroShotIoU") -> "ZeroShotIoU":
        self._require_same_type(other)
        self.confusion = self.confusion + other.confusion
        self.void = self.void + other.void
        self.per_sample = {**self.per_sample, **other.per_sample}
        return self

    def state_dict(self) -> dict:
        return {"confusion": self.confusion.copy(), "void": self.void.copy(), "per_sample": dict(self.per_sample)}

    def _load_state(self, state: dict) -> None:
        C = self.num_classes
        self.confusion = np.asarray(state["confusion"], np.int64).reshape(C, C)
        self.void = np.asarray(state.get("void", np.zeros(C)), np.int64).reshape(C)
        self.per_sample = dict(state.get("per_sample") or {})

    def compute(self) -> MetricResult:
        s = zeroshot_scores(self.confusion, self.unseen, self.void)
        names = self.label_space.names
        uset = set(self.unseen)
        per_class = {n: {"IoU": float(s["IoU"][i]), "unseen": float(i in uset)} for i, n in enumerate(names)}
        values = {k: s[k] for k in ("mIoU_seen", "mIoU_unseen", "hIoU", "mIoU")}
        return MetricResult(values=values, per_class=per_class, per_sample=dict(sorted(self.per_sample.items())),
                            artifacts={"confusion_matrix": self.confusion.tolist(), "void": self.void.tolist(),
                                       "class_names": list(names), "unseen": [names[i] for i in self.unseen]})

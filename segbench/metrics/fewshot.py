"""Few-shot segmentation metric ``fewshot`` (PASCAL-5i / COCO-20i protocol of PANet / HSNet).

One sample = one episode: the query mask (``SemanticMask``, 0 background / 1 the episode's class /
``ignore_index``) and the episode's class in ``sample.meta["class_id"]`` (train id) or
``sample.meta["class_name"]``. The state is two int64 ``(2, C)`` arrays (background / foreground
intersection and union per class) plus per-episode records; shards merged then computed equal one
pass bit for bit.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..errors import BadInputError, UsageError
from ..types import LabelSpace, SoftPrediction
from .base import Metric, MetricResult, label_space_or_num_classes
from .functional.fewshot import episode_inter_union, fewshot_scores

__all__ = ["FewShotIoU"]


class FewShotIoU(Metric):
    """Class-wise mIoU and FB-IoU over few-shot episodes (HSNet ``AverageMeter`` / PANet).

    Per episode of class ``c``: ``inter_k``, ``union_k`` for ``k ∈ {bg, fg}`` over the non-ignored
    pixels; summed per class into ``I[k, c]``, ``U[k, c]``. Then
    ``IoU_c = I[1, c] / max(U[1, c], 1)``, ``mIoU = mean_{c ∈ fold} IoU_c`` (unsampled fold classes count
    as 0, as in HSNet) and ``FB_IoU = ½ Σ_k Σ_c I[k, c] / Σ_c U[k, c]``.

    Values: ``mIoU FB_IoU`` (+ ``fg_IoU bg_IoU``). ``per_class``: ``IoU`` and ``episodes`` per fold
    class. ``per_sample`` (per episode): ``IoU`` (foreground), ``FB_IoU``, ``class``.

    Parameters
    ----------
    label_space : LabelSpace
        The dataset's classes (train ids index the state).
    classes : list of str or int, optional
        The fold's test classes (names or train ids; HSNet ``class_ids_interest``). Default: every
        class of the label space.
    ignore_index : int, optional
        Defaults to the label space's (255).
    threshold : float, default 0.5
        Binarisation of a :class:`~segbench.types.SoftPrediction`.
    class_id : int, optional
        Class of every episode when samples carry no ``class_id`` / ``class_name`` meta (1-way runs of
        a single class).
    binarize : bool, default False
        The query masks are full label maps of train ids: the episode's query mask is
        ``mask == class`` (``ignore_index`` kept).

    Examples
    --------
    >>> import numpy as np
    >>> from segbench.types import LabelSpace, Sample, SemanticMask, SemanticPrediction
    >>> m = FewShotIoU(LabelSpace.from_names(["aeroplane", "bicycle"]))
    >>> g = np.array([[1, 1], [0, 0]], np.uint8)
    >>> m.update(SemanticPrediction(np.array([[1, 0], [0, 0]], np.uint8)), Sample("q1", None, SemanticMask(g), {"class_id": 0}))
    >>> m.update(SemanticPrediction(g), Sample("q2", None, SemanticMask(g), {"class_id": 1}))
    >>> r = m.compute().values
    >>> r["mIoU"], round(r["FB_IoU"], 4)
    (0.75, 0.775)

    References
    ----------
    J. Min et al., HSNet, ICCV 2021 (``common/evaluation.py``, ``common/utils.py``); K. Wang et al.,
    PANet, ICCV 2019; A. Shaban et al., OSLSM, BMVC 2017 (PASCAL-5i); X. Li et al., FSS-1000, CVPR 2020.
    """

    name: ClassVar[str] = "fewshot"
    option_names: ClassVar[tuple] = ("binarize", "class_id", "classes", "ignore_index", "num_classes", "threshold")
    version: ClassVar[str] = "1"
    task: ClassVar[str] = "fewshot"
    summary_keys: ClassVar[tuple] = ("mIoU", "FB_IoU")

    def __init__(self, label_space: LabelSpace | None = None, **options: Any):
        label_space = label_space_or_num_classes(label_space, options, "the fewshot metric", UsageError)
        super().__init__(label_space, **options)
        ls = self.label_space
        self.num_classes = ls.num_classes
        self.ignore_index = int(options.get("ignore_index", ls.ignore_index))
        self.threshold = float(options.get("threshold", 0.5))
        self.default_class = options.get("class_id")
        self.binarize = bool(options.get("binarize", False))
        cls = options.get("classes")
        self.fold = [self._class_index(c) for c in cls] if cls else list(range(self.num_classes))
        self._reset()

    def _class_index(self, c) -> int:
        names = self.label_space.names
        if isinstance(c, str) and c in names:
            return names.index(c)
        try:
            i = int(c)
        except (TypeError, ValueError):
            raise UsageError(f"unknown class {c!r}; expected one of {names[:10]}... or a train id") from None
        if not 0 <= i < self.num_classes:
            raise UsageError(f"class id {i} is outside 0..{self.num_classes - 1}")
        return i

    def _reset(self) -> None:
        C = self.num_classes
        self.inter = np.zeros((2, C), np.int64)
        self.union = np.zeros((2, C), np.int64)
        self.episodes = np.zeros(C, np.int64)
        self.per_sample: dict = {}

    def update(self, prediction, sample) -> None:
        meta = sample.meta or {}
        if "class_id" in meta:
            c = meta["class_id"]
        elif "class_name" in meta:
            c = meta["class_name"]
        elif self.default_class is not None:
            c = self.default_class
        else:
            raise BadInputError(f"episode {sample.sample_id}: expected the episode's class in "
                                f"sample.meta['class_id'] or ['class_name'], found neither; pass class_id=...")
        try:
            c = self._class_index(c)
        except UsageError as e:
            raise BadInputError(f"episode {sample.sample_id}: {e.message}") from None
        gt = np.asarray(getattr(sample.target, "mask", sample.target))
        if self.binarize:
            gt = np.where(gt == self.ignore_index, self.ignore_index, gt == c).astype(np.int64)
        if isinstance(prediction, SoftPrediction):
            pm = np.asarray(prediction.prob) > self.threshold
        else:
            pm = np.asarray(getattr(prediction, "mask", prediction))
        try:
            i, u = episode_inter_union(pm, gt, self.ignore_index)
        except ValueError as e:
            raise BadInputError(f"episode {sample.sample_id}: {e}; expected a binary query mask of the "
                                f"episode's class (0 / 1 / {self.ignore_index}), or pass binarize=true for "
                                f"label maps of train ids") from None
        self.inter[:, c] += i
        self.union[:, c] += u
        self.episodes[c] += 1
        fb = [i[k] / u[k] if u[k] else float("nan") for k in (0, 1)]
        self.per_sample[str(sample.sample_id)] = {"IoU": float(i[1] / max(u[1], 1)),
                                                  "FB_IoU": float(np.nanmean(fb)) if not all(np.isnan(fb)) else float("nan"),
                                                  "class": self.label_space.names[c]}

    def merge(self, other: "FewShotIoU") -> "FewShotIoU":
        self._require_same_type(other)
        self.inter = self.inter + other.inter
        self.union = self.union + other.union
        self.episodes = self.episodes + other.episodes
        self.per_sample = {**self.per_sample, **other.per_sample}
        return self

    def state_dict(self) -> dict:
        return {"inter": self.inter.copy(), "union": self.union.copy(), "episodes": self.episodes.copy(),
                "per_sample": dict(self.per_sample)}

    def _load_state(self, state: dict) -> None:
        C = self.num_classes
        self.inter = np.asarray(state["inter"], np.int64).reshape(2, C)
        self.union = np.asarray(state["union"], np.int64).reshape(2, C)
        self.episodes = np.asarray(state.get("episodes", np.zeros(C)), np.int64).reshape(C)
        self.per_sample = dict(state.get("per_sample") or {})

    def compute(self) -> MetricResult:
        s = fewshot_scores(self.inter, self.union, self.fold)
        names = self.label_space.names
        per_class = {names[c]: {"IoU": float(s["IoU"][j]), "episodes": int(self.episodes[c])}
                     for j, c in enumerate(self.fold)}
        values = {"mIoU": s["mIoU"], "FB_IoU": s["FB_IoU"], "fg_IoU": s["fg_IoU"], "bg_IoU": s["bg_IoU"]}
        return MetricResult(values=values, per_class=per_class, per_sample=dict(sorted(self.per_sample.items())),
                            artifacts={"fold_classes": [names[c] for c in self.fold],
                                       "num_episodes": int(self.episodes.sum())})

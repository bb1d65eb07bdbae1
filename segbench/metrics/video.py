"""Video segmentation metrics: DAVIS J&F (``davis_jf``) and YouTube-VIS video mask AP (``ytvis_ap``).

``davis_jf`` holds a keyed map ``sequence -> per-object per-frame J and F`` (after the unsupervised
matching, which needs the whole sequence and so happens in :meth:`DavisJF.update`); shards merge by
union of sequences and :meth:`DavisJF.compute` derives every statistic, so 1 worker, N workers and
Dask give identical numbers. The maths is :mod:`segbench.metrics.functional.video`.

Examples
--------
>>> import numpy as np
>>> from segbench.types import Sample, VideoMasks, VideoPrediction
>>> gt = np.zeros((4, 48, 85), np.uint8); gt[:, 10:30, 10:40] = 1
>>> s = Sample("seq", None, VideoMasks(frames=["0", "1", "2", "3"], masks=gt))
>>> m = DavisJF()
>>> m.update(VideoPrediction(frames=["0", "1", "2", "3"], masks=gt.copy()), s)
>>> m.compute().values["J&F"]
1.0
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..errors import BadInputError, UsageError
from .base import Metric, MetricResult
from .functional import video as F

__all__ = ["DavisJF", "normalize_task"]

_TASK_ALIASES = {"semi-supervised": "semi-supervised", "semisupervised": "semi-supervised", "semi": "semi-supervised",
                 "unsupervised": "unsupervised", "unsup": "unsupervised"}


def normalize_task(task) -> str:
    """``semi-supervised`` (default) or ``unsupervised``; aliases with ``_`` or without the dash work."""
    if task is None:
        return "semi-supervised"
    key = str(task).strip().lower().replace("_", "-")
    if key in _TASK_ALIASES:
        return _TASK_ALIASES[key]
    if key.replace("-", "") in _TASK_ALIASES:
        return _TASK_ALIASES[key.replace("-", "")]
    raise UsageError(f"--task: expected semi-supervised or unsupervised for DAVIS J&F, found {task!r}")


def _frames_of(obj, what: str, sid: str):
    """(frame names, list of (H, W) arrays or None) of a VideoMasks / VideoPrediction."""
    frames = [str(f) for f in (obj.frames or [])]
    masks = getattr(obj, "masks", None)
    if masks is not None:
        if len(masks) != len(frames):
            raise BadInputError(f"sequence {sid!r}: {what} has {len(frames)} frame names but {len(masks)} masks")
        return frames, [np.asarray(m) for m in masks]
    paths = getattr(obj, "paths", None)
    if paths is None:
        raise BadInputError(f"sequence {sid!r}: {what} carries neither masks nor paths")
    from ..datasets.davis import read_mask_png
    return frames, [None if p is None else read_mask_png(p) for p in paths]


class DavisJF(Metric):
    """DAVIS 2017 region (J) and boundary (F) measures, semi-supervised or unsupervised.

    Parameters
    ----------
    label_space : ignored (class-agnostic)
    task : {"semi-supervised", "unsupervised"}, default "semi-supervised"
        Semi-supervised scores frames ``1..T-2`` with predicted ids = GT ids; unsupervised scores every
        frame and matches up to ``max_proposals`` predicted objects to GT objects (Hungarian on mean J&F).
    bound_th : float, default 0.008
        Boundary tolerance (fraction of the diagonal, or pixels when >= 1).
    max_proposals : int, default 20
    use_void : bool, default False
        Exclude GT void (255) pixels; the official evaluation counts them as background (False).
    extra_ids : {"error", "ignore"}, default "error"
        Semi-supervised predicted ids above the number of GT objects: refused (as the official code)
        or scored as background.
    objects : {"first_frame", "all_frames"}, default "first_frame"
        Number of GT objects from the first annotated frame (official) or from all frames.
    fix_decay_bins : bool, default False
        Keep the decay bin edges as integers (the official ``uint8`` cast wraps beyond 256 frames).

    Notes
    -----
    ``values``: ``J&F J_mean J_recall J_decay F_mean F_recall F_decay`` (fractions). ``per_sample``: one
    row per sequence (its objects averaged). ``artifacts["per_object"]``: ``"<seq>_<gt id>"`` rows as in
    the official per-object table (unsupervised rows are keyed by the GT id of the matched object).
    """

    name: ClassVar[str] = "davis_jf"
    version: ClassVar[str] = "1"
    task: ClassVar[str] = "video"
    summary_keys: ClassVar[tuple] = ("J&F", "J_mean", "J_recall", "J_decay", "F_mean", "F_recall", "F_decay")

    def __init__(self, label_space=None, **options):
        if "task" in options and options["task"] is not None:
            options["task"] = normalize_task(options["task"])
        super().__init__(label_space, **options)
        o = self.options
        self.vos_task = normalize_task(o.get("task"))
        self.bound_th = float(o.get("bound_th", 0.008))
        self.max_proposals = int(o.get("max_proposals", 20))
        self.use_void = bool(o.get("use_void", False))
        self.extra_ids = str(o.get("extra_ids", "error"))
        self.objects = str(o.get("objects", "first_frame"))
        self.fix_decay_bins = bool(o.get("fix_decay_bins", False))
        if self.extra_ids not in ("error", "ignore"):
            raise UsageError(f"davis_jf: extra_ids must be 'error' or 'ignore', found {self.extra_ids!r}")
        if self.objects not in ("first_frame", "all_frames"):
            raise UsageError(f"davis_jf: objects must be 'first_frame' or 'all_frames', found {self.objects!r}")
        self.sequences: dict = {}

    # ---- protocol
    def update(self, prediction, sample) -> None:
        sid = str(sample.sample_id)
        if sid in self.sequences:
            raise BadInputError(f"sequence {sid!r} was scored twice; sample ids must be unique")
        gframes, gmasks = _frames_of(sample.target, "the annotation", sid)
        if not gframes:
            raise BadInputError(f"sequence {sid!r} has no annotated frames")
        pframes, pmasks = _frames_of(prediction, "the prediction", sid)
        pidx = {f: i for i, f in enumerate(pframes)}
        ordered = [pmasks[pidx[f]] if f in pidx else None for f in gframes]
        gt = np.stack(gmasks)
        src = getattr(prediction, "paths", None)
        try:
            res = F.evaluate_sequence(gt, ordered, task=self.vos_task, bound_th=self.bound_th,
                                      max_proposals=self.max_proposals, use_void=self.use_void,
                                      extra_ids=self.extra_ids, objects=self.objects, name=sid, frame_names=gframes)
        except ValueError as e:
            where = None
            if src:
                import os
                first = next((p for p in src if p), None)
                where = os.path.dirname(str(first)) if first else None
            raise BadInputError(str(e), path=where) from None
        self.sequences[sid] = {"objects": res["objects"], "J": res["J"], "F": res["F"],
                               "frames": res["frames"], "matched": res["matched"]}

    def compute(self) -> MetricResult:
        values, per_seq, per_obj = F.summarize(self.sequences, fix_decay_bins=self.fix_decay_bins)
        return MetricResult(values=values, per_class={}, per_sample=per_seq,
                            artifacts={"per_object": per_obj, "task": self.vos_task,
                                       "num_sequences": len(self.sequences),
                                       "num_objects": sum(len(s["objects"]) for s in self.sequences.values()),
                                       "matched": {k: s["matched"] for k, s in sorted(self.sequences.items())}})

    def state_dict(self) -> dict:
        return {"sequences": {k: dict(v) for k, v in self.sequences.items()}}

    def _load_state(self, state: dict) -> None:
        self.sequences = dict(state.get("sequences", {}))

    def merge(self, other: "Metric") -> "Metric":
        if type(other) is not type(self):
            raise TypeError(f"cannot merge {type(other).__name__} into {type(self).__name__}")
        dup = set(self.sequences) & set(other.sequences)
        if dup:
            raise BadInputError(f"sequence(s) {sorted(dup)[:5]} scored in two shards; sample ids must be unique")
        self.sequences.update(other.sequences)
        return self

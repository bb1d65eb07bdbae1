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

__all__ = ["DavisJF", "YTVISAP", "normalize_task"]

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


def _frames_of(obj, what: str, sid: str, like: list | None = None):
    """(frame names, list of (H, W) arrays or None) of a VideoMasks / VideoPrediction.

    Without frame names, frames are taken to be in the order of ``like`` (the GT frame names) when the
    counts agree, else named ``00000, 00001, ...``. Masks given only as ``paths`` are read as DAVIS PNGs
    (2016 grayscale 0/255 sequences become object 1).
    """
    masks = getattr(obj, "masks", None)
    paths = getattr(obj, "paths", None)
    n = len(masks) if masks is not None else (len(paths) if paths is not None else 0)
    frames = [str(f) for f in (obj.frames or [])]
    if not frames and n:
        frames = list(like) if like is not None and len(like) == n else [f"{i:05d}" for i in range(n)]
    if masks is not None:
        if len(masks) != len(frames):
            raise BadInputError(f"sequence {sid!r}: {what} has {len(frames)} frame names but {len(masks)} masks")
        return frames, [np.asarray(m) for m in masks]
    if paths is None:
        raise BadInputError(f"sequence {sid!r}: {what} carries neither masks nor paths")
    from ..datasets.davis import read_sequence
    present = [p for p in paths if p is not None]
    arrs, _ = read_sequence(present) if present else (np.zeros((0, 0, 0), np.uint8), None)
    it = iter(arrs)
    return frames, [None if p is None else next(it) for p in paths]


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
    option_names: ClassVar[tuple] = ("bound_th", "extra_ids", "fix_decay_bins", "max_proposals", "objects", "task", "use_void")
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
        pframes, pmasks = _frames_of(prediction, "the prediction", sid, like=gframes)
        pidx = {f: i for i, f in enumerate(pframes)}
        ordered = [pmasks[pidx[f]] if f in pidx else None for f in gframes]
        src = getattr(prediction, "paths", None)
        try:
            res = F.evaluate_sequence(gmasks, ordered, task=self.vos_task, bound_th=self.bound_th,
                                      max_proposals=self.max_proposals, use_void=self.use_void,
                                      extra_ids=self.extra_ids, objects=self.objects, name=sid, frame_names=gframes)
        except ValueError as e:
            import os
            # the prediction folder when its frames were read, else the annotation folder (e.g. a sequence
            # too short to score: its predictions are never read)
            first = next((p for p in (src or ()) if p), None) or next(
                (p for p in (getattr(sample.target, "paths", None) or ()) if p), None)
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
        self._require_same_type(other)
        dup = set(self.sequences) & set(other.sequences)
        if dup:
            raise BadInputError(f"sequence(s) {sorted(dup)[:5]} scored in two shards; sample ids must be unique")
        self.sequences.update(other.sequences)
        return self


def _vid_key(v):
    """Sort key of video ids: numbers numerically (as the reference sorts int ids), then strings."""
    try:
        return (0, float(v), "")
    except (TypeError, ValueError):
        return (1, 0.0, str(v))


class YTVISAP(Metric):
    """YouTube-VIS video instance segmentation AP (``YTVOSeval`` of the YouTube-VIS cocoapi fork).

    Spatio-temporal mask IoU over whole tracks, COCO matching and accumulation per category (area ranges
    small < 128², medium < 256², large), maxDets 1 / 10 / 100. Reads the 2019 and 2021 (and OVIS) JSON
    formats: per-frame RLE, uncompressed RLE or polygons, None for absent frames.

    State: ``videos -> category -> per-area-range (scores, tp, fp, npig)`` after the per-video matching
    (plain lists), merged by union; :meth:`compute` concatenates videos in sorted id order as the
    reference does, so shards give identical numbers.

    Parameters
    ----------
    label_space : LabelSpace, optional
        The GT categories (native ids = category ids); without it, the categories seen in the GT.

    Notes
    -----
    ``values``: ``AP AP50 AP75 APs APm APl AR1 AR10 AR100 ARs ARm ARl`` (NaN where the reference
    prints -1); ``per_class``: ``{name: {"AP": ...}}``.
    """

    name: ClassVar[str] = "ytvis_ap"
    option_names: ClassVar[tuple] = ()
    version: ClassVar[str] = "1"
    task: ClassVar[str] = "video-instance"
    summary_keys: ClassVar[tuple] = F.YTVIS_KEYS

    def __init__(self, label_space=None, **options):
        super().__init__(label_space, **options)
        self.videos: dict = {}
        self.seen_cats: list = []

    def _cat_ids(self) -> list:
        if self.label_space is not None:
            return sorted(int(c.id) for c in self.label_space.eval_classes)
        return sorted(set(int(c) for c in self.seen_cats))

    def update(self, prediction, sample) -> None:
        from pycocotools import mask as mask_utils
        tgt = sample.target
        vid = tgt.video_id if tgt.video_id is not None else sample.sample_id
        key = str(vid)
        if key in self.videos:
            raise BadInputError(f"video {vid!r} was scored twice; sample ids must be unique")
        h, w = int(tgt.height), int(tgt.width)
        gts = []
        for g in tgt.annotations:
            segs = [F.ytvis_rle(s, h, w) for s in g.get("segmentations", [])]
            areas = g.get("areas")
            if areas is None:
                areas = [int(mask_utils.area(s)) if s else None for s in segs]
            gts.append({"id": g["id"], "category_id": int(g["category_id"]), "segmentations": segs,
                        "avg_area": F.ytvis_avg_area(areas), "iscrowd": int(bool(g.get("iscrowd", 0)))})
        dets_in = list(getattr(prediction, "detections", None) or [])
        ids = getattr(prediction, "ids", None) or list(range(1, len(dets_in) + 1))
        dets = []
        for d, did in zip(dets_in, ids):
            segs = []
            for t, s in enumerate(d.get("segmentations", [])):
                if s:
                    if isinstance(s, dict) and "size" in s and list(s["size"]) != [h, w]:
                        raise BadInputError(f"video {vid!r}: result {did} frame {t} has an RLE of size {s['size']} "
                                            f"but the video is {h}x{w} (height x width)")
                    s = F.ytvis_rle(s, h, w)
                segs.append(s if s else None)
            areas = [int(mask_utils.area(s)) if s else None for s in segs]
            dets.append({"id": int(did), "category_id": int(d["category_id"]), "score": float(d["score"]),
                         "segmentations": segs, "avg_area": F.ytvis_avg_area(areas)})
        cats = set(self._cat_ids()) if self.label_space is not None else None
        if cats is None:
            for g in gts:
                if g["category_id"] not in self.seen_cats:
                    self.seen_cats.append(g["category_id"])
        rec = {}
        cat_list = sorted(cats) if cats is not None else sorted({g["category_id"] for g in gts} |
                                                               {d["category_id"] for d in dets})
        for c in cat_list:
            gc = [g for g in gts if g["category_id"] == c]
            dc = [d for d in dets if d["category_id"] == c]
            if not gc and not dc:
                continue
            per_area = F.ytvis_evaluate_video(gc, dc, int(tgt.length))
            rec[str(c)] = [{"scores": r["scores"], "tp": r["tp"].astype(np.uint8).tolist(),
                            "fp": r["fp"].astype(np.uint8).tolist(), "npig": r["npig"]} for r in per_area]
        self.videos[key] = {"video_id": vid, "cats": rec}

    def compute(self) -> MetricResult:
        cat_ids = self._cat_ids()
        vids = sorted(self.videos.values(), key=lambda v: _vid_key(v["video_id"]))
        per_cat = [[v["cats"].get(str(c)) for v in vids] for c in cat_ids]
        acc = F.ytvis_accumulate(per_cat)
        values = F.ytvis_summarize(acc["precision"], acc["recall"])
        names = {}
        if self.label_space is not None:
            names = {int(c.id): c.name for c in self.label_space.eval_classes}
        per_class = {}
        for k, c in enumerate(cat_ids):
            s = acc["precision"][:, :, k, 0, -1]
            per_class[names.get(c, str(c))] = {"AP": float(np.mean(s[s > -1])) if (s > -1).any() else float("nan")}
        return MetricResult(values=values, per_class=per_class, per_sample=None,
                            artifacts={"num_videos": len(self.videos), "category_ids": cat_ids})

    def state_dict(self) -> dict:
        return {"videos": dict(self.videos), "seen_cats": list(self.seen_cats)}

    def _load_state(self, state: dict) -> None:
        self.videos = dict(state.get("videos", {}))
        self.seen_cats = list(state.get("seen_cats", []))

    def merge(self, other: "Metric") -> "Metric":
        self._require_same_type(other)
        dup = set(self.videos) & set(other.videos)
        if dup:
            raise BadInputError(f"video(s) {sorted(dup)[:5]} scored in two shards; sample ids must be unique")
        self.videos.update(other.videos)
        for c in other.seen_cats:
            if c not in self.seen_cats:
                self.seen_cats.append(c)
        return self

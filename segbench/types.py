"""Core data types: label spaces, samples, typed targets and predictions.

Targets and predictions are typed so that a mask is never treated like an image (no bilinear
resize of a label map, no normalisation of an id map). Arrays are numpy; shapes are ``(H, W)``
unless stated otherwise.

Examples
--------
>>> import numpy as np
>>> from segbench.types import ClassSpec, LabelSpace, SemanticMask, Sample
>>> ls = LabelSpace([ClassSpec("bg", 0, 0), ClassSpec("fg", 1, 1)])
>>> ls.num_classes, ls.names
(2, ['bg', 'fg'])
>>> s = Sample("a", None, SemanticMask(np.zeros((2, 3), np.uint8)))
>>> s.target.shape
(2, 3)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Sequence, Union

import numpy as np

IGNORE_INDEX = 255

__all__ = [
    "IGNORE_INDEX", "ClassSpec", "LabelSpace", "Sample", "distinct_names",
    "SemanticMask", "InstanceMasks", "PanopticMap", "BoundaryMaps", "VideoMasks", "ReferringTarget",
    "SemanticPrediction", "SoftPrediction", "InstancePrediction", "PanopticPrediction",
    "BoundaryPrediction", "VideoPrediction", "Target", "Prediction",
    "MultiLabelMasks", "MultiLabelPrediction", "HierarchyPrediction",
    "VideoInstances", "VideoInstancePrediction",
    "InteractivePrediction",
]


# --------------------------------------------------------------------------- label space
@dataclass(frozen=True)
class ClassSpec:
    """One row of a label table (cityscapesScripts ``labels.py`` style).

    Parameters
    ----------
    name : str
        Class name as the dataset spells it.
    id : int
        Native id as stored in the dataset's files.
    train_id : int
        Contiguous id used for evaluation (0..C-1), or ``IGNORE_INDEX`` (255) for ignored ids.
    category : str
        Coarser group (Cityscapes' 7 categories); empty when none.
    is_thing : bool
        Countable object class (has instances).
    ignore_in_eval : bool
        Excluded from evaluation (mapped to the ignore index).
    color : tuple of int
        RGB colour used in colour-coded label images and reports.
    """

    name: str
    id: int
    train_id: int
    category: str = ""
    is_thing: bool = False
    ignore_in_eval: bool = False
    color: tuple = (0, 0, 0)


def distinct_names(names: Sequence[str], ids: Sequence[int]) -> list[str]:
    """Class names made unique for keying results: a name that two ids share becomes ``"name (id N)"``.

    >>> distinct_names(["a", "b", "a"], [1, 2, 7])
    ['a (id 1)', 'b', 'a (id 7)']
    """
    return [n if list(names).count(n) == 1 else f"{n} (id {int(i)})" for n, i in zip(names, ids)]


class LabelSpace:
    """A table of :class:`ClassSpec` rows with the mappings metrics need.

    The evaluated classes are the rows with ``ignore_in_eval=False``; they must have distinct
    contiguous ``train_id`` values ``0..C-1``. Rows sharing a ``train_id`` are allowed only for
    ignored rows. ``ignore_index`` marks pixels that no metric counts.

    Parameters
    ----------
    classes : sequence of ClassSpec
    ignore_index : int, default 255
    name : str, optional
        Name of the label space (e.g. ``"cityscapes-19"``).
    """

    def __init__(self, classes: Sequence[ClassSpec], ignore_index: int = IGNORE_INDEX, name: str = ""):
        self.classes = list(classes)
        self.ignore_index = int(ignore_index)
        self.name = name
        ev = sorted((c for c in self.classes if not c.ignore_in_eval), key=lambda c: c.train_id)
        tids = [c.train_id for c in ev]
        if tids != list(range(len(tids))):
            raise ValueError(f"label space {name!r}: evaluated train ids must be 0..C-1, got {tids}")
        self._eval = ev

    # ---- views
    @property
    def num_classes(self) -> int:
        """Number of evaluated classes C."""
        return len(self._eval)

    @property
    def names(self) -> list[str]:
        """Evaluated class names in train-id order."""
        return [c.name for c in self._eval]

    @property
    def eval_classes(self) -> list[ClassSpec]:
        return list(self._eval)

    @property
    def thing_train_ids(self) -> list[int]:
        return [c.train_id for c in self._eval if c.is_thing]

    @property
    def colors(self) -> np.ndarray:
        """``(C, 3)`` uint8 colours in train-id order."""
        return np.array([c.color for c in self._eval], dtype=np.uint8).reshape(-1, 3)

    def by_id(self, native_id: int) -> ClassSpec:
        for c in self.classes:
            if c.id == native_id:
                return c
        raise KeyError(native_id)

    def by_name(self, name: str) -> ClassSpec:
        for c in self.classes:
            if c.name == name:
                return c
        raise KeyError(name)

    def id_to_train_lut(self, size: int = 65536) -> np.ndarray:
        """Lookup table ``lut[native_id] -> train_id`` (unknown ids map to ``ignore_index``).

        The table's dtype is the narrowest of uint8 / uint16 / int64 that holds every value it maps
        to (the train ids and the ignore index), whatever ``size`` is: an 8-bit map may still
        translate to a 16-bit ignore index such as 65535.
        """
        values = [self.ignore_index] + [c.train_id for c in self.classes if not c.ignore_in_eval]
        top, low = max(values), min(values)
        dtype = np.uint8 if 0 <= low and top < 256 else np.uint16 if 0 <= low and top < 65536 else np.int64
        lut = np.full(size, self.ignore_index, dtype=dtype)
        for c in self.classes:
            if 0 <= c.id < size:
                lut[c.id] = self.ignore_index if c.ignore_in_eval else c.train_id
        return lut

    def train_to_id(self) -> dict[int, int]:
        """``{train_id: native id}`` for export (first row wins for shared train ids)."""
        out: dict[int, int] = {}
        for c in self._eval:
            out.setdefault(c.train_id, c.id)
        return out

    def categories(self) -> list[str]:
        """Distinct category names of evaluated classes, in first-seen order."""
        seen: list[str] = []
        for c in self._eval:
            if c.category and c.category not in seen:
                seen.append(c.category)
        return seen

    # ---- construction
    @classmethod
    def from_names(cls, names: Sequence[str], ignore_index: int = IGNORE_INDEX, name: str = "") -> "LabelSpace":
        """Label space whose native ids equal train ids ``0..len(names)-1``."""
        return cls([ClassSpec(n, i, i) for i, n in enumerate(names)], ignore_index, name)

    @classmethod
    def from_num_classes(cls, n: int, ignore_index: int = IGNORE_INDEX) -> "LabelSpace":
        return cls.from_names([f"class_{i}" for i in range(n)], ignore_index, f"{n}-classes")

    def to_dict(self) -> dict:
        return {"name": self.name, "ignore_index": self.ignore_index,
                "classes": [dict(asdict(c), color=list(c.color)) for c in self.classes]}

    @classmethod
    def from_dict(cls, d: Mapping) -> "LabelSpace":
        rows = [ClassSpec(**{**c, "color": tuple(c.get("color", (0, 0, 0)))}) for c in d["classes"]]
        return cls(rows, d.get("ignore_index", IGNORE_INDEX), d.get("name", ""))

    def __len__(self) -> int:
        return self.num_classes

    def __eq__(self, other) -> bool:
        return isinstance(other, LabelSpace) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"LabelSpace({self.name!r}, {self.num_classes} classes, ignore_index={self.ignore_index})"


# --------------------------------------------------------------------------- targets
@dataclass(frozen=True)
class SemanticMask:
    """Dense label map of train ids, ``(H, W)`` integer; ``ignore_index`` pixels are not scored.

    ``instance_ids`` (optional, ``(H, W)`` int32) carries Cityscapes-style instance ids
    (``class_id * 1000 + k``) for instance-weighted metrics such as iIoU.
    """

    mask: np.ndarray
    instance_ids: np.ndarray | None = None

    @property
    def shape(self) -> tuple:
        return tuple(self.mask.shape)


@dataclass(frozen=True)
class InstanceMasks:
    """Ground-truth instances of one image (COCO style).

    ``annotations`` is a list of COCO annotation dicts (``id, category_id, segmentation (RLE or
    polygons), area, bbox, iscrowd``); masks stay encoded until a metric needs them.
    ``instance_ids`` (optional, ``(H, W)`` int) is a raw instance-id map for datasets that store
    instances that way (Cityscapes ``*_instanceIds.png``: ``label_id * 1000 + k``, else the label id).
    """

    height: int
    width: int
    annotations: list = field(default_factory=list)
    image_id: Any = None
    instance_ids: Any = None

    @property
    def shape(self) -> tuple:
        return (self.height, self.width)


@dataclass(frozen=True)
class PanopticMap:
    """Panoptic ground truth: ``ids`` ``(H, W)`` segment-id map (0 = void) plus ``segments``
    (list of dicts with ``id, category_id, iscrowd, area``) as in COCO panoptic JSON."""

    ids: np.ndarray | None
    segments: list
    png_path: str | None = None

    @property
    def shape(self) -> tuple:
        return tuple(self.ids.shape) if self.ids is not None else ()


@dataclass(frozen=True)
class BoundaryMaps:
    """Boundary ground truth from several annotators: ``boundaries`` ``(K, H, W)`` bool and
    optional ``segmentations`` ``(K, H, W)`` int region labels (BSDS ``groundTruth``)."""

    boundaries: np.ndarray
    segmentations: np.ndarray | None = None

    @property
    def shape(self) -> tuple:
        return tuple(self.boundaries.shape[1:])


@dataclass(frozen=True)
class VideoMasks:
    """Video object masks: ``frames`` list of frame names and ``masks`` ``(T, H, W)`` uint8 object
    ids (0 = background, 255 = void), or ``paths`` to load lazily."""

    frames: list
    masks: np.ndarray | None = None
    paths: list | None = None
    num_objects: int | None = None

    @property
    def shape(self) -> tuple:
        return tuple(self.masks.shape[1:]) if self.masks is not None else ()


@dataclass(frozen=True)
class ReferringTarget:
    """A referring expression and its binary mask ``(H, W)`` bool."""

    text: str
    mask: np.ndarray


@dataclass(frozen=True)
class MultiLabelMasks:
    """Multi-label ground truth: ``masks`` ``(C, H, W)`` bool, one (possibly overlapping) binary
    mask per class in train-id order (Kaggle Understanding Clouds, IDRiD lesions). ``valid``
    ``(C,)`` bool marks classes that are annotated for this image (all True by default); ``ignore``
    ``(H, W)`` bool optionally marks unscored pixels."""

    masks: np.ndarray
    valid: np.ndarray | None = None
    ignore: np.ndarray | None = None

    @property
    def shape(self) -> tuple:
        return tuple(self.masks.shape[1:])


Target = Union[SemanticMask, InstanceMasks, PanopticMap, BoundaryMaps, VideoMasks, ReferringTarget,
               MultiLabelMasks]


# --------------------------------------------------------------------------- predictions
@dataclass(frozen=True)
class SemanticPrediction:
    """Predicted train-id map ``(H, W)`` integer (may contain ``ignore_index`` = void)."""

    mask: np.ndarray

    @property
    def shape(self) -> tuple:
        return tuple(self.mask.shape)


@dataclass(frozen=True)
class SoftPrediction:
    """Per-pixel probabilities ``(H, W)`` float in 0..1 (binary tasks, boundary maps)."""

    prob: np.ndarray

    @property
    def shape(self) -> tuple:
        return tuple(self.prob.shape)


@dataclass(frozen=True)
class InteractivePrediction:
    """Masks of an interactive-segmentation session: ``masks`` ``(N, H, W)`` bool, the prediction after
    clicks ``1..N``; ``clicks`` optionally lists the clicks as ``(is_positive, y, x)``."""

    masks: np.ndarray
    clicks: list | None = None

    @property
    def shape(self) -> tuple:
        return tuple(np.shape(self.masks)[1:])


@dataclass(frozen=True)
class InstancePrediction:
    """Detections of one image: list of COCO result dicts
    (``image_id, category_id, score, segmentation`` and/or ``bbox``)."""

    detections: list
    image_id: Any = None


@dataclass(frozen=True)
class PanopticPrediction:
    """Predicted panoptic ``ids`` map ``(H, W)`` and its ``segments`` list."""

    ids: np.ndarray | None
    segments: list
    png_path: str | None = None


@dataclass(frozen=True)
class BoundaryPrediction:
    """Soft boundary map ``(H, W)`` float in 0..1."""

    prob: np.ndarray


@dataclass(frozen=True)
class VideoPrediction:
    """Predicted object-id masks ``(T, H, W)`` for the frames of one sequence."""

    frames: list
    masks: np.ndarray | None = None
    paths: list | None = None


@dataclass(frozen=True)
class VideoInstances(InstanceMasks):
    """Video instance ground truth of one video (YouTube-VIS / OVIS JSON): an :class:`InstanceMasks`
    whose ``annotations`` are track dicts (``id, category_id, segmentations`` (one RLE / polygon list /
    None per frame), ``areas``, ``iscrowd``) over ``length`` frames of ``height x width``; masks stay
    encoded until a metric needs them."""

    video_id: Any = None
    length: int = 0


@dataclass(frozen=True)
class VideoInstancePrediction:
    """Predicted tracks of one video: result dicts (``category_id, score, segmentations`` with one RLE or
    None per frame) as in a YouTube-VIS results JSON; ``ids`` are their 1-based positions in that file."""

    detections: list
    video_id: Any = None
    ids: list | None = None


@dataclass(frozen=True)
class MultiLabelPrediction:
    """Predicted multi-label masks ``(C, H, W)``: bool (hard) or float in 0..1 (soft, e.g. for
    precision-recall metrics), one channel per class in train-id order."""

    masks: np.ndarray

    @property
    def shape(self) -> tuple:
        return tuple(self.masks.shape[1:])


@dataclass(frozen=True)
class HierarchyPrediction:
    """A hierarchy of segmentations of one image for the BSDS region benchmarks: ``segs`` is a list of
    ``(H, W)`` int label maps (labels >= 1), coarse or fine in any order (BSDS ``segs`` cell or an
    ``ucm2`` cut at thresholds). ``prob`` optionally carries the soft boundary map of the same
    hierarchy (``ucm2(3:2:end, 3:2:end)``) for the boundary benchmark."""

    segs: list
    prob: np.ndarray | None = None

    @property
    def shape(self) -> tuple:
        return tuple(np.asarray(self.segs[0]).shape) if self.segs else ()


Prediction = Union[SemanticPrediction, SoftPrediction, InstancePrediction, PanopticPrediction,
                   BoundaryPrediction, VideoPrediction, MultiLabelPrediction]


# --------------------------------------------------------------------------- sample
@dataclass(frozen=True)
class Sample:
    """One evaluation unit: an image (or a video sequence) with its typed target.

    Parameters
    ----------
    sample_id : str
        Stable id, unique in the split (file stem, COCO image id, sequence name...).
    image : str, Path, ndarray or None
        Image path or array; metrics never need it.
    target : Target
    meta : dict
        Anything else (city, original size, source file paths...).
    """

    sample_id: str
    image: Any
    target: Any
    meta: dict = field(default_factory=dict)

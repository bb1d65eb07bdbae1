"""Explicit mapping from a model's classes to a dataset's label space, by class name.

A model predicts indices into *its* class list (``config.id2label``, a torchvision weights'
``meta["categories"]``); a dataset scores train ids of *its* :class:`~segbench.types.LabelSpace`.
:class:`LabelMapping` pairs them by normalised name and refuses, with the missing names, when the
model cannot predict every evaluated class of the dataset. Model classes the dataset does not
evaluate are dropped (semantic: their logits are left out of the arg-max; instance/panoptic: their
segments are dropped).

Names are compared after normalisation only (case, ``_``/``-``/``/`` and spaces, surrounding
``__``), plus spelling variants of the same word (``diningtable`` = ``dining table``). Different
words for the same thing across datasets (VOC ``sofa`` vs COCO ``couch``) are *not* matched: such a
transfer is a different experiment, not a label mapping.

Examples
--------
>>> from segbench.types import LabelSpace
>>> from segbench.models.labelmap import LabelMapping
>>> model = ["__background__", "aeroplane", "diningtable", "person"]
>>> ds = LabelSpace.from_names(["background", "dining table", "person", "aeroplane"])
>>> LabelMapping.build(model, ds).model_to_train.tolist()
[0, 3, 1, 2]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..errors import UsageError
from ..types import LabelSpace

__all__ = ["normalize_name", "LabelMapping", "names_from_id2label"]

#: Spelling variants of one word (not synonyms across datasets).
_SPELLING = {
    "diningtable": "dining table",
    "pottedplant": "potted plant",
    "tvmonitor": "tv monitor",
    "trafficlight": "traffic light",
    "trafficsign": "traffic sign",
}


def normalize_name(name: str) -> str:
    """Canonical form of a class name for matching.

    >>> normalize_name("__Background__"), normalize_name("tv/monitor"), normalize_name("bed ")
    ('background', 'tv monitor', 'bed')
    """
    s = str(name).strip().lower()
    s = re.sub(r"[_\-/\s]+", " ", s).strip()
    return _SPELLING.get(s.replace(" ", ""), s)


def _first_synonym(name: str) -> str:
    return normalize_name(re.split(r"[,;]", str(name))[0])


def names_from_id2label(id2label) -> list[str] | None:
    """Class names in index order from a config's ``id2label``; None for placeholder ``LABEL_i`` names."""
    if not id2label:
        return None
    items = sorted(((int(k), v) for k, v in dict(id2label).items()))
    if [k for k, _ in items] != list(range(len(items))):
        return None
    names = [str(v) for _, v in items]
    if all(re.fullmatch(r"LABEL_\d+", n) for n in names):
        return None
    return names


@dataclass(frozen=True)
class LabelMapping:
    """Model class index → dataset train id (``ignore`` for model classes the dataset does not score).

    Attributes
    ----------
    model_names : list of str
    model_to_train : ndarray, shape (K,)
        Train id per model class, or ``ignore`` (the dataset's ``ignore_index``).
    train_to_model : ndarray, shape (C,)
        Model class index per dataset train id (every evaluated class has one).
    train_to_native : ndarray, shape (C,)
        The dataset's native id per train id (``category_id`` in COCO outputs).
    ignore : int
    identity : bool
        True when the model predicts exactly the dataset's train ids.
    """

    model_names: list
    model_to_train: np.ndarray
    train_to_model: np.ndarray
    train_to_native: np.ndarray
    ignore: int
    identity: bool

    @classmethod
    def build(cls, model_names: Sequence[str] | None, dataset: LabelSpace, model_name: str = "model",
              num_outputs: int | None = None, skip: Sequence[str] = ()) -> "LabelMapping":
        """Pair the model's classes with the dataset's.

        Parameters
        ----------
        model_names : sequence of str or None
            The model's class names in index order; None means "the model predicts the dataset's
            train ids" (a checkpoint trained on this dataset), which requires
            ``num_outputs == dataset.num_classes``.
        dataset : LabelSpace
        num_outputs : int, optional
            Number of model outputs (checked against ``model_names`` / the dataset).
        skip : sequence of str
            Dataset class names the model is not asked to predict (e.g. CLIPSeg's background).

        Raises
        ------
        UsageError
            When the model's classes do not cover the dataset's evaluated classes (names the first
            missing ones) or the counts differ.
        """
        if dataset is None:
            raise UsageError(f"model {model_name!r}: the dataset has no label space; give --labels or --num-classes")
        C = dataset.num_classes
        native = np.array([dataset.train_to_id().get(t, t) for t in range(C)], dtype=np.int64)
        ign = dataset.ignore_index
        if model_names is None:
            if num_outputs is not None and num_outputs != C:
                raise UsageError(
                    f"model {model_name!r} predicts {num_outputs} classes without class names, the dataset "
                    f"{dataset.name or ''} scores {C}; use weights trained on this dataset's {C} classes")
            return cls(list(dataset.names), np.arange(C, dtype=np.int64), np.arange(C, dtype=np.int64),
                       native, ign, True)
        names = list(model_names)
        if num_outputs is not None and num_outputs != len(names):
            raise UsageError(f"model {model_name!r}: {len(names)} class names for {num_outputs} outputs; "
                             f"the weights do not match the config")
        full = {}
        first = {}
        for i, n in enumerate(names):
            full.setdefault(normalize_name(n), i)
            first.setdefault(_first_synonym(n), i)
        skipset = {normalize_name(s) for s in skip}
        t2m = np.full(C, -1, dtype=np.int64)
        missing = []
        for c in dataset.eval_classes:
            key = normalize_name(c.name)
            if key in skipset:
                continue
            idx = full.get(key)
            if idx is None:
                idx = first.get(_first_synonym(c.name))
            if idx is None:
                missing.append(c.name)
            else:
                t2m[c.train_id] = idx
        if missing:
            shown = ", ".join(repr(m) for m in missing[:5])
            raise UsageError(
                f"model {model_name!r} cannot predict {len(missing)} of the dataset's {C} classes (first: "
                f"{shown}); its label space ({len(names)} classes: {', '.join(names[:4])}...) does not match "
                f"the dataset's; use weights trained on this dataset")
        m2t = np.full(len(names), ign, dtype=np.int64)
        for t, m in enumerate(t2m):
            if m >= 0:
                m2t[m] = t
        identity = len(names) == C and bool(np.all(t2m == np.arange(C)))
        return cls(names, m2t, t2m, native, ign, identity)

    # ---- applying
    def select_logits(self, logits):
        """Keep the logits of mapped classes in train-id order: ``(N, K, H, W)`` → ``(N, C', H, W)``.

        Only the classes the model predicts (``train_to_model >= 0``) are kept; use :meth:`argmax_to_train`.
        """
        keep = [int(m) for m in self.train_to_model if m >= 0]
        if self.identity:
            return logits
        return logits[:, keep]

    def argmax_to_train(self, logits) -> np.ndarray:
        """Arg-max over the mapped classes of ``(N, K, H, W)`` logits → ``(N, H, W)`` uint8/uint16 train ids."""
        sel = self.select_logits(logits)
        idx = sel.argmax(1).cpu().numpy()
        tids = np.array([t for t, m in enumerate(self.train_to_model) if m >= 0], dtype=np.int64)
        out = tids[idx]
        return out.astype(np.uint8 if max(len(self.train_to_model), self.ignore) < 256 else np.uint16)

    def to_train(self, model_idx: int) -> int:
        """Train id of one model class (``ignore`` when the dataset does not score it)."""
        return int(self.model_to_train[int(model_idx)])

    def to_native(self, model_idx: int) -> int | None:
        """The dataset's native id (COCO ``category_id``) of one model class, or None when dropped."""
        t = self.to_train(model_idx)
        return None if t == self.ignore else int(self.train_to_native[t])

    def describe(self) -> dict:
        return {"identity": self.identity, "model_classes": len(self.model_names),
                "dataset_classes": int(len(self.train_to_model)),
                "dropped_model_classes": int(np.sum(self.model_to_train == self.ignore))}

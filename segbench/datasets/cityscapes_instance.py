"""Cityscapes instance-level semantic labeling, registry name ``cityscapes-instance``.

Same native layout as ``cityscapes`` (see :mod:`segbench.datasets.cityscapes`); the target is
:class:`~segbench.types.InstanceMasks` whose ``instance_ids`` is
``gtFine/<split>/<city>/<city>_<seq>_<frame>_gtFine_instanceIds.png`` (``label_id * 1000 + k`` for
instances, the label id elsewhere).

Predictions (``PREDS``, a folder searched recursively), cityscapesScripts' result format: one text
file per image whose name starts with ``<city>_<seq>_<frame>`` (e.g.
``frankfurt_000000_000294_leftImg8bit.txt``) with one line per instance::

    relative/path/to/mask.png <label id> <confidence>

Mask paths are relative to the text file and must stay inside ``PREDS``; a mask is the non-zero pixels
of the PNG converted to grey (``Image.convert("L")``, as the reference). Label ids are Cityscapes
label ids (24 person ... 33 bicycle); lines of other classes are ignored, a repeated mask path keeps
its last label and confidence. Two text files for one image are an error, as in the reference.

Metric: ``cityscapes_ap`` (AP over overlaps 0.5:0.05:0.95 and AP50, per class; min region 100 px);
identical to cityscapesScripts' ``evalInstanceLevelSemanticLabeling``.

Examples
--------
>>> import tempfile
>>> root = CityscapesInstance.make_fake(tempfile.mkdtemp(), num_samples=2, seed=0)
>>> ds = CityscapesInstance(root)
>>> preds = ds.predictions(root / "results")
>>> s = ds.load(ds.sample_ids()[0]); len(preds.load(s).detections) > 0
True
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

import numpy as np

from ..errors import BadInputError, NotFoundError, UsageError
from ..types import InstanceMasks, InstancePrediction, Sample
from .base import DatasetSpec, PredictionSource
from .cityscapes import Cityscapes

__all__ = ["CityscapesInstance", "CityscapesResultTxtPredictions", "read_result_txt", "write_fake_instance_predictions"]


def read_result_txt(path, pred_root=None) -> list:
    """Read one result txt: ``[(mask_path, label_id, confidence)]`` in file order, duplicates merged
    like the reference (a dict keyed by the mask path: first position, last values)."""
    out: dict = {}
    base = Path(path).parent
    root = os.path.abspath(pred_root) if pred_root else None
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines(keepends=True)
    except UnicodeDecodeError:
        raise BadInputError("expected a UTF-8 text file of 'mask.png labelID confidence' lines, found binary or "
                            "another encoding", path=path) from None
    for ln, line in enumerate(lines, 1):
        if not line.strip():
            continue
        parts = line.split(" ")
        if len(parts) != 3:
            raise BadInputError(f"line {ln}: expected 'relPathPrediction labelID confidence' (3 fields separated "
                                f"by single spaces), found {line.strip()!r}", path=path)
        if os.path.isabs(parts[0]):
            raise BadInputError(f"line {ln}: the mask path must be relative to the txt file, found {parts[0]}",
                                path=path)
        mp = os.path.abspath(os.path.join(base, parts[0]))
        if root is not None and os.path.commonprefix([mp, root]) != root:
            raise BadInputError(f"line {ln}: mask {parts[0]} points outside the predictions folder", path=path)
        try:
            lid = int(float(parts[1]))
            conf = float(parts[2])
            if conf != conf:  # NaN: the reference's max/min pick depends on argument order
                raise ValueError
        except (ValueError, OverflowError):
            raise BadInputError(f"line {ln}: expected a numeric label id and a confidence that is a number (not "
                                f"NaN), found {line.strip()!r}", path=path) from None
        out[mp] = (lid, conf)
    return [(p, lid, conf) for p, (lid, conf) in out.items()]


class CityscapesResultTxtPredictions(PredictionSource):
    """Per-image ``<city>_<seq>_<frame>*.txt`` files listing instance mask PNGs."""

    def __init__(self, path, sample_ids):
        self.path = str(path)
        p = Path(path)
        if not p.is_dir():
            raise NotFoundError("expected a folder of <city>_<seq>_<frame>*.txt result files, found no such folder",
                                path=p)
        wanted = set(sample_ids)
        index: dict = {}
        for dirpath, dirnames, filenames in os.walk(p):
            dirnames.sort()
            for fn in sorted(filenames):
                if not fn.endswith(".txt"):
                    continue
                sid = "_".join(fn.split("_")[:3]).split(".")[0]
                if sid not in wanted:
                    continue
                if sid in index:
                    raise BadInputError(f"found multiple predictions for ground truth {sid}: {index[sid]} and "
                                        f"{os.path.join(dirpath, fn)}", path=p)
                index[sid] = os.path.join(dirpath, fn)
        self._index = index

    def available(self) -> set:
        return set(self._index)

    def files(self) -> list:
        return sorted(self._index.values())

    def load(self, sample: Sample) -> InstancePrediction:
        txt = self._index.get(sample.sample_id)
        dets = []
        if txt is not None:
            shape = sample.target.shape
            known = set(range(-1, 34))
            for j, (mp, lid, conf) in enumerate(read_result_txt(txt, self.path)):
                if lid not in known:
                    raise BadInputError(f"{Path(txt).name}: label id {lid} is not a Cityscapes label id", path=txt)
                if not os.path.exists(mp):
                    raise NotFoundError(f"expected the mask {mp} it lists, found no such file", path=txt)
                from ..io.labels import open_image
                im = open_image(mp)  # corrupt / truncated / not an image: one line naming the mask
                m = np.asarray(im.convert("L")) != 0
                if m.shape != tuple(shape):
                    raise BadInputError(f"mask size {m.shape[0]}x{m.shape[1]} differs from the ground truth "
                                        f"{shape[0]}x{shape[1]} (listed in {Path(txt).name})", path=mp)
                dets.append({"category_id": lid, "score": conf, "mask": m, "mask_path": mp})
        return InstancePrediction(dets, sample.sample_id)


class CityscapesInstance(Cityscapes):
    """Cityscapes instance segmentation (instanceIds GT, result-txt predictions); see the module docstring."""

    spec: ClassVar[DatasetSpec] = DatasetSpec(
        name="cityscapes-instance", version="1", task="instance",
        splits=dict(Cityscapes.spec.splits), default_split="val", default_metrics=("cityscapes_ap",),
        license=Cityscapes.spec.license, citation=Cityscapes.spec.citation, homepage=Cityscapes.spec.homepage,
        obtain=Cityscapes.spec.obtain, files=Cityscapes.spec.files[:1], size="241 MB (gtFine)")

    def __init__(self, root, split=None, **options):
        options = dict(options, instances=True)
        super().__init__(root, split, **options)

    def load(self, sample_id: str) -> Sample:
        s = super().load(sample_id)
        inst = s.target.instance_ids
        if inst is None:
            raise NotFoundError(f"expected {sample_id}_gtFine_instanceIds.png beside the labelIds file, found none",
                                path=s.meta.get("gt_path"))
        h, w = inst.shape
        return Sample(s.sample_id, s.image, InstanceMasks(int(h), int(w), [], sample_id, instance_ids=inst), s.meta)

    def predictions(self, path, **options) -> PredictionSource:
        if path is None or not Path(path).exists():
            raise NotFoundError("expected a folder of result txt files + mask PNGs, found nothing; check PREDS",
                                path=path)
        if not Path(path).is_dir():
            raise UsageError(f"cityscapes-instance expects PREDS to be a folder of <image>.txt files, found a file: "
                             f"{path}")
        return CityscapesResultTxtPredictions(path, self.sample_ids())

    def metric_options(self, metric_name: str) -> dict:
        return {}

    @classmethod
    def make_fake(cls, root, num_samples: int = 4, seed: int = 0, split: str = "val", size: tuple = (64, 128),
                  **options) -> Path:
        """Fake Cityscapes tree (see :meth:`Cityscapes.make_fake`) plus ``root/results`` predictions."""
        root = Cityscapes.make_fake(root, num_samples=num_samples, seed=seed, split=split, size=size, **options)
        write_fake_instance_predictions(root, Path(root) / "results", split=split, seed=seed)
        return Path(root)


def write_fake_instance_predictions(gt_root, out_dir, split: str = "val", seed: int = 0) -> Path:
    """Seeded result-txt predictions for a Cityscapes tree: perturbed copies of GT instances and groups
    (shifted, dilated, eroded, cut), duplicates, wrong classes, random false positives on void, empty
    masks and ignored classes; confidences with ties."""
    from PIL import Image
    from scipy import ndimage
    rng = np.random.default_rng(seed)
    ds = CityscapesInstance(gt_root, split=split)
    out = Path(out_dir)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    inst_ids = [lid for _, lid in (("person", 24), ("rider", 25), ("car", 26), ("truck", 27), ("bus", 28),
                                   ("train", 31), ("motorcycle", 32), ("bicycle", 33))]
    for sid in ds.sample_ids():
        inst = ds.load(sid).target.instance_ids.astype(np.int64)
        H, W = inst.shape
        lines = []
        k = 0

        def emit(m, lid, conf):
            nonlocal k
            name = f"masks/{sid}_{k:03d}.png"
            Image.fromarray((m.astype(np.uint8) * 255)).save(out / name)
            lines.append(f"{name} {lid} {conf}")
            k += 1

        for v in np.unique(inst):
            lid = int(v if v < 1000 else v // 1000)
            if lid not in inst_ids and lid not in (29, 30):
                continue
            g = inst == v
            for _ in range(int(rng.integers(0, 3))):
                m = np.roll(g, (int(rng.integers(-3, 4)), int(rng.integers(-3, 4))), axis=(0, 1))
                op = int(rng.integers(0, 4))
                if op == 1:
                    m = ndimage.binary_dilation(m, iterations=int(rng.integers(1, 3)))
                elif op == 2:
                    m = ndimage.binary_erosion(m, iterations=1)
                elif op == 3:
                    m = m.copy()
                    m[:, : W // 2] = False
                plid = lid if rng.random() < 0.85 else int(rng.choice(inst_ids + [29]))
                emit(m, plid, round(float(rng.random()), int(rng.integers(1, 4))))
        for _ in range(int(rng.integers(1, 5))):
            m = np.zeros((H, W), bool)
            y, x = int(rng.integers(0, H - 4)), int(rng.integers(0, W - 4))
            m[y:y + int(rng.integers(3, 30)), x:x + int(rng.integers(3, 40))] = True
            emit(m, int(rng.choice(inst_ids)), round(float(rng.random()), 2))
        if rng.random() < 0.3:
            emit(np.zeros((H, W), bool), int(rng.choice(inst_ids)), 0.5)
        (out / f"{sid}_leftImg8bit.txt").write_text("\n".join(lines) + ("\n" if lines else ""))
    return out

"""Writers of model predictions in the format each dataset's metrics read.

``segbench predict`` calls :func:`make_writer` once, then ``writer.write(sample, prediction)`` per
sample and ``writer.close()`` at the end; ``close`` returns the path to pass to ``segbench eval``.

========================  =========================================================================
prediction                files written under ``OUT``
========================  =========================================================================
SemanticPrediction        ``<sample_id>.png`` label PNGs (native ids) – H2's
SoftPrediction            :func:`segbench.models.predict.write_prediction` (or the adapter's
                          ``write_prediction`` hook); ``eval OUT``
InstancePrediction        (``cityscapes-instance``: ``<id>.txt`` + ``masks/*.png``, cityscapesScripts'
                          result format; ``eval OUT``); otherwise
                          ``results.json``: the COCO results list (``image_id, category_id, score,
                          segmentation`` as RLE with ``counts`` a str, ``bbox`` ``[x, y, w, h]``);
                          ``eval OUT/results.json``
PanopticPrediction        ``panoptic.json`` (COCO panoptic: ``annotations`` with ``image_id,
                          file_name, segments_info[id, category_id, iscrowd, area, bbox]`` and the
                          dataset's ``categories``) + ``panoptic/<file_name>.png`` RGB-id PNGs
                          (``id = R + 256 G + 256² B``, 0 = void); ``eval OUT/panoptic.json``
HierarchyPrediction       ``<sample_id>.mat`` with ``segs`` (1×N cell of label maps), the BSDS
                          region bench input; ``eval OUT --metrics bsds_regions``
VideoPrediction           ``<sequence>/<frame>.png`` indexed PNGs with the DAVIS palette (object ids,
                          0 = background); ``eval OUT``
========================  =========================================================================

Every file goes through :mod:`segbench.io.atomic`.

Examples
--------
>>> import tempfile, json, os, numpy as np
>>> from segbench.types import InstancePrediction, Sample
>>> w = CocoResultsWriter(tempfile.mkdtemp())
>>> w.write(Sample("1", None, None), InstancePrediction([{"image_id": 1, "category_id": 3, "score": 0.5,
...         "bbox": [0, 0, 1, 1], "segmentation": {"size": [2, 2], "counts": "04"}}], 1))
>>> p = w.close(); json.load(open(p))[0]["category_id"]
3
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import UsageError
from ..io.atomic import atomic_open, atomic_write_json
from ..io.labels import voc_palette as _voc_palette
from ..types import (HierarchyPrediction, InstancePrediction, PanopticPrediction, SemanticPrediction, SoftPrediction,
                     VideoPrediction)

__all__ = ["make_writer", "PredictionWriter", "CocoResultsWriter", "PanopticWriter", "DavisWriter", "voc_palette",
           "write_palette_png", "write_segs_mat", "CityscapesInstanceWriter", "COCO_RESULTS", "PANOPTIC_JSON"]

COCO_RESULTS = "results.json"
PANOPTIC_JSON = "panoptic.json"


def voc_palette() -> np.ndarray:
    """The PASCAL VOC / DAVIS palette ``(256, 3)`` uint8 (:func:`segbench.io.labels.voc_palette`).

    >>> voc_palette()[[0, 1, 2, 255]].tolist()
    [[0, 0, 0], [128, 0, 0], [0, 128, 0], [224, 224, 192]]
    """
    return _voc_palette()


def write_palette_png(path, ids: np.ndarray) -> None:
    """``(H, W)`` ids 0..255 → indexed (P-mode) PNG with the VOC/DAVIS palette, atomically."""
    from PIL import Image
    a = np.asarray(ids)
    if a.size and (int(a.max()) > 255 or int(a.min()) < 0):
        raise UsageError(f"DAVIS PNGs hold object ids 0..255, found {int(a.min())}..{int(a.max())}")
    im = Image.fromarray(a.astype(np.uint8), mode="P")
    im.putpalette(voc_palette().ravel().tolist())
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "wb") as f:
        im.save(f, format="PNG")


def write_segs_mat(path, segs) -> None:
    """A BSDS region-benchmark input: ``.mat`` with ``segs``, a 1×N cell of ``(H, W)`` label maps (uint16
    when labels fit, else double), written atomically with ``scipy.io.savemat``."""
    import io as _io

    from scipy.io import savemat
    cell = np.empty((1, len(segs)), dtype=object)
    for i, s in enumerate(segs):
        a = np.asarray(s)
        cell[0, i] = a.astype(np.uint16) if a.size and 0 <= a.min() and a.max() < 65536 else a.astype(np.float64)
    buf = _io.BytesIO()
    savemat(buf, {"segs": cell}, do_compression=True)
    with atomic_open(path, "wb") as f:
        f.write(buf.getvalue())


def _bbox(mask: np.ndarray) -> list:
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return [0, 0, 0, 0]
    return [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)]


class PredictionWriter:
    """Dispatching writer: label PNGs through H2's ``write_prediction``, the rest through the writers below."""

    def __init__(self, dataset, out_dir):
        self.dataset = dataset
        self.out = Path(out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        self._inner = None
        self.count = 0

    def write(self, sample, prediction) -> None:
        if isinstance(prediction, HierarchyPrediction):  # before the adapter's soft-map hook
            write_segs_mat(self.out / f"{sample.sample_id}.mat", prediction.segs)
            self.count += 1
            return
        hook = getattr(self.dataset, "write_prediction", None)
        if isinstance(prediction, (SemanticPrediction, SoftPrediction)) or callable(hook):
            from .predict import write_prediction
            write_prediction(self.dataset, sample, prediction, self.out)
            self.count += 1
            return
        if self._inner is None:
            if isinstance(prediction, InstancePrediction) and self.dataset.spec.name == "cityscapes-instance":
                self._inner = CityscapesInstanceWriter(self.out)  # the format its prediction reader takes
            elif isinstance(prediction, InstancePrediction):
                self._inner = CocoResultsWriter(self.out)
            elif isinstance(prediction, PanopticPrediction):
                self._inner = PanopticWriter(self.out, self.dataset.label_space())
            elif isinstance(prediction, VideoPrediction):
                self._inner = DavisWriter(self.out)
            else:
                raise UsageError(f"no writer for {type(prediction).__name__} predictions")
        self._inner.write(sample, prediction)
        self.count += 1

    def close(self) -> str:
        """Finish the files; returns what to pass to ``segbench eval`` (a folder or a JSON file)."""
        if self._inner is not None:
            return str(self._inner.close())
        return str(self.out)


def make_writer(dataset, out_dir) -> PredictionWriter:
    """The writer for ``dataset``'s prediction format (chosen from the first prediction's type)."""
    return PredictionWriter(dataset, out_dir)


class CocoResultsWriter:
    """COCO results JSON (``loadRes`` format): one list of detections for all images."""

    def __init__(self, out_dir, name: str = COCO_RESULTS):
        self.path = Path(out_dir) / name
        self.dets: list = []

    def write(self, sample, prediction: InstancePrediction) -> None:
        for d in prediction.detections:
            d = dict(d)
            seg = d.get("segmentation")
            if isinstance(seg, dict) and isinstance(seg.get("counts"), bytes):
                d["segmentation"] = dict(seg, counts=seg["counts"].decode("ascii"))
            d["score"] = float(d["score"])
            d["category_id"] = int(d["category_id"])
            self.dets.append(d)

    def close(self) -> Path:
        atomic_write_json(self.path, self.dets, indent=None)
        return self.path


class CityscapesInstanceWriter:
    """cityscapesScripts instance results: ``<sample_id>.txt`` with lines ``masks/<name>.png <labelId>
    <confidence>`` and one 0/255 mask PNG per detection in ``masks/``."""

    def __init__(self, out_dir):
        self.out = Path(out_dir)
        (self.out / "masks").mkdir(parents=True, exist_ok=True)

    def write(self, sample, prediction: InstancePrediction) -> None:
        from PIL import Image
        from pycocotools import mask as mask_utils
        lines = []
        for k, d in enumerate(prediction.detections):
            seg = dict(d["segmentation"])
            if isinstance(seg.get("counts"), str):
                seg["counts"] = seg["counts"].encode("ascii")
            m = mask_utils.decode(seg).astype(np.uint8) * 255
            rel = f"masks/{sample.sample_id}_{k:03d}.png"
            with atomic_open(self.out / rel, "wb") as f:
                Image.fromarray(m, mode="L").save(f, format="PNG")
            lines.append(f"{rel} {int(d['category_id'])} {float(d['score']):.6f}\n")
        with atomic_open(self.out / f"{sample.sample_id}.txt", "wb") as f:
            f.write("".join(lines).encode("utf-8"))

    def close(self) -> Path:
        return self.out


class PanopticWriter:
    """COCO panoptic predictions: RGB-id PNGs in ``panoptic/`` and ``panoptic.json``."""

    def __init__(self, out_dir, label_space, name: str = PANOPTIC_JSON):
        self.json = Path(out_dir) / name
        self.folder = self.json.with_suffix("")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.label_space = label_space
        self.annotations: list = []

    def write(self, sample, prediction: PanopticPrediction) -> None:
        from ..io.panoptic import write_panoptic_png
        meta = sample.meta if isinstance(sample.meta, dict) else {}
        image_id = meta.get("image_id", sample.sample_id)
        file_name = str(meta.get("file_name") or f"{sample.sample_id}.png")
        file_name = str(Path(file_name).with_suffix(".png").name)
        ids = np.asarray(prediction.ids).astype(np.uint32)
        infos = []
        for s in prediction.segments:
            m = ids == int(s["id"])
            infos.append({"id": int(s["id"]), "category_id": int(s["category_id"]), "iscrowd": int(s.get("iscrowd", 0)),
                          "area": int(m.sum()), "bbox": _bbox(m)})
        write_panoptic_png(self.folder / file_name, ids)
        self.annotations.append({"image_id": image_id, "file_name": file_name, "segments_info": infos})

    def close(self) -> Path:
        from ..io.panoptic import write_panoptic_json
        cats = []
        if self.label_space is not None:
            for c in self.label_space.eval_classes:
                cats.append({"id": int(c.id), "name": c.name, "isthing": int(bool(c.is_thing)),
                             "supercategory": c.category, "color": list(c.color)})
        write_panoptic_json(self.json, self.annotations, cats)
        return self.json


class DavisWriter:
    """DAVIS-style ``<sequence>/<frame>.png`` indexed PNGs."""

    def __init__(self, out_dir):
        self.out = Path(out_dir)

    def write(self, sample, prediction: VideoPrediction) -> None:
        masks = np.asarray(prediction.masks)
        for name, m in zip(prediction.frames, masks):
            write_palette_png(self.out / sample.sample_id / f"{Path(str(name)).stem}.png", m)

    def close(self) -> Path:
        return self.out

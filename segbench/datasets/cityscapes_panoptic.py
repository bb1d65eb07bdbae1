"""Cityscapes panoptic (``cityscapes-panoptic``): the COCO-panoptic-format files of cityscapesScripts.

Layout (written by ``cityscapesscripts/preparation/createPanopticImgs.py``; ``--gt`` = the Cityscapes root)::

    ROOT/gtFine/cityscapes_panoptic_<split>.json     images, annotations, categories (19 evaluated classes)
    ROOT/gtFine/cityscapes_panoptic_<split>/<city>_<seq>_<frame>_gtFine_panoptic.png
    ROOT/leftImg8bit/<split>/<city>/<city>_<seq>_<frame>_leftImg8bit.png

``image_id`` is ``<city>_<seq>_<frame>``. Segment ids follow Cityscapes' instance ids: a stuff segment's
id is its label id, a thing instance's is ``label_id * 1000 + k``, and a thing region without instances
(``id < 1000``) is a crowd segment (``iscrowd = 1``). Ignore handling: labels with ``ignoreInEval``
(unlabeled, ego vehicle, ..., license plate) are not in ``categories`` and their pixels are VOID (0).
With ``--use-train-id``-made files (``cityscapes_panoptic_<split>_trainId.json``), pass
``variant="trainId"``.

Predictions: ``PRED.json`` + its PNG folder (``PRED/`` beside it or ``--pred-folder``), the format of
cityscapesScripts' ``evalPanopticSemanticLabeling.py``; a folder holding
``cityscapes_panoptic_<split>.json`` is accepted too. The evaluation is that script's (which is
panopticapi's algorithm): metric ``pq``.

Examples
--------
>>> import tempfile
>>> root = CityscapesPanoptic.make_fake(tempfile.mkdtemp(), num_samples=2, size=(32, 64))
>>> ds = CityscapesPanoptic(root)
>>> ds.sample_ids()[0], ds.label_space().num_classes
('frankfurt_000000_000000', 19)
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from ..errors import NotFoundError
from ..io.panoptic import segments_from_ids, write_panoptic_json, write_panoptic_png
from .base import DatasetSpec, ManifestFile, PredictionSource
from .coco_panoptic import PanopticJSONPredictions, _PanopticJSONDataset, synth_panoptic_image

__all__ = ["CityscapesPanoptic", "CITYSCAPES_PANOPTIC_CATEGORIES"]

# (name, label id, train id, category, hasInstances, color) of the 19 evaluated Cityscapes labels
_ROWS = [
    ("road", 7, 0, "flat", False, (128, 64, 128)), ("sidewalk", 8, 1, "flat", False, (244, 35, 232)),
    ("building", 11, 2, "construction", False, (70, 70, 70)), ("wall", 12, 3, "construction", False, (102, 102, 156)),
    ("fence", 13, 4, "construction", False, (190, 153, 153)), ("pole", 17, 5, "object", False, (153, 153, 153)),
    ("traffic light", 19, 6, "object", False, (250, 170, 30)), ("traffic sign", 20, 7, "object", False, (220, 220, 0)),
    ("vegetation", 21, 8, "nature", False, (107, 142, 35)), ("terrain", 22, 9, "nature", False, (152, 251, 152)),
    ("sky", 23, 10, "sky", False, (70, 130, 180)), ("person", 24, 11, "human", True, (220, 20, 60)),
    ("rider", 25, 12, "human", True, (255, 0, 0)), ("car", 26, 13, "vehicle", True, (0, 0, 142)),
    ("truck", 27, 14, "vehicle", True, (0, 0, 70)), ("bus", 28, 15, "vehicle", True, (0, 60, 100)),
    ("train", 31, 16, "vehicle", True, (0, 80, 100)), ("motorcycle", 32, 17, "vehicle", True, (0, 0, 230)),
    ("bicycle", 33, 18, "vehicle", True, (119, 11, 32)),
]


def _categories(use_train_id: bool = False) -> list:
    return [{"id": tid if use_train_id else lid, "name": n, "color": list(col), "supercategory": cat,
             "isthing": 1 if inst else 0} for n, lid, tid, cat, inst, col in _ROWS]


CITYSCAPES_PANOPTIC_CATEGORIES = _categories()


class CityscapesPanoptic(_PanopticJSONDataset):
    """Cityscapes panoptic in cityscapesScripts' layout; scored like ``evalPanopticSemanticLabeling``."""

    #: Options this adapter reads (``--option KEY=VALUE``; others are reported).
    option_names: ClassVar[tuple] = ("gt_folder", "gt_json", "pred_folder", "variant")
    spec: ClassVar[DatasetSpec] = DatasetSpec(
        name="cityscapes-panoptic", version="1.0", task="panoptic", splits={"train": 2975, "val": 500, "test": 1525},
        default_split="val", default_metrics=("pq",),
        license="Cityscapes terms of use (non-commercial research; registration required)",
        citation="Cordts et al. The Cityscapes Dataset for Semantic Urban Scene Understanding. CVPR 2016.",
        homepage="https://www.cityscapes-dataset.com", obtain="login",
        files=(ManifestFile("gtFine_trainvaltest.zip", None, extract=True),),
        size="241 MB (gtFine) + panoptic PNGs made by createPanopticImgs")

    def _gt_paths(self) -> tuple[Path, Path]:
        root = self.require_root()
        suffix = "_trainId" if self.options.get("variant") == "trainId" else ""
        base = root / "gtFine" if (root / "gtFine").is_dir() else root
        js = Path(self.options["gt_json"]) if self.options.get("gt_json") else \
            base / f"cityscapes_panoptic_{self.split}{suffix}.json"
        if not js.exists():
            raise NotFoundError(f"cityscapes-panoptic: expected {js}; create it with cityscapesscripts' "
                                f"createPanopticImgs (csCreatePanopticImgs) and check --gt / --split", path=root)
        folder = Path(self.options["gt_folder"]) if self.options.get("gt_folder") else js.with_suffix("")
        if not folder.is_dir():
            raise NotFoundError(f"cityscapes-panoptic: expected the PNG folder {folder} (or pass --gt-folder)",
                                path=root)
        return js, folder

    def image_path(self, ann, gt):
        if self.root is None:
            return None
        sid = str(ann["image_id"])
        city = sid.split("_")[0]
        return str(self.root / "leftImg8bit" / self.split / city / f"{sid}_leftImg8bit.png")

    def predictions(self, path, **options) -> PredictionSource:
        p = Path(path)
        if p.is_dir():
            cand = p / f"cityscapes_panoptic_{self.split}.json"
            if cand.exists():
                p = cand
        return PanopticJSONPredictions(p, options.get("pred_folder"), set(self._gt().categories))

    @classmethod
    def make_fake(cls, root, num_samples: int = 4, seed: int = 0, size=(64, 128), split: str = "val",
                  **options) -> Path:
        """Cityscapes panoptic layout with seeded images: stuff, thing instances (id*1000+k), crowd, void."""
        root = Path(root)
        rng = np.random.default_rng(seed)
        cats = _categories()
        things = {c["id"] for c in cats if c["isthing"]}
        js = root / "gtFine" / f"cityscapes_panoptic_{split}.json"
        folder = js.with_suffix("")
        folder.mkdir(parents=True, exist_ok=True)
        cities = ["frankfurt", "lindau", "munster"]
        images, anns = [], []
        for i in range(num_samples):
            city = cities[i % len(cities)]
            image_id = f"{city}_{i // len(cities):06d}_{(i * 19) % 1000000:06d}"
            ids, segs = synth_panoptic_image(rng, size, options.get("num_segments", 12), cats)
            # re-number Cityscapes-style: stuff -> label id, thing -> label*1000+k, crowd thing -> label id
            new = np.zeros_like(ids)
            cat_of, crowd_of, count = {}, {}, {}
            for s in segs:
                c = s["category_id"]
                if c in things and not s["iscrowd"]:
                    k = count.get(c, 0)
                    count[c] = k + 1
                    nid = c * 1000 + k
                else:
                    nid = c
                    if c in things:
                        crowd_of[nid] = 1
                new[ids == s["id"]] = nid
                cat_of[nid] = c
            nsegs = segments_from_ids(new, cat_of, crowd_of)
            name = f"{image_id}_gtFine_panoptic.png"
            write_panoptic_png(folder / name, new)
            images.append({"id": image_id, "file_name": f"{image_id}_leftImg8bit.png",
                           "height": int(size[0]), "width": int(size[1])})
            anns.append({"image_id": image_id, "file_name": name, "segments_info": nsegs})
        write_panoptic_json(js, anns, cats, images)
        return root

"""Dataset registry. Registering an adapter is one line; importing this module imports no adapter.

Names are the real datasets (``cityscapes``...) and the generic *styles* for users' own data
(``cityscapes-style``...).
"""

from __future__ import annotations

from ..registry import resolve

DATASETS: dict[str, str] = {
    "cityscapes": "segbench.datasets.cityscapes:Cityscapes",
    "coco": "segbench.datasets.coco:Coco",
    "coco-style": "segbench.datasets.coco:CocoStyle",
    "cityscapes-instance": "segbench.datasets.cityscapes_instance:CityscapesInstance",
    "isbi-membrane": "segbench.datasets.isbi_membrane:ISBIMembrane",
    "cityscapes-style": "segbench.datasets.styles:CityscapesStyle",
    "davis2017": "segbench.datasets.davis:Davis2017",
    "davis-style": "segbench.datasets.davis:DavisStyle",
    "youtube-vis": "segbench.datasets.youtube_vis:YouTubeVIS",
    "coco-panoptic": "segbench.datasets.coco_panoptic:CocoPanoptic",
    "coco-panoptic-style": "segbench.datasets.coco_panoptic:CocoPanopticStyle",
    "cityscapes-panoptic": "segbench.datasets.cityscapes_panoptic:CityscapesPanoptic",
    "bsds500": "segbench.datasets.bsds500:BSDS500",
    "crackforest": "segbench.datasets.crackforest:CrackForest",
    "sbd": "segbench.datasets.sbd:SBD",
    "kaggle-clouds": "segbench.datasets.kaggle_clouds:KaggleClouds",
    "idrid": "segbench.datasets.idrid:IDRiD",
    "isprs-vaihingen": "segbench.datasets.isprs:ISPRSVaihingen",
    "isprs-potsdam": "segbench.datasets.isprs:ISPRSPotsdam",
    "deepglobe-landcover": "segbench.datasets.deepglobe:DeepGlobeLandCover",
    "deepglobe-roads": "segbench.datasets.deepglobe:DeepGlobeRoads",
    "tgs-salt": "segbench.datasets.tgs_salt:TGSSalt",
    "ade20k": "segbench.datasets.ade20k:ADE20K",
    "voc2012": "segbench.datasets.voc:VOC2012",
    "voc-style": "segbench.datasets.voc:VOCStyle",
}


def get_dataset_class(name: str):
    """Return the adapter class registered as ``name`` (did-you-mean on unknown names)."""
    return resolve(DATASETS, name, kind="dataset")


def load_dataset(name: str, root=None, split=None, **options):
    """Build the adapter ``name`` on ``root``."""
    return get_dataset_class(name)(root, split=split, **options)


__all__ = ["DATASETS", "get_dataset_class", "load_dataset"]

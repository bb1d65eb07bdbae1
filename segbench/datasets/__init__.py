"""Dataset registry. Registering an adapter is one line; importing this module imports no adapter.

Names are the real datasets (``cityscapes``...) and the generic *styles* for users' own data
(``cityscapes-style``...).
"""

from __future__ import annotations

from ..registry import resolve

DATASETS: dict[str, str] = {
    "cityscapes": "segbench.datasets.cityscapes:Cityscapes",
    "isbi-membrane": "segbench.datasets.isbi_membrane:ISBIMembrane",
    "cityscapes-style": "segbench.datasets.styles:CityscapesStyle",
    "coco-panoptic": "segbench.datasets.coco_panoptic:CocoPanoptic",
    "coco-panoptic-style": "segbench.datasets.coco_panoptic:CocoPanopticStyle",
    "cityscapes-panoptic": "segbench.datasets.cityscapes_panoptic:CityscapesPanoptic",
}


def get_dataset_class(name: str):
    """Return the adapter class registered as ``name`` (did-you-mean on unknown names)."""
    return resolve(DATASETS, name, kind="dataset")


def load_dataset(name: str, root=None, split=None, **options):
    """Build the adapter ``name`` on ``root``."""
    return get_dataset_class(name)(root, split=split, **options)


__all__ = ["DATASETS", "get_dataset_class", "load_dataset"]

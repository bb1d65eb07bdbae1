"""Metric registry. Registering a metric is one line; importing this module imports no metric.

Use :func:`get_metric` to build one by name (unknown names get a did-you-mean error).
"""

from __future__ import annotations

from ..registry import resolve

METRICS: dict[str, str] = {
    "miou": "segbench.metrics.semantic:MeanIoU",
    "coco_ap": "segbench.metrics.instance:COCOAP",
    "lvis_ap": "segbench.metrics.instance:LVISAP",
    "cityscapes_ap": "segbench.metrics.cityscapes_instance:CityscapesInstanceAP",
    "davis_jf": "segbench.metrics.video:DavisJF",
    "ytvis_ap": "segbench.metrics.video:YTVISAP",
    "pq": "segbench.metrics.panoptic:PanopticQuality",
    "pq_modified": "segbench.metrics.panoptic:ModifiedPanopticQuality",
    "tgs_map": "segbench.metrics.competition:TGSMeanAP",
    "clouds_dice": "segbench.metrics.competition:CloudsDice",
    "idrid_aupr": "segbench.metrics.competition:IDRiDAUPR",
    "bsds_boundary": "segbench.metrics.boundary:BSDSBoundary",
    "bsds_regions": "segbench.metrics.boundary:BSDSRegions",
    "boundary_iou": "segbench.metrics.boundary:BoundaryIoU",
    "bf": "segbench.metrics.boundary:BoundaryF",
    "referring": "segbench.metrics.referring:ReferringIoU",
    "fewshot": "segbench.metrics.fewshot:FewShotIoU",
    "zeroshot": "segbench.metrics.openvocab:ZeroShotIoU",
    "interactive": "segbench.metrics.interactive:InteractiveNoC",
}


def get_metric_class(name: str):
    """Return the metric class registered as ``name``."""
    return resolve(METRICS, name, kind="metric")


def get_metric(name: str, label_space=None, **options):
    """Build the metric registered as ``name`` with a label space and options."""
    return get_metric_class(name)(label_space, **options)


__all__ = ["METRICS", "get_metric", "get_metric_class"]

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
    "category_boundary": "segbench.metrics.boundary:CategoryBoundary",
    "boundary_iou": "segbench.metrics.boundary:BoundaryIoU",
    "bf": "segbench.metrics.boundary:BoundaryF",
    "referring": "segbench.metrics.referring:ReferringIoU",
    "fewshot": "segbench.metrics.fewshot:FewShotIoU",
    "zeroshot": "segbench.metrics.openvocab:ZeroShotIoU",
    "interactive": "segbench.metrics.interactive:InteractiveNoC",
    "isbi_rand": "segbench.metrics.rand:IsbiRand",
}


def get_metric_class(name: str):
    """Return the metric class registered as ``name``."""
    return resolve(METRICS, name, kind="metric")


def get_metric(name: str, label_space=None, **options):
    """Build the metric registered as ``name`` with a label space and options."""
    return get_metric_class(name)(label_space, **options)


def check_metric_options(name: str, options: dict) -> None:
    """Refuse option keys that metric ``name`` does not read (a typo would silently do nothing)."""
    from ..errors import UsageError
    from ..registry import did_you_mean
    cls = get_metric_class(name)
    known = cls.option_names
    if known is None:
        return
    for key in options:
        if key not in known:
            accepted = ", ".join(known) if known else "none"
            raise UsageError(f"--metric-option: metric {name!r} has no option {key!r}{did_you_mean(key, known)}; "
                             f"it accepts: {accepted}")


def parse_metric_options(items) -> dict:
    """``["coco_ap.fix_max_dets=true", "bsds_boundary.mode=fast"]`` → ``{metric: {key: value}}``.

    Values are JSON where they parse (numbers, true/false, null, lists), strings otherwise; metric names
    and keys are checked (:func:`check_metric_options`).
    """
    import json

    from ..errors import UsageError
    out: dict = {}
    for item in items or []:
        lhs, sep, val = str(item).partition("=")
        metric, dot, key = lhs.strip().partition(".")
        if not sep or not dot or not metric or not key:
            raise UsageError(f"--metric-option: expected METRIC.KEY=VALUE (e.g. coco_ap.fix_max_dets=true), "
                             f"found {item!r}")
        try:
            value = json.loads(val)
        except ValueError:
            value = val.strip()
        get_metric_class(metric)  # unknown metric: did-you-mean
        out.setdefault(metric, {})[key.strip()] = value
    for metric, opts in out.items():
        check_metric_options(metric, opts)
    return out


__all__ = ["METRICS", "get_metric", "get_metric_class", "check_metric_options", "parse_metric_options"]

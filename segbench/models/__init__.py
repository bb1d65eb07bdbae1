"""Model registry. Registering a wrapper is one line; importing this module imports no model (and no torch).

Use :func:`get_model` to build one by name (unknown names get a did-you-mean error). Every wrapper
follows :class:`segbench.models.base.ModelWrapper`.

Examples
--------
>>> from segbench.models import MODELS, get_model
>>> "skimage-otsu" in MODELS
True
>>> get_model("skimage-otsu").name
'skimage-otsu'
"""

from __future__ import annotations

from ..registry import resolve

MODELS: dict[str, str] = {
    "skimage-otsu": "segbench.models.classical:OtsuThreshold",
    "skimage-sauvola": "segbench.models.classical:SauvolaThreshold",
    "skimage-canny": "segbench.models.edges:CannyEdges",
    "skimage-sobel": "segbench.models.edges:SobelEdges",
    "tv-fcn-resnet50": "segbench.models.torchvision_models:FCNResNet50",
    "tv-fcn-resnet101": "segbench.models.torchvision_models:FCNResNet101",
    "tv-deeplabv3-resnet50": "segbench.models.torchvision_models:DeepLabV3ResNet50",
    "tv-deeplabv3-resnet101": "segbench.models.torchvision_models:DeepLabV3ResNet101",
    "tv-deeplabv3-mobilenetv3": "segbench.models.torchvision_models:DeepLabV3MobileNetV3",
    "tv-lraspp-mobilenetv3": "segbench.models.torchvision_models:LRASPPMobileNetV3",
    "tv-maskrcnn-resnet50-fpn": "segbench.models.torchvision_models:MaskRCNN",
    "tv-maskrcnn-resnet50-fpn-v2": "segbench.models.torchvision_models:MaskRCNNv2",
    "hf-segformer": "segbench.models.hf:SegFormer",
    "hf-upernet": "segbench.models.hf:UperNet",
    "hf-dpt": "segbench.models.hf:DPT",
    "hf-mask2former-semantic": "segbench.models.hf:Mask2FormerSemantic",
    "hf-mask2former-instance": "segbench.models.hf:Mask2FormerInstance",
    "hf-mask2former-panoptic": "segbench.models.hf:Mask2FormerPanoptic",
    "hf-maskformer-semantic": "segbench.models.hf:MaskFormerSemantic",
    "hf-maskformer-instance": "segbench.models.hf:MaskFormerInstance",
    "hf-maskformer-panoptic": "segbench.models.hf:MaskFormerPanoptic",
    "hf-sam-box": "segbench.models.prompted:SAMBox",
    "hf-sam-point": "segbench.models.prompted:SAMPoint",
    "hf-sam-propagate": "segbench.models.prompted:SAMPropagate",
    "hf-clipseg": "segbench.models.prompted:CLIPSeg",
    "smp-unet": "segbench.models.smp_models:SMPUnet",
    "smp-unetplusplus": "segbench.models.smp_models:SMPUnetPlusPlus",
    "smp-fpn": "segbench.models.smp_models:SMPFPN",
    "smp-pspnet": "segbench.models.smp_models:SMPPSPNet",
    "smp-deeplabv3plus": "segbench.models.smp_models:SMPDeepLabV3Plus",
    "smp-pan": "segbench.models.smp_models:SMPPAN",
    "smp-linknet": "segbench.models.smp_models:SMPLinkNet",
    "skimage-slic": "segbench.models.regions:SLICRegions",
    "skimage-felzenszwalb": "segbench.models.regions:FelzenszwalbRegions",
    "skimage-watershed": "segbench.models.regions:WatershedRegions",
}


def get_model_class(name: str):
    """Return the wrapper class registered as ``name`` (did-you-mean on unknown names)."""
    return resolve(MODELS, name, kind="model")


def get_model(name: str, **options):
    """Build the wrapper registered as ``name`` with its options (``device``, ``slide``, ``scales``...).

    Options a wrapper does not support raise :class:`~segbench.errors.UsageError`.
    """
    return get_model_class(name)(**options)


__all__ = ["MODELS", "get_model", "get_model_class"]

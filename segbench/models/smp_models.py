"""segmentation-models-pytorch wrappers: U-Net, UNet++, FPN, PSPNet, DeepLabV3+, PAN, LinkNet.

The architecture is smp's own class (``segmentation_models_pytorch.Unet`` ...) built with
``encoder_weights=None`` (nothing is downloaded), then the user's local checkpoint is loaded safely:

* a folder written by smp's ``model.save_pretrained(DIR)`` (``config.json`` with ``_model_class``,
  ``encoder_name``, ``classes``... + ``model.safetensors``): the exact configuration is rebuilt;
* a bare state dict (``.pth`` / ``.safetensors``): the class count and input channels are read from
  the tensors' shapes; the encoder is the ``encoder`` option (smp's default ``resnet34``). A state
  dict for another encoder fails with the first mismatched key named.

Pre-processing (smp's ``encoders.get_preprocessing_params``, ``pretrained="imagenet"``): RGB in
0..1 normalised with the ImageNet mean/std (the smp-hub configs of the ResNet / ResNeXt /
EfficientNet / MobileNet / VGG / DenseNet / SE-Net encoders); ``tu-`` (timm) encoders use timm's
``pretrained_cfg`` mean/std. smp itself calls the Hub for these numbers; segbench uses the same
values from a local table and never touches the network. No resize: the image is zero-padded
(after normalisation) at the bottom/right to a multiple of the encoder's output stride (32), as
smp requires, and the logits are cropped back. A one-channel model on a two-class dataset is a
binary model (``logit > 0`` → train id 1); otherwise arg-max over the classes.

Label space: smp checkpoints carry no class names; the model predicts the dataset's train ids (the
class counts must match).

References
----------
Iakubovskii, Segmentation Models Pytorch, github.com/qubvel-org/segmentation_models.pytorch.
Ronneberger et al., U-Net, MICCAI 2015. Zhou et al., UNet++, DLMIA 2018. Kirillov et al., Panoptic
FPN, CVPR 2019. Zhao et al., PSPNet, CVPR 2017. Chen et al., DeepLabV3+, ECCV 2018. Li et al., PAN,
BMVC 2018. Chaurasia & Culurciello, LinkNet, VCIP 2017.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import BadInputError, UsageError
from . import inference as inf
from ._lazy import require
from .checkpoint import load_into, read_state_dict
from .torch_base import SemanticTorchWrapper

__all__ = ["SMPWrapper", "SMPUnet", "SMPUnetPlusPlus", "SMPFPN", "SMPPSPNet", "SMPDeepLabV3Plus", "SMPPAN",
           "SMPLinkNet"]


class SMPWrapper(SemanticTorchWrapper):
    """Base of the smp wrappers; ``arch`` is the smp class name.

    Parameters
    ----------
    encoder : str, optional
        smp encoder name for a bare state dict (default ``resnet34``, smp's default); must agree
        with ``config.json`` when the checkpoint folder has one.
    divisor : int, default 32
        Inputs are zero-padded (bottom/right, after normalisation) to a multiple of this.
    **kw
        ``tta_average``, ``resize`` and ``device``, ``batch_size``, ``slide``, ``scales``, ``flip``.
    """

    backend = "segmentation_models_pytorch"
    arch: str = "Unet"
    #: smp's default encoder (all architectures).
    default_encoder = "resnet34"

    def __init__(self, encoder: str | None = None, divisor: int = 32, **kw: Any):
        super().__init__(**kw)
        self.encoder = encoder
        if encoder is not None:
            self.options["encoder"] = encoder
        self.divisor = int(divisor)
        self._classes = None
        self.config: dict = {}

    def resize_policy_name(self) -> str:
        return f"none; zero-pad to a multiple of {self.divisor} after normalisation"

    def _read_config(self, weights_path) -> dict:
        p = Path(weights_path)
        cfg = p / "config.json" if p.is_dir() else p.with_name("config.json")
        if not cfg.is_file():
            return {}
        try:
            d = json.loads(cfg.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise BadInputError(f"expected smp's config.json (save_pretrained), found unreadable JSON ({e})",
                                path=str(cfg)) from None
        if not isinstance(d, dict) or "_model_class" not in d:
            return {}
        if d["_model_class"] != self.arch:
            raise UsageError(f"--weights: the checkpoint is an smp {d['_model_class']}, but model {self.name!r} "
                             f"is an smp {self.arch}; pick the matching --model")
        return d

    def build(self, weights_path):
        smp = require("segmentation_models_pytorch", self.name)
        sd = read_state_dict(weights_path)
        cfg = self._read_config(weights_path)
        if cfg:
            kwargs = {k: v for k, v in cfg.items() if not k.startswith("_")}
            kwargs["encoder_weights"] = None
            if self.encoder and self.encoder != kwargs.get("encoder_name"):
                raise UsageError(f"encoder={self.encoder!r} but the checkpoint's config.json says "
                                 f"{kwargs.get('encoder_name')!r}")
        else:
            head = [k for k in sd if k.startswith("segmentation_head.") and k.endswith(".weight")]
            if not head:
                raise BadInputError(f"weights do not fit smp {self.arch}: no 'segmentation_head.*.weight' key; "
                                    f"the checkpoint is not an smp model state dict", path=weights_path)
            classes = int(sd[head[0]].shape[0])
            first = next((v for k, v in sd.items() if k.startswith("encoder.") and v.ndim == 4), None)
            in_ch = int(first.shape[1]) if first is not None else 3
            kwargs = {"encoder_name": self.encoder or self.default_encoder, "encoder_weights": None,
                      "classes": classes, "in_channels": in_ch}
        try:
            model = getattr(smp, self.arch)(**kwargs)
        except (TypeError, ValueError, KeyError) as e:
            raise BadInputError(f"cannot build smp {self.arch} with {kwargs} ({e}); check config.json / encoder",
                                path=weights_path) from None
        self.config = {k: v for k, v in kwargs.items() if isinstance(v, (str, int, float, bool, type(None)))}
        self._classes = int(kwargs.get("classes", 1))
        self.in_channels = int(kwargs.get("in_channels", 3))
        self.mean, self.std = self._preprocessing(kwargs["encoder_name"])
        if self.in_channels != 3:
            self.mean, self.std = [sum(self.mean) / 3] * self.in_channels, [sum(self.std) / 3] * self.in_channels
        return load_into(model, sd, path=weights_path, what=f"smp {self.arch}({kwargs['encoder_name']})")

    def _preprocessing(self, encoder_name: str):
        if encoder_name.startswith("tu-"):
            timm = require("timm", self.name)
            try:
                cfg = timm.models.get_pretrained_cfg(encoder_name[3:])
                if cfg is not None and getattr(cfg, "mean", None):
                    return list(cfg.mean), list(cfg.std)
            except Exception:  # noqa: BLE001 - fall back to ImageNet constants
                pass
        return list(inf.IMAGENET_MEAN), list(inf.IMAGENET_STD)

    def num_outputs(self):
        return self._classes

    def bind(self, dataset):
        from .base import ModelWrapper
        from .labelmap import LabelMapping
        ModelWrapper.bind(self, dataset)
        ls = self.dataset_label_space
        if self._classes == 1 and ls is not None and ls.num_classes == 2:
            self.mapping = LabelMapping.build(None, ls, self.name, num_outputs=2)
        else:
            self.mapping = LabelMapping.build(None, ls, self.name, num_outputs=self._classes)
        return self

    def forward_logits(self, x):
        F = require("torch.nn.functional")
        h, w = x.shape[-2:]
        d = self.divisor
        ph, pw = (-h) % d, (-w) % d
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph))
        return self.module(x)[:, :, :h, :w]

    def settings(self) -> dict:
        s = super().settings()
        s["smp_config"] = dict(self.config)
        return s


def _smp(clsname: str, name: str, arch: str, paper: str) -> type:
    return type(clsname, (SMPWrapper,), {
        "__module__": __name__, "name": name, "arch": arch,
        "reference": {"library": "segmentation-models-pytorch", "function": f"segmentation_models_pytorch.{arch}",
                      "paper": paper, "published_weights": "user checkpoint (smp save_pretrained folder or state dict)"},
        "__doc__": f"smp {arch} (``segmentation_models_pytorch.{arch}``). {paper}."})


SMPUnet = _smp("SMPUnet", "smp-unet", "Unet", "Ronneberger, Fischer, Brox, U-Net, MICCAI 2015")
SMPUnetPlusPlus = _smp("SMPUnetPlusPlus", "smp-unetplusplus", "UnetPlusPlus",
                       "Zhou et al., UNet++: A Nested U-Net Architecture, DLMIA 2018")
SMPFPN = _smp("SMPFPN", "smp-fpn", "FPN", "Kirillov, Girshick, He, Dollar, Panoptic Feature Pyramid Networks, CVPR 2019")
SMPPSPNet = _smp("SMPPSPNet", "smp-pspnet", "PSPNet", "Zhao et al., Pyramid Scene Parsing Network, CVPR 2017")
SMPDeepLabV3Plus = _smp("SMPDeepLabV3Plus", "smp-deeplabv3plus", "DeepLabV3Plus",
                        "Chen et al., Encoder-Decoder with Atrous Separable Convolution, ECCV 2018")
SMPPAN = _smp("SMPPAN", "smp-pan", "PAN", "Li et al., Pyramid Attention Network for Semantic Segmentation, BMVC 2018")
SMPLinkNet = _smp("SMPLinkNet", "smp-linknet", "Linknet", "Chaurasia, Culurciello, LinkNet, VCIP 2017")

"""Lazy imports of the model backends (torch, torchvision, transformers, segmentation-models-pytorch).

``import segbench.models`` never imports torch; a wrapper imports its backend on first use through
:func:`require`, which turns an ImportError into a one-line :class:`~segbench.errors.UsageError`
telling the user to ``pip install 'segbench[models]'``.

Examples
--------
>>> from segbench.models._lazy import require
>>> require("math").sqrt(4.0)
2.0
"""

from __future__ import annotations

import importlib
import os

from ..errors import UsageError

__all__ = ["require", "torch", "offline"]

_PIP = {
    "torch": "torch",
    "torchvision": "torchvision",
    "transformers": "transformers",
    "segmentation_models_pytorch": "segmentation-models-pytorch",
    "safetensors": "safetensors",
    "timm": "timm",
}


def offline() -> None:
    """Forbid every network access of the Hugging Face stack (set before importing transformers)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    import sys
    consts = sys.modules.get("huggingface_hub.constants")
    if consts is not None:  # already imported: it read the environment at import time
        consts.HF_HUB_OFFLINE = True


def require(module: str, what: str | None = None):
    """Import ``module`` or raise a UsageError naming the ``models`` extra.

    Parameters
    ----------
    module : str
        Dotted module name (``torch``, ``torchvision.models.segmentation``...).
    what : str, optional
        What needs it (a model name), for the message.
    """
    top = module.split(".")[0]
    if top in ("transformers", "huggingface_hub", "segmentation_models_pytorch", "timm"):
        offline()
    try:
        return importlib.import_module(module)
    except ImportError as e:
        pkg = _PIP.get(top, top)
        who = f"{what} needs" if what else "this model needs"
        raise UsageError(f"{who} {pkg} ({e}); install the model backends: pip install 'segbench[models]'") from None


def torch():
    """The ``torch`` module (imported on first use)."""
    return require("torch")

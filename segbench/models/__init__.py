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

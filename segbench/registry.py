"""Name → implementation registries with lazy import and did-you-mean errors.

A registry is a plain dict ``{"name": "module.path:Attribute"}`` written in the package's
``__init__``; registering is one dict line and importing a package never imports what it lists.
:func:`resolve` imports the target on first use.

Examples
--------
>>> from segbench.registry import resolve
>>> resolve({"miou": "segbench.metrics.semantic:MeanIoU"}, "miou", kind="metric").__name__
'MeanIoU'
"""

from __future__ import annotations

import difflib
import importlib
from typing import Any, Mapping

from .errors import NotFoundError

__all__ = ["resolve", "did_you_mean"]


def did_you_mean(name: str, choices) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest choice, or ``""``."""
    choices = list(choices)
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.5)
    if not close:
        low = name.lower()
        close = [c for c in choices if low in c.lower() or c.lower() in low][:3]
    if not close:
        return ""
    return " (did you mean " + " or ".join(repr(c) for c in close) + "?)"


def resolve(registry: Mapping[str, str], name: str, kind: str = "name") -> Any:
    """Import and return the object registered under ``name``.

    Parameters
    ----------
    registry : mapping of str to str
        ``{"name": "package.module:Attr"}``.
    name : str
        The name asked for (case-insensitive; ``_`` and ``-`` are equivalent).
    kind : str
        Used in the error message ("dataset", "metric", "model").

    Raises
    ------
    NotFoundError
        When the name is not registered, with the closest names suggested.
    """
    key = name
    if key not in registry:
        norm = {k.lower().replace("_", "-"): k for k in registry}
        key = norm.get(name.lower().replace("_", "-"), name)
    if key not in registry:
        raise NotFoundError(
            f"unknown {kind} {name!r}{did_you_mean(name, registry)}; "
            f"known: {', '.join(sorted(registry))}"
        )
    target = registry[key]
    module, _, attr = target.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split(".") if attr else []:
        obj = getattr(obj, part)
    return obj

"""segbench: evaluate image segmentation exactly as the official evaluators do, fast, and publish
the results.

The top-level API is lazy: importing :mod:`segbench` imports no dataset, metric, model or torch.

Examples
--------
>>> import segbench
>>> segbench.__version__
'0.1.0'
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "evaluate", "load_dataset", "get_metric"]


def evaluate(*args, **kwargs):
    """Evaluate predictions on a dataset; see :func:`segbench.engine.evaluate_run`."""
    from .engine import evaluate_run
    return evaluate_run(*args, **kwargs)


def load_dataset(name: str, root=None, split=None, **options):
    """Build the dataset adapter registered as ``name``; see :mod:`segbench.datasets`."""
    from .datasets import load_dataset as _load
    return _load(name, root, split=split, **options)


def get_metric(name: str, label_space=None, **options):
    """Build the metric registered as ``name``; see :mod:`segbench.metrics`."""
    from .metrics import get_metric as _get
    return _get(name, label_space, **options)

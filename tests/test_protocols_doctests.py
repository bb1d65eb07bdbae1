"""The docstring examples of the protocol, statistics and panoptic modules run and give the numbers they show."""

import doctest
import importlib

import pytest

MODULES = [
    "segbench.metrics.functional.stats", "segbench.metrics.stats",
    "segbench.metrics.functional.referring", "segbench.metrics.referring",
    "segbench.metrics.functional.fewshot", "segbench.metrics.fewshot",
    "segbench.metrics.functional.openvocab", "segbench.metrics.openvocab",
    "segbench.metrics.functional.interactive", "segbench.metrics.interactive",
    "segbench.metrics.functional.panoptic", "segbench.metrics.panoptic", "segbench.io.panoptic",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    mod = importlib.import_module(name)
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.attempted > 0
    assert res.failed == 0

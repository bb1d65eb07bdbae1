"""Every prediction reader carries the model of a ``segbench predict`` folder into the RunRecord.

A folder (or the folder of a results file) holding ``segbench-predict.json`` names the model that wrote
it; without the manifest the source stays "user predictions".
"""

from __future__ import annotations

import json

import pytest

from segbench.datasets.coco import CocoStyle
from segbench.datasets.coco_panoptic import CocoPanopticStyle, write_fake_predictions
from segbench.datasets.davis import DavisStyle, make_fake_predictions
from segbench.datasets.styles import CityscapesStyle
from segbench.io.atomic import atomic_write_json
from segbench.models.predict import PREDICT_MANIFEST

MODEL = {"name": "my-model", "source": "segbench predict", "library": "torchvision", "weights_sha256": "ab" * 32}


def _mark(folder):
    atomic_write_json(folder / PREDICT_MANIFEST, {"model": MODEL, "dataset": "x@1"})


def _cases(tmp_path):
    gt = CityscapesStyle.make_fake(tmp_path / "cs", num_samples=2, predictions=True)
    yield "cityscapes-style", CityscapesStyle(gt), gt.parent / "pred", gt.parent / "pred"

    gt = CocoStyle.make_fake(tmp_path / "coco", num_samples=2)
    yield "coco-style", CocoStyle(gt), gt.parent / "results.json", gt.parent

    gt = CocoPanopticStyle.make_fake(tmp_path / "pan", num_samples=2, size=(24, 32))
    pj = write_fake_predictions(gt, tmp_path / "panpred" / "pred.json")
    yield "coco-panoptic-style", CocoPanopticStyle(gt), pj, pj.parent

    root = DavisStyle.make_fake(tmp_path / "davis", num_samples=1, frames=3, height=16, width=20)
    out = make_fake_predictions(root, tmp_path / "davispred")
    yield "davis-style", DavisStyle(root), out, out


@pytest.mark.parametrize("which", ["cityscapes-style", "coco-style", "coco-panoptic-style", "davis-style"])
def test_prediction_source_names_the_predict_model(tmp_path, which):
    for name, ds, preds, folder in _cases(tmp_path):
        if name != which:
            continue
        before = ds.predictions(preds).describe()
        assert before["source"] == "user predictions", before
        _mark(folder)
        after = ds.predictions(preds).describe()
        assert after["source"] == "segbench predict" and after["name"] == "my-model", after
        assert after["weights_sha256"] == MODEL["weights_sha256"]
        json.dumps(after)
        return
    raise AssertionError(f"no case for {which}")

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


def test_an_interrupted_predict_does_not_pass_for_a_finished_one(tmp_path, capsys):
    from segbench.cli import main
    gt = CityscapesStyle.make_fake(tmp_path / "cs", num_samples=2, predictions=True)
    folder = gt.parent / "pred"
    atomic_write_json(folder / PREDICT_MANIFEST, {"model": MODEL, "dataset": "x@1", "complete": False})
    assert main(["eval", str(folder), "--dataset", "cityscapes-style", "--gt", str(gt)]) == 2
    err = capsys.readouterr().err
    assert PREDICT_MANIFEST in err and "interrupted" in err and len(err.strip().splitlines()) == 1
    atomic_write_json(folder / PREDICT_MANIFEST, {"model": MODEL, "dataset": "x@1", "complete": True})
    assert CityscapesStyle(gt).predictions(folder).describe()["name"] == "my-model"


def test_predict_marks_its_folder_incomplete_until_it_ends(tmp_path, monkeypatch):
    from segbench.datasets import get_dataset_class
    from segbench.models import get_model
    from segbench.models.predict import run_predict
    ds_cls = get_dataset_class("isbi-membrane")
    root = ds_cls.make_fake(tmp_path / "isbi", num_samples=3, seed=0, size=32, layout="png")
    ds = ds_cls(root)
    seen = []
    import segbench.models.writers as W
    real = W.make_writer

    def spy(dataset, out):  # the manifest as it stands when the first file is written
        seen.append(json.loads((out / PREDICT_MANIFEST).read_text()))
        return real(dataset, out)

    monkeypatch.setattr(W, "make_writer", spy)
    run_predict(get_model("skimage-otsu"), ds, tmp_path / "out")
    assert seen and seen[0]["complete"] is False and seen[0]["model"]["name"] == "skimage-otsu"
    assert json.loads((tmp_path / "out" / PREDICT_MANIFEST).read_text())["complete"] is True

"""Cityscapes instance AP: parity with cityscapesScripts' evalInstanceLevelSemanticLabeling on
generated data, state merging, CLI and bad input."""

from __future__ import annotations

import contextlib
import glob
import io
import json
import math
import os

import numpy as np
import pytest

from segbench.cli import main
from segbench.datasets.cityscapes_instance import CityscapesInstance
from segbench.engine import evaluate_samples
from segbench.errors import BadInputError
from segbench.metrics.cityscapes_instance import INSTANCE_LABELS, CityscapesInstanceAP


def reference(root, preds, tmp_path, monkeypatch):
    import cityscapesscripts.evaluation.evalInstanceLevelSemanticLabeling as E
    monkeypatch.chdir(tmp_path)  # the reference writes matches.json into the working directory
    if not hasattr(np, "in1d"):  # removed in numpy 2.4; cityscapesScripts 2.3.0 still calls it
        monkeypatch.setattr(np, "in1d", lambda a, b: np.isin(np.ravel(a), b), raising=False)
    # numpy 2 returns numpy ints the reference's JSON cache writer cannot serialise; it only writes
    # caches (gtInstances.json, matches.json), so skip writing
    monkeypatch.setattr(E, "writeDict2JSON", lambda d, f: None)
    a = E.args
    a.predictionPath = os.path.abspath(preds)
    a.predictionWalk = None
    a.gtInstancesFile = str(tmp_path / "gtInstances.json")
    if os.path.exists(a.gtInstancesFile):
        os.remove(a.gtInstancesFile)
    a.JSONOutput = False
    a.quiet = True
    a.distanceAvailable = False
    gts = sorted(glob.glob(str(root / "gtFine" / "val" / "*" / "*_gtFine_instanceIds.png")))
    with contextlib.redirect_stdout(io.StringIO()):
        prs = [E.getPrediction(g, a) for g in gts]
        res = E.evaluateImgLists(prs, gts, a)
    return res


def ours(root, preds, workers=1):
    ds = CityscapesInstance(root)
    out = evaluate_samples(ds, ds.predictions(preds), ds.build_metrics(None), workers=workers)
    (r,) = out.results.values()
    return r, out.metrics[0]


def _close(a, b):
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return abs(a - b) <= 1e-12


@pytest.mark.parametrize("seed", [0, 1, 3, 4])
def test_parity_with_cityscapesscripts(tmp_path, monkeypatch, seed):
    root = CityscapesInstance.make_fake(tmp_path / "cs", num_samples=5, seed=seed, size=(96, 192))
    ref = reference(root, root / "results", tmp_path, monkeypatch)
    r, m = ours(root, root / "results")
    assert _close(r.values["AP"], float(ref["averages"]["allAp"]))
    assert _close(r.values["AP50"], float(ref["averages"]["allAp50%"]))
    for name, _ in INSTANCE_LABELS:
        assert _close(r.per_class[name]["AP"], float(ref["averages"]["classes"][name]["ap"])), name
        assert _close(r.per_class[name]["AP50"], float(ref["averages"]["classes"][name]["ap50%"])), name
    refm = np.array(ref["resultApMatrix"][0], dtype=float)
    ours_m = m.ap_matrix()
    assert np.array_equal(np.isnan(refm), np.isnan(ours_m))
    assert np.nanmax(np.abs(refm - ours_m)) <= 1e-12
    assert not np.isnan(ours_m).all()


def test_workers_and_shards_identical(tmp_path):
    root = CityscapesInstance.make_fake(tmp_path / "cs", num_samples=10, seed=4, size=(64, 128))
    a, ma = ours(root, root / "results", workers=1)
    b, _ = ours(root, root / "results", workers=2)
    assert a.to_dict() == b.to_dict()
    ds = CityscapesInstance(root)
    preds = ds.predictions(root / "results")
    ids = ds.sample_ids()
    merged = CityscapesInstanceAP()
    for part in (ids[1::2], ids[0::2]):
        m = CityscapesInstanceAP()
        for sid in part:
            s = ds.load(sid)
            m.update(preds.load(s), s)
        merged.merge(CityscapesInstanceAP.from_state(m.state_dict()))
    assert np.array_equal(np.nan_to_num(merged.ap_matrix(), nan=-7), np.nan_to_num(ma.ap_matrix(), nan=-7))


def test_cli_and_bad_input(tmp_path, capsys):
    root = CityscapesInstance.make_fake(tmp_path / "cs", num_samples=2, seed=5, size=(64, 128))
    out = tmp_path / "rec.json"
    assert main(["eval", str(root / "results"), "--dataset", "cityscapes-instance", "--gt", str(root),
                 "--json", str(out)]) == 0
    vals = json.loads(out.read_text())["metrics"]["cityscapes_ap@1"]["values"]
    assert set(vals) == {"AP", "AP50"}
    capsys.readouterr()
    txt = sorted((root / "results").glob("*.txt"))[0]
    txt.write_text("masks/x.png 26\n")
    assert main(["eval", str(root / "results"), "--dataset", "cityscapes-instance", "--gt", str(root)]) == 2
    err = capsys.readouterr().err
    assert "line 1" in err and txt.name in err
    txt.write_text("/abs/x.png 26 0.5\n")
    with pytest.raises(BadInputError, match="relative"):
        ds = CityscapesInstance(root)
        p = ds.predictions(root / "results")
        p.load(ds.load(ds.sample_ids()[0]))


def test_duplicate_and_empty_and_ignored_predictions():
    from segbench.types import InstancePrediction, Sample, SemanticMask
    gt = np.full((40, 40), 7, np.int64)
    gt[0:20, 0:20] = 26001
    gt[20:40, 0:20] = 26            # a car group (no instance id)
    gt[0:5, 30:35] = 24001          # a small person (< 100 px)
    gt[30:40, 30:40] = 0            # void
    m = CityscapesInstanceAP()
    car = np.zeros((40, 40), bool)
    car[0:20, 0:19] = True
    group = np.zeros((40, 40), bool)
    group[20:40, 0:20] = True
    void = np.zeros((40, 40), bool)
    void[30:40, 30:40] = True
    dets = [{"category_id": 26, "score": 0.3, "mask": car}, {"category_id": 26, "score": 0.8, "mask": car},
            {"category_id": 26, "score": 0.9, "mask": group}, {"category_id": 24, "score": 0.7, "mask": void},
            {"category_id": 26, "score": 0.5, "mask": np.zeros((40, 40), bool)},
            {"category_id": 29, "score": 0.99, "mask": car}]
    m.update(InstancePrediction(dets), Sample("x", None, SemanticMask(gt != 0, gt)))
    r = m.compute()
    # car: one TP at 0.8, one duplicate FP at 0.3; the group and void predictions are ignored
    assert r.per_class["car"]["AP50"] == pytest.approx(1.0)
    assert math.isnan(r.per_class["person"]["AP"])  # the only person is too small: no GT


def test_nan_confidences_unreadable_masks_and_binary_txt_are_one_line_errors(tmp_path, capsys):
    root = CityscapesInstance.make_fake(tmp_path / "cs", num_samples=1, seed=6, size=(64, 128))
    txt = sorted((root / "results").glob("*.txt"))[0]
    lines = txt.read_text().splitlines()
    mask = (txt.parent / lines[0].split(" ")[0]).resolve()
    cases = [(lambda: txt.write_text(lines[0].rsplit(" ", 1)[0] + " nan\n"), (txt.name, "line 1", "not NaN")),
             (lambda: txt.write_bytes(b"\xe9\xff 26 0.5\n"), (txt.name, "UTF-8")),
             (lambda: (txt.write_text("\n".join(lines) + "\n"), mask.write_bytes(b"not a png")),
              (mask.name, "corrupt or truncated"))]
    for act, needles in cases:
        act()
        capsys.readouterr()
        assert main(["eval", str(root / "results"), "--dataset", "cityscapes-instance", "--gt", str(root)]) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
        for n in needles:
            assert n in err, (n, err)

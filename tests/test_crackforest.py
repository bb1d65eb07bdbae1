"""The crackforest adapter on real samples: groundTruth .mat, the Berkeley .seg text format, the
boundary and semantic tasks, and an edge baseline scored end to end."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from segbench.datasets.crackforest import CrackForest
from segbench.errors import BadInputError, UsageError
from segbench.io.mat import load_bsds_groundtruth, read_seg_file, write_seg_file
from segbench.metrics import get_metric
from segbench.models import get_model
from segbench.types import BoundaryMaps, SemanticMask, SemanticPrediction

ROOT = Path(__file__).resolve().parent / "data" / "crackforest"


def test_real_mat_and_seg_agree():
    for sid in ("001", "002", "003"):
        b, s = load_bsds_groundtruth(ROOT / "groundTruth" / f"{sid}.mat")
        assert b.shape == (1, 320, 480) and set(np.unique(s).tolist()) == {1, 2}
        lab = read_seg_file(ROOT / "seg" / f"{sid}.seg")
        np.testing.assert_array_equal(lab + 1, s[0])


def test_seg_roundtrip_and_errors(tmp_path):
    lab = np.array([[0, 0, 1, 1], [2, 2, 2, 0]], np.int32)
    write_seg_file(tmp_path / "x.seg", lab)
    np.testing.assert_array_equal(read_seg_file(tmp_path / "x.seg"), lab)
    (tmp_path / "bad.seg").write_text("width 4\nheight 2\ndata\n0 0 0 3\n")
    with pytest.raises(BadInputError, match="uncovered"):
        read_seg_file(tmp_path / "bad.seg")
    (tmp_path / "bad2.seg").write_text("width 4\nheight 2\ndata\n0 0 0 9\n0 1 0 3\n")
    with pytest.raises(BadInputError, match="outside"):
        read_seg_file(tmp_path / "bad2.seg")
    # header fields split on any whitespace (readSeg.m's sscanf); CRLF line ends
    (tmp_path / "tab.seg").write_text("format ascii cr\r\nwidth\t4\r\nheight  2\r\ndata\r\n0 0 0 1\r\n1 0 2 3\r\n"
                                      "2 1 0 2\r\n0 1 3 3\r\n")
    np.testing.assert_array_equal(read_seg_file(tmp_path / "tab.seg"), [[0, 0, 1, 1], [2, 2, 2, 0]])
    for run in ("1 0 2 x", "1 0 2 3.0", "1 0 2"):
        (tmp_path / "bad3.seg").write_text(f"width 4\nheight 2\ndata\n0 0 0 1\n{run}\n0 1 0 3\n")
        with pytest.raises(BadInputError, match=r"bad3.seg: line 5: expected a run 's r c1 c2' of four integers"):
            read_seg_file(tmp_path / "bad3.seg")


def test_boundary_task_real():
    ds = CrackForest(ROOT)
    assert ds.sample_ids() == ["001", "002", "003"] and ds.split == "all"
    s = ds.load("001")
    assert isinstance(s.target, BoundaryMaps) and s.target.boundaries.shape == (1, 320, 480)
    assert Path(s.image).name == "001.jpg"


def test_seg_only_images_are_read(tmp_path):
    root = tmp_path / "cf"
    (root / "seg").mkdir(parents=True)
    shutil.copy(ROOT / "seg" / "002.seg", root / "seg")
    ds = CrackForest(root)
    s = ds.load("002")
    b, seg = load_bsds_groundtruth(ROOT / "groundTruth" / "002.mat")
    np.testing.assert_array_equal(s.target.segmentations, seg)
    assert s.target.boundaries.shape == b.shape and s.target.boundaries.any()


def test_semantic_task_real_and_miou():
    ds = CrackForest(ROOT, task="semantic")
    assert ds.label_space().names == ["background", "crack"] and ds.default_metrics() == ("miou",)
    s = ds.load("003")
    assert isinstance(s.target, SemanticMask) and set(np.unique(s.target.mask).tolist()) == {0, 1}
    ls = ds.label_space()
    for name in ("miou", "boundary_iou", "bf"):
        m = get_metric(name, ls)
        m.update(SemanticPrediction(s.target.mask.copy()), s)
        key = {"miou": "mIoU", "boundary_iou": "boundary_IoU", "bf": "BF"}[name]
        assert m.compute().values[key] == pytest.approx(1.0)
    with pytest.raises(UsageError):
        CrackForest(ROOT, task="panoptic")


def test_canny_on_real_crackforest_scored():
    ds = CrackForest(ROOT)
    model = get_model("skimage-canny", sigma=1.0).load().bind(ds)
    m = get_metric("bsds_boundary", nthresh=9)
    for sid in ("001", "002"):
        s = ds.load(sid)
        m.update(model.predict(s), s)
    v = m.compute().values
    assert 0.0 < v["ODS"] < 0.8 and 0 <= v["AP_boundary"] <= 1
    with pytest.raises(UsageError, match="boundary"):
        get_model("skimage-canny").load().bind(CrackForest(ROOT, task="semantic"))


def test_fake_twin_roundtrip(tmp_path):
    root = CrackForest.make_fake(tmp_path, num_samples=2, size=(24, 32))
    ds = CrackForest(root)
    a = ds.load("001")
    # the .seg twin gives the same segmentation as the .mat
    lab = read_seg_file(Path(root) / "seg" / "001.seg")
    np.testing.assert_array_equal(lab + 1, a.target.segmentations[0])

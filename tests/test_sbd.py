"""The sbd adapter on its fake twin (SBD's cls/inst .mat with sparse per-class boundary cells)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io
import scipy.sparse

from segbench.datasets.sbd import SBD, load_sbd_cls, load_sbd_inst
from segbench.errors import BadInputError, NotFoundError
from segbench.metrics.functional.regions import seg_to_boundaries
from segbench.types import BoundaryMaps, SemanticMask


def test_cls_mat_with_sparse_cells(tmp_path):
    seg = np.zeros((20, 30), np.uint8)
    seg[5:15, 5:12] = 15  # person
    seg[2:8, 20:28] = 7   # car
    cell = np.empty((20, 1), object)
    for c in range(20):
        cell[c, 0] = scipy.sparse.csc_matrix((20, 30), dtype=bool)
    bp = seg_to_boundaries(seg == 15) & (seg == 15)
    cell[14, 0] = scipy.sparse.csc_matrix(bp)
    scipy.io.savemat(tmp_path / "a.mat", {"GTcls": {"Segmentation": seg, "Boundaries": cell,
                                                    "CategoriesPresent": np.array([7, 15], np.uint8)}})
    s, maps = load_sbd_cls(tmp_path / "a.mat")
    np.testing.assert_array_equal(s, seg)
    assert maps.shape == (20, 20, 30)
    np.testing.assert_array_equal(maps[14], bp)
    assert not maps[6].any()


def test_fake_twin_tasks(tmp_path):
    root = SBD.make_fake(tmp_path, num_samples=3, size=(40, 50))
    ds = SBD(root, split="val")
    ids = ds.sample_ids()
    assert len(ids) == 3
    s = ds.load(ids[0])
    assert isinstance(s.target, BoundaryMaps) and s.target.boundaries.shape == (1, 40, 50)
    seg, maps = load_sbd_cls(root / "cls" / f"{ids[0]}.mat")
    np.testing.assert_array_equal(s.target.boundaries[0], maps.any(0))
    inst, imaps, cats = load_sbd_inst(root / "inst" / f"{ids[0]}.mat")
    assert imaps.shape[0] == cats.size == int(inst.max())
    si = SBD(root, split="val", gt="inst").load(ids[0])
    np.testing.assert_array_equal(si.target.boundaries[0], imaps.any(0))
    assert ds.metric_options("bsds_boundary") == {"max_dist": 0.02}
    sem = SBD(root, split="val", task="semantic")
    t = sem.load(ids[0]).target
    assert isinstance(t, SemanticMask) and t.mask.max() <= 20
    np.testing.assert_array_equal(t.mask, seg)
    assert sem.label_space().names[15] == "person"


def test_errors(tmp_path):
    root = SBD.make_fake(tmp_path, num_samples=1)
    with pytest.raises(NotFoundError, match="train.txt|split"):
        SBD(root, split="test").sample_ids()
    scipy.io.savemat(tmp_path / "x.mat", {"other": np.zeros(3)})
    with pytest.raises(BadInputError, match="GTcls"):
        load_sbd_cls(tmp_path / "x.mat")

"""Classical region hierarchies (SLIC, Felzenszwalb, watershed) and their BSDS ``segs`` .mat output."""

from __future__ import annotations

import json

import numpy as np
import pytest

from segbench.cli import main
from segbench.datasets import get_dataset_class
from segbench.errors import UsageError
from segbench.models import get_model
from segbench.types import HierarchyPrediction, Sample


def _img(h=48, w=64, seed=0):
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.uint8)
    img[:, w // 2:] = 180
    img[h // 2:, :, 1] = 90
    return np.clip(img + rng.integers(0, 20, img.shape), 0, 255).astype(np.uint8)


def test_slic_equals_skimage():
    from skimage.segmentation import slic
    img = _img()
    pred = get_model("skimage-slic", levels=[32, 4]).load().predict(Sample("a", img, None))
    assert isinstance(pred, HierarchyPrediction) and len(pred.segs) == 2
    assert np.array_equal(pred.segs[0], slic(img, n_segments=32, compactness=10.0, start_label=1, channel_axis=-1))
    assert len(np.unique(pred.segs[0])) > len(np.unique(pred.segs[1]))  # fine to coarse


def test_felzenszwalb_and_watershed_equal_skimage():
    from skimage.color import rgb2gray
    from skimage.filters import sobel
    from skimage.segmentation import felzenszwalb, watershed
    img = _img(seed=1)
    fz = get_model("skimage-felzenszwalb", levels=[50]).load().predict(Sample("a", img, None))
    assert np.array_equal(fz.segs[0], felzenszwalb(img, scale=50, sigma=0.8, min_size=20, channel_axis=-1) + 1)
    ws = get_model("skimage-watershed", levels=[16]).load().predict(Sample("a", img, None))
    assert np.array_equal(ws.segs[0], watershed(sobel(rgb2gray(img)), markers=16))
    assert all(int(s.min()) >= 1 for s in fz.segs + ws.segs)
    gray = get_model("skimage-watershed", levels=[8]).load().predict(Sample("g", img[..., 0], None))
    assert gray.segs[0].shape == img.shape[:2]


def test_options_checked():
    with pytest.raises(UsageError, match="levels"):
        get_model("skimage-slic", levels=[])
    with pytest.raises(UsageError, match="--slide"):
        get_model("skimage-slic", slide=((4, 4), (2, 2)))
    with pytest.raises(UsageError, match="no weights"):
        get_model("skimage-slic").load("w.pth")


def test_segs_mat_roundtrip(tmp_path):
    from segbench.io.mat import load_segmentations_mat
    from segbench.models.writers import write_segs_mat
    segs = [np.arange(12, dtype=np.int32).reshape(3, 4) + 1, np.ones((3, 4), np.int32)]
    write_segs_mat(tmp_path / "a.mat", segs)
    back = load_segmentations_mat(tmp_path / "a.mat")
    assert len(back) == 2 and all(np.array_equal(a, b) for a, b in zip(back, segs))


def test_bsds_predict_then_region_eval(tmp_path):
    cls = get_dataset_class("bsds500")
    root = cls.make_fake(tmp_path / "bsds", num_samples=2)
    out = tmp_path / "pred"
    assert main(["predict", "--model", "skimage-slic", "--dataset", "bsds500", "--gt", str(root), "--out", str(out),
                 "--model-option", "levels=[64, 16, 4]"]) == 0
    ds = cls(root)
    assert sorted(p.stem for p in out.glob("*.mat")) == sorted(ds.sample_ids())
    rec_path = tmp_path / "rec.json"
    assert main(["eval", str(out), "--dataset", "bsds500", "--gt", str(root), "--metrics", "bsds_regions",
                 "--json", str(rec_path)]) == 0
    rec = json.loads(rec_path.read_text())
    vals = next(iter(rec["metrics"].values()))["values"]
    assert 0.0 < vals["SC_ODS"] <= 1.0 and 0.0 < vals["PRI_ODS"] <= 1.0

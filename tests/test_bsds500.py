"""The bsds500 adapter, .mat reading, prediction formats, and the edge baselines scored end to end on
real BSDS500 samples (CLI: segbench predict --model skimage-canny, then segbench eval)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from segbench.cli import main
from segbench.datasets.bsds500 import BSDS500, read_boundary_prediction, write_boundary_png
from segbench.errors import BadInputError, NotFoundError
from segbench.io.mat import load_bsds_groundtruth, load_mat
from segbench.metrics import get_metric
from segbench.models import get_model
from segbench.types import BoundaryPrediction, HierarchyPrediction

ROOT = Path(__file__).resolve().parent / "data" / "bsds500" / "BSDS500"


def _one_image_root(tmp_path, sid="101027") -> Path:
    root = tmp_path / "BSDS500"
    for sub, ext in (("groundTruth", ".mat"), ("images", ".jpg")):
        d = root / "data" / sub / "test"
        d.mkdir(parents=True)
        shutil.copy(ROOT / "data" / sub / "test" / f"{sid}{ext}", d)
    return root


def test_real_samples_load():
    ds = BSDS500(ROOT)
    assert ds.split == "test" and ds.sample_ids() == ["100007", "101027", "103006"]
    s = ds.load("100007")
    b = s.target.boundaries
    assert b.shape == (5, 321, 481) and b.dtype == bool
    assert s.target.segmentations.shape == (5, 321, 481) and s.target.segmentations.min() >= 1
    assert b.sum((1, 2)).tolist() == [1626, 2062, 3221, 2660, 3747]
    assert Path(s.image).name == "100007.jpg"
    # BSR / data roots are accepted too
    assert BSDS500(ROOT / "data").sample_ids() == ds.sample_ids()


def test_missing_split_and_root():
    with pytest.raises(NotFoundError, match="split 'val'"):
        BSDS500(ROOT, split="val").sample_ids()
    with pytest.raises(NotFoundError, match="segbench download bsds500"):
        BSDS500(ROOT / "nope").sample_ids()


def test_unreadable_mat_files_give_one_line_errors(tmp_path):
    import io
    import scipy.io
    cell = np.empty((1, 1), object)
    cell[0, 0] = {"Segmentation": np.ones((30, 40), np.uint16), "Boundaries": np.zeros((30, 40), np.uint8)}
    buf = io.BytesIO()
    scipy.io.savemat(buf, {"groundTruth": cell}, do_compression=True)
    data = buf.getvalue()
    cases = {"empty.mat": b"", "half.mat": data[:len(data) // 2], "text.mat": b"hello world\n" * 20,
             "zlib.mat": data[:200] + bytes(x ^ 0x55 for x in data[200:260]) + data[260:]}
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(BadInputError, match=f"{name}: expected a MATLAB .mat file, found an unreadable file"):
            load_bsds_groundtruth(tmp_path / name)


def test_mat_v73_gives_a_clear_error(tmp_path):
    p = tmp_path / "gt.mat"
    head = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 ."
    p.write_bytes(head.ljust(512, b" ") + b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    with pytest.raises(BadInputError, match="h5py"):
        load_mat(p)
    with pytest.raises(BadInputError, match="h5py"):
        load_bsds_groundtruth(p)


def test_prediction_formats(tmp_path):
    shape = (40, 60)
    rng = np.random.default_rng(0)
    p = rng.random(shape)
    # 16-bit PNG via the predict hook, read back within 1/65535
    from segbench.types import Sample
    s = Sample("a", None, None)
    f = write_boundary_png(s, BoundaryPrediction(p), tmp_path)
    back = read_boundary_prediction(f, shape).prob
    assert np.abs(back - p).max() <= 0.5 / 65535 + 1e-12
    # 8-bit PNG: /255 as the bench's double(imread(f))/255
    from PIL import Image
    Image.fromarray((p * 255).astype(np.uint8)).save(tmp_path / "b.png")
    np.testing.assert_allclose(read_boundary_prediction(tmp_path / "b.png", shape).prob,
                               (p * 255).astype(np.uint8) / 255.0)
    # gray saved as RGB is accepted; real colour is not
    g8 = (p * 255).astype(np.uint8)
    Image.fromarray(np.stack([g8] * 3, -1)).save(tmp_path / "rgb.png")
    np.testing.assert_allclose(read_boundary_prediction(tmp_path / "rgb.png", shape).prob, g8 / 255.0)
    Image.fromarray(np.stack([g8, g8, g8 // 2], -1)).save(tmp_path / "col.png")
    with pytest.raises(BadInputError, match="channel"):
        read_boundary_prediction(tmp_path / "col.png", shape)
    # .mat soft map, ucm2 and segs
    scipy.io.savemat(tmp_path / "c.mat", {"E": p})
    np.testing.assert_allclose(read_boundary_prediction(tmp_path / "c.mat", shape).prob, p)
    u = np.zeros((2 * shape[0] + 1, 2 * shape[1] + 1))
    u[:, 30] = 0.5
    scipy.io.savemat(tmp_path / "d.mat", {"ucm2": u})
    h = read_boundary_prediction(tmp_path / "d.mat", shape)
    assert isinstance(h, HierarchyPrediction) and len(h.segs) == 99 and h.prob.shape == shape
    assert h.segs[0].max() == 2 and h.segs[-1].max() == 1
    cell = np.empty((1, 2), object)
    cell[0, 0] = np.ones(shape, np.uint16)
    cell[0, 1] = np.arange(shape[0] * shape[1]).reshape(shape).astype(np.uint16) % 3 + 1
    scipy.io.savemat(tmp_path / "e.mat", {"segs": cell})
    h = read_boundary_prediction(tmp_path / "e.mat", shape)
    assert isinstance(h, HierarchyPrediction) and len(h.segs) == 2
    # bad inputs: size, NaN, range
    with pytest.raises(BadInputError, match="size"):
        read_boundary_prediction(f, (41, 60))
    bad = p.copy()
    bad[0, 0] = np.nan
    scipy.io.savemat(tmp_path / "n.mat", {"pb": bad})
    with pytest.raises(BadInputError, match="NaN"):
        read_boundary_prediction(tmp_path / "n.mat", shape)
    scipy.io.savemat(tmp_path / "r.mat", {"pb": p * 3})
    with pytest.raises(BadInputError, match="0..1"):
        read_boundary_prediction(tmp_path / "r.mat", shape)


def test_fake_twin_scores_perfect_prediction():
    import tempfile
    root = BSDS500.make_fake(tempfile.mkdtemp(), num_samples=2, size=(50, 70), annotators=1)
    ds = BSDS500(root)
    m = get_metric("bsds_boundary", nthresh=5)
    for sid in ds.sample_ids():
        s = ds.load(sid)
        m.update(BoundaryPrediction(s.target.boundaries[0].astype(float)), s)
    v = m.compute().values
    assert v["ODS"] == pytest.approx(1.0) and v["OIS"] == pytest.approx(1.0)


def test_sobel_baseline_on_a_real_image_api():
    ds = BSDS500(ROOT)
    s = ds.load("103006")
    model = get_model("skimage-sobel").load().bind(ds)
    pred = model.predict(s)
    assert pred.prob.shape == s.target.shape and 0 <= pred.prob.min() and pred.prob.max() <= 1
    m = get_metric("bsds_boundary", nthresh=9)
    m.update(pred, s)
    r = m.compute()
    v = r.values
    # one image: OIS is the best non-interpolated F, ODS the best interpolated one
    assert 0.2 < v["ODS"] < 0.9 and v["OIS"] == pytest.approx(max(r.artifacts["F"]))
    assert v["ODS"] >= v["OIS"] - 1e-12


def test_canny_end_to_end_cli(tmp_path, capsys):
    root = _one_image_root(tmp_path)
    out = tmp_path / "canny"
    assert main(["predict", "--model", "skimage-canny", "--dataset", "bsds500", "--gt", str(root),
                 "--out", str(out)]) == 0
    assert (out / "101027.png").is_file()
    rec = tmp_path / "rec.json"
    assert main(["eval", str(out), "--dataset", "bsds500", "--gt", str(root), "--json", str(rec)]) == 0
    r = json.loads(rec.read_text())
    vals = r["metrics"]["bsds_boundary@1"]["values"]
    assert set(vals) == {"ODS", "OIS", "AP_boundary", "R50"}
    art = r["metrics"]["bsds_boundary@1"]["artifacts"]
    assert 0.3 < vals["ODS"] < 0.9 and 0 < vals["AP_boundary"] < 1
    assert vals["OIS"] == pytest.approx(max(art["F"])) and vals["ODS"] >= vals["OIS"] - 1e-12
    assert len(art["F"]) == 99 and len(art["thresholds"]) == 99
    assert r["model"]["name"] == "skimage-canny"


def test_cli_bad_predictions(tmp_path, capsys):
    root = _one_image_root(tmp_path)
    preds = tmp_path / "p"
    preds.mkdir()
    from PIL import Image
    Image.fromarray(np.zeros((100, 100), np.uint8)).save(preds / "101027.png")
    assert main(["eval", str(preds), "--dataset", "bsds500", "--gt", str(root)]) == 2
    err = capsys.readouterr().err
    assert "101027" in err and "size" in err
    (preds / "101027.png").unlink()
    bad = np.zeros((321, 481))
    gt, _ = load_bsds_groundtruth(root / "data" / "groundTruth" / "test" / "101027.mat")
    bad = np.zeros(gt.shape[1:])
    bad[5, 5] = np.nan
    scipy.io.savemat(preds / "101027.mat", {"pb": bad})
    assert main(["eval", str(preds), "--dataset", "bsds500", "--gt", str(root)]) == 2
    assert "NaN" in capsys.readouterr().err
    (preds / "101027.mat").unlink()
    assert main(["eval", str(preds), "--dataset", "bsds500", "--gt", str(root)]) == 2
    assert "missing" in capsys.readouterr().err


def test_cli_options_fast_mode_and_nthresh(tmp_path):
    root = _one_image_root(tmp_path)
    out = tmp_path / "sobel"
    assert main(["predict", "--model", "skimage-sobel", "--dataset", "bsds500", "--gt", str(root),
                 "--out", str(out)]) == 0
    recs = {}
    for mode in ("exact", "fast"):
        rec = tmp_path / f"{mode}.json"
        assert main(["eval", str(out), "--dataset", "bsds500", "--gt", str(root), "--json", str(rec),
                     "--option", f"boundary_mode={mode}", "--option", "nthresh=9"]) == 0
        recs[mode] = json.loads(rec.read_text())["metrics"]["bsds_boundary@1"]
    ex, fa = recs["exact"], recs["fast"]
    assert len(ex["artifacts"]["F"]) == 9 and fa["artifacts"]["mode"] == "fast"
    assert all(f >= e for f, e in zip(fa["artifacts"]["cntR"], ex["artifacts"]["cntR"]))
    assert all(f >= e for f, e in zip(fa["artifacts"]["cntP"], ex["artifacts"]["cntP"]))
    assert main(["eval", str(out), "--dataset", "bsds500", "--gt", str(root), "--option", "boundary_mode=slow"]) == 2


class _BlurredGT:
    """A picklable prediction source: blurred, noisy GT boundaries."""

    path = None

    def load(self, s):
        from scipy import ndimage as ndi
        rng = np.random.default_rng(int(s.sample_id[-3:]))
        pb = ndi.gaussian_filter(s.target.boundaries.mean(0), 1.0)
        return BoundaryPrediction(np.clip(pb / pb.max() * rng.random(pb.shape), 0, 1))

    def available(self):
        return None


def test_workers_give_identical_counts(tmp_path):
    from segbench.engine import evaluate_samples
    root = BSDS500.make_fake(tmp_path, num_samples=5, size=(60, 80))
    ds = BSDS500(root)
    one = evaluate_samples(ds, _BlurredGT(), [get_metric("bsds_boundary", nthresh=9)], workers=1, chunk_size=2)
    two = evaluate_samples(ds, _BlurredGT(), [get_metric("bsds_boundary", nthresh=9)], workers=2, chunk_size=2)
    a, b = one.results["bsds_boundary@1"], two.results["bsds_boundary@1"]
    assert a.values == b.values and a.artifacts["cntR"] == b.artifacts["cntR"]
    assert a.per_sample == b.per_sample


def _ucm2_from_seg(seg, strength=0.5):
    h, w = seg.shape
    u = np.zeros((2 * h + 1, 2 * w + 1))
    dh = seg[:, :-1] != seg[:, 1:]
    dv = seg[:-1, :] != seg[1:, :]
    u[1:2 * h:2, 2:2 * w - 1:2][dh] = strength
    u[2:2 * h - 1:2, 1:2 * w:2][dv] = strength
    c = np.zeros((h - 1, w - 1), bool)
    c |= dh[:-1, :] | dh[1:, :] | dv[:, :-1] | dv[:, 1:]
    u[2:2 * h - 1:2, 2:2 * w - 1:2][c] = strength
    return u


def test_regions_from_ucm2_end_to_end(tmp_path):
    root = _one_image_root(tmp_path)
    b, s = load_bsds_groundtruth(root / "data" / "groundTruth" / "test" / "101027.mat")
    preds = tmp_path / "ucm"
    preds.mkdir()
    scipy.io.savemat(preds / "101027.mat", {"ucm2": _ucm2_from_seg(s[0])})
    rec = tmp_path / "r.json"
    assert main(["eval", str(preds), "--dataset", "bsds500", "--gt", str(root), "--json", str(rec),
                 "--metrics", "bsds_regions,bsds_boundary", "--option", "nthresh=9"]) == 0
    r = json.loads(rec.read_text())["metrics"]
    reg = r["bsds_regions@1"]["values"]
    # at thresholds below 0.5 the cut reproduces annotator 0's regions; above, one region
    from segbench.metrics.functional.regions import covering_counts, rand_index_voi
    from scipy import ndimage as ndi
    lab, _ = ndi.label(_ucm2_from_seg(s[0]) <= 0.25, structure=np.ones((3, 3), bool))
    seg0 = lab[1::2, 1::2]
    cr, sr, _, _, _ = covering_counts(seg0, s)
    assert reg["SC_ODS"] == pytest.approx(cr / sr)
    assert reg["PRI_ODS"] == pytest.approx(np.mean([rand_index_voi(seg0, g)[0] for g in s]))
    assert 0 < r["bsds_boundary@1"]["values"]["ODS"] <= 1

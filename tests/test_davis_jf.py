"""DAVIS J&F (davis_jf), the davis2017 / davis-style adapters and the eval CLI, against the reference."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segbench.cli import main
from segbench.datasets import get_dataset_class, load_dataset
from segbench.datasets.davis import (Davis2017, DavisStyle, davis_palette, fake_sequence, make_fake_predictions,
                                     read_sequence, write_mask_png)
from segbench.engine import evaluate_run, evaluate_samples
from segbench.errors import BadInputError, NotFoundError, UsageError
from segbench.metrics import get_metric
from segbench.metrics.functional.video import db_statistics, evaluate_sequence
from segbench.metrics.video import DavisJF
from segbench.types import Sample, VideoMasks, VideoPrediction

pytest.importorskip("cv2")
pytest.importorskip("vos_benchmark")
import test_davis_reference as R  # noqa: E402

DATA = Path(__file__).resolve().parent / "data" / "davis"
ROOT = DATA / "DAVIS"
OSVOS = DATA / "results" / "semi-supervised" / "osvos"
RVOS = DATA / "results" / "unsupervised" / "rvos"
KEYS = ["J&F", "J_mean", "J_recall", "J_decay", "F_mean", "F_recall", "F_decay"]
TOL = 1e-9

needs_data = pytest.mark.skipif(not ROOT.exists(), reason="tests/data/davis missing")


@pytest.fixture(scope="module")
def gt2017(tmp_path_factory):
    """The 2016 binary annotations rewritten as 2017 indexed PNGs, which the reference can read."""
    d = tmp_path_factory.mktemp("gt2017")
    R.write_2017_copy(ROOT / "Annotations" / "480p", d, R.SEQS)
    return d


def _run(root, preds, task, workers=1, **opts):
    ds = load_dataset("davis-style", root, task=task, **opts)
    src = ds.predictions(preds, task=task)
    rec, out = evaluate_run(ds, src, ds.build_metrics(None), workers=workers)
    return out.results["davis_jf@1"], rec


def _close(ours: dict, ref: dict, tol=TOL):
    for k in KEYS:
        assert abs(ours[k] - ref[k]) <= tol, (k, ours[k], ref[k])


# ----------------------------------------------------------------------------- real data parity
@needs_data
def test_real_osvos_semi_supervised_equals_reference(gt2017):
    ref, ref_jm, ref_fm = R.reference_evaluate(gt2017, OSVOS, R.SEQS, "semi-supervised")
    res, rec = _run(ROOT, OSVOS, "semi-supervised")
    _close(res.values, ref)
    for name, jm in ref_jm.items():
        assert abs(res.artifacts["per_object"][name]["J_mean"] - jm) <= TOL
        assert abs(res.artifacts["per_object"][name]["F_mean"] - ref_fm[name]) <= TOL
    assert set(res.per_sample) == set(R.SEQS)
    assert rec.dataset == "davis-style@1"
    # the 2016 annotations read directly (255 = object) score like the 2017 copy
    res2017, _ = _run(gt2017, OSVOS, "semi-supervised")
    assert res2017.values == res.values


@needs_data
def test_real_osvos_equals_vos_benchmark(gt2017):
    """The installed vos-benchmark package (per-object J / F means, first and last frame skipped)."""
    from vos_benchmark.benchmark import benchmark

    preds = gt2017.parent / "osvos_copy"
    if not preds.exists():
        shutil.copytree(OSVOS, preds)
    _, _, _, objs = benchmark([str(gt2017)], [str(preds)], num_processes=1, verbose=False)
    res, _ = _run(ROOT, OSVOS, "semi-supervised")
    for seq, (iou, bf) in objs[0].items():
        po = res.artifacts["per_object"][f"{seq}_1"]
        assert abs(iou[1] / 100 - po["J_mean"]) < 1e-9
        assert abs(bf[1] / 100 - po["F_mean"]) < 1e-9


@needs_data
def test_real_rvos_unsupervised_equals_reference(gt2017):
    # the reference needs ~0.15 s per frame with 20 proposals: score the first 16 frames of each sequence
    root = gt2017.parent / "gt_first16"
    if not root.exists():
        for s in R.SEQS:
            (root / s).mkdir(parents=True)
            for f in sorted((gt2017 / s).glob("*.png"))[:16]:
                shutil.copy(f, root / s / f.name)
    ref, ref_jm, _ = R.reference_evaluate(root, RVOS, R.SEQS, "unsupervised")
    res, _ = _run(root, RVOS, "unsupervised")
    _close(res.values, ref)
    for name, jm in ref_jm.items():
        assert abs(res.artifacts["per_object"][name]["J_mean"] - jm) <= TOL
    assert res.artifacts["task"] == "unsupervised"
    # the RVOS proposals really are matched (not id 1 by construction)
    assert all(len(m) == 1 for m in res.artifacts["matched"].values())


# ----------------------------------------------------------------------------- synthetic parity
def _fake(tmp_path, task, seed, n=3, **kw):
    root = DavisStyle.make_fake(tmp_path / "root", num_samples=n, seed=seed, images=False, **kw)
    preds = make_fake_predictions(root, tmp_path / "preds", seed=seed + 100, task=task,
                                  extra=3 if task == "unsupervised" else 0)
    return root, preds


@pytest.mark.parametrize("task,seed", [("semi-supervised", 0), ("semi-supervised", 1), ("unsupervised", 2),
                                       ("unsupervised", 3)])
def test_synthetic_sequences_equal_reference(tmp_path, task, seed):
    root, preds = _fake(tmp_path, task, seed, frames=7, height=60, width=107, objects=3)
    ann = root / "Annotations" / "480p"
    seqs = sorted(p.name for p in ann.iterdir())
    ref, ref_jm, ref_fm = R.reference_evaluate(ann, preds, seqs, task)
    res, _ = _run(root, preds, task)
    _close(res.values, ref)
    if task == "semi-supervised":
        for name, jm in ref_jm.items():
            assert abs(res.artifacts["per_object"][name]["J_mean"] - jm) <= TOL
            assert abs(res.artifacts["per_object"][name]["F_mean"] - ref_fm[name]) <= TOL
    else:  # the reference labels rows by predicted-id order; compare as multisets
        assert sorted(ref_jm.values()) == pytest.approx(
            sorted(v["J_mean"] for v in res.artifacts["per_object"].values()), abs=TOL)


def test_synthetic_void_is_background_like_the_reference(tmp_path):
    """GT void (255) is read as background by the official code (default); use_void excludes it."""
    root, preds = _fake(tmp_path, "semi-supervised", 5, frames=5, height=40, width=70, objects=2)
    ds = DavisStyle(root)
    assert (ds.load(ds.sample_ids()[0]).target.masks == 255).any()
    a, _ = _run(root, preds, "semi-supervised")
    m = get_metric("davis_jf", None, task="semi-supervised", use_void=True)
    src = ds.predictions(preds)
    for sid in ds.sample_ids():
        s = ds.load(sid)
        m.update(src.load(s), s)
    b = m.compute()
    assert b.values["J_mean"] != a.values["J_mean"]


# ----------------------------------------------------------------------------- edge cases
def _seq(T=6, H=40, W=70, K=2, seed=0):
    return fake_sequence(np.random.default_rng(seed), T, H, W, K, void=False)


def _score(gt, pred, **opts):
    frames = [f"{i:05d}" for i in range(len(gt))]
    m = DavisJF(None, **opts)
    m.update(VideoPrediction(frames=frames, masks=pred), Sample("s", None, VideoMasks(frames=frames, masks=gt)))
    return m.compute()


def _ref_on_arrays(tmp_path, gt, pred, task):
    for name, arr in (("gt", gt), ("pred", pred)):
        for i, m in enumerate(arr):
            write_mask_png(tmp_path / name / "s" / f"{i:05d}.png", m)
    return R.reference_evaluate(tmp_path / "gt", tmp_path / "pred", ["s"], task)[0]


def test_object_absent_in_some_frames(tmp_path):
    gt = _seq(T=8, K=2, seed=3)
    gt[3:6][gt[3:6] == 2] = 0           # object 2 leaves and comes back
    pred = gt.copy()
    pred[4][pred[4] == 1] = 0           # object 1 missed in one frame
    pred[5][10:14, 10:14] = 2           # object 2 hallucinated while absent
    for task in ("semi-supervised", "unsupervised"):
        res = _score(gt, pred, task=task)
        _close(res.values, _ref_on_arrays(tmp_path / task, gt, pred, task))
    j = evaluate_sequence(gt, pred, "semi-supervised")["J"]
    assert j[1][2] == 1.0   # frame 3: object 2 absent in GT and prediction -> J = 1
    assert j[1][4] == 0.0   # frame 5: hallucinated -> J = 0


def test_prediction_with_extra_object_id():
    gt = _seq(K=2)
    pred = gt.copy()
    pred[2][0:5, 0:5] = 3
    with pytest.raises(BadInputError, match=r"sequence 's' frame '00002'.*object id 3"):
        _score(gt, pred, task="semi-supervised")
    ignored = _score(gt, pred, task="semi-supervised", extra_ids="ignore")
    clean = _score(gt, np.where(pred == 3, 0, pred), task="semi-supervised")
    assert ignored.values == clean.values
    # unsupervised: extra ids are proposals; the perfect ones are matched
    un = _score(gt, pred, task="unsupervised")
    assert un.values["J_mean"] == 1.0 and un.artifacts["matched"]["s"] == [1, 2]
    too_many = gt.copy()
    too_many[1][0, 0] = 21
    with pytest.raises(BadInputError, match="maximum of 20 proposals"):
        _score(gt, too_many, task="unsupervised")


def test_prediction_with_fewer_objects_is_padded(tmp_path):
    gt = _seq(K=3, seed=4)
    pred = np.where(gt == 3, 0, gt)      # never predicts object 3
    res = _score(gt, pred, task="semi-supervised")
    assert res.artifacts["per_object"]["s_3"]["J_mean"] == 0.0
    un = _score(gt, pred, task="unsupervised")
    _close(un.values, _ref_on_arrays(tmp_path, gt, pred, "unsupervised"))


def test_objects_from_first_frame_like_the_reference():
    gt = _seq(K=2, seed=5)
    gt[2:, 30:36, 50:60] = 3           # object 3 appears only later: the official code ignores it
    pred = gt.copy()
    res = _score(gt, np.where(pred == 3, 0, pred), task="semi-supervised")
    assert res.per_sample["s"]["num_objects"] == 2
    allf = _score(gt, pred, task="semi-supervised", objects="all_frames")
    assert allf.per_sample["s"]["num_objects"] == 3


def test_missing_frame_is_a_clear_error(tmp_path):
    root, preds = _fake(tmp_path, "semi-supervised", 7, n=2, frames=5, height=30, width=50)
    seq = sorted(p.name for p in preds.iterdir())[1]
    (preds / seq / "00002.png").unlink()
    ds = DavisStyle(root, task="semi-supervised")
    with pytest.raises(BadInputError, match=rf"frame '00002' of sequence '{seq}'"):
        evaluate_run(ds, ds.predictions(preds), ds.build_metrics(None))
    # the first and last frames are not scored in semi-supervised mode: they may be missing
    (preds / seq / "00002.png").write_bytes((preds / seq / "00001.png").read_bytes())
    (preds / seq / "00000.png").unlink()
    (preds / seq / "00004.png").unlink()
    evaluate_run(ds, ds.predictions(preds), ds.build_metrics(None))
    # ...but unsupervised scores every frame
    dsu = DavisStyle(root, task="unsupervised")
    with pytest.raises(BadInputError, match="frame '00000'"):
        evaluate_run(dsu, dsu.predictions(preds, task="unsupervised"), dsu.build_metrics(None))
    rc = main(["eval", str(preds), "--dataset", "davis-style", "--gt", str(root), "--task", "unsupervised"])
    assert rc == 2


def test_missing_void_scores_absent_frames_and_sequences_as_empty(tmp_path):
    root, preds = _fake(tmp_path, "semi-supervised", 9, n=2, frames=5, height=30, width=50)
    seqs = sorted(p.name for p in preds.iterdir())
    ds = DavisStyle(root, task="semi-supervised")
    # the same frame written as an empty mask == the frame missing under --missing void
    empty = tmp_path / "empty"
    shutil.copytree(preds, empty)
    write_mask_png(empty / seqs[0] / "00002.png", np.zeros((30, 50), np.uint8))
    shutil.rmtree(empty / seqs[1])
    holes = tmp_path / "holes"
    shutil.copytree(preds, holes)
    (holes / seqs[0] / "00002.png").unlink()
    shutil.rmtree(holes / seqs[1])
    with pytest.raises(BadInputError, match="--missing void"):
        evaluate_run(ds, ds.predictions(holes), ds.build_metrics(None))
    a, _ = evaluate_run(ds, ds.predictions(holes), ds.build_metrics(None), missing="void", workers=2)
    ds2 = DavisStyle(root, task="semi-supervised")
    # a missing sequence is all-empty: write it as such for the reference run
    for f in sorted((root / "Annotations" / "480p" / seqs[1]).glob("*.png")):
        (empty / seqs[1]).mkdir(exist_ok=True)
        write_mask_png(empty / seqs[1] / f.name, np.zeros((30, 50), np.uint8))
    b, _ = evaluate_run(ds2, ds2.predictions(empty), ds2.build_metrics(None))
    key = next(iter(a.metrics))
    assert a.metrics[key]["values"] == b.metrics[key]["values"]
    assert a.metrics[key]["values"]["J_mean"] < 1.0
    rc = main(["eval", str(holes), "--dataset", "davis-style", "--gt", str(root), "--missing", "void"])
    assert rc == 0


def test_size_mismatch_is_a_clear_error(tmp_path):
    root, preds = _fake(tmp_path, "semi-supervised", 8, n=1, frames=4, height=30, width=50)
    seq = next(preds.iterdir())
    for f in seq.glob("*.png"):
        write_mask_png(f, np.zeros((31, 50), np.uint8))
    ds = DavisStyle(root)
    with pytest.raises(BadInputError, match="50x30"):
        evaluate_run(ds, ds.predictions(preds), ds.build_metrics(None))


def test_palette_grayscale_and_rgb_pngs_read_alike(tmp_path):
    gt = _seq(K=3, seed=6)
    p_paths, l_paths, rgb_paths = [], [], []
    pal = davis_palette()
    for i, m in enumerate(gt):
        p, l, c = tmp_path / f"p{i}.png", tmp_path / f"l{i}.png", tmp_path / f"c{i}.png"
        write_mask_png(p, m, mode="P")
        write_mask_png(l, m, mode="L")
        Image.fromarray(pal[m]).save(c)
        p_paths.append(p); l_paths.append(l); rgb_paths.append(c)
    a, ka = read_sequence(p_paths)
    b, kb = read_sequence(l_paths)
    c, kc = read_sequence(rgb_paths)
    assert ka == kb == kc == "indexed"
    np.testing.assert_array_equal(a, gt)
    np.testing.assert_array_equal(b, gt)
    np.testing.assert_array_equal(c, gt)
    # DAVIS 2016: grayscale 0/255 is one object (not void)
    bin_paths = []
    for i, m in enumerate(gt):
        q = tmp_path / f"b{i}.png"
        Image.fromarray(np.where(m == 1, 255, 0).astype(np.uint8), mode="L").save(q)
        bin_paths.append(q)
    d, kd = read_sequence(bin_paths)
    assert kd == "binary"
    np.testing.assert_array_equal(d, (gt == 1).astype(np.uint8))
    # forcing "indexed" reads 255 as void
    e, _ = read_sequence(bin_paths, annotation="indexed")
    assert set(np.unique(e)) <= {0, 255}
    # an RGB colour outside the palette is refused with the file named
    Image.fromarray(np.full((4, 4, 3), 7, np.uint8)).save(tmp_path / "odd.png")
    with pytest.raises(BadInputError, match="odd.png.*DAVIS palette"):
        read_sequence([tmp_path / "odd.png"])


def test_grayscale_predictions_score_like_palette(tmp_path):
    root, preds = _fake(tmp_path, "semi-supervised", 9, n=2, frames=5, height=30, width=50)
    gray = tmp_path / "gray"
    for f in preds.rglob("*.png"):
        out = gray / f.parent.name / f.name
        write_mask_png(out, np.array(Image.open(f)), mode="L")
    a, _ = _run(root, preds, "semi-supervised")
    b, _ = _run(root, gray, "semi-supervised")
    assert a.values == b.values


def test_decay_bins_uint8_like_reference_and_fix():
    rng = np.random.default_rng(0)
    for n in (1, 2, 3, 4, 5, 17, 50, 256, 300):
        v = rng.random(n)
        ref = R.db_statistics(v)
        ours = db_statistics(v)
        for x, y in zip(ref, ours):
            assert (np.isnan(x) and np.isnan(y)) or x == y
    v = np.linspace(1, 0, 300)
    assert db_statistics(v, fix_decay_bins=True)[2] != db_statistics(v)[2]


def test_too_short_sequence_semi_supervised():
    gt = _seq(T=2)
    with pytest.raises(BadInputError, match="at least 3"):
        _score(gt, gt.copy(), task="semi-supervised")
    assert _score(gt, gt.copy(), task="unsupervised").values["J&F"] == 1.0


def test_bad_task_is_usage_error(tmp_path):
    with pytest.raises(UsageError):
        DavisJF(None, task="weakly")
    root, preds = _fake(tmp_path, "semi-supervised", 10, n=1, frames=4, height=20, width=30)
    assert main(["eval", str(preds), "--dataset", "davis-style", "--gt", str(root), "--task", "weakly"]) == 2


# ----------------------------------------------------------------------------- state, shards, CLI
def test_state_roundtrip_and_duplicate_merge():
    gt = _seq(K=2)
    m = DavisJF(None)
    frames = [f"{i:05d}" for i in range(len(gt))]
    m.update(VideoPrediction(frames=frames, masks=gt), Sample("a", None, VideoMasks(frames=frames, masks=gt)))
    st = m.state_dict()
    json.dumps(st)
    m2 = DavisJF.from_state(st)
    assert m2.compute().values == m.compute().values
    with pytest.raises(BadInputError):
        m2.merge(DavisJF.from_state(st))
    m3 = DavisJF(None)
    m3.update(VideoPrediction(frames=frames, masks=gt), Sample("b", None, VideoMasks(frames=frames, masks=gt)))
    merged = DavisJF.from_state(st).merge(m3)
    assert sorted(merged.compute().per_sample) == ["a", "b"]


@pytest.mark.parametrize("task", ["semi-supervised", "unsupervised"])
def test_workers_1_vs_2_identical(tmp_path, task):
    root, preds = _fake(tmp_path, task, 11, n=5, frames=5, height=30, width=50)
    ds = DavisStyle(root, task=task)
    src = ds.predictions(preds, task=task)
    one = evaluate_samples(ds, src, ds.build_metrics(None), workers=1, chunk_size=2)
    two = evaluate_samples(ds, src, ds.build_metrics(None), workers=2, chunk_size=2)
    a, b = one.results["davis_jf@1"], two.results["davis_jf@1"]
    assert a.values == b.values and a.per_sample == b.per_sample
    whole = evaluate_samples(ds, src, ds.build_metrics(None), workers=1, chunk_size=100)
    assert whole.results["davis_jf@1"].values == a.values


@needs_data
def test_cli_eval_unsupervised_real(tmp_path):
    out = tmp_path / "run.json"
    rc = main(["eval", str(RVOS), "--dataset", "davis-style", "--gt", str(ROOT), "--task", "unsupervised",
               "--json", str(out)])
    assert rc == 0
    rec = json.loads(out.read_text())
    vals = rec["metrics"]["davis_jf@1"]["values"]
    res, _ = _run(ROOT, RVOS, "unsupervised")
    for k in KEYS:
        assert vals[k] == pytest.approx(res.values[k], abs=1e-12)
    assert rec["config"]["metric_options"]["davis_jf@1"]["task"] == "unsupervised"
    assert set(rec["metrics"]["davis_jf@1"]["per_sample"]) == set(R.SEQS)
    rc = main(["eval", str(OSVOS), "--dataset", "davis-style", "--gt", str(ROOT), "--fail-under", "J&F=0.99"])
    assert rc == 1


# ----------------------------------------------------------------------------- adapters
def test_davis2017_adapter_layout(tmp_path):
    root = Davis2017.make_fake(tmp_path / "d", num_samples=3, seed=1, frames=4, height=24, width=40)
    ds = get_dataset_class("davis2017")(root)
    assert ds.spec.key == "davis2017@2017" and ds.sample_ids() == ["fake-000", "fake-001", "fake-002"]
    s = ds.load("fake-001")
    assert s.target.masks.shape == (4, 24, 40) and s.target.frames == ["00000", "00001", "00002", "00003"]
    assert s.target.num_objects == 3 and s.image.endswith("fake-001")
    with pytest.raises(NotFoundError):
        Davis2017(root, split="train").sample_ids()
    # sequences listed in ImageSets but missing on disk
    (root / "ImageSets" / "2017" / "val.txt").write_text("fake-000\nnope\n")
    with pytest.raises(NotFoundError, match="nope"):
        Davis2017(root).sample_ids()
    # unsupervised reads Annotations_unsupervised when present
    shutil.copytree(root / "Annotations", root / "Annotations_unsupervised")
    write_mask_png(root / "Annotations_unsupervised" / "480p" / "fake-000" / "00000.png", np.zeros((24, 40)))
    u = Davis2017(root, task="unsupervised").load("fake-000")
    assert u.target.masks[0].max() == 0 and "Annotations_unsupervised" in u.meta["annotations_dir"]
    with pytest.raises(NotFoundError):
        Davis2017(tmp_path / "missing").sample_ids()


def test_davis_style_without_imagesets_and_binary_fake(tmp_path):
    root = DavisStyle.make_fake(tmp_path / "b", num_samples=2, seed=2, frames=4, height=24, width=40, binary=True)
    shutil.rmtree(root / "ImageSets")
    ds = DavisStyle(root)
    s = ds.load(ds.sample_ids()[0])
    assert s.meta["annotation"] == "binary" and set(np.unique(s.target.masks)) <= {0, 1}
    with Image.open(next((root / "Annotations" / "480p" / "fake-000").glob("*.png"))) as im:
        assert im.mode == "L"
    # the folder of sequence folders itself is accepted too
    assert DavisStyle(root / "Annotations" / "480p").sample_ids() == ds.sample_ids()
    with pytest.raises(NotFoundError):
        DavisStyle(root, split="train").sample_ids()


def test_adapter_is_picklable(tmp_path):
    import pickle
    root = DavisStyle.make_fake(tmp_path / "p", num_samples=1, seed=3, frames=3, height=16, width=20)
    ds = DavisStyle(root, task="unsupervised")
    ds2 = pickle.loads(pickle.dumps(ds))
    assert ds2.sample_ids() == ds.sample_ids() and ds2.vos_task == "unsupervised"


def test_api_without_frame_names_and_with_paths_only(tmp_path):
    gt = _seq(K=2, seed=9)
    pred = gt.copy()
    pred[2][pred[2] == 1] = 0
    ref = _score(gt, pred)
    m = DavisJF(None)
    m.update(VideoPrediction(frames=None, masks=pred), Sample("s", None, VideoMasks(frames=None, masks=gt)))
    assert m.compute().values == ref.values
    # masks given only as paths (2016-style grayscale GT, palette predictions)
    gpaths, ppaths = [], []
    for i, (g, p) in enumerate(zip(gt, pred)):
        gp, pp = tmp_path / "g" / f"{i:05d}.png", tmp_path / "p" / f"{i:05d}.png"
        write_mask_png(gp, np.where(g == 1, 255, 0), mode="L")
        write_mask_png(pp, np.where(p == 1, 1, 0))
        gpaths.append(gp); ppaths.append(pp)
    frames = [f"{i:05d}" for i in range(len(gt))]
    m = DavisJF(None)
    m.update(VideoPrediction(frames=frames, paths=ppaths), Sample("s", None, VideoMasks(frames=frames, paths=gpaths)))
    ref1 = _score((gt == 1).astype(np.uint8), np.where(pred == 1, 1, 0).astype(np.uint8))
    assert m.compute().values == ref1.values


def test_davis2017_root_may_be_the_extraction_folder(tmp_path):
    Davis2017.make_fake(tmp_path / "DAVIS", num_samples=2, seed=4, frames=3, height=12, width=20)
    ds = Davis2017(tmp_path)          # the folder the archive was extracted into
    assert ds.sample_ids() == ["fake-000", "fake-001"]
    assert "DAVIS" in ds.load("fake-000").meta["annotations_dir"]


def test_file_level_errors_name_the_right_file(tmp_path, capsys):
    root, preds = _fake(tmp_path, "semi-supervised", 9, n=1, frames=4, height=24, width=40)
    seq = sorted(p for p in preds.iterdir() if p.is_dir())[0]
    # only the first scored frame has the wrong size: it is the one named (not the next frame)
    write_mask_png(seq / "00001.png", np.zeros((24, 41), np.uint8))
    capsys.readouterr()
    assert main(["eval", str(preds), "--dataset", "davis-style", "--gt", str(root)]) == 2
    err = capsys.readouterr().err
    assert f"{seq.name}/00001.png: expected every frame of the sequence to be 40x24 (the annotation size), " \
           f"found 41x24" in err and len(err.strip().splitlines()) == 1
    # a GT sequence off in one frame: the odd frame is named
    gseq = root / "Annotations" / "480p" / seq.name
    frames = sorted(gseq.glob("*.png"))
    with pytest.raises(BadInputError, match=r"00002\.png.*40x24 \(the size of most frames\), found 40x25"):
        write_mask_png(frames[2], np.zeros((25, 40), np.uint8))
        read_sequence(frames)


def test_jpeg_data_named_png_and_hidden_files(tmp_path, capsys):
    root, preds = _fake(tmp_path, "semi-supervised", 10, n=1, frames=4, height=24, width=40)
    seq = sorted(p for p in preds.iterdir() if p.is_dir())[0]
    base, _ = _run(root, preds, "semi-supervised")
    # macOS AppleDouble files are skipped like the official glob
    gseq = root / "Annotations" / "480p" / seq.name
    for d in (gseq, seq):
        (d / "._00001.png").write_bytes(b"\x00\x05\x16\x07junk")
    again, _ = _run(root, preds, "semi-supervised")
    assert again.values == base.values
    # lossy JPEG bytes in a .png: refused, not decoded into shifted ids
    arr = np.asarray(Image.open(seq / "00001.png").convert("L"))
    Image.fromarray(arr).save(seq / "00001.png", format="JPEG")
    capsys.readouterr()
    assert main(["eval", str(preds), "--dataset", "davis-style", "--gt", str(root)]) == 2
    err = capsys.readouterr().err
    assert "00001.png: expected PNG data, found JPEG" in err and len(err.strip().splitlines()) == 1


def test_too_short_sequence_names_the_annotation_folder(tmp_path, capsys):
    root, preds = _fake(tmp_path, "semi-supervised", 11, n=1, frames=2, height=24, width=40)
    capsys.readouterr()
    assert main(["eval", str(preds), "--dataset", "davis-style", "--gt", str(root)]) == 2
    err = capsys.readouterr().err
    assert "Annotations/480p/" in err and "needs at least 3" in err and len(err.strip().splitlines()) == 1

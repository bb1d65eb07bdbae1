"""Semantic metrics core: confusion matrix, scores, MeanIoU state protocol, shard/merge properties,
torchmetrics parity."""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st, HealthCheck

from segbench.errors import BadInputError
from segbench.metrics import get_metric
from segbench.metrics.functional.semantic import (category_scores, confusion_matrix, instance_iou,
                                                  instance_records, pair_histogram, scores_from_confusion)
from segbench.metrics.semantic import MeanIoU
from segbench.types import ClassSpec, LabelSpace, Sample, SemanticMask, SemanticPrediction, SoftPrediction


def _naive_cm(gt, pr, C, ig=255):
    cm = np.zeros((C, C), np.int64)
    void = np.zeros(C, np.int64)
    for g, p in zip(np.ravel(gt), np.ravel(pr)):
        if g == ig:
            continue
        if p == ig:
            void[g] += 1
        else:
            cm[g, p] += 1
    return cm, void


# ------------------------------------------------------------------ hand-computed toy cases
def test_toy_case_by_hand():
    gt = np.array([[0, 0, 1, 1], [2, 2, 255, 1]], np.uint8)
    pr = np.array([[0, 1, 1, 1], [2, 255, 0, 1]], np.uint8)
    cm, void = confusion_matrix(gt, pr, 3, return_void=True)
    assert cm.tolist() == [[1, 1, 0], [0, 3, 0], [0, 0, 1]]
    assert void.tolist() == [0, 0, 1]          # GT 2 predicted void
    s = scores_from_confusion(cm, void)
    # class 0: tp1 fp0 fn1 -> 1/2 ; class 1: tp3 fp1 fn0 -> 3/4 ; class 2: tp1 fp0 fn1 (void) -> 1/2
    assert s["IoU"].tolist() == [0.5, 0.75, 0.5]
    assert s["Acc"].tolist() == [0.5, 1.0, 0.5]
    assert s["precision"].tolist() == [1.0, 0.75, 1.0]
    assert np.allclose(s["Dice"], [2 / 3, 6 / 7, 2 / 3])
    assert s["mIoU"] == pytest.approx((0.5 + 0.75 + 0.5) / 3, abs=1e-15)
    assert s["aAcc"] == pytest.approx(5 / 7, abs=1e-15)
    assert s["mAcc"] == pytest.approx(2 / 3, abs=1e-15)
    # fwIoU: freq 2/7, 3/7, 2/7
    assert s["fwIoU"] == pytest.approx(2 / 7 * 0.5 + 3 / 7 * 0.75 + 2 / 7 * 0.5, abs=1e-15)


def test_absent_class_is_nan_and_left_out():
    gt = np.array([0, 0, 1, 1], np.uint8)
    pr = np.array([0, 1, 1, 1], np.uint8)
    s = scores_from_confusion(confusion_matrix(gt, pr, 3))
    assert math.isnan(s["IoU"][2]) and math.isnan(s["Dice"][2]) and math.isnan(s["Acc"][2])
    assert s["mIoU"] == pytest.approx((0.5 + 2 / 3) / 2)
    # predicted but absent from GT: IoU 0 (counts), Acc NaN
    s2 = scores_from_confusion(confusion_matrix(np.array([0, 0]), np.array([0, 2]), 3))
    assert s2["IoU"].tolist()[2] == 0.0 and math.isnan(s2["Acc"][2])
    assert s2["mIoU"] == pytest.approx(0.25)


def test_empty_everything_nan():
    s = scores_from_confusion(np.zeros((2, 2), np.int64))
    assert all(math.isnan(s[k]) for k in ("mIoU", "mAcc", "aAcc", "fwIoU", "mDice"))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32, np.int64])
def test_dtypes_agree_with_naive(dtype):
    rng = np.random.default_rng(0)
    gt = rng.integers(0, 6, (37, 41))
    pr = rng.integers(0, 6, (37, 41))
    gt[rng.random(gt.shape) < 0.1] = 255
    pr[rng.random(pr.shape) < 0.1] = 255
    cm, void = confusion_matrix(gt.astype(dtype), pr.astype(dtype), 6, return_void=True)
    ref_cm, ref_void = _naive_cm(gt, pr, 6)
    assert cm.dtype == np.int64 and (cm == ref_cm).all() and (void == ref_void).all()


def test_run_length_path_equals_plain_bincount():
    rng = np.random.default_rng(1)
    gt = np.repeat(rng.integers(0, 19, 300), 400).astype(np.uint8).reshape(300, 400)  # long runs
    pr = gt.copy()
    pr[rng.random(pr.shape) < 0.01] = 3
    cm, void = confusion_matrix(gt, pr, 19, return_void=True)
    ref = np.bincount(gt.astype(np.int64).ravel() * 256 + pr.ravel(), minlength=65536).reshape(256, 256)
    assert (cm == ref[:19, :19]).all() and void.sum() == 0


def test_many_classes_uint16_and_large_ignore():
    rng = np.random.default_rng(2)
    C = 3000
    gt = rng.integers(0, C, (64, 64)).astype(np.uint16)
    pr = gt.copy()
    pr[:5] = rng.integers(0, C, (5, 64))
    gt[0, :7] = 65535
    pr[1, :3] = 65535
    cm, void = confusion_matrix(gt, pr, C, ignore_index=65535, return_void=True)
    ref_cm, ref_void = _naive_cm(gt.astype(np.int64), pr.astype(np.int64), C, 65535)
    assert (cm == ref_cm).all() and (void == ref_void).all()
    # label values anywhere in the uint16 range
    cm2 = confusion_matrix(np.array([2000, 0, 65535], np.uint16), np.array([2000, 1, 3], np.uint16), 2001,
                           ignore_index=65535)
    assert cm2[2000, 2000] == 1 and cm2[0, 1] == 1 and cm2.sum() == 2
    with pytest.raises(ValueError, match="GiB"):
        confusion_matrix(np.array([0]), np.array([0]), 65535)


def test_out_of_range_values_raise():
    with pytest.raises(ValueError, match="pred has values outside 0..2.*7 \\(1 px\\)"):
        confusion_matrix(np.array([0, 1], np.uint8), np.array([0, 7], np.uint8), 3)
    with pytest.raises(ValueError, match="gt has values outside"):
        confusion_matrix(np.array([0, 9]), np.array([0, 1]), 3)
    with pytest.raises(ValueError, match="shapes differ"):
        confusion_matrix(np.zeros((2, 2), np.uint8), np.zeros((2, 3), np.uint8), 3)
    with pytest.raises(ValueError, match="outside"):
        confusion_matrix(np.array([0, -3]), np.array([0, 1]), 3)


def test_void_values_split():
    gt = np.array([0, 0, 1, 1, 1], np.uint8)
    pr = np.array([0, 250, 255, 250, 1], np.uint8)
    cm, v = confusion_matrix(gt, pr, 2, return_void=True, void_values=[250], split_void=True)
    assert v.tolist() == [[0, 1], [1, 1]] and cm.tolist() == [[1, 0], [0, 1]]
    cm, v = confusion_matrix(gt.astype(np.int64), pr.astype(np.int64), 2, return_void=True,
                             void_values=[250], split_void=True)
    assert v.tolist() == [[0, 1], [1, 1]]


def test_pair_histogram_sparse_and_dense_agree(monkeypatch):
    import segbench.metrics.functional.semantic as S
    a, b = np.array([500, 500, 1, 7]), np.array([499, 499, 2, 7])
    dense = pair_histogram(a, b, 501, 501)
    monkeypatch.setattr(S, "_DENSE_MAX_BINS", 100)   # force the sparse (np.unique) path
    sparse = S.pair_histogram(a, b, 501, 501)
    assert (dense == sparse).all() and dense[500, 499] == 2 and dense.sum() == 4
    rng = np.random.default_rng(0)
    g = rng.integers(0, 300, (50, 60))
    p = rng.integers(0, 300, (50, 60))
    g[0, :4] = 999
    p[1, :4] = 999
    cm_s, v_s = S.confusion_matrix(g, p, 300, ignore_index=999, return_void=True)
    monkeypatch.undo()
    cm_d, v_d = confusion_matrix(g, p, 300, ignore_index=999, return_void=True)
    assert (cm_s == cm_d).all() and (v_s == v_d).all() and v_d.sum() == 4 and cm_d.sum() == 3000 - 8
    with pytest.raises(ValueError, match="also a class id"):
        confusion_matrix(g, p, 300, ignore_index=255)


def test_category_scores_by_hand():
    # classes 0,1 in category 0; class 2 in category 1
    cm = np.array([[5, 1, 0], [2, 3, 1], [0, 4, 6]])
    void = np.array([1, 0, 0])
    iou = category_scores(cm, void, [0, 0, 1], 2)
    # cat0: tp = 5+1+2+3 = 11, fn = (6+1)+(6) - 11 = 2, fp = cm[2,0]+cm[2,1] = 4 -> 11/17
    # cat1: tp = 6, fn = 4, fp = 1 -> 6/11
    assert iou.tolist() == [11 / 17, 6 / 11]


def test_instance_records_and_iiou_by_hand():
    # one class (train 0, native 24) with two instances; class 1 is stuff
    inst = np.array([[24000, 24000, 24001, 5], [24000, 24001, 24001, 5]])
    pred = np.array([[0, 1, 0, 1], [0, 0, 255, 1]], np.uint8)
    lut = np.full(256, 255)
    lut[24] = 0
    lut[5] = 1
    rec = instance_records(pred, inst, lut, [0, 1])
    assert rec.tolist() == [[0, 3, 2, 2], [0, 3, 2, 2]]
    gt = np.array([[0, 0, 0, 1], [0, 0, 0, 1]], np.uint8)
    cm, void = confusion_matrix(gt, pred, 2, return_void=True)
    ii = instance_iou(rec, cm, void, [1000.0, np.nan])
    w = 1000.0 / 3
    # iTP = 2w + 2w, iFN = w + w, FP(class 0) = cm[1,0] = 0
    assert ii["iIoU"][0] == pytest.approx(4 * w / (6 * w)) and math.isnan(ii["iIoU"][1])


# ------------------------------------------------------------------ metric protocol
def _ls(n=3):
    return LabelSpace.from_names([f"c{i}" for i in range(n)])


def _sample(sid, gt, inst=None):
    return Sample(sid, None, SemanticMask(np.asarray(gt), inst))


def test_meaniou_registry_values_and_artifacts():
    m = get_metric("miou", _ls())
    gt = np.array([[0, 0, 1, 1], [2, 2, 255, 1]], np.uint8)
    pr = np.array([[0, 1, 1, 1], [2, 255, 0, 1]], np.uint8)
    m.update(SemanticPrediction(pr), _sample("a", gt))
    r = m.compute()
    assert set(r.values) == {"mIoU", "mAcc", "aAcc", "fwIoU", "mDice"}
    assert r.values["mIoU"] == pytest.approx(1.75 / 3)
    assert r.per_class["c1"] == {"IoU": 0.75, "Acc": 1.0, "Dice": 6 / 7, "precision": 0.75, "recall": 1.0}
    assert r.artifacts["confusion_matrix"] == [[1, 1, 0], [0, 3, 0], [0, 0, 1]]
    assert r.artifacts["void"] == [0, 0, 1]
    d = r.to_dict()
    assert d["values"]["mIoU"] == pytest.approx(1.75 / 3)
    # per-image scores (for galleries / bootstrap) ride along; dataset values never use them
    assert r.per_sample == {"a": {"mIoU": pytest.approx(1.75 / 3), "aAcc": pytest.approx(5 / 7), "pixels": 7}}
    assert MeanIoU(_ls(), per_sample=False).compute().per_sample is None


def test_meaniou_bad_shapes_and_values_are_bad_input():
    m = MeanIoU(_ls())
    with pytest.raises(BadInputError, match="shape"):
        m.update(SemanticPrediction(np.zeros((2, 3), np.uint8)), _sample("x", np.zeros((2, 2), np.uint8)))
    with pytest.raises(BadInputError, match="sample y.*7 \\(1 px\\)"):
        m.update(SemanticPrediction(np.array([[0, 7]], np.uint8)), _sample("y", np.zeros((1, 2), np.uint8)))


def test_meaniou_soft_prediction_binary():
    m = MeanIoU(_ls(2))
    m.update(SoftPrediction(np.array([[0.2, 0.7]])), _sample("a", np.array([[0, 1]], np.uint8)))
    assert m.compute().values["mIoU"] == 1.0


def test_state_roundtrip_and_fresh():
    m = MeanIoU(_ls())
    m.update(SemanticPrediction(np.array([[0, 1]], np.uint8)), _sample("a", np.array([[0, 2]], np.uint8)))
    m2 = MeanIoU.from_state(m.state_dict(), _ls())
    assert m2.compute().to_dict() == m.compute().to_dict()
    assert m.fresh().confusion.sum() == 0


# ------------------------------------------------------------------ shards merge bit for bit
_maps = st.integers(min_value=1, max_value=12).flatmap(
    lambda n: st.lists(st.integers(min_value=0, max_value=2 ** 31), min_size=n, max_size=n))


def _cs_like_metric():
    # a label space with categories and things, instance-weighted iIoU on
    rows = [ClassSpec("road", 7, 0, "flat"), ClassSpec("person", 24, 1, "human", True),
            ClassSpec("car", 26, 2, "vehicle", True), ClassSpec("caravan", 29, 255, "vehicle", True, True),
            ClassSpec("unlabeled", 0, 255, "void", False, True)]
    ls = LabelSpace(rows)
    return MeanIoU(ls, instance_avg_size={"person": 3462.47, "car": 12794.02},
                   void_categories={"253": "vehicle"}), ls


def _random_pair(seed):
    rng = np.random.default_rng(seed)
    H, W = int(rng.integers(1, 9)), int(rng.integers(1, 9))
    gt = rng.choice(np.array([0, 1, 2, 255], np.uint8), (H, W))
    pr = rng.choice(np.array([0, 1, 2, 255, 253], np.uint8), (H, W))
    inst = np.where(gt == 1, 24000 + rng.integers(0, 3, (H, W)),
                    np.where(gt == 2, 26000 + rng.integers(0, 2, (H, W)), 7))
    return gt, pr, inst


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seeds=_maps, k=st.integers(min_value=1, max_value=5), data=st.data())
def test_shards_merged_equal_one_pass_bit_for_bit(seeds, k, data):
    proto, ls = _cs_like_metric()
    pairs = [_random_pair(s) for s in seeds]
    one = proto.fresh()
    for i, (g, p, inst) in enumerate(pairs):
        one.update(SemanticPrediction(p), _sample(str(i), g, inst))
    # random split into k shards (arbitrary assignment), merged in an arbitrary order
    assign = data.draw(st.lists(st.integers(0, k - 1), min_size=len(pairs), max_size=len(pairs)))
    shards = [proto.fresh() for _ in range(k)]
    for i, ((g, p, inst), a) in enumerate(zip(pairs, assign)):
        shards[a].update(SemanticPrediction(p), _sample(str(i), g, inst))
    order = data.draw(st.permutations(range(k)))
    merged = proto.fresh()
    for j in order:
        merged.merge(MeanIoU.from_state(shards[j].state_dict(), ls, **proto.options))
    a, b = one.compute().to_dict(), merged.compute().to_dict()
    assert a == b  # exact equality of every float (NaN -> None)
    assert (one.confusion == merged.confusion).all()


def test_engine_workers_1_and_2_identical(tmp_path):
    from segbench.datasets.cityscapes import Cityscapes, write_fake_predictions
    from segbench.engine import evaluate_run
    root = Cityscapes.make_fake(tmp_path / "cs", num_samples=10, seed=5, size=(32, 64), images=False)
    write_fake_predictions(root, tmp_path / "pred", seed=6)
    ds = Cityscapes(root)
    r1, o1 = evaluate_run(ds, ds.predictions(tmp_path / "pred"), ds.build_metrics(None), workers=1)
    r2, o2 = evaluate_run(ds, ds.predictions(tmp_path / "pred"), ds.build_metrics(None), workers=2)
    assert r1.metrics == r2.metrics
    assert "iIoU" in r1.metrics["miou@1"]["values"]
    # any chunking of the samples (= shards merged in the engine) gives the same bits
    from segbench.engine import evaluate_samples
    base = None
    for cs in (1, 3, 4, 10):
        out = evaluate_samples(ds, ds.predictions(tmp_path / "pred"), ds.build_metrics(None), chunk_size=cs)
        d = out.results["miou@1"].to_dict()
        base = base or d
        assert d == base
    assert base == r1.metrics["miou@1"]


# ------------------------------------------------------------------ torchmetrics parity
def test_parity_torchmetrics_dataset_level_jaccard():
    torch = pytest.importorskip("torch")
    tm = pytest.importorskip("torchmetrics.classification")
    C = 7
    jac = tm.MulticlassJaccardIndex(num_classes=C, average=None, ignore_index=255)
    m = MeanIoU(_ls(C))
    rng = np.random.default_rng(3)
    for i in range(6):
        gt = rng.integers(0, C, (40, 50)).astype(np.uint8)
        pr = np.where(rng.random(gt.shape) < 0.7, gt, rng.integers(0, C, gt.shape)).astype(np.uint8)
        gt[rng.random(gt.shape) < 0.1] = 255
        if i == 0:
            gt[gt == 6] = 0  # make one class rare
        jac.update(torch.from_numpy(pr.astype(np.int64)), torch.from_numpy(gt.astype(np.int64)))
        m.update(SemanticPrediction(pr), _sample(str(i), gt))
    ref = jac.compute().numpy().astype(np.float64)
    r = m.compute()
    ours = np.array([r.per_class[f"c{i}"]["IoU"] for i in range(C)])
    assert np.abs(ours - ref).max() < 1e-6  # torchmetrics computes in float32
    # exact check on the float64 formula from torchmetrics' own confusion matrix
    cmt = tm.MulticlassConfusionMatrix(num_classes=C, ignore_index=255)
    rng = np.random.default_rng(3)
    for i in range(6):
        gt = rng.integers(0, C, (40, 50)).astype(np.uint8)
        pr = np.where(rng.random(gt.shape) < 0.7, gt, rng.integers(0, C, gt.shape)).astype(np.uint8)
        gt[rng.random(gt.shape) < 0.1] = 255
        if i == 0:
            gt[gt == 6] = 0
        cmt.update(torch.from_numpy(pr.astype(np.int64)), torch.from_numpy(gt.astype(np.int64)))
    ref_cm = cmt.compute().numpy().astype(np.int64)
    assert (ref_cm == m.confusion).all()
    tp = np.diag(ref_cm).astype(np.float64)
    ref_iou = tp / (ref_cm.sum(0) + ref_cm.sum(1) - tp)
    assert np.abs(ours - ref_iou).max() < 1e-12


def test_native_maps_fold_equals_materialised_train_ids():
    """Stored ids + lookup table folded in the histogram == mapping every pixel first."""
    from segbench.io.labels import NativeSemanticMask, NativeSemanticPrediction, checked_lut
    from segbench.datasets.cityscapes import AVG_CLASS_SIZE, cityscapes_label_space, void_category_codes
    ls = cityscapes_label_space()
    lut = ls.id_to_train_lut(256)
    plut = lut.copy()
    for lid, code in void_category_codes(ls).items():
        plut[lid] = code
    plut[255] = 255
    opts = {"instance_avg_size": AVG_CLASS_SIZE,
            "void_categories": {str(254 - k): c for k, c in enumerate(ls.categories())}}
    rng = np.random.default_rng(7)
    a, b = MeanIoU(ls, **opts), MeanIoU(ls, **opts)
    for i in range(4):
        shape = (70, 90) if i % 2 else (3, 5)   # large (run-length path) and tiny inputs
        g = rng.integers(0, 34, shape).astype(np.uint8)
        g[:, : shape[1] // 2] = 26
        p = np.where(rng.random(shape) < 0.7, g, rng.integers(0, 34, shape)).astype(np.uint8)
        inst = np.where(g == 26, 26000 + rng.integers(0, 3, shape), g).astype(np.uint16)
        gl = checked_lut(lut, range(34))
        pl = checked_lut(plut, list(range(34)) + [255])
        nat_t, nat_p = NativeSemanticMask(g, gl, inst), NativeSemanticPrediction(p, pl)
        a.update(nat_p, Sample(str(i), None, nat_t))
        b.update(SemanticPrediction(pl[p].astype(np.uint8)), Sample(str(i), None, SemanticMask(gl[g].astype(np.uint8), inst)))
    assert a.compute().to_dict() == b.compute().to_dict()

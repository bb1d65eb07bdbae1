"""Keyed (sparse) confusion counts for many classes (issue 8: "any number of classes ≤ 65535"):
keyed == dense bit for bit, 65535 classes with scattered high ids, shard merges, artifacts."""

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import segbench.metrics.functional.semantic as S
import segbench.metrics.semantic as MS
from segbench.errors import BadInputError
from segbench.metrics.functional.semantic import (KeyedConfusion, category_scores, confusion_matrix, instance_iou,
                                                  keyed_confusion, merge_keyed, scores_from_confusion, use_keyed)
from segbench.metrics.semantic import MeanIoU
from segbench.types import ClassSpec, LabelSpace, Sample, SemanticMask, SemanticPrediction

BIG = 65535


def _sample(sid, gt, inst=None):
    return Sample(sid, None, SemanticMask(np.asarray(gt), inst))


def _same(a, b):
    """Exact equality of floats / arrays, NaN == NaN."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return a.shape == b.shape and np.array_equal(a, b, equal_nan=True)


def _scores_equal(s1, s2):
    for k in ("IoU", "Acc", "Dice", "precision", "recall", "tp", "fp", "fn"):
        assert _same(s1[k], s2[k]), k
    for k in ("mIoU", "mAcc", "aAcc", "fwIoU", "mDice"):
        assert _same(s1[k], s2[k]), k


# ------------------------------------------------------------------ functional
def test_threshold_constant():
    assert S.SPARSE_MATRIX_BYTES == 64 << 20
    assert not use_keyed(2896) and use_keyed(2897) and use_keyed(BIG)


@pytest.mark.parametrize("shape,noise", [((37, 41), 1.0), ((200, 300), 1.0), ((200, 300), 0.01)])
def test_keyed_confusion_equals_dense(shape, noise):
    rng = np.random.default_rng(0)
    C = 300
    gt = np.repeat(rng.integers(0, C, (shape[0], shape[1] // 10 + 1)), 10, 1)[:, :shape[1]]
    pr = np.where(rng.random(shape) < 1 - 0.2 * noise, gt, rng.integers(0, C, shape))
    gt[rng.random(shape) < 0.05 * noise] = 999
    pr[rng.random(shape) < 0.05 * noise] = 999
    pr[rng.random(shape) < 0.02 * noise] = 998
    if noise < 1:  # long runs (run-length path) of ignore, void and both void codes
        gt[:3, :50] = 999
        pr[5:8, 10:60] = 999
        pr[10:12, :70] = 998
        assert S._runs(gt.ravel(), pr.ravel())[0] is not None
    for dt in (np.uint16, np.int32, np.int64):
        g, p = gt.astype(dt), pr.astype(dt)
        cm, v = confusion_matrix(g, p, C, 999, return_void=True, void_values=[998], split_void=True)
        kc, kv = keyed_confusion(g, p, C, 999, void_values=[998], split_void=True)
        assert np.array_equal(kc.to_dense(), cm) and np.array_equal(kv, v)
        assert np.all(np.diff(kc.keys) > 0) and np.all(kc.counts > 0)
        assert kc == KeyedConfusion.from_dense(cm)
        _scores_equal(scores_from_confusion(kc, v.sum(1)), scores_from_confusion(cm, v.sum(1)))


def test_keyed_category_and_instance_scores_equal_dense():
    rng = np.random.default_rng(1)
    cm = rng.integers(0, 50, (6, 6)) * (rng.random((6, 6)) < 0.6)
    void = rng.integers(0, 5, 6)
    kc = KeyedConfusion.from_dense(cm)
    cat = [0, 0, 1, 1, 2, -1]
    assert _same(category_scores(kc, void, cat, 4), category_scores(cm, void, cat, 4))
    rec = np.array([[2, 30, 10, 12], [3, 5, 5, 5], [2, 7, 0, 3]])
    avg = [np.nan, np.nan, 100.0, 50.0, np.nan, np.nan]
    a = instance_iou(rec, cm, void, avg, cat, 3, [1], [0, 4, 0])
    b = instance_iou(rec, kc, void, avg, cat, 3, [1], [0, 4, 0])
    assert _same(a["iIoU"], b["iIoU"]) and _same(a["iIoU_category"], b["iIoU_category"])


def test_merge_keyed_canonical_any_grouping():
    rng = np.random.default_rng(2)
    parts = []
    for _ in range(7):
        d = rng.integers(0, 3, (9, 9)) * (rng.random((9, 9)) < 0.3)
        parts.append(KeyedConfusion.from_dense(d))
    total = sum((p.to_dense() for p in parts), np.zeros((9, 9), np.int64))
    one = merge_keyed(parts)
    assert np.array_equal(one.to_dense(), total)
    grouped = merge_keyed([merge_keyed(parts[4:]), merge_keyed(parts[:2]), merge_keyed(parts[2:4])])
    assert grouped == one and grouped.keys.dtype == np.int64 and grouped.counts.dtype == np.int64
    assert merge_keyed([], 9).nnz == 0 and (parts[0] + KeyedConfusion.empty(9)) == parts[0]
    with pytest.raises(ValueError, match="different numbers of classes"):
        merge_keyed([parts[0], KeyedConfusion.empty(8)])


def test_keyed_bad_values_weighted_counts_and_checks():
    g = np.zeros((100, 100), np.uint16)
    p = np.zeros((100, 100), np.uint16)
    p[:, :50] = 70000 % 65536  # 4464, outside 0..2999: 5000 px in long runs (run-length path)
    with pytest.raises(ValueError, match=r"pred has values outside 0..2999 \(ignore 65535\): 4464 \(5000 px\)"):
        keyed_confusion(g, p, 3000, 65535)
    g[0, :3] = 3001
    with pytest.raises(ValueError, match=r"gt has values outside.*3001 \(3 px\)"):
        keyed_confusion(g, np.zeros_like(g), 3000, 65535)
    with pytest.raises(ValueError, match="also a class id"):
        keyed_confusion(g, p, 3000, 255)
    with pytest.raises(ValueError, match="shapes differ"):
        keyed_confusion(g, p[:2], 3000, 65535)
    with pytest.raises(ValueError, match="1..65535"):
        keyed_confusion(g, p, 65536, 70000)
    e, v = keyed_confusion(np.zeros((0, 3), np.uint16), np.zeros((0, 3), np.uint16), BIG, 65535)
    assert e.nnz == 0 and v.shape == (BIG,) and v.sum() == 0


# ------------------------------------------------------------------ metric: keyed == dense, bit for bit
def _random_maps(rng, C, n, shape=(24, 40), ig=255, void=None):
    out = []
    for _ in range(n):
        g = np.repeat(rng.integers(0, C - 3, (shape[0], shape[1] // 4)), 4, 1)  # last 3 classes absent in GT
        p = np.where(rng.random(shape) < 0.7, g, rng.integers(0, C - 1, shape))   # class C-1 never anywhere
        g[rng.random(shape) < 0.05] = ig
        p[rng.random(shape) < 0.05] = ig
        if void is not None:
            p[rng.random(shape) < 0.03] = void
        out.append((g.astype(np.uint8), p.astype(np.uint8)))
    return out


def test_forced_keyed_path_equals_dense_bit_for_bit(monkeypatch):
    C = 40
    ls = LabelSpace.from_names([f"c{i}" for i in range(C)])
    dense = MeanIoU(ls)
    assert not dense.keyed
    monkeypatch.setattr(S, "SPARSE_MATRIX_BYTES", 1000)  # 40² × 8 = 12800 > 1000: auto -> keyed
    keyed = MeanIoU(ls)
    assert keyed.keyed and isinstance(keyed.confusion, KeyedConfusion)
    monkeypatch.setattr(MS, "_KEYED_FLUSH_CELLS", 50)      # exercise the pending-cells flush too
    for i, (g, p) in enumerate(_random_maps(np.random.default_rng(3), C, 9)):
        dense.update(SemanticPrediction(p), _sample(str(i), g))
        keyed.update(SemanticPrediction(p), _sample(str(i), g))
    a = dense.compute()
    assert np.array_equal(keyed.confusion.to_dense(), dense.confusion)
    assert a.to_dict() == keyed.compute().to_dict()   # values, per class, per sample, artifacts
    monkeypatch.setattr(MS, "CONFUSION_ARTIFACT_MAX_CLASSES", 30)   # artifact: top pairs instead of matrix
    b = keyed.compute()
    assert a.to_dict()["values"] == b.to_dict()["values"]
    assert a.to_dict()["per_class"] == b.to_dict()["per_class"]
    assert all(math.isnan(a.per_class[f"c{C - 1}"][k]) for k in ("IoU", "Dice", "Acc", "precision"))
    assert a.per_class[f"c{C - 2}"]["IoU"] == 0.0   # predicted, never in GT: counts as 0
    # artifacts: the keyed run lists the most confused pairs, consistent with the dense matrix
    cm = np.array(a.artifacts["confusion_matrix"])
    off = cm.copy()
    np.fill_diagonal(off, 0)
    top = b.artifacts["confusion_top_pairs"]
    assert len(top) == MS.CONFUSION_TOP_PAIRS and "confusion_matrix" not in b.artifacts
    assert [n for _, _, n in top] == sorted(off.ravel(), reverse=True)[:len(top)]
    assert all(cm[int(gn[1:]), int(pn[1:])] == n for gn, pn, n in top)
    assert b.artifacts["confusion_nnz"] == int((cm > 0).sum())
    assert b.artifacts["void_total"] == sum(a.artifacts["void"])
    assert "not stored" in b.artifacts["confusion_note"]


def test_keyed_cityscapes_like_categories_and_iiou_equal_dense():
    rows = [ClassSpec("road", 7, 0, "flat"), ClassSpec("person", 24, 1, "human", True),
            ClassSpec("car", 26, 2, "vehicle", True), ClassSpec("caravan", 29, 255, "vehicle", True, True),
            ClassSpec("unlabeled", 0, 255, "void", False, True)]
    ls = LabelSpace(rows)
    opts = {"instance_avg_size": {"person": 3462.47, "car": 12794.02}, "void_categories": {"253": "vehicle"}}
    dense, keyed = MeanIoU(ls, **opts), MeanIoU(ls, confusion_storage="keyed", **opts)
    rng = np.random.default_rng(4)
    for i in range(6):
        gt = rng.choice(np.array([0, 1, 2, 255], np.uint8), (20, 30))
        pr = rng.choice(np.array([0, 1, 2, 255, 253], np.uint8), (20, 30))
        inst = np.where(gt == 1, 24000 + rng.integers(0, 3, gt.shape),
                        np.where(gt == 2, 26000 + rng.integers(0, 2, gt.shape), 7))
        dense.update(SemanticPrediction(pr), _sample(str(i), gt, inst))
        keyed.update(SemanticPrediction(pr), _sample(str(i), gt, inst))
    a, b = dense.compute().to_dict(), keyed.compute().to_dict()
    assert "iIoU" in a["values"] and "mIoU_category" in a["values"]
    assert a["values"] == b["values"] and a["per_class"] == b["per_class"] and a["per_sample"] == b["per_sample"]
    assert a["artifacts"]["categories"] == b["artifacts"]["categories"]


def test_native_lut_inputs_keyed_equals_dense():
    from segbench.datasets.cityscapes import AVG_CLASS_SIZE, cityscapes_label_space
    from segbench.io.labels import NativeSemanticMask, NativeSemanticPrediction, checked_lut
    ls = cityscapes_label_space()
    lut = checked_lut(ls.id_to_train_lut(256), range(34))
    rng = np.random.default_rng(8)
    a = MeanIoU(ls, instance_avg_size=AVG_CLASS_SIZE)
    b = MeanIoU(ls, instance_avg_size=AVG_CLASS_SIZE, confusion_storage="keyed")
    for i in range(3):
        g = rng.integers(0, 34, (60, 80)).astype(np.uint8)
        g[:, :40] = 26
        p = np.where(rng.random(g.shape) < 0.7, g, rng.integers(0, 34, g.shape)).astype(np.uint8)
        inst = np.where(g == 26, 26000 + rng.integers(0, 3, g.shape), g).astype(np.uint16)
        for m in (a, b):
            m.update(NativeSemanticPrediction(p, lut), Sample(str(i), None, NativeSemanticMask(g, lut, inst)))
    da, db = a.compute().to_dict(), b.compute().to_dict()
    assert da["values"] == db["values"] and da["per_class"] == db["per_class"]
    bad = np.full((60, 80), 40, np.uint8)   # label id 40 is not in the table
    with pytest.raises(BadInputError, match="sample z"):
        b.update(NativeSemanticPrediction(bad, lut), Sample("z", None, NativeSemanticMask(g, lut, None)))


# ------------------------------------------------------------------ 65535 classes
def _scattered_pairs(seed, n, shape=(64, 128)):
    """Label maps of 65535 classes using scattered ids, many of them near the top of the range."""
    rng = np.random.default_rng(seed)
    ids = np.unique(np.concatenate([rng.choice(BIG, 60, replace=False), [0, 1, 65533, 65534, 40000, 40001]]))
    out = []
    for _ in range(n):
        cells = rng.choice(ids, (shape[0] // 8, shape[1] // 8))
        g = np.repeat(np.repeat(cells, 8, 0), 8, 1).astype(np.uint16)
        p = np.where(rng.random(shape) < 0.75, g, rng.choice(ids, shape)).astype(np.uint16)
        g[rng.random(shape) < 0.03] = 65535     # ignore
        p[rng.random(shape) < 0.03] = 65535     # void
        out.append((g, p))
    return out, ids


def _compact_reference(pairs, ids):
    """Independent reference: remap the used ids to 0..K-1 (monotone) and use the dense path."""
    K = ids.size
    lut = np.full(65536, 65535, np.int64)
    lut[ids] = np.arange(K)
    cm = np.zeros((K, K), np.int64)
    void = np.zeros(K, np.int64)
    for g, p in pairs:
        c, v = confusion_matrix(lut[g], lut[p], K, 65535, return_void=True)
        cm += c
        void += v
    return cm, void


def test_65535_classes_scattered_high_ids():
    pairs, ids = _scattered_pairs(5, 5)
    ls = LabelSpace.from_num_classes(BIG, ignore_index=65535)
    m = MeanIoU(ls)
    assert m.keyed
    for i, (g, p) in enumerate(pairs):
        m.update(SemanticPrediction(p), _sample(str(i), g))
    r = m.compute()
    cm_ref, void_ref = _compact_reference(pairs, ids)
    ref = scores_from_confusion(cm_ref, void_ref)
    # the keyed counts are exactly the compact matrix at the scattered ids
    kc = m.confusion
    r_, c_ = kc.rows_cols()
    pos = np.searchsorted(ids, np.stack([r_, c_]))
    assert np.array_equal(ids[pos[0]], r_) and np.array_equal(ids[pos[1]], c_)
    assert np.array_equal(cm_ref[pos[0], pos[1]], kc.counts) and kc.counts.sum() == cm_ref.sum()
    # summary values bit for bit (same non-NaN values, same order); absent classes NaN
    for k in ("mIoU", "mAcc", "aAcc", "fwIoU", "mDice"):
        assert r.values[k] == ref[k], k
    for j, cid in enumerate(ids):
        pc = r.per_class[f"class_{cid}"]
        for k in ("IoU", "Acc", "Dice", "precision", "recall"):
            assert _same(pc[k], ref[k][j])
    absent = sorted(set(range(BIG)) - set(ids.tolist()))[:3]
    assert all(math.isnan(r.per_class[f"class_{c}"]["IoU"]) for c in absent)
    assert r.per_class["class_65534"]["IoU"] > 0
    # the result stays small and JSON-able: no 65535² matrix anywhere
    d = r.to_dict()
    assert "confusion_matrix" not in d["artifacts"] and len(d["artifacts"]["confusion_top_pairs"]) == 100
    json.dumps(d)
    state = m.state_dict()
    assert state["confusion_keys"].nbytes < 1 << 20


def test_65535_classes_shard_merge_bit_for_bit():
    pairs, _ = _scattered_pairs(6, 6, (32, 64))
    ls = LabelSpace.from_num_classes(BIG, ignore_index=65535)
    proto = MeanIoU(ls)
    one = proto.fresh()
    for i, (g, p) in enumerate(pairs):
        one.update(SemanticPrediction(p), _sample(str(i), g))
    ref = one.compute().to_dict()
    for n, split in enumerate(([[0, 1, 2, 3, 4, 5]], [[5, 0], [3], [1, 2, 4]], [[i] for i in (4, 2, 0, 5, 1, 3)])):
        merged = proto.fresh()
        for shard in split:
            s = proto.fresh()
            for i in shard:
                s.update(SemanticPrediction(pairs[i][1]), _sample(str(i), pairs[i][0]))
            st_ = s.state_dict()
            if n == 1:  # state through JSON plain lists (as a file would carry it)
                st_ = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in st_.items() if k != "void_codes"}
                st_ = json.loads(json.dumps(st_))
            merged.merge(MeanIoU.from_state(st_, ls))
        assert merged.confusion == one.confusion
        assert merged.compute().to_dict() == ref
        assert np.array_equal(merged.state_dict()["confusion_keys"], one.state_dict()["confusion_keys"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seeds=st.lists(st.integers(0, 2 ** 31), min_size=1, max_size=8), k=st.integers(1, 4), data=st.data())
def test_keyed_shards_property(seeds, k, data):
    ls = LabelSpace.from_num_classes(3000, ignore_index=65535)   # just above the dense limit
    proto = MeanIoU(ls)
    assert proto.keyed

    def pair(seed):
        rng = np.random.default_rng(seed)
        H, W = int(rng.integers(1, 12)), int(rng.integers(1, 12))
        vals = np.array([0, 7, 2999, 1500, 65535], np.uint16)
        return rng.choice(vals, (H, W)), rng.choice(vals, (H, W))

    pairs = [pair(s) for s in seeds]
    one = proto.fresh()
    for i, (g, p) in enumerate(pairs):
        one.update(SemanticPrediction(p), _sample(str(i), g))
    assign = data.draw(st.lists(st.integers(0, k - 1), min_size=len(pairs), max_size=len(pairs)))
    shards = [proto.fresh() for _ in range(k)]
    for i, ((g, p), a) in enumerate(zip(pairs, assign)):
        shards[a].update(SemanticPrediction(p), _sample(str(i), g))
    merged = proto.fresh()
    for j in data.draw(st.permutations(range(k))):
        merged += MeanIoU.from_state(shards[j].state_dict(), ls)
    assert merged.compute().to_dict() == one.compute().to_dict()
    assert merged.confusion == one.confusion


def test_dense_and_keyed_states_interconvert():
    ls = LabelSpace.from_names(["a", "b", "c"])
    d, k = MeanIoU(ls), MeanIoU(ls, confusion_storage="keyed")
    g = np.array([[0, 1, 2, 2]], np.uint8)
    p = np.array([[0, 2, 2, 255]], np.uint8)
    d.update(SemanticPrediction(p), _sample("x", g))
    k.update(SemanticPrediction(p), _sample("y", g))
    import pickle
    k_p = pickle.loads(pickle.dumps(k))                  # metric and state pickle
    assert k_p.confusion == k.confusion and k_p.compute().to_dict() == k.compute().to_dict()
    assert pickle.loads(pickle.dumps(k.state_dict()))["confusion_keys"].tolist() == k.confusion.keys.tolist()
    d2 = MeanIoU.from_state(k.state_dict(), ls)         # keyed state into a dense metric
    assert not d2.keyed and np.array_equal(d2.confusion, d.confusion)
    k.merge(d)                                           # dense into keyed
    d.merge(MeanIoU.from_state(k.state_dict(), ls, confusion_storage="keyed"))
    assert np.array_equal(k.confusion.to_dense(), np.array([[2, 0, 0], [0, 0, 2], [0, 0, 2]]))
    assert np.array_equal(d.confusion, np.array([[3, 0, 0], [0, 0, 3], [0, 0, 3]]))
    with pytest.raises(ValueError, match="confusion_storage"):
        MeanIoU(ls, confusion_storage="sparse")
    with pytest.raises(ValueError, match="different numbers"):
        k.merge(MeanIoU(LabelSpace.from_names(["a", "b"])))


def test_large_dense_run_stores_top_pairs_not_matrix(monkeypatch):
    monkeypatch.setattr(MS, "CONFUSION_ARTIFACT_MAX_CLASSES", 4)
    m = MeanIoU(LabelSpace.from_names(list("abcdef")))
    assert not m.keyed
    m.update(SemanticPrediction(np.array([[0, 1, 1, 5, 5, 5]], np.uint8)), _sample("s", np.array([[0, 0, 0, 4, 4, 5]])))
    art = m.compute().artifacts
    assert "confusion_matrix" not in art and art["confusion_top_pairs"] == [["a", "b", 2], ["e", "f", 2]]


def test_engine_65535_classes_workers_and_chunks_identical(tmp_path):
    """End to end through the engine: 16-bit label PNGs of a 65535-class table, 1 vs 2 workers and
    any chunking give the same record; the run never materialises a dense matrix."""
    from PIL import Image
    from segbench.datasets.styles import CityscapesStyle
    from segbench.engine import evaluate_run, evaluate_samples
    pairs, ids = _scattered_pairs(9, 5, (32, 48))
    (tmp_path / "gt").mkdir()
    (tmp_path / "pred").mkdir()
    for i, (g, p) in enumerate(pairs):
        Image.fromarray(g).save(tmp_path / "gt" / f"im{i}.png")
        Image.fromarray(p).save(tmp_path / "pred" / f"im{i}.png")
    ds = CityscapesStyle(tmp_path / "gt", num_classes=BIG)
    assert ds.label_space().ignore_index == 65535
    r1, _ = evaluate_run(ds, ds.predictions(tmp_path / "pred"), ds.build_metrics(None), workers=1)
    r2, _ = evaluate_run(ds, ds.predictions(tmp_path / "pred"), ds.build_metrics(None), workers=2)
    assert r1.metrics == r2.metrics
    for cs in (1, 2, 5):
        out = evaluate_samples(ds, ds.predictions(tmp_path / "pred"), ds.build_metrics(None), chunk_size=cs)
        assert out.results["miou@1"].to_dict() == r1.metrics["miou@1"]
    cm_ref, void_ref = _compact_reference(pairs, ids)
    assert r1.metrics["miou@1"]["values"]["mIoU"] == scores_from_confusion(cm_ref, void_ref)["mIoU"]

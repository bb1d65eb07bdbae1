"""BSDS boundary benchmark maths: thinning, exact matching (toy cases, brute force, the original C++),
per-image counts, ODS/OIS/AP/R50 as collect_eval_bdry.m, the fast mode, and the metric's state."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from segbench.errors import BadInputError
from segbench.io.mat import load_bsds_groundtruth
from segbench.metrics import get_metric
from segbench.metrics.functional import boundary as FB
from segbench.types import BoundaryMaps, BoundaryPrediction, Sample

DATA = Path(__file__).resolve().parent / "data" / "bsds500" / "BSDS500" / "data"


# ------------------------------------------------------------------------------------------ thinning
def test_thin_equals_skimage_on_random_maps():
    from skimage.morphology import thin as sk_thin
    rng = np.random.default_rng(1)
    for _ in range(150):
        h, w = rng.integers(1, 40, 2)
        a = rng.random((h, w)) < rng.random()
        np.testing.assert_array_equal(FB.thin(a), sk_thin(a))


def test_thin_luts_are_guo_hall_tables_of_skimage():
    from skimage.morphology import _skeletonize as sk
    np.testing.assert_array_equal(FB.G123_LUT, sk.G123_LUT)
    np.testing.assert_array_equal(FB.G123P_LUT, sk.G123P_LUT)


def test_thin_thick_bar_to_line_and_empty():
    a = np.zeros((20, 30), bool)
    a[8:13, 3:27] = True
    t = FB.thin(a)
    assert t.sum() < 30 and (t.sum(axis=0)[5:25] == 1).all()
    assert not FB.thin(np.zeros((5, 5), bool)).any()


# ------------------------------------------------------------------------------------------ matching
def _brute_force(p_pts, g_pts, radius, ow):
    """min over all one-to-one matchings of sum(rint(100 d)) - ow * |M| (the correspondPixels objective
    up to a constant), and the best cardinality."""
    best = (np.inf, 0)
    n1 = len(p_pts)

    def rec(i, used, cost, m):
        nonlocal best
        if i == n1:
            val = cost - ow * m
            if val < best[0] - 1e-9:
                best = (val, m)
            return
        rec(i + 1, used, cost, m)
        for j, g in enumerate(g_pts):
            if j in used:
                continue
            d = np.hypot(p_pts[i][0] - g[0], p_pts[i][1] - g[1])
            if d <= radius:
                rec(i + 1, used | {j}, cost + int(np.rint(d * 100)), m + 1)

    rec(0, frozenset(), 0, 0)
    return best


def _objective(bmap1, bmap2, m1, radius, ow):
    ys, xs = np.nonzero(m1)
    h = bmap1.shape[0]
    cost = 0
    for y, x in zip(ys, xs):
        k = int(m1[y, x]) - 1
        gx, gy = divmod(k, h)
        d = np.hypot(y - gy, x - gx)
        assert d <= radius + 1e-9 and bmap2[gy, gx]
        cost += int(np.rint(d * 100))
    return cost - ow * len(ys), len(ys)


def test_exact_matching_equals_brute_force_on_random_cases():
    rng = np.random.default_rng(7)
    shape = (24, 30)
    max_dist = 0.06  # 2.3 px on this image
    radius = FB.max_dist_pixels(shape, max_dist)
    ow = int(np.ceil(FB.OUTLIER_COST * radius * FB.MULTIPLIER))
    checked = 0
    for trial in range(120):
        n1, n2 = rng.integers(1, 7, 2)
        cy, cx = rng.integers(4, 18), rng.integers(4, 24)
        a = np.zeros(shape, bool)
        b = np.zeros(shape, bool)
        a[rng.integers(cy - 3, cy + 4, n1), rng.integers(cx - 3, cx + 4, n1)] = True
        b[rng.integers(cy - 3, cy + 4, n2), rng.integers(cx - 3, cx + 4, n2)] = True
        m1, m2, _ = FB.correspond_pixels(a, b, max_dist=max_dist)
        # one-to-one and mutual
        assert (m1 > 0).sum() == (m2 > 0).sum()
        assert len(set(m1[m1 > 0].tolist())) == (m1 > 0).sum()
        got = _objective(a, b, m1, radius, ow)
        want = _brute_force(list(zip(*np.nonzero(a))), list(zip(*np.nonzero(b))), radius, ow)
        assert got[0] == want[0], (trial, got, want)
        assert got[1] == want[1]
        checked += 1
    assert checked == 120


def test_toy_match_prefers_cardinality_over_greedy():
    # p1 sits on g1 (d=0) and is 1 px from g2; p2 is 1 px from g1 only: the optimum matches both
    a = np.zeros((200, 200), bool)
    b = np.zeros((200, 200), bool)
    a[100, 100] = True  # p1
    a[100, 99] = True   # p2
    b[100, 100] = True  # g1
    b[100, 101] = True  # g2
    m1, m2, cost = FB.correspond_pixels(a, b)
    assert (m1 > 0).sum() == 2 and (m2 > 0).sum() == 2
    # partners (MATLAB column-major 1-based index): p2 -> g1, p1 -> g2, or the equal-cost optimum
    # p1 -> g1 (d=0), p2 -> g2 (d=2 <= maxDist 2.12); which of the two is a solver tie-break
    g1, g2 = 100 * 200 + 100 + 1, 101 * 200 + 100 + 1
    assert (m1[100, 99], m1[100, 100]) in ((g1, g2), (g2, g1))
    assert cost == pytest.approx(2.0)  # two pairs at distance 1: 2 * (0.5 + 0.5)


def test_toy_match_takes_the_nearest_and_respects_tolerance():
    a = np.zeros((200, 300), bool)
    b = np.zeros((200, 300), bool)
    md = FB.max_dist_pixels(a.shape)  # 2.70 px
    b[50, 50] = True
    a[50, 52] = True   # d = 2
    a[51, 50] = True   # d = 1 -> matched
    a[50, 150] = True  # far away: unmatched
    b[150, 150] = True  # far away: unmatched
    a[150, 153] = True  # d = 3 > 2.70: not matchable
    assert 2.5 < md < 3
    m1, m2, _ = FB.correspond_pixels(a, b)
    assert m1[51, 50] > 0 and m1[50, 52] == 0 and m1[50, 150] == 0 and m1[150, 153] == 0
    assert (m2 > 0).sum() == 1


def test_parity_with_the_original_correspond_pixels():
    """The Berkeley C++ (CSA, random sparse outlier graph) through pyEdgeEval: our exact optimum is never
    worse, and the matched counts differ by at most a few pixels per map."""
    ref = pytest.importorskip("pyEdgeEval._lib").correspond_pixels
    gt, _ = load_bsds_groundtruth(DATA / "groundTruth" / "test" / "100007.mat")
    from skimage import color, filters, io
    img = io.imread(DATA / "images" / "test" / "100007.jpg")
    sob = filters.sobel(color.rgb2gray(img))
    sob /= sob.max()
    for t in (0.15, 0.4):
        bm = FB.thin(sob >= t)
        for k in (0, 3):
            r1, r2, rcost, _ = ref(bm.astype(float), gt[k].astype(float), 0.0075, 100.0)
            o1, o2, ocost = FB.correspond_pixels(bm, gt[k])
            # float costs can differ by rounding ties of rint(100 d) (< 0.005 per matched pair)
            assert ocost <= rcost + 0.005 * int((o1 > 0).sum()) + 1e-6
            assert abs(int((o2 > 0).sum()) - int((r2 > 0).sum())) <= 3
            assert abs(int((o1 > 0).sum()) - int((r1 > 0).sum())) <= 3


# ------------------------------------------------------------------------------------------ per image
def _line_case():
    gt = np.zeros((2, 200, 300), bool)
    gt[0, 100, 10:110] = True            # annotator 1: 100 px
    gt[1, 100, 10:60] = True             # annotator 2: 50 px
    pb = np.zeros((200, 300))
    pb[101, 10:110] = 0.6                # 100 px, 1 px off annotator 1
    pb[150, 200:220] = 0.9               # 20 px false positives
    return pb, gt


def test_counts_hand_computed():
    pb, gt = _line_case()
    c = FB.evaluate_boundary_image(pb, gt, nthresh=3)  # thresholds .25 .5 .75
    assert c.thresholds.tolist() == [0.25, 0.5, 0.75]
    assert c.sumR.tolist() == [150, 150, 150]
    assert c.cntR.tolist() == [150, 150, 0]      # all GT pixels matched while the line is on
    assert c.sumP.tolist() == [120, 120, 20]
    assert c.cntP.tolist() == [100, 100, 0]      # accP is an OR over annotators
    f = FB.evaluate_boundary_image(pb, gt, nthresh=3, mode="fast")
    assert f.cntR.tolist() == c.cntR.tolist() and f.cntP.tolist() == c.cntP.tolist()


def test_annotator_without_boundaries_adds_nothing():
    pb, gt = _line_case()
    gt3 = np.concatenate([gt, np.zeros((1,) + gt.shape[1:], bool)])
    a = FB.evaluate_boundary_image(pb, gt, nthresh=3)
    b = FB.evaluate_boundary_image(pb, gt3, nthresh=3)
    for k in ("cntR", "sumR", "cntP", "sumP"):
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k))
    z = FB.evaluate_boundary_image(pb, np.zeros((1, 200, 300), bool), nthresh=3)
    assert z.sumR.tolist() == [0, 0, 0] and z.cntP.tolist() == [0, 0, 0]


def test_fast_mode_is_an_upper_bound_on_real_data():
    gt, _ = load_bsds_groundtruth(DATA / "groundTruth" / "test" / "101027.mat")
    rng = np.random.default_rng(0)
    from scipy import ndimage as ndi
    pb = ndi.gaussian_filter(gt.mean(0), 1.0)
    pb = np.clip(pb / pb.max() + 0.2 * rng.random(pb.shape) * (rng.random(pb.shape) < 0.01), 0, 1)
    thr = [0.1, 0.3, 0.6]
    e = FB.evaluate_boundary_image(pb, gt, thresholds=thr)
    f = FB.evaluate_boundary_image(pb, gt, thresholds=thr, mode="fast")
    assert (f.cntR >= e.cntR).all() and (f.cntP >= e.cntP).all()
    np.testing.assert_array_equal(f.sumP, e.sumP)
    assert (f.cntR - e.cntR).sum() > 0  # the one-to-one constraint matters on thick maps


# ------------------------------------------------------------------------------------------ summaries
def test_bsds_thresholds():
    t = FB.bsds_thresholds(99)
    assert t.size == 99 and t[0] == pytest.approx(0.01) and t[-1] == pytest.approx(0.99)
    assert FB.bsds_thresholds(1).tolist() == [0.5]


def test_best_f_interpolates_between_thresholds():
    # F is maximal between the two thresholds: R and P cross
    t = [0.25, 0.75]
    R = [1.0, 0.0]
    P = [0.0, 1.0]
    bt, br, bp, bf = FB.best_f_interp(t, R, P)
    # on the segment r = 1 - d, p = d; F = 2 d (1 - d) is max at d = 0.5 (d on linspace(0,1,100) -> 0.4949/0.5051)
    d = np.linspace(0, 1, 100)
    assert bf == pytest.approx(np.max(2 * d * (1 - d)))
    assert bt == pytest.approx(0.25 + 0.5 * d[np.argmax(2 * d * (1 - d))])


def test_ap_hand_computed():
    # R = 1, .5, 0 with P = .5, .75, 1: linear P(R) = 1 - R/2, sampled at 0:0.01:1 and times 0.01
    ap = FB.average_precision_bsds([1.0, 0.5, 0.0], [0.5, 0.75, 1.0])
    assert ap == pytest.approx(sum(1 - r / 2 for r in np.arange(101) * 0.01) * 0.01)
    assert FB.average_precision_bsds([0.3, 0.3], [0.5, 0.6]) == 0.0
    # only recall 0.2..0.8 covered: points outside count as 0 (NaN -> 0)
    ap2 = FB.average_precision_bsds([0.8, 0.2], [0.5, 0.5])
    assert ap2 == pytest.approx(0.5 * 61 * 0.01)


def test_ap_unique_occurrence():
    R = [0.5, 0.5, 0.0]
    P = [0.2, 0.8, 1.0]
    first = FB.average_precision_bsds(R, P, "first")
    last = FB.average_precision_bsds(R, P, "last")
    assert first == pytest.approx(sum(1.0 - 0.8 * r / 0.5 for r in np.arange(51) * 0.01) * 0.01)
    assert last == pytest.approx(sum(1.0 - 0.2 * r / 0.5 for r in np.arange(51) * 0.01) * 0.01)


def test_r50():
    assert FB.recall_at_precision([1.0, 0.5, 0.0], [0.25, 0.75, 1.0]) == pytest.approx(0.75)
    # precision never below 0.5: the recall at the lowest precision
    assert FB.recall_at_precision([0.9, 0.5, 0.1], [0.6, 0.8, 0.9]) == pytest.approx(0.9)


def test_summary_ods_ois_from_counts():
    t = FB.bsds_thresholds(3)
    a = (np.array([8, 5, 1]), np.array([10, 10, 10]), np.array([4, 5, 1]), np.array([10, 6, 1]))
    b = (np.array([4, 3, 0]), np.array([4, 4, 4]), np.array([4, 3, 0]), np.array([8, 3, 0]))
    tot = [x + y for x, y in zip(a, b)]
    s = FB.boundary_pr_summary(t, *tot, per_image=[a, b])
    Fa = FB.fmeasure(a[0] / a[1], a[2] / np.maximum(a[3], 1))
    Fb = FB.fmeasure(b[0] / b[1], b[2] / np.maximum(b[3], 1))
    ka, kb = int(np.flatnonzero(Fa == Fa.max())[-1]), int(np.flatnonzero(Fb == Fb.max())[-1])
    r = (a[0][ka] + b[0][kb]) / (a[1][ka] + b[1][kb])
    p = (a[2][ka] + b[2][kb]) / (a[3][ka] + b[3][kb])
    assert s["OIS"] == pytest.approx(2 * p * r / (p + r))
    R = tot[0] / tot[1]
    P = tot[2] / np.maximum(tot[3], 1)
    assert s["ODS"] >= FB.fmeasure(R, P).max() - 1e-12
    assert s["ODS"] == pytest.approx(FB.best_f_interp(t, R, P)[3])


# ------------------------------------------------------------------------------------------ metric
def _samples(n=3, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        gt = np.zeros((2, 80, 120), bool)
        r = int(rng.integers(20, 60))
        gt[0, r, 10:110] = True
        gt[1, r + 1, 10:100] = True
        pb = np.zeros((80, 120))
        pb[r + int(rng.integers(-1, 2)), 10:110] = rng.random(100)
        pb[rng.integers(0, 80, 30), rng.integers(0, 120, 30)] = rng.random(30)
        out.append((BoundaryPrediction(pb), Sample(f"im{i}", None, BoundaryMaps(gt))))
    return out


def test_metric_merge_equals_one_pass_and_state_roundtrip():
    pairs = _samples(4)
    one = get_metric("bsds_boundary", nthresh=9)
    for p, s in pairs:
        one.update(p, s)
    a = get_metric("bsds_boundary", nthresh=9)
    b = get_metric("bsds_boundary", nthresh=9)
    for p, s in pairs[:2]:
        a.update(p, s)
    for p, s in pairs[2:]:
        b.update(p, s)
    a.merge(type(b).from_state(b.state_dict(), None, **b.options))
    r1, r2 = one.compute(), a.compute()
    assert r1.values == r2.values
    assert r1.artifacts["cntR"] == r2.artifacts["cntR"]
    assert set(r1.values) == {"ODS", "OIS", "AP_boundary", "R50"}
    assert len(r1.artifacts["F"]) == 9 and set(r1.per_sample) == {"im0", "im1", "im2", "im3"}
    assert all(0 <= v <= 1 for v in r1.values.values())


def test_metric_bad_inputs():
    (p, s), = _samples(1)
    m = get_metric("bsds_boundary", nthresh=3)
    with pytest.raises(BadInputError, match="shape"):
        m.update(BoundaryPrediction(np.zeros((81, 120))), s)
    nan = p.prob.copy()
    nan[3, 4] = np.nan
    with pytest.raises(BadInputError, match="NaN"):
        m.update(BoundaryPrediction(nan), s)
    with pytest.raises(BadInputError, match="0..1"):
        m.update(BoundaryPrediction(p.prob * 255), s)
    with pytest.raises(ValueError):
        get_metric("bsds_boundary", mode="approximate")


def test_count_parity_with_pyedgeeval_on_a_real_image():
    """Per-threshold counts against pyEdgeEval (the Berkeley C++ matching + its own thinning) on a real
    BSDS image and the Canny baseline: sums identical, matched counts within a few pixels."""
    pe = pytest.importorskip("pyEdgeEval.common.binary_label.evaluate_boundaries")
    from segbench.datasets.bsds500 import BSDS500
    from segbench.models import get_model
    ds = BSDS500(DATA.parent)
    s = ds.load("101027")
    pb = get_model("skimage-canny").load().bind(ds).predict(s).prob
    thr = FB.bsds_thresholds(3)
    ref = pe.evaluate_boundaries_threshold_multiple_gts(thr, pb, [g.astype(float) for g in s.target.boundaries],
                                                        0.0075, True)
    ours = FB.evaluate_boundary_image(pb, s.target.boundaries, thresholds=thr)
    cr, sr, cp, sp = (np.asarray(x).astype(np.int64) for x in ref[:4])
    np.testing.assert_array_equal(ours.sumR, sr)
    np.testing.assert_array_equal(ours.sumP, sp)  # same thinning
    assert np.abs(ours.cntR - cr).max() <= 5 and np.abs(ours.cntP - cp).max() <= 5
    assert (ours.cntR >= cr - 1).all()


def test_segs_hierarchy_as_boundary_input():
    """The bench's `segs` input: each level's seg2bdry boundaries (thinned), thresholds 1..n."""
    from segbench.types import HierarchyPrediction
    b, s = load_bsds_groundtruth(DATA / "groundTruth" / "test" / "103006.mat")
    sample = Sample("103006", None, BoundaryMaps(b[:1], s[:1]))
    m = get_metric("bsds_boundary", nthresh=2)
    m.update(HierarchyPrediction([s[0], np.ones_like(s[0])]), sample)
    art = m.compute().artifacts
    # level 1 reproduces the annotator's own boundaries (up to the border columns), level 2 has none
    assert art["R"][0] > 0.99 and art["P"][0] > 0.99 and art["sumP"][1] == 0
    with pytest.raises(BadInputError, match="nthresh"):
        get_metric("bsds_boundary", nthresh=3).update(HierarchyPrediction([s[0]]), sample)

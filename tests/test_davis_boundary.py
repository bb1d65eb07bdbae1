"""DAVIS boundary F (segbench.metrics.functional.davis_boundary) against the reference code."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from segbench.metrics.functional import davis_boundary as db

cv2 = pytest.importorskip("cv2")
vos_utils = pytest.importorskip("vos_benchmark.utils")
from skimage.morphology import disk  # noqa: E402

from test_davis_reference import f_measure as ref_f_measure  # noqa: E402

DATA = Path(__file__).resolve().parent / "data" / "davis"


def _random_masks(rng, n):
    for t in range(n):
        h, w = int(rng.integers(1, 90)), int(rng.integers(1, 90))
        a = rng.random((h, w)) < rng.random()
        b = rng.random((h, w)) < rng.random()
        if t % 3 == 0:
            a = ndimage.binary_opening(a)
            b = ndimage.binary_closing(b)
        if t % 7 == 0:
            b = np.zeros_like(b)
        if t % 11 == 0:
            a = np.zeros_like(a)
        yield a, b


def test_seg2bmap_equals_reference():
    rng = np.random.default_rng(1)
    for a, b in _random_masks(rng, 150):
        np.testing.assert_array_equal(db.seg2bmap(a), vos_utils._seg2bmap(a.copy()))
        lab = (a.astype(np.uint8) + 2 * b.astype(np.uint8))
        np.testing.assert_array_equal(db.seg2bmap(lab), vos_utils._seg2bmap(lab.copy()))


def test_seg2bmap_resized_like_reference():
    rng = np.random.default_rng(2)
    m = ndimage.binary_opening(rng.random((20, 30)) < 0.5)
    for (w, h) in [(30, 20), (15, 10), (60, 40)]:
        try:
            ref = vos_utils._seg2bmap(m.copy(), w, h)
        except IndexError:
            with pytest.raises(ValueError):
                db.seg2bmap(m, w, h)
            continue
        np.testing.assert_array_equal(db.seg2bmap(m, w, h), ref.astype(bool))


def test_disk_and_dilation_equal_skimage_cv2():
    rng = np.random.default_rng(3)
    for r in [0, 1, 2, 2.5, 3, 7, 8, 8.0, 12, 70]:
        np.testing.assert_array_equal(db.disk_footprint(r), disk(r).astype(bool))
        for _ in range(4):
            h, w = int(rng.integers(1, 140)), int(rng.integers(1, 140))
            b = rng.random((h, w)) < 0.02
            ref = cv2.dilate(b.astype(np.uint8), disk(r).astype(np.uint8)).astype(bool)
            np.testing.assert_array_equal(db.dilate_disk(b, r), ref, err_msg=f"r={r} {h}x{w}")


def test_pack_roundtrip():
    rng = np.random.default_rng(4)
    for w in [1, 63, 64, 65, 130, 854]:
        b = rng.random((5, w)) < 0.3
        np.testing.assert_array_equal(db.unpack_rows(db.pack_rows(b), w), b)


@pytest.mark.parametrize("bound_th", [0.008, 0.05, 0.2, 1, 2, 2.5, 3, 70])
def test_boundary_f_equals_official_f_measure(bound_th):
    rng = np.random.default_rng(5)
    for a, b in _random_masks(rng, 80):
        assert db.boundary_f(a, b, bound_th) == ref_f_measure(a, b, bound_th=bound_th)
        assert db.f_measure(a, b, bound_th=bound_th) == ref_f_measure(a, b, bound_th=bound_th)


def test_boundary_f_with_void_equals_official():
    rng = np.random.default_rng(6)
    for a, b in _random_masks(rng, 60):
        void = rng.random(a.shape) < 0.1
        assert db.boundary_f(a, b, 0.008, void) == ref_f_measure(a, b, void, bound_th=0.008)


def test_counts_are_integer_and_consistent():
    rng = np.random.default_rng(7)
    for a, b in _random_masks(rng, 40):
        c = db.boundary_counts(a, b, 0.05)
        assert all(isinstance(x, int) for x in c)
        assert 0 <= c.fg_match <= c.n_fg and 0 <= c.gt_match <= c.n_gt
        assert c.n_fg == int(vos_utils._seg2bmap(a.copy()).sum())
        p, r, f = db.boundary_prf(a, b, 0.05)
        assert (p, r, f) == db.f_from_counts(*c)
        assert f == ref_f_measure(a, b, bound_th=0.05)


def test_crop_invariance_with_explicit_radius():
    """Counts of a small pair equal those of the same pair embedded in a large frame (same radius)."""
    rng = np.random.default_rng(8)
    for a, b in _random_masks(rng, 30):
        big_a = np.zeros((200, 260), bool)
        big_b = np.zeros_like(big_a)
        big_a[50:50 + a.shape[0], 70:70 + a.shape[1]] = a
        big_b[50:50 + b.shape[0], 70:70 + b.shape[1]] = b
        small = np.zeros((a.shape[0] + 2, a.shape[1] + 2), bool)
        sb = small.copy()
        small[1:-1, 1:-1] = a
        sb[1:-1, 1:-1] = b
        assert db.boundary_counts(big_a, big_b, radius=3) == db.boundary_counts(small, sb, radius=3)


def test_known_values():
    gt = np.zeros((480, 854), bool)
    gt[100:200, 100:300] = True
    assert db.boundary_f(gt, gt) == 1.0
    assert db.boundary_f(np.zeros_like(gt), gt) == 0.0
    assert db.boundary_f(gt, np.zeros_like(gt)) == 0.0
    assert db.boundary_f(np.zeros_like(gt), np.zeros_like(gt)) == 1.0
    far = np.zeros_like(gt)
    far[300:400, 500:700] = True
    assert db.boundary_f(far, gt) == 0.0
    assert db.bound_pix((480, 854)) == 8.0
    shifted = np.roll(gt, 8, axis=0)   # within the 8-px tolerance: every boundary pixel matches
    assert db.boundary_f(shifted, gt) == 1.0
    shifted = np.roll(gt, 9, axis=0)   # horizontal edges 9 px away no longer match
    assert db.boundary_f(shifted, gt) < 1.0


@pytest.mark.skipif(not (DATA / "DAVIS").exists(), reason="tests/data/davis missing")
def test_real_davis_frames_equal_reference():
    ann = DATA / "DAVIS" / "Annotations" / "480p" / "dog"
    res = DATA / "results" / "semi-supervised" / "osvos" / "dog"
    for f in sorted(ann.glob("*.png"))[::6]:
        gt = np.array(Image.open(f)) > 0
        pr = np.array(Image.open(res / f.name)) == 1
        assert db.boundary_f(pr, gt) == ref_f_measure(pr, gt)


def test_property_boundary_counts_match_reference_maps():
    """Hypothesis: counts equal those of the reference boundary maps and cv2 dilations, any mask pair."""
    hyp = pytest.importorskip("hypothesis")
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from hypothesis.extra.numpy import arrays

    @settings(max_examples=60, deadline=None, derandomize=True)
    @given(st.integers(1, 40), st.integers(1, 40), st.data(), st.sampled_from([0.008, 0.1, 1, 3]))
    def check(h, w, data, th):
        a = data.draw(arrays(bool, (h, w)))
        b = data.draw(arrays(bool, (h, w)))
        r = db.bound_pix((h, w), th)
        fa, fb = vos_utils._seg2bmap(a.copy()), vos_utils._seg2bmap(b.copy())
        k = disk(r).astype(np.uint8)
        da = cv2.dilate(fa.astype(np.uint8), k).astype(bool)
        dbm = cv2.dilate(fb.astype(np.uint8), k).astype(bool)
        c = db.boundary_counts(a, b, th)
        exp = (int((fa & dbm).sum()), int(fa.sum()), int((fb & da).sum()), int(fb.sum()))
        if exp[1] == 0 or exp[3] == 0:
            exp = (0, exp[1], 0, exp[3])
        assert tuple(c) == exp

    assert hyp is not None
    check()

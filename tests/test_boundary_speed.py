"""The fast paths of the BSDS boundary benchmark give the same numbers as the plain definitions:
the per-image loop (cached candidate pairs, skipped repeated maps, square assignment problem) equals
thinning + ``correspond_pixels`` per threshold and annotator; the square formulation reaches the same
optimum (matched count and cost) as an independent dense solver; fast mode equals its distance-transform
definition."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi
from scipy.optimize import linear_sum_assignment

from segbench.metrics.functional import boundary as FB


def _random_case(rng, shape=(60, 80), annotators=3, empty_annotator=False):
    h, w = shape
    gts = np.zeros((annotators, h, w), bool)
    for k in range(annotators):
        for _ in range(int(rng.integers(2, 5))):  # a few jittered lines per annotator
            if rng.random() < 0.5:
                y = int(rng.integers(2, h - 2))
                x0, x1 = sorted(rng.integers(0, w, 2))
                yy = np.clip(y + np.round(np.cumsum(rng.normal(0, 0.4, x1 - x0))).astype(int), 0, h - 1)
                gts[k, yy, np.arange(x0, x1)] = True
            else:
                x = int(rng.integers(2, w - 2))
                y0, y1 = sorted(rng.integers(0, h, 2))
                xx = np.clip(x + np.round(np.cumsum(rng.normal(0, 0.4, y1 - y0))).astype(int), 0, w - 1)
                gts[k, np.arange(y0, y1), xx] = True
    if empty_annotator:
        gts[-1] = False
    pb = ndi.gaussian_filter(gts.mean(0), 1.0)
    pb = pb / max(pb.max(), 1e-9) * (0.5 + 0.5 * rng.random(shape))
    pb = np.clip(pb + (rng.random(shape) < 0.01) * rng.random(shape), 0, 1)
    return np.round(pb * 255) / 255, gts


def _reference_counts(pb, gts, thresholds, max_dist, thin_pb=True):
    cntR, cntP, sumP = [], [], []
    for t in thresholds:
        bm = pb >= t
        if thin_pb:
            bm = FB.thin(bm)
        acc = np.zeros(bm.shape, bool)
        r = 0
        for g in gts:
            m1, m2, _ = FB.correspond_pixels(bm, g, max_dist=max_dist)
            acc |= m1 > 0
            r += int((m2 > 0).sum())
        cntR.append(r)
        cntP.append(int(acc.sum()))
        sumP.append(int(bm.sum()))
    return np.array(cntR), np.array(cntP), np.array(sumP)


def test_exact_counts_equal_the_per_threshold_definition():
    rng = np.random.default_rng(3)
    for trial in range(6):
        pb, gts = _random_case(rng, empty_annotator=(trial == 2))
        thr = FB.bsds_thresholds(15)
        thr = np.concatenate([thr, thr[[3, 3]]])  # repeated thresholds: identical maps are reused
        for thin_pb in (True, False):
            c = FB.evaluate_boundary_image(pb, gts, thresholds=thr, max_dist=0.03, thin_pb=thin_pb)
            r, p, s = _reference_counts(pb, gts, thr, 0.03, thin_pb)
            assert c.cntR.tolist() == r.tolist()
            assert c.cntP.tolist() == p.tolist()
            assert c.sumP.tolist() == s.tolist()
            assert c.sumR.tolist() == [int(gts.sum())] * thr.size


def _dense_optimum(a, b, radius, ow):
    """correspondPixels objective by a dense square assignment as the C++ code builds it, with all
    outlier-outlier pairs (cost ``ow`` each, like an unmatched pixel)."""
    p = np.argwhere(a)
    g = np.argwhere(b)
    n1, n2 = len(p), len(g)
    big = 10 ** 9
    C = np.full((n1 + n2, n1 + n2), big, np.int64)
    d = np.hypot(*(p[:, None, :] - g[None, :, :]).transpose(2, 0, 1)) if n1 and n2 else np.zeros((n1, n2))
    C[:n1, :n2] = np.where(d <= radius, np.rint(d * FB.MULTIPLIER), big)
    C[:n1, n2:] = np.where(np.eye(n1, dtype=bool), ow, big)
    C[n1:, :n2] = np.where(np.eye(n2, dtype=bool), ow, big)
    C[n1:, n2:] = ow
    r, c = linear_sum_assignment(C)
    real = (r < n1) & (c < n2)
    return int(real.sum()), int(C[r[real], c[real]].sum())


def test_square_matching_reaches_the_dense_optimum_on_contour_like_maps():
    rng = np.random.default_rng(11)
    shape = (40, 50)
    max_dist = 0.04
    radius = FB.max_dist_pixels(shape, max_dist)
    ow = int(np.ceil(FB.OUTLIER_COST * radius * FB.MULTIPLIER))
    for _ in range(10):
        pb, gts = _random_case(rng, shape=shape, annotators=2)
        a = FB.thin(pb >= rng.uniform(0.05, 0.5))
        b = gts[0]
        m1, m2, _ = FB.correspond_pixels(a, b, max_dist=max_dist)
        n = int((m1 > 0).sum())
        y, x = np.nonzero(m1)
        yy, xx = np.divmod(m1[y, x] - 1, shape[0])[::-1]  # column-major partner index
        cost = int(np.rint(np.hypot(y - yy, x - xx) * FB.MULTIPLIER).sum())
        assert (n, cost) == _dense_optimum(a, b, radius, ow)


def _reference_fast(pb, gts, thresholds, max_dist):
    md = FB.max_dist_pixels(pb.shape, max_dist)
    near_gt = np.zeros(pb.shape, bool)
    for g in gts:
        if g.any():
            near_gt |= ndi.distance_transform_edt(~g) <= md
    cntR, cntP = [], []
    for t in thresholds:
        bm = FB.thin(pb >= t)
        cntP.append(int((bm & near_gt).sum()))
        near_p = ndi.distance_transform_edt(~bm) <= md if bm.any() else np.zeros(bm.shape, bool)
        cntR.append(int(sum((g & near_p).sum() for g in gts)))
    return cntR, cntP


def test_fast_mode_equals_its_distance_transform_definition():
    rng = np.random.default_rng(5)
    for trial in range(4):
        pb, gts = _random_case(rng, empty_annotator=(trial == 1))
        thr = FB.bsds_thresholds(70)  # more than 64 thresholds: two bit words
        f = FB.evaluate_boundary_image(pb, gts, thresholds=thr, max_dist=0.03, mode="fast")
        r, p = _reference_fast(pb, gts, thr, 0.03)
        assert f.cntR.tolist() == r
        assert f.cntP.tolist() == p


def test_bit_sliced_deletion_test_equals_the_guo_hall_tables():
    codes = np.arange(256)
    x = ((codes[None, :] >> np.arange(8)[:, None]) & 1).astype(np.uint64)[:, :, None]
    x = x * np.uint64(0xFFFFFFFFFFFFFFFF)  # every map sees the same neighbourhood code
    for sub, lut in ((0, FB.G123_LUT), (1, FB.G123P_LUT)):
        d = FB._guo_hall_delete(x, sub)
        assert d.shape == (256, 1)
        assert np.array_equal(d[:, 0] == np.uint64(0xFFFFFFFFFFFFFFFF), lut)
        assert np.isin(d[:, 0], [0, 0xFFFFFFFFFFFFFFFF]).all()


@pytest.mark.parametrize("chunk", [1 << 16, 7])  # 7: many chunks per step (the large-image path)
def test_thin_many_equals_thinning_each_map_alone(chunk, monkeypatch):
    monkeypatch.setattr(FB, "_THIN_CHUNK", chunk)
    rng = np.random.default_rng(21)
    for trial in range(8):
        h, w = (int(v) for v in rng.integers(4, 45, 2))
        n_maps = int(rng.integers(1, 140))  # up to three 64-bit words
        if trial % 2:  # nested maps of a soft map (thick blobs), as the benchmark's thresholds
            pb = ndi.gaussian_filter(rng.random((h, w)), 1.5)
            thr = np.sort(rng.uniform(pb.min(), pb.max(), n_maps))
            maps = [pb >= t for t in thr]
        else:  # unrelated maps
            maps = [rng.random((h, w)) < rng.uniform(0.1, 0.9) for _ in range(n_maps)]
        pad = 2
        th = FB._Thinner(h + 2 * pad, w + 2 * pad)
        pix = ((np.arange(h)[:, None] + pad) * th.wp + (np.arange(w) + pad)[None, :]).ravel()
        union = np.flatnonzero(np.any(maps, axis=0).ravel())
        words = np.zeros((union.size, (n_maps + 63) // 64), np.uint64)
        for t, m in enumerate(maps):
            words[:, t // 64] |= m.ravel()[union].astype(np.uint64) << np.uint64(t % 64)
        out = th.thin_many(pix[union], words)
        for t, m in enumerate(maps):
            got = np.zeros(h * w, bool)
            got[union] = (out[:, t // 64] >> np.uint64(t % 64)) & np.uint64(1) == 1
            assert np.array_equal(got.reshape(h, w), FB.thin(m)), (trial, t)


def test_disk_dilation_equals_the_or_over_every_offset():
    rng = np.random.default_rng(8)
    for md in (1.0, 2.5, 4.33):
        h, w = 17, 23
        r = int(np.ceil(md))
        wp = w + 2 * r
        offs = FB._Offsets(md, wp)
        img = np.zeros(((h + 2 * r) * wp, 2), np.uint64)
        inner = ((np.arange(h)[:, None] + r) * wp + (np.arange(w) + r)[None, :]).ravel()
        img[inner] = rng.integers(0, 2 ** 63, (inner.size, 2), dtype=np.uint64) * (rng.random((inner.size, 1)) < 0.1)
        ref = np.zeros_like(img)
        for o in offs.flat.tolist():
            src = np.arange(img.shape[0]) + o
            ok = (src >= 0) & (src < img.shape[0])
            ref[ok] |= img[src[ok]]
        assert np.array_equal(FB._dilate_disk(img, offs, wp)[inner], ref[inner])


def test_unsorted_explicit_thresholds_give_the_per_threshold_counts():
    rng = np.random.default_rng(4)
    pb, gts = _random_case(rng)
    thr = rng.permutation(np.concatenate([FB.bsds_thresholds(9), [0.3, 0.3]]))
    c = FB.evaluate_boundary_image(pb, gts, thresholds=thr, max_dist=0.03)
    r, p, s = _reference_counts(pb, gts, thr, 0.03)
    assert (c.cntR.tolist(), c.cntP.tolist(), c.sumP.tolist()) == (r.tolist(), p.tolist(), s.tolist())
    f = FB.evaluate_boundary_image(pb, gts, thresholds=thr, max_dist=0.03, mode="fast")
    fr, fp = _reference_fast(pb, gts, thr, 0.03)
    assert (f.cntR.tolist(), f.cntP.tolist()) == (fr, fp)

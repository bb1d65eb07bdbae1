"""Referring, few-shot, zero-shot and interactive segmentation protocols.

Each metric is checked against a literal transcription of the reference evaluation code (written here
from the published repositories: LAVT ``test.py``, HSNet ``common/evaluation.py`` + ``common/utils.py``,
the SPNet / ZS3Net ``fast_hist`` mIoU, RITM ``isegm/inference/utils.py`` + ``clicker.py``) on seeded
synthetic data, on hand-computed toys, and for shard-merge equality.
"""

import json
import math

import numpy as np
import pytest

from segbench.errors import BadInputError, UsageError
from segbench.metrics import get_metric
from segbench.metrics.fewshot import FewShotIoU
from segbench.metrics.functional.interactive import (ClickSimulator, edt_float32, mask_iou, miou_curve, next_click,
                                                      noc_scores, simulate_session)
from segbench.metrics.interactive import InteractiveNoC
from segbench.metrics.openvocab import ZeroShotIoU
from segbench.metrics.referring import ReferringIoU
from segbench.metrics.stats import bootstrap_metric, sample_states
from segbench.types import (InteractivePrediction, LabelSpace, ReferringTarget, Sample, SemanticMask,
                            SemanticPrediction, SoftPrediction)


# ------------------------------------------------------------------ synthetic data
def blob(rng, shape, n=2):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    m = np.zeros(shape, bool)
    for _ in range(n):
        cy, cx = rng.uniform(0, shape[0]), rng.uniform(0, shape[1])
        ry, rx = rng.uniform(2, shape[0] / 2.5), rng.uniform(2, shape[1] / 2.5)
        m |= ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
    return m


def perturb(rng, m, p=0.15):
    out = m.copy()
    if rng.random() < 0.5:
        out = np.roll(out, rng.integers(-3, 4), axis=int(rng.integers(0, 2)))
    flip = rng.random(m.shape) < p * rng.random()
    out ^= flip
    return out


def merged_equals_one_pass(metric, pairs, k=3):
    one = metric.fresh()
    for p, s in pairs:
        one.update(p, s)
    shards = []
    for j in range(k):
        m = metric.fresh()
        for p, s in pairs[j::k]:
            m.update(p, s)
        shards.append(m)
    merged = shards[0]
    for m in shards[1:]:
        merged += m
    a, b = one.compute(), merged.compute()
    assert a.to_dict() == b.to_dict()  # bit for bit (integer states, sorted keyed maps)
    json.dumps(a.to_dict(), allow_nan=False)  # serialisable into a RunRecord
    # and through state_dict / from_state
    c = type(metric).from_state(merged.state_dict(), metric.label_space, **metric.options).compute()
    assert c.to_dict() == a.to_dict()
    return a


# ================================================================== referring (LAVT)
def lavt_evaluate(preds, targets):
    """Transcription of LAVT test.py ``evaluate`` + ``computeIoU`` (numbers in 0..1, not percent)."""
    def computeIoU(pred_seg, gd_seg):
        I = np.sum(np.logical_and(pred_seg, gd_seg))
        U = np.sum(np.logical_or(pred_seg, gd_seg))
        return I, U

    cum_I, cum_U = 0, 0
    eval_seg_iou_list = [.5, .6, .7, .8, .9]
    seg_correct = np.zeros(len(eval_seg_iou_list), dtype=np.int32)
    seg_total = 0
    mean_IoU = []
    for output_mask, target in zip(preds, targets):
        I, U = computeIoU(output_mask, target)
        if U == 0:
            this_iou = 0.0
        else:
            this_iou = I * 1.0 / U
        mean_IoU.append(this_iou)
        cum_I += I
        cum_U += U
        for n_eval_iou in range(len(eval_seg_iou_list)):
            eval_seg_iou = eval_seg_iou_list[n_eval_iou]
            seg_correct[n_eval_iou] += (this_iou >= eval_seg_iou)
        seg_total += 1
    mean_IoU = np.array(mean_IoU)
    mIoU = np.mean(mean_IoU)
    overall_iou = float(cum_I * 1. / cum_U) if cum_U != 0 else 0.0
    out = {"oIoU": overall_iou, "mIoU": float(mIoU)}
    for n, t in enumerate(eval_seg_iou_list):
        out[f"P@{t:g}"] = seg_correct[n] * 1. / seg_total
    return out


def referring_pairs(seed, n=40, shape=(17, 23)):
    rng = np.random.default_rng(seed)
    pairs = []
    for i in range(n):
        g = blob(rng, shape, 1 + i % 3)
        if i % 11 == 0:
            g[:] = False  # empty GT (and sometimes empty prediction: U = 0)
        p = perturb(rng, g) if i % 13 else np.zeros(shape, bool)
        pairs.append((SemanticPrediction(p.astype(np.uint8)), Sample(f"expr{i:03d}", None, ReferringTarget(f"e{i}", g))))
    return pairs


def test_referring_toy():
    g = np.zeros((4, 4), bool)
    g[:2, :2] = True
    m = ReferringIoU()
    m.update(SemanticPrediction(g.astype(np.uint8)), Sample("a", None, ReferringTarget("x", g)))  # I=4 U=4
    p = np.zeros((4, 4), np.uint8)
    p[:2, :1] = 1  # I=2 U=4
    m.update(SemanticPrediction(p), Sample("b", None, ReferringTarget("y", g)))
    p2 = np.zeros((4, 4), np.uint8)
    p2[3, 3] = 1  # I=0 U=5
    m.update(SemanticPrediction(p2), Sample("c", None, ReferringTarget("z", g)))
    m.update(SemanticPrediction(np.zeros((4, 4), np.uint8)), Sample("d", None, ReferringTarget("w", np.zeros((4, 4), bool))))
    r = m.compute()
    v = r.values
    assert v["oIoU"] == pytest.approx(6 / 13)
    assert v["mIoU"] == pytest.approx((1 + 0.5 + 0 + 0) / 4)  # empty-empty expression counts 0 (LAVT)
    assert v["P@0.5"] == 0.5 and v["P@0.6"] == 0.25 and v["P@0.9"] == 0.25
    assert r.per_sample["b"] == {"I": 2, "U": 4, "IoU": 0.5}
    assert list(v) == ["oIoU", "mIoU", "P@0.5", "P@0.6", "P@0.7", "P@0.8", "P@0.9"]
    m2 = ReferringIoU(empty_iou=1.0)
    m2.update(SemanticPrediction(np.zeros((4, 4), np.uint8)), Sample("d", None, ReferringTarget("w", np.zeros((4, 4), bool))))
    assert m2.compute().values["mIoU"] == 1.0 and m2.compute().values["oIoU"] == 0.0
    assert math.isnan(ReferringIoU().compute().values["mIoU"])


@pytest.mark.parametrize("seed", [0, 1])
def test_referring_lavt_parity_and_merge(seed):
    pairs = referring_pairs(seed)
    ref = lavt_evaluate([p.mask for p, _ in pairs], [s.target.mask for _, s in pairs])
    r = merged_equals_one_pass(ReferringIoU(), pairs, k=4)
    assert set(r.values) == set(ref)
    for k, v in ref.items():
        assert abs(r.values[k] - v) <= 1e-9, k
    assert 0 < r.values["P@0.9"] < r.values["P@0.5"] < 1  # data exercises the thresholds


def test_referring_soft_errors_and_bootstrap():
    rng = np.random.default_rng(3)
    g = blob(rng, (9, 9))
    prob = np.where(g, 0.8, 0.1)
    m = get_metric("referring")
    m.update(SoftPrediction(prob), Sample("s", None, ReferringTarget("t", g)))
    assert m.compute().values["oIoU"] == 1.0
    with pytest.raises(BadInputError):
        m.update(SoftPrediction(prob), Sample("s", None, ReferringTarget("t", g)))  # duplicate id
    with pytest.raises(BadInputError):
        m.update(SemanticPrediction(np.zeros((3, 3), np.uint8)), Sample("u", None, ReferringTarget("t", g)))
    # bootstrap over expressions through the keyed-map state (oIoU = ratio of resampled sums)
    pairs = referring_pairs(5, n=25)
    met = ReferringIoU()
    states = sample_states(met, pairs)
    ci = bootstrap_metric(met, states, ["oIoU", "mIoU"], n_resamples=60, seed=2)
    I = np.array([st["records"][k][0] for st in states for k in st["records"]])
    U = np.array([st["records"][k][1] for st in states for k in st["records"]])
    rs = np.random.default_rng(2)
    reps = []
    for _ in range(60):
        idx = rs.integers(0, len(I), len(I))
        reps.append(I[idx].sum() / U[idx].sum())
    lo, hi = np.quantile(reps, [0.025, 0.975])
    assert abs(ci["oIoU"]["low"] - lo) < 1e-9 and abs(ci["oIoU"]["high"] - hi) < 1e-9


# ================================================================== few-shot (HSNet)
# torch / cv2 are imported by the tests that need them (references only), so that a missing one
# skips those tests and never the whole module
torch = None
cv2 = None


def _need(name):
    mod = pytest.importorskip(name)
    globals()[name] = mod
    return mod


class HSNetAverageMeter:
    """Transcription of HSNet common/utils.py AverageMeter (iou part) and
    common/evaluation.py Evaluator.classify_prediction (ignore_index = 255)."""

    ignore_index = 255

    def __init__(self, class_ids_interest, nclass):
        self.class_ids_interest = torch.tensor(class_ids_interest)
        self.nclass = nclass
        self.intersection_buf = torch.zeros([2, self.nclass]).float()
        self.union_buf = torch.zeros([2, self.nclass]).float()
        self.ones = torch.ones_like(self.union_buf)

    @classmethod
    def classify_prediction(cls, pred_mask, gt_mask, query_ignore_idx):
        if query_ignore_idx is not None:
            assert torch.logical_and(query_ignore_idx, gt_mask).sum() == 0
            query_ignore_idx = query_ignore_idx * cls.ignore_index
            gt_mask = gt_mask + query_ignore_idx
            pred_mask[gt_mask == cls.ignore_index] = cls.ignore_index
        area_inter, area_pred, area_gt = [], [], []
        for _pred_mask, _gt_mask in zip(pred_mask, gt_mask):
            _inter = _pred_mask[_pred_mask == _gt_mask]
            if _inter.size(0) == 0:
                _area_inter = torch.tensor([0, 0], device=_pred_mask.device)
            else:
                _area_inter = torch.histc(_inter, bins=2, min=0, max=1)
            area_inter.append(_area_inter)
            area_pred.append(torch.histc(_pred_mask, bins=2, min=0, max=1))
            area_gt.append(torch.histc(_gt_mask, bins=2, min=0, max=1))
        area_inter = torch.stack(area_inter).t()
        area_pred = torch.stack(area_pred).t()
        area_gt = torch.stack(area_gt).t()
        area_union = area_pred + area_gt - area_inter
        return area_inter, area_union

    def update(self, inter_b, union_b, class_id):
        self.intersection_buf.index_add_(1, class_id, inter_b.float())
        self.union_buf.index_add_(1, class_id, union_b.float())

    def compute_iou(self):
        iou = self.intersection_buf.float() / torch.max(torch.stack([self.union_buf, self.ones]), dim=0)[0]
        iou = iou.index_select(1, self.class_ids_interest)
        miou = iou[1].mean()
        fb_iou = (self.intersection_buf.index_select(1, self.class_ids_interest).sum(dim=1) /
                  self.union_buf.index_select(1, self.class_ids_interest).sum(dim=1)).mean()
        return miou.item(), fb_iou.item()


def fewshot_episodes(seed, n=36, C=5, shape=(15, 19)):
    rng = np.random.default_rng(seed)
    eps = []
    for i in range(n):
        c = int(rng.integers(0, C - 1))  # class C-1 never sampled: counts 0 in mIoU (HSNet)
        fg = blob(rng, shape, 1 + i % 2)
        ign = np.zeros(shape, bool)
        if i % 3:
            ign = blob(rng, shape, 1) & ~fg  # boundary-like ignore region
        gt = fg.astype(np.uint8)
        gt[ign] = 255
        pr = perturb(rng, fg).astype(np.uint8)
        eps.append((c, gt, pr, fg, ign))
    return eps


@pytest.mark.parametrize("seed", [0, 4])
def test_fewshot_hsnet_parity_and_merge(seed):
    _need("torch")
    C = 5
    ls = LabelSpace.from_names([f"c{i}" for i in range(C)])
    eps = fewshot_episodes(seed, C=C)
    ref = HSNetAverageMeter(list(range(C)), C)
    pairs = []
    for i, (c, gt, pr, fg, ign) in enumerate(eps):
        # HSNet runs batches of episodes; use batches of 2 with per-episode class ids
        inter, union = ref.classify_prediction(torch.tensor(pr[None], dtype=torch.float32),
                                               torch.tensor(fg[None], dtype=torch.float32),
                                               torch.tensor(ign[None], dtype=torch.float32))
        ref.update(inter, union, torch.tensor([c]))
        pairs.append((SemanticPrediction(pr), Sample(f"ep{i:03d}", None, SemanticMask(gt), {"class_id": c})))
    miou, fb = ref.compute_iou()
    r = merged_equals_one_pass(FewShotIoU(ls), pairs, k=3)
    # the reference accumulates in float32: compare with float32 resolution of its sums
    assert abs(r.values["mIoU"] - miou) < 1e-6 and abs(r.values["FB_IoU"] - fb) < 1e-6
    # exact (1e-9) against the same transcription in float64
    ref64_i = ref.intersection_buf.double().numpy()
    ref64_u = ref.union_buf.double().numpy()
    iou64 = ref64_i / np.maximum(ref64_u, 1)
    assert abs(r.values["mIoU"] - iou64[1].mean()) < 1e-9
    assert abs(r.values["FB_IoU"] - (ref64_i.sum(1) / ref64_u.sum(1)).mean()) < 1e-9
    assert r.per_class["c4"] == {"IoU": 0.0, "episodes": 0}
    # a fold subset by names
    rf = FewShotIoU(ls, classes=["c0", "c2"])
    for p, s in pairs:
        rf.update(p, s)
    v = rf.compute().values
    assert abs(v["mIoU"] - iou64[1][[0, 2]].mean()) < 1e-9
    assert abs(v["FB_IoU"] - (ref64_i[:, [0, 2]].sum(1) / ref64_u[:, [0, 2]].sum(1)).mean()) < 1e-9


def test_fewshot_toy_and_errors():
    ls = LabelSpace.from_names(["a", "b"])
    m = FewShotIoU(ls)
    g = np.array([[1, 1, 0], [0, 255, 0]], np.uint8)
    p = np.array([[1, 0, 0], [1, 1, 0]], np.uint8)
    m.update(SemanticPrediction(p), Sample("e", None, SemanticMask(g), {"class_name": "b"}))
    r = m.compute()
    # fg: I=1 U=3; bg: I=2 U=4 (the ignored pixel does not count)
    assert r.values["mIoU"] == pytest.approx((0 + 1 / 3) / 2)
    assert r.values["FB_IoU"] == pytest.approx((2 / 4 + 1 / 3) / 2)
    assert r.per_sample["e"]["IoU"] == pytest.approx(1 / 3)
    with pytest.raises(BadInputError):
        m.update(SemanticPrediction(p), Sample("x", None, SemanticMask(g)))  # no class
    with pytest.raises(BadInputError):
        m.update(SemanticPrediction(p), Sample("x", None, SemanticMask(g * 3), {"class_id": 0}))
    with pytest.raises(UsageError):
        FewShotIoU(ls, classes=["zebra"])
    mb = FewShotIoU(ls, binarize=True)
    full = np.array([[1, 1, 0], [0, 255, 0]], np.uint8)  # train ids: class 1 = "b"
    mb.update(SemanticPrediction(p), Sample("e", None, SemanticMask(full), {"class_id": 1}))
    assert mb.compute().values == r.values
    m1 = FewShotIoU(ls, class_id=0)
    m1.update(SoftPrediction(np.where(g == 1, 0.9, 0.2)), Sample("y", None, SemanticMask(g)))
    assert m1.compute().values["mIoU"] == pytest.approx(0.5)  # class a IoU 1, class b unsampled 0


# ================================================================== zero-shot (SPNet / ZS3Net)
def spnet_eval(gts, preds, n, unseen):
    """Transcription of the fast_hist / per_class_iu evaluation used by SPNet and ZS3Net."""
    def fast_hist(a, b, n):
        k = (a >= 0) & (a < n)
        return np.bincount(n * a[k].astype(int) + b[k], minlength=n ** 2).reshape(n, n)

    hist = np.zeros((n, n))
    for g, p in zip(gts, preds):
        hist += fast_hist(g.flatten(), p.flatten(), n)
    with np.errstate(divide="ignore", invalid="ignore"):
        iu = np.diag(hist) / (hist.sum(1) + hist.sum(0) - np.diag(hist))
    seen = [c for c in range(n) if c not in unseen]
    mseen = np.nanmean(iu[seen])
    munseen = np.nanmean(iu[unseen])
    h = 2 * mseen * munseen / (mseen + munseen)
    return {"mIoU_seen": mseen, "mIoU_unseen": munseen, "hIoU": h, "mIoU": np.nanmean(iu)}


@pytest.mark.parametrize("seed", [0, 2])
def test_zeroshot_parity_and_merge(seed):
    rng = np.random.default_rng(seed)
    C = 7
    unseen = [2, 5]
    names = [f"k{i}" for i in range(C)]
    ls = LabelSpace.from_names(names)
    pairs, gts, preds = [], [], []
    for i in range(20):
        g = rng.integers(0, C - 1, (12, 14)).astype(np.uint8)  # class 6 never in GT
        g[rng.random(g.shape) < 0.1] = 255
        p = g.copy()
        noise = rng.random(g.shape) < 0.35
        p[noise] = rng.integers(0, C, int(noise.sum()))
        p[p == 255] = 0
        # unseen classes get confused with seen ones more often
        p[(np.isin(g, unseen)) & (rng.random(g.shape) < 0.4)] = 1
        gts.append(g)
        preds.append(p)
        pairs.append((SemanticPrediction(p), Sample(f"im{i:02d}", None, SemanticMask(g))))
    ref = spnet_eval(gts, preds, C, unseen)
    r = merged_equals_one_pass(ZeroShotIoU(ls, unseen=["k2", "k5"]), pairs, k=3)
    for k, v in ref.items():
        assert abs(r.values[k] - v) < 1e-9, k
    assert r.values["mIoU_unseen"] < r.values["mIoU_seen"]
    assert r.per_class["k5"]["unseen"] == 1.0 and r.per_class["k0"]["unseen"] == 0.0
    r2 = ZeroShotIoU(ls, unseen=[2, 5])
    for p, s in pairs:
        r2.update(p, s)
    assert r2.compute().values == r.values


def test_zeroshot_toy_and_errors():
    ls = LabelSpace.from_names(["bg", "cat", "cow"])
    m = ZeroShotIoU(ls, unseen=["cow"])
    g = np.array([[0, 1, 2, 2]], np.uint8)
    m.update(SemanticPrediction(np.array([[0, 1, 2, 1]], np.uint8)), Sample("a", None, SemanticMask(g)))
    v = m.compute().values
    # IoU bg 1, cat 1/2, cow 1/2 → seen 0.75, unseen 0.5, h = 0.6
    assert (v["mIoU_seen"], v["mIoU_unseen"]) == (0.75, 0.5)
    assert v["hIoU"] == pytest.approx(0.6) and v["mIoU"] == pytest.approx(2 / 3)
    m0 = ZeroShotIoU(ls, unseen=["cow"])
    m0.update(SemanticPrediction(np.array([[0, 1, 1, 1]], np.uint8)), Sample("a", None, SemanticMask(g)))
    assert m0.compute().values["hIoU"] == 0.0  # unseen IoU 0
    with pytest.raises(UsageError):
        ZeroShotIoU(ls)
    with pytest.raises(UsageError):
        ZeroShotIoU(ls, unseen=["dog"])
    with pytest.raises(BadInputError):
        m.update(SemanticPrediction(np.array([[0, 1, 9, 1]], np.uint8)), Sample("b", None, SemanticMask(g)))


# ================================================================== interactive (RITM)


def ritm_get_iou(gt_mask, pred_mask, ignore_label=-1):
    ignore_gt_mask_inv = gt_mask != ignore_label
    obj_gt_mask = gt_mask == 1
    intersection = np.logical_and(np.logical_and(pred_mask, obj_gt_mask), ignore_gt_mask_inv).sum()
    union = np.logical_and(np.logical_or(pred_mask, obj_gt_mask), ignore_gt_mask_inv).sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        return intersection / union


def ritm_compute_noc_metric(all_ious, iou_thrs, max_clicks=20):
    def _get_noc(iou_arr, iou_thr):
        vals = iou_arr >= iou_thr
        return np.argmax(vals) + 1 if np.any(vals) else max_clicks

    noc_list = []
    over_max_list = []
    for iou_thr in iou_thrs:
        scores_arr = np.array([_get_noc(iou_arr, iou_thr) for iou_arr in all_ious], dtype=int)
        score = scores_arr.mean()
        over_max = (scores_arr == max_clicks).sum()
        noc_list.append(score)
        over_max_list.append(over_max)
    return noc_list, over_max_list


class RITMClicker:
    """Transcription of RITM isegm/inference/clicker.py Clicker (next-click part)."""

    def __init__(self, gt_mask, ignore_label=-1):
        self.gt_mask = gt_mask == 1
        self.not_ignore_mask = gt_mask != ignore_label
        self.not_clicked_map = np.ones_like(self.gt_mask, dtype=bool)
        self.clicks_list = []

    def make_next_click(self, pred_mask):
        click = self._get_next_click(pred_mask)
        self.clicks_list.append(click)
        self.not_clicked_map[click[1], click[2]] = False
        return click

    def _get_next_click(self, pred_mask, padding=True):
        fn_mask = np.logical_and(np.logical_and(self.gt_mask, np.logical_not(pred_mask)), self.not_ignore_mask)
        fp_mask = np.logical_and(np.logical_and(np.logical_not(self.gt_mask), pred_mask), self.not_ignore_mask)
        if padding:
            fn_mask = np.pad(fn_mask, ((1, 1), (1, 1)), 'constant')
            fp_mask = np.pad(fp_mask, ((1, 1), (1, 1)), 'constant')
        fn_mask_dt = cv2.distanceTransform(fn_mask.astype(np.uint8), cv2.DIST_L2, 0)
        fp_mask_dt = cv2.distanceTransform(fp_mask.astype(np.uint8), cv2.DIST_L2, 0)
        if padding:
            fn_mask_dt = fn_mask_dt[1:-1, 1:-1]
            fp_mask_dt = fp_mask_dt[1:-1, 1:-1]
        fn_mask_dt = fn_mask_dt * self.not_clicked_map
        fp_mask_dt = fp_mask_dt * self.not_clicked_map
        fn_max_dist = np.max(fn_mask_dt)
        fp_max_dist = np.max(fp_mask_dt)
        is_positive = fn_max_dist > fp_max_dist
        if is_positive:
            coords_y, coords_x = np.where(fn_mask_dt == fn_max_dist)
        else:
            coords_y, coords_x = np.where(fp_mask_dt == fp_max_dist)
        return (bool(is_positive), int(coords_y[0]), int(coords_x[0]))


def cv2_dt(m):
    return cv2.distanceTransform(m.astype(np.uint8), cv2.DIST_L2, 0)


def test_edt_matches_opencv_precise():
    """Exact EDT = OpenCV's DIST_L2 precise up to one float32 ulp (OpenCV rounds sqrt position-dependently)."""
    _need("cv2")
    rng = np.random.default_rng(0)
    for _ in range(20):
        m = blob(rng, (int(rng.integers(5, 60)), int(rng.integers(5, 60))), 3)
        m = np.pad(m, 1)
        ref = cv2_dt(m)
        ours = edt_float32(m)
        assert np.all(np.abs(ours - ref) <= np.spacing(np.maximum(ours, ref)))
        # same order of distances: the exact squared distances are what both rank
        assert np.array_equal(np.rint(ours.astype(np.float64) ** 2), np.rint(ref.astype(np.float64) ** 2))


def toy_model(gt, rng):
    """A deterministic fake click model: each click fixes a disc of radius 4 around it."""
    def predict(clicks):
        pred = perturb(np.random.default_rng(len(clicks) + 100), gt, 0.3)
        yy, xx = np.mgrid[: gt.shape[0], : gt.shape[1]]
        for pos, y, x in clicks:
            disc = (yy - y) ** 2 + (xx - x) ** 2 <= 16
            pred[disc] = gt[disc]
        return pred
    return predict


@pytest.mark.parametrize("seed", [0, 1])
def test_click_simulator_matches_ritm(seed):
    _need("cv2")
    rng = np.random.default_rng(seed)
    for _ in range(6):
        shape = (int(rng.integers(12, 40)), int(rng.integers(12, 40)))
        gt = blob(rng, shape, 2)
        gt_lab = gt.astype(np.int64)
        ign = blob(rng, shape, 1) & (rng.random(shape) < 0.5)
        gt_lab[ign] = -1
        ref = RITMClicker(gt_lab)
        sim = ClickSimulator(gt & ~ign, ignore=ign, distance_transform=cv2_dt)  # bit-exact RITM clicks
        exact = ClickSimulator(gt & ~ign, ignore=ign)  # default exact EDT
        predict = toy_model(gt, rng)
        pred = np.zeros(shape, bool)
        for _k in range(8):
            c = sim.click(pred)
            assert c == ref.make_next_click(pred)
            assert exact.click(pred) == c  # no exact-distance tie broken differently on these sessions
            pred = predict(sim.clicks)
    # simulate_session drives the same loop
    gt = blob(np.random.default_rng(seed + 10), (20, 25), 2)
    masks, clicks = simulate_session(gt, toy_model(gt, None), max_clicks=6)
    ref = RITMClicker(gt.astype(np.int64))
    pred = np.zeros(gt.shape, bool)
    for k in range(6):
        assert ref.make_next_click(pred) == clicks[k]
        pred = masks[k]
    m2, c2 = simulate_session(gt, lambda clicks: gt, max_clicks=20, stop_iou=0.9)
    assert len(c2) == 1 and m2.shape == (1,) + gt.shape


def test_next_click_toy():
    gt = np.zeros((7, 7), bool)
    gt[1:6, 1:6] = True
    assert next_click(gt, np.zeros_like(gt)) == (True, (3, 3))
    pred = np.ones_like(gt)  # all background pixels are FP: border ring of width 1, padded → distance 1
    pos, (y, x) = next_click(gt, pred)
    assert not pos and (y, x) == (0, 0)
    # without padding, the FP ring touches the image border: its farthest pixel is a corner
    assert next_click(gt, pred, padding=False)[1] == (0, 0)


@pytest.mark.parametrize("seed", [0, 3])
def test_interactive_ritm_parity_and_merge(seed):
    rng = np.random.default_rng(seed)
    pairs, all_ious = [], []
    for i in range(15):
        shape = (16, 18)
        gt = blob(rng, shape, 2)
        lab = gt.astype(np.uint8)
        ign = (rng.random(shape) < 0.05) & ~gt
        lab[ign] = 255
        n = int(rng.integers(3, 25))  # some sessions longer than max_clicks, some stopped early
        masks = []
        for k in range(n):
            masks.append(perturb(rng, gt, 0.5 * (1 - k / n) ** 2))
        masks = np.stack(masks)
        gt_ritm = gt.astype(np.int64)
        gt_ritm[ign] = -1
        all_ious.append(np.array([ritm_get_iou(gt_ritm, m) for m in masks[:20]]))
        pairs.append((InteractivePrediction(masks), Sample(f"obj{i:02d}", None, SemanticMask(lab))))
    noc_ref, nof_ref = ritm_compute_noc_metric(all_ious, [0.85, 0.9], 20)
    r = merged_equals_one_pass(InteractiveNoC(), pairs, k=4)
    assert abs(r.values["NoC@85"] - noc_ref[0]) < 1e-9 and abs(r.values["NoC@90"] - noc_ref[1]) < 1e-9
    assert r.values["NoF@85"] == nof_ref[0] and r.values["NoF@90"] == nof_ref[1]
    # mIoU@k: mean over objects of IoU after click k (IoU-analysis mode: full sessions carry their last IoU)
    full = np.array([np.concatenate([a, np.full(20 - len(a), a[-1])]) for a in all_ious])
    assert np.allclose(r.artifacts["miou_curve"], np.nanmean(full, 0), atol=1e-12)
    assert abs(r.values["mIoU@1"] - full[:, 0].mean()) < 1e-9
    assert 1 <= r.values["NoC@85"] <= r.values["NoC@90"] <= 20


def test_interactive_toy_and_nof_modes():
    gt = np.zeros((4, 4), np.uint8)
    gt[:2, :2] = 1
    good = gt.astype(bool)
    half = np.zeros((4, 4), bool)
    half[:2, :1] = True
    m = InteractiveNoC(max_clicks=3)
    m.update(InteractivePrediction(np.stack([half, half, good])), Sample("late", None, SemanticMask(gt)))  # reaches at 3
    m.update(InteractivePrediction(np.stack([half, half, half])), Sample("never", None, SemanticMask(gt)))
    m.update(InteractivePrediction(np.stack([good])), Sample("first", None, SemanticMask(gt)))
    v = m.compute().values
    assert v["NoC@85"] == pytest.approx((3 + 3 + 1) / 3)
    assert v["NoF@85"] == 2  # RITM counts NoC == max_clicks, including the object reaching 0.85 at click 3
    ms = InteractiveNoC(max_clicks=3, nof_mode="strict")
    ms.merge(m)
    assert ms.compute().values["NoF@85"] == 1
    assert v["mIoU@1"] == pytest.approx((0.5 + 0.5 + 1) / 3)
    assert m.compute().per_sample["late"]["NoC@85"] == 3
    with pytest.raises(BadInputError):
        m.update(InteractivePrediction(np.zeros((2, 3, 3), bool)), Sample("bad", None, SemanticMask(gt)))
    assert mask_iou(np.zeros((2, 2)), np.zeros((2, 2))) != mask_iou(np.zeros((2, 2)), np.zeros((2, 2)))  # NaN
    s = noc_scores([np.array([0.9]), np.array([0.1, 0.2])], [0.85], max_clicks=2)
    assert s["NoC"] == [1.5] and s["NoF"] == [1]
    assert np.allclose(miou_curve([np.array([0.2, 0.4]), np.array([0.6])], 3), [0.4, 0.5, 0.5])


def test_registry_keys():
    ls = LabelSpace.from_names(["a", "b", "c"])
    assert get_metric("referring").summary_keys == ("oIoU", "mIoU", "P@0.5", "P@0.6", "P@0.7", "P@0.8", "P@0.9")
    assert get_metric("fewshot", ls).summary_keys == ("mIoU", "FB_IoU")
    assert get_metric("zeroshot", ls, unseen=["c"]).summary_keys == ("mIoU_seen", "mIoU_unseen", "hIoU", "mIoU")
    assert get_metric("interactive").summary_keys == ("NoC@85", "NoC@90", "NoF@85", "NoF@90")


# ================================================================== through the engine (chunks merged)
class _ListSource:
    def __init__(self, pairs):
        self.pairs = {s.sample_id: (p, s) for p, s in pairs}

    def sample_ids(self):
        return list(self.pairs)

    def load(self, sid_or_sample):
        if isinstance(sid_or_sample, str):
            return self.pairs[sid_or_sample][1]
        return self.pairs[sid_or_sample.sample_id][0]

    def available(self):
        return None


def test_engine_chunks_equal_one_pass():
    from segbench.engine import evaluate_samples

    ls = LabelSpace.from_names([f"c{i}" for i in range(5)])
    eps = fewshot_episodes(7, n=12)
    fs_pairs = [(SemanticPrediction(pr), Sample(f"ep{i:02d}", None, SemanticMask(gt), {"class_id": c}))
                for i, (c, gt, pr, _, _) in enumerate(eps)]
    for metric, pairs in [(ReferringIoU(), referring_pairs(2, n=14)), (FewShotIoU(ls), fs_pairs)]:
        src = _ListSource(pairs)
        out = evaluate_samples(src, src, [metric], chunk_size=4)
        one = metric.fresh()
        for p, s in pairs:
            one.update(p, s)
        assert out.results[metric.key].to_dict() == one.compute().to_dict()

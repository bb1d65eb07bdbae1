"""YouTube-VIS video AP (ytvis_ap) against a literal transcription of the YouTube-VIS cocoapi fork, and
against pycocotools' COCOeval on single-frame videos.

No YouTube-VIS API package is on PyPI, so the reference is transcribed here from
github.com/youtubevos/cocoapi ``PythonAPI/pycocotools/ytvos.py`` (``YTVOS``: index, ``getAnnIds``,
``loadRes``, ``annToRLE``) and ``ytvoseval.py`` (``YTVOSeval``: ``_prepare``, ``evaluate``,
``computeIoU``, ``evaluateVid``, ``accumulate``, ``summarize``; ``Params``), read from the copy in
m43/youtubevos-cocoapi at 7afe4a44d8b1b33912b85511807c0de3a9957f2a. Printing and timing were dropped;
``np.float`` became ``np.float64``; the logic is unchanged.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as maskUtils

from segbench.cli import main
from segbench.datasets import load_dataset
from segbench.datasets.youtube_vis import YouTubeVIS, YTVISResults, make_fake_results
from segbench.engine import evaluate_run, evaluate_samples
from segbench.errors import BadInputError
from segbench.metrics.functional import video as FV
from segbench.metrics.video import YTVISAP

KEYS = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]


# ============================================================================ transcription
def _isArrayLike(obj):
    return hasattr(obj, '__iter__') and hasattr(obj, '__len__')


class YTVOS:
    def __init__(self, annotation_file=None):
        self.dataset, self.anns, self.cats, self.vids = dict(), dict(), dict(), dict()
        self.vidToAnns, self.catToVids = defaultdict(list), defaultdict(list)
        if annotation_file is not None:
            with open(annotation_file) as f:
                self.dataset = json.load(f)
            self.createIndex()

    def createIndex(self):
        anns, cats, vids = {}, {}, {}
        vidToAnns, catToVids = defaultdict(list), defaultdict(list)
        if 'annotations' in self.dataset:
            for ann in self.dataset['annotations']:
                vidToAnns[ann['video_id']].append(ann)
                anns[ann['id']] = ann
        if 'videos' in self.dataset:
            for vid in self.dataset['videos']:
                vids[vid['id']] = vid
        if 'categories' in self.dataset:
            for cat in self.dataset['categories']:
                cats[cat['id']] = cat
        if 'annotations' in self.dataset and 'categories' in self.dataset:
            for ann in self.dataset['annotations']:
                catToVids[ann['category_id']].append(ann['video_id'])
        self.anns, self.vidToAnns, self.catToVids, self.vids, self.cats = anns, vidToAnns, catToVids, vids, cats

    def getAnnIds(self, vidIds=[], catIds=[], areaRng=[], iscrowd=None):
        vidIds = vidIds if _isArrayLike(vidIds) else [vidIds]
        catIds = catIds if _isArrayLike(catIds) else [catIds]
        if len(vidIds) == len(catIds) == len(areaRng) == 0:
            anns = self.dataset['annotations']
        else:
            if not len(vidIds) == 0:
                lists = [self.vidToAnns[vidId] for vidId in vidIds if vidId in self.vidToAnns]
                anns = list(itertools.chain.from_iterable(lists))
            else:
                anns = self.dataset['annotations']
            anns = anns if len(catIds) == 0 else [ann for ann in anns if ann['category_id'] in catIds]
            anns = anns if len(areaRng) == 0 else [ann for ann in anns if ann['avg_area'] > areaRng[0] and ann['avg_area'] < areaRng[1]]
        if not iscrowd == None:  # noqa: E711
            ids = [ann['id'] for ann in anns if ann['iscrowd'] == iscrowd]
        else:
            ids = [ann['id'] for ann in anns]
        return ids

    def getCatIds(self):
        return [cat['id'] for cat in self.dataset['categories']]

    def getVidIds(self):
        return list(self.vids.keys())

    def loadAnns(self, ids=[]):
        if _isArrayLike(ids):
            return [self.anns[id] for id in ids]
        elif type(ids) == int:
            return [self.anns[ids]]

    def loadRes(self, resFile):
        res = YTVOS()
        res.dataset['videos'] = [img for img in self.dataset['videos']]
        with open(resFile) as f:
            anns = json.load(f)
        assert type(anns) == list, 'results in not an array of objects'
        annsVidIds = [ann['video_id'] for ann in anns]
        assert set(annsVidIds) == (set(annsVidIds) & set(self.getVidIds())), \
            'Results do not correspond to current coco set'
        if 'segmentations' in anns[0]:
            res.dataset['categories'] = copy.deepcopy(self.dataset['categories'])
            for id, ann in enumerate(anns):
                ann['areas'] = []
                if not 'bboxes' in ann:  # noqa: E713
                    ann['bboxes'] = []
                for seg in ann['segmentations']:
                    if seg:
                        ann['areas'].append(maskUtils.area(seg))
                        if len(ann['bboxes']) < len(ann['areas']):
                            ann['bboxes'].append(maskUtils.toBbox(seg))
                    else:
                        ann['areas'].append(None)
                        if len(ann['bboxes']) < len(ann['areas']):
                            ann['bboxes'].append(None)
                ann['id'] = id + 1
                l = [a for a in ann['areas'] if a]  # noqa: E741
                if len(l) == 0:
                    ann['avg_area'] = 0
                else:
                    ann['avg_area'] = np.array(l).mean()
                ann['iscrowd'] = 0
        res.dataset['annotations'] = anns
        res.createIndex()
        return res

    def annToRLE(self, ann, frameId):
        t = self.vids[ann['video_id']]
        h, w = t['height'], t['width']
        segm = ann['segmentations'][frameId]
        if type(segm) == list:
            rles = maskUtils.frPyObjects(segm, h, w)
            rle = maskUtils.merge(rles)
        elif type(segm['counts']) == list:
            rle = maskUtils.frPyObjects(segm, h, w)
        else:
            rle = segm
        return rle


class Params:
    def __init__(self, iouType='segm'):
        self.vidIds = []
        self.catIds = []
        self.iouThrs = np.linspace(.5, 0.95, int(np.round((0.95 - .5) / .05)) + 1, endpoint=True)
        self.recThrs = np.linspace(.0, 1.00, int(np.round((1.00 - .0) / .01)) + 1, endpoint=True)
        self.maxDets = [1, 10, 100]
        self.areaRng = [[0 ** 2, 1e5 ** 2], [0 ** 2, 128 ** 2], [128 ** 2, 256 ** 2], [256 ** 2, 1e5 ** 2]]
        self.areaRngLbl = ['all', 'small', 'medium', 'large']
        self.useCats = 1
        self.iouType = iouType
        self.useSegm = None


class YTVOSeval:
    def __init__(self, cocoGt=None, cocoDt=None, iouType='segm'):
        self.cocoGt, self.cocoDt = cocoGt, cocoDt
        self.evalVids = defaultdict(list)
        self.eval = {}
        self._gts, self._dts = defaultdict(list), defaultdict(list)
        self.params = Params(iouType=iouType)
        self._paramsEval = {}
        self.stats = []
        self.ious = {}
        if cocoGt is not None:
            self.params.vidIds = sorted(cocoGt.getVidIds())
            self.params.catIds = sorted(cocoGt.getCatIds())

    def _prepare(self):
        def _toMask(anns, coco):
            for ann in anns:
                for i, a in enumerate(ann['segmentations']):
                    if a:
                        rle = coco.annToRLE(ann, i)
                        ann['segmentations'][i] = rle
                l = [a for a in ann['areas'] if a]  # noqa: E741
                if len(l) == 0:
                    ann['avg_area'] = 0
                else:
                    ann['avg_area'] = np.array(l).mean()
        p = self.params
        gts = self.cocoGt.loadAnns(self.cocoGt.getAnnIds(vidIds=p.vidIds, catIds=p.catIds))
        dts = self.cocoDt.loadAnns(self.cocoDt.getAnnIds(vidIds=p.vidIds, catIds=p.catIds))
        _toMask(gts, self.cocoGt)
        _toMask(dts, self.cocoDt)
        for gt in gts:
            gt['ignore'] = gt['ignore'] if 'ignore' in gt else 0
            gt['ignore'] = 'iscrowd' in gt and gt['iscrowd']
        self._gts, self._dts = defaultdict(list), defaultdict(list)
        for gt in gts:
            self._gts[gt['video_id'], gt['category_id']].append(gt)
        for dt in dts:
            self._dts[dt['video_id'], dt['category_id']].append(dt)
        self.evalVids = defaultdict(list)
        self.eval = {}

    def evaluate(self):
        p = self.params
        p.vidIds = list(np.unique(p.vidIds))
        if p.useCats:
            p.catIds = list(np.unique(p.catIds))
        p.maxDets = sorted(p.maxDets)
        self.params = p
        self._prepare()
        catIds = p.catIds if p.useCats else [-1]
        self.ious = {(vidId, catId): self.computeIoU(vidId, catId) for vidId in p.vidIds for catId in catIds}
        maxDet = p.maxDets[-1]
        self.evalImgs = [self.evaluateVid(vidId, catId, areaRng, maxDet)
                         for catId in catIds for areaRng in p.areaRng for vidId in p.vidIds]
        self._paramsEval = copy.deepcopy(self.params)

    def computeIoU(self, vidId, catId):
        p = self.params
        gt = self._gts[vidId, catId]
        dt = self._dts[vidId, catId]
        if len(gt) == 0 and len(dt) == 0:
            return []
        inds = np.argsort([-d['score'] for d in dt], kind='mergesort')
        dt = [dt[i] for i in inds]
        if len(dt) > p.maxDets[-1]:
            dt = dt[0:p.maxDets[-1]]
        g = [g['segmentations'] for g in gt]
        d = [d['segmentations'] for d in dt]

        def iou_seq(d_seq, g_seq):
            i = .0
            u = .0
            for d, g in zip(d_seq, g_seq):
                if d and g:
                    i += maskUtils.area(maskUtils.merge([d, g], True))
                    u += maskUtils.area(maskUtils.merge([d, g], False))
                elif not d and g:
                    u += maskUtils.area(g)
                elif d and not g:
                    u += maskUtils.area(d)
            iou = i / u if u > .0 else .0
            return iou
        ious = np.zeros([len(d), len(g)])
        for i, j in np.ndindex(ious.shape):
            ious[i, j] = iou_seq(d[i], g[j])
        return ious

    def evaluateVid(self, vidId, catId, aRng, maxDet):
        p = self.params
        gt = self._gts[vidId, catId]
        dt = self._dts[vidId, catId]
        if len(gt) == 0 and len(dt) == 0:
            return None
        for g in gt:
            if g['ignore'] or (g['avg_area'] < aRng[0] or g['avg_area'] > aRng[1]):
                g['_ignore'] = 1
            else:
                g['_ignore'] = 0
        gtind = np.argsort([g['_ignore'] for g in gt], kind='mergesort')
        gt = [gt[i] for i in gtind]
        dtind = np.argsort([-d['score'] for d in dt], kind='mergesort')
        dt = [dt[i] for i in dtind[0:maxDet]]
        iscrowd = [int(o['iscrowd']) for o in gt]
        ious = self.ious[vidId, catId][:, gtind] if len(self.ious[vidId, catId]) > 0 else self.ious[vidId, catId]
        T = len(p.iouThrs)
        G = len(gt)
        D = len(dt)
        gtm = np.zeros((T, G))
        dtm = np.zeros((T, D))
        gtIg = np.array([g['_ignore'] for g in gt])
        dtIg = np.zeros((T, D))
        if not len(ious) == 0:
            for tind, t in enumerate(p.iouThrs):
                for dind, d in enumerate(dt):
                    iou = min([t, 1 - 1e-10])
                    m = -1
                    for gind, g in enumerate(gt):
                        if gtm[tind, gind] > 0 and not iscrowd[gind]:
                            continue
                        if m > -1 and gtIg[m] == 0 and gtIg[gind] == 1:
                            break
                        if ious[dind, gind] < iou:
                            continue
                        iou = ious[dind, gind]
                        m = gind
                    if m == -1:
                        continue
                    dtIg[tind, dind] = gtIg[m]
                    dtm[tind, dind] = gt[m]['id']
                    gtm[tind, m] = d['id']
        a = np.array([d['avg_area'] < aRng[0] or d['avg_area'] > aRng[1] for d in dt]).reshape((1, len(dt)))
        dtIg = np.logical_or(dtIg, np.logical_and(dtm == 0, np.repeat(a, T, 0)))
        return {'video_id': vidId, 'category_id': catId, 'aRng': aRng, 'maxDet': maxDet,
                'dtIds': [d['id'] for d in dt], 'gtIds': [g['id'] for g in gt], 'dtMatches': dtm,
                'gtMatches': gtm, 'dtScores': [d['score'] for d in dt], 'gtIgnore': gtIg, 'dtIgnore': dtIg}

    def accumulate(self, p=None):
        if p is None:
            p = self.params
        p.catIds = p.catIds if p.useCats == 1 else [-1]
        T = len(p.iouThrs)
        R = len(p.recThrs)
        K = len(p.catIds) if p.useCats else 1
        A = len(p.areaRng)
        M = len(p.maxDets)
        precision = -np.ones((T, R, K, A, M))
        recall = -np.ones((T, K, A, M))
        scores = -np.ones((T, R, K, A, M))
        _pe = self._paramsEval
        catIds = _pe.catIds if _pe.useCats else [-1]
        setK = set(catIds)
        setA = set(map(tuple, _pe.areaRng))
        setM = set(_pe.maxDets)
        setI = set(_pe.vidIds)
        k_list = [n for n, k in enumerate(p.catIds) if k in setK]
        m_list = [m for n, m in enumerate(p.maxDets) if m in setM]
        a_list = [n for n, a in enumerate(map(lambda x: tuple(x), p.areaRng)) if a in setA]
        i_list = [n for n, i in enumerate(p.vidIds) if i in setI]
        I0 = len(_pe.vidIds)
        A0 = len(_pe.areaRng)
        for k, k0 in enumerate(k_list):
            Nk = k0 * A0 * I0
            for a, a0 in enumerate(a_list):
                Na = a0 * I0
                for m, maxDet in enumerate(m_list):
                    E = [self.evalImgs[Nk + Na + i] for i in i_list]
                    E = [e for e in E if not e is None]  # noqa: E714
                    if len(E) == 0:
                        continue
                    dtScores = np.concatenate([e['dtScores'][0:maxDet] for e in E])
                    inds = np.argsort(-dtScores, kind='mergesort')
                    dtScoresSorted = dtScores[inds]
                    dtm = np.concatenate([e['dtMatches'][:, 0:maxDet] for e in E], axis=1)[:, inds]
                    dtIg = np.concatenate([e['dtIgnore'][:, 0:maxDet] for e in E], axis=1)[:, inds]
                    gtIg = np.concatenate([e['gtIgnore'] for e in E])
                    npig = np.count_nonzero(gtIg == 0)
                    if npig == 0:
                        continue
                    tps = np.logical_and(dtm, np.logical_not(dtIg))
                    fps = np.logical_and(np.logical_not(dtm), np.logical_not(dtIg))
                    tp_sum = np.cumsum(tps, axis=1).astype(dtype=np.float64)
                    fp_sum = np.cumsum(fps, axis=1).astype(dtype=np.float64)
                    for t, (tp, fp) in enumerate(zip(tp_sum, fp_sum)):
                        tp = np.array(tp)
                        fp = np.array(fp)
                        nd = len(tp)
                        rc = tp / npig
                        pr = tp / (fp + tp + np.spacing(1))
                        q = np.zeros((R,))
                        ss = np.zeros((R,))
                        if nd:
                            recall[t, k, a, m] = rc[-1]
                        else:
                            recall[t, k, a, m] = 0
                        pr = pr.tolist()
                        q = q.tolist()
                        for i in range(nd - 1, 0, -1):
                            if pr[i] > pr[i - 1]:
                                pr[i - 1] = pr[i]
                        inds = np.searchsorted(rc, p.recThrs, side='left')
                        try:
                            for ri, pi in enumerate(inds):
                                q[ri] = pr[pi]
                                ss[ri] = dtScoresSorted[pi]
                        except Exception:
                            pass
                        precision[t, :, k, a, m] = np.array(q)
                        scores[t, :, k, a, m] = np.array(ss)
        self.eval = {'params': p, 'counts': [T, R, K, A, M], 'precision': precision, 'recall': recall,
                     'scores': scores}

    def summarize(self):
        def _summarize(ap=1, iouThr=None, areaRng='all', maxDets=100):
            p = self.params
            aind = [i for i, aRng in enumerate(p.areaRngLbl) if aRng == areaRng]
            mind = [i for i, mDet in enumerate(p.maxDets) if mDet == maxDets]
            if ap == 1:
                s = self.eval['precision']
                if iouThr is not None:
                    t = np.where(iouThr == p.iouThrs)[0]
                    s = s[t]
                s = s[:, :, :, aind, mind]
            else:
                s = self.eval['recall']
                if iouThr is not None:
                    t = np.where(iouThr == p.iouThrs)[0]
                    s = s[t]
                s = s[:, :, aind, mind]
            if len(s[s > -1]) == 0:
                mean_s = -1
            else:
                mean_s = np.mean(s[s > -1])
            return mean_s
        stats = np.zeros((12,))
        stats[0] = _summarize(1)
        stats[1] = _summarize(1, iouThr=.5, maxDets=self.params.maxDets[2])
        stats[2] = _summarize(1, iouThr=.75, maxDets=self.params.maxDets[2])
        stats[3] = _summarize(1, areaRng='small', maxDets=self.params.maxDets[2])
        stats[4] = _summarize(1, areaRng='medium', maxDets=self.params.maxDets[2])
        stats[5] = _summarize(1, areaRng='large', maxDets=self.params.maxDets[2])
        stats[6] = _summarize(0, maxDets=self.params.maxDets[0])
        stats[7] = _summarize(0, maxDets=self.params.maxDets[1])
        stats[8] = _summarize(0, maxDets=self.params.maxDets[2])
        stats[9] = _summarize(0, areaRng='small', maxDets=self.params.maxDets[2])
        stats[10] = _summarize(0, areaRng='medium', maxDets=self.params.maxDets[2])
        stats[11] = _summarize(0, areaRng='large', maxDets=self.params.maxDets[2])
        self.stats = stats


def reference_stats(gt_json, res_json):
    gt = YTVOS(str(gt_json))
    dt = gt.loadRes(str(res_json))
    ev = YTVOSeval(gt, dt, 'segm')
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    return dict(zip(KEYS, ev.stats)), ev


# ============================================================================ helpers
def _ours(gt_json, res_json, workers=1, chunk_size=8):
    ds = YouTubeVIS(gt_json)
    out = evaluate_samples(ds, ds.predictions(res_json), ds.build_metrics(None), workers=workers,
                           chunk_size=chunk_size)
    return out.results["ytvis_ap@1"]


def _same(ours: dict, ref: dict, tol=1e-12):
    for k in KEYS:
        r = ref[k]
        o = ours[k]
        if r == -1:
            assert math.isnan(o), (k, o)
        else:
            assert abs(o - r) <= tol, (k, o, r)


def _to_polygons_and_uncompressed(gt_json, out):
    """Rewrite some GT frames as polygons (from mask contours) and some as uncompressed RLE."""
    from skimage import measure
    d = json.loads(Path(gt_json).read_text())
    for a in d["annotations"]:
        for t, s in enumerate(a["segmentations"]):
            if not s:
                continue
            m = maskUtils.decode(s)
            if (a["id"] + t) % 3 == 0:
                polys = []
                for c in measure.find_contours(np.pad(m, 1), 0.5):
                    c = c - 1
                    if len(c) >= 3:
                        polys.append([float(v) for xy in c[:, ::-1] for v in xy])
                if polys:
                    a["segmentations"][t] = polys
                    rle = maskUtils.merge(maskUtils.frPyObjects(polys, m.shape[0], m.shape[1]))
                    a["areas"][t] = float(maskUtils.area(rle))
            elif (a["id"] + t) % 3 == 1:
                flat = m.flatten(order="F")
                runs, cur, n = [], 0, 0
                for v in flat:
                    if v != cur:
                        runs.append(n); n = 0; cur = v
                    n += 1
                runs.append(n)
                a["segmentations"][t] = {"size": list(m.shape), "counts": [int(x) for x in runs]}
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(d))
    return Path(out)


# ============================================================================ tests
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_synthetic_equals_transcribed_ytvoseval(tmp_path, seed):
    gt = YouTubeVIS.make_fake(tmp_path / "gt", num_samples=6, seed=seed, frames=5, height=300, width=420,
                              tracks=5)
    res = make_fake_results(gt, tmp_path / "res.json", seed=seed + 10, extra=3)
    ref, ev = reference_stats(gt, res)
    ours = _ours(gt, res)
    _same(ours.values, ref)
    # per-category AP
    for k, cat in enumerate(ev.params.catIds):
        s = ev.eval["precision"][:, :, k, 0, -1]
        exp = np.mean(s[s > -1]) if (s > -1).any() else float("nan")
        got = ours.per_class[f"class{cat}"]["AP"]
        assert (math.isnan(exp) and math.isnan(got)) or abs(exp - got) <= 1e-12


def test_2021_layout_polygons_and_uncompressed_rle(tmp_path):
    gt = YouTubeVIS.make_fake(tmp_path / "g", num_samples=4, seed=5, frames=4, height=120, width=160)
    gt21 = _to_polygons_and_uncompressed(gt, tmp_path / "ytvis2021" / "valid" / "instances.json")
    res = make_fake_results(gt, tmp_path / "res.json", seed=6)
    ref, _ = reference_stats(gt21, res)
    ds = load_dataset("youtube-vis", tmp_path / "ytvis2021")       # folder root, split "valid"
    assert ds.json_path() == gt21
    out = evaluate_samples(ds, ds.predictions(res), ds.build_metrics(None))
    _same(out.results["ytvis_ap@1"].values, ref)


def test_single_frame_videos_equal_pycocotools_cocoeval(tmp_path):
    """With one frame per video and no crowd, YouTube-VIS AP is COCO segm AP with 128/256 area ranges."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt = YouTubeVIS.make_fake(tmp_path / "g", num_samples=12, seed=7, frames=1, height=400, width=500, tracks=5)
    d = json.loads(gt.read_text())
    for a in d["annotations"]:
        a["iscrowd"] = 0
    gt.write_text(json.dumps(d))
    res = make_fake_results(gt, tmp_path / "res.json", seed=8, extra=2)
    r = json.loads(res.read_text())
    r = [x for x in r if x["segmentations"][0]]
    res.write_text(json.dumps(r))
    coco_gt = {"images": [{"id": v["id"], "height": v["height"], "width": v["width"]} for v in d["videos"]],
               "categories": d["categories"],
               "annotations": [{"id": a["id"], "image_id": a["video_id"], "category_id": a["category_id"],
                                "iscrowd": 0, "segmentation": a["segmentations"][0], "area": a["areas"][0] or 0,
                                "bbox": a["bboxes"][0] or [0, 0, 0, 0]}
                               for a in d["annotations"] if a["segmentations"][0]]}
    d["annotations"] = [a for a in d["annotations"] if a["segmentations"][0]]
    gt.write_text(json.dumps(d))
    cg = COCO()
    cg.dataset = coco_gt
    cg.createIndex()
    cd = cg.loadRes([{"image_id": x["video_id"], "category_id": x["category_id"], "score": x["score"],
                      "segmentation": x["segmentations"][0]} for x in r])
    ev = COCOeval(cg, cd, "segm")
    ev.params.areaRng = [[0 ** 2, 1e5 ** 2], [0 ** 2, 128 ** 2], [128 ** 2, 256 ** 2], [256 ** 2, 1e5 ** 2]]
    import contextlib
    import io
    with contextlib.redirect_stdout(io.StringIO()):
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    _same(_ours(gt, res).values, dict(zip(KEYS, ev.stats)))


def test_track_iou_sums_over_frames():
    def rle(m):
        return maskUtils.encode(np.asfortranarray(m.astype(np.uint8)))
    a = np.zeros((10, 10), bool); a[0:4, 0:4] = True        # 16 px
    b = np.zeros((10, 10), bool); b[2:6, 2:6] = True        # 16 px, overlap 4
    d = [rle(a), rle(a), None]
    g = [rle(b), None, rle(b)]
    # frame 0: i = 4, u = 28; frame 1: u += 16 (det only); frame 2: u += 16 (gt only)
    assert FV.ytvis_track_ious([d], [g], 3)[0, 0] == 4 / 60
    assert FV.ytvis_track_ious([[None]], [[None]], 1)[0, 0] == 0.0


def test_workers_and_state_roundtrip(tmp_path):
    gt = YouTubeVIS.make_fake(tmp_path / "gt", num_samples=9, seed=11, frames=3, height=64, width=96)
    res = make_fake_results(gt, tmp_path / "res.json", seed=12)
    one = _ours(gt, res, workers=1, chunk_size=2)
    two = _ours(gt, res, workers=2, chunk_size=2)
    assert one.to_dict() == two.to_dict()
    ds = YouTubeVIS(gt)
    m = ds.build_metrics(None)[0]
    src = ds.predictions(res)
    for sid in ds.sample_ids():
        s = ds.load(sid)
        m.update(src.load(s), s)
    st = json.loads(json.dumps(m.state_dict()))
    m2 = YTVISAP.from_state(st, ds.label_space())
    assert m2.compute().to_dict() == one.to_dict()
    with pytest.raises(BadInputError):
        m2.merge(YTVISAP.from_state(st, ds.label_space()))


def test_bad_results_are_clear_errors(tmp_path):
    gt = YouTubeVIS.make_fake(tmp_path / "gt", num_samples=2, seed=13, frames=3, height=40, width=50)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"video_id": 99, "category_id": 1, "score": 0.5, "segmentations": [None] * 3}]))
    with pytest.raises(BadInputError, match="unknown video id"):
        YouTubeVIS(gt).predictions(bad)
    bad.write_text(json.dumps([{"video_id": 1, "category_id": 1, "segmentations": []}]))
    with pytest.raises(BadInputError, match="score"):
        YTVISResults(bad)
    r = maskUtils.encode(np.asfortranarray(np.ones((41, 50), np.uint8)))
    bad.write_text(json.dumps([{"video_id": 1, "category_id": 1, "score": 0.5,
                                "segmentations": [{"size": r["size"], "counts": r["counts"].decode()}]}]))
    ds = YouTubeVIS(gt)
    with pytest.raises(BadInputError, match="size"):
        evaluate_run(ds, ds.predictions(bad), ds.build_metrics(None))
    assert main(["eval", str(bad), "--dataset", "youtube-vis", "--gt", str(gt)]) == 2


def test_cli_eval_youtube_vis(tmp_path):
    gt = YouTubeVIS.make_fake(tmp_path / "gt", num_samples=5, seed=14, frames=4, height=200, width=260)
    res = make_fake_results(gt, tmp_path / "res.json", seed=15)
    ref, _ = reference_stats(gt, res)
    out = tmp_path / "run.json"
    assert main(["eval", str(res), "--dataset", "youtube-vis", "--gt", str(gt), "--json", str(out)]) == 0
    vals = json.loads(out.read_text())["metrics"]["ytvis_ap@1"]["values"]
    for k in KEYS:
        if ref[k] == -1:
            assert vals[k] is None
        else:
            assert vals[k] == pytest.approx(ref[k], abs=1e-12)


def test_videos_without_results_count_as_misses(tmp_path):
    gt = YouTubeVIS.make_fake(tmp_path / "gt", num_samples=4, seed=16, frames=3, height=64, width=96)
    res = make_fake_results(gt, tmp_path / "res.json", seed=17)
    r = [x for x in json.loads(res.read_text()) if x["video_id"] != 1]
    res.write_text(json.dumps(r))
    ref, _ = reference_stats(gt, res)
    _same(_ours(gt, res).values, ref)

"""A literal transcription of davis2017-evaluation (the reference for segbench's ``davis_jf``).

Transcribed from github.com/davisvideochallenge/davis2017-evaluation (BSD-3-Clause; commit
30b698a691681588bbcfe0f2a7c7c680d49bb72d): ``davis2017/davis.py`` (``DAVIS._get_all_elements`` /
``get_all_masks``), ``davis2017/results.py`` (``Results.read_masks``), ``davis2017/evaluation.py``
(``_evaluate_semisupervised`` / ``_evaluate_unsupervised`` / ``evaluate``), ``davis2017/metrics.py``
(``db_eval_iou``, ``db_eval_boundary``, ``f_measure``; ``_seg2bmap`` is taken from the installed
``vos-benchmark`` package, whose copy is identical), ``davis2017/utils.py`` (``db_statistics``) and
``evaluation_method.py`` (the global table). Only ``np.bool`` (removed from numpy) became ``bool`` and
``sys.exit`` became an exception. cv2 and skimage are the reference's own dependencies.

The tests in this file check the transcription itself against the installed ``vos-benchmark``
evaluator on the real DAVIS data where both algorithms coincide.
"""

from __future__ import annotations

import os
import warnings
from glob import glob
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.optimize import linear_sum_assignment

cv2 = pytest.importorskip("cv2")
vos_utils = pytest.importorskip("vos_benchmark.utils")
from skimage.morphology import disk  # noqa: E402

DATA = Path(__file__).resolve().parent / "data" / "davis"
_VOID_LABEL = 255


class ReferenceExit(Exception):
    """Where the reference calls sys.exit()."""


# ---------------------------------------------------------------- davis2017/metrics.py
def db_eval_iou(annotation, segmentation, void_pixels=None):
    assert annotation.shape == segmentation.shape
    annotation = annotation.astype(bool)
    segmentation = segmentation.astype(bool)
    if void_pixels is not None:
        assert annotation.shape == void_pixels.shape
        void_pixels = void_pixels.astype(bool)
    else:
        void_pixels = np.zeros_like(segmentation)
    inters = np.sum((segmentation & annotation) & np.logical_not(void_pixels), axis=(-2, -1))
    union = np.sum((segmentation | annotation) & np.logical_not(void_pixels), axis=(-2, -1))
    j = inters / union
    if j.ndim == 0:
        j = 1 if np.isclose(union, 0) else j
    else:
        j[np.isclose(union, 0)] = 1
    return j


def db_eval_boundary(annotation, segmentation, void_pixels=None, bound_th=0.008):
    assert annotation.shape == segmentation.shape
    if void_pixels is not None:
        assert annotation.shape == void_pixels.shape
    if annotation.ndim == 3:
        n_frames = annotation.shape[0]
        f_res = np.zeros(n_frames)
        for frame_id in range(n_frames):
            void_pixels_frame = None if void_pixels is None else void_pixels[frame_id, :, :, ]
            f_res[frame_id] = f_measure(segmentation[frame_id, :, :, ], annotation[frame_id, :, :], void_pixels_frame,
                                        bound_th=bound_th)
    elif annotation.ndim == 2:
        f_res = f_measure(segmentation, annotation, void_pixels, bound_th=bound_th)
    else:
        raise ValueError
    return f_res


def f_measure(foreground_mask, gt_mask, void_pixels=None, bound_th=0.008):
    assert np.atleast_3d(foreground_mask).shape[2] == 1
    if void_pixels is not None:
        void_pixels = void_pixels.astype(bool)
    else:
        void_pixels = np.zeros_like(foreground_mask).astype(bool)
    bound_pix = bound_th if bound_th >= 1 else np.ceil(bound_th * np.linalg.norm(foreground_mask.shape))
    fg_boundary = vos_utils._seg2bmap(foreground_mask * np.logical_not(void_pixels))
    gt_boundary = vos_utils._seg2bmap(gt_mask * np.logical_not(void_pixels))
    fg_dil = cv2.dilate(fg_boundary.astype(np.uint8), disk(bound_pix).astype(np.uint8))
    gt_dil = cv2.dilate(gt_boundary.astype(np.uint8), disk(bound_pix).astype(np.uint8))
    gt_match = gt_boundary * fg_dil
    fg_match = fg_boundary * gt_dil
    n_fg = np.sum(fg_boundary)
    n_gt = np.sum(gt_boundary)
    if n_fg == 0 and n_gt > 0:
        precision = 1
        recall = 0
    elif n_fg > 0 and n_gt == 0:
        precision = 0
        recall = 1
    elif n_fg == 0 and n_gt == 0:
        precision = 1
        recall = 1
    else:
        precision = np.sum(fg_match) / float(n_fg)
        recall = np.sum(gt_match) / float(n_gt)
    if precision + recall == 0:
        F = 0
    else:
        F = 2 * precision * recall / (precision + recall)
    return F


# ---------------------------------------------------------------- davis2017/utils.py
def db_statistics(per_frame_values):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        M = np.nanmean(per_frame_values)
        O = np.nanmean(per_frame_values > 0.5)
    N_bins = 4
    ids = np.round(np.linspace(1, len(per_frame_values), N_bins + 1) + 1e-10) - 1
    ids = ids.astype(np.uint8)
    D_bins = [per_frame_values[ids[i]:ids[i + 1] + 1] for i in range(0, 4)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        D = np.nanmean(D_bins[0]) - np.nanmean(D_bins[3])
    return M, O, D


# ---------------------------------------------------------------- davis2017/davis.py, results.py
def _get_all_masks(mask_paths):
    """DAVIS._get_all_elements(seq, 'masks') + get_all_masks(seq, True)."""
    obj = np.array(Image.open(mask_paths[0]))
    all_objs = np.zeros((len(mask_paths), *obj.shape))
    obj_id = []
    for i, obj in enumerate(mask_paths):
        all_objs[i, ...] = np.array(Image.open(obj))
        all_objs[i, all_objs[i, ...] == 255] = 0
        obj_id.append(''.join(obj.split('/')[-1].split('.')[:-1]))
    masks = all_objs
    num_objects = int(np.max(masks[0, ...]))
    # reference: tmp = float64 (num_objects, T, H, W) * arange(1, n + 1); masks = (tmp == masks[None]) > 0
    # (half a gigabyte for 3 objects x 50 frames at 480p); _ObjectStack builds the same slices lazily
    return _ObjectStack(masks, num_objects), obj_id


def _read_masks(root_dir, sequence, masks_id):
    def _read_mask(frame_id):
        mask_path = os.path.join(root_dir, sequence, f'{frame_id}.png')
        try:
            return np.array(Image.open(mask_path))
        except IOError:
            raise ReferenceExit(f"{sequence} frame {frame_id} not found!") from None
    mask_0 = _read_mask(masks_id[0])
    masks = np.zeros((len(masks_id), *mask_0.shape))
    for ii, m in enumerate(masks_id):
        masks[ii, ...] = _read_mask(m)
    num_objects = int(np.max(masks))
    # the reference builds (tmp == masks[None]) > 0 with a float64 (num_objects, T, H, W) ``tmp``
    # (gigabytes for 20 proposals); _ObjectStack yields the same boolean slices one object at a time
    return _ObjectStack(masks, num_objects)


class _ObjectStack:
    """``(np.arange(1, n + 1)[:, None, None, None] == masks[None]) > 0``, built per object on access."""

    def __init__(self, masks, n):
        self.masks, self.n = masks, n
        self.shape = (n, *masks.shape)

    def __getitem__(self, key):
        if isinstance(key, tuple) and isinstance(key[0], slice) and key[0] == slice(None):
            return _ObjectStack(self.masks[key[1:]], self.n)   # e.g. all_gt_masks[:, 1:-1, :, :]
        ii = key[0] if isinstance(key, tuple) else key
        return self.masks == (ii + 1)


def _pad(all_res_masks, n):
    return _ObjectStack(all_res_masks.masks, n)


# ---------------------------------------------------------------- davis2017/evaluation.py
def _evaluate_semisupervised(all_gt_masks, all_res_masks, metric):
    if all_res_masks.shape[0] != all_gt_masks.shape[0]:
        raise ReferenceExit("In your PNG files there is an index higher than the number of objects in the sequence!")
    j_metrics_res, f_metrics_res = np.zeros(all_gt_masks.shape[:2]), np.zeros(all_gt_masks.shape[:2])
    for ii in range(all_gt_masks.shape[0]):
        void_masks = all_gt_masks[ii, ...] == _VOID_LABEL
        if 'J' in metric:
            j_metrics_res[ii, :] = db_eval_iou(all_gt_masks[ii, ...], all_res_masks[ii, ...], void_masks)
        if 'F' in metric:
            f_metrics_res[ii, :] = db_eval_boundary(all_gt_masks[ii, ...], all_res_masks[ii, ...], void_masks)
    return j_metrics_res, f_metrics_res


def _evaluate_unsupervised(all_gt_masks, all_res_masks, metric, max_n_proposals=20):
    if all_res_masks.shape[0] > max_n_proposals:
        raise ReferenceExit("index higher than the maximum number of proposals")
    elif all_res_masks.shape[0] < all_gt_masks.shape[0]:
        # reference: concatenate zero masks up to the number of GT objects (ids above the max are empty)
        all_res_masks = _pad(all_res_masks, all_gt_masks.shape[0])
    j_metrics_res = np.zeros((all_res_masks.shape[0], all_gt_masks.shape[0], all_gt_masks.shape[1]))
    f_metrics_res = np.zeros((all_res_masks.shape[0], all_gt_masks.shape[0], all_gt_masks.shape[1]))
    for ii in range(all_gt_masks.shape[0]):
        for jj in range(all_res_masks.shape[0]):
            void_masks = all_gt_masks[ii, ...] == _VOID_LABEL
            if 'J' in metric:
                j_metrics_res[jj, ii, :] = db_eval_iou(all_gt_masks[ii, ...], all_res_masks[jj, ...], void_masks)
            if 'F' in metric:
                f_metrics_res[jj, ii, :] = db_eval_boundary(all_gt_masks[ii, ...], all_res_masks[jj, ...], void_masks)
    if 'J' in metric and 'F' in metric:
        all_metrics = (np.mean(j_metrics_res, axis=2) + np.mean(f_metrics_res, axis=2)) / 2
    else:
        all_metrics = np.mean(j_metrics_res, axis=2) if 'J' in metric else np.mean(f_metrics_res, axis=2)
    row_ind, col_ind = linear_sum_assignment(-all_metrics)
    return j_metrics_res[row_ind, col_ind, :], f_metrics_res[row_ind, col_ind, :]


def reference_evaluate(gt_root, res_path, sequences, task, metric=('J', 'F')):
    """DAVISEvaluation.evaluate + evaluation_method.py's global numbers.

    ``gt_root/<seq>/*.png`` are the annotations (davis.py globs and sorts them).
    Returns (g_res dict, M_per_object J dict, M_per_object F dict).
    """
    metrics_res = {'J': {"M": [], "R": [], "D": [], "M_per_object": {}},
                   'F': {"M": [], "R": [], "D": [], "M_per_object": {}}}
    for seq in sequences:
        mask_paths = np.sort(glob(os.path.join(str(gt_root), seq, '*.png'))).tolist()
        all_gt_masks, all_masks_id = _get_all_masks(mask_paths)
        if task == 'semi-supervised':
            all_gt_masks, all_masks_id = all_gt_masks[:, 1:-1, :, :], all_masks_id[1:-1]
        all_res_masks = _read_masks(str(res_path), seq, all_masks_id)
        if task == 'unsupervised':
            j_metrics_res, f_metrics_res = _evaluate_unsupervised(all_gt_masks, all_res_masks, metric)
        elif task == 'semi-supervised':
            j_metrics_res, f_metrics_res = _evaluate_semisupervised(all_gt_masks, all_res_masks, metric)
        for ii in range(all_gt_masks.shape[0]):
            seq_name = f'{seq}_{ii+1}'
            [JM, JR, JD] = db_statistics(j_metrics_res[ii])
            metrics_res['J']["M"].append(JM)
            metrics_res['J']["R"].append(JR)
            metrics_res['J']["D"].append(JD)
            metrics_res['J']["M_per_object"][seq_name] = JM
            [FM, FR, FD] = db_statistics(f_metrics_res[ii])
            metrics_res['F']["M"].append(FM)
            metrics_res['F']["R"].append(FR)
            metrics_res['F']["D"].append(FD)
            metrics_res['F']["M_per_object"][seq_name] = FM
    J, F = metrics_res['J'], metrics_res['F']
    final_mean = (np.mean(J["M"]) + np.mean(F["M"])) / 2.
    g = [final_mean, np.mean(J["M"]), np.mean(J["R"]), np.mean(J["D"]), np.mean(F["M"]), np.mean(F["R"]),
         np.mean(F["D"])]
    keys = ["J&F", "J_mean", "J_recall", "J_decay", "F_mean", "F_recall", "F_decay"]
    return dict(zip(keys, (float(x) for x in g))), J["M_per_object"], F["M_per_object"]


def write_2017_copy(src_root: Path, dst_root: Path, sequences):
    """Copy 2016 binary annotations (0/255) as 2017 indexed PNGs (0/1): the reference reads 255 as void."""
    for seq in sequences:
        (dst_root / seq).mkdir(parents=True, exist_ok=True)
        for f in sorted((src_root / seq).glob("*.png")):
            a = (np.array(Image.open(f)) > 127).astype(np.uint8)
            im = Image.fromarray(a, mode="P")
            im.putpalette([0, 0, 0, 128, 0, 0] + [0] * (256 * 3 - 6))
            im.save(dst_root / seq / f.name)


# ---------------------------------------------------------------- self-checks of the transcription
SEQS = ["blackswan", "car-shadow", "dog"]


@pytest.mark.skipif(not (DATA / "DAVIS").exists(), reason="tests/data/davis missing")
def test_transcription_agrees_with_vos_benchmark(tmp_path):
    """vos-benchmark's Evaluator (installed package) and the transcription give the same per-object
    J and F means in semi-supervised mode (where the two algorithms coincide)."""
    from vos_benchmark.evaluator import Evaluator

    gt2017 = tmp_path / "gt"
    write_2017_copy(DATA / "DAVIS" / "Annotations" / "480p", gt2017, SEQS)
    res = DATA / "results" / "semi-supervised" / "osvos"
    _, jm, fm = reference_evaluate(gt2017, res, SEQS, "semi-supervised")
    for seq in SEQS:
        ev = Evaluator(name=seq)
        frames = sorted(os.listdir(gt2017 / seq))[1:-1]
        for f in frames:
            ev.feed_frame(np.array(Image.open(res / seq / f)), np.array(Image.open(gt2017 / seq / f)))
        iou, bf = ev.conclude()
        assert abs(iou[1] / 100 - jm[f"{seq}_1"]) < 1e-12
        assert abs(bf[1] / 100 - fm[f"{seq}_1"]) < 1e-12

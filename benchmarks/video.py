"""DAVIS J&F speed: segbench vs the davis2017-evaluation algorithm, side by side in one process.

Writes N seeded synthetic sequences (default 30 sequences x 50 frames at 480x854, 3 objects, void rims)
and seeded imperfect predictions as DAVIS PNG folders, then scores them with

- the reference: the literal transcription of davis2017-evaluation in ``tests/test_davis_reference.py``
  (PNG reading, per-object masks, ``db_eval_iou``, ``f_measure`` with cv2 / skimage, ``db_statistics``,
  Hungarian matching for the unsupervised task). Its float64 ``(objects, T, H, W)`` mask stacks are
  replaced by per-object slices built on access (same values, far less memory), which if anything
  makes the reference faster;
- segbench: the ``davis-style`` adapter + ``davis_jf`` through ``segbench.engine`` (1 worker).

Both include PNG decoding. Prints the seconds of each, the speed ratio and the largest difference of
the seven summary numbers (they must be identical).

``--ytvis`` instead times YouTube-VIS video AP: segbench ``ytvis_ap`` against the transcription of the
YouTube-VIS cocoapi fork's ``YTVOSeval`` in ``tests/test_video_ytvis.py`` on seeded fake GT / results.

Usage::

    python3 benchmarks/video.py                       # 30 x 50 frames, semi-supervised
    python3 benchmarks/video.py --task unsupervised --sequences 5 --frames 20
    python3 benchmarks/video.py --ytvis --sequences 50 --frames 20
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sequences", type=int, default=30)
    ap.add_argument("--frames", type=int, default=50)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--width", type=int, default=854)
    ap.add_argument("--objects", type=int, default=3)
    ap.add_argument("--task", default="semi-supervised", choices=["semi-supervised", "unsupervised"])
    ap.add_argument("--extra", type=int, default=2, help="spurious proposals per frame (unsupervised)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ytvis", action="store_true", help="time YouTube-VIS AP instead of DAVIS J&F")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore", category=RuntimeWarning)   # the reference divides 0 / 0 on purpose
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    if args.ytvis:
        return _ytvis(args)

    import test_davis_reference as R  # the literal transcription of davis2017-evaluation
    from segbench.datasets.davis import DavisStyle, make_fake_predictions
    from segbench.engine import evaluate_samples

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        root = DavisStyle.make_fake(tmp / "root", num_samples=args.sequences, seed=args.seed, frames=args.frames,
                                    height=args.height, width=args.width, objects=args.objects, images=False)
        preds = make_fake_predictions(root, tmp / "preds", seed=args.seed + 1, task=args.task, extra=args.extra)
        print(f"data: {args.sequences} sequences x {args.frames} frames at {args.height}x{args.width}, "
              f"{args.objects} objects, task {args.task} (written in {time.perf_counter() - t0:.1f} s)")

        ann = root / "Annotations" / "480p"
        seqs = sorted(p.name for p in ann.iterdir())
        t0 = time.perf_counter()
        ref, _, _ = R.reference_evaluate(ann, preds, seqs, args.task)
        t_ref = time.perf_counter() - t0

        t0 = time.perf_counter()
        ds = DavisStyle(root, task=args.task)
        out = evaluate_samples(ds, ds.predictions(preds, task=args.task), ds.build_metrics(None), workers=1)
        t_sb = time.perf_counter() - t0
        ours = out.results["davis_jf@1"].values

    diff = max(abs(ours[k] - ref[k]) for k in ref)
    print(f"{'key':10s} {'reference':>20s} {'segbench':>20s}")
    for k in ref:
        print(f"{k:10s} {ref[k]:20.15f} {ours[k]:20.15f}")
    print(f"reference (davis2017-evaluation algorithm): {t_ref:8.2f} s")
    print(f"segbench davis_jf (1 worker):               {t_sb:8.2f} s")
    print(f"speed-up: {t_ref / t_sb:.1f}x   max |difference|: {diff:.3g}   (cpu_count={os.cpu_count()})")
    return 0 if diff <= 1e-9 else 1


def _ytvis(args) -> int:
    import contextlib
    import io
    import math

    import test_video_ytvis as Y  # the literal transcription of YTVOSeval
    from segbench.datasets.youtube_vis import YouTubeVIS, make_fake_results
    from segbench.engine import evaluate_samples

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        gt = YouTubeVIS.make_fake(tmp / "gt", num_samples=args.sequences, seed=args.seed, frames=args.frames,
                                  height=min(args.height, 360), width=min(args.width, 640), tracks=5)
        res = make_fake_results(gt, tmp / "res.json", seed=args.seed + 1, extra=5)
        print(f"data: {args.sequences} videos x {args.frames} frames, up to 5 tracks + 5 spurious results each")
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            ref, _ = Y.reference_stats(gt, res)
        t_ref = time.perf_counter() - t0
        t0 = time.perf_counter()
        ds = YouTubeVIS(gt)
        ours = evaluate_samples(ds, ds.predictions(res), ds.build_metrics(None)).results["ytvis_ap@1"].values
        t_sb = time.perf_counter() - t0
    diff = 0.0
    for k in ref:
        r = float(ref[k])
        o = ours[k]
        if r == -1:
            diff = max(diff, 0.0 if math.isnan(o) else 1.0)
        else:
            diff = max(diff, abs(o - r))
        print(f"{k:6s} {r:20.15f} {o:20.15f}")
    print(f"reference (YTVOSeval transcription): {t_ref:8.2f} s")
    print(f"segbench ytvis_ap (1 worker):         {t_sb:8.2f} s")
    print(f"speed-up: {t_ref / t_sb:.1f}x   max |difference|: {diff:.3g}")
    return 0 if diff <= 1e-9 else 1


if __name__ == "__main__":
    sys.exit(main())

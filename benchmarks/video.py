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

Usage::

    python3 benchmarks/video.py                       # 30 x 50 frames, semi-supervised
    python3 benchmarks/video.py --task unsupervised --sequences 5 --frames 20
"""

from __future__ import annotations

import argparse
import os
import warnings
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

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
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore", category=RuntimeWarning)   # the reference divides 0 / 0 on purpose

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


if __name__ == "__main__":
    sys.exit(main())

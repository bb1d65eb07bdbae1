"""COCO instance evaluation speed: pycocotools vs faster-coco-eval vs segbench, side by side.

A seeded COCO-sized synthetic set (default 500 images, about 7 GT and 100 detections per image, masks
as RLE / polygons, boxes in the results as detectors write them) is written to JSON; each evaluator
then *loads both JSONs, evaluates, accumulates and summarises* in this process, on one core
(faster-coco-eval with ``rle_iou_max_workers=1``). The script prints the times, the ratios and checks
that the 12 stats are identical (|diff| <= 1e-12).

Usage::

    python benchmarks/instance.py [--images 500] [--iou-type segm|bbox] [--repeat 1] [--memory]

``--memory`` also runs each evaluator in a fresh subprocess and reports its peak RSS (VmHWM, Linux).
``segbench (engine)`` is the full ``segbench eval`` path (adapter + engine, 1 worker) minus printing.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np


def run_pycocotools(gt, res, iou_type):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    with contextlib.redirect_stdout(io.StringIO()):
        cg = COCO(gt)
        cd = cg.loadRes(res)
        E = COCOeval(cg, cd, iou_type)
        E.evaluate()
        E.accumulate()
        E.summarize()
    return np.asarray(E.stats, dtype=np.float64)


def run_faster(gt, res, iou_type):
    from faster_coco_eval import COCO, COCOeval_faster
    with contextlib.redirect_stdout(io.StringIO()):
        cg = COCO(gt)
        cd = cg.loadRes(res)
        E = COCOeval_faster(cg, cd, iou_type, rle_iou_max_workers=1)
        E.evaluate()
        E.accumulate()
        E.summarize()
    return np.asarray(E.stats[:12], dtype=np.float64)


def run_segbench(gt, res, iou_type):
    from segbench.metrics.functional.coco import evaluate_coco
    return np.array(list(evaluate_coco(gt, res, iou_type=iou_type).values()), dtype=np.float64)


def run_segbench_engine(gt, res, iou_type):
    from segbench.datasets.coco import CocoStyle, _GT_CACHE, _RES_CACHE
    from segbench.engine import evaluate_samples
    from segbench.metrics.functional.coco import STAT_KEYS
    _GT_CACHE.clear()
    _RES_CACHE.clear()
    ds = CocoStyle(gt, iou_type=iou_type)
    out = evaluate_samples(ds, ds.predictions(res), ds.build_metrics(None), workers=1)
    (r,) = out.results.values()
    return np.array([-1.0 if np.isnan(r.values[k]) else r.values[k] for k in STAT_KEYS])


RUNNERS = {"pycocotools": run_pycocotools, "faster-coco-eval": run_faster, "segbench": run_segbench,
           "segbench (engine)": run_segbench_engine}


def _peak_rss(name, gt, res, iou_type) -> float:
    # VmHWM (peak RSS of this process image; ru_maxrss would include the forking parent's RSS)
    code = (f"import sys; sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r});"
            f"import instance as b; b.RUNNERS[{name!r}]({gt!r}, {res!r}, {iou_type!r});"
            f"print([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1]) / 1024.0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=500)
    ap.add_argument("--gt-per-image", type=float, default=7)
    ap.add_argument("--dets-per-image", type=int, default=100)
    ap.add_argument("--iou-type", choices=["segm", "bbox"], default="segm")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=1, help="best of N runs per evaluator")
    ap.add_argument("--memory", action="store_true", help="peak RSS per evaluator (fresh subprocesses)")
    ap.add_argument("--skip", default="", help="comma-separated evaluators to skip")
    args = ap.parse_args(argv)

    from segbench.datasets.coco import synthetic_coco
    t0 = time.perf_counter()
    gt, res = synthetic_coco(args.images, gt_per_image=args.gt_per_image, dets_per_image=args.dets_per_image,
                             seed=args.seed)
    tmp = tempfile.mkdtemp(prefix="segbench_bench_instance_")
    gp, rp = os.path.join(tmp, "instances.json"), os.path.join(tmp, "results.json")
    with open(gp, "w") as f:
        json.dump(gt, f)
    with open(rp, "w") as f:
        json.dump(res, f)
    from segbench.io.coco import _fast_loads
    print("segbench JSON parser:", "orjson" if _fast_loads() is not None else "json (stdlib)",
          "(set SEGBENCH_NO_ORJSON=1 to force the standard library)")
    print(f"synthetic set: {args.images} images, {len(gt['annotations'])} GT, {len(res)} detections, "
          f"iou_type={args.iou_type} (generated in {time.perf_counter() - t0:.1f}s)")
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    times, stats = {}, {}
    for name, fn in RUNNERS.items():
        if name in skip:
            continue
        best = float("inf")
        for _ in range(max(1, args.repeat)):
            gc.collect()
            t = time.perf_counter()
            stats[name] = fn(gp, rp, args.iou_type)
            best = min(best, time.perf_counter() - t)
        times[name] = best
    base = times.get("pycocotools")
    print(f"{'evaluator':<20} {'time (s)':>9} {'vs pycocotools':>15} {'vs faster-coco-eval':>20}")
    for name, t in times.items():
        r1 = f"{base / t:.2f}x" if base else "-"
        r2 = f"{times['faster-coco-eval'] / t:.2f}x" if "faster-coco-eval" in times else "-"
        print(f"{name:<20} {t:>9.3f} {r1:>15} {r2:>20}")
    ok = True
    if "pycocotools" in stats:
        for name, s in stats.items():
            d = float(np.max(np.abs(s - stats["pycocotools"])))
            same = d <= 1e-12
            ok &= same or name == "faster-coco-eval"
            print(f"max |stats - pycocotools| {name:<20} {d:.3g}{'' if same else '  (DIFFERENT)'}")
    if stats:
        print("stats:", " ".join(f"{v:.4f}" for v in stats.get("segbench", next(iter(stats.values())))))
    if args.memory:
        for name in times:
            print(f"peak RSS {name:<20} {_peak_rss(name, gp, rp, args.iou_type):8.1f} MB")
    import shutil
    shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

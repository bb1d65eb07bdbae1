"""The predict loop: run a :class:`~segbench.models.base.ModelWrapper` over a dataset split and write
the predictions in the format that dataset's metrics read.

Writing goes through the adapter's ``write_prediction(sample, prediction, out_dir) -> Path`` hook
when it has one (``isbi-membrane``: 0/255 label PNGs); otherwise through :func:`write_prediction`,
the generic writer by prediction type (extend it, or give the adapter the hook, for new formats):

- :class:`SemanticPrediction` → ``OUT/<sample_id>.png`` with the dataset's *native* ids
  (train ids mapped back through the label space; void stays ``ignore_index``), 8-bit when every
  value fits, else 16-bit;
- :class:`SoftPrediction` → ``OUT/<sample_id>.png``, 16-bit, ``round(p * 65535)``.

Every file is written atomically. ``OUT/segbench-predict.json`` records the model (name, reference,
library version, weights sha256, settings), the dataset and the timing; ``segbench eval OUT`` reads it
back so that the RunRecord of the evaluation names the model that produced the predictions.

Examples
--------
>>> import tempfile, os
>>> from segbench.datasets.isbi_membrane import ISBIMembrane
>>> from segbench.models import get_model
>>> root = ISBIMembrane.make_fake(tempfile.mkdtemp(), num_samples=2, size=32)
>>> out = tempfile.mkdtemp()
>>> summary = run_predict(get_model("skimage-otsu"), ISBIMembrane(root), out)
>>> summary["count"], sorted(os.listdir(out))
(2, ['0.png', '1.png', 'segbench-predict.json'])
"""

from __future__ import annotations

import datetime as _dt
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..errors import UsageError
from ..types import SemanticPrediction, SoftPrediction

__all__ = ["run_predict", "write_prediction", "PREDICT_MANIFEST", "read_predict_manifest"]

PREDICT_MANIFEST = "segbench-predict.json"


def _save_png(path: Path, arr: np.ndarray) -> None:
    from ..io.labels import write_label
    write_label(path, arr)


def write_prediction(dataset, sample, prediction, out_dir) -> Path:
    """Write one prediction in ``dataset``'s format; returns the path written."""
    hook = getattr(dataset, "write_prediction", None)
    if callable(hook):
        return Path(hook(sample, prediction, out_dir))
    out = Path(out_dir) / f"{sample.sample_id}.png"
    if isinstance(prediction, SemanticPrediction):
        ls = dataset.label_space()
        m = np.asarray(prediction.mask)
        if ls is not None:
            ignore = ls.ignore_index
            lut = np.full(max(int(m.max(initial=0)) + 1, ignore + 1), ignore, dtype=np.int64)
            for tid, nid in ls.train_to_id().items():
                if tid < lut.size:
                    lut[tid] = nid
            m = lut[m.astype(np.int64)]
        arr = m.astype(np.uint8) if int(m.max(initial=0)) <= 255 else m.astype(np.uint16)
        _save_png(out, arr)
        return out
    if isinstance(prediction, SoftPrediction):
        p = np.clip(np.asarray(prediction.prob, np.float64), 0.0, 1.0)
        _save_png(out, np.rint(p * 65535).astype(np.uint16))
        return out
    raise UsageError(f"dataset {dataset.spec.name!r} has no writer for {type(prediction).__name__} "
                     "predictions yet; use a dataset whose format the model predicts")


def read_predict_manifest(folder) -> dict | None:
    """The ``model`` dict stored by ``segbench predict`` in ``folder``, or None."""
    import json
    p = Path(folder) / PREDICT_MANIFEST
    if not p.is_file():
        return None
    try:
        d = json.loads(p.read_text(encoding="utf-8"))
    except (ValueError, OSError):
        return None
    if isinstance(d, dict) and d.get("complete") is False:
        from ..errors import BadInputError
        raise BadInputError(f"expected the output of a finished `segbench predict`, found one that was interrupted "
                            f"(model {(d.get('model') or {}).get('name')!r}): its files may mix two runs; rerun it, or "
                            f"delete {PREDICT_MANIFEST} to score the files as your own", path=p)
    return d.get("model") if isinstance(d, dict) else None


def run_predict(model, dataset, out_dir, weights=None, ids: Sequence[str] | None = None,
                progress: Callable[[int, int], None] | None = None) -> dict:
    """Predict every sample of ``dataset`` (or ``ids``) with ``model`` and write the files to ``out_dir``.

    Parameters
    ----------
    model : ModelWrapper
        Built with its options; loaded here with ``weights`` unless already loaded.
    dataset : DatasetAdapter
    out_dir : path
    weights : path, optional
    ids : sequence of str, optional
    progress : callable(done, total), optional

    Returns
    -------
    dict
        ``count``, ``seconds``, ``images_per_s``, ``out`` and the ``model`` description.
    """
    from ..io.atomic import atomic_write_json

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if not model.loaded:
        model.load(weights)
    model.bind(dataset)
    ids = list(dataset.sample_ids() if ids is None else ids)
    if not ids:
        from ..errors import BadInputError
        raise BadInputError(f"expected samples in the {dataset.split!r} split, found none; check --gt and --split",
                            path=dataset.root)
    from .writers import make_writer  # label PNGs here; COCO results / panoptic / DAVIS files there (H8)
    # until this run ends, the folder says so: an interrupted run (into a folder another model filled)
    # must not pass for that model's complete output
    atomic_write_json(out / PREDICT_MANIFEST, {"model": model.describe(), "dataset": dataset.spec.key,
                                               "split": dataset.split, "complete": False})
    writer = make_writer(dataset, out)
    t0 = time.perf_counter()
    done = 0
    bs = max(1, int(getattr(model, "batch_size", 1) or 1))
    for i in range(0, len(ids), bs):
        samples = [dataset.load(s) for s in ids[i:i + bs]]
        preds = model.predict_batch(samples)
        for s, p in zip(samples, preds):
            writer.write(s, p)
        done += len(samples)
        if progress:
            progress(done, len(ids))
    preds_path = writer.close()  # what `segbench eval` reads: OUT, OUT/results.json or OUT/panoptic.json
    secs = time.perf_counter() - t0
    desc = model.describe()
    summary = {"count": done, "seconds": round(secs, 6), "images_per_s": round(done / secs, 3) if secs > 0 else None,
               "out": str(out), "preds": preds_path, "model": desc}
    atomic_write_json(out / PREDICT_MANIFEST, {
        "model": desc, "dataset": dataset.spec.key, "split": dataset.split, "complete": True, "preds": preds_path,
        "count": done, "seconds": summary["seconds"], "images_per_s": summary["images_per_s"],
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")})
    return summary


# ----------------------------------------------------------------------------- CLI: segbench predict
def parse_slide(text: str | None):
    """``"512,341"`` → ``((512, 512), (341, 341))``; ``"512x1024,341x683"`` → ``((512, 1024), (341, 683))``."""
    if text is None:
        return None
    parts = [p.strip() for p in str(text).split(",")]
    try:
        if len(parts) != 2:
            raise ValueError
        out = []
        for p in parts:
            hw = [int(x) for x in p.lower().split("x")]
            if len(hw) == 1:
                hw = hw * 2
            if len(hw) != 2 or min(hw) < 1:
                raise ValueError
            out.append(tuple(hw))
    except ValueError:
        raise UsageError(f"--slide: expected CROP,STRIDE (e.g. 512,341 or 512x1024,341x683), found {text!r}") from None
    if out[1][0] > out[0][0] or out[1][1] > out[0][1]:
        raise UsageError(f"--slide: the stride {out[1]} must not exceed the crop {out[0]} (windows would skip pixels)")
    return tuple(out)


def parse_scales(text: str | None):
    """``"0.5,1,1.5"`` → ``[0.5, 1.0, 1.5]``."""
    if text is None:
        return None
    try:
        vals = [float(x) for x in str(text).split(",") if x.strip()]
        if not vals or min(vals) <= 0:
            raise ValueError
    except ValueError:
        raise UsageError(f"--scales: expected positive numbers separated by commas (e.g. 0.5,1,1.5), found {text!r}") from None
    return vals


def _predict_progress(label: str):
    """A rich progress bar with images/s (only on a terminal); ``(None, None)`` otherwise."""
    import sys
    if not sys.stderr.isatty():
        return None, None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    prog = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[ips]} images/s"), TimeRemainingColumn(),
                    console=Console(stderr=True), transient=True)
    state = {"id": None, "t0": time.perf_counter()}

    def cb(done, total):
        if state["id"] is None:
            state["id"] = prog.add_task(label, total=total, ips="-")
        dt = time.perf_counter() - state["t0"]
        prog.update(state["id"], completed=done, ips=f"{done / dt:.2f}" if dt > 0 else "-")

    return prog, cb


def cmd_predict(args) -> int:
    from ..cli import _console
    from ..datasets import get_dataset_class
    from . import get_model

    from ..cli import _eval_options, check_dataset_options

    cls = get_dataset_class(args.dataset)
    check_dataset_options(cls, args)
    dataset = cls(args.gt, split=args.split, **_eval_options(args))
    model = get_model(args.model, device=args.device, batch_size=args.batch_size, slide=parse_slide(args.slide),
                      scales=parse_scales(args.scales), flip=args.flip,
                      **parse_model_options(getattr(args, "model_option", None)))
    model.load(args.weights)
    prog, cb = _predict_progress(f"predict {model.name}")
    if prog:
        prog.start()
    try:
        summary = run_predict(model, dataset, args.out, progress=cb)
    finally:
        if prog:
            prog.stop()
    ips = summary["images_per_s"]
    _console().print(f"wrote {summary['count']} predictions of {model.name} to {summary['out']} in "
                     f"{summary['seconds']:.2f} s ({ips if ips is not None else 'n/a'} images/s); score them with: "
                     f"segbench eval {summary.get('preds', summary['out'])} --dataset {dataset.spec.name}"
                     + (f" --gt {args.gt}" if args.gt else "") + _eval_hint(args), markup=False)
    return 0


def _eval_hint(args) -> str:
    """The dataset options of a predict command line, repeated for the ``segbench eval`` hint."""
    out = ""
    if getattr(args, "split", None):
        out += f" --split {args.split}"
    if getattr(args, "num_classes", None):
        out += f" --num-classes {args.num_classes}"
    if getattr(args, "labels", None):
        out += f" --labels {args.labels}"
    if getattr(args, "task", None):
        out += f" --task {args.task}"
    for item in getattr(args, "option", None) or []:
        if not str(item).startswith("images="):  # input images: not needed to score
            out += f" --option {item}"
    return out


def _add_predict(sub) -> None:
    p = sub.add_parser("predict", help="run a wrapped model over a dataset and write its predictions")
    p.add_argument("--model", required=True, help="model name (see segbench.models.MODELS)")
    p.add_argument("--dataset", required=True, help="dataset or style name")
    p.add_argument("--gt", help="dataset root (its images are the model's input)")
    p.add_argument("--split", help="split to predict (default: the dataset's)")
    p.add_argument("--out", required=True, help="output folder for the predictions")
    p.add_argument("--num-classes", type=int, help="number of classes (styles without labels.json)")
    p.add_argument("--labels", help="labels.json / labels.csv for styles")
    p.add_argument("--task", help="task variant of the dataset (e.g. semi-supervised|unsupervised for video)")
    p.add_argument("--option", action="append", metavar="KEY=VALUE",
                   help="dataset option, repeatable, as for `segbench eval` (see the dataset card)")
    p.add_argument("--weights", help="local weights file or folder (never downloaded)")
    p.add_argument("--batch-size", type=int, default=1, help="images per forward pass (default 1)")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument("--slide", metavar="CROP,STRIDE", help="sliding-window inference, e.g. 512,341 or 512x1024,341x683")
    p.add_argument("--scales", metavar="S1,S2,...", help="multi-scale inference, e.g. 0.5,1,1.5")
    p.add_argument("--flip", action="store_true", help="average with the horizontally flipped input")
    p.add_argument("--model-option", action="append", metavar="KEY=VALUE",
                   help="wrapper option, repeatable (e.g. encoder=resnet18, resize_size=520, threshold=0.8)")
    p.set_defaults(func=cmd_predict)


def parse_model_options(items) -> dict:
    """``["encoder=resnet18", "threshold=0.8"]`` → ``{"encoder": "resnet18", "threshold": 0.8}`` (JSON values
    where they parse: numbers, true/false, null, lists; strings otherwise)."""
    import json
    out = {}
    for item in items or []:
        key, sep, val = str(item).partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--model-option: expected KEY=VALUE (e.g. encoder=resnet18), found {item!r}")
        try:
            out[key.strip()] = json.loads(val)
        except ValueError:
            out[key.strip()] = val
    return out

"""segbench command line: every command is a thin call into the library.

Exit codes: 0 ok, 1 a ``--fail-under`` / regression gate failed, 2 bad input or usage.
Errors are one line on stderr (``segbench: error: ...``), never a traceback.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any, Sequence

from .errors import GateFailed, SegbenchError, UsageError

__all__ = ["main", "build_parser"]


# ----------------------------------------------------------------------------- helpers
def _console(stderr: bool = False):
    from rich.console import Console
    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def _warn(msg: str) -> None:
    from rich.markup import escape
    _console(stderr=True).print(f"[yellow]segbench: warning:[/yellow] {escape(msg)}", markup=True)


def _positive_int(text: str) -> int:
    """argparse type: a whole number >= 1."""
    try:
        v = int(text)
    except ValueError:
        v = 0
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, found {text!r}")
    return v


def parse_gates(items: Sequence[str] | None, flag: str) -> dict:
    """``["mIoU=0.7", "aAcc=0.9,mAcc=0.5"]`` → ``{"mIoU": 0.7, ...}``."""
    gates = {}
    for item in items or []:
        for part in str(item).split(","):
            part = part.strip()
            if not part:
                continue
            key, sep, val = part.partition("=")
            try:
                if not sep or not key.strip():
                    raise ValueError
                v = float(val)
                if not math.isfinite(v):
                    raise ValueError
                gates[key.strip()] = v
            except ValueError:
                raise UsageError(f"{flag}: expected METRIC=VALUE with a finite number (e.g. mIoU=0.7), found "
                                 f"{part!r}") from None
    return gates


def _progress_bar(total_hint: str = "evaluating"):
    """A rich progress callback (shown only on a terminal, and only for runs longer than a moment)."""
    if not sys.stderr.isatty():
        return None, None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    prog = Progress(TextColumn(total_hint), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=_console(stderr=True), transient=True)
    task = {"id": None}

    def cb(done, total):
        if task["id"] is None:
            task["id"] = prog.add_task(total_hint, total=total)
        prog.update(task["id"], completed=done)

    return prog, cb


# ----------------------------------------------------------------------------- eval
def _eval_options(args) -> dict:
    keys = ("num_classes", "labels", "threshold", "resize", "iou_type", "task", "gt_folder", "pred_folder", "pred_encoding",
            "max_dets")
    opts = {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}
    for item in getattr(args, "option", None) or []:  # --option KEY=VALUE: adapter-specific options
        key, sep, val = str(item).partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--option: expected KEY=VALUE (e.g. gt=eroded), found {item!r}")
        v: Any = val.strip()
        low = v.lower()
        if low in ("true", "yes", "on"):
            v = True
        elif low in ("false", "no", "off"):
            v = False
        opts[key.strip().replace("-", "_")] = v
    return opts


def check_dataset_options(cls, args, warn=None) -> None:
    """Report ``--option`` keys the adapter does not read (a typo would otherwise do nothing)."""
    known = getattr(cls, "option_names", None)
    if known is None:
        return
    from .registry import did_you_mean
    for item in getattr(args, "option", None) or []:
        key = str(item).partition("=")[0].strip().replace("-", "_")
        if key and key not in known:
            msg = (f"--option {key}: dataset {cls.spec.name!r} does not read this option{did_you_mean(key, known)}; "
                   f"it is ignored (options: {', '.join(known) or 'none'}; see dataset_cards/{cls.spec.name}.md)")
            (warn or _warn)(msg)


def cmd_eval(args) -> int:
    from .datasets import get_dataset_class
    from .engine import evaluate_run
    from .report.tables import print_record

    cls = get_dataset_class(args.dataset)
    opts = _eval_options(args)
    check_dataset_options(cls, args)
    dataset = cls(args.gt, split=args.split, **opts)
    predictions = dataset.predictions(args.preds, **opts)
    names = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
    from .metrics import parse_metric_options
    metrics = dataset.build_metrics(names, parse_metric_options(getattr(args, "metric_option", None)))
    gates = parse_gates(args.fail_under, "--fail-under")
    prog, cb = _progress_bar(f"eval {dataset.spec.name}")
    if prog:
        prog.start()
    try:
        rec, _ = evaluate_run(dataset, predictions, metrics, workers=args.workers, scheduler=args.scheduler,
                              missing=args.missing, progress=cb, warn=_warn,
                              config={"cli": {k: v for k, v in vars(args).items() if k != "func"
                                              and isinstance(v, (str, int, float, bool, list, type(None)))}})
    finally:
        if prog:
            prog.stop()
    if getattr(args, "model_name", None):  # leaderboard name of user predictions
        rec.model = {**rec.model, "name": args.model_name}
    print_record(rec, _console())
    if args.json:
        rec.to_json(args.json)
    if args.record:
        from .results import ResultsStore
        ResultsStore(args.db).add(rec)
    if gates:
        vals = rec.values()
        failed = []
        from .report.tables import is_fraction_key
        for key, thr in gates.items():
            if key not in vals:
                raise UsageError(f"--fail-under: metric {key!r} is not in this run's results "
                                 f"(have: {', '.join(sorted(vals))})")
            if is_fraction_key(key) and thr > 1:
                raise UsageError(f"--fail-under {key}={thr:g}: {key} is a fraction 0..1 (tables show it in %); "
                                 f"pass {thr / 100:g} for {thr:g}%")
            if not (vals[key] >= thr):
                failed.append(f"{key}={vals[key]:.4f} < {thr}")
        if failed:
            raise GateFailed("gate failed: " + "; ".join(failed))
    return 0


def _add_eval(sub) -> None:
    p = sub.add_parser("eval", help="score predictions against a dataset's ground truth")
    p.add_argument("preds", help="prediction folder or file")
    p.add_argument("--dataset", required=True, help="dataset or style name (see `segbench datasets`)")
    p.add_argument("--gt", help="ground-truth root (folder or file, depending on the dataset)")
    p.add_argument("--split", help="split to evaluate (default: the dataset's)")
    p.add_argument("--metrics", help="comma-separated metric names (default: the dataset's)")
    p.add_argument("--json", help="write the RunRecord to this JSON file (atomically)")
    p.add_argument("--workers", type=_positive_int, default=1, help="processes (identical numbers for any N)")
    p.add_argument("--scheduler", help="Dask distributed scheduler address")
    p.add_argument("--record", action="store_true", help="store the RunRecord in the results store")
    p.add_argument("--model-name", help="model name for the RunRecord / leaderboards (default: from the predictions)")
    p.add_argument("--db", default="results.db", help="results store (default ./results.db)")
    p.add_argument("--fail-under", action="append", metavar="METRIC=VALUE", help="exit 1 below this value")
    p.add_argument("--missing", choices=["error", "void"], default="error",
                   help="missing predictions: error (default) or score as all-void")
    p.add_argument("--num-classes", type=int, help="number of classes (styles without labels.json)")
    p.add_argument("--labels", help="labels.json / labels.csv for styles")
    p.add_argument("--threshold", type=float, help="binarise soft predictions at this value (default half the range)")
    p.add_argument("--resize", choices=["nearest"], help="resize predictions to the GT size")
    p.add_argument("--iou-type", choices=["segm", "bbox"], help="COCO-style instance evaluation type")
    p.add_argument("--max-dets", help="COCO maxDets per image, comma-separated (default 1,10,100)")
    p.add_argument("--task", help="task variant (e.g. semi-supervised|unsupervised for video)")
    p.add_argument("--gt-folder", help="override the GT PNG folder (panoptic)")
    p.add_argument("--pred-folder", help="override the prediction PNG folder (panoptic)")
    p.add_argument("--pred-encoding", help="prediction label encoding: labelid (cityscapes default) | trainid | "
                   "color; styles: id (default) | trainid")
    p.add_argument("--metric-option", action="append", metavar="METRIC.KEY=VALUE",
                   help="metric option, repeatable (e.g. coco_ap.fix_max_dets=true, bsds_boundary.mode=fast, "
                        "davis_jf.fix_decay_bins=true); recorded in the RunRecord")
    p.add_argument("--option", action="append", metavar="KEY=VALUE",
                   help="dataset option, repeatable (e.g. gt=eroded, ignore_clutter=true, patch_size=512; see the "
                        "dataset card)")
    p.set_defaults(func=cmd_eval)


def _add_convert(sub) -> None:
    from .convert import add_parser  # panoptic / semantic / detection converters (segbench/convert.py)
    add_parser(sub)


# ----------------------------------------------------------------------------- main
class _Parser(argparse.ArgumentParser):
    """argparse with segbench's one-line usage errors (``segbench: error: ...`` and where to look)."""

    def error(self, message):
        self.exit(2, f"segbench: error: {message}; see `{self.prog} --help`\n")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    parser = _Parser(prog="segbench", description="Evaluate image segmentation exactly as the "
                                     "official evaluators do.")
    parser.add_argument("--version", action="version", version=f"segbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in COMMANDS:
        add(sub)
    return parser


from .datasets.commands import _add_datasets, _add_download, _add_prepare  # noqa: E402
from .demo import _add_demo  # noqa: E402
from .models.predict import _add_predict  # noqa: E402
from .models.catalog import _add_models  # noqa: E402
from .report.commands import _add_compare, _add_report  # noqa: E402

# Each entry adds one sub-command; keep one line per command.
COMMANDS = [
    _add_eval,
    _add_datasets,
    _add_download,
    _add_prepare,
    _add_predict,
    _add_models,
    _add_report,
    _add_compare,
    _add_demo,
    _add_convert,
]



def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse already printed its one-line usage error
        return int(e.code or 0) if e.code not in (None, 0) else 0
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    import signal
    try:  # SIGTERM (a plain `kill`, a CI timeout) unwinds like Ctrl-C: temp files removed, workers stopped
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:  # not the main thread (main() called from a thread): leave signals alone
        previous = None
    try:
        return int(args.func(args) or 0)
    except GateFailed as e:
        print(f"segbench: {e}", file=sys.stderr)
        return 1
    except SegbenchError as e:
        print(f"segbench: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt as e:
        print("segbench: interrupted; finished results already written are kept, no partial file was left",
              file=sys.stderr)
        return 143 if isinstance(e, Terminated) else 130
    except BrokenPipeError:
        return 0
    except MemoryError as e:
        print(f"segbench: error: out of memory ({e or 'no detail'}); lower --workers, or see the metric's "
              f"storage options", file=sys.stderr)
        return 2
    except IsADirectoryError as e:
        # read or written: a file name in an input (a JSON's file_name ".") or an output path that is a folder
        where = f"{e.filename}: " if getattr(e, "filename", None) else ""
        print(f"segbench: error: {where}expected a file, found a directory; check this path (a file named in "
              f"the inputs, or the output path you gave)", file=sys.stderr)
        return 2
    except (FileExistsError, NotADirectoryError, PermissionError) as e:
        # an output path the user gave cannot be written (a file where a folder is needed...)
        where = f"{e.filename}: " if getattr(e, "filename", None) else ""
        print(f"segbench: error: {where}cannot write here ({e.strerror or e}); choose another output path",
              file=sys.stderr)
        return 2
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that ``with`` blocks and ``finally`` clauses run."""


def _raise_terminated(signum, frame):
    raise Terminated()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""``segbench demo``: the whole pipeline on a small real sample shipped in the package, offline.

Five ISBI 2012 training slices with their labels (``segbench/data/isbi_demo``, see its SOURCE.md)
→ ``segbench predict`` with the classical baselines (``skimage-otsu``, ``skimage-sauvola``) →
``segbench eval`` (mIoU family) → RunRecords as JSON and in a fresh demo results store →
``segbench report`` (Markdown + HTML) → the leaderboard printed.

Written under ``OUT`` (default ``./segbench-demo``): ``predictions/<model>/``, ``runs/<model>.json``,
``demo.db`` and the report (``index.html``, ``isbi-membrane__binary.html`` / ``.md``).

Examples
--------
>>> import tempfile, io
>>> from rich.console import Console
>>> out = run_demo(tempfile.mkdtemp(), console=Console(file=io.StringIO()))
>>> sorted(out["records"])
['skimage-otsu', 'skimage-sauvola']
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["run_demo", "demo_data_root", "DEMO_MODELS", "_add_demo"]

DEMO_MODELS = ("skimage-otsu", "skimage-sauvola")


def demo_data_root() -> Path:
    """Folder of the packaged demo sample (``isbi-membrane`` PNG layout)."""
    from importlib.resources import files
    root = Path(str(files("segbench") / "data" / "isbi_demo"))
    if not (root / "train" / "label").is_dir():
        from .errors import NotFoundError
        raise NotFoundError("expected the packaged demo data, found nothing; reinstall segbench "
                            "(pip install -e .)", path=root)
    return root


def run_demo(out_dir="segbench-demo", console=None, models=DEMO_MODELS) -> dict:
    """Run the demo; returns ``{"records": {model: RunRecord}, "report": render output, "out": Path}``."""
    from rich.console import Console

    from .datasets.isbi_membrane import ISBIMembrane
    from .engine import evaluate_run
    from .models import get_model
    from .models.predict import run_predict
    from .report.render import render_report
    from .report.tables import print_leaderboard
    from .results import ResultsStore

    console = console or Console()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    db = out / "demo.db"
    for suffix in ("", "-wal", "-shm"):  # the demo starts from a fresh store of its own
        p = Path(str(db) + suffix)
        if p.exists():
            p.unlink()
    store = ResultsStore(db)
    dataset = ISBIMembrane(demo_data_root(), split="train")
    console.print(f"segbench demo: {len(dataset)} ISBI 2012 membrane slices (packaged sample), "
                  f"models {', '.join(models)}", markup=False)
    records = {}
    for name in models:
        preds = out / "predictions" / name
        summary = run_predict(get_model(name), dataset, preds)
        source = dataset.predictions(preds)
        rec, _ = evaluate_run(dataset, source, dataset.build_metrics(), config={"demo": True})
        rec.to_json(out / "runs" / f"{name}.json")
        store.add(rec)
        records[name] = rec
        miou = rec.values().get("mIoU")
        console.print(f"  {name}: predicted {summary['count']} slices ({summary['images_per_s']} images/s), "
                      f"mIoU {100 * miou:.2f} %", markup=False)
    report = render_report(store.records(), out, reported=False, db=str(db))
    for df in report["boards"].values():
        print_leaderboard(df, console)
    console.print(f"report: {out / 'index.html'} · runs: {out / 'runs'} · results store: {db}", markup=False)
    console.print(f"next: segbench eval {out / 'predictions' / models[0]} --dataset isbi-membrane "
                  f"--gt {dataset.root}", markup=False)
    return {"records": records, "report": report, "out": out}


def cmd_demo(args) -> int:
    from .cli import _console
    run_demo(args.out, console=_console())
    return 0


def _add_demo(sub) -> None:
    p = sub.add_parser("demo", help="run the baselines on a packaged ISBI sample, evaluate, report (offline)")
    p.add_argument("--out", default="segbench-demo", help="output folder (default ./segbench-demo)")
    p.set_defaults(func=cmd_demo)

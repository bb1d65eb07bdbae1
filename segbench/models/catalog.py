"""A table of the registered model wrappers (for ``segbench models`` / docs); imports no torch.

Examples
--------
>>> from segbench.models.catalog import model_table
>>> row = next(r for r in model_table() if r["name"] == "tv-fcn-resnet50")
>>> row["library"], row["task"], row["needs_weights"]
('torchvision', 'semantic', True)
"""

from __future__ import annotations

__all__ = ["model_table", "cmd_models"]


def model_table() -> list[dict]:
    """One dict per registered wrapper: ``name, task, library, function, paper, published_weights,
    needs_weights, options`` (the ``segbench predict`` flags it honours), sorted by name."""
    from . import MODELS, get_model_class
    from .base import PREDICT_OPTIONS
    rows = []
    for name in sorted(MODELS):
        try:
            cls = get_model_class(name)
        except Exception as e:  # noqa: BLE001 - a broken entry is listed with its error, not fatal
            rows.append({"name": name, "task": "", "library": "", "function": "", "paper": "", "published_weights": "",
                         "needs_weights": False, "options": [], "error": f"{type(e).__name__}: {e}"})
            continue
        ref = dict(getattr(cls, "reference", {}) or {})
        rows.append({"name": name, "task": getattr(cls, "task", ""), "library": ref.get("library", ""),
                     "function": ref.get("function", ""), "paper": ref.get("paper", ""),
                     "published_weights": ref.get("published_weights", ""),
                     "needs_weights": bool(getattr(cls, "needs_weights", False)),
                     "options": [o for o in PREDICT_OPTIONS if o in getattr(cls, "supported_options", ())]})
    return rows


# ----------------------------------------------------------------------------- CLI: segbench models
def cmd_models(args) -> int:
    """Print the wrappers (name, task, library + function, published weights) as a table or JSON."""
    rows = model_table()
    if args.task:
        rows = [r for r in rows if r["task"] == args.task]
    if args.json:
        import json
        print(json.dumps(rows, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table
    t = Table(title="segbench models (weights are never downloaded: pass --weights PATH)")
    for col in ("name", "task", "library", "function", "weights", "options"):
        t.add_column(col, overflow="fold", no_wrap=col in ("name", "task"))
    for r in rows:
        weights = r["published_weights"] or ("none needed" if not r["needs_weights"] else "user checkpoint")
        t.add_row(r["name"], r["task"], r["library"], r["function"], weights, ",".join(r["options"]))
    import sys
    Console(soft_wrap=False, highlight=False, width=None if sys.stdout.isatty() else 200).print(t)
    return 0


def _add_models(sub) -> None:
    p = sub.add_parser("models", help="list the wrapped models (library, function, paper, published weights)")
    p.add_argument("--task", help="only this task (semantic, instance, panoptic, video, boundary, binary)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_models)

"""Terminal tables of one RunRecord (``segbench eval`` output), with rich.

Values in records are fractions in 0..1; tables show them as percentages with two decimals. Keys that
are not fractions (counts such as ``NoC@90``, speeds, times) are shown as they are; see
:func:`is_fraction_key`. A NaN per-class value is shown as ``n/a``: the class is absent from both the
ground truth and the prediction, and it is left out of the means.

Examples
--------
>>> from rich.console import Console
>>> from segbench.results import RunRecord
>>> rec = RunRecord(dataset="toy@1", split="val", task="semantic", model={"name": "m"},
...                 predictions={}, metrics={"miou@1": {"values": {"mIoU": 0.5},
...                 "per_class": {"a": {"IoU": 0.5}, "b": {"IoU": None}}}})
>>> import io
>>> con = Console(file=io.StringIO(), width=100, record=True, color_system=None)
>>> print_record(rec, con)
>>> txt = con.export_text()
>>> "50.00" in txt and "n/a" in txt
True
"""

from __future__ import annotations

import math
import re

from rich.text import Text

__all__ = ["print_record", "print_leaderboard", "format_value", "is_fraction_key", "provenance_line", "NA_FOOTNOTE"]

NA_FOOTNOTE = "n/a: class absent from both the ground truth and the prediction; left out of the means."

_RAW_KEY = re.compile(r"^(H_|VOI|NoC|NoF|FPS|fps|num_|n_|count|seconds|time|images_per_s)|(_count|_s|_px|pixels|instances)$",
                      re.IGNORECASE)


def is_fraction_key(key: str) -> bool:
    """True when values of ``key`` are fractions in 0..1 (shown as percentages).

    Counts, entropies and speeds are not: keys starting with ``H_``, ``VOI``, ``NoC``, ``NoF``, ``FPS``, ``num_``, ``n_``, ``count``,
    ``seconds``, ``time`` or ending in ``_count``, ``_s``, ``_px``, ``pixels``, ``instances``.
    """
    return not _RAW_KEY.search(str(key))


def _isnan(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def format_value(key: str, v, percent: bool = True) -> str:
    """``0.7312`` → ``"73.12"`` for fraction keys; ``None``/NaN → ``"n/a"``; others as numbers."""
    if _isnan(v):
        return "n/a"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, (int, float)):
        if percent and is_fraction_key(key):
            return f"{100.0 * float(v):.2f}"
        if isinstance(v, int) or float(v).is_integer():
            return f"{int(v)}"
        return f"{float(v):.4g}"
    return str(v)


def provenance_line(record) -> str:
    """``dataset@version · split · model · metric@version, ... · segbench X (git abcdef1)``."""
    git = f" (git {record.git_hash[:7]})" if getattr(record, "git_hash", None) else ""
    model = record.model_name
    src = record.model.get("source") if isinstance(record.model, dict) else None
    if src and src != "segbench predict":
        model = f"{model} ({src})"
    return (f"dataset {record.dataset} · split {record.split} · model {model} · metrics "
            f"{', '.join(record.metrics)} · segbench {record.segbench_version}{git}")


def _per_class_columns(per_class: dict) -> list:
    cols: list = []
    for row in per_class.values():
        for k, v in (row or {}).items():
            if k not in cols and (v is None or isinstance(v, (int, float))):
                cols.append(k)
    return cols


def print_record(record, console=None, max_classes: int = 200) -> None:
    """Print the summary table, the per-class table(s) and the provenance line of ``record``.

    Parameters
    ----------
    record : RunRecord
    console : rich.console.Console, optional
    max_classes : int
        Per-class tables with more rows than this (large label spaces, up to 65535 classes) leave out the
        classes that are n/a in every column, then show the first ``max_classes`` rows and say how many
        were left out; the record (``--json``) always holds every class.
    """
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    title = f"{record.dataset} · {record.split} · {record.model_name}"
    console.print(title, style="bold", markup=False)
    summary = Table(show_lines=False)
    summary.add_column("metric", style="cyan", no_wrap=True)
    summary.add_column("key", no_wrap=True)
    summary.add_column("value", justify="right")
    summary.add_column("unit", style="dim")
    for mkey, res in record.metrics.items():
        first = True
        for k, v in (res.get("values") or {}).items():
            if not (v is None or isinstance(v, (int, float))):
                continue
            unit = "%" if is_fraction_key(k) and not _isnan(v) else ""
            summary.add_row(Text(mkey if first else ""), Text(str(k)), format_value(k, v), unit)
            first = False
    console.print(summary)

    any_na = False
    for mkey, res in record.metrics.items():
        per_class = res.get("per_class") or {}
        if not per_class:
            continue
        cols = _per_class_columns(per_class)
        if not cols:
            continue
        console.print(f"per class · {mkey} (values in %)", style="bold", markup=False)
        t = Table()
        t.add_column("class", style="cyan", no_wrap=True)
        for c in cols:
            t.add_column(c, justify="right")
        items = list(per_class.items())
        absent = 0
        if len(items) > max_classes:
            kept = [(n, r) for n, r in items if not all(_isnan((r or {}).get(c)) for c in cols)]
            absent = len(items) - len(kept)
            items = kept
        more = max(0, len(items) - max_classes)
        for cname, row in items[:max_classes]:
            cells = []
            for c in cols:
                v = (row or {}).get(c)
                if _isnan(v):
                    any_na = True
                cells.append(format_value(c, v))
            t.add_row(Text(str(cname)), *cells)
        console.print(t)
        if absent or more:
            console.print(f"{absent} class(es) absent from GT and prediction not shown"
                          + (f"; {more} more class(es) left out after the first {max_classes}" if more else "")
                          + " (the --json record holds every class)", style="dim", markup=False)
    if any_na:
        console.print(NA_FOOTNOTE, style="dim", markup=False)
    console.print(provenance_line(record), style="dim", markup=False)


def print_leaderboard(df, console=None, max_reported: int = 0, max_columns: int = 5) -> None:
    """A leaderboard frame as a rich table: the measured rows (+ up to ``max_reported`` reported rows);
    at most ``max_columns`` value columns (the ranking key first), the rest are in the rendered report."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    values = list(df.attrs.get("value_columns") or [])
    measured = df[df["source"] != "reported"] if len(df) else df
    reported = df[df["source"] == "reported"] if len(df) else df
    shown_vals = [v for v in values if len(measured) and v in measured and measured[v].notna().any()] or values
    primary = df.attrs.get("primary")
    hidden = 0
    if len(shown_vals) > max_columns:
        keep = ([primary] if primary in shown_vals else []) + [v for v in shown_vals if v != primary]
        hidden = len(keep) - max_columns
        shown_vals = keep[:max_columns]
    console.print(f"{df.attrs.get('dataset', '?')} · {df.attrs.get('task', '?')} — ranked by {primary}",
                  style="bold", markup=False)
    from rich import box

    rows = list(measured.iterrows()) + list(reported.head(max_reported).iterrows())
    cols = ["rank", "model"] + (["source"] if max_reported and len(reported) else []) + ["split"] + shown_vals + ["runs"]
    t = Table(caption="fractions in %" if any(is_fraction_key(v) for v in shown_vals) else None,
              caption_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for c in cols:
        t.add_column(c, justify="right" if c in shown_vals or c in ("rank", "runs") else "left", no_wrap=True)
    for _, r in rows:
        cells = []
        for c in cols:
            v = r.get(c)
            na = _isnan(v) or str(v) == "<NA>"
            if c in shown_vals:
                cells.append("" if na else format_value(c, v))
            else:
                cells.append("" if na else str(v))
        t.add_row(*[Text(c) for c in cells])
    console.print(t)
    if hidden:
        console.print(f"+ {hidden} more value column(s) in the rendered report", style="dim", markup=False)
    if len(reported) > max_reported:
        console.print(f"+ {len(reported) - max_reported} paper-reported row(s) in the rendered report", style="dim")

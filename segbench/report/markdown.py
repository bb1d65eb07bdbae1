"""Markdown rendering of leaderboards and compare tables (GitHub-flavoured, for READMEs and CI summaries).

Fractions are shown as percentages with two decimals; counts (``NoC@90``...) as they are. Reported
rows are marked *reported* and numbered; their sources are listed under the table.

Examples
--------
>>> import pandas as pd
>>> df = pd.DataFrame([{"rank": 1, "model": "a", "source": "segbench", "split": "val", "mIoU": 0.5}])
>>> df.attrs.update(dataset="toy", task="semantic", primary="mIoU", value_columns=["mIoU"])
>>> print(leaderboard_markdown(df).splitlines()[-1])
| 1 | a | segbench | val | 50.00 |
"""

from __future__ import annotations

import math

from .leaderboard import lower_is_better
from .tables import format_value, is_fraction_key

__all__ = ["leaderboard_markdown", "escape_md", "index_markdown"]


def escape_md(s) -> str:
    """Text safe inside a Markdown table cell: ``|`` and ``\\`` escaped, line breaks flattened, and
    ``&``, ``<``, ``>`` as HTML entities (GitHub renders raw HTML in Markdown).

    >>> escape_md("a|b <script>")
    'a\\|b &lt;script&gt;'
    """
    return (str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\\", "\\\\")
            .replace("|", "\\|").replace("\r", " ").replace("\n", " "))


def _is_nan(v) -> bool:
    try:
        return v is None or (isinstance(v, float) and math.isnan(v)) or v is getattr(__import__("pandas"), "NA")
    except TypeError:
        return False


def _cell(key, v) -> str:
    if _is_nan(v):
        return ""
    return format_value(key, v)


def leaderboard_markdown(df, title: str | None = None, level: int = 2) -> str:
    """A leaderboard frame (:func:`segbench.report.leaderboard.leaderboard`) as Markdown."""
    ds, task = df.attrs.get("dataset", "?"), df.attrs.get("task", "?")
    primary = df.attrs.get("primary")
    values = list(df.attrs.get("value_columns") or [])
    lines = []
    if title is not False:
        lines.append(f"{'#' * level} {title or f'{ds} · {task}'}")
        lines.append("")
    if primary:
        better = "lower" if lower_is_better(primary) else "higher"
        unit = " (values in %)" if any(is_fraction_key(v) for v in values) else ""
        lines.append(f"Ranked by **{primary}** ({better} is better){unit}; measured rows are the best segbench "
                     "run per model and split; *reported* rows are published numbers, not re-measured.")
        lines.append("")
    cols = ["rank", "model", "source", "split"] + values
    lines.append("| " + " | ".join(cols) + " |")
    lines.append("|" + "|".join("---:" if c == "rank" or c in values else "---" for c in cols) + "|")
    sources: list[str] = []
    for _, row in df.iterrows():
        cells = []
        reported = row.get("source") == "reported"
        for c in cols:
            v = row.get(c)
            if c == "rank":
                cells.append("" if _is_nan(v) else str(int(v)))
            elif c == "model":
                name = escape_md(v)
                variant = row.get("variant")
                if reported and isinstance(variant, str) and variant and variant != v:
                    name = f"{name} ({escape_md(variant)})"
                cells.append(name)
            elif c == "source":
                if reported:
                    ref = str(row.get("reference") or "")
                    if ref not in sources:
                        sources.append(ref)
                    cells.append(f"*reported* [{sources.index(ref) + 1}]")
                else:
                    cells.append(escape_md(v))
            elif c in values:
                cells.append(_cell(c, v))
            else:
                cells.append("" if _is_nan(v) else escape_md(v))
        lines.append("| " + " | ".join(cells) + " |")
    if sources:
        lines.append("")
        lines.append("Sources of reported rows:")
        lines.append("")
        for i, s in enumerate(sources, 1):
            lines.append(f"{i}. {escape_md(s)}")
    return "\n".join(lines) + "\n"


def index_markdown(boards: dict, files: dict, db: str | None = None) -> str:
    """The index page: one line per leaderboard with its best measured row."""
    lines = ["# segbench leaderboards", ""]
    if db:
        lines += [f"From the results store `{db}`.", ""]
    lines += ["| dataset | task | runs | best model | primary | value | page |", "|---|---|---:|---|---|---:|---|"]
    for (ds, task), df in boards.items():
        measured = df[df["source"] != "reported"] if len(df) else df
        primary = df.attrs.get("primary")
        best = measured.iloc[0] if len(measured) else None
        runs = int(measured["runs"].sum()) if len(measured) and "runs" in measured else 0
        val = _cell(primary, best.get(primary)) if best is not None and primary else ""
        lines.append(f"| {escape_md(ds)} | {escape_md(task)} | {runs} | "
                     f"{escape_md(best['model']) if best is not None else ''} | {primary or ''} | {val} | "
                     f"[{files[(ds, task)]}]({files[(ds, task)]}) |")
    return "\n".join(lines) + "\n"

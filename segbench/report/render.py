"""``segbench report``: render every leaderboard of a set of records as Markdown + HTML files.

Files written (atomically) under ``OUT``: ``<dataset>__<task>.md`` and ``.html`` per leaderboard,
``index.md`` and ``index.html``.

Examples
--------
>>> import tempfile, os
>>> from segbench.results import RunRecord
>>> r = RunRecord(dataset="toy@1", split="val", task="semantic", model={"name": "m"}, predictions={},
...               metrics={"miou@1": {"values": {"mIoU": 0.5}}})
>>> out = tempfile.mkdtemp()
>>> files = render_report([r], out, reported=False)
>>> sorted(os.listdir(out))
['index.html', 'index.md', 'toy__semantic.html', 'toy__semantic.md']
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

from ..io.atomic import atomic_write_text
from .html import index_html, leaderboard_html
from .leaderboard import build_leaderboards, load_reported
from .markdown import index_markdown, leaderboard_markdown

__all__ = ["render_report", "page_name"]


def page_name(dataset: str, task: str) -> str:
    """File stem of a leaderboard page (safe characters only)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", f"{dataset}__{task}")


def render_report(records: Sequence, out_dir, reported=None, db: str | None = None, figures: bool = True) -> dict:
    """Write the leaderboards of ``records`` to ``out_dir``.

    Parameters
    ----------
    records : sequence of RunRecord
    out_dir : path
    reported : path, DataFrame, False or None
        Paper-reported rows: None = ``leaderboards/reported.csv`` of the source tree when present,
        a path = that CSV, a DataFrame = those rows, False = none.
    db : str, optional
        Shown on the index page.
    figures : bool
        Embed matplotlib figures (confusion matrices...) in the HTML pages.

    Returns
    -------
    dict
        ``{"boards": {(dataset, task): DataFrame}, "files": [paths written]}``.
    """
    import pandas as pd
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if reported is False:
        rep = None
    elif isinstance(reported, pd.DataFrame):
        rep = reported
    else:
        rep = load_reported(reported)
    boards = build_leaderboards(list(records), reported=rep)
    names = {k: page_name(*k) for k in boards}
    written = []
    for key, df in boards.items():
        md = out / f"{names[key]}.md"
        atomic_write_text(md, leaderboard_markdown(df))
        ht = out / f"{names[key]}.html"
        atomic_write_text(ht, leaderboard_html(df, records, figures=figures))
        written += [md, ht]
    atomic_write_text(out / "index.md", index_markdown(boards, {k: v + ".md" for k, v in names.items()}, db=db))
    atomic_write_text(out / "index.html", index_html(boards, {k: v + ".html" for k, v in names.items()}, db=db))
    written += [out / "index.md", out / "index.html"]
    return {"boards": boards, "files": written}

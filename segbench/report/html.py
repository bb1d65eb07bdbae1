"""Self-contained HTML leaderboard pages: one file, no network, no external assets.

A page has the sortable leaderboard table (inline JavaScript: click a header to sort, again to
reverse), per-class bars of the best run of each measured model (IoU, or the metric's first
per-class value), the figures of the top runs (confusion-matrix heat map and whatever
:data:`segbench.report.figures.FIGURES` registers for the task: PR curves...) as base64 PNGs, and the
provenance of every measured row.

Examples
--------
>>> from segbench.results import RunRecord
>>> from segbench.report.leaderboard import build_leaderboards
>>> r = RunRecord(dataset="toy@1", split="val", task="semantic", model={"name": "m"}, predictions={},
...               metrics={"miou@1": {"values": {"mIoU": 0.5}, "per_class": {"a": {"IoU": 0.5}}}})
>>> page = leaderboard_html(build_leaderboards([r])[("toy", "semantic")], [r], figures=False)
>>> page.startswith("<!DOCTYPE html>") and "sortTable" in page and "50.00" in page
True
"""

from __future__ import annotations

import html as _html
import math

from .leaderboard import best_record, lower_is_better
from .tables import NA_FOOTNOTE, format_value, is_fraction_key, provenance_line

__all__ = ["leaderboard_html", "index_html", "page"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1200px;color:#222;padding:0 1em}
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:2em}
table{border-collapse:collapse;margin:1em 0;font-size:0.92em}
th,td{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f6;cursor:pointer;user-select:none;white-space:nowrap}
th.num,td.num{text-align:right;font-variant-numeric:tabular-nums}
th[data-dir=asc]::after{content:" \\25B2"}th[data-dir=desc]::after{content:" \\25BC"}
tr.reported td{color:#555;font-style:italic;background:#fafaf3}
.badge{font-size:0.8em;padding:1px 6px;border-radius:8px;background:#e8e3c8;color:#5b5321;font-style:normal}
.seg{background:#dde9f7;color:#1d3f66}
.bar{position:relative;height:14px;min-width:140px;background:#eef}
.bar>div{position:absolute;left:0;top:0;bottom:0;background:#5b8def}
.bar>span{position:absolute;left:4px;top:-1px;font-size:11px;color:#000}
.note,.prov{color:#666;font-size:0.88em}
figure{display:inline-block;margin:1em 1em 1em 0;vertical-align:top}
figure img{max-width:560px;border:1px solid #eee}
figcaption{font-size:0.85em;color:#555}
"""

_JS = """
function sortTable(th){
  var table=th.closest('table'), idx=Array.prototype.indexOf.call(th.parentNode.children, th);
  var num=th.classList.contains('num'), dir=th.getAttribute('data-dir')==='asc'?'desc':'asc';
  Array.prototype.forEach.call(th.parentNode.children,function(h){h.removeAttribute('data-dir');});
  th.setAttribute('data-dir',dir);
  var body=table.tBodies[0], rows=Array.prototype.slice.call(body.rows);
  function key(r){var c=r.cells[idx]; var v=c.getAttribute('data-v'); if(v===null) v=c.textContent.trim();
    if(num){ if(v===''||v==='n/a') return null; return parseFloat(v);} return v.toLowerCase();}
  rows.sort(function(a,b){var x=key(a),y=key(b);
    if(x===null&&y===null) return 0; if(x===null) return 1; if(y===null) return -1;
    var r=x<y?-1:(x>y?1:0); return dir==='asc'?r:-r;});
  rows.forEach(function(r){body.appendChild(r);});
}
document.addEventListener('DOMContentLoaded',function(){
  document.querySelectorAll('table.sortable th').forEach(function(th){
    th.addEventListener('click',function(){sortTable(th);});});});
"""


def _esc(s) -> str:
    return _html.escape("" if s is None else str(s), quote=True)


def _nan(v) -> bool:
    if v is None:
        return True
    try:
        import pandas as pd
        if v is pd.NA:
            return True
    except ImportError:  # pragma: no cover
        pass
    return isinstance(v, float) and math.isnan(v)


def page(title: str, body: str) -> str:
    """A complete HTML document with the inline CSS and JS."""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{_esc(title)}</title>"
            f"<style>{_CSS}</style></head><body>\n{body}\n<script>{_JS}</script></body></html>\n")


def _table(df) -> str:
    values = list(df.attrs.get("value_columns") or [])
    cols = ["rank", "model", "source", "split"] + values + [c for c in ("runs", "metrics", "created") if c in df.columns]
    numeric = set(values) | {"rank", "runs"}
    out = ['<table class="sortable"><thead><tr>']
    for c in cols:
        unit = " (%)" if c in values and is_fraction_key(c) else ""
        out.append(f'<th class="{"num" if c in numeric else ""}" title="click to sort">{_esc(c)}{unit}</th>')
    out.append("</tr></thead><tbody>")
    for _, row in df.iterrows():
        reported = row.get("source") == "reported"
        out.append('<tr class="reported">' if reported else "<tr>")
        for c in cols:
            v = row.get(c)
            if c in values:
                if _nan(v):
                    out.append('<td class="num" data-v=""></td>')
                else:
                    out.append(f'<td class="num" data-v="{float(v)!r}">{_esc(format_value(c, v))}</td>')
            elif c in ("rank", "runs"):
                out.append('<td class="num" data-v="">' if _nan(v) else f'<td class="num" data-v="{int(v)}">{int(v)}')
                out.append("</td>")
            elif c == "source":
                if reported:
                    ref = row.get("reference") or ""
                    notes = row.get("notes") or ""
                    tip = _esc(f"{ref}" + (f" — {notes}" if notes else ""))
                    out.append(f'<td data-v="reported"><span class="badge" title="{tip}">reported</span></td>')
                else:
                    out.append(f'<td data-v="segbench"><span class="badge seg">{_esc(v)}</span></td>')
            elif c == "model":
                variant = row.get("variant")
                extra = (f'<br><span class="note">{_esc(variant)}</span>'
                         if reported and isinstance(variant, str) and variant and variant != v else "")
                out.append(f"<td>{_esc(v)}{extra}</td>")
            else:
                out.append(f"<td>{'' if _nan(v) else _esc(v)}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _per_class_key(per_class: dict) -> str | None:
    keys: list = []
    for row in per_class.values():
        for k, v in (row or {}).items():
            if k not in keys and (v is None or isinstance(v, (int, float))):
                keys.append(k)
    return "IoU" if "IoU" in keys else (keys[0] if keys else None)


def _per_class_bars(best: list, max_classes: int = 200) -> str:
    """Table class × model with one bar per cell (best run of each measured model). Above
    ``max_classes`` rows, classes that are n/a for every model are left out, then the first
    ``max_classes`` are shown, with a note."""
    series = []
    for model, rec in best:
        for mkey, res in rec.metrics.items():
            pc = res.get("per_class") or {}
            key = _per_class_key(pc)
            if key:
                series.append((model, mkey, key, pc))
                break
    if not series:
        return ""
    classes = list(dict.fromkeys(c for _, _, _, pc in series for c in pc))
    note = ""
    if len(classes) > max_classes:
        kept = [c for c in classes if any(not _nan((pc.get(c) or {}).get(k)) for _, _, k, pc in series)]
        absent, classes = len(classes) - len(kept), kept
        more = max(0, len(classes) - max_classes)
        classes = classes[:max_classes]
        note = (f'<p class="note">{absent} class(es) absent from GT and prediction not shown'
                + (f"; {more} more left out after the first {max_classes}" if more else "")
                + " (each run's JSON record holds every class).</p>")
    key = series[0][2]
    out = [f"<h2>Per-class {_esc(key)}</h2>", note, '<table class="sortable"><thead><tr><th>class</th>']
    for model, mkey, k, _ in series:
        out.append(f'<th class="num" title="{_esc(mkey)}">{_esc(model)} · {_esc(k)}</th>')
    out.append("</tr></thead><tbody>")
    any_na = False
    for c in classes:
        out.append(f"<tr><td>{_esc(c)}</td>")
        for _, _, k, pc in series:
            v = (pc.get(c) or {}).get(k)
            if _nan(v):
                any_na = True
                out.append('<td class="num" data-v="">n/a</td>')
                continue
            frac = is_fraction_key(k)
            width = max(0.0, min(100.0, 100.0 * float(v))) if frac else 0.0
            out.append(f'<td class="num" data-v="{float(v)!r}"><div class="bar"><div style="width:{width:.1f}%">'
                       f'</div><span>{_esc(format_value(k, v))}</span></div></td>')
        out.append("</tr>")
    out.append("</tbody></table>")
    if any_na:
        out.append(f'<p class="note">{_esc(NA_FOOTNOTE)}</p>')
    return "".join(out)


def leaderboard_html(df, records, title: str | None = None, figures: bool = True, max_figure_models: int = 3) -> str:
    """One leaderboard as a self-contained HTML page (see the module docstring)."""
    ds, task = df.attrs.get("dataset", "?"), df.attrs.get("task", "?")
    primary = df.attrs.get("primary")
    title = title or f"{ds} · {task}"
    parts = [f"<h1>{_esc(title)}</h1>"]
    if primary:
        better = "lower" if lower_is_better(primary) else "higher"
        parts.append(f'<p class="note">Ranked by <b>{_esc(primary)}</b> ({better} is better). Measured rows are the '
                     "best segbench run per model and split; <span class=\"badge\">reported</span> rows are "
                     "published numbers (hover for the source), not re-measured. Click a header to sort.</p>")
    parts.append(_table(df))
    measured = df[df["source"] != "reported"] if len(df) else df
    best = []
    for _, row in measured.iterrows():
        rec = best_record(records, ds, task, row["model"], row.get("split"))
        if rec is not None:
            best.append((row["model"], rec))
    parts.append(_per_class_bars(best))
    if figures and best:
        from .figures import render_board_figures, render_figures
        figs = []
        board = render_board_figures([rec for _, rec in best])
        for _, ftitle, uri in board:
            figs.append(f'<figure><img alt="{_esc(ftitle)}" src="{uri}"><figcaption>all methods: '
                        f"{_esc(ftitle)}</figcaption></figure>")
        skip = {name for name, _, _ in board}
        for model, rec in best[:max_figure_models]:
            for ftitle, uri in render_figures(rec, skip=skip):
                figs.append(f'<figure><img alt="{_esc(ftitle)}" src="{uri}"><figcaption>{_esc(model)}: '
                            f"{_esc(ftitle)}</figcaption></figure>")
        if figs:
            parts.append("<h2>Figures</h2>" + "".join(figs))
    if best:
        parts.append("<h2>Provenance</h2><ul class=\"prov\">")
        for model, rec in best:
            parts.append(f"<li>{_esc(provenance_line(rec))} · run {_esc(rec.run_id[:12])} · {_esc(rec.created)}</li>")
        parts.append("</ul>")
    sources = df[df["source"] == "reported"] if len(df) else df
    if len(sources):
        refs = []
        for r in sources["reference"].tolist():
            if r not in refs:
                refs.append(r)
        parts.append("<h2>Sources of reported rows</h2><ol class=\"prov\">"
                     + "".join(f"<li>{_esc(r)}</li>" for r in refs) + "</ol>")
    return page(title, "\n".join(parts))


def index_html(boards: dict, files: dict, db: str | None = None) -> str:
    """Index page linking every leaderboard page."""
    rows = []
    for (ds, task), df in boards.items():
        measured = df[df["source"] != "reported"] if len(df) else df
        primary = df.attrs.get("primary")
        best = measured.iloc[0] if len(measured) else None
        val = format_value(primary, best.get(primary)) if best is not None and primary and not _nan(best.get(primary)) else ""
        runs = int(measured["runs"].sum()) if len(measured) and "runs" in measured else 0
        rows.append(f'<tr><td><a href="{_esc(files[(ds, task)])}">{_esc(ds)}</a></td><td>{_esc(task)}</td>'
                    f'<td class="num">{runs}</td><td>{_esc(best["model"]) if best is not None else ""}</td>'
                    f'<td>{_esc(primary or "")}</td><td class="num">{_esc(val)}</td></tr>')
    body = ("<h1>segbench leaderboards</h1>"
            + (f'<p class="note">From the results store <code>{_esc(db)}</code>.</p>' if db else "")
            + '<table class="sortable"><thead><tr><th>dataset</th><th>task</th><th class="num">runs</th>'
              '<th>best model</th><th>primary</th><th class="num">value</th></tr></thead><tbody>'
            + "".join(rows) + "</tbody></table>")
    return page("segbench leaderboards", body)

"""``segbench compare BASE.json NEW.json``: the delta of two RunRecords, with regression gates.

Every summary key present in both records is compared, metric by metric (``name@version``).
Deltas of fraction keys are in **percentage points** (``(new - base) * 100``); counts (``NoC@90``...)
in their own units.

Gates: ``--max-drop KEY=X`` fails (exit code 1) when ``KEY`` got worse by **more than X percentage
points** (for fractions; own units otherwise). "Worse" is lower for most keys and higher for
lower-is-better keys (``NoC@*``, ``*_decay``, errors, times; see
:func:`segbench.report.leaderboard.lower_is_better`). A key that becomes NaN while the base was a
number also fails. Example: base mIoU 0.7312, new 0.7255 is a drop of 0.57 pp; ``--max-drop mIoU=0.5``
fails, ``--max-drop mIoU=0.6`` passes. A gate naming a key that neither record has is a usage error
(exit 2).

Examples
--------
>>> from segbench.results import RunRecord
>>> def rec(v):
...     return RunRecord(dataset="toy@1", split="val", task="semantic", model={"name": "m"},
...                      predictions={}, metrics={"miou@1": {"values": {"mIoU": v}}})
>>> res = compare_records(rec(0.7312), rec(0.7255), {"mIoU": 0.5})
>>> round(res.rows[0].delta, 2), res.failed
(-0.57, True)
>>> compare_records(rec(0.7312), rec(0.7255), {"mIoU": 0.6}).failed
False
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..errors import UsageError
from .leaderboard import lower_is_better
from .tables import format_value, is_fraction_key

__all__ = ["CompareRow", "CompareResult", "compare_records", "compare_markdown", "print_compare",
           "per_class_deltas"]

_EPS = 1e-9


def _f(v):
    return float("nan") if v is None else float(v)


@dataclass
class CompareRow:
    """One compared key. ``delta`` is in percentage points for fractions, else in the key's units."""

    metric: str
    key: str
    base: float
    new: float
    delta: float
    gate: float | None = None
    failed: bool = False

    @property
    def unit(self) -> str:
        return "pp" if is_fraction_key(self.key) else ""


@dataclass
class CompareResult:
    rows: list
    warnings: list = field(default_factory=list)
    base_label: str = "base"
    new_label: str = "new"
    per_class: list = field(default_factory=list)  # CompareRow with key "class:IoU", metric = class name

    @property
    def failed(self) -> bool:
        return any(r.failed for r in self.rows)

    def failures(self) -> list:
        return [r for r in self.rows if r.failed]


def compare_records(base, new, max_drop: dict | None = None, base_label: str = "base",
                    new_label: str = "new") -> CompareResult:
    """Compare two RunRecords and apply the ``max_drop`` gates (see the module docstring)."""
    gates = dict(max_drop or {})
    warnings = []
    for attr in ("dataset", "split", "task"):
        a, b = getattr(base, attr), getattr(new, attr)
        if a != b:
            warnings.append(f"{attr} differs: {a} vs {b}")
    base_names = {k.split("@")[0]: k for k in base.metrics}
    rows: list[CompareRow] = []
    for nkey, nres in new.metrics.items():
        name = nkey.split("@")[0]
        bkey = base_names.get(name)
        if bkey is None:
            warnings.append(f"metric {nkey} is only in {new_label}")
            continue
        if bkey != nkey:
            warnings.append(f"metric version differs: {bkey} vs {nkey}")
        bvals = base.metrics[bkey].get("values") or {}
        for k, nv in (nres.get("values") or {}).items():
            if k not in bvals or not (nv is None or isinstance(nv, (int, float))):
                continue
            bv, nv = _f(bvals[k]), _f(nv)
            scale = 100.0 if is_fraction_key(k) else 1.0
            delta = (nv - bv) * scale
            row = CompareRow(metric=nkey, key=k, base=bv, new=nv, delta=delta)
            if k in gates:
                row.gate = gates[k]
                if math.isnan(bv):
                    row.failed = False
                    warnings.append(f"gate {k}: the base value is not a number, so the gate cannot be checked")
                elif math.isnan(nv):
                    row.failed = True
                else:
                    drop = delta if lower_is_better(k) else -delta
                    row.failed = drop > gates[k] + _EPS
            rows.append(row)
    for nkey in base.metrics:
        if nkey.split("@")[0] not in {k.split("@")[0] for k in new.metrics}:
            warnings.append(f"metric {nkey} is only in {base_label}")
    for nkey, nres in new.metrics.items():  # same names, other images: a style dataset's name says nothing
        bres = base.metrics.get(base_names.get(nkey.split("@")[0], ""), {})
        bs, ns = set(bres.get("per_sample") or ()), set(nres.get("per_sample") or ())
        if bs and ns and bs != ns:
            warnings.append(f"{nkey}: the records scored different samples ({len(bs)} vs {len(ns)}, "
                            f"{len(bs & ns)} in common); are they of the same ground truth?")
            break
    have = {r.key for r in rows}
    unknown = [k for k in gates if k not in have]
    if unknown:
        raise UsageError(f"--max-drop: metric {unknown[0]!r} is not in both records "
                         f"(have: {', '.join(sorted(have)) or 'none'})")
    return CompareResult(rows=rows, warnings=warnings, base_label=base_label, new_label=new_label,
                         per_class=per_class_deltas(base, new))


def per_class_deltas(base, new, key: str | None = None) -> list:
    """Per-class deltas of ``key`` (default ``IoU``, else the first per-class key) for every metric
    both records have per-class results for; rows sorted from the largest drop."""
    out = []
    base_names = {k.split("@")[0]: k for k in base.metrics}
    for nkey, nres in new.metrics.items():
        bkey = base_names.get(nkey.split("@")[0])
        if bkey is None:
            continue
        bpc, npc = base.metrics[bkey].get("per_class") or {}, nres.get("per_class") or {}
        keys = [k for row in npc.values() for k in (row or {})]
        k = key or ("IoU" if "IoU" in keys else (keys[0] if keys else None))
        if k is None:
            continue
        rows = []
        for cname, nrow in npc.items():
            if cname not in bpc or k not in (nrow or {}) or k not in (bpc[cname] or {}):
                continue
            bv, nv = _f(bpc[cname][k]), _f(nrow[k])
            scale = 100.0 if is_fraction_key(k) else 1.0
            rows.append(CompareRow(metric=f"{nkey}:{cname}", key=k, base=bv, new=nv, delta=(nv - bv) * scale))
        rows.sort(key=lambda r: (math.isnan(r.delta), r.delta if not lower_is_better(r.key) else -r.delta))
        out += rows
    return out


def _delta_str(r: CompareRow) -> str:
    if math.isnan(r.delta):
        return "n/a"
    return f"{r.delta:+.2f}{(' ' + r.unit) if r.unit else ''}"


def _status(r: CompareRow) -> str:
    if r.gate is None:
        return ""
    return f"FAIL (max drop {r.gate:g})" if r.failed else f"ok (max drop {r.gate:g})"


def compare_markdown(res: CompareResult, per_class: bool = False) -> str:
    """The delta table as GitHub Markdown (for CI step summaries); ``per_class`` adds a collapsed
    per-class table."""
    from .markdown import escape_md as e
    head = "FAILED" if res.failed else "passed"
    bl, nl = e(res.base_label), e(res.new_label)
    lines = [f"### segbench compare: {head}", "",
             f"| metric | key | {bl} | {nl} | delta | gate |", "|---|---|---:|---:|---:|---|"]
    for r in res.rows:
        gate = _status(r)
        if r.failed:
            gate = f"**{gate}**"
        lines.append(f"| {e(r.metric)} | {e(r.key)} | {format_value(r.key, r.base)} | {format_value(r.key, r.new)} | "
                     f"{_delta_str(r)} | {gate} |")
    if per_class and res.per_class:
        lines += ["", "<details><summary>per class</summary>", "",
                  f"| metric:class | key | {bl} | {nl} | delta |", "|---|---|---:|---:|---:|"]
        for r in res.per_class:
            lines.append(f"| {e(r.metric)} | {e(r.key)} | {format_value(r.key, r.base)} | "
                         f"{format_value(r.key, r.new)} | {_delta_str(r)} |")
        lines += ["", "</details>"]
    lines.append("")
    lines.append("Values of fraction metrics in %, deltas in percentage points (pp).")
    for w in res.warnings:
        lines.append(f"\n> warning: {e(w)}")
    return "\n".join(lines) + "\n"


def print_compare(res: CompareResult, console=None, per_class: bool = False) -> None:
    """The delta table with rich (green = better, red = worse)."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text
    console = console or Console()
    t = Table(title=None)
    for c, j in (("metric", "left"), ("key", "left"), (res.base_label, "right"), (res.new_label, "right"),
                 ("delta", "right"), ("gate", "left")):
        t.add_column(c, justify=j)
    for r in res.rows:
        better = (r.delta < 0) if lower_is_better(r.key) else (r.delta > 0)
        style = "" if (math.isnan(r.delta) or r.delta == 0) else ("green" if better else "red")
        d = _delta_str(r)
        t.add_row(Text(r.metric), Text(r.key), format_value(r.key, r.base), format_value(r.key, r.new),
                  f"[{style}]{d}[/{style}]" if style else d,
                  f"[bold red]{_status(r)}[/bold red]" if r.failed else _status(r))
    console.print(t)
    if per_class and res.per_class:
        pt = Table(title=None)
        for c, j in (("metric:class", "left"), ("key", "left"), (res.base_label, "right"), (res.new_label, "right"),
                     ("delta", "right")):
            pt.add_column(c, justify=j)
        for r in res.per_class:
            pt.add_row(Text(r.metric), Text(r.key), format_value(r.key, r.base), format_value(r.key, r.new),
                       _delta_str(r))
        console.print(pt)
    console.print("values of fraction metrics in %, deltas in percentage points (pp)", style="dim")
    for w in res.warnings:
        console.print(f"warning: {w}", style="yellow", markup=False)


def significance_rows(base, new, n_resamples: int = 1000, seed: int = 0) -> list:
    """Paired bootstrap interval and permutation p-value of every per-sample field shared by two records
    (:func:`segbench.metrics.stats.compare_records_per_sample`), ``new - base``."""
    from ..metrics.stats import compare_records_per_sample
    return compare_records_per_sample(base, new, n_resamples=n_resamples, n_permutations=max(1000, n_resamples),
                                      seed=seed)


def _sig_cells(r: dict) -> tuple:
    scale, unit = (100.0, " pp") if is_fraction_key(r["field"]) else (1.0, "")
    d, lo, hi = r["delta"] * scale, r["low"] * scale, r["high"] * scale
    return (f"{d:+.2f}{unit}", f"[{lo:+.2f}, {hi:+.2f}]", f"{r['p_permutation']:.4f}", str(r["n_samples"]))


def significance_markdown(rows: list) -> str:
    """The per-sample significance table as Markdown."""
    if not rows:
        return "\nNo per-sample results shared by both records: no significance test.\n"
    conf = int(round(100 * rows[0]["confidence"]))
    lines = ["", f"#### Paired per-sample comparison (new - base, {conf}% bootstrap interval, "
             f"{rows[0]['n_resamples']} resamples; sign-flip permutation p-value)", "",
             "| metric | per-sample field | delta | interval | p | samples |", "|---|---|---:|---|---:|---:|"]
    for r in rows:
        d, ci, p, n = _sig_cells(r)
        lines.append(f"| {r['metric']} | {r['field']} | {d} | {ci} | {p} | {n} |")
    return "\n".join(lines) + "\n"


def print_significance(rows: list, console=None) -> None:
    """The per-sample significance table with rich."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text
    console = console or Console()
    if not rows:
        console.print("no per-sample results shared by both records: no significance test", style="dim")
        return
    conf = int(round(100 * rows[0]["confidence"]))
    t = Table(title=f"paired per-sample comparison (new - base): {conf}% bootstrap interval, permutation p")
    for c, j in (("metric", "left"), ("field", "left"), ("delta", "right"), ("interval", "left"),
                 ("p", "right"), ("samples", "right")):
        t.add_column(c, justify=j)
    for r in rows:
        d, ci, p, n = _sig_cells(r)
        style = "bold" if r["p_permutation"] < 0.05 else ""
        t.add_row(Text(r["metric"]), Text(r["field"]), Text(d, style=style), Text(ci), Text(p, style=style), n)
    console.print(t)

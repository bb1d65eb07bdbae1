"""The classic BSDS boundary precision-recall plot: iso-F curves, one PR curve per method and its ODS
point (as Berkeley's ``plot_eval`` / Dollár's ``edgesEvalPlot`` draw it).

Two entry points:

- :func:`boundary_pr_figure` — the figure hook of one RunRecord's ``bsds_boundary`` result (artifact
  ``boundary_pr``); registered for the HTML report with one line in
  :data:`segbench.report.figures.FIGURES`: ``"boundary_pr": "segbench.report.figures_boundary:boundary_pr_figure"``.
- :func:`boundary_pr_board` — the leaderboard-level hook (``BOARD_FIGURES``): every ranked method's
  curve and ODS point on one plot.
- :func:`boundary_pr_comparison` — several methods on one plot (from RunRecords or plain curves),
  sorted by ODS, legend ``[F=.xxx] name``.

Figures are built without pyplot (no global backend state).

Examples
--------
>>> fig = boundary_pr_comparison([("a", [0.9, 0.6, 0.2], [0.4, 0.7, 0.9], 0.68, 0.6, 0.75)])
>>> fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel()
('Recall', 'Precision')
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

__all__ = ["boundary_pr_figure", "boundary_pr_board", "boundary_pr_comparison", "curves_from_records",
           "iso_f_curves"]


def iso_f_curves(levels: Sequence[float] = tuple(np.round(np.arange(0.1, 1.0, 0.1), 1)), n: int = 200):
    """``[(F, r, p)]`` points of the iso-F curves ``p = F r / (2 r - F)`` for ``r`` in ``(F/2, 1]``."""
    out = []
    for f in levels:
        r = np.linspace(f / 2 + 1e-6, 1, n)
        p = f * r / (2 * r - f)
        keep = (p >= 0) & (p <= 1)
        out.append((float(f), r[keep], p[keep]))
    return out


def _axes(title: str = ""):
    from matplotlib.figure import Figure
    fig = Figure(figsize=(5.2, 5.2))
    ax = fig.add_subplot(111)
    for f, r, p in iso_f_curves():
        ax.plot(r, p, color=(0.55, 0.8, 0.55), lw=0.8, zorder=1)
        k = int(np.argmin(np.abs(r - p)))
        ax.text(r[k] + 0.01, p[k] + 0.01, f"{f:.1f}", color=(0.35, 0.6, 0.35), fontsize=7)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_xticks(np.arange(0, 1.01, 0.1))
    ax.set_yticks(np.arange(0, 1.01, 0.1))
    ax.grid(True, lw=0.4, alpha=0.5)
    ax.set_xlabel("Recall")
    ax.set_ylabel("Precision")
    if title:
        ax.set_title(title, fontsize=10)
    return fig, ax


def boundary_pr_comparison(curves: Iterable, title: str = "Boundary precision-recall (BSDS)"):
    """One figure with every method's PR curve and ODS point.

    Parameters
    ----------
    curves : iterable of (name, recall, precision, ODS_R, ODS_P, ODS)
        Curves over thresholds; ``ODS_R, ODS_P`` is the ODS operating point, ``ODS`` its F.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib
    fig, ax = _axes(title)
    items = sorted(curves, key=lambda c: -float(c[5]) if c[5] == c[5] else 1.0)
    colors = matplotlib.colormaps["tab10"]
    for i, (name, R, P, odr, odp, ods) in enumerate(items):
        R = np.asarray(R, float)
        P = np.asarray(P, float)
        keep = R >= 1e-3  # as edgesEvalPlot: drop the empty high-threshold end
        col = colors(i % 10)
        ax.plot(R[keep], P[keep], "-", lw=2, color=col, label=f"[F={ods:.3f}] {name}", zorder=3)
        ax.plot([odr], [odp], "o", ms=6, color=col, markeredgecolor="black", zorder=4)
    if items:
        ax.legend(loc="lower left", fontsize=8, framealpha=0.9)
    return fig


def boundary_pr_figure(artifact, result, record, metric_key: str):
    """Figure hook for the ``boundary_pr`` artifact of ``bsds_boundary`` (one method). None when the
    artifact has no curve."""
    try:
        R = artifact["recall"]
        P = artifact["precision"]
    except (TypeError, KeyError):
        return None
    if not R:
        return None
    name = "predictions"
    if record is not None:
        model = getattr(record, "model", None) or {}
        name = model.get("name", name) if isinstance(model, dict) else name
    ods = artifact.get("ODS", result.values.get("ODS", float("nan")) if result is not None else float("nan"))
    return boundary_pr_comparison([(name, R, P, artifact.get("ODS_R", np.nan), artifact.get("ODS_P", np.nan),
                                    ods)], title=f"Boundary PR, {metric_key}")


def curves_from_records(records) -> list:
    """``(name, R, P, ODS_R, ODS_P, ODS)`` of every RunRecord (object or dict) with a ``bsds_boundary``
    result, for :func:`boundary_pr_comparison`; the name is the record's model name."""
    out = []
    for rec in records:
        d = rec if isinstance(rec, dict) else rec.to_dict() if hasattr(rec, "to_dict") else vars(rec)
        model = d.get("model") or {}
        for key, res in (d.get("metrics") or {}).items():
            if not key.startswith("bsds_boundary@"):
                continue
            art = (res.get("artifacts") or {}).get("boundary_pr")
            if not art:
                continue
            out.append((model.get("name", "predictions"), art["recall"], art["precision"],
                        art.get("ODS_R", np.nan), art.get("ODS_P", np.nan), art.get("ODS", np.nan)))
    return out


def boundary_pr_board(records):
    """Leaderboard hook: :func:`boundary_pr_comparison` over the ``bsds_boundary`` results of
    ``records`` (one curve per record, named by its model); None when none has a curve."""
    curves = [c for c in curves_from_records(records) if len(c[1])]
    if not curves:
        return None
    return boundary_pr_comparison(curves)

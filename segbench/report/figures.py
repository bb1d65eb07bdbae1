"""Figures of a RunRecord for the HTML report, one hook per *artifact* a metric stores.

A metric puts larger results in ``MetricResult.artifacts`` (plain lists). :data:`FIGURES` maps an
artifact name to a function that draws it; registering a figure for a new task is one dict line,
like the other registries (e.g. ``"pr_curve": "segbench.report.figures_instance:pr_curve"``)::

    def my_figure(artifact, result, record, metric_key) -> Figure | list[tuple[str, Figure]] | None

``result`` is the :class:`~segbench.metrics.base.MetricResult`, ``record`` the RunRecord. The
function returns a matplotlib :class:`~matplotlib.figure.Figure` (built without pyplot, so no global
backend is touched), a list of ``(title, Figure)`` pairs, or None to skip. :func:`render_figures`
turns them into base64 PNG data URIs for a self-contained page.

Examples
--------
>>> from segbench.metrics.base import MetricResult
>>> res = MetricResult({"mIoU": 0.5}, {"a": {"IoU": 0.5}, "b": {"IoU": 0.5}},
...                    artifacts={"confusion_matrix": [[3, 1], [1, 3]]})
>>> fig = confusion_matrix_figure([[3, 1], [1, 3]], res, None, "miou@1")
>>> fig.axes[0].get_title()
'confusion matrix (row-normalised), miou@1'
"""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np

__all__ = ["FIGURES", "BOARD_FIGURES", "render_figures", "render_board_figures", "figure_to_data_uri", "confusion_matrix_figure", "CONFUSION_KEYS"]

FIGURES: dict[str, str] = {
    "confusion_matrix": "segbench.report.figures:confusion_matrix_figure",
    "confusion": "segbench.report.figures:confusion_matrix_figure",
    "pr_curves": "segbench.metrics.instance:pr_curve_figure",
    "boundary_pr": "segbench.report.figures_boundary:boundary_pr_figure",
}

#: Leaderboard-level figures: artifact name -> ``fn(records) -> Figure | None`` drawing every ranked
#: method on one plot (the leaderboard page then skips that artifact's per-run figure).
BOARD_FIGURES: dict[str, str] = {
    "boundary_pr": "segbench.report.figures_boundary:boundary_pr_board",
}

#: Artifact names under which metrics may store a confusion matrix (rows = GT, columns = prediction).
CONFUSION_KEYS = ("confusion_matrix", "confusion")


def figure_to_data_uri(fig, dpi: int = 100) -> str:
    """``data:image/png;base64,...`` of a matplotlib Figure."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def confusion_matrix_figure(artifact, result, record, metric_key: str):
    """Heat map of a ``(C, C)`` confusion matrix (rows = GT, columns = prediction), row-normalised.

    Class names come from ``result.per_class`` when it has C entries. Cells are annotated for
    C ≤ 12. Returns None for anything that is not a square matrix.
    """
    from matplotlib.figure import Figure
    try:
        cm = np.asarray(artifact, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] == 0:
        return None
    c = cm.shape[0]
    names = list((getattr(result, "artifacts", None) or {}).get("class_names") or [])
    if len(names) != c:
        names = list((getattr(result, "per_class", None) or {}).keys())
    if len(names) != c:
        names = [str(i) for i in range(c)]
    rows = cm.sum(axis=1, keepdims=True)
    norm = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    side = min(12.0, 2.5 + 0.35 * c)
    fig = Figure(figsize=(side, side * 0.85))
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(norm, cmap="viridis", vmin=0.0, vmax=1.0, interpolation="nearest")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of GT pixels")
    ticks = np.arange(c)
    fs = 8 if c <= 30 else 5
    if c <= 60:
        ax.set_xticks(ticks)
        ax.set_xticklabels(names, rotation=90, fontsize=fs)
        ax.set_yticks(ticks)
        ax.set_yticklabels(names, fontsize=fs)
    ax.set_xlabel("prediction")
    ax.set_ylabel("ground truth")
    ax.set_title(f"confusion matrix (row-normalised), {metric_key}")
    if c <= 12:
        for i in range(c):
            for j in range(c):
                ax.text(j, i, f"{norm[i, j]:.2f}", ha="center", va="center", fontsize=8,
                        color="white" if norm[i, j] < 0.6 else "black")
    return fig


def render_figures(record, max_per_metric: int = 4, skip=()) -> list[tuple[str, str]]:
    """``[(title, data URI), ...]`` for every artifact of ``record`` that has a registered figure
    (artifact names in ``skip`` left out)."""
    from ..metrics.base import MetricResult
    from ..registry import resolve

    out: list[tuple[str, str]] = []
    for mkey, res_d in (record.metrics or {}).items():
        res = MetricResult.from_dict(res_d)
        done: set = set()
        n = 0
        for name, artifact in (res.artifacts or {}).items():
            if name not in FIGURES or name in skip or n >= max_per_metric:
                continue
            fn = resolve(FIGURES, name, kind="figure")
            if fn in done and name in CONFUSION_KEYS:
                continue
            try:
                figs: Any = fn(artifact, res, record, mkey)
                if figs is None:
                    continue
                if not isinstance(figs, list):
                    figs = [(f"{name} · {mkey}", figs)]
                rendered = [(title, figure_to_data_uri(fig)) for title, fig in figs]
            except Exception as e:  # noqa: BLE001 - one broken figure must not sink the whole report
                import warnings
                warnings.warn(f"figure {name!r} of {mkey} could not be drawn: {type(e).__name__}: {e}")
                continue
            out += rendered
            n += len(rendered)
            done.add(fn)
    return out


def render_board_figures(records) -> list[tuple[str, str, str]]:
    """``[(artifact name, title, data URI), ...]``: the :data:`BOARD_FIGURES` whose artifact appears in
    any of ``records`` (RunRecords), each drawn once over all of them."""
    from ..registry import resolve

    present: list[str] = []
    for rec in records:
        for res_d in (rec.metrics or {}).values():
            for name in (res_d.get("artifacts") or {}):
                if name in BOARD_FIGURES and name not in present:
                    present.append(name)
    out: list[tuple[str, str, str]] = []
    for name in present:
        fn = resolve(BOARD_FIGURES, name, kind="board figure")
        try:
            fig = fn(list(records))
            if fig is None:
                continue
            title = fig.axes[0].get_title() if fig.axes else name
            out.append((name, title or name, figure_to_data_uri(fig)))
        except Exception as e:  # noqa: BLE001 - one broken figure must not sink the whole report
            import warnings
            warnings.warn(f"board figure {name!r} could not be drawn: {type(e).__name__}: {e}")
    return out

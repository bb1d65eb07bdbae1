"""The boundary PR plot (iso-F curves, PR curve, ODS point) and its hook into the HTML report's figures."""

from __future__ import annotations

import numpy as np

from segbench.metrics import get_metric
from segbench.report import figures as F
from segbench.report.figures_boundary import (boundary_pr_comparison, boundary_pr_figure, curves_from_records,
                                              iso_f_curves)
from segbench.results import RunRecord
from segbench.types import BoundaryMaps, BoundaryPrediction, Sample


def _result():
    gt = np.zeros((1, 80, 120), bool)
    gt[0, 40, 10:110] = True
    pb = np.zeros((80, 120))
    pb[41, 10:110] = np.linspace(0.05, 0.95, 100)
    pb[10, 10:60] = 0.5
    m = get_metric("bsds_boundary", nthresh=19)
    m.update(BoundaryPrediction(pb), Sample("a", None, BoundaryMaps(gt)))
    return m, m.compute()


def test_iso_f_curves_have_constant_f():
    for f, r, p in iso_f_curves():
        assert np.allclose(2 * p * r / (p + r), f)


def test_figure_hook_draws_curve_and_ods_point():
    m, res = _result()
    art = res.artifacts["boundary_pr"]
    fig = boundary_pr_figure(art, res, None, m.key)
    ax = fig.axes[0]
    # 9 iso-F curves + the PR curve + the ODS marker
    assert len(ax.lines) == 11
    odsx, odsy = ax.lines[-1].get_data()
    assert odsx[0] == art["ODS_R"] and odsy[0] == art["ODS_P"]
    assert "F=" in ax.get_legend().get_texts()[0].get_text()
    assert F.figure_to_data_uri(fig).startswith("data:image/png;base64,")
    assert boundary_pr_figure({}, res, None, m.key) is None


def test_report_integration_and_comparison():
    m, res = _result()
    rec = RunRecord(dataset="bsds500@2011", split="test", task="boundary", model={"name": "canny"},
                    predictions={}, metrics={m.key: res.to_dict()}, config={}, timings={})
    assert "boundary_pr" in F.FIGURES and "boundary_pr" in F.BOARD_FIGURES
    figs = F.render_figures(rec)
    assert any("boundary_pr" in title for title, _ in figs)
    curves = curves_from_records([rec, rec.to_dict()])
    assert len(curves) == 2 and curves[0][0] == "canny"
    fig = boundary_pr_comparison(curves + [("other", [0.5, 0.2], [0.5, 0.8], 0.5, 0.5, 0.5)])
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels[-1].endswith("other") and len(labels) == 3


def test_leaderboard_page_draws_all_methods_on_one_pr_plot():
    from segbench.report.html import leaderboard_html
    from segbench.report.leaderboard import build_leaderboards

    m, res = _result()
    recs = []
    for name in ("canny", "sobel"):
        recs.append(RunRecord(dataset="bsds500@2011", split="test", task="boundary", model={"name": name},
                              predictions={}, metrics={m.key: res.to_dict()}, config={}, timings={}))
    board = F.render_board_figures(recs)
    assert [b[0] for b in board] == ["boundary_pr"] and board[0][2].startswith("data:image/png;base64,")
    df = build_leaderboards(recs)[("bsds500", "boundary")]
    html = leaderboard_html(df, recs)
    assert "all methods: Boundary precision-recall" in html
    # the per-run boundary plot is not repeated under each model
    assert "Boundary PR, bsds_boundary" not in html
    from segbench.report.figures_boundary import boundary_pr_board
    fig = boundary_pr_board(recs)
    assert len(fig.axes[0].get_legend().get_texts()) == 2

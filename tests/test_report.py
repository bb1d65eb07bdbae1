"""Leaderboards (pure functions of records), Markdown / HTML rendering, `segbench report`, tables."""

from __future__ import annotations

import io
import re

import pandas as pd
import pytest
from rich.console import Console

from segbench.cli import main
from segbench.report.figures import FIGURES, confusion_matrix_figure, render_figures
from segbench.report.html import leaderboard_html
from segbench.report.leaderboard import build_leaderboards, leaderboard, load_reported, primary_metric
from segbench.report.markdown import leaderboard_markdown
from segbench.report.render import render_report
from segbench.report.tables import format_value, print_record
from segbench.results import ResultsStore, RunRecord

REPORTED = """model,variant,task,dataset,split,metric,value,unit,notes,source
PaperNet,PaperNet-L,semantic,cityscapes,val,mIoU,80.5,%,ss,Paper A (2020) table 3
PaperNet,PaperNet-L,panoptic,cityscapes,val,PQ,60.1,%,,Paper A (2020) table 5
Other,Other-S,semantic,ade20k,val,mIoU,40.0,%,,Paper B
ClickNet,ClickNet,interactive,GrabCut,all,NoC@90,2.5,clicks,,Paper C
"""


def rec(model, miou, dataset="cityscapes@1", task="semantic", split="val", created="2026-01-01T00:00:00+00:00",
        per_class=None, cm=None):
    res = {"values": {"mIoU": miou, "mAcc": miou + 0.05 if miou is not None else None}}
    if per_class is not None:
        res["per_class"] = per_class
    if cm is not None:
        res["artifacts"] = {"confusion_matrix": cm, "class_names": list(per_class or [])}
    return RunRecord(dataset=dataset, split=split, task=task, model={"name": model, "source": "segbench predict"},
                     predictions={}, metrics={"miou@1": res}, created=created)


@pytest.fixture
def reported_csv(tmp_path):
    p = tmp_path / "reported.csv"
    p.write_text(REPORTED)
    return p


def test_best_run_per_model_and_ranking(reported_csv):
    recs = [rec("a", 0.50, created="2026-01-01T00:00:00+00:00"), rec("a", 0.62, created="2026-01-02T00:00:00+00:00"),
            rec("a", 0.55, created="2026-01-03T00:00:00+00:00"), rec("b", 0.70), rec("c", None),
            rec("a", 0.99, split="test"), rec("z", 0.9, dataset="ade20k@1")]
    df = leaderboard(recs, "cityscapes", "semantic", reported=load_reported(reported_csv))
    measured = df[df["source"] == "segbench"]
    assert measured[["rank", "model", "split", "runs"]].values.tolist() == [
        [1, "a", "test", 1], [1, "b", "val", 1], [2, "a", "val", 3], [3, "c", "val", 1]]
    assert measured.iloc[2]["mIoU"] == pytest.approx(0.62)
    rep = df[df["source"] == "reported"]
    assert rep["model"].tolist() == ["PaperNet"] and rep["mIoU"].iloc[0] == pytest.approx(0.805)
    assert pd.isna(rep["rank"].iloc[0]) and rep["reference"].iloc[0] == "Paper A (2020) table 3"
    assert df.attrs["primary"] == "mIoU"


def test_leaderboards_are_pure_and_split_by_dataset_task(reported_csv):
    recs = [rec("a", 0.5), rec("p", 0.4, dataset="cityscapes-panoptic@1", task="panoptic"),
            rec("s", 0.3, dataset="cityscapes-style@1")]
    rep = load_reported(reported_csv)
    b1 = build_leaderboards(recs, reported=rep)
    b2 = build_leaderboards(list(reversed(recs)), reported=rep)
    assert list(b1) == [("cityscapes", "semantic"), ("cityscapes-panoptic", "panoptic"), ("cityscapes-style", "semantic")]
    for k in b1:
        pd.testing.assert_frame_equal(b1[k].drop(columns=["run_id"], errors="ignore"),
                                      b2[k].drop(columns=["run_id"], errors="ignore"))
    # the cityscapes panoptic paper row goes beside the cityscapes-panoptic runs; styles get none
    assert b1[("cityscapes-panoptic", "panoptic")]["source"].tolist() == ["segbench", "reported"]
    assert "reported" not in b1[("cityscapes-style", "semantic")]["source"].tolist()


def test_lower_is_better_ranking():
    r1 = RunRecord(dataset="grabcut@1", split="all", task="interactive", model={"name": "x"}, predictions={},
                   metrics={"noc@1": {"values": {"NoC@90": 3.0}}})
    r2 = RunRecord(dataset="grabcut@1", split="all", task="interactive", model={"name": "y"}, predictions={},
                   metrics={"noc@1": {"values": {"NoC@90": 2.0}}})
    df = leaderboard([r1, r2], "grabcut", "interactive")
    assert df["model"].tolist() == ["y", "x"]
    assert primary_metric("semantic", ["mAcc", "mIoU"]) == "mIoU"


def test_repo_reported_csv_keeps_sources_and_registry_names():
    df = load_reported()
    assert len(df) > 600
    assert (df["source"].str.len() > 0).all()
    assert {"cityscapes", "coco", "ade20k", "voc2012"} <= set(df["dataset"])
    cs = df[(df["dataset"] == "cityscapes") & (df["task"] == "semantic") & (df["metric"] == "mIoU")]
    assert len(cs) > 50 and cs["value"].between(0, 1).all()  # percentages became fractions


def test_markdown_marks_reported_rows_with_sources(reported_csv):
    df = leaderboard([rec("a", 0.7312)], "cityscapes", "semantic", reported=load_reported(reported_csv))
    md = leaderboard_markdown(df)
    assert "| 1 | a | segbench | val | 73.12 | 78.12 |" in md
    assert "| | PaperNet (PaperNet-L) | *reported* [1] | val | 80.50 | |" in md.replace("|  |", "| |")
    assert "1. Paper A (2020) table 3" in md
    assert "Ranked by **mIoU** (higher is better)" in md


def test_html_is_self_contained_sortable_with_bars_and_heatmap(reported_csv):
    pc = {"road": {"IoU": 0.9}, "sky": {"IoU": 0.5}, "bus": {"IoU": None}}
    cm = [[9, 1, 0], [2, 5, 0], [0, 0, 0]]
    recs = [rec("a", 0.7, per_class=pc, cm=cm), rec("b", 0.6, per_class=pc, cm=cm)]
    df = leaderboard(recs, "cityscapes", "semantic", reported=load_reported(reported_csv))
    page = leaderboard_html(df, recs)
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(src|href)=["'](https?:)?//""", page)  # nothing loaded from the network
    assert "function sortTable" in page and 'class="sortable"' in page
    assert page.count("data:image/png;base64,") == 2  # one heat map per measured model
    assert 'style="width:90.0%"' in page and "n/a" in page and "left out of the means" in page
    assert 'class="reported"' in page and "Paper A (2020) table 3" in page
    assert "cityscapes@1" in page  # provenance
    assert_balanced(page)


def assert_balanced(page: str) -> None:
    from html.parser import HTMLParser

    class P(HTMLParser):
        def __init__(self):
            super().__init__()
            self.stack, self.errors = [], []

        def handle_starttag(self, tag, attrs):
            if tag not in ("meta", "img", "br", "link", "input", "hr"):
                self.stack.append(tag)

        def handle_endtag(self, tag):
            if self.stack and self.stack[-1] == tag:
                self.stack.pop()
            else:
                self.errors.append(tag)

    p = P()
    p.feed(page)
    assert p.errors == [] and p.stack == []


def test_figure_hook_registry(monkeypatch):
    calls = []

    def pr_curve(artifact, result, record, metric_key):
        from matplotlib.figure import Figure
        calls.append((artifact, metric_key))
        fig = Figure()
        fig.add_subplot(1, 1, 1).plot(artifact["recall"], artifact["precision"])
        return [("PR curve", fig)]

    import sys
    import types
    mod = types.ModuleType("segbench_test_fig")
    mod.pr_curve = pr_curve
    monkeypatch.setitem(sys.modules, "segbench_test_fig", mod)
    monkeypatch.setitem(FIGURES, "pr_curve", "segbench_test_fig:pr_curve")
    r = RunRecord(dataset="coco@2017", split="val", task="instance", model={"name": "m"}, predictions={},
                  metrics={"ap@1": {"values": {"AP": 0.3}, "artifacts": {"pr_curve": {"recall": [0, 1],
                                                                                       "precision": [1, 0]}}}})
    figs = render_figures(r)
    assert [t for t, _ in figs] == ["PR curve"] and figs[0][1].startswith("data:image/png;base64,")
    assert calls[0][1] == "ap@1"


def test_confusion_figure_rejects_non_square():
    assert confusion_matrix_figure([[1, 2, 3]], None, None, "m") is None
    assert confusion_matrix_figure("nope", None, None, "m") is None


def test_print_record_summary_per_class_and_provenance():
    r = rec("a", 0.7312, per_class={"road": {"IoU": 0.9, "Acc": 0.95}, "bus": {"IoU": None, "Acc": None}})
    con = Console(file=io.StringIO(), width=120, record=True, color_system=None)
    print_record(r, con)
    txt = con.export_text()
    assert "73.12" in txt and "mIoU" in txt and "90.00" in txt
    assert "n/a" in txt and "absent from both" in txt and "left out of the means" in txt
    assert "dataset cityscapes@1" in txt and "split val" in txt and "model a" in txt and "miou@1" in txt
    assert "segbench 0.1.0" in txt
    assert format_value("NoC@90", 2.5) == "2.5" and format_value("mIoU", float("nan")) == "n/a"


def test_print_record_large_label_space_is_capped():
    pc = {f"c{i}": ({"IoU": 0.5, "Acc": 0.5} if i % 100 == 0 else {"IoU": None, "Acc": None}) for i in range(65535)}
    r = rec("a", 0.5, per_class=pc)
    con = Console(file=io.StringIO(), width=120, record=True, color_system=None)
    print_record(r, con, max_classes=200)
    txt = con.export_text()
    assert "64879 class(es) absent from GT and prediction not shown" in txt
    assert "456 more class(es) left out after the first 200" in txt
    assert "c65500" not in txt and "c19900 " in txt and "c20000 " not in txt and "c1 " not in txt
    # small label spaces keep their n/a rows
    con = Console(file=io.StringIO(), width=120, record=True, color_system=None)
    print_record(rec("a", 0.5, per_class={"x": {"IoU": None}, "y": {"IoU": 0.5}}), con)
    assert "n/a" in con.export_text() and "not shown" not in con.export_text()


def test_report_cli(tmp_path, capsys, reported_csv):
    db = tmp_path / "r.db"
    store = ResultsStore(db)
    store.add(rec("a", 0.7, per_class={"road": {"IoU": 0.7}}, cm=[[1]]))
    store.add(rec("b", 0.6, dataset="ade20k@1"))
    code = main(["report", "--db", str(db), "--out", str(tmp_path / "out"), "--reported", str(reported_csv)])
    out, err = capsys.readouterr()
    assert code == 0, err
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert files == ["ade20k__semantic.html", "ade20k__semantic.md", "cityscapes__semantic.html",
                     "cityscapes__semantic.md", "index.html", "index.md"]
    assert "cityscapes · semantic" in out and "70.00" in out
    idx = (tmp_path / "out" / "index.md").read_text()
    assert "cityscapes__semantic.md" in idx and "| cityscapes | semantic | 1 | a | mIoU | 70.00 |" in idx
    assert "Other" in (tmp_path / "out" / "ade20k__semantic.md").read_text()


def test_report_cli_errors(tmp_path, capsys):
    assert main(["report", "--db", str(tmp_path / "none.db"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "found nothing" in err and "Traceback" not in err
    ResultsStore(tmp_path / "empty.db")
    assert main(["report", "--db", str(tmp_path / "empty.db"), "--out", str(tmp_path / "o")]) == 2
    assert "found none" in capsys.readouterr().err


def test_render_report_without_reported(tmp_path):
    out = render_report([rec("a", 0.5)], tmp_path, reported=False)
    df = out["boards"][("cityscapes", "semantic")]
    assert df["source"].tolist() == ["segbench"]


def test_broken_figure_hook_does_not_sink_the_report(monkeypatch):
    import sys
    import types
    mod = types.ModuleType("segbench_test_badfig")

    def bad(artifact, result, record, metric_key):
        raise ValueError("boom")

    mod.bad = bad
    monkeypatch.setitem(sys.modules, "segbench_test_badfig", mod)
    monkeypatch.setitem(FIGURES, "bad_art", "segbench_test_badfig:bad")
    r = rec("a", 0.5, per_class={"x": {"IoU": 0.5}}, cm=[[1]])
    r.metrics["miou@1"]["artifacts"]["bad_art"] = [1]
    with pytest.warns(UserWarning, match="boom"):
        figs = render_figures(r)
    assert len(figs) == 1  # the confusion matrix still drawn


def test_terminal_tables_do_not_interpret_markup_in_names():
    from segbench.report.compare import compare_records, print_compare
    from segbench.report.tables import print_leaderboard
    r = RunRecord(dataset="t@1", split="v", task="semantic", model={"name": "[/]net[red]"}, predictions={},
                  metrics={"miou@1": {"values": {"mIoU": 0.5}, "per_class": {"[/]x": {"IoU": 0.1}}}})
    con = Console(file=io.StringIO(), width=120, record=True, color_system=None)
    print_record(r, con)
    for df in build_leaderboards([r]).values():
        print_leaderboard(df, con)
    print_compare(compare_records(r, r), con, per_class=True)
    txt = con.export_text()
    assert "[/]net[red]" in txt and txt.count("[/]x") >= 2


def test_html_per_class_bars_capped_for_large_label_spaces():
    from segbench.report.html import _per_class_bars
    pc = {f"c{i}": ({"IoU": 0.5} if i % 100 == 0 else {"IoU": None}) for i in range(65535)}
    h = _per_class_bars([("a", rec("a", 0.5, per_class=pc))])
    assert h.count("<tr>") == 201 and "64879 class(es) absent" in h and "456 more" in h
    small = _per_class_bars([("a", rec("a", 0.5, per_class={"x": {"IoU": None}, "y": {"IoU": 0.5}}))])
    assert "n/a" in small and "absent from GT and prediction not shown" not in small

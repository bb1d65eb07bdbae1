"""`segbench compare`: delta tables, Markdown for CI, --max-drop gates in percentage points."""

from __future__ import annotations


import pytest

from segbench.cli import main
from segbench.errors import UsageError
from segbench.report.compare import compare_markdown, compare_records
from segbench.results import RunRecord


def rec(miou, macc=0.8, noc=None, dataset="isbi-membrane@2012", version="1"):
    vals = {"mIoU": miou, "mAcc": macc}
    metrics = {f"miou@{version}": {"values": vals}}
    if noc is not None:
        metrics["noc@1"] = {"values": {"NoC@90": noc}}
    return RunRecord(dataset=dataset, split="train", task="binary", model={"name": "m"}, predictions={},
                     metrics=metrics)


def write(tmp_path, name, r):
    p = tmp_path / name
    r.to_json(p)
    return str(p)


def test_delta_in_percentage_points_and_gate_boundary():
    res = compare_records(rec(0.7312), rec(0.7255), {"mIoU": 0.5})
    row = [r for r in res.rows if r.key == "mIoU"][0]
    assert row.delta == pytest.approx(-0.57) and row.unit == "pp" and row.failed
    assert not compare_records(rec(0.7312), rec(0.7255), {"mIoU": 0.6}).failed
    assert not compare_records(rec(0.70), rec(0.695), {"mIoU": 0.5}).failed  # exactly 0.5 pp: allowed
    assert not compare_records(rec(0.70), rec(0.80), {"mIoU": 0.0}).failed   # improvements never fail
    assert compare_records(rec(0.70), rec(None), {"mIoU": 5}).failed         # became undefined


def test_lower_is_better_keys():
    assert compare_records(rec(0.7, noc=2.0), rec(0.7, noc=2.6), {"NoC@90": 0.5}).failed
    assert not compare_records(rec(0.7, noc=2.0), rec(0.7, noc=1.0), {"NoC@90": 0.0}).failed
    r = [x for x in compare_records(rec(0.7, noc=2.0), rec(0.7, noc=2.6)).rows if x.key == "NoC@90"][0]
    assert r.unit == "" and r.delta == pytest.approx(0.6)


def test_warnings_and_unknown_gate():
    res = compare_records(rec(0.7), rec(0.7, dataset="cityscapes@1", version="2"))
    assert any("dataset differs" in w for w in res.warnings)
    assert any("metric version differs" in w for w in res.warnings)
    with pytest.raises(UsageError, match="PQ"):
        compare_records(rec(0.7), rec(0.7), {"PQ": 1})


def test_markdown():
    md = compare_markdown(compare_records(rec(0.7312), rec(0.7255), {"mIoU": 0.5}))
    assert md.startswith("### segbench compare: FAILED")
    assert "| miou@1 | mIoU | 73.12 | 72.55 | -0.57 pp | **FAIL (max drop 0.5)** |" in md


def test_cli_exit_codes(tmp_path, capsys):
    base = write(tmp_path, "base.json", rec(0.7312))
    new = write(tmp_path, "new.json", rec(0.7255))
    assert main(["compare", base, new]) == 0
    out = capsys.readouterr().out
    assert "-0.57 pp" in out
    assert main(["compare", base, new, "--max-drop", "mIoU=0.5"]) == 1
    cap = capsys.readouterr()
    assert "regression gate failed" in cap.err and "mIoU" in cap.err and "Traceback" not in cap.err
    assert main(["compare", base, new, "--max-drop", "mIoU=0.6", "--md"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("### segbench compare: passed") and "| mIoU |" in out
    assert main(["compare", base, new, "--max-drop", "mIoU=0.5", "--md"]) == 1
    assert "FAILED" in capsys.readouterr().out


def test_cli_bad_input(tmp_path, capsys):
    base = write(tmp_path, "base.json", rec(0.7))
    (tmp_path / "half.json").write_text('{"schema_version": 1, "data')
    assert main(["compare", base, str(tmp_path / "half.json")]) == 2
    err = capsys.readouterr().err
    assert "half.json" in err and len(err.strip().splitlines()) == 1
    assert main(["compare", base, str(tmp_path / "nope.json")]) == 2
    assert main(["compare", base, base, "--max-drop", "mIoU=-1"]) == 2
    assert main(["compare", base, base, "--max-drop", "mIoU"]) == 2


def test_per_class_deltas(tmp_path, capsys):
    def r(road, sky):
        return RunRecord(dataset="toy@1", split="val", task="semantic", model={"name": "m"}, predictions={},
                         metrics={"miou@1": {"values": {"mIoU": (road + sky) / 2},
                                             "per_class": {"road": {"IoU": road}, "sky": {"IoU": sky}}}})
    res = compare_records(r(0.9, 0.5), r(0.8, 0.6))
    assert [(x.metric, round(x.delta, 6)) for x in res.per_class] == [("miou@1:road", -10.0), ("miou@1:sky", 10.0)]
    base, new = write(tmp_path, "b.json", r(0.9, 0.5)), write(tmp_path, "n.json", r(0.8, 0.6))
    assert main(["compare", base, new, "--md", "--per-class"]) == 0
    out = capsys.readouterr().out
    assert "<details>" in out and "| miou@1:road | IoU | 90.00 | 80.00 | -10.00 pp |" in out
    assert main(["compare", base, new, "--per-class"]) == 0
    assert "miou@1:sky" in capsys.readouterr().out


def test_count_keys_are_not_percent_and_failures_rank_lower_first():
    from segbench.report.leaderboard import PRIMARY_METRIC, lower_is_better
    from segbench.report.tables import format_value, is_fraction_key
    for k in ("NoC@90", "NoF@85", "J_decay", "seconds", "VOI_ODS", "H_gt_given_pred", "rand_error"):
        assert lower_is_better(k), k
    for k in ("mIoU", "PQ", "ODS", "J&F", "FB_IoU"):
        assert not lower_is_better(k), k
    assert not is_fraction_key("NoF@90") and format_value("NoF@90", 3) == "3"
    assert is_fraction_key("mIoU") and format_value("mIoU", 0.5) == "50.00"
    assert PRIMARY_METRIC["fewshot"][0] == "mIoU"


def test_compare_significance_on_two_real_runs(tmp_path, capsys):
    """Two baselines on the packaged ISBI slices: the paired per-sample test runs and is reproducible."""
    from segbench.cli import main
    from segbench.demo import demo_data_root
    root = demo_data_root()
    for model in ("skimage-otsu", "skimage-sauvola"):
        assert main(["predict", "--model", model, "--dataset", "isbi-membrane", "--gt", str(root),
                     "--out", str(tmp_path / model)]) == 0
        assert main(["eval", str(tmp_path / model), "--dataset", "isbi-membrane", "--gt", str(root),
                     "--json", str(tmp_path / f"{model}.json")]) == 0
    capsys.readouterr()
    args = ["compare", str(tmp_path / "skimage-otsu.json"), str(tmp_path / "skimage-sauvola.json"),
            "--significance", "--resamples", "200", "--md"]
    assert main(args) == 0
    md = capsys.readouterr().out
    assert "Paired per-sample comparison" in md and "| miou | IoU_mean" in md or "| miou |" in md
    assert main(args) == 0
    assert capsys.readouterr().out == md          # seeded: identical output
    from segbench.report.compare import significance_rows
    from segbench.results import load_record
    rows = significance_rows(load_record(tmp_path / "skimage-otsu.json"), load_record(tmp_path / "skimage-sauvola.json"),
                             n_resamples=200)
    assert rows and all(r["n_samples"] == 5 and r["low"] <= r["delta"] <= r["high"] for r in rows)
    assert main(args[:-1]) == 0 and "paired per-sample comparison" in capsys.readouterr().out
    assert main(args[:3] + ["--significance", "--resamples", "5"]) == 2


def test_hand_edited_records_and_non_finite_gates_are_refused(tmp_path, capsys):
    import json
    base = write(tmp_path, "base.json", rec(0.7))
    good = json.loads(open(base).read())
    edits = {"m_str": lambda d: d["metrics"].__setitem__("miou@1", "x"),
             "v_list": lambda d: d["metrics"]["miou@1"].__setitem__("values", [1, 2]),
             "m_list": lambda d: d.__setitem__("metrics", []),
             "v_str": lambda d: d["metrics"]["miou@1"]["values"].__setitem__("mIoU", "0.9"),
             "v_bool": lambda d: d["metrics"]["miou@1"]["values"].__setitem__("mIoU", True),
             "pc_str": lambda d: d["metrics"]["miou@1"].__setitem__("per_class", {"a": {"IoU": "abc"}})}
    for name, edit in edits.items():
        d = json.loads(json.dumps(good))
        edit(d)
        p = tmp_path / f"{name}.json"
        p.write_text(json.dumps(d))
        for argv in ([base, str(p)], [str(p), base]):
            assert main(["compare", *argv, "--max-drop", "mIoU=1"]) == 2, name
            err = capsys.readouterr().err
            assert f"{name}.json" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for bad in ("mIoU=nan", "mIoU=inf", "=1"):
        assert main(["compare", base, base, "--max-drop", bad]) == 2
        assert "finite number" in capsys.readouterr().err


def test_markdown_cells_are_escaped(tmp_path, capsys):
    def r(v):
        return RunRecord(dataset="toy@1", split="val", task="semantic", model={"name": "m"}, predictions={},
                         metrics={"miou@1": {"values": {"mIoU": v}, "per_class": {
                             "a|b": {"IoU": v}, "<script>alert(1)</script>": {"IoU": v}}}})
    base, new = write(tmp_path, "b.json", r(0.5)), write(tmp_path, "n.json", r(0.6))
    assert main(["compare", base, new, "--md", "--per-class"]) == 0
    out = capsys.readouterr().out
    assert "| miou@1:a\\|b | IoU | 50.00 | 60.00 | +10.00 pp |" in out
    assert "<script>" not in out and "&lt;script&gt;" in out


def test_warnings_for_other_samples_and_an_unusable_base():
    def r(v, ids):
        return RunRecord(dataset="cityscapes-style@1", split="all", task="semantic", model={"name": "m"},
                         predictions={}, metrics={"miou@1": {"values": {"mIoU": v},
                                                             "per_sample": {i: {"mIoU": v} for i in ids}}})
    res = compare_records(r(0.7, ["a", "b"]), r(0.7, ["a", "c", "d"]))
    assert any("different samples (2 vs 3, 1 in common)" in w for w in res.warnings)
    assert not compare_records(r(0.7, ["a"]), r(0.7, ["a"])).warnings
    res = compare_records(r(float("nan"), ["a"]), r(0.1, ["a"]), {"mIoU": 1})
    assert not res.failed and any("cannot be checked" in w for w in res.warnings)

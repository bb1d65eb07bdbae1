"""Bad input through the CLI: exit code 2, one clear line on stderr, never a traceback; gates exit 1."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from segbench.cli import main
from segbench.datasets.isbi_membrane import ISBIMembrane


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(err: str, *needles):
    assert "Traceback" not in err
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("segbench: error:"), err
    for n in needles:
        assert n in lines[0], (n, lines[0])


@pytest.fixture
def isbi(tmp_path):
    """A fake ISBI root with 7 slices and a prediction folder written by the otsu baseline."""
    root = ISBIMembrane.make_fake(tmp_path / "isbi", num_samples=7, seed=5, size=40, layout="png")
    assert main(["predict", "--model", "skimage-otsu", "--dataset", "isbi-membrane", "--gt", str(root),
                 "--out", str(tmp_path / "preds")]) == 0
    return root, tmp_path / "preds"


def test_eval_ok_and_json(isbi, tmp_path, capsys):
    root, preds = isbi
    capsys.readouterr()
    code, out, err = run(["eval", preds, "--dataset", "isbi-membrane", "--gt", root, "--json", tmp_path / "r.json"],
                         capsys)
    assert code == 0, err
    assert "mIoU" in out and "membrane" in out and "isbi-membrane@2012" in out and "skimage-otsu" in out
    rec = json.loads((tmp_path / "r.json").read_text())
    assert rec["model"]["name"] == "skimage-otsu" and rec["dataset"] == "isbi-membrane@2012"


def test_missing_predictions(isbi, tmp_path, capsys):
    root, preds = isbi
    for sid in ("2", "5", "6"):
        (preds / f"{sid}.png").unlink()
    code, _, err = run(["eval", preds, "--dataset", "isbi-membrane", "--gt", root], capsys)
    assert code == 2
    assert_one_line_error(err, "3 missing", "2, 5, 6", "--missing void")
    code, out, err = run(["eval", preds, "--dataset", "isbi-membrane", "--gt", root, "--missing", "void",
                          "--json", tmp_path / "v.json"], capsys)
    assert code == 0, err
    rec = json.loads((tmp_path / "v.json").read_text())
    cm = np.array(rec["metrics"]["miou@1"]["artifacts"]["confusion_matrix"])
    gt_pixels = sum(int((ISBIMembrane(root).load(s).target.mask != 255).sum()) for s in ISBIMembrane(root).sample_ids())
    void = sum(rec["metrics"]["miou@1"]["artifacts"].get("void", [0]))
    assert cm.sum() + void == gt_pixels  # all GT pixels counted, missing ones as void (wrong)
    assert void == 3 * 40 * 40


def test_extra_predictions_warn(isbi, capsys):
    root, preds = isbi
    shutil.copy(preds / "0.png", preds / "99.png")
    code, out, err = run(["eval", preds, "--dataset", "isbi-membrane", "--gt", root], capsys)
    assert code == 0
    assert "warning" in err and "99" in err and "Traceback" not in err


def test_shape_mismatch(isbi, capsys):
    root, preds = isbi
    Image.fromarray(np.zeros((20, 40), np.uint8)).save(preds / "3.png")
    code, _, err = run(["eval", preds, "--dataset", "isbi-membrane", "--gt", root], capsys)
    assert code == 2
    assert_one_line_error(err, "3.png", "40x40", "20x40", "--resize nearest")


def test_gt_values_outside_label_space(isbi, capsys):
    root, preds = isbi
    lab = np.array(Image.open(root / "train" / "label" / "4.png"))
    lab[0, :5] = 7
    Image.fromarray(lab).save(root / "train" / "label" / "4.png")
    code, _, err = run(["eval", preds, "--dataset", "isbi-membrane", "--gt", root], capsys)
    assert code == 2
    assert_one_line_error(err, "4.png", "7 (5 px)")


def test_prediction_values_outside_label_space_style(tmp_path, capsys):
    from segbench.datasets.styles import CityscapesStyle
    gt = CityscapesStyle.make_fake(tmp_path / "s", num_samples=3, num_classes=4, predictions=True)
    pred = tmp_path / "s" / "pred"
    p = np.array(Image.open(pred / "img_001.png"))
    p[:2, :2] = 9
    Image.fromarray(p).save(pred / "img_001.png")
    code, _, err = run(["eval", pred, "--dataset", "cityscapes-style", "--gt", gt], capsys)
    assert code == 2
    assert_one_line_error(err, "img_001.png", "9 (4 px)")


def test_corrupt_png(isbi, capsys):
    root, preds = isbi
    data = (preds / "1.png").read_bytes()
    (preds / "1.png").write_bytes(data[: len(data) // 3])
    code, _, err = run(["eval", preds, "--dataset", "isbi-membrane", "--gt", root], capsys)
    assert code == 2
    assert_one_line_error(err, "1.png", "corrupt or truncated")


def test_empty_folders(isbi, tmp_path, capsys):
    root, _ = isbi
    (tmp_path / "empty").mkdir()
    code, _, err = run(["eval", tmp_path / "empty", "--dataset", "isbi-membrane", "--gt", root], capsys)
    assert code == 2
    assert_one_line_error(err, "empty", "found none")
    (tmp_path / "emptygt" / "train" / "label").mkdir(parents=True)
    code, _, err = run(["eval", tmp_path / "empty", "--dataset", "isbi-membrane", "--gt", tmp_path / "emptygt"],
                       capsys)
    assert code == 2 and "Traceback" not in err


def test_unknown_dataset_did_you_mean(tmp_path, capsys):
    code, _, err = run(["eval", tmp_path, "--dataset", "isbi-membran", "--gt", tmp_path], capsys)
    assert code == 2
    assert_one_line_error(err, "unknown dataset", "did you mean 'isbi-membrane'")
    code, _, err = run(["predict", "--model", "skimage-otsuu", "--dataset", "isbi-membrane", "--gt", tmp_path,
                        "--out", tmp_path / "o"], capsys)
    assert code == 2
    assert_one_line_error(err, "unknown model", "did you mean 'skimage-otsu'")


def test_fail_under_gate(isbi, capsys):
    root, preds = isbi
    code, _, err = run(["eval", preds, "--dataset", "isbi-membrane", "--gt", root, "--fail-under", "mIoU=0.99"], capsys)
    assert code == 1
    assert "mIoU=" in err and "< 0.99" in err and "Traceback" not in err
    code, _, err = run(["eval", preds, "--dataset", "isbi-membrane", "--gt", root, "--fail-under", "mIoU=0.01"], capsys)
    assert code == 0
    code, _, err = run(["eval", preds, "--dataset", "isbi-membrane", "--gt", root, "--fail-under", "nope=0.1"], capsys)
    assert code == 2 and "nope" in err
    code, _, err = run(["eval", preds, "--dataset", "isbi-membrane", "--gt", root, "--fail-under", "mIoU"], capsys)
    assert code == 2 and "METRIC=VALUE" in err


def test_workers_2_equals_workers_1(tmp_path, capsys):
    root = ISBIMembrane.make_fake(tmp_path / "isbi", num_samples=19, seed=8, size=32, layout="png")
    assert main(["predict", "--model", "skimage-sauvola", "--dataset", "isbi-membrane", "--gt", str(root),
                 "--out", str(tmp_path / "p")]) == 0
    recs = []
    for w in (1, 2):
        code, _, err = run(["eval", tmp_path / "p", "--dataset", "isbi-membrane", "--gt", root, "--workers", w,
                            "--json", tmp_path / f"w{w}.json"], capsys)
        assert code == 0, err
        recs.append(json.loads((tmp_path / f"w{w}.json").read_text()))
    assert recs[0]["metrics"] == recs[1]["metrics"]
    assert recs[1]["timings"]["workers"] == 2


def test_interrupted_eval_leaves_no_json_and_no_row(isbi, tmp_path, capsys, monkeypatch):
    from segbench.metrics.semantic import MeanIoU
    from segbench.results import ResultsStore
    root, preds = isbi
    calls = {"n": 0}
    orig = MeanIoU.update

    def flaky(self, pred, sample):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return orig(self, pred, sample)

    monkeypatch.setattr(MeanIoU, "update", flaky)
    db = tmp_path / "r.db"
    code, _, err = run(["eval", preds, "--dataset", "isbi-membrane", "--gt", root, "--json", tmp_path / "i.json",
                        "--record", "--db", db], capsys)
    assert code == 130 and "interrupted" in err and "Traceback" not in err
    assert not (tmp_path / "i.json").exists()
    assert not db.exists() or ResultsStore(db).records() == []
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_usage_errors_of_predict(isbi, tmp_path, capsys):
    root, _ = isbi
    base = ["predict", "--model", "skimage-otsu", "--dataset", "isbi-membrane", "--gt", root, "--out", tmp_path / "o"]
    for extra, needle in ((["--slide", "64,32"], "--slide"), (["--flip"], "--flip"),
                          (["--scales", "0.5,1"], "--scales"), (["--device", "cuda"], "--device"),
                          (["--weights", tmp_path], "no weights"), (["--slide", "oops"], "CROP,STRIDE")):
        code, _, err = run(base + extra, capsys)
        assert code == 2, (extra, err)
        assert_one_line_error(err, needle)


def test_predict_prints_speed(isbi, tmp_path, capsys):
    root, _ = isbi
    code, out, err = run(["predict", "--model", "skimage-sauvola", "--dataset", "isbi-membrane", "--gt", root,
                          "--split", "test", "--out", tmp_path / "t", "--batch-size", "3"], capsys)
    assert code == 0, err
    assert "images/s" in out and "wrote 7 predictions" in out
    assert len(list((tmp_path / "t").glob("*.png"))) == 7


def test_cli_subprocess_exit_codes(tmp_path):
    """The installed entry point: exit code 2 and one line, no traceback, in a real process."""
    r = subprocess.run([sys.executable, "-m", "segbench", "eval", str(tmp_path), "--dataset", "cityscape",
                        "--gt", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "did you mean 'cityscapes'" in r.stderr


def test_model_name_for_user_predictions(isbi, tmp_path, capsys):
    root, preds = isbi
    db = tmp_path / "r.db"
    code, out, err = run(["eval", preds, "--dataset", "isbi-membrane", "--gt", root, "--record", "--db", db,
                          "--model-name", "my-unet"], capsys)
    assert code == 0, err
    from segbench.results import ResultsStore
    assert [r.model_name for r in ResultsStore(db).records()] == ["my-unet"]
    assert "model my-unet" in out


def test_two_eval_runs_record_at_once(isbi, tmp_path):
    """Two `segbench eval --record` processes on one results store: both rows land, none is torn."""
    from segbench.results import ResultsStore
    root, preds = isbi
    db = tmp_path / "shared.db"
    procs = [subprocess.Popen([sys.executable, "-m", "segbench", "eval", str(preds), "--dataset", "isbi-membrane",
                               "--gt", str(root), "--record", "--db", str(db), "--model-name", name],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name in ("run-a", "run-b")]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    recs = ResultsStore(db).records()
    assert sorted(r.model_name for r in recs) == ["run-a", "run-b"]
    assert recs[0].metrics == recs[1].metrics


def test_output_path_that_is_a_file(isbi, tmp_path, capsys):
    root, preds = isbi
    f = tmp_path / "afile"
    f.write_text("x")
    for argv in (["predict", "--model", "skimage-otsu", "--dataset", "isbi-membrane", "--gt", root, "--out", f],
                 ["eval", preds, "--dataset", "isbi-membrane", "--gt", root, "--json", f / "r.json"],
                 ["demo", "--out", f]):
        code, _, err = run(argv, capsys)
        assert code == 2, argv
        assert_one_line_error(err, "afile", "cannot write here")


def test_output_path_that_is_a_directory(isbi, tmp_path, capsys):
    root, preds = isbi
    d = tmp_path / "adir"
    d.mkdir()
    code, _, err = run(["eval", preds, "--dataset", "isbi-membrane", "--gt", root, "--json", d], capsys)
    assert code == 2
    assert_one_line_error(err, "adir", "expected a file, found a directory")


def test_warning_shows_bracketed_names_verbatim(isbi, capsys):
    root, preds = isbi
    shutil.copy(preds / "0.png", preds / "[red]extra.png")
    code, _, err = run(["eval", preds, "--dataset", "isbi-membrane", "--gt", root], capsys)
    assert code == 0 and "[red]extra" in err


def test_sigterm_unwinds_like_ctrl_c(monkeypatch, capsys):
    import signal
    import types

    import segbench.cli as cli

    def term(args):  # a command interrupted by SIGTERM: the handler raises in the main thread
        assert signal.getsignal(signal.SIGTERM) is cli._raise_terminated
        cli._raise_terminated(signal.SIGTERM, None)

    parsed = types.SimpleNamespace(func=term)
    monkeypatch.setattr(cli, "build_parser", lambda: types.SimpleNamespace(parse_args=lambda argv: parsed))
    before = signal.getsignal(signal.SIGTERM)
    assert cli.main(["datasets"]) == 143
    assert "interrupted" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGTERM) is before  # restored


def test_usage_errors_and_percent_gates_are_one_line(isbi, capsys):
    root, preds = isbi
    for argv, needle in ((["eval", preds], "required: --dataset"),
                         (["eval", preds, "--dataset", "isbi-membrane", "--gt", root, "--workers", "0"],
                          "--workers: expected a whole number >= 1"),
                         (["eval", preds, "--dataset", "isbi-membrane", "--gt", root, "--fail-under", "mIoU=70"],
                          "pass 0.7 for 70%")):
        code, _, err = run(argv, capsys)
        assert code == 2, argv
        assert_one_line_error(err, needle)

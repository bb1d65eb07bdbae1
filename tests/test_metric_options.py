"""``--metric-option METRIC.KEY=VALUE``: reference fixes and metric settings reachable from the CLI, checked
against the options each metric really reads."""

from __future__ import annotations

import inspect
import json
import re

import pytest

from segbench.cli import main
from segbench.datasets.coco import CocoStyle
from segbench.errors import UsageError
from segbench.metrics import METRICS, get_metric_class, parse_metric_options


@pytest.mark.parametrize("name", sorted(METRICS))
def test_declared_option_names_match_what_the_metric_reads(name):
    cls = get_metric_class(name)
    assert cls.option_names is not None, f"{name}: declare option_names"
    read = set()
    for k in cls.__mro__:
        if k.__module__.startswith("segbench"):
            src = inspect.getsource(k)
            read |= set(re.findall(r'(?:\bo|options)\.get\("(\w+)"', src))
            read |= set(re.findall(r'(?:\bo|options)\["(\w+)"\]', src))
    assert read <= set(cls.option_names), f"{name} reads {sorted(read - set(cls.option_names))} undeclared"


def test_parse_metric_options_values_and_errors():
    assert parse_metric_options(["coco_ap.fix_max_dets=true", "coco_ap.max_dets=[1,10,50]",
                                 "bsds_boundary.mode=fast"]) == {
        "coco_ap": {"fix_max_dets": True, "max_dets": [1, 10, 50]}, "bsds_boundary": {"mode": "fast"}}
    with pytest.raises(UsageError, match=r"did you mean 'fix_max_dets'"):
        parse_metric_options(["coco_ap.fix_maxdets=true"])
    with pytest.raises(UsageError, match="METRIC.KEY=VALUE"):
        parse_metric_options(["fix_max_dets=true"])
    with pytest.raises(Exception, match="did you mean"):
        parse_metric_options(["coco_aq.fix_max_dets=true"])
    with pytest.raises(UsageError, match="accepts: none"):
        parse_metric_options(["ytvis_ap.x=1"])


def test_cli_metric_option_changes_the_number_and_is_recorded(tmp_path, capsys):
    gt = CocoStyle.make_fake(tmp_path / "c", num_samples=4, seed=3)
    res = gt.parent / "results.json"
    base = ["eval", str(res), "--dataset", "coco-style", "--gt", str(gt), "--iou-type", "bbox",
            "--max-dets", "1,10,50"]
    assert main(base + ["--json", str(tmp_path / "a.json")]) == 0
    assert main(base + ["--metric-option", "coco_ap.fix_max_dets=true", "--json", str(tmp_path / "b.json")]) == 0
    ja, jb = json.loads((tmp_path / "a.json").read_text()), json.loads((tmp_path / "b.json").read_text())
    (ka, ra), (kb, rb) = next(iter(ja["metrics"].items())), next(iter(jb["metrics"].items()))
    assert ra["values"]["AP"] in (None, -1)  # pycocotools' quirk: AP is read at maxDets 100, not evaluated
    assert 0 <= rb["values"]["AP"] <= 1
    assert jb["config"]["metric_options"][kb]["fix_max_dets"] is True
    assert ja["config"]["metric_options"][ka]["fix_max_dets"] is False
    capsys.readouterr()
    assert main(base + ["--metric-option", "coco_ap.fix_maxdets=true"]) == 2
    assert "did you mean 'fix_max_dets'" in capsys.readouterr().err
    assert main(base + ["--metric-option", "pq.crowd=last"]) == 2
    assert "does not compute" in capsys.readouterr().err


@pytest.mark.parametrize("name", sorted(__import__("segbench.datasets", fromlist=["DATASETS"]).DATASETS))
def test_dataset_option_names_cover_what_the_adapter_reads(name):
    from segbench.datasets import get_dataset_class
    cls = get_dataset_class(name)
    assert cls.option_names is not None, f"{name}: declare option_names"
    read = set()
    for k in cls.__mro__:
        if not k.__module__.startswith("segbench"):
            continue
        for attr, fn in vars(k).items():
            f = getattr(fn, "__func__", fn)
            if attr == "make_fake" or not hasattr(f, "__code__"):
                continue
            read |= set(re.findall(r'\b(?:options|opts|o)\.get\("(\w+)"', inspect.getsource(f)))
            read |= set(re.findall(r'\b(?:options|opts|o)\["(\w+)"\]', inspect.getsource(f)))
        init = vars(k).get("__init__")
        if init is not None:
            read |= {p for p in inspect.signature(init).parameters if p not in ("self", "root", "split", "options")}
    assert read <= set(cls.option_names), f"{name} reads {sorted(read - set(cls.option_names))} undeclared"


def test_option_values_true_false_and_unknown_keys_warned(tmp_path, capsys):
    from segbench.cli import _eval_options, build_parser
    args = build_parser().parse_args(["eval", "p", "--dataset", "cityscapes", "--option", "instances=false",
                                      "--option", "strict_category_iiou=TRUE", "--option", "gt=eroded"])
    assert _eval_options(args) == {"instances": False, "strict_category_iiou": True, "gt": "eroded"}
    from segbench.datasets.styles import CityscapesStyle
    gt = CityscapesStyle.make_fake(tmp_path / "cs", num_samples=2, predictions=True)
    assert main(["eval", str(gt.parent / "pred"), "--dataset", "cityscapes-style", "--gt", str(gt),
                 "--option", "image=x"]) == 0
    err = capsys.readouterr().err
    assert "--option image: dataset 'cityscapes-style' does not read this option (did you mean 'images'?)" in err


def test_a_dense_confusion_that_cannot_fit_says_so(tmp_path, capsys):
    from segbench.metrics.semantic import MeanIoU
    with pytest.raises(MemoryError, match=r"300000x300000 .* 670\.6 GiB .*confusion_storage='keyed'"):
        MeanIoU(num_classes=300000, ignore_index=300000, confusion_storage="dense")
    # through the CLI: one line, no traceback
    from PIL import Image
    import numpy as np
    (tmp_path / "gt").mkdir(); (tmp_path / "p").mkdir()
    for d in ("gt", "p"):
        Image.fromarray(np.zeros((2, 2), np.uint8)).save(tmp_path / d / "a.png")
    rc = main(["eval", str(tmp_path / "p"), "--dataset", "cityscapes-style", "--gt", str(tmp_path / "gt"),
               "--num-classes", "300000", "--metric-option", "miou.confusion_storage=dense"])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "out of memory" in err and "keyed" in err

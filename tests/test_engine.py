"""The engine: chunked evaluation gives identical numbers in-process, with N processes and on Dask."""

from __future__ import annotations

import json

import pytest

from segbench.cli import main
from segbench.datasets.isbi_membrane import ISBIMembrane
from segbench.engine import CHUNK_SIZE, evaluate_run, evaluate_samples
from segbench.errors import BadInputError
from segbench.models import get_model
from segbench.models.base import ModelPredictionSource


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("eng")
    root = ISBIMembrane.make_fake(tmp / "isbi", num_samples=2 * CHUNK_SIZE + 3, seed=11, size=32, layout="png")
    assert main(["predict", "--model", "skimage-otsu", "--dataset", "isbi-membrane", "--gt", str(root),
                 "--out", str(tmp / "p")]) == 0
    return root, tmp / "p"


def _metrics(rec):
    return json.dumps(rec.metrics, sort_keys=True)


def test_processes_equal_in_process(fake):
    root, preds = fake
    ds = ISBIMembrane(root)
    a, _ = evaluate_run(ds, ds.predictions(preds), ds.build_metrics(), workers=1)
    b, _ = evaluate_run(ds, ds.predictions(preds), ds.build_metrics(), workers=3)
    assert _metrics(a) == _metrics(b)


def test_model_source_in_processes(fake):
    root, _ = fake
    ds = ISBIMembrane(root)
    src = ModelPredictionSource(get_model("skimage-sauvola"), ds)
    a, _ = evaluate_run(ds, src, ds.build_metrics(), workers=1)
    b, _ = evaluate_run(ds, src, ds.build_metrics(), workers=2)
    assert _metrics(a) == _metrics(b)


def test_chunking_is_independent_of_progress(fake):
    root, preds = fake
    ds = ISBIMembrane(root)
    ticks = []
    out = evaluate_samples(ds, ds.predictions(preds), ds.build_metrics(), progress=lambda d, t: ticks.append((d, t)))
    assert ticks[-1] == (len(ds), len(ds)) and out.num_samples == len(ds)


def test_empty_split_is_bad_input(tmp_path):
    (tmp_path / "train" / "label").mkdir(parents=True)
    ds = ISBIMembrane(tmp_path)
    with pytest.raises(BadInputError, match="found none"):
        evaluate_run(ds, None, [])


def test_dask_scheduler_gives_identical_numbers(fake, tmp_path, capsys):
    import distributed  # a test dependency (the `test` extra)
    root, preds = fake
    assert main(["eval", str(preds), "--dataset", "isbi-membrane", "--gt", str(root),
                 "--json", str(tmp_path / "local.json")]) == 0
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        code = main(["eval", str(preds), "--dataset", "isbi-membrane", "--gt", str(root),
                     "--scheduler", cluster.scheduler_address, "--json", str(tmp_path / "dask.json")])
    assert code == 0, capsys.readouterr().err
    a = json.loads((tmp_path / "local.json").read_text())
    b = json.loads((tmp_path / "dask.json").read_text())
    assert a["metrics"] == b["metrics"]
    assert b["timings"]["scheduler"] == cluster.scheduler_address


def test_unreachable_scheduler_is_one_line_usage_error(fake, capsys):
    root, preds = fake
    code = main(["eval", str(preds), "--dataset", "isbi-membrane", "--gt", str(root), "--scheduler", "not-an-address"])
    err = capsys.readouterr().err
    assert code == 2 and "--scheduler" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1

"""Conformance of EVERY registered dataset (iterated from DATASETS at run time, so adapters that land
later are covered automatically): the name resolves, the dataset card is present and complete, the
fake twin loads with the right sample types, and a missing root gives the standard
"not found — run `segbench download NAME`" error."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from segbench.datasets import DATASETS, get_dataset_class
from segbench.datasets.base import DatasetAdapter, DatasetSpec
from segbench.errors import NotFoundError, SegbenchError
from segbench.types import (BoundaryMaps, InstanceMasks, LabelSpace, MultiLabelMasks, PanopticMap, ReferringTarget,
                            Sample, SemanticMask, VideoMasks)

CARDS = Path(__file__).resolve().parents[1] / "dataset_cards"
NAMES = sorted(DATASETS)
REQUIRED_KEYS = ("name", "version", "task", "classes", "splits", "license", "citation", "homepage", "files")
TARGETS = {"semantic": (SemanticMask,), "binary": (SemanticMask,), "multilabel": (MultiLabelMasks,),
           "instance": (InstanceMasks,), "panoptic": (PanopticMap,), "boundary": (BoundaryMaps,),
           "video": (VideoMasks,), "referring": (ReferringTarget,)}
ALL_TARGETS = tuple({t for ts in TARGETS.values() for t in ts})




def _is_style(name: str) -> bool:
    return name.endswith("-style")


def _read_card(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("---"), f"{path.name}: expected a YAML header between '---' lines"
    header = text.split("---", 2)
    assert len(header) == 3, f"{path.name}: expected a closing '---' after the YAML header"
    data = yaml.safe_load(header[1])
    assert isinstance(data, dict), f"{path.name}: expected a YAML mapping in the header"
    assert len(header[2].strip()) > 200, f"{path.name}: expected prose after the header (what, how read, metric, pitfalls)"
    return data


@pytest.mark.parametrize("name", NAMES)
def test_resolves_and_spec(name):
    cls = get_dataset_class(name)
    assert issubclass(cls, DatasetAdapter)
    spec = cls.spec
    assert isinstance(spec, DatasetSpec)
    assert spec.name == name, f"spec.name {spec.name!r} != registry name {name!r}"
    assert spec.obtain in ("url", "kaggle", "login", "manual")
    assert spec.version and spec.task
    if not _is_style(name):
        assert spec.license and spec.citation and spec.homepage


@pytest.mark.parametrize("name", NAMES)
def test_dataset_card(name):
    path = CARDS / f"{name}.md"
    if _is_style(name) and not path.exists():
        pytest.skip(f"style {name} has no card")
    assert path.is_file(), f"expected dataset_cards/{name}.md"
    card = _read_card(path)
    missing = [k for k in REQUIRED_KEYS if k not in card]
    assert not missing, f"{path.name}: missing YAML keys {missing}"
    assert "ignore_label" in card or "ignore_index" in card, f"{path.name}: missing ignore_label"
    assert card["name"] == name
    spec = get_dataset_class(name).spec
    assert str(card["version"]) == str(spec.version), f"{path.name}: version {card['version']!r} != spec {spec.version!r}"
    assert card["task"] == spec.task, f"{path.name}: task {card['task']!r} != spec {spec.task!r}"
    classes = card["classes"]
    assert classes, f"{path.name}: classes empty"
    if isinstance(classes, list):
        for c in classes[:400]:
            if isinstance(c, dict):
                assert "name" in c and "id" in c, f"{path.name}: class rows need name and id, found {c}"
    assert isinstance(card["splits"], dict) and card["splits"], f"{path.name}: splits must map split → count"
    assert isinstance(card["files"], list), f"{path.name}: files must be a list"


@pytest.mark.parametrize("name", NAMES)
def test_fake_twin_loads(name, tmp_path):
    cls = get_dataset_class(name)
    root = cls.make_fake(tmp_path / "fake", num_samples=3, seed=0)
    assert Path(root).exists()
    ds = cls(root)
    ls = ds.label_space()
    assert ls is None or isinstance(ls, LabelSpace)
    ids = ds.sample_ids()
    assert ids and all(isinstance(i, str) for i in ids)
    assert ids == ds.sample_ids(), "sample ids must be stable"
    allowed = TARGETS.get(cls.spec.task, ALL_TARGETS)
    for sid in ids[:2]:
        s = ds.load(sid)
        assert isinstance(s, Sample) and s.sample_id == sid
        assert isinstance(s.target, allowed), f"{name}: task {cls.spec.task} expects {allowed}, found {type(s.target)}"
        if isinstance(s.target, SemanticMask):
            m = np.asarray(s.target.mask)
            assert m.ndim == 2 and m.dtype.kind in "ui"
            if ls is not None:
                bad = (m >= ls.num_classes) & (m != ls.ignore_index)
                assert not bad.any(), f"{name}: train ids outside 0..{ls.num_classes - 1} ∪ {{{ls.ignore_index}}}"
        if isinstance(s.target, MultiLabelMasks):
            assert s.target.masks.ndim == 3 and s.target.masks.dtype == bool
            if ls is not None:
                assert s.target.masks.shape[0] == ls.num_classes
    import pickle
    pickle.loads(pickle.dumps(ds))  # adapters go to worker processes
    from segbench.metrics import METRICS
    missing = [m for m in cls.spec.default_metrics if m not in METRICS]
    assert not missing, f"{name}: default metrics {missing} are not registered in METRICS"
    assert len(ds.build_metrics()) == len(cls.spec.default_metrics)


@pytest.mark.parametrize("name", NAMES)
def test_missing_root_error(name, tmp_path):
    cls = get_dataset_class(name)
    missing = tmp_path / "does-not-exist"
    with pytest.raises(SegbenchError) as ei:
        ds = cls(missing)
        ds.sample_ids()
    msg = str(ei.value)
    assert isinstance(ei.value, NotFoundError), f"{name}: expected NotFoundError, found {type(ei.value).__name__}: {msg}"
    if not _is_style(name):  # styles read the user's own --gt: a NotFoundError naming it is enough
        assert "not found" in msg.lower(), msg
        assert f"segbench download {name}" in msg, msg


@pytest.mark.parametrize("name", NAMES)
def test_card_lists_the_adapter_options(name):
    cls = get_dataset_class(name)
    text = (CARDS / f"{name}.md").read_text(encoding="utf-8")
    assert "## segbench options" in text, f"{name}: card has no options section"
    missing = [k for k in (cls.option_names or ()) if f"`{k}`" not in text]
    assert not missing, f"{name}: card does not document --option keys {missing}"

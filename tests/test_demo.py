"""`segbench demo`: offline, packaged real sample, end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from segbench.demo import demo_data_root
from segbench.results import ResultsStore


def test_packaged_sample_has_source_note_and_pairs():
    root = demo_data_root()
    assert (root / "SOURCE.md").is_file()
    imgs = sorted(p.name for p in (root / "train" / "image").glob("*.png"))
    labs = sorted(p.name for p in (root / "train" / "label").glob("*.png"))
    assert imgs == labs and len(imgs) == 5


def test_demo_end_to_end(tmp_path):
    env = dict(os.environ, MPLBACKEND="Agg")
    r = subprocess.run([sys.executable, "-m", "segbench", "demo"], cwd=tmp_path, capture_output=True, text=True,
                       timeout=300, env=env)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "segbench-demo"
    assert "isbi-membrane · binary" in r.stdout and "skimage-otsu" in r.stdout and "skimage-sauvola" in r.stdout
    for f in ("index.html", "index.md", "isbi-membrane__binary.html", "isbi-membrane__binary.md"):
        assert (out / f).is_file(), f
    recs = ResultsStore(out / "demo.db").records()
    assert sorted(x.model_name for x in recs) == ["skimage-otsu", "skimage-sauvola"]
    for x in recs:
        v = x.values()
        assert 0.4 < v["mIoU"] < 0.9 and x.dataset == "isbi-membrane@2012"
        assert x.model["library"] == "scikit-image"
        assert json.loads((out / "runs" / f"{x.model_name}.json").read_text())["run_id"] == x.run_id
    assert "data:image/png;base64," in (out / "isbi-membrane__binary.html").read_text()
    # a second run starts from a fresh demo store
    r2 = subprocess.run([sys.executable, "-m", "segbench", "demo"], cwd=tmp_path, capture_output=True, text=True,
                        timeout=300, env=env)
    assert r2.returncode == 0 and len(ResultsStore(out / "demo.db").records()) == 2

"""Classical baselines (skimage-otsu / skimage-sauvola), the ModelWrapper protocol and the predict loop."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from skimage.filters import threshold_otsu, threshold_sauvola

from segbench.datasets.isbi_membrane import ISBIMembrane
from segbench.engine import evaluate_run
from segbench.errors import NotFoundError, UsageError
from segbench.models import MODELS, get_model
from segbench.models.base import ModelPredictionSource, ModelWrapper, weights_sha256
from segbench.models.predict import PREDICT_MANIFEST, parse_scales, parse_slide, run_predict
from segbench.types import LabelSpace, Sample



@pytest.fixture(scope="module")
def real():
    from segbench.demo import demo_data_root
    return ISBIMembrane(demo_data_root())


def test_registry_did_you_mean():
    assert {"skimage-otsu", "skimage-sauvola"} <= set(MODELS)
    with pytest.raises(NotFoundError, match="did you mean 'skimage-otsu'"):
        get_model("skimage-otsu2")


@pytest.mark.parametrize("name,ref", [("skimage-otsu", "otsu"), ("skimage-sauvola", "sauvola")])
def test_baselines_equal_scikit_image_on_real_slices(real, name, ref):
    model = get_model(name).load().bind(real)
    for sid in real.sample_ids()[:2]:
        s = real.load(sid)
        img = np.array(Image.open(s.image))
        t = threshold_otsu(img) if ref == "otsu" else threshold_sauvola(img, window_size=15, k=0.2)
        expect = (img > t).astype(np.uint8)  # bright = cell interior = train id 1
        np.testing.assert_array_equal(model.predict(s).mask, expect)


def test_polarity_on_isbi_is_bright_cell(real):
    """Label 255 (train id 1) is the cell interior, which is bright in the EM slices: with the right
    polarity the baseline agrees with the GT on most pixels and the cell IoU beats the membrane IoU;
    the inverted polarity is much worse."""
    src = ModelPredictionSource(get_model("skimage-otsu"), real)
    rec, _ = evaluate_run(real, src, real.build_metrics())
    pc = rec.metrics["miou@1"]["per_class"]
    assert pc["cell"]["IoU"] > pc["membrane"]["IoU"]
    assert rec.values()["aAcc"] > 0.7
    inv = ModelPredictionSource(get_model("skimage-otsu", polarity="dark"), real)
    rec_inv, _ = evaluate_run(real, inv, real.build_metrics())
    assert rec_inv.values()["aAcc"] < 0.3
    assert rec.model["name"] == "skimage-otsu" and rec.model["library"] == "scikit-image"
    assert rec.model["settings"]["bright_train_id"] == 1


def test_unsupported_options_are_usage_errors():
    with pytest.raises(UsageError, match="--slide"):
        get_model("skimage-otsu", slide=((64, 64), (32, 32)))
    with pytest.raises(UsageError, match="--flip"):
        get_model("skimage-sauvola", flip=True)
    with pytest.raises(UsageError, match="--scales"):
        get_model("skimage-otsu", scales=[0.5, 1.0])
    with pytest.raises(UsageError, match="--device"):
        get_model("skimage-otsu", device="cuda")
    get_model("skimage-otsu", scales=[1.0], device="cpu", batch_size=4)  # neutral values are fine
    with pytest.raises(UsageError, match="no weights"):
        get_model("skimage-otsu").load("w.pt")
    with pytest.raises(UsageError, match="odd"):
        get_model("skimage-sauvola", window_size=16)


def test_binary_baseline_refuses_multiclass_dataset():
    class Three:
        class spec:
            name = "three"

        def label_space(self):
            return LabelSpace.from_names(["a", "b", "c"])

    with pytest.raises(UsageError, match="3 evaluated classes"):
        get_model("skimage-otsu").bind(Three())


def test_flat_and_rgb_images():
    m = get_model("skimage-otsu").load()
    flat = Sample("f", np.full((4, 4), 7, np.uint8), None)
    assert (m.predict(flat).mask == 0).all()
    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[:, 2:] = 250
    assert m.predict(Sample("c", rgb, None)).mask.tolist()[0] == [0, 0, 1, 1]


def test_weights_sha256(tmp_path):
    f = tmp_path / "w.bin"
    f.write_bytes(b"abc")
    assert weights_sha256(f) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    d = tmp_path / "folder"
    d.mkdir()
    (d / "config.json").write_text("{}")
    assert len(weights_sha256(d)) == 64
    with pytest.raises(NotFoundError):
        weights_sha256(tmp_path / "none")


def test_needs_weights_wrapper():
    class NeedsW(ModelWrapper):
        name = "needs-w"
        needs_weights = True

    with pytest.raises(UsageError, match="needs weights"):
        NeedsW().load(None)


def test_run_predict_writes_manifest_and_eval_carries_model(tmp_path):
    root = ISBIMembrane.make_fake(tmp_path / "ds", num_samples=5, seed=2, size=40, layout="png")
    ds = ISBIMembrane(root)
    seen = []
    out = tmp_path / "preds"
    summary = run_predict(get_model("skimage-sauvola", batch_size=2), ds, out, progress=lambda d, t: seen.append((d, t)))
    assert summary["count"] == 5 and seen[-1] == (5, 5) and [d for d, _ in seen] == [2, 4, 5]
    assert sorted(p.name for p in out.iterdir()) == ["0.png", "1.png", "2.png", "3.png", "4.png", PREDICT_MANIFEST]
    man = json.loads((out / PREDICT_MANIFEST).read_text())
    assert man["model"]["name"] == "skimage-sauvola" and man["dataset"] == "isbi-membrane@2012"
    assert man["model"]["settings"]["window_size"] == 15
    # files on disk == predictions on the fly
    rec_files, _ = evaluate_run(ds, ds.predictions(out), ds.build_metrics())
    rec_live, _ = evaluate_run(ds, ModelPredictionSource(get_model("skimage-sauvola"), ds), ds.build_metrics())
    assert rec_files.metrics["miou@1"]["artifacts"]["confusion_matrix"] == \
        rec_live.metrics["miou@1"]["artifacts"]["confusion_matrix"]
    assert rec_files.model["name"] == "skimage-sauvola" and rec_files.model["source"] == "segbench predict"


def test_model_prediction_source_is_picklable(real):
    import pickle
    src = ModelPredictionSource(get_model("skimage-otsu"), real)
    src2 = pickle.loads(pickle.dumps(src))
    s = real.load("0")
    np.testing.assert_array_equal(src.load(s).mask, src2.load(s).mask)


def test_parse_slide_and_scales():
    assert parse_slide("512,341") == ((512, 512), (341, 341))
    assert parse_slide("512x1024,341x683") == ((512, 1024), (341, 683))
    assert parse_scales("0.5,1,1.5") == [0.5, 1.0, 1.5]
    for bad in ("512", "a,b", "0,1", "100,200"):
        with pytest.raises(UsageError):
            parse_slide(bad)
    for bad in ("", "x", "-1,2"):
        with pytest.raises(UsageError):
            parse_scales(bad)


def test_predict_on_a_style_dataset_with_labels_options_and_images(tmp_path, capsys):
    from PIL import Image

    from segbench.cli import main
    from segbench.datasets.styles import CityscapesStyle
    gt = CityscapesStyle.make_fake(tmp_path / "ds", num_samples=2, num_classes=2, labels="none")
    img = tmp_path / "img"
    img.mkdir()
    rng = np.random.default_rng(0)
    for k in range(2):
        Image.fromarray((rng.random((24, 32)) * 255).astype(np.uint8)).save(img / f"img_{k:03d}.jpg")
    out = tmp_path / "o"
    # without the classes: the usual one-line error; without images: says the model needs them
    assert main(["predict", "--model", "skimage-otsu", "--dataset", "cityscapes-style", "--gt", str(gt),
                 "--out", str(out)]) == 2
    assert "--num-classes N" in capsys.readouterr().err
    assert main(["predict", "--model", "skimage-otsu", "--dataset", "cityscapes-style", "--gt", str(gt),
                 "--out", str(out), "--num-classes", "2"]) == 2
    assert "input image" in capsys.readouterr().err
    assert main(["predict", "--model", "skimage-otsu", "--dataset", "cityscapes-style", "--gt", str(gt),
                 "--out", str(out), "--num-classes", "2", "--option", f"images={img}"]) == 0
    hint = capsys.readouterr().out
    assert "--num-classes 2" in hint and "images=" not in hint.split("segbench eval")[1]
    assert sorted(p.name for p in out.iterdir()) == ["img_000.png", "img_001.png", PREDICT_MANIFEST]
    assert main(["eval", str(out), "--dataset", "cityscapes-style", "--gt", str(gt), "--num-classes", "2",
                 "--json", str(tmp_path / "r.json")]) == 0
    rec = json.loads((tmp_path / "r.json").read_text())
    assert rec["model"]["name"] == "skimage-otsu" and rec["model"]["source"] == "segbench predict"

"""isbi-membrane adapter: both native layouts, label mapping, prediction forms, real files."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from segbench.datasets import get_dataset_class
from segbench.datasets.isbi_membrane import ISBIMembrane, to_train_ids
from segbench.errors import BadInputError, NotFoundError, UsageError
from segbench.models.base import load_image_array


@pytest.fixture
def fake(tmp_path):
    return ISBIMembrane.make_fake(tmp_path / "isbi", num_samples=3, seed=1, size=48)


def _save(path, arr, mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr, mode=mode).save(path)


def test_registry_and_spec():
    cls = get_dataset_class("isbi-membrane")
    assert cls is ISBIMembrane
    assert cls.spec.task == "binary" and cls.spec.default_metrics == ("miou", "isbi_rand")
    ls = ISBIMembrane(None).label_space()
    assert ls.names == ["membrane", "cell"]
    assert ls.by_name("cell").id == 255 and ls.by_name("cell").train_id == 1
    assert ls.by_name("membrane").id == 0 and ls.by_name("membrane").train_id == 0


def test_png_and_tiff_layouts_give_identical_samples(fake):
    png, tif = ISBIMembrane(fake, layout="png"), ISBIMembrane(fake, layout="tiff")
    assert png.sample_ids() == tif.sample_ids() == ["0", "1", "2"]
    for sid in png.sample_ids():
        a, b = png.load(sid), tif.load(sid)
        np.testing.assert_array_equal(a.target.mask, b.target.mask)
        np.testing.assert_array_equal(load_image_array(a.image), b.image)
        assert set(np.unique(a.target.mask)) <= {0, 1}
    # the label file stores 255 for cells: train id 1
    raw = np.array(Image.open(fake / "train" / "label" / "0.png"))
    np.testing.assert_array_equal(png.load("0").target.mask, (raw == 255).astype(np.uint8))


def test_gt_may_be_the_label_stack_itself(fake):
    ds = ISBIMembrane(fake / "train-labels.tif")
    assert ds.sample_ids() == ["0", "1", "2"]
    s = ds.load("2")
    np.testing.assert_array_equal(s.target.mask, ISBIMembrane(fake, layout="png").load("2").target.mask)
    assert s.image is not None  # train-volume.tif next to it


def test_tiff_layout_is_multipage(fake):
    with Image.open(fake / "train-volume.tif") as im:
        assert im.n_frames == 3
    with Image.open(fake / "test-volume.tif") as im:
        assert im.n_frames == 3


def test_real_pngs_read(data_dir):
    ds = ISBIMembrane(data_dir / "isbi" / "gt")
    assert ds.sample_ids() == ["0", "1"]
    s = ds.load("0")
    assert s.target.shape == (512, 512)
    raw = np.array(Image.open(data_dir / "isbi" / "gt" / "train" / "label" / "0.png"))
    assert set(np.unique(raw)) == {0, 255}
    np.testing.assert_array_equal(s.target.mask, (raw == 255).astype(np.uint8))


def test_test_split_has_images_but_no_labels(fake, tmp_path):
    ds = ISBIMembrane(fake, split="test")
    assert ds.sample_ids() == ["0", "1", "2"]
    s = ds.load("1")
    assert s.target is None and s.image is not None
    with pytest.raises(UsageError, match="never released"):
        ds.predictions(tmp_path)
    assert ISBIMembrane(fake, split="test", layout="tiff").load("1").image.shape == (48, 48)


def test_gt_values_outside_label_space(fake):
    lab = fake / "train" / "label" / "1.png"
    arr = np.array(Image.open(lab))
    arr[:2, :3] = 128
    _save(lab, arr, "L")
    with pytest.raises(BadInputError) as e:
        ISBIMembrane(fake, layout="png").load("1")
    msg = str(e.value)
    assert "128 (6 px)" in msg and "1.png" in msg and "\n" not in msg


def test_unknown_split_and_missing_root(tmp_path):
    with pytest.raises(UsageError):
        ISBIMembrane(tmp_path, split="val")
    with pytest.raises(NotFoundError):
        ISBIMembrane(tmp_path / "nope").sample_ids()
    with pytest.raises(NotFoundError):
        ISBIMembrane(tmp_path).sample_ids()


def _pred_source(fake, preds, **kw):
    ds = ISBIMembrane(fake, layout="png")
    return ds, ds.predictions(preds, **kw)


@pytest.mark.parametrize("form", ["ids01", "native0255", "mode1", "soft8", "soft16", "tiff_float", "tiff_stack"])
def test_prediction_forms_equal_the_same_mask(fake, tmp_path, form):
    ds = ISBIMembrane(fake, layout="png")
    preds = tmp_path / "p"
    rng = np.random.default_rng(0)
    masks = {}
    pages = []
    for sid in ds.sample_ids():
        m = rng.integers(0, 2, ds.load(sid).target.shape).astype(np.uint8)
        masks[sid] = m
        if form == "ids01":
            _save(preds / f"{sid}.png", m, "L")
        elif form == "native0255":
            _save(preds / f"{sid}.png", m * 255, "L")
        elif form == "mode1":
            _save(preds / f"{sid}.png", m.astype(bool))
        elif form == "soft8":  # 128..255 for cells, 0..127 otherwise
            v = np.where(m == 1, rng.integers(128, 256, m.shape), rng.integers(0, 128, m.shape)).astype(np.uint8)
            _save(preds / f"{sid}.png", v, "L")
        elif form == "soft16":
            v = np.where(m == 1, rng.integers(32768, 65536, m.shape), rng.integers(2, 32768, m.shape)).astype(np.uint16)
            preds.mkdir(exist_ok=True)
            Image.fromarray(v).save(preds / f"{sid}_predict.png")
        elif form == "tiff_float":
            v = np.where(m == 1, 0.75, 0.25).astype(np.float32)
            preds.mkdir(exist_ok=True)
            Image.fromarray(v, mode="F").save(preds / f"{sid}.tif")
        elif form == "tiff_stack":
            pages.append(Image.fromarray(m * 255, mode="L"))
    if form == "tiff_stack":
        preds.mkdir()
        pages[0].save(preds / "stack.tif", save_all=True, append_images=pages[1:])
        preds = preds / "stack.tif"
    src = ds.predictions(preds)
    assert src.available() == set(ds.sample_ids())
    for sid in ds.sample_ids():
        np.testing.assert_array_equal(src.load(ds.load(sid)).mask, masks[sid])


def test_threshold_option(fake, tmp_path):
    ds = ISBIMembrane(fake, layout="png")
    v = np.full(ds.load("0").target.shape, 100, np.uint8)
    v[0, 0] = 200
    for sid in ds.sample_ids():
        _save(tmp_path / "p" / f"{sid}.png", v, "L")
    s = ds.load("0")
    assert ds.predictions(tmp_path / "p").load(s).mask.sum() == 1          # 100 < 127.5
    assert ds.predictions(tmp_path / "p", threshold=0.3).load(s).mask.all()  # 100 > 76.5
    assert ds.predictions(tmp_path / "p", threshold=150).load(s).mask.sum() == 1  # raw units


def test_real_unet_16bit_predictions_need_resize(data_dir):
    ds = ISBIMembrane(data_dir / "isbi" / "gt")
    src = ds.predictions(data_dir / "isbi" / "preds_unet")
    assert src.available() == {"0", "1"}
    s = ds.load("0")
    with pytest.raises(BadInputError) as e:
        src.load(s)
    assert "512x512" in str(e.value) and "256x256" in str(e.value) and "--resize nearest" in str(e.value)
    assert "0_predict.png" in str(e.value)
    pred = ds.predictions(data_dir / "isbi" / "preds_unet", resize="nearest").load(s).mask
    raw = np.array(Image.open(data_dir / "isbi" / "preds_unet" / "0_predict.png"))
    assert raw.dtype == np.uint16 and raw.shape == (256, 256)
    expect = (raw > 32767.5).astype(np.uint8).repeat(2, axis=0).repeat(2, axis=1)
    np.testing.assert_array_equal(pred, expect)


def test_multichannel_and_corrupt_predictions(fake, tmp_path):
    ds = ISBIMembrane(fake, layout="png")
    s = ds.load("0")
    _save(tmp_path / "rgb" / "0.png", np.zeros(s.target.shape + (3,), np.uint8), "RGB")
    with pytest.raises(BadInputError, match="mode RGB"):
        ds.predictions(tmp_path / "rgb").load(s)
    good = tmp_path / "trunc"
    _save(good / "0.png", np.zeros(s.target.shape, np.uint8), "L")
    data = (good / "0.png").read_bytes()
    (good / "0.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(BadInputError, match="corrupt or truncated"):
        ds.predictions(good).load(s)
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInputError, match="found none"):
        ds.predictions(tmp_path / "empty")
    with pytest.raises(NotFoundError):
        ds.predictions(tmp_path / "missing")


def test_to_train_ids_float_out_of_range():
    with pytest.raises(BadInputError, match="0..1"):
        to_train_ids(np.array([[0.2, 1.5]], np.float32), 1.0)


def test_write_prediction_round_trip(fake, tmp_path):
    from segbench.types import SemanticPrediction, SoftPrediction
    ds = ISBIMembrane(fake, layout="png")
    s = ds.load("0")
    m = (np.arange(s.target.mask.size).reshape(s.target.shape) % 3 == 0).astype(np.uint8)
    p = ds.write_prediction(s, SemanticPrediction(m), tmp_path / "w")
    assert set(np.unique(np.array(Image.open(p)))) <= {0, 255}
    np.testing.assert_array_equal(ds.predictions(tmp_path / "w").load(s).mask, m)
    prob = np.where(m == 1, 0.9, 0.1)
    ds.write_prediction(s, SoftPrediction(prob), tmp_path / "soft")
    np.testing.assert_array_equal(ds.predictions(tmp_path / "soft").load(s).mask, m)


def test_missing_prediction_is_void(fake, tmp_path):
    ds = ISBIMembrane(fake, layout="png")
    _save(tmp_path / "p" / "0.png", np.zeros(ds.load("0").target.shape, np.uint8), "L")
    src = ds.predictions(tmp_path / "p")
    assert (src.load(ds.load("2")).mask == 255).all()


def test_fake_twin_is_seeded(tmp_path):
    a = ISBIMembrane.make_fake(tmp_path / "a", num_samples=2, seed=3, size=32, layout="png")
    b = ISBIMembrane.make_fake(tmp_path / "b", num_samples=2, seed=3, size=32, layout="png")
    assert (a / "train" / "label" / "1.png").read_bytes() == (b / "train" / "label" / "1.png").read_bytes()
    assert not (a / "train-labels.tif").exists()


def test_predict_suffix_wins_over_image_in_unet_test_folder(fake, tmp_path):
    """In the U-Net layout test/N.png is the image and test/N_predict.png the prediction beside it."""
    ds = ISBIMembrane(fake, layout="png")
    s = ds.load("0")
    folder = tmp_path / "test"
    _save(folder / "0.png", np.full(s.target.shape, 255, np.uint8), "L")  # an image, all bright
    folder.mkdir(exist_ok=True)
    Image.fromarray(np.zeros(s.target.shape, np.uint16)).save(folder / "0_predict.png")
    src = ds.predictions(folder)
    assert (src.load(s).mask == 0).all()


@pytest.mark.parametrize("n", [3, 5])
def test_tifffile_written_stacks(tmp_path, n):
    """Stacks written by tifffile (the usual tool): 3- or 4-slice arrays land as one planar-RGB page,
    float32 ones are not even readable by Pillow; every slice must still come out right."""
    import warnings

    import tifffile
    src = ISBIMembrane(ISBIMembrane.make_fake(tmp_path / "src", n, seed=4, size=24, layout="png"))
    labs = np.stack([np.where(src.load(s).target.mask == 1, 255, 0).astype(np.uint8) for s in src.sample_ids()])
    imgs = np.stack([np.array(Image.open(src.load(s).image)) for s in src.sample_ids()])
    (tmp_path / "tif").mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tifffile.imwrite(tmp_path / "tif" / "train-labels.tif", labs)
        tifffile.imwrite(tmp_path / "tif" / "train-volume.tif", imgs)
        tifffile.imwrite(tmp_path / "p32.tif", (labs / 255.0).astype(np.float32))
        tifffile.imwrite(tmp_path / "p16.tif", labs.astype(np.uint16) * 257)
    ds = ISBIMembrane(tmp_path / "tif")
    assert ds.sample_ids() == [str(i) for i in range(n)]
    for sid in ds.sample_ids():
        s = ds.load(sid)
        np.testing.assert_array_equal(s.target.mask, src.load(sid).target.mask)
        np.testing.assert_array_equal(s.image, imgs[int(sid)])
    for name in ("p32.tif", "p16.tif"):
        preds = ds.predictions(tmp_path / name)
        assert preds.available() == set(ds.sample_ids())
        for sid in ds.sample_ids():
            np.testing.assert_array_equal(preds.load(ds.load(sid)).mask, src.load(sid).target.mask)

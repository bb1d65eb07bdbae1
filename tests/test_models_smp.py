"""segmentation-models-pytorch wrappers on their real architectures (resnet18 encoder, random weights)."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
smp = pytest.importorskip("segmentation_models_pytorch")
F = torch.nn.functional

from _model_fixtures import FakeDataset, rand_image  # noqa: E402
from segbench.errors import BadInputError, UsageError  # noqa: E402
from segbench.models import get_model  # noqa: E402
from segbench.models.inference import IMAGENET_MEAN, IMAGENET_STD  # noqa: E402
from segbench.types import LabelSpace, Sample  # noqa: E402

pytestmark = pytest.mark.models

ARCHS = [("smp-unet", "Unet"), ("smp-unetplusplus", "UnetPlusPlus"), ("smp-fpn", "FPN"), ("smp-pspnet", "PSPNet"),
         ("smp-deeplabv3plus", "DeepLabV3Plus"), ("smp-pan", "PAN"), ("smp-linknet", "Linknet")]
DS3 = LabelSpace.from_names(["a", "b", "c"])


def _reference(model, img):
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
    x = (x - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    h, w = img.shape[:2]
    x = F.pad(x, (0, (-w) % 32, 0, (-h) % 32))
    with torch.no_grad():
        return model(x)[:, :, :h, :w]


@pytest.mark.parametrize("name,arch", ARCHS)
def test_smp_matches_reference(tmp_path, name, arch):
    torch.manual_seed(0)
    model = getattr(smp, arch)("resnet18", encoder_weights=None, classes=3).eval()
    folder = tmp_path / "pretrained"
    model.save_pretrained(str(folder))
    img = rand_image(128, 128) if arch == "PAN" else rand_image(50, 70)  # PAN's pyramid needs >= 128 px
    w = get_model(name).load(folder).bind(FakeDataset(DS3))
    pred = w.predict(Sample("a", img, None))
    ref = _reference(model, img).argmax(1)[0].numpy()
    assert pred.mask.shape == img.shape[:2] and np.array_equal(pred.mask, ref)
    # a bare state dict + the encoder option gives the same model
    torch.save(model.state_dict(), tmp_path / "sd.pth")
    w2 = get_model(name, encoder="resnet18").load(tmp_path / "sd.pth").bind(FakeDataset(DS3))
    assert np.array_equal(w2.predict(Sample("a", img, None)).mask, pred.mask)
    assert w.describe()["settings"]["smp_config"]["encoder_name"] == "resnet18"


def test_wrong_encoder_names_first_key(tmp_path):
    torch.manual_seed(0)
    torch.save(smp.Unet("resnet18", encoder_weights=None, classes=2).state_dict(), tmp_path / "r18.pth")
    with pytest.raises(BadInputError, match=r"smp Unet\(resnet34\): key '.*'"):
        get_model("smp-unet").load(tmp_path / "r18.pth")  # smp's default encoder is resnet34
    with pytest.raises(BadInputError, match="segmentation_head"):
        torch.save({"foo.weight": torch.zeros(2)}, tmp_path / "foo.pth")
        get_model("smp-unet").load(tmp_path / "foo.pth")


def test_config_of_another_architecture_refused(tmp_path):
    smp.FPN("resnet18", encoder_weights=None, classes=2).save_pretrained(str(tmp_path / "fpn"))
    with pytest.raises(UsageError, match="smp FPN"):
        get_model("smp-unet").load(tmp_path / "fpn")
    cfg = json.loads((tmp_path / "fpn" / "config.json").read_text())
    assert cfg["_model_class"] == "FPN"


def test_binary_single_logit_and_class_count(tmp_path):
    torch.manual_seed(0)
    model = smp.Unet("resnet18", encoder_weights=None, classes=1, in_channels=1).eval()
    model.save_pretrained(str(tmp_path / "bin"))
    gray = rand_image(64, 64)[:, :, 0]
    ds2 = LabelSpace.from_names(["bg", "fg"])
    w = get_model("smp-unet").load(tmp_path / "bin").bind(FakeDataset(ds2))
    pred = w.predict(Sample("g", gray, None))
    x = torch.from_numpy(gray)[None, None].float() / 255
    x = (x - sum(IMAGENET_MEAN) / 3) / (sum(IMAGENET_STD) / 3)
    with torch.no_grad():
        ref = (model(x)[0, 0] > 0).numpy().astype(np.uint8)
    assert np.array_equal(pred.mask, ref)
    with pytest.raises(UsageError, match="predicts 1 classes"):
        w.bind(FakeDataset(DS3))


def test_slide_and_flip_run(tmp_path):
    torch.manual_seed(0)
    smp.FPN("resnet18", encoder_weights=None, classes=3).save_pretrained(str(tmp_path / "f"))
    w = get_model("smp-fpn", slide="64,32", flip=True, scales=[1.0, 1.25]).load(tmp_path / "f").bind(FakeDataset(DS3))
    assert w.predict(Sample("a", rand_image(70, 100), None)).mask.shape == (70, 100)


def test_too_small_image_gives_one_line_error(tmp_path):
    torch.manual_seed(0)
    smp.PAN("resnet18", encoder_weights=None, classes=3).save_pretrained(str(tmp_path / "pan"))
    w = get_model("smp-pan").load(tmp_path / "pan").bind(FakeDataset(DS3))
    with pytest.raises(BadInputError, match=r"failed on the 40x30 image of sample 'tiny'"):
        w.predict(Sample("tiny", rand_image(30, 40), None))

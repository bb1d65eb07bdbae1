"""Label PNG readers/writers: modes L / P / I;16 / RGB, refusals, corrupt files, values, soft maps."""

import numpy as np
import pytest
from PIL import Image

from segbench.errors import BadInputError, NotFoundError
from segbench.io.labels import (binarise, check_shape, check_values, colors_to_ids, ids_to_colors, read_label,
                                read_prob, read_soft, resize_nearest, write_color_label, write_label)


def test_l_mode_roundtrip_and_lut(tmp_path):
    a = np.array([[0, 7, 26], [255, 33, 7]], np.uint8)
    p = tmp_path / "a.png"
    write_label(p, a)
    assert Image.open(p).mode == "L"
    assert (read_label(p) == a).all()
    lut = np.full(256, 255, np.uint8)
    lut[7], lut[26], lut[33] = 0, 13, 18
    assert read_label(p, lut=lut).tolist() == [[255, 0, 13], [255, 18, 0]]


def test_p_mode_reads_indices_not_colours(tmp_path):
    a = np.array([[0, 1], [2, 1]], np.uint8)
    p = tmp_path / "p.png"
    write_label(p, a, palette=[(10, 20, 30), (200, 0, 0), (0, 255, 0)])
    assert Image.open(p).mode == "P"
    assert read_label(p).tolist() == a.tolist()
    lut = np.array([5, 6, 7] + [255] * 253, np.uint8)
    assert read_label(p, lut=lut).tolist() == [[5, 6], [7, 6]]


def test_16bit(tmp_path):
    a = np.array([[0, 1000], [65535, 26001]], np.uint16)
    p = tmp_path / "i16.png"
    write_label(p, a)
    out = read_label(p)
    assert out.dtype == np.uint16 and (out == a).all()


def test_mode_1_and_int32(tmp_path):
    p = tmp_path / "b.png"
    Image.fromarray(np.array([[0, 255]], np.uint8)).convert("1").save(p)
    assert read_label(p).tolist() == [[0, 1]]
    p2 = tmp_path / "i.tif"
    Image.fromarray(np.array([[3, 70000]], np.int32)).save(p2)
    assert read_label(p2).tolist() == [[3, 70000]]


def test_rgb_colour_coded(tmp_path):
    colors = [(0, 0, 0), (128, 64, 128), (220, 20, 60)]
    ids = np.array([[0, 1, 1], [2, 2, 0]], np.uint8)
    p = tmp_path / "c.png"
    write_color_label(p, ids, colors)
    assert Image.open(p).mode == "RGB"
    assert read_label(p, colors=colors).tolist() == ids.tolist()
    assert read_label(p, colors={(0, 0, 0): 255, (128, 64, 128): 7, (220, 20, 60): 24}).tolist() == \
        [[255, 7, 7], [24, 24, 255]]


def test_rgb_unknown_colours_named_with_counts(tmp_path):
    rgb = np.zeros((2, 3, 3), np.uint8)
    rgb[0, 0] = (1, 2, 3)
    rgb[1, :] = (9, 9, 9)
    p = tmp_path / "u.png"
    Image.fromarray(rgb, "RGB").save(p)
    with pytest.raises(BadInputError) as e:
        read_label(p, colors=[(0, 0, 0)])
    msg = str(e.value)
    assert "u.png" in msg and "(9, 9, 9) (3 px)" in msg and "(1, 2, 3) (1 px)" in msg and "\n" not in msg


def test_multichannel_refused_with_modes(tmp_path):
    p = tmp_path / "rgb.png"
    Image.fromarray(np.zeros((4, 4, 3), np.uint8), "RGB").save(p)
    with pytest.raises(BadInputError) as e:
        read_label(p)
    msg = str(e.value)
    assert "rgb.png" in msg and "single-channel" in msg and "mode RGB" in msg and "3 channels" in msg
    p2 = tmp_path / "la.png"
    Image.fromarray(np.zeros((4, 4, 2), np.uint8), "LA").save(p2)
    with pytest.raises(BadInputError, match="mode LA"):
        read_label(p2)
    with pytest.raises(BadInputError, match="single-channel"):
        read_prob(p)


def test_corrupt_and_truncated_png(tmp_path):
    good = tmp_path / "g.png"
    write_label(good, np.random.default_rng(0).integers(0, 19, (64, 64)).astype(np.uint8))
    data = good.read_bytes()
    trunc = tmp_path / "trunc.png"
    trunc.write_bytes(data[: len(data) // 2])
    with pytest.raises(BadInputError, match="trunc.png.*corrupt or truncated"):
        read_label(trunc)
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not a png at all")
    with pytest.raises(BadInputError, match="junk.png"):
        read_label(junk)
    bad_crc = bytearray(data)
    bad_crc[60] ^= 0xFF  # inside the IDAT stream
    (tmp_path / "crc.png").write_bytes(bytes(bad_crc))
    with pytest.raises(BadInputError, match="crc.png"):
        read_label(tmp_path / "crc.png")
    with pytest.raises(NotFoundError):
        read_label(tmp_path / "missing.png")


def test_values_outside_label_space(tmp_path):
    a = np.array([[0, 1, 40], [40, 77, 1]], np.uint8)
    p = tmp_path / "v.png"
    write_label(p, a)
    with pytest.raises(BadInputError) as e:
        read_label(p, allowed=[0, 1, 255])
    msg = str(e.value)
    assert "v.png" in msg and "40 (2 px)" in msg and "77 (1 px)" in msg
    read_label(p, allowed=range(0, 78))  # ok
    with pytest.raises(BadInputError, match="70000 \\(1 px\\)"):
        check_values(np.array([1, 70000]), [0, 1])
    with pytest.raises(BadInputError, match="-1 \\(1 px\\)"):
        check_values(np.array([1, -1]), [0, 1])


def test_shape_mismatch_and_resize(tmp_path):
    p = tmp_path / "s.png"
    write_label(p, np.array([[1, 2], [3, 4]], np.uint8))
    with pytest.raises(BadInputError) as e:
        read_label(p, expected_shape=(4, 4))
    assert "4x4" in str(e.value) and "2x2" in str(e.value) and "s.png" in str(e.value)
    out = read_label(p, expected_shape=(4, 4), resize="nearest")
    assert out.tolist() == [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]
    # nearest-neighbour equals Pillow's NEAREST
    rng = np.random.default_rng(0)
    a = rng.integers(0, 19, (37, 53)).astype(np.uint8)
    for shape in [(74, 106), (20, 30), (100, 13)]:
        ref = np.asarray(Image.fromarray(a).resize((shape[1], shape[0]), Image.NEAREST))
        assert (resize_nearest(a, shape) == ref).all()
    assert check_shape(a, a.shape) is a


def test_soft_maps_binarised(tmp_path):
    p8 = tmp_path / "s8.png"
    Image.fromarray(np.array([[0, 127, 128, 255]], np.uint8)).save(p8)
    assert read_soft(p8).tolist() == [[0, 0, 1, 1]]
    assert read_soft(p8, threshold=0.1).tolist() == [[0, 1, 1, 1]]
    assert read_soft(p8, threshold=200).tolist() == [[0, 0, 0, 1]]
    p16 = tmp_path / "s16.png"
    Image.fromarray(np.array([[0, 32767, 32768, 65535]], np.uint16)).save(p16)
    assert read_soft(p16).tolist() == [[0, 0, 1, 1]]
    v, rng = read_prob(p16)
    assert rng == 65535.0 and v.dtype == np.uint16
    pf = tmp_path / "f.tif"
    Image.fromarray(np.array([[0.2, 0.8]], np.float32)).save(pf)
    assert read_soft(pf).tolist() == [[0, 1]]
    # soft map at another size is resized (nearest) only on request
    with pytest.raises(BadInputError):
        read_soft(p16, expected_shape=(2, 8))
    assert read_soft(p16, expected_shape=(2, 8), resize="nearest").shape == (2, 8)
    assert binarise(np.array([0.5, 0.51]), 1.0).tolist() == [0, 1]


def test_float_label_refused(tmp_path):
    pf = tmp_path / "f.tif"
    Image.fromarray(np.array([[0.0, 1.0]], np.float32)).save(pf)
    with pytest.raises(BadInputError, match="float"):
        read_label(pf)


def test_writer_is_atomic_and_checks(tmp_path):
    p = tmp_path / "sub" / "w.png"
    write_label(p, np.zeros((3, 3), bool))
    assert p.exists() and not list(p.parent.glob(".*part"))
    with pytest.raises(ValueError):
        write_label(p, np.array([[-1]]))
    with pytest.raises(ValueError):
        write_label(p, np.zeros((2, 2, 3), np.uint8))
    assert (ids_to_colors(np.array([[1]]), {1: (1, 2, 3)}) == [[[1, 2, 3]]]).all()
    assert colors_to_ids(np.zeros((0, 0, 3), np.uint8), [(0, 0, 0)]).shape == (0, 0)


def test_lazy_reader_8_and_16_bit(tmp_path):
    from segbench.io.labels import NativeSemanticMask, NativeSemanticPrediction, read_label_lazy
    from segbench.types import SemanticMask, SemanticPrediction
    lut = np.full(256, 255, np.uint8)
    lut[7], lut[26] = 0, 1
    p8 = tmp_path / "a.png"
    write_label(p8, np.array([[7, 26, 0]], np.uint8))
    m = read_label_lazy(p8, lut=lut, allowed=[0, 7, 26])
    assert isinstance(m, NativeSemanticMask) and isinstance(m, SemanticMask)
    assert m.shape == (1, 3) and m.mask.tolist() == [[0, 1, 255]] and m.native.tolist() == [[7, 26, 0]]
    pr = read_label_lazy(p8, lut=lut, allowed=[7, 26], prediction=True)
    assert isinstance(pr, NativeSemanticPrediction) and isinstance(pr, SemanticPrediction)
    with pytest.raises(BadInputError, match="a.png.*0 \\(1 px\\)"):
        pr.mask
    p16 = tmp_path / "b.png"
    write_label(p16, np.array([[7, 26, 300]], np.uint16))
    with pytest.raises(BadInputError, match="300 \\(1 px\\)"):
        read_label_lazy(p16, lut=lut)
    m16 = read_label_lazy(p16, allowed=[7, 26, 300])
    assert m16.mask.tolist() == [[7, 26, 300]]

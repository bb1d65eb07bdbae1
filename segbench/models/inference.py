"""Inference-time pre/post-processing shared by the torch wrappers (pure torch tensor code).

* :func:`to_tensor` – image array → ``(1, C, H, W)`` float tensor in 0..255.
* :func:`normalize` – ``(x / scale - mean) / std`` per channel (the reference's constants).
* Resize policies (the output size for an input ``(h, w)`` and a scale ratio):
  :func:`short_side_size` (torchvision ``transforms.Resize(int)``),
  :func:`keep_ratio_size` (mmcv ``rescale`` with ``keep_ratio=True``, as mmsegmentation's
  ``Resize(scale=(2048, 1024), keep_ratio=True)``), :func:`fixed_size` (Hugging Face processors).
* :func:`slide_inference` – mmsegmentation's ``EncoderDecoder.slide_inference``: a grid of
  ``crop`` windows with ``stride``; the last window in each direction is shifted back inside the
  image; logits of overlapping windows are summed and divided by the per-pixel window count.
* :func:`tta_inference` – multi-scale and horizontal-flip test-time augmentation: for every
  ``scale`` (× flip) the resized image is run (whole or sliding), its logits are flipped back and
  bilinearly resized (``align_corners=False``) to the original size, and the logits are averaged
  (mmsegmentation 1.x ``SegTTAModel``; ``average="softmax"`` averages probabilities as
  mmsegmentation 0.x ``aug_test`` did).

Every function takes and returns ``torch.Tensor`` ``(N, C, H, W)``; ``forward`` callables map a
normalised ``(N, 3, h, w)`` batch to logits ``(N, K, h', w')`` at any resolution (they are resized to
``(h, w)`` bilinearly, as mmsegmentation's ``resize(..., align_corners=False)``).

Examples
--------
>>> import torch
>>> from segbench.models.inference import slide_inference
>>> x = torch.arange(2 * 5 * 7, dtype=torch.float32).reshape(1, 2, 5, 7)
>>> out = slide_inference(lambda t: t, x, crop=(3, 3), stride=(2, 2))
>>> bool(torch.allclose(out, x))
True
"""

from __future__ import annotations

from typing import Callable, Sequence

from ._lazy import require

__all__ = ["to_tensor", "normalize", "short_side_size", "keep_ratio_size", "fixed_size", "resize_image",
           "resize_logits", "slide_inference", "whole_inference", "tta_inference", "parse_slide", "scaled", "keep_ratio_policy",
           "IMAGENET_MEAN", "IMAGENET_STD"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _torch():
    return require("torch")


def _F():
    return require("torch.nn.functional")


# --------------------------------------------------------------------------- tensors
def to_tensor(image, channels: int = 3):
    """``(H, W)`` / ``(H, W, C)`` array (uint8, uint16 or float) → ``(1, channels, H, W)`` float32 tensor.

    Grey images are repeated to 3 channels; an alpha channel is dropped; ``channels=1`` converts RGB
    to grey with ITU-R 601-2 luma (PIL's ``convert("L")`` weights). Values keep their range (0..255
    for uint8).
    """
    torch = _torch()
    import numpy as np
    a = np.asarray(image)
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3:
        raise ValueError(f"expected an (H, W) or (H, W, C) image, found shape {a.shape}")
    if a.shape[2] == 4:
        a = a[:, :, :3]
    if a.dtype == np.uint16:
        a = a.astype(np.float32) / 257.0
    t = torch.from_numpy(np.ascontiguousarray(a)).to(torch.float32).permute(2, 0, 1)[None]
    c = t.shape[1]
    if channels == 3 and c == 1:
        t = t.repeat(1, 3, 1, 1)
    elif channels == 1 and c == 3:
        w = torch.tensor([0.299, 0.587, 0.114], dtype=torch.float32).view(1, 3, 1, 1)
        t = (t * w).sum(1, keepdim=True)
    elif t.shape[1] != channels:
        raise ValueError(f"expected an image with {channels} channels, found {c}")
    return t


def normalize(x, mean: Sequence[float], std: Sequence[float], scale: float = 255.0):
    """``(x / scale - mean) / std`` per channel for ``x`` ``(N, C, H, W)`` in ``0..scale``.

    torchvision and Hugging Face give mean/std in 0..1 (``scale=255``); mmsegmentation gives them in
    0..255 (pass ``scale=1``).
    """
    torch = _torch()
    m = torch.as_tensor(mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    s = torch.as_tensor(std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    return (x / scale - m) / s


# --------------------------------------------------------------------------- resize policies
def short_side_size(h: int, w: int, size: int, max_size: int | None = None) -> tuple[int, int]:
    """torchvision ``Resize(size)`` with an int: the short side becomes ``size``, the long side
    ``int(size * long / short)`` (truncated), optionally capped at ``max_size``.

    >>> short_side_size(1024, 2048, 520)
    (520, 1040)
    """
    short, long = (h, w) if h <= w else (w, h)
    new_short, new_long = size, int(size * long / short)
    if max_size is not None and new_long > max_size:
        new_short, new_long = int(max_size * new_short / new_long), max_size
    return (new_short, new_long) if h <= w else (new_long, new_short)


def keep_ratio_size(h: int, w: int, scale: tuple) -> tuple[int, int]:
    """mmcv ``rescale_size`` with ``keep_ratio=True``: the largest size fitting ``scale``
    (long edge ≤ max(scale), short edge ≤ min(scale)), each side ``int(side * f + 0.5)``.

    >>> keep_ratio_size(1024, 2048, (2048, 1024))
    (1024, 2048)
    >>> keep_ratio_size(375, 500, (2048, 512))
    (512, 683)
    """
    long_e, short_e = max(scale), min(scale)
    f = min(long_e / max(h, w), short_e / min(h, w))
    return int(h * f + 0.5), int(w * f + 0.5)


def fixed_size(h: int, w: int, size: tuple) -> tuple[int, int]:
    """A fixed ``(height, width)`` (Hugging Face processors' ``size={"height", "width"}``)."""
    return int(size[0]), int(size[1])


def resize_image(x, size: tuple, antialias: bool = False, mode: str = "bilinear"):
    """Bilinear resize of an image batch (``antialias=True`` as torchvision's tensor ``Resize``)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return _F().interpolate(x, size=tuple(int(s) for s in size), mode=mode, align_corners=False,
                            antialias=antialias)


def resize_logits(logits, size: tuple):
    """Bilinear, ``align_corners=False`` resize of logits to ``size`` (mmseg ``resize``, HF post-processing)."""
    if tuple(logits.shape[-2:]) == tuple(size):
        return logits
    return _F().interpolate(logits, size=tuple(int(s) for s in size), mode="bilinear", align_corners=False)


# --------------------------------------------------------------------------- inference modes
def whole_inference(forward: Callable, x):
    """Logits of the whole image, resized to its size."""
    return resize_logits(forward(x), x.shape[-2:])


def slide_inference(forward: Callable, x, crop: Sequence[int], stride: Sequence[int]):
    """Sliding-window inference with overlap averaging (mmsegmentation ``slide_inference``).

    Parameters
    ----------
    forward : callable
        ``(N, 3, hc, wc)`` → logits ``(N, K, h', w')`` (resized to ``(hc, wc)`` here).
    x : Tensor, shape (N, 3, H, W)
        The normalised, already resized image batch.
    crop, stride : (int, int)
        Window size and step ``(h, w)``.

    Returns
    -------
    Tensor, shape (N, K, H, W)
        ``sum_windows(logits) / count`` where ``count`` is the number of windows covering a pixel.

    Notes
    -----
    Grid: ``h_grids = max(H - h_crop + h_stride - 1, 0) // h_stride + 1`` (same for w); window
    ``(i, j)`` starts at ``(i * h_stride, j * w_stride)``, ends at ``min(start + crop, size)`` and
    is shifted back to start at ``max(end - crop, 0)``. An image smaller than the crop is one window
    of the image's size.
    """
    torch = _torch()
    hc, wc = int(crop[0]), int(crop[1])
    hs, ws = int(stride[0]), int(stride[1])
    if min(hc, wc, hs, ws) <= 0:
        raise ValueError(f"slide: crop and stride must be positive, found crop={crop} stride={stride}")
    n, _, H, W = x.shape
    h_grids = max(H - hc + hs - 1, 0) // hs + 1
    w_grids = max(W - wc + ws - 1, 0) // ws + 1
    acc = None
    count = torch.zeros((n, 1, H, W), dtype=x.dtype, device=x.device)
    for i in range(h_grids):
        for j in range(w_grids):
            y1, x1 = i * hs, j * ws
            y2, x2 = min(y1 + hc, H), min(x1 + wc, W)
            y1, x1 = max(y2 - hc, 0), max(x2 - wc, 0)
            out = resize_logits(forward(x[:, :, y1:y2, x1:x2]), (y2 - y1, x2 - x1))
            if acc is None:
                acc = torch.zeros((n, out.shape[1], H, W), dtype=out.dtype, device=x.device)
            acc[:, :, y1:y2, x1:x2] += out
            count[:, :, y1:y2, x1:x2] += 1
    return acc / count


def parse_slide(value) -> tuple | None:
    """``"512,341"`` / ``"512x1024,341x683"`` / ``((h, w), (h, w))`` → ``((hc, wc), (hs, ws))``.

    >>> parse_slide("512,341")
    ((512, 512), (341, 341))
    >>> parse_slide("512x1024,341x683")
    ((512, 1024), (341, 683))
    """
    if value is None:
        return None
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",")]
        if len(parts) != 2:
            raise ValueError(f"--slide: expected CROP,STRIDE (e.g. 512,341 or 512x1024,341x683), found {value!r}")
        pair = []
        for p in parts:
            hw = [int(v) for v in p.lower().split("x")]
            pair.append((hw[0], hw[-1]))
        return tuple(pair)
    a, b = value
    a = (int(a), int(a)) if not isinstance(a, (tuple, list)) else (int(a[0]), int(a[-1]))
    b = (int(b), int(b)) if not isinstance(b, (tuple, list)) else (int(b[0]), int(b[-1]))
    return (a, b)


def tta_inference(forward: Callable, image, *, size_fn: Callable[[int, int, float], tuple],
                  mean: Sequence[float], std: Sequence[float], value_scale: float = 255.0,
                  scales: Sequence[float] | None = None, flip: bool = False, slide=None,
                  antialias: bool = False, average: str = "logits", out_size: tuple | None = None,
                  resize_fn: Callable | None = None):
    """Full test-time pipeline: resize → normalise → (slide | whole) → [flip back] → resize → average.

    Parameters
    ----------
    forward : callable
        Normalised ``(N, 3, h, w)`` → logits ``(N, K, h', w')``.
    image : Tensor, shape (N, 3, H, W)
        Un-normalised image batch (0..255).
    size_fn : callable (h, w, scale) → (h', w')
        The reference's resize policy; ``scale`` is the multi-scale ratio (1.0 without TTA).
    mean, std, value_scale
        Normalisation constants (see :func:`normalize`).
    scales : sequence of float, optional
        Multi-scale ratios (default ``[1.0]``).
    flip : bool
        Also run the horizontally flipped image and flip its logits back.
    slide : ((hc, wc), (hs, ws)), optional
        Sliding-window crop and stride, applied at every scale.
    antialias : bool
        Antialiased image resize (torchvision tensor transforms) or not (cv2 / mmcv).
    average : {"logits", "softmax"}
        Average raw logits (mmsegmentation 1.x) or softmax probabilities (0.x; sigmoid for one channel).
    out_size : (H, W), optional
        Output size (default: the input's).
    resize_fn : callable (image, size) -> image, optional
        The reference's own image resize (e.g. torchvision's uint8 ``F.resize``); default
        :func:`resize_image` with ``antialias``.

    Returns
    -------
    Tensor, shape (N, K, H, W)
    """
    torch = _torch()
    if average not in ("logits", "softmax"):
        raise ValueError(f"average must be 'logits' or 'softmax', found {average!r}")
    H, W = image.shape[-2:]
    out_size = tuple(out_size or (H, W))
    scales = list(scales) if scales else [1.0]
    slide = parse_slide(slide)
    total = None
    n = 0
    for s in scales:
        size = size_fn(int(H), int(W), float(s))
        xr = resize_fn(image, size) if resize_fn is not None else resize_image(image, size, antialias=antialias)
        xs = normalize(xr, mean, std, value_scale)
        for fl in ([False, True] if flip else [False]):
            xi = torch.flip(xs, dims=[3]) if fl else xs
            lg = slide_inference(forward, xi, *slide) if slide else whole_inference(forward, xi)
            if fl:
                lg = torch.flip(lg, dims=[3])
            lg = resize_logits(lg, out_size)
            if average == "softmax":  # one channel = a binary logit: its probability is the sigmoid
                lg = lg.sigmoid() if lg.shape[1] == 1 else lg.softmax(1)
            total = lg if total is None else total + lg
            n += 1
    return total / n


def scaled(size_fn: Callable[[int, int], tuple]) -> Callable[[int, int, float], tuple]:
    """Turn a policy ``(h, w) → size`` into ``(h, w, ratio) → size`` by scaling its output
    (``int(side * ratio + 0.5)``, mmseg's ``img_ratios`` applied to the resized size)."""
    def fn(h: int, w: int, ratio: float) -> tuple:
        oh, ow = size_fn(h, w)
        if ratio == 1.0:
            return int(oh), int(ow)
        return max(1, int(oh * ratio + 0.5)), max(1, int(ow * ratio + 0.5))
    return fn


def keep_ratio_policy(scale: tuple) -> Callable[[int, int, float], tuple]:
    """mmsegmentation 0.x ``MultiScaleFlipAug(img_scale=scale, img_ratios=...)`` + ``Resize(keep_ratio=True)``:
    ratio ``r`` resizes to fit ``(int(scale[0] * r), int(scale[1] * r))``.

    >>> keep_ratio_policy((2048, 512))(375, 500, 0.5)
    (256, 341)
    """
    def fn(h: int, w: int, ratio: float) -> tuple:
        return keep_ratio_size(h, w, (int(scale[0] * ratio), int(scale[1] * ratio)))
    return fn

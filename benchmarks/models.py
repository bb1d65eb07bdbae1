"""CPU throughput of every model wrapper at its standard input size, batch 1 and 4, random weights.

For each wrapper the real architecture is built with random weights at the reference's standard
configuration (torchvision weights' class counts, transformers config defaults = the base published
size, smp with its default ``resnet34`` encoder), saved to a temporary folder and loaded back through
the wrapper (nothing is downloaded). It then times, side by side in this one process:

- ``wrapper``: ``predict_batch`` on synthetic images of the standard size (decode excluded;
  pre-processing, forward, post-processing and label mapping included);
- ``forward``: the reference module alone on an already pre-processed tensor of the same size,
  the floor; ``overhead`` = forward images/s ÷ wrapper images/s (≥ 1).

Standard input sizes: torchvision semantic 500×375 images (short side resized to 520), Mask R-CNN
480×640 (resized to 800×1066), SegFormer / UperNet / Mask2Former-semantic 512×512, DPT 384×384
(ViT-L backbone), SAM 1024 longest side, CLIPSeg 352×352, smp 512×512.

Usage::

    python3 benchmarks/models.py [--models a,b,...] [--batch-sizes 1,4] [--repeat R] [--threads T]

Default models: a light subset (run everything with ``--models all``; the large ones -- DPT-L,
SAM ViT-B, Mask R-CNN -- take minutes per image on a shared 2-core machine).

Measured 2026-11-24 on the quiet 2-core machine (no other jobs), ``--batch-sizes 1 --repeat 2``,
2 threads::

    model                      batch  input    wrapper img/s  forward img/s  overhead
    tv-lraspp-mobilenetv3          1  375x500          8.70          11.45       1.32
    tv-deeplabv3-resnet50          1  375x500          0.373          0.399      1.07
    tv-maskrcnn-resnet50-fpn       1  480x640          0.221              -         -
    hf-segformer (B0, 150 cl.)     1  512x512          1.75           3.31       1.89
    smp-unet (resnet34)            1  512x512          1.80           1.83       1.02

(SegFormer's overhead is its post-processing: logits upsampled 4x to the image size before the
argmax, as ``post_process_semantic_segmentation`` does.)

Measured 2026-11-24 on the shared 2-core CI machine, ``--threads 1 --repeat 1``, load average 1.8-4.3
(other jobs running: upper bounds, ±50 % noise; overhead < 1 is noise)::

    model                      batch  input    wrapper img/s  forward img/s
    tv-lraspp-mobilenetv3          1  375x500          1.78           2.26
    tv-lraspp-mobilenetv3          4  375x500          2.17           1.46
    tv-deeplabv3-mobilenetv3       1  375x500          0.75           1.18
    tv-deeplabv3-mobilenetv3       4  375x500          0.36           0.68
    tv-fcn-resnet50                1  375x500          0.064          0.065
    tv-fcn-resnet50                4  375x500          0.059          0.066
    tv-fcn-resnet101               1  375x500          0.118          0.116
    tv-deeplabv3-resnet50          1  375x500          0.100          0.082
    tv-deeplabv3-resnet50          4  375x500          0.044          0.069
    tv-maskrcnn-resnet50-fpn       1  480x640          0.093              -
    hf-segformer (B0, 150 cl.)     1  512x512          1.22           2.16
    hf-segformer (B0, 150 cl.)     4  512x512          1.07           1.72
    hf-upernet (ConvNeXt-T)        1  512x512          0.183          0.117
    hf-upernet (ConvNeXt-T)        4  512x512          0.180          0.174
    hf-mask2former-semantic        1  512x512          0.140          0.264
    hf-mask2former-semantic        4  512x512          0.193          0.161
    hf-dpt (ViT-L)                 1  384x384          0.270          0.264
    hf-sam-box (ViT-B, 8 boxes)    1  480x640          0.038              -
    hf-clipseg (20 class prompts)  1  352x352          0.030              -
    hf-clipseg (20 class prompts)  4  352x352          0.033              -
    smp-unet (resnet34)            1  512x512          0.35           0.75
    smp-unet (resnet34)            4  512x512          0.79           0.76
    smp-fpn (resnet34)             1  512x512          1.51           1.60
    smp-fpn (resnet34)             4  512x512          1.30           1.40
    smp-deeplabv3plus (resnet34)   1  512x512          1.28           1.24
    smp-deeplabv3plus (resnet34)   4  512x512          0.56           1.09
    smp-pspnet (resnet34)          1  512x512          3.38           4.01
    smp-pspnet (resnet34)          4  512x512          3.13           4.08

The wrapper's own work (pre-processing, logits resize to the image, arg-max over the mapped classes)
is small next to the forward pass for the convolutional models; SegFormer's 150-class logits upsampled
to 512x512 cost ~40 % of its light B0 forward. CLIPSeg runs its vision encoder once per (image,
prompt) pair, as transformers' documented usage does (20 prompts = 20 encoder passes).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from segbench.models import get_model  # noqa: E402
from segbench.types import ClassSpec, InstanceMasks, LabelSpace, Sample  # noqa: E402

DEFAULT = ["tv-lraspp-mobilenetv3", "tv-deeplabv3-mobilenetv3", "tv-fcn-resnet50", "hf-segformer", "smp-unet",
           "smp-fpn", "hf-clipseg"]


class _DS:
    class spec:  # noqa: N801
        name = "bench"

    def __init__(self, ls):
        self.ls = ls

    def label_space(self):
        return self.ls


def _names(n):
    return [f"class_{i}" for i in range(n)]


def _tv_semantic(builder):
    def make(d):
        import torch
        import torchvision.models.segmentation as seg
        kw = {"weights": None, "weights_backbone": None, "num_classes": 21}
        if not builder.startswith("lraspp"):
            kw["aux_loss"] = True
        m = getattr(seg, builder)(**kw).eval()
        torch.save(m.state_dict(), d / "w.pth")
        from segbench.models.torchvision_models import VOC_CATEGORIES
        return d / "w.pth", (375, 500), LabelSpace.from_names(VOC_CATEGORIES), m, (1, 3, 520, 693)
    return make


def _tv_maskrcnn(builder):
    def make(d):
        import torch
        import torchvision.models.detection as det
        m = getattr(det, builder)(weights=None, weights_backbone=None, num_classes=91).eval()
        torch.save(m.state_dict(), d / "w.pth")
        cats = det.MaskRCNN_ResNet50_FPN_Weights.COCO_V1.meta["categories"]
        ls = LabelSpace([ClassSpec(n, i, t, is_thing=True) for t, (i, n) in
                         enumerate((i, n) for i, n in enumerate(cats) if n not in ("__background__", "N/A"))])
        return d / "w.pth", (480, 640), ls, None, None
    return make


def _hf(kind):
    def make(d):
        import transformers as tr
        tr.utils.logging.disable_progress_bar()
        id2label = {i: f"class_{i}" for i in range(150)}
        l2i = {v: k for k, v in id2label.items()}
        if kind == "segformer":
            m = tr.SegformerForSemanticSegmentation(tr.SegformerConfig(num_labels=150, id2label=id2label, label2id=l2i))
            p, size, inp = tr.SegformerImageProcessor(), (512, 512), (1, 3, 512, 512)
        elif kind == "upernet":
            m = tr.UperNetForSemanticSegmentation(tr.UperNetConfig(
                backbone_config=tr.ConvNextConfig(hidden_sizes=[96, 192, 384, 768], depths=[3, 3, 9, 3],  # tiny
                                                  out_features=["stage1", "stage2", "stage3", "stage4"]),
                num_labels=150, id2label=id2label, label2id=l2i))
            p, size, inp = tr.SegformerImageProcessor(), (512, 512), (1, 3, 512, 512)
        elif kind == "dpt":
            m = tr.DPTForSemanticSegmentation(tr.DPTConfig(num_labels=150, id2label=id2label, label2id=l2i))
            p, size, inp = tr.DPTImageProcessor(), (384, 384), (1, 3, 384, 384)
        elif kind == "mask2former":
            m = tr.Mask2FormerForUniversalSegmentation(tr.Mask2FormerConfig(num_labels=150, id2label=id2label,
                                                                            label2id=l2i))
            p, size, inp = tr.Mask2FormerImageProcessor(size={"shortest_edge": 512, "longest_edge": 2048}), (512, 512), \
                (1, 3, 512, 512)
        elif kind == "sam":
            m = tr.SamModel(tr.SamConfig())
            p, size, inp = tr.SamProcessor(image_processor=tr.SamImageProcessor()), (480, 640), None
        elif kind == "clipseg":
            return _clipseg(d)
        m.eval().save_pretrained(str(d))
        p.save_pretrained(str(d))
        ls = LabelSpace.from_names(_names(150))
        if kind == "sam":
            ls = LabelSpace([ClassSpec("thing", 1, 0, is_thing=True)])
        return d, size, ls, m, inp
    return make


def _clipseg(d):
    import transformers as tr
    from transformers.convert_slow_tokenizer import bytes_to_unicode
    chars = list(bytes_to_unicode().values())
    vocab = {}
    for c in chars + [c + "</w>" for c in chars]:
        vocab.setdefault(c, len(vocab))
    vocab["<|startoftext|>"], vocab["<|endoftext|>"] = len(vocab), len(vocab) + 1
    tok = tr.CLIPTokenizer(vocab=vocab, merges=[])
    cfg = tr.CLIPSegConfig(text_config=dict(vocab_size=len(vocab), bos_token_id=vocab["<|startoftext|>"],
                                            eos_token_id=vocab["<|endoftext|>"], pad_token_id=vocab["<|endoftext|>"]),
                           vision_config=dict(image_size=224, patch_size=16))
    m = tr.CLIPSegForImageSegmentation(cfg).eval()
    m.save_pretrained(str(d))
    tr.CLIPSegProcessor(image_processor=tr.ViTImageProcessor(size={"height": 352, "width": 352}),
                        tokenizer=tok).save_pretrained(str(d))
    return d, (352, 352), LabelSpace.from_names(["background"] + _names(20)), None, None


def _smp(arch):
    def make(d):
        import segmentation_models_pytorch as smp
        m = getattr(smp, arch)(encoder_weights=None, classes=19).eval()
        m.save_pretrained(str(d))
        return d, (512, 512), LabelSpace.from_names(_names(19)), m, (1, 3, 512, 512)
    return make


MAKERS = {
    "tv-fcn-resnet50": _tv_semantic("fcn_resnet50"), "tv-fcn-resnet101": _tv_semantic("fcn_resnet101"),
    "tv-deeplabv3-resnet50": _tv_semantic("deeplabv3_resnet50"),
    "tv-deeplabv3-resnet101": _tv_semantic("deeplabv3_resnet101"),
    "tv-deeplabv3-mobilenetv3": _tv_semantic("deeplabv3_mobilenet_v3_large"),
    "tv-lraspp-mobilenetv3": _tv_semantic("lraspp_mobilenet_v3_large"),
    "tv-maskrcnn-resnet50-fpn": _tv_maskrcnn("maskrcnn_resnet50_fpn"),
    "tv-maskrcnn-resnet50-fpn-v2": _tv_maskrcnn("maskrcnn_resnet50_fpn_v2"),
    "hf-segformer": _hf("segformer"), "hf-upernet": _hf("upernet"), "hf-dpt": _hf("dpt"),
    "hf-mask2former-semantic": _hf("mask2former"), "hf-sam-box": _hf("sam"), "hf-clipseg": _hf("clipseg"),
    "smp-unet": _smp("Unet"), "smp-unetplusplus": _smp("UnetPlusPlus"), "smp-fpn": _smp("FPN"),
    "smp-pspnet": _smp("PSPNet"), "smp-deeplabv3plus": _smp("DeepLabV3Plus"), "smp-pan": _smp("PAN"),
    "smp-linknet": _smp("Linknet"),
}


def _samples(size, n, seed=0, sam=False):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        img = rng.integers(0, 256, (size[0], size[1], 3), dtype=np.uint8)
        target = None
        if sam:  # 8 box prompts per image
            anns = [{"id": k, "category_id": 1, "bbox": [20 + 40 * k, 30, 60, 80], "iscrowd": 0,
                     "segmentation": [[20 + 40 * k, 30, 80 + 40 * k, 30, 80 + 40 * k, 110, 20 + 40 * k, 110]]}
                    for k in range(8)]
            target = InstanceMasks(size[0], size[1], anns, image_id=i)
        out.append(Sample(str(i), img, target, {"image_id": i}))
    return out


def _time(fn, repeat):
    fn()  # warm-up (allocations, oneDNN kernels)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def bench(name, batch_sizes, repeat):
    import torch
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        torch.manual_seed(0)
        weights, size, ls, module, inp = MAKERS[name](d)
        rows = []
        for bs in batch_sizes:
            w = get_model(name, batch_size=bs).load(weights).bind(_DS(ls))
            samples = _samples(size, bs, sam=name.startswith("hf-sam"))
            t = _time(lambda: w.predict_batch(samples), repeat)
            fwd = None
            if module is not None and inp is not None:
                x = torch.randn(bs, *inp[1:])
                mod = w.module

                def run():
                    with torch.inference_mode():
                        return mod(pixel_values=x) if name.startswith("hf-") else mod(x)
                fwd = _time(run, repeat)
            rows.append((name, bs, size, bs / t, (bs / fwd) if fwd else None))
        return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=",".join(DEFAULT), help="comma-separated wrapper names, or 'all'")
    ap.add_argument("--batch-sizes", default="1,4")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    a = ap.parse_args(argv)
    import torch
    if a.threads:
        torch.set_num_threads(a.threads)
    names = list(MAKERS) if a.models == "all" else [m.strip() for m in a.models.split(",") if m.strip()]
    bss = [int(b) for b in a.batch_sizes.split(",")]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average "
          f"{os.getloadavg()[0]:.2f} (timings taken on a shared machine are upper bounds)")
    print(f"{'model':30s} {'batch':>5s} {'input HxW':>10s} {'wrapper img/s':>14s} {'forward img/s':>14s} {'overhead':>9s}")
    for n in names:
        if n not in MAKERS:
            print(f"{n:30s} (no benchmark maker; skipped)")
            continue
        for name, bs, size, ips, fps in bench(n, bss, a.repeat):
            ov = f"{fps / ips:9.2f}" if fps else f"{'-':>9s}"
            fs = f"{fps:14.3f}" if fps else f"{'-':>14s}"
            print(f"{name:30s} {bs:5d} {size[0]:>4d}x{size[1]:<5d} {ips:14.3f} {fs} {ov}", flush=True)


if __name__ == "__main__":
    main()

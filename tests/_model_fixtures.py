"""Tiny real architectures with random weights for the model tests (no download, small inputs)."""

from __future__ import annotations

import json
import os

import numpy as np

from segbench.types import LabelSpace  # noqa: F401 - re-exported for the tests

os.environ.setdefault("HF_HUB_OFFLINE", "1")

try:  # one thread: the CI machine is shared, and oversubscribed threads make tiny models 5-10x slower
    import torch as _torch
    _torch.set_num_threads(1)
except ImportError:  # pragma: no cover - the model tests skip without torch
    pass


class NetworkUsed(AssertionError):
    pass


def forbid_network(monkeypatch):
    """Make every socket connection attempt fail loudly (the wrappers must never touch the network)."""
    import socket

    def refuse(*a, **k):
        raise NetworkUsed(f"network access attempted: {a[1:] if len(a) > 1 else a}")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


class FakeDataset:
    """The smallest object ``ModelWrapper.bind`` needs: a label space (and a spec name)."""

    class spec:  # noqa: N801 - mimic DatasetAdapter.spec
        name = "fake"
        key = "fake@0"

    def __init__(self, label_space: LabelSpace):
        self._ls = label_space

    def label_space(self):
        return self._ls


def rand_image(h=40, w=56, seed=0):
    return np.random.RandomState(seed).randint(0, 256, (h, w, 3), dtype=np.uint8)


def hf_save(model, processor, folder):
    model.save_pretrained(str(folder))
    if processor is not None:
        processor.save_pretrained(str(folder))
    return folder


def tiny_segformer(id2label):
    import transformers as tr
    cfg = tr.SegformerConfig(num_channels=3, num_encoder_blocks=2, depths=[1, 1], sr_ratios=[2, 1], hidden_sizes=[8, 16],
                             patch_sizes=[7, 3], strides=[4, 2], num_attention_heads=[1, 1], mlp_ratios=[2, 2],
                             decoder_hidden_size=16, num_labels=len(id2label), id2label=id2label,
                             label2id={v: k for k, v in id2label.items()})
    return tr.SegformerForSemanticSegmentation(cfg).eval(), tr.SegformerImageProcessor(size={"height": 64, "width": 64})


def tiny_upernet(id2label):
    import transformers as tr
    bb = tr.ConvNextConfig(num_channels=3, hidden_sizes=[8, 16, 32, 64], depths=[1, 1, 1, 1],
                           out_features=["stage1", "stage2", "stage3", "stage4"])
    cfg = tr.UperNetConfig(backbone_config=bb, hidden_size=16, auxiliary_in_channels=32, auxiliary_channels=8,
                           pool_scales=[1, 2], num_labels=len(id2label), id2label=id2label,
                           label2id={v: k for k, v in id2label.items()})
    return tr.UperNetForSemanticSegmentation(cfg).eval(), tr.SegformerImageProcessor(size={"height": 64, "width": 64})


def tiny_dpt(id2label):
    import transformers as tr
    cfg = tr.DPTConfig(hidden_size=16, num_hidden_layers=4, num_attention_heads=2, intermediate_size=32, image_size=32,
                       patch_size=8, backbone_out_indices=[0, 1, 2, 3], neck_hidden_sizes=[8, 8, 16, 16],
                       fusion_hidden_size=16, use_auxiliary_head=False, is_hybrid=False, num_labels=len(id2label),
                       id2label=id2label, label2id={v: k for k, v in id2label.items()})
    proc = tr.DPTImageProcessor(size={"height": 32, "width": 32}, keep_aspect_ratio=False, ensure_multiple_of=8)
    return tr.DPTForSemanticSegmentation(cfg).eval(), proc


def _swin():
    import transformers as tr
    return tr.SwinConfig(image_size=64, patch_size=4, embed_dim=8, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1],
                         window_size=4, out_features=["stage1", "stage2", "stage3", "stage4"])


def tiny_mask2former(id2label):
    import transformers as tr
    cfg = tr.Mask2FormerConfig(backbone_config=_swin(), feature_size=32, mask_feature_size=32, hidden_dim=32,
                               encoder_feedforward_dim=32, dim_feedforward=32, encoder_layers=1, decoder_layers=2,
                               num_attention_heads=2, num_queries=5, common_stride=4, num_labels=len(id2label),
                               id2label=id2label, label2id={v: k for k, v in id2label.items()})
    proc = tr.Mask2FormerImageProcessor(size={"shortest_edge": 64, "longest_edge": 96}, size_divisor=32)
    return tr.Mask2FormerForUniversalSegmentation(cfg).eval(), proc


def tiny_maskformer(id2label):
    import transformers as tr
    dec = dict(model_type="detr", d_model=32, encoder_layers=1, decoder_layers=1, encoder_ffn_dim=32, decoder_ffn_dim=32,
               encoder_attention_heads=2, decoder_attention_heads=2, num_queries=5)
    cfg = tr.MaskFormerConfig(backbone_config=_swin(), fpn_feature_size=32, mask_feature_size=32, num_queries=5,
                              decoder_config=dec, num_labels=len(id2label), id2label=id2label,
                              label2id={v: k for k, v in id2label.items()})
    proc = tr.MaskFormerImageProcessor(size={"shortest_edge": 64, "longest_edge": 96}, size_divisor=32)
    return tr.MaskFormerForInstanceSegmentation(cfg).eval(), proc


def tiny_sam():
    import transformers as tr
    vc = tr.SamVisionConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=1, image_size=64, patch_size=16,
                            output_channels=16, window_size=2, global_attn_indexes=[0], mlp_dim=32, num_pos_feats=8)
    pc = tr.SamPromptEncoderConfig(hidden_size=16, image_size=64, patch_size=16, mask_input_channels=4)
    mc = tr.SamMaskDecoderConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=1, mlp_dim=32,
                                 iou_head_hidden_dim=16)
    model = tr.SamModel(tr.SamConfig(vision_config=vc, prompt_encoder_config=pc, mask_decoder_config=mc)).eval()
    proc = tr.SamProcessor(image_processor=tr.SamImageProcessor(size={"longest_edge": 64},
                                                                pad_size={"height": 64, "width": 64}))
    return model, proc


def tiny_clipseg():
    import transformers as tr
    from transformers.convert_slow_tokenizer import bytes_to_unicode
    chars = list(bytes_to_unicode().values())
    vocab: dict = {}
    for c in chars:
        vocab.setdefault(c, len(vocab))
    for c in chars:
        vocab.setdefault(c + "</w>", len(vocab))
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    tok = tr.CLIPTokenizer(vocab=vocab, merges=[])
    text = dict(vocab_size=len(vocab), hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2,
                max_position_embeddings=32, bos_token_id=vocab["<|startoftext|>"], eos_token_id=vocab["<|endoftext|>"],
                pad_token_id=vocab["<|endoftext|>"])
    vision = dict(hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2, image_size=32,
                  patch_size=8)
    cfg = tr.CLIPSegConfig(text_config=text, vision_config=vision, projection_dim=16, extract_layers=[0, 1], reduce_dim=8,
                           decoder_num_attention_heads=2, decoder_intermediate_size=16)
    proc = tr.CLIPSegProcessor(image_processor=tr.ViTImageProcessor(size={"height": 32, "width": 32}), tokenizer=tok)
    return tr.CLIPSegForImageSegmentation(cfg).eval(), proc


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f)

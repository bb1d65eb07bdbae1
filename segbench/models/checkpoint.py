"""Safe checkpoint loading: ``safetensors`` or ``torch.load(..., weights_only=True)``, never a full pickle.

A PyTorch ``.pth`` file is a pickle; unpickling arbitrary objects can run arbitrary code (a pickle can
ask to call ``os.system``). segbench only loads tensors and plain containers: a checkpoint whose pickle
needs any other global (a class, a function) is refused with a one-line message naming that global.
Then the state dict is checked against the architecture: the first missing, unexpected or
wrongly-shaped key is named in the error, so a checkpoint for another architecture, encoder or class
count never loads silently half-initialised.

Examples
--------
>>> import torch, tempfile, os
>>> from segbench.models.checkpoint import read_state_dict, load_into
>>> m = torch.nn.Linear(2, 3)
>>> p = os.path.join(tempfile.mkdtemp(), "w.pth"); torch.save(m.state_dict(), p)
>>> sorted(read_state_dict(p))
['bias', 'weight']
>>> _ = load_into(torch.nn.Linear(2, 3), read_state_dict(p), p)
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Mapping

from ..errors import BadInputError, NotFoundError
from ._lazy import require

__all__ = ["read_state_dict", "load_into", "check_state_dict", "find_weights_file", "check_pickle_safe"]

#: Files looked for (in this order) when a weights *folder* is given.
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.pth", "model.pt", "weights.pth",
                "checkpoint.pth")

#: Container keys that wrap the state dict in training checkpoints (mmseg/detectron2/torchvision refs).
_WRAPPERS = ("state_dict", "model", "model_state_dict", "module", "net")


def find_weights_file(path) -> Path:
    """The weights file of ``path`` (itself, or the first of :data:`WEIGHT_FILES` in a folder)."""
    p = Path(path)
    if p.is_file():
        return p
    if p.is_dir():
        for name in WEIGHT_FILES:
            if (p / name).is_file():
                return p / name
        cands = sorted(list(p.glob("*.safetensors")) + list(p.glob("*.pth")) + list(p.glob("*.pt"))
                       + list(p.glob("*.bin")))
        if len(cands) == 1:
            return cands[0]
        raise NotFoundError(f"expected one weights file in the folder ({', '.join(WEIGHT_FILES)} or a single "
                            f"*.safetensors/*.pth), found {len(cands)}; pass the file itself with --weights",
                            path=str(p))
    raise NotFoundError("expected a weights file or folder, found nothing; pass --weights PATH "
                        "(weights are never downloaded)", path=str(p))


def _unsafe_reason(err: Exception) -> str:
    text = str(err)
    m = re.search(r"GLOBAL ([\w\.]+)", text)
    glob = m.group(1) if m else None
    if glob:
        return (f"it needs the Python global {glob!r} to unpickle, and unpickling arbitrary globals can "
                f"execute code")
    return "its pickle needs objects other than tensors and plain containers, and unpickling those can execute code"


def _torch_load(path: Path):
    torch = require("torch")
    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise BadInputError(
            f"refused to load this checkpoint: {_unsafe_reason(e)} (segbench loads only with "
            f"torch.load(weights_only=True) or safetensors); if you trust it, re-save just the weights, "
            f"e.g. torch.save(model.state_dict(), 'w.pth') or safetensors.torch.save_file",
            path=str(path)) from None
    except (RuntimeError, KeyError, EOFError, ValueError, OSError, AttributeError, IndexError) as e:
        raise BadInputError(f"expected a PyTorch checkpoint (.pth zip or pickle of tensors), found an unreadable "
                            f"file ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); check the "
                            f"file or re-download it", path=str(path)) from None


def check_pickle_safe(path) -> None:
    """Raise :class:`BadInputError` when a ``.bin``/``.pth`` file cannot be read with ``weights_only=True``.

    Used before handing a folder to a library loader (``transformers.from_pretrained``).
    """
    p = Path(path)
    if p.suffix == ".safetensors":
        return
    _torch_load(p)


def read_state_dict(path, prefix_strip: tuple = ("module.",)) -> dict:
    """Read a state dict from ``path`` (``.safetensors``, or a torch pickle read with ``weights_only=True``).

    Training checkpoints that wrap the weights (``{"state_dict": ...}``, ``{"model": ...}``) are
    unwrapped, and a ``module.`` prefix on every key (DataParallel) is removed.

    Parameters
    ----------
    path : path
        A weights file, or a folder holding one of :data:`WEIGHT_FILES`.

    Returns
    -------
    dict of str to torch.Tensor

    Raises
    ------
    BadInputError
        Unsafe pickle (names the global it needs), unreadable file, or no tensors in it.
    """
    p = find_weights_file(path)
    if p.suffix == ".safetensors":
        st = require("safetensors.torch")
        try:
            sd = st.load_file(str(p), device="cpu")
        except Exception as e:  # noqa: BLE001 - safetensors raises its own error types
            raise BadInputError(f"expected a safetensors file, found an unreadable one ({e}); re-download it",
                                path=str(p)) from None
    else:
        sd = _torch_load(p)
    torch = require("torch")
    for _ in range(2):
        if isinstance(sd, Mapping) and not any(isinstance(v, torch.Tensor) for v in sd.values()):
            for k in _WRAPPERS:
                if isinstance(sd.get(k), Mapping):
                    sd = sd[k]
                    break
            else:
                break
    if not isinstance(sd, Mapping) or not any(isinstance(v, torch.Tensor) for v in sd.values()):
        raise BadInputError("expected a state dict of tensors (name -> tensor), found "
                            f"{type(sd).__name__} without tensors; save model.state_dict()", path=str(p))
    sd = {k: v for k, v in sd.items() if isinstance(v, torch.Tensor)}
    for pre in prefix_strip:
        if sd and all(k.startswith(pre) for k in sd):
            sd = {k[len(pre):]: v for k, v in sd.items()}
    return sd


def check_state_dict(expected: Mapping, found: Mapping, path=None, what: str = "model",
                     ignore_missing: tuple = ()) -> None:
    """Compare key sets and shapes; raise naming the first mismatch.

    Parameters
    ----------
    expected : mapping of str to tensor
        ``model.state_dict()`` of the architecture built.
    found : mapping of str to tensor
        The checkpoint's state dict.
    ignore_missing : tuple of str
        Key suffixes allowed to be missing (e.g. ``num_batches_tracked`` buffers).
    """
    for key, ref in expected.items():
        if key not in found:
            if any(key.endswith(s) for s in ignore_missing):
                continue
            n_missing = sum(1 for k in expected if k not in found and not any(k.endswith(s) for s in ignore_missing))
            raise BadInputError(
                f"weights do not fit {what}: key {key!r} is missing ({n_missing} missing keys in all); the "
                f"checkpoint is for another architecture or encoder", path=path)
        got = found[key]
        if tuple(got.shape) != tuple(ref.shape):
            raise BadInputError(
                f"weights do not fit {what}: key {key!r} has shape {tuple(got.shape)}, expected "
                f"{tuple(ref.shape)}; the checkpoint is for another configuration (class count, width)",
                path=path)
    for key in found:
        if key not in expected:
            n_extra = sum(1 for k in found if k not in expected)
            raise BadInputError(
                f"weights do not fit {what}: unexpected key {key!r} ({n_extra} unexpected keys in all); the "
                f"checkpoint is for another architecture or encoder", path=path)


def load_into(module, state_dict: Mapping, path=None, what: str = "model", ignore_missing: tuple = ("num_batches_tracked",)):
    """Check ``state_dict`` against ``module`` (:func:`check_state_dict`) and load it strictly.

    Returns the module (in eval mode).
    """
    expected = module.state_dict()
    check_state_dict(expected, state_dict, path=path, what=what, ignore_missing=ignore_missing)
    module.load_state_dict(dict(state_dict), strict=False)
    module.eval()
    return module

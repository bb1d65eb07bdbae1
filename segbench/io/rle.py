"""Kaggle CSV run-length encoding (``EncodedPixels`` / ``rle_mask`` columns).

Kaggle segmentation competitions (TGS Salt, Understanding Clouds, Airbus Ship, Severstal...) store a
binary mask as a space-separated list of ``start length`` pairs. Pixels are numbered **1-based, top to
bottom, then left to right** (column-major, Fortran order): pixel ``(row, col)`` of an ``H x W`` mask
has number ``col * H + row + 1``. An empty string (or a missing CSV cell) is an empty mask.

This is *not* COCO's RLE (which is also column-major but stores alternating 0/1 run lengths starting
with zeros, 0-based and without start positions); see :mod:`pycocotools.mask` for that one.

Examples
--------
>>> import numpy as np
>>> from segbench.io.rle import rle_encode, rle_decode
>>> m = np.array([[0, 1], [1, 1], [0, 0]], bool)   # H=3, W=2
>>> rle_encode(m)          # column 0: pixel 2; column 1: pixels 4, 5
'2 1 4 2'
>>> bool((rle_decode('2 1 4 2', (3, 2)) == m).all())
True

References
----------
Kaggle, "TGS Salt Identification Challenge — Evaluation" and "Understanding Clouds from Satellite
Images — Evaluation" (submission format sections).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import BadInputError

__all__ = ["rle_encode", "rle_decode", "is_empty_rle", "rle_area", "read_rle_csv", "write_rle_csv"]


def is_empty_rle(value: Any) -> bool:
    """True for an empty ``EncodedPixels`` cell: ``""``, whitespace, ``None`` or NaN (pandas)."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _parse(rle: Any, where: str | None) -> np.ndarray:
    if is_empty_rle(rle):
        return np.zeros((0, 2), dtype=np.int64)
    if not isinstance(rle, str):
        raise BadInputError(f"expected a run-length string 'start length ...', found {type(rle).__name__} "
                            f"{rle!r}", path=where)
    parts = rle.split()
    try:
        nums = np.array([int(p) for p in parts], dtype=np.int64)
    except ValueError:
        bad = next(p for p in parts if not p.lstrip("-").isdigit())
        raise BadInputError(f"expected integers in the run-length string, found {bad!r}; "
                            "the format is 'start length start length ...'", path=where) from None
    if nums.size % 2:
        raise BadInputError(f"expected an even number of integers (start length pairs) in the run-length "
                            f"string, found {nums.size}", path=where)
    return nums.reshape(-1, 2)


def rle_decode(rle: Any, shape: tuple, strict: bool = True, where: str | None = None) -> np.ndarray:
    """Decode a Kaggle run-length string into a boolean mask.

    Parameters
    ----------
    rle : str or None or float
        ``"start length start length ..."`` with 1-based column-major starts; empty/NaN = no pixel.
    shape : (H, W)
        Mask shape (e.g. ``(101, 101)`` for TGS Salt, ``(1400, 2100)`` / ``(350, 525)`` for Clouds).
    strict : bool, default True
        Refuse runs that are not strictly increasing and non-overlapping (Kaggle rejects such
        submissions) and runs outside the image. With ``strict=False`` overlapping runs are OR-ed,
        runs are still required to stay inside the image.
    where : str, optional
        File / row named in error messages.

    Returns
    -------
    ndarray of bool, shape ``(H, W)``

    Raises
    ------
    BadInputError
        Odd count, non-integers, zero/negative lengths, starts < 1, runs past ``H*W``, or (strict)
        unsorted/overlapping runs.
    """
    h, w = int(shape[0]), int(shape[1])
    n = h * w
    pairs = _parse(rle, where)
    flat = np.zeros(n, dtype=bool)
    if len(pairs) == 0:
        return flat.reshape((w, h)).T
    starts, lengths = pairs[:, 0], pairs[:, 1]
    if (starts < 1).any():
        i = int(np.argmax(starts < 1))
        raise BadInputError(f"expected 1-based run starts >= 1, found start {int(starts[i])} (run {i})", path=where)
    if (lengths < 1).any():
        i = int(np.argmax(lengths < 1))
        raise BadInputError(f"expected run lengths >= 1, found length {int(lengths[i])} (run {i})", path=where)
    ends = starts - 1 + lengths  # exclusive, 0-based
    if (ends > n).any():
        i = int(np.argmax(ends > n))
        raise BadInputError(f"expected runs inside the {h}x{w} image ({n} pixels), found run {i} "
                            f"'{int(starts[i])} {int(lengths[i])}' ending at pixel {int(ends[i])}; "
                            "check the mask size", path=where)
    if strict and len(pairs) > 1 and (starts[1:] <= ends[:-1]).any():
        i = int(np.argmax(starts[1:] <= ends[:-1])) + 1
        raise BadInputError(f"expected sorted, non-overlapping runs, found run {i} starting at "
                            f"{int(starts[i])} before the previous run ends ({int(ends[i - 1])}); "
                            "pass strict=False to OR overlapping runs", path=where)
    if len(pairs) <= 50_000:
        # few runs (the usual case): slice assignment is a memset per run
        for lo, hi in zip((starts - 1).tolist(), ends.tolist()):
            flat[lo:hi] = True
    else:
        # many runs: difference array, +1 at a start, -1 after an end, cumulative sum > 0 inside a run
        d = np.zeros(n + 1, dtype=np.int32)
        np.add.at(d, starts - 1, 1)
        np.add.at(d, ends, -1)
        flat = np.cumsum(d[:-1]) > 0
    return flat.reshape((w, h)).T


def rle_encode(mask: np.ndarray) -> str:
    """Encode a binary mask ``(H, W)`` as a Kaggle run-length string (column-major, 1-based).

    Nonzero pixels are foreground. An empty mask gives ``""``.

    Examples
    --------
    >>> import numpy as np
    >>> rle_encode(np.ones((2, 2), bool))
    '1 4'
    """
    m = np.asarray(mask)
    if m.ndim != 2:
        raise BadInputError(f"expected a 2-D mask (H, W), found shape {m.shape}")
    flat = (m != 0).T.reshape(-1).astype(np.int8)
    padded = np.concatenate([[0], flat, [0]])
    changes = np.flatnonzero(padded[1:] != padded[:-1])
    starts = changes[0::2]
    ends = changes[1::2]
    if starts.size == 0:
        return ""
    out = np.empty(starts.size * 2, dtype=np.int64)
    out[0::2] = starts + 1
    out[1::2] = ends - starts
    return " ".join(map(str, out.tolist()))


def rle_area(rle: Any, where: str | None = None) -> int:
    """Number of foreground pixels of a run-length string (sum of run lengths)."""
    pairs = _parse(rle, where)
    return int(pairs[:, 1].sum()) if len(pairs) else 0


def read_rle_csv(path, id_column: str, rle_column: str) -> dict:
    """Read a Kaggle run-length CSV (``train.csv`` / ``submission.csv``) into ``{id: rle string}``.

    Empty cells become ``""``. Refuses missing columns and duplicate ids (one line each: the file, the
    row number, the next action).

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "s.csv")
    >>> _ = open(p, "w").write("id,rle_mask\\na,1 2\\nb,\\n")
    >>> read_rle_csv(p, "id", "rle_mask")
    {'a': '1 2', 'b': ''}
    """
    import csv
    from pathlib import Path

    p = Path(path)
    out: dict = {}
    try:
        f = open(p, newline="", encoding="utf-8-sig")
    except FileNotFoundError:
        from ..errors import NotFoundError
        raise NotFoundError("expected a run-length CSV file, found nothing", path=p) from None
    with f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            raise BadInputError(f"expected a header '{id_column},{rle_column}', found an empty file", path=p)
        header = [h.strip() for h in header]
        if id_column not in header or rle_column not in header:
            raise BadInputError(f"expected columns {id_column!r} and {rle_column!r}, found {header}", path=p)
        ki, kr = header.index(id_column), header.index(rle_column)
        for n, row in enumerate(reader, start=2):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) <= max(ki, kr):
                if len(row) == kr and kr > ki:  # trailing empty rle column
                    row = row + [""]
                else:
                    raise BadInputError(f"expected {len(header)} columns on row {n}, found {len(row)}", path=p)
            key = row[ki].strip()
            if key in out:
                raise BadInputError(f"expected one row per {id_column}, found {key!r} again on row {n}", path=p)
            out[key] = row[kr].strip()
    return out


def write_rle_csv(path, rows: dict, id_column: str, rle_column: str) -> None:
    """Write ``{id: rle}`` as a Kaggle CSV (atomically), in the given order."""
    import csv
    import io

    from .atomic import atomic_write_text

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([id_column, rle_column])
    for k, v in rows.items():
        w.writerow([k, v])
    atomic_write_text(path, buf.getvalue())

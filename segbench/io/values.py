"""Checks of single JSON values as the reference evaluators read them.

pycocotools and panopticapi key their dicts by the ids found in the JSON, where ``1.0 == 1`` but
``"1" != 1``; so an integral float is the same id and anything else is refused here, with ``ValueError``
for the caller to turn into a one-line error naming the file.

Examples
--------
>>> integral_id(3.0), integral_id(7)
(3, 7)
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["integral_id", "INT64_MIN", "INT64_MAX"]

INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1


def integral_id(v, bits64: bool = False) -> int:
    """An id as ``int``: an integer (not ``bool``) or an integral float; ``bits64`` also requires it to fit
    in int64 (the arrays ids are kept in). Anything else (strings, fractions, ``None``) raises ``ValueError``.
    """
    if isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)):
        out = int(v)
    elif isinstance(v, (float, np.floating)) and math.isfinite(v) and float(v).is_integer():
        out = int(v)
    else:
        raise ValueError(f"not an integer id: {v!r}")
    if bits64 and not INT64_MIN <= out <= INT64_MAX:
        raise ValueError(f"id {out} does not fit in 64 bits")
    return out

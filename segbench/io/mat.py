"""MATLAB ``.mat`` files (BSDS500, CrackForest, SBD) and the Berkeley ``.seg`` text format.

MATLAB v4–v7 files are read with :func:`scipy.io.loadmat`. MATLAB v7.3 files are HDF5 containers that
scipy cannot read: they raise a one-line :class:`~segbench.errors.BadInputError` saying that h5py is
needed (``pip install h5py``) or that the file can be re-saved with ``save(..., '-v7')``.

Examples
--------
>>> import numpy as np, scipy.io, tempfile, os
>>> d = tempfile.mkdtemp(); p = os.path.join(d, "gt.mat")
>>> seg = np.array([[1, 1, 2], [1, 2, 2]], np.uint16)
>>> bnd = np.array([[0, 1, 1], [1, 1, 0]], np.uint8)
>>> cell = np.empty((1, 1), object); cell[0, 0] = {"Segmentation": seg, "Boundaries": bnd}
>>> scipy.io.savemat(p, {"groundTruth": cell})
>>> b, s = load_bsds_groundtruth(p)
>>> b.shape, s.shape, int(b.sum())
((1, 2, 3), (1, 2, 3), 4)
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from ..errors import BadInputError, NotFoundError

__all__ = ["load_mat", "is_mat_v73", "load_bsds_groundtruth", "read_seg_file", "write_seg_file",
           "load_soft_map_mat", "load_segmentations_mat", "to_dense"]

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def is_mat_v73(path) -> bool:
    """True when ``path`` is a MATLAB v7.3 (HDF5) file."""
    with open(path, "rb") as f:
        head = f.read(128)
        if b"MATLAB 7.3" in head:
            return True
        f.seek(512)
        return f.read(8) == _HDF5_MAGIC


def load_mat(path) -> dict:
    """Read a MATLAB v5 ``.mat`` file into a dict of numpy arrays (scipy's ``loadmat``).

    Raises
    ------
    NotFoundError
        The file does not exist.
    BadInputError
        v7.3 (HDF5) files (h5py needed), or a file scipy cannot parse.
    """
    p = Path(path)
    if not p.is_file():
        raise NotFoundError("expected a .mat file, found nothing; check the path", path=p)
    try:
        if is_mat_v73(p):
            raise NotImplementedError("v7.3")
        import scipy.io
        return scipy.io.loadmat(str(p))
    except NotImplementedError:
        raise BadInputError(
            "expected a MATLAB v5 .mat file, found MATLAB v7.3 (HDF5), which scipy cannot read; "
            "install h5py (pip install h5py) and convert it, or re-save it in MATLAB with save(..., '-v7')",
            path=p) from None
    except (ValueError, TypeError, OSError, EOFError, zlib.error, _mat_read_error()) as e:
        raise BadInputError(f"expected a MATLAB .mat file, found an unreadable file ({e or type(e).__name__}); "
                            "check that it is a complete MATLAB v5 file", path=p) from None


def _mat_read_error() -> type:
    """scipy's ``MatReadError`` (an empty or malformed file); its module moved across scipy versions."""
    import scipy.io.matlab
    return getattr(scipy.io.matlab, "MatReadError", ValueError)


def to_dense(a) -> np.ndarray:
    """A numpy array from a MATLAB value (sparse matrices become dense)."""
    if hasattr(a, "toarray"):
        return np.asarray(a.toarray())
    return np.asarray(a)


def _field(entry, name):
    """Field ``name`` of a loadmat struct element (structured array), unwrapped from its 1x1 box."""
    if isinstance(entry, dict):
        return entry.get(name)
    names = getattr(getattr(entry, "dtype", None), "names", None)
    if names and name in names:
        v = entry[name]
        while isinstance(v, np.ndarray) and v.dtype == object and v.size == 1:
            v = v.flat[0]
        if isinstance(v, np.ndarray) and v.dtype.names is None and v.shape == (1, 1) and v.dtype == object:
            v = v[0, 0]
        return v
    return None


def _struct_elements(gt) -> list:
    """The annotator structs of a ``groundTruth`` value: a 1xK cell of 1x1 structs (BSDS500) or a
    1x1 / 1xK struct array (CrackForest)."""
    g = np.asarray(gt)
    out = []
    if g.dtype == object:
        for e in g.ravel(order="F"):
            e = np.asarray(e)
            if e.dtype == object and e.size == 1:
                e = np.asarray(e.flat[0])
            out.extend(list(e.ravel(order="F")) if e.dtype.names else [e])
    elif g.dtype.names:
        out.extend(list(g.ravel(order="F")))
    return out


def load_bsds_groundtruth(path, key: str = "groundTruth") -> tuple:
    """Boundaries and segmentations of every annotator in a BSDS-style ground-truth file.

    Parameters
    ----------
    path : path
        ``groundTruth/<id>.mat`` of BSDS500 (1xK cell of structs) or CrackForest (1x1 struct), with
        fields ``Segmentation`` (region labels) and ``Boundaries`` (0/1, logical or uint8, dense or
        sparse).
    key : str
        Variable name.

    Returns
    -------
    boundaries : ndarray of bool, shape (K, H, W)
    segmentations : ndarray of int32, shape (K, H, W), or None when no annotator has one
    """
    m = load_mat(path)
    if key not in m:
        have = ", ".join(k for k in m if not k.startswith("__"))
        raise BadInputError(f"expected a variable {key!r}, found only: {have or 'nothing'}", path=path)
    elems = _struct_elements(m[key])
    if not elems:
        raise BadInputError(f"expected {key!r} to hold annotator structs (Segmentation, Boundaries), "
                            "found none", path=path)
    bnds, segs = [], []
    for k, e in enumerate(elems):
        b = _field(e, "Boundaries")
        s = _field(e, "Segmentation")
        if b is None and s is None:
            raise BadInputError(f"annotator {k + 1}: expected fields Segmentation and/or Boundaries, found "
                                f"{list(e.dtype.names or [])}", path=path)
        s = None if s is None else to_dense(s).astype(np.int32)
        if b is None:
            from ..metrics.functional.regions import seg_to_boundaries
            b = seg_to_boundaries(s)
        b = to_dense(b) != 0
        if b.ndim != 2:
            raise BadInputError(f"annotator {k + 1}: expected a 2-D Boundaries map, found shape {b.shape}",
                                path=path)
        bnds.append(b)
        segs.append(s)
    shapes = {x.shape for x in bnds}
    if len(shapes) != 1:
        raise BadInputError(f"expected all annotators to have the same size, found {sorted(shapes)}", path=path)
    seg_arr = None
    if all(s is not None for s in segs):
        if {s.shape for s in segs} != shapes:
            raise BadInputError("expected Segmentation and Boundaries of the same size", path=path)
        seg_arr = np.stack(segs)
    return np.stack(bnds), seg_arr


def read_seg_file(path) -> np.ndarray:
    """Read a Berkeley ``.seg`` text file into an ``(H, W)`` int32 map of 0-based segment labels.

    The format: header lines (``width W``, ``height H``, ``segments N``, ...), a ``data`` line, then one
    run per line ``s r c1 c2`` (segment, row, first and last column, 0-based, inclusive).
    """
    p = Path(path)
    if not p.is_file():
        raise NotFoundError("expected a .seg file, found nothing", path=p)
    header = {}
    runs = []
    in_data = False
    with open(p, "r", errors="replace") as f:
        for ln, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            if not in_data:
                if line == "data":
                    in_data = True
                    continue
                k, *v = line.split(None, 1)  # any whitespace, as readSeg.m's sscanf
                header[k] = v[0].strip() if v else ""
                continue
            parts = line.split()
            try:
                if len(parts) != 4:
                    raise ValueError
                runs.append([int(x) for x in parts])
            except ValueError:
                raise BadInputError(f"line {ln}: expected a run 's r c1 c2' of four integers, found {line!r}",
                                    path=p) from None
    try:
        w, h = int(header["width"]), int(header["height"])
    except (KeyError, ValueError):
        raise BadInputError("expected 'width' and 'height' header lines before 'data'", path=p) from None
    lab = np.full((h, w), -1, np.int32)
    for s, r, c1, c2 in runs:
        if not (0 <= r < h and 0 <= c1 <= c2 < w):
            raise BadInputError(f"run (s={s}, r={r}, c1={c1}, c2={c2}) is outside the {w}x{h} image", path=p)
        lab[r, c1:c2 + 1] = s
    if (lab < 0).any():
        n = int((lab < 0).sum())
        raise BadInputError(f"expected every pixel to be covered by a run, found {n} uncovered", path=p)
    return lab  # header flags (gray, invert, flipflop) concern how the image is shown, not the labels


def write_seg_file(path, labels: np.ndarray, image_name: str = "") -> None:
    """Write an ``(H, W)`` label map as a Berkeley ``.seg`` file (runs per row; atomic)."""
    from .atomic import atomic_write_text
    lab = np.asarray(labels)
    h, w = lab.shape
    nseg = int(lab.max()) + 1 if lab.size else 0
    lines = ["format ascii cr", "date", f"image {image_name}", "user 0", f"width {w}", f"height {h}",
             f"segments {nseg}", "gray 1", "invert 0", "flipflop 0", "data"]
    for r in range(h):
        row = lab[r]
        cuts = np.flatnonzero(np.diff(row)) + 1
        starts = np.r_[0, cuts]
        ends = np.r_[cuts - 1, w - 1]
        lines.extend(f"{int(row[a])} {r} {a} {b}" for a, b in zip(starts, ends))
    atomic_write_text(path, "\n".join(lines) + "\n")


_SOFT_KEYS = ("pb", "E", "edge", "edges", "bmap", "boundary", "ucm2", "ucm", "prob", "result", "res")


def load_soft_map_mat(path, key: str | None = None) -> np.ndarray:
    """A soft boundary map ``(H, W)`` float from a prediction ``.mat`` file.

    Takes variable ``key`` when given, else the first of ``pb, E, edge(s), bmap, boundary, ucm2, ucm,
    prob, result, res`` that exists, else the only 2-D numeric variable. Values are returned as stored
    (the caller checks the range).
    """
    m = load_mat(path)
    names = [k for k in m if not k.startswith("__")]
    if key is not None:
        if key not in m:
            raise BadInputError(f"expected a variable {key!r}, found: {', '.join(names)}", path=path)
        cand = [key]
    else:
        cand = [k for k in _SOFT_KEYS if k in m]
        if not cand:
            cand = [k for k in names if isinstance(m[k], np.ndarray) and m[k].ndim == 2
                    and m[k].dtype.kind in "biuf"] or [k for k in names if hasattr(m[k], "toarray")]
    if not cand:
        raise BadInputError(f"expected a 2-D numeric boundary map variable, found: {', '.join(names) or 'none'}",
                            path=path)
    a = to_dense(m[cand[0]])
    if a.dtype == object and a.size == 1:
        a = to_dense(a.flat[0])
    if a.ndim != 2 or a.dtype.kind not in "biuf":
        raise BadInputError(f"expected variable {cand[0]!r} to be a 2-D numeric map, found {a.dtype} {a.shape}",
                            path=path)
    if cand[0] in ("ucm2", "ucm") and a.shape[0] > 2 and a.shape[0] % 2 == 1 and a.shape[1] % 2 == 1:
        # BSDS ucm2 is on the doubled contour grid (2H+1, 2W+1): take the pixel-grid boundaries
        a = a[2::2, 2::2]
    return a.astype(np.float64)


def load_segmentations_mat(path, key: str = "segs") -> list:
    """The hierarchy of segmentations in a BSDS region-benchmark input ``.mat`` (variable ``segs``: a
    1xN cell of label maps), as a list of ``(H, W)`` int32 arrays."""
    m = load_mat(path)
    if key not in m:
        names = [k for k in m if not k.startswith("__")]
        raise BadInputError(f"expected a variable {key!r} (cell of label maps), found: {', '.join(names)}",
                            path=path)
    v = m[key]
    if v.dtype == object:
        return [to_dense(x).astype(np.int32) for x in v.ravel(order="F")]
    v = to_dense(v)
    return [v.astype(np.int32)] if v.ndim == 2 else [x.astype(np.int32) for x in v]

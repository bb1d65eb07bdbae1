"""DAVIS video object segmentation: the ``davis2017`` dataset and the ``davis-style`` folder layout.

Layout (DAVIS 2017, also what ``davis-style`` reads)::

    ROOT/JPEGImages/480p/<sequence>/<frame>.jpg        (optional for scoring)
    ROOT/Annotations/480p/<sequence>/<frame>.png       (Annotations_unsupervised/480p for --task unsupervised)
    ROOT/ImageSets/2017/<split>.txt                    (one sequence per line; optional for davis-style)
    PREDDIR/<sequence>/<frame>.png                     (predictions, one PNG per annotated frame)

Both annotation generations are read:

- **DAVIS 2017**: indexed P-mode PNGs with the DAVIS palette; object ids ``1..K``, 255 = void;
- **DAVIS 2016**: single-object 8-bit L-mode masks with values 0 / 255 — 255 is *the object* (id 1),
  not void. A sequence whose annotations are all grayscale with values in {0, 255} is read this way
  (``annotation="auto"``; force with ``annotation="binary"`` or ``"indexed"``).

Predictions are read the same way (P-mode indices; grayscale 0/255 → object 1; grayscale ids; RGB
images coloured with the DAVIS palette are mapped back to indices). A Sample is a whole sequence:
``VideoMasks(frames, masks (T, H, W) uint8, paths, num_objects)``, read in :meth:`DavisStyle.load`.

Examples
--------
>>> import tempfile
>>> root = DavisStyle.make_fake(tempfile.mkdtemp(), num_samples=2, seed=0, frames=4, height=24, width=40)
>>> ds = DavisStyle(root)
>>> ds.sample_ids()
['fake-000', 'fake-001']
>>> ds.load('fake-000').target.masks.shape
(4, 24, 40)
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
from PIL import Image

from ..errors import BadInputError, NotFoundError, UsageError
from ..io.labels import refuse_non_png, voc_palette
from ..types import Sample, VideoMasks, VideoPrediction
from .base import DatasetAdapter, DatasetSpec, ManifestFile, PredictionSource

__all__ = ["DavisStyle", "Davis2017", "DavisPredictions", "davis_palette", "read_mask_png", "read_sequence",
           "write_mask_png", "make_fake_predictions"]

_CITATION_2017 = ("@article{Pont-Tuset_arXiv_2017, title={The 2017 DAVIS Challenge on Video Object Segmentation}, "
                  "author={Pont-Tuset, Jordi and Perazzi, Federico and Caelles, Sergi and Arbel\\'aez, Pablo and "
                  "Sorkine-Hornung, Alexander and Van Gool, Luc}, journal={arXiv:1704.00675}, year={2017}}")


# ----------------------------------------------------------------------------- PNG I/O
def davis_palette() -> np.ndarray:
    """The DAVIS (= PASCAL VOC) palette, ``(256, 3)`` uint8: :func:`segbench.io.labels.voc_palette`.

    >>> davis_palette()[:3].tolist()
    [[0, 0, 0], [128, 0, 0], [0, 128, 0]]
    """
    return voc_palette()


_COLOR_TO_INDEX = None


def _rgb_to_index(rgb: np.ndarray, path) -> np.ndarray:
    global _COLOR_TO_INDEX
    if _COLOR_TO_INDEX is None:
        pal = davis_palette().astype(np.int64)
        codes = (pal[:, 0] << 16) | (pal[:, 1] << 8) | pal[:, 2]
        lut = {}
        for i, c in enumerate(codes.tolist()):
            lut.setdefault(c, i)
        _COLOR_TO_INDEX = lut
    a = rgb[..., :3].astype(np.int64)
    code = (a[..., 0] << 16) | (a[..., 1] << 8) | a[..., 2]
    uniq, inv = np.unique(code, return_inverse=True)
    out = np.empty(len(uniq), dtype=np.uint8)
    for k, c in enumerate(uniq.tolist()):
        if c not in _COLOR_TO_INDEX:
            rgbv = ((c >> 16) & 255, (c >> 8) & 255, c & 255)
            raise BadInputError(f"expected an indexed PNG or colours of the DAVIS palette, found colour {rgbv}; "
                                "save masks as P-mode PNGs with object ids", path=path)
        out[k] = _COLOR_TO_INDEX[c]
    return out[inv.reshape(code.shape)]


def frame_pngs(folder) -> list:
    """The ``*.png`` frames of a sequence folder, sorted; hidden files (macOS ``._x.png``) are skipped like
    the official code's ``glob``."""
    return sorted(p for p in Path(folder).glob("*.png") if not p.name.startswith("."))


def read_mask_png(path, with_mode: bool = False):
    """Read a mask PNG as integer ids ``(H, W)`` (no 2016 conversion; see :func:`read_sequence`).

    P mode → palette indices; L / I / I;16 → values; 1 → 0/1; RGB(A) → DAVIS palette index.
    """
    try:
        with Image.open(path) as im:
            mode = im.mode
            refuse_non_png(im, path)
            if mode in ("RGB", "RGBA"):
                arr = _rgb_to_index(np.asarray(im), path)
            elif mode in ("LA", "PA"):
                arr = np.asarray(im)[..., 0]
            else:
                arr = np.asarray(im)
    except FileNotFoundError:
        raise NotFoundError("expected a mask PNG here, found no file", path=path) from None
    except (OSError, ValueError) as e:
        raise BadInputError(f"expected a readable PNG mask, found an unreadable file ({e})", path=path) from None
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)
    if arr.ndim != 2:
        raise BadInputError(f"expected a single-channel mask, found shape {arr.shape}", path=path)
    if arr.dtype != np.uint8:
        if arr.min() < 0 or arr.max() > 255:
            raise BadInputError(f"expected object ids 0..255, found values {int(arr.min())}..{int(arr.max())}",
                                path=path)
        arr = arr.astype(np.uint8)
    return (arr, mode) if with_mode else arr


def _is_binary_2016(frames_modes) -> bool:
    """All frames grayscale (L / I) with values in {0, 255} (and not all background)."""
    any_obj = False
    for arr, mode in frames_modes:
        if mode not in ("L", "I", "I;16", "LA"):
            return False
        u = np.unique(arr)
        if not np.isin(u, (0, 255)).all():
            return False
        any_obj = any_obj or bool((u == 255).any())
    return any_obj


def read_sequence(paths, annotation: str = "auto", expected_shape: tuple | None = None) -> tuple:
    """Read the frames of one sequence as ids ``(T, H, W)`` uint8.

    Parameters
    ----------
    paths : list of path
    annotation : {"auto", "indexed", "binary"}
        ``binary``: DAVIS 2016 masks (non-zero = object 1); ``indexed``: DAVIS 2017 ids (255 void);
        ``auto``: binary when every frame is grayscale with values in {0, 255}.
    expected_shape : (H, W), optional
        The size every frame must have (predictions: the annotation's); without it frames must agree
        with each other, and a frame off the most common size is the one named.

    Returns
    -------
    (masks, kind) : (ndarray (T, H, W) uint8, "binary" | "indexed")
    """
    read = [read_mask_png(p, with_mode=True) for p in paths]
    if annotation not in ("auto", "indexed", "binary"):
        raise UsageError(f"annotation must be auto, indexed or binary, found {annotation!r}")
    kind = annotation
    if annotation == "auto":
        kind = "binary" if _is_binary_2016(read) else "indexed"
    shapes = [a.shape for a, _ in read]
    ref = tuple(expected_shape) if expected_shape else max(set(shapes), key=shapes.count, default=None)
    bad = next((i for i, sh in enumerate(shapes) if sh != ref), None)
    if bad is not None:
        why = "the annotation size" if expected_shape else "the size of most frames"
        raise BadInputError(f"expected every frame of the sequence to be {ref[1]}x{ref[0]} ({why}), found "
                            f"{shapes[bad][1]}x{shapes[bad][0]}", path=paths[bad])
    masks = np.stack([a for a, _ in read]) if read else np.zeros((0, 0, 0), np.uint8)
    if kind == "binary":
        masks = (masks > 0).astype(np.uint8)
    return masks, kind


def write_mask_png(path, ids: np.ndarray, mode: str = "P") -> None:
    """Write ids ``(H, W)`` as a P-mode PNG with the DAVIS palette (``mode="P"``) or grayscale ("L")."""
    from ..io.atomic import atomic_open
    ids = np.asarray(ids).astype(np.uint8)
    if mode == "P":
        im = Image.fromarray(ids, mode="P")
        im.putpalette(davis_palette().ravel().tolist())
    else:
        im = Image.fromarray(ids, mode="L")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "wb") as f:
        im.save(f, format="PNG")


# ----------------------------------------------------------------------------- predictions
def _scored(task: str, T: int) -> set:
    return set(range(1, T - 1)) if task == "semi-supervised" else set(range(T))


class DavisPredictions(PredictionSource):
    """``PREDDIR/<sequence>/<frame>.png`` for every annotated (scored) frame of each sequence.

    A frame the task does not score (semi-supervised: the first and the last) may be missing; a missing
    scored frame is an error naming the sequence and the frame, unless the run scores missing predictions
    as void (``--missing void``): then a missing frame (or a whole missing sequence) is an empty mask
    (every object absent).
    """

    def __init__(self, path, task: str = "semi-supervised", annotation: str = "auto"):
        self.path = str(path)
        self.task = task
        self.annotation = annotation
        p = Path(path)
        if not p.is_dir():
            raise NotFoundError("expected a prediction folder with one sub-folder per sequence, found none",
                                path=path)

    def _seq_dirs(self) -> list:
        return sorted(d for d in Path(self.path).iterdir() if d.is_dir() and frame_pngs(d))

    def available(self) -> set:
        return {d.name for d in self._seq_dirs()}

    def files(self) -> list:
        return [str(f) for d in self._seq_dirs() for f in frame_pngs(d)]

    def load(self, sample: Sample) -> VideoPrediction:
        seq = sample.sample_id
        frames = list(sample.target.frames)
        scored = _scored(self.task, len(frames))
        seq_dir = Path(self.path) / seq
        have, paths, empty = [], [], []
        for i, f in enumerate(frames):
            p = seq_dir / f"{f}.png"
            if i not in scored:   # not scored (semi-supervised first / last frame): not read
                continue
            if p.is_file():
                have.append(f)
                paths.append(str(p))
            elif self.missing == "void":
                empty.append(f)
            else:
                raise BadInputError(
                    f"expected a prediction for frame {f!r} of sequence {seq!r} ({self.task} scores frames "
                    f"{'1..T-2' if self.task == 'semi-supervised' else '0..T-1'}), found no file; write "
                    f"{seq}/{f}.png", path=p)
        gshape = sample.target.shape
        masks, _ = (read_sequence(paths, annotation="auto", expected_shape=tuple(gshape) if gshape else None)
                    if paths else (np.zeros((0, 0, 0), np.uint8), None))
        if empty:  # --missing void: the absent frames are empty masks (the metric pairs frames by name)
            h, w = gshape
            base = masks if have else np.zeros((0, h, w), np.uint8)
            masks = np.concatenate([base, np.zeros((len(empty), h, w), base.dtype)])
            have = have + empty
        return VideoPrediction(frames=have, masks=masks, paths=paths)

    def describe(self) -> dict:
        return dict(super().describe(), task=self.task)


# ----------------------------------------------------------------------------- adapters
class DavisStyle(DatasetAdapter):
    """Users' own DAVIS-layout folders (``ROOT/Annotations/480p/<seq>/<frame>.png``; ImageSets optional).

    Parameters
    ----------
    root : path
        Dataset root (``Annotations/<resolution>`` inside), or directly the folder of sequence folders.
    split : str, optional
        ``ImageSets/2017/<split>.txt`` when present; without ImageSets every sequence folder is used.
    task : {"semi-supervised", "unsupervised"}
    annotation : {"auto", "indexed", "binary"}
    resolution : str, default "480p"
    """

    #: Options this adapter reads (``--option KEY=VALUE``; others are reported).
    option_names: ClassVar[tuple] = ("annotation", "resolution", "task")
    spec: ClassVar[DatasetSpec] = DatasetSpec(
        name="davis-style", version="1", task="video", splits={}, default_split="val",
        default_metrics=("davis_jf",), license="(your data)", citation=_CITATION_2017,
        homepage="https://davischallenge.org", obtain="manual")
    require_imagesets: ClassVar[bool] = False

    def __init__(self, root, split: str | None = None, **options):
        self._split_given = split is not None
        super().__init__(root, split, **options)
        from ..metrics.video import normalize_task
        self.vos_task = normalize_task(options.get("task"))
        self.annotation = options.get("annotation", "auto")
        self.resolution = options.get("resolution", "480p")
        self._ids = None

    # ---- layout
    def base(self) -> Path:
        """The DAVIS folder: the root, or ``root/DAVIS`` when the root is where the archive was extracted."""
        root = self.require_root()
        if not (root / "Annotations").is_dir() and (root / "DAVIS" / "Annotations").is_dir():
            return root / "DAVIS"
        return root

    def annotations_dir(self) -> Path:
        root = self.base()
        names = (["Annotations_unsupervised"] if self.vos_task == "unsupervised" else []) + ["Annotations"]
        for n in names:
            for cand in (root / n / self.resolution, root / n):
                if cand.is_dir() and self._has_seq_dirs(cand):
                    return cand
        if not self.require_imagesets and self._has_seq_dirs(root):
            return root
        raise NotFoundError(f"expected Annotations/{self.resolution}/<sequence>/<frame>.png under the root, found no "
                            "sequence folders; pass --gt pointing at the DAVIS root", path=root)

    @staticmethod
    def _has_seq_dirs(p: Path) -> bool:
        try:
            return any(d.is_dir() and frame_pngs(d) for d in p.iterdir())
        except OSError:
            return False

    def _imageset_file(self) -> Path | None:
        root = self.base()
        years = ["2019", "2017", "2016"] if self.vos_task == "unsupervised" and self.split.startswith("test") \
            else ["2017", "2016"]
        for y in years:
            f = root / "ImageSets" / y / f"{self.split}.txt"
            if f.is_file():
                return f
        f = root / "ImageSets" / f"{self.split}.txt"
        return f if f.is_file() else None

    def sample_ids(self) -> list:
        if self._ids is not None:
            return list(self._ids)
        ann = self.annotations_dir()
        f = self._imageset_file()
        if f is not None:
            ids = []
            for line in f.read_text().splitlines():
                s = line.strip().split()
                if s and s[0] not in ids:
                    ids.append(s[0])
            missing = [s for s in ids if not (ann / s).is_dir()]
            if missing:
                raise NotFoundError(f"expected annotation folders for the {len(ids)} sequences of {f.name}, found "
                                    f"{len(missing)} missing (first: {', '.join(missing[:5])})", path=ann)
        elif self.require_imagesets or (self._split_given and self.split != self.spec.default_split):
            raise NotFoundError(f"expected ImageSets/2017/{self.split}.txt listing the {self.split!r} sequences, "
                                "found none; check --split", path=self.root)
        else:
            ids = sorted(d.name for d in ann.iterdir() if d.is_dir() and frame_pngs(d))
        self._ids = ids
        return list(ids)

    def label_space(self):
        return None

    def frame_paths(self, sample_id: str) -> list:
        d = self.annotations_dir() / sample_id
        paths = frame_pngs(d)
        if not paths:
            raise NotFoundError(f"expected annotated frames <frame>.png for sequence {sample_id!r}, found none",
                                path=d)
        return paths

    def load(self, sample_id: str) -> Sample:
        paths = self.frame_paths(sample_id)
        masks, kind = read_sequence(paths, self.annotation)
        from ..metrics.functional.video import num_gt_objects
        frames = [p.stem for p in paths]
        img_dir = self.base() / "JPEGImages" / self.resolution / sample_id
        return Sample(sample_id, str(img_dir) if img_dir.is_dir() else None,
                      VideoMasks(frames=frames, masks=masks, paths=[str(p) for p in paths],
                                 num_objects=num_gt_objects(masks[0]) if len(masks) else 0),
                      meta={"annotation": kind, "annotations_dir": str(paths[0].parent)})

    def predictions(self, path, **options) -> DavisPredictions:
        from ..metrics.video import normalize_task
        task = normalize_task(options.get("task", self.options.get("task")))
        return DavisPredictions(path, task=task)

    def metric_options(self, metric_name: str) -> dict:
        if metric_name in ("davis_jf",):
            return {"task": self.vos_task}
        return {}

    def describe(self) -> dict:
        d = super().describe()
        d["task_variant"] = self.vos_task
        return d

    # ---- fake twin
    @classmethod
    def make_fake(cls, root, num_samples: int = 4, seed: int = 0, **options) -> Path:
        """Write ``num_samples`` seeded sequences in the DAVIS layout under ``root``.

        Options: ``frames`` (default 6), ``height`` (48), ``width`` (85), ``objects`` (3), ``binary``
        (DAVIS 2016 grayscale 0/255 single-object masks), ``void`` (add a void band, default True for
        indexed masks), ``split`` ("val"), ``images`` (write JPEG frames, default True).
        """
        root = Path(root)
        rng = np.random.default_rng(seed)
        T = int(options.get("frames", 6))
        H = int(options.get("height", 48))
        W = int(options.get("width", 85))
        K = int(options.get("objects", 3))
        binary = bool(options.get("binary", False))
        split = options.get("split", "val")
        names = [f"fake-{i:03d}" for i in range(num_samples)]
        for name in names:
            seq = fake_sequence(rng, T, H, W, 1 if binary else K, void=options.get("void", not binary))
            for t in range(T):
                p = root / "Annotations" / "480p" / name / f"{t:05d}.png"
                if binary:
                    write_mask_png(p, np.where(seq[t] == 1, 255, 0), mode="L")
                else:
                    write_mask_png(p, seq[t], mode="P")
                if options.get("images", True):
                    ip = root / "JPEGImages" / "480p" / name / f"{t:05d}.jpg"
                    ip.parent.mkdir(parents=True, exist_ok=True)
                    img = (rng.random((H, W, 3)) * 255).astype(np.uint8)
                    Image.fromarray(img).save(ip, quality=80)
        sets = root / "ImageSets" / "2017"
        sets.mkdir(parents=True, exist_ok=True)
        (sets / f"{split}.txt").write_text("".join(f"{n}\n" for n in names))
        return root


def fake_sequence(rng, T: int, H: int, W: int, K: int, void: bool = True) -> np.ndarray:
    """Seeded ``(T, H, W)`` uint8 ids: K moving ellipses (later ids on top), optional void rims."""
    yy, xx = np.mgrid[0:H, 0:W]
    out = np.zeros((T, H, W), np.uint8)
    params = []
    for k in range(K):
        cy, cx = rng.uniform(0.2, 0.8) * H, rng.uniform(0.2, 0.8) * W
        ry, rx = rng.uniform(0.08, 0.25) * H, rng.uniform(0.08, 0.25) * W
        vy, vx = rng.uniform(-0.01, 0.01) * H, rng.uniform(-0.01, 0.01) * W
        params.append((cy, cx, ry, rx, vy, vx))
    for t in range(T):
        for k, (cy, cx, ry, rx, vy, vx) in enumerate(params):
            m = ((yy - (cy + vy * t)) / ry) ** 2 + ((xx - (cx + vx * t)) / rx) ** 2 <= 1
            out[t][m] = k + 1
            if void:
                rim = (((yy - (cy + vy * t)) / (ry + 1.5)) ** 2 + ((xx - (cx + vx * t)) / (rx + 1.5)) ** 2 <= 1) & ~m
                out[t][rim & (out[t] == 0)] = 255
    return out


def perturb_sequence(rng, gt: np.ndarray, K: int, drop: float = 0.1, extra: int = 0) -> np.ndarray:
    """A seeded imperfect prediction of ``gt``: shifted objects, some dropped frames, ``extra`` spurious ids."""
    T, H, W = gt.shape
    pred = np.zeros_like(gt)
    ids = np.where(gt == 255, 0, gt)
    for t in range(T):
        dy, dx = rng.integers(-3, 4, size=2)
        shifted = np.roll(np.roll(ids[t], dy, axis=0), dx, axis=1)
        for k in range(1, K + 1):
            if rng.random() < drop:
                continue
            pred[t][shifted == k] = k
        for e in range(extra):
            y, x = rng.integers(0, max(H - 8, 1)), rng.integers(0, max(W - 8, 1))
            pred[t, y:y + rng.integers(3, 9), x:x + rng.integers(3, 9)] = K + 1 + e
    return pred


def make_fake_predictions(root, out, seed: int = 0, task: str = "semi-supervised", extra: int = 0,
                          annotation: str = "auto") -> Path:
    """Write seeded predictions for every sequence of the DAVIS-layout ``root`` into ``out``."""
    rng = np.random.default_rng(seed)
    ds = DavisStyle(root, annotation=annotation, task=task)
    out = Path(out)
    for sid in ds.sample_ids():
        s = ds.load(sid)
        K = int(np.where(s.target.masks == 255, 0, s.target.masks).max()) if s.target.masks.size else 0
        pred = perturb_sequence(rng, s.target.masks, K, extra=extra if task == "unsupervised" else 0)
        if task == "unsupervised" and K > 1:  # permute ids: the matching has to find them
            perm = np.concatenate([[0], rng.permutation(np.arange(1, K + 1))])
            lut = np.arange(256, dtype=np.uint8)
            lut[:K + 1] = perm
            pred = lut[pred]
        for f, m in zip(s.target.frames, pred):
            write_mask_png(out / sid / f"{f}.png", m)
    return out


class Davis2017(DavisStyle):
    """DAVIS 2017 (semi-supervised: ``Annotations/480p``; unsupervised: ``Annotations_unsupervised/480p``),
    sequences from ``ImageSets/2017/<split>.txt`` (train 60, val 30, test-dev 30)."""

    spec: ClassVar[DatasetSpec] = DatasetSpec(
        name="davis2017", version="2017", task="video", splits={"train": 60, "val": 30, "test-dev": 30},
        default_split="val", default_metrics=("davis_jf",), license="BSD-3-Clause (annotations); images: see site",
        citation=_CITATION_2017, homepage="https://davischallenge.org/davis2017/code.html", obtain="url",
        files=(ManifestFile("DAVIS-2017-trainval-480p.zip",
                            url="https://data.vision.ee.ethz.ch/csergi/share/davis/DAVIS-2017-trainval-480p.zip",
                            extract=True),
               ManifestFile("DAVIS-2017-Unsupervised-trainval-480p.zip",
                            url="https://data.vision.ee.ethz.ch/csergi/share/davis/"
                                "DAVIS-2017-Unsupervised-trainval-480p.zip", extract=True)),
        size="about 800 MB per archive; extracts to DAVIS/ (pass --gt .../DAVIS)")
    require_imagesets: ClassVar[bool] = True

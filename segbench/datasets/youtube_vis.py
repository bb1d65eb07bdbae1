"""YouTube-VIS (2019 / 2021; also OVIS, same JSON) video instance segmentation.

Ground truth: one JSON (``valid.json`` / ``train.json`` for 2019, ``<split>/instances.json`` for 2021)::

    {"videos": [{"id", "width", "height", "length", "file_names": [...]}],
     "annotations": [{"id", "video_id", "category_id", "iscrowd",
                      "segmentations": [RLE | polygons | null per frame], "areas": [...], "bboxes": [...]}],
     "categories": [{"id", "name", "supercategory"}]}

Results (``segbench eval RESULTS.json --dataset youtube-vis --gt GT.json``): a JSON list of
``{"video_id", "category_id", "score", "segmentations": [RLE | null per frame]}`` as the YouTube-VIS
CodaLab server takes (a ``{"annotations": [...]}`` wrapper is accepted too). A Sample is one video.

Examples
--------
>>> import tempfile
>>> gt = YouTubeVIS.make_fake(tempfile.mkdtemp(), num_samples=2, seed=0, frames=3, height=32, width=48)
>>> ds = YouTubeVIS(gt)
>>> ds.sample_ids(), ds.load(ds.sample_ids()[0]).target.length
(['1', '2'], 3)
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import ClassVar

import numpy as np

from ..errors import BadInputError, NotFoundError
from ..types import ClassSpec, LabelSpace, Sample, VideoInstancePrediction, VideoInstances
from .base import DatasetAdapter, DatasetSpec, PredictionSource

__all__ = ["YouTubeVIS", "YTVISResults", "make_fake_results"]

_CITATION = ("@inproceedings{yang2019video, title={Video Instance Segmentation}, author={Yang, Linjie and Fan, "
             "Yuchen and Xu, Ning}, booktitle={ICCV}, year={2019}}")


def _load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        raise NotFoundError("expected a YouTube-VIS JSON file, found none", path=path) from None
    except (OSError, ValueError) as e:
        raise BadInputError(f"expected valid JSON, found a file that does not parse ({e})", path=path) from None


class YTVISResults(PredictionSource):
    """A YouTube-VIS results JSON, indexed by video id (result ids = 1-based positions in the file)."""

    def __init__(self, path, known_videos=None):
        self.path = str(path)
        data = _load_json(path)
        if isinstance(data, dict):
            data = data.get("annotations", data.get("results"))
        if not isinstance(data, list):
            raise BadInputError("expected a JSON list of results {video_id, category_id, score, segmentations}, "
                                "found another structure", path=path)
        self.by_video: dict = {}
        for i, r in enumerate(data):
            if not isinstance(r, dict) or not {"video_id", "category_id", "score", "segmentations"} <= set(r):
                raise BadInputError(f"expected result {i} to have video_id, category_id, score and segmentations, "
                                    f"found {sorted(r) if isinstance(r, dict) else type(r).__name__}", path=path)
            self.by_video.setdefault(str(r["video_id"]), []).append((i + 1, r))
        if known_videos is not None:
            unknown = sorted(set(self.by_video) - {str(v) for v in known_videos})
            if unknown:
                raise BadInputError(f"expected results only for videos of the ground truth, found {len(unknown)} "
                                    f"unknown video id(s) (first: {', '.join(unknown[:5])}); check --gt and --split",
                                    path=path)

    def load(self, sample: Sample) -> VideoInstancePrediction:
        rows = self.by_video.get(str(sample.sample_id), [])
        return VideoInstancePrediction(detections=[r for _, r in rows], video_id=sample.target.video_id,
                                       ids=[i for i, _ in rows])

    def available(self):
        return None   # a video without results is valid (it only has misses)

    def files(self) -> list:
        return [self.path]


class YouTubeVIS(DatasetAdapter):
    """YouTube-VIS 2019 / 2021 ground-truth JSON.

    Parameters
    ----------
    root : path
        The GT JSON file, or a folder holding ``<split>.json``, ``<split>/instances.json``,
        ``annotations/<split>.json`` or ``instances_<split>.json``.
    split : str, default "valid"
    """

    #: Options this adapter reads (``--option KEY=VALUE``; others are reported).
    option_names: ClassVar[tuple] = ()
    spec: ClassVar[DatasetSpec] = DatasetSpec(
        name="youtube-vis", version="2021", task="video-instance", splits={"train": 2985, "valid": 421, "test": 453},
        default_split="valid", default_metrics=("ytvis_ap",), license="CC BY 4.0 (annotations); videos: YouTube terms",
        citation=_CITATION, homepage="https://youtube-vos.org/dataset/vis/", obtain="login")

    def __init__(self, root, split=None, **options):
        super().__init__(root, split, **options)
        self._data = None

    def json_path(self) -> Path:
        root = self.require_root()
        if root.is_file():
            return root
        for cand in (root / f"{self.split}.json", root / self.split / "instances.json",
                     root / "annotations" / f"{self.split}.json", root / f"instances_{self.split}.json"):
            if cand.is_file():
                return cand
        raise NotFoundError(f"expected {self.split}.json or {self.split}/instances.json under the root, found "
                            "neither; pass --gt pointing at the GT JSON", path=root)

    def _index(self) -> dict:
        if self._data is None:
            p = self.json_path()
            d = _load_json(p)
            for k in ("videos", "annotations", "categories"):
                if k not in d:
                    raise BadInputError(f"expected a YouTube-VIS GT JSON with 'videos', 'annotations' and "
                                        f"'categories', found no {k!r}", path=p)
            anns: dict = {}
            for a in d["annotations"]:
                anns.setdefault(str(a["video_id"]), []).append(a)
            self._data = {"videos": {str(v["id"]): v for v in d["videos"]}, "anns": anns,
                          "categories": d["categories"], "path": str(p)}
        return self._data

    def __getstate__(self):
        st = dict(self.__dict__)
        st["_data"] = None
        return st

    def label_space(self) -> LabelSpace:
        cats = sorted(self._index()["categories"], key=lambda c: c["id"])
        return LabelSpace([ClassSpec(c["name"], int(c["id"]), i, c.get("supercategory", ""), True)
                           for i, c in enumerate(cats)], name="youtube-vis")

    def sample_ids(self) -> list:
        vids = self._index()["videos"]
        def key(v):
            try:
                return (0, float(v), "")
            except ValueError:
                return (1, 0.0, v)
        return sorted(vids, key=key)

    def load(self, sample_id: str) -> Sample:
        idx = self._index()
        v = idx["videos"].get(str(sample_id))
        if v is None:
            raise NotFoundError(f"expected video {sample_id!r} in the GT JSON, found none", path=idx["path"])
        length = int(v.get("length", len(v.get("file_names", []))))
        return Sample(str(sample_id), v.get("file_names"),
                      VideoInstances(height=int(v["height"]), width=int(v["width"]),
                                     annotations=idx["anns"].get(str(sample_id), []), image_id=v["id"],
                                     video_id=v["id"], length=length),
                      meta={"gt_json": idx["path"]})

    def predictions(self, path, **options) -> YTVISResults:
        return YTVISResults(path, known_videos=self._index()["videos"].keys())

    @classmethod
    def make_fake(cls, root, num_samples: int = 4, seed: int = 0, **options) -> Path:
        """Write ``root/valid.json`` with ``num_samples`` seeded videos of moving-ellipse tracks (RLE per
        frame, some frames absent, one crowd track); options ``frames`` (5), ``height`` (64), ``width``
        (96), ``categories`` (3), ``tracks`` (max per video, 4)."""
        from pycocotools import mask as mask_utils
        rng = np.random.default_rng(seed)
        T = int(options.get("frames", 5))
        H = int(options.get("height", 64))
        W = int(options.get("width", 96))
        C = int(options.get("categories", 3))
        NT = int(options.get("tracks", 4))
        yy, xx = np.mgrid[0:H, 0:W]
        videos, anns = [], []
        aid = 1
        for v in range(1, num_samples + 1):
            videos.append({"id": v, "width": W, "height": H, "length": T,
                           "file_names": [f"fake{v:03d}/{t:05d}.jpg" for t in range(T)]})
            for _ in range(int(rng.integers(1, NT + 1))):
                cy, cx = rng.uniform(0.2, 0.8) * H, rng.uniform(0.2, 0.8) * W
                ry, rx = rng.uniform(0.05, 0.3) * H, rng.uniform(0.05, 0.3) * W
                vy, vx = rng.uniform(-2, 2), rng.uniform(-2, 2)
                t0, t1 = sorted(rng.integers(0, T + 1, size=2))
                t1 = max(t1, t0 + 1)
                segs, areas, boxes = [], [], []
                for t in range(T):
                    if t0 <= t < t1:
                        m = ((yy - cy - vy * t) / ry) ** 2 + ((xx - cx - vx * t) / rx) ** 2 <= 1
                        rle = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
                        segs.append({"size": rle["size"], "counts": rle["counts"].decode()})
                        areas.append(float(m.sum()))
                        boxes.append([float(x) for x in mask_utils.toBbox(rle)])
                    else:
                        segs.append(None); areas.append(None); boxes.append(None)
                anns.append({"id": aid, "video_id": v, "category_id": int(rng.integers(1, C + 1)),
                             "iscrowd": int(rng.random() < 0.1), "length": 1, "segmentations": segs,
                             "areas": areas, "bboxes": boxes})
                aid += 1
        data = {"info": {"description": "segbench fake youtube-vis"}, "licenses": [], "videos": videos,
                "annotations": anns,
                "categories": [{"id": c, "name": f"class{c}", "supercategory": "object"} for c in range(1, C + 1)]}
        root = Path(root)
        root.mkdir(parents=True, exist_ok=True)
        out = root / f"{options.get('split', 'valid')}.json"
        from ..io.atomic import atomic_write_json
        atomic_write_json(out, data)
        return out


def make_fake_results(gt_json, out, seed: int = 0, extra: int = 2) -> Path:
    """Seeded results for a YouTube-VIS GT JSON: jittered copies of the GT tracks (some dropped, some with
    the wrong category) plus ``extra`` spurious tracks per video, with random scores."""
    from pycocotools import mask as mask_utils
    rng = np.random.default_rng(seed)
    gt = _load_json(gt_json)
    vids = {v["id"]: v for v in gt["videos"]}
    cats = [c["id"] for c in gt["categories"]]
    res = []
    for a in gt["annotations"]:
        if rng.random() < 0.15:
            continue
        v = vids[a["video_id"]]
        segs = []
        dy, dx = rng.integers(-3, 4, size=2)
        for s in a["segmentations"]:
            if not s or rng.random() < 0.1:
                segs.append(None)
                continue
            with warnings.catch_warnings():   # pycocotools' decode warns under numpy 2 (copy keyword)
                warnings.simplefilter("ignore", DeprecationWarning)
                m = mask_utils.decode(s)
            m = np.roll(np.roll(m, dy, 0), dx, 1)
            r = mask_utils.encode(np.asfortranarray(m))
            segs.append({"size": r["size"], "counts": r["counts"].decode()})
        cat = a["category_id"] if rng.random() > 0.1 else int(rng.choice(cats))
        res.append({"video_id": a["video_id"], "category_id": cat, "score": round(float(rng.random()), 3),
                    "segmentations": segs})
    for v in gt["videos"]:
        H, W, T = v["height"], v["width"], v["length"]
        for _ in range(extra):
            segs = []
            y, x = rng.integers(0, H - 8), rng.integers(0, W - 8)
            for t in range(T):
                m = np.zeros((H, W), np.uint8)
                m[y:y + 8, x:x + 8] = 1
                r = mask_utils.encode(np.asfortranarray(m))
                segs.append({"size": r["size"], "counts": r["counts"].decode()} if rng.random() > 0.2 else None)
            res.append({"video_id": v["id"], "category_id": int(rng.choice(cats)),
                        "score": round(float(rng.random()), 3), "segmentations": segs})
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    from ..io.atomic import atomic_write_json
    atomic_write_json(out, res)
    return out

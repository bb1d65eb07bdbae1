"""COCO instances / results JSON: loading and validation with one-line errors.

No dataset knowledge lives here: :class:`CocoGT` reads an ``instances_*.json`` (or any COCO detection
format dict) and :func:`load_results` reads a COCO *results* JSON (a list of detections) against it.
Masks stay encoded (RLE or polygons); decoding, areas and IoUs use :mod:`pycocotools.mask`.

Results are normalised the way ``pycocotools.coco.COCO.loadRes`` does it, so evaluation numbers match
``COCOeval``:

* when the *first* result has a non-empty ``bbox``, every detection's ``area`` is ``w * h`` of its box
  (also for ``segm`` evaluation) and a detection without ``segmentation`` gets the box as a polygon;
* otherwise ``area`` is the mask area (set to ``None`` here and computed at evaluation with
  :func:`pycocotools.mask.area`) and ``bbox`` the mask's bounding box;
* ``iscrowd`` is 0 for every detection.

Examples
--------
>>> gt = CocoGT({"images": [{"id": 1, "height": 4, "width": 4}], "annotations": [],
...              "categories": [{"id": 3, "name": "cat"}]})
>>> res = load_results([{"image_id": 1, "category_id": 3, "score": 0.9, "bbox": [0, 0, 2, 2]}], gt, "bbox")
>>> res.by_image[1][0]["area"]
4
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from ..errors import BadInputError, NotFoundError
from .values import integral_id

__all__ = ["read_json", "CocoGT", "CocoResults", "load_results", "check_segmentation", "IOU_TYPES"]

IOU_TYPES = ("segm", "bbox")


def read_json(path, what: str = "JSON file"):
    """Parse a JSON file; missing file → :class:`NotFoundError`, bad JSON → :class:`BadInputError`."""
    p = Path(path)
    if not p.exists():
        raise NotFoundError(f"{what} not found; check the path", path=str(p))
    if p.is_dir():
        raise BadInputError(f"expected a {what}, found a folder; pass the .json file", path=str(p))
    try:
        with open(p, "rb") as f:
            raw = f.read()
        loads = _fast_loads()
        if loads is not None:
            try:
                return loads(raw)
            except ValueError:
                pass  # fall through to the standard parser for its error message (and NaN literals)
        return json.loads(raw)
    except json.JSONDecodeError as e:
        raise BadInputError(f"expected valid JSON ({what}), found a syntax error at line {e.lineno} "
                            f"column {e.colno}: {e.msg}; fix or regenerate the file", path=str(p)) from None
    except UnicodeDecodeError:
        raise BadInputError(f"expected a UTF-8 JSON {what}, found binary data", path=str(p)) from None



def _fast_loads():
    """``orjson.loads`` when the optional ``orjson`` is installed (3-4x faster parsing of large results
    files; same values), unless ``SEGBENCH_NO_ORJSON`` is set; else None."""
    if os.environ.get("SEGBENCH_NO_ORJSON"):
        return None
    try:
        import orjson
    except ImportError:
        return None
    return orjson.loads


def _num(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _finite_box(b) -> bool:
    """``[x, y, w, h]`` of finite numbers (NaN / infinite boxes give IoUs no evaluator agrees on)."""
    if not (isinstance(b, list) and len(b) == 4):
        return False
    try:
        return all(_num(v) for v in b) and math.isfinite(b[0] + b[1] + b[2] + b[3])
    except OverflowError:  # integers beyond float range
        return False


#: Polygons are rasterised by pycocotools along their edges, 5 samples per pixel of edge length: beyond
#: this total length (far outside any image) it exhausts memory, so such polygons are refused.
MAX_POLYGON_LENGTH = 10_000_000


def _check_polygon_extent(seg: list, h: int, w: int, where: str, path) -> None:
    import numpy as np
    lo, hi = min(min(p) for p in seg), max(max(p) for p in seg)
    side = max(int(h), int(w), 1)
    if -side <= lo and hi <= 2 * side:
        return  # edges within a few image sizes: at most (points x 3 x side) long, like any real polygon
    length = sum(float(np.abs(np.diff(np.asarray(p + p[:2], np.float64).reshape(-1, 2), axis=0)).max(axis=1).sum())
                 for p in seg)
    if length > MAX_POLYGON_LENGTH:
        raise BadInputError(f"{where}: expected polygon coordinates near the {h}x{w} image, found edges "
                            f"{length:.3g} pixels long (coordinates {lo:.3g}..{hi:.3g}); pycocotools would "
                            f"rasterise every pixel of them, so fix or clip the polygon", path=path)


def check_segmentation(seg, h: int, w: int, where: str, path=None) -> None:
    """Validate one COCO ``segmentation`` (RLE dict or polygon list) against an image size.

    Raises :class:`BadInputError` naming ``where`` (e.g. ``"detection 5 (image_id 42)"``).
    """
    if isinstance(seg, dict):
        if "counts" not in seg or "size" not in seg:
            raise BadInputError(f"{where}: expected an RLE with 'counts' and 'size' or a polygon list, found a "
                                f"dict with keys {sorted(seg)[:5]}", path=path)
        size = seg["size"]
        if not (isinstance(size, (list, tuple)) and len(size) == 2 and all(_num(s) for s in size)):
            raise BadInputError(f"{where}: expected RLE 'size' [height, width], found {size!r}", path=path)
        if int(size[0]) != int(h) or int(size[1]) != int(w):
            raise BadInputError(f"{where}: RLE size [{size[0]}, {size[1]}] differs from the image size "
                                f"[{h}, {w}]; encode masks at the image's full resolution", path=path)
        c = seg["counts"]
        if isinstance(c, (str, bytes)):
            return
        if isinstance(c, list):
            if any(not _num(v) or v < 0 for v in c):
                raise BadInputError(f"{where}: expected uncompressed RLE counts to be non-negative integers",
                                    path=path)
            if sum(c) != int(h) * int(w):
                raise BadInputError(f"{where}: uncompressed RLE counts sum to {sum(c)}, expected "
                                    f"{int(h) * int(w)} (= height x width)", path=path)
            return
        raise BadInputError(f"{where}: expected RLE 'counts' as a string or a list of integers, found "
                            f"{type(c).__name__}", path=path)
    if isinstance(seg, list):
        if not seg:
            raise BadInputError(f"{where}: expected a polygon list [[x1, y1, x2, y2, ...], ...], found an empty "
                                f"list; drop the object or give its mask as RLE", path=path)
        for poly in seg:
            ok = isinstance(poly, list) and len(poly) >= 4 and not len(poly) % 2
            if ok:
                try:  # fast check that every coordinate is a finite number (str / None / lists raise)
                    total = sum(poly)
                    ok = isinstance(total, (int, float)) and not any(type(v) is bool for v in poly)
                    if ok and not math.isfinite(total):
                        raise BadInputError(f"{where}: expected finite polygon coordinates, found "
                                            f"{next((v for v in poly if not math.isfinite(v)), total)!r}",
                                            path=path)
                except (TypeError, OverflowError):
                    ok = False
            if not ok:
                raise BadInputError(f"{where}: expected each polygon as a flat list of an even number of x, y "
                                    f"coordinates (at least 2 points), found {str(poly)[:60]}", path=path)
        _check_polygon_extent(seg, h, w, where, path)
        return
    raise BadInputError(f"{where}: expected a segmentation that is an RLE dict {{'size', 'counts'}} or a list "
                        f"of polygons, found {type(seg).__name__}", path=path)


class CocoGT:
    """A COCO detection-format ground truth (``images``, ``annotations``, ``categories``).

    Parameters
    ----------
    source : path or dict
        ``instances_*.json`` or the parsed dict.
    validate : bool
        Check every annotation (segmentation form and size, bbox, ids) and raise one-line errors.

    Attributes
    ----------
    images : dict
        image id → image dict (``height``, ``width``, ``file_name``...).
    image_ids : list
        Image ids sorted as pycocotools sorts them (``np.unique``).
    categories : list of dict
        Sorted by id.
    cat_ids : list of int
    anns_by_image : dict
        image id → list of annotation dicts (file order).
    """

    def __init__(self, source, validate: bool = True):
        self.path = None
        if isinstance(source, (str, os.PathLike)):
            self.path = str(source)
            data = read_json(source, "COCO instances JSON")
        else:
            data = source
        if not isinstance(data, dict):
            raise BadInputError(f"expected a COCO instances JSON object with 'images', 'annotations' and "
                                f"'categories', found a JSON {type(data).__name__}"
                                + ("; this looks like a results file — pass it as predictions, and the "
                                   "instances JSON with --gt" if isinstance(data, list) else ""), path=self.path)
        for key in ("images", "categories"):
            if not isinstance(data.get(key), list):
                raise BadInputError(f"expected a list '{key}' in the COCO instances JSON, found "
                                    f"{type(data.get(key)).__name__}", path=self.path)
        anns = data.get("annotations", [])
        if not isinstance(anns, list):
            raise BadInputError("expected a list 'annotations' in the COCO instances JSON", path=self.path)
        self.images = {}
        for i, im in enumerate(data["images"]):
            if not isinstance(im, dict) or "id" not in im or "height" not in im or "width" not in im:
                raise BadInputError(f"images[{i}]: expected an object with 'id', 'height' and 'width'",
                                    path=self.path)
            self.images[im["id"]] = im
        seen_cat: dict = {}
        for i, c in enumerate(data["categories"]):
            if not isinstance(c, dict) or "id" not in c:
                raise BadInputError(f"categories[{i}]: expected an object with 'id' and 'name', found "
                                    f"{str(c)[:60]}", path=self.path)
            try:
                cid = integral_id(c["id"], bits64=True)
            except ValueError as e:
                raise BadInputError(f"categories[{i}]: expected an integer category id (64-bit), found "
                                    f"{c['id']!r} ({e})", path=self.path) from None
            if cid in seen_cat:
                raise BadInputError(f"categories[{i}]: category id {cid} is listed twice (also categories"
                                    f"[{seen_cat[cid]}]); keep one entry per id", path=self.path)
            seen_cat[cid] = i
        self.categories = sorted((c for c in data["categories"]), key=lambda c: c["id"])
        self.cat_ids = [c["id"] for c in self.categories]
        self.info = data.get("info", {})
        cat_set = set(self.cat_ids)
        self.anns_by_image: dict = {}
        ann_ids: dict = {}
        for i, a in enumerate(anns):
            if not isinstance(a, dict) or "image_id" not in a or "category_id" not in a:
                raise BadInputError(f"annotations[{i}]: expected an object with 'image_id' and 'category_id'",
                                    path=self.path)
            aid = a.get("id")
            if aid is not None:
                # pycocotools keys annotations by id: a repeated id makes it evaluate one annotation twice
                # (on the last one's image) and lose the other, so the numbers would be silently wrong
                first = ann_ids.setdefault(aid, i)
                if first != i:
                    raise BadInputError(f"annotations[{i}]: annotation id {aid!r} is used twice (also "
                                        f"annotations[{first}]); give every annotation its own id", path=self.path)
            iid = a["image_id"]
            im = self.images.get(iid)
            if im is None:
                raise BadInputError(f"annotations[{i}] (id {a.get('id')}): image_id {iid!r} is not in 'images'",
                                    path=self.path)
            if validate:
                if "segmentation" in a and a["segmentation"] is not None:
                    check_segmentation(a["segmentation"], im["height"], im["width"],
                                       f"annotations[{i}] (id {a.get('id')}, image_id {iid})", self.path)
                if "bbox" in a:
                    b = a["bbox"]
                    if not _finite_box(b):
                        raise BadInputError(f"annotations[{i}] (id {a.get('id')}): expected bbox [x, y, w, h] of "
                                            f"finite numbers, found {str(b)[:80]}", path=self.path)
                ar = a.get("area")
                if ar is not None and (not _num(ar) or ar != ar):
                    raise BadInputError(f"annotations[{i}] (id {a.get('id')}): expected a numeric 'area' (or none, "
                                        f"to use the mask's), found {ar!r}", path=self.path)
            if a["category_id"] not in cat_set:
                continue  # pycocotools ignores annotations of categories that are not listed
            self.anns_by_image.setdefault(iid, []).append(a)
        import numpy as np
        self.image_ids = list(np.unique(list(self.images))) if self.images else []
        self.image_ids = [_py(i) for i in self.image_ids]

    def require(self, key: str, iou_type: str) -> None:
        """Refuse, naming the file and the annotation, a GT annotation without ``key`` (``bbox`` for box
        evaluation, ``segmentation`` for mask evaluation), which pycocotools needs too (its KeyError)."""
        done = self.__dict__.setdefault("_required", set())
        if key in done:
            return
        for iid, anns in self.anns_by_image.items():
            for a in anns:
                if a.get(key) is None:
                    raise BadInputError(f"annotation id {a.get('id')} (image_id {iid}): {iou_type} evaluation "
                                        f"needs a '{key}' on every ground-truth annotation, found none"
                                        + ("; use --iou-type bbox" if key == "segmentation" else ""), path=self.path)
        done.add(key)

    def image_size(self, image_id) -> tuple:
        im = self.images[image_id]
        return int(im["height"]), int(im["width"])

    def label_space(self, name: str = "coco"):
        """A :class:`~segbench.types.LabelSpace` with one thing class per category (train id = rank)."""
        from ..types import ClassSpec, LabelSpace, distinct_names
        names = distinct_names([str(c.get("name", c["id"])) for c in self.categories], self.cat_ids)
        rows = [ClassSpec(names[k], int(c["id"]), k, str(c.get("supercategory", "")),
                          True, False, tuple(c.get("color", (0, 0, 0)))) for k, c in enumerate(self.categories)]
        return LabelSpace(rows, name=name)


def _py(x):
    """numpy scalar → Python scalar."""
    return x.item() if hasattr(x, "item") else x


class CocoResults:
    """Detections grouped by image (see :func:`load_results`).

    Attributes
    ----------
    by_image : dict
        image id → list of normalised detection dicts (file order).
    area_from_bbox : bool
        The pycocotools rule: the first result has a box, so areas are box areas.
    count : int
    """

    def __init__(self, by_image: dict, area_from_bbox: bool, count: int, path=None):
        self.by_image = by_image
        self.area_from_bbox = area_from_bbox
        self.count = count
        self.path = path


def load_results(source, gt: CocoGT, iou_type: str = "segm", unknown: str = "error",
                 validate: bool = True, lvis_max_dets: int | None = None) -> CocoResults:
    """Read and validate a COCO results JSON against ``gt``.

    Parameters
    ----------
    source : path or list
        The results file (a JSON list of ``{image_id, category_id, score, segmentation and/or bbox}``).
    gt : CocoGT
    iou_type : {'segm', 'bbox'}
    unknown : {'error', 'ignore'}
        Detections whose ``image_id`` or ``category_id`` is not in the ground truth: a one-line error
        (default; pycocotools asserts without saying why, or silently drops unknown categories), or drop
        them.
    validate : bool
        Check each segmentation's form and size (RLE size must equal the image size).
    lvis_max_dets : int, optional
        Read the box-or-mask area rule as ``lvis.LVISResults`` does: on the first result *after* each
        image's top-``lvis_max_dets`` cut (the first image's best-scoring result when it has more).

    Returns
    -------
    CocoResults
    """
    if iou_type not in IOU_TYPES:
        from ..errors import UsageError
        raise UsageError(f"--iou-type: expected one of {', '.join(IOU_TYPES)}, found {iou_type!r}")
    path = None
    if isinstance(source, (str, os.PathLike)):
        path = str(source)
        anns = read_json(source, "COCO results JSON")
    else:
        anns = source
    if not isinstance(anns, list):
        hint = ("; this looks like an instances (ground-truth) file, not results"
                if isinstance(anns, dict) and "annotations" in anns else "")
        raise BadInputError(f"expected COCO results as a JSON list of detection objects "
                            f"[{{image_id, category_id, score, segmentation|bbox}}, ...], found a JSON "
                            f"{type(anns).__name__}{hint}", path=path)
    images = gt.images
    cat_set = set(gt.cat_ids)
    # COCO.loadRes decides box vs mask areas on the first result; with unknown="ignore" that is the first
    # result kept (pycocotools itself only accepts the list without the unknown ones)
    first = next((d for d in anns if not isinstance(d, dict)
                  or (d.get("image_id") in images and d.get("category_id") in cat_set)), None)
    if lvis_max_dets is not None and isinstance(first, dict) and lvis_max_dets > 0:
        same = [d for d in anns if isinstance(d, dict) and d.get("image_id") == first["image_id"]
                and d.get("category_id") in cat_set]
        if len(same) > lvis_max_dets:
            try:  # stable: the earliest of the best scores, like sorted(..., reverse=True)[0]
                first = sorted(same, key=lambda d: d["score"], reverse=True)[0]
            except (KeyError, TypeError):
                pass  # a bad score: reported by the loop below
    area_from_bbox = isinstance(first, dict) and bool(first.get("bbox"))
    by_image: dict = {}
    bad_img = []
    bad_cat = []
    n = 0
    for i, d in enumerate(anns):
        if not isinstance(d, dict):
            raise BadInputError(f"detection {i}: expected an object, found {type(d).__name__}", path=path)
        try:
            iid = d["image_id"]
            cid = d["category_id"]
            s = d["score"]
        except KeyError as e:
            raise BadInputError(f"detection {i}: missing {e.args[0]!r} (every detection needs image_id, "
                                f"category_id and score)", path=path) from None
        if type(s) is not float or s != s:  # plain floats (+-inf included, ordered as pycocotools does) pass
            ok = _num(s) and s == s
            if ok and isinstance(s, int):
                try:
                    float(s)
                except OverflowError:  # an integer beyond float range
                    ok = False
            if not ok:
                raise BadInputError(f"detection {i} (image_id {iid}): expected a numeric 'score' (a number in float "
                                    f"range, not NaN), found {str(s)[:40]}", path=path)
        im = images.get(iid)
        if im is None:
            bad_img.append((i, iid))
            continue
        if cid not in cat_set:
            bad_cat.append((i, cid))
            continue
        box = d.get("bbox")
        if box is not None and box != []:
            if not (type(box) is list and len(box) == 4 and type(box[0]) is float and type(box[1]) is float
                    and type(box[2]) is float and type(box[3]) is float
                    and -math.inf < box[0] + box[1] + box[2] + box[3] < math.inf) and not _finite_box(box):
                raise BadInputError(f"detection {i} (image_id {iid}): expected bbox [x, y, w, h] of finite "
                                    f"numbers, found {str(box)[:80]}", path=path)
        else:
            box = None
            d.pop("bbox", None)  # null / [] is no box: derived from the mask where needed
        seg = d.get("segmentation")
        if iou_type == "segm":
            if seg is None:
                if box is None:
                    raise BadInputError(f"detection {i} (image_id {iid}): segm evaluation needs a "
                                        f"'segmentation' (RLE or polygons), found none; use --iou-type bbox "
                                        f"for box results", path=path)
            elif validate:
                # fast path: compressed RLE of the right size
                if not (type(seg) is dict and type(seg.get("counts")) is str and seg.get("size") is not None
                        and seg["size"] == [im["height"], im["width"]]):
                    check_segmentation(seg, im["height"], im["width"], f"detection {i} (image_id {iid})", path)
        elif box is None and seg is None:
            raise BadInputError(f"detection {i} (image_id {iid}): bbox evaluation needs a 'bbox' "
                                f"[x, y, w, h] (or a segmentation to derive it from), found neither", path=path)
        elif box is None and validate:
            check_segmentation(seg, im["height"], im["width"], f"detection {i} (image_id {iid})", path)
        # normalise like COCO.loadRes
        if area_from_bbox and box is not None:
            d["area"] = box[2] * box[3]
            if seg is None:
                x1, y1, x2, y2 = box[0], box[1], box[0] + box[2], box[1] + box[3]
                d["segmentation"] = [[x1, y1, x1, y2, x2, y2, x2, y1]]
        else:
            d["area"] = None  # computed from the mask at evaluation
        d["iscrowd"] = 0
        n += 1
        lst = by_image.get(iid)
        if lst is None:
            by_image[iid] = [d]
        else:
            lst.append(d)
    if bad_img and unknown == "error":
        i, iid = bad_img[0]
        raise BadInputError(f"{len(bad_img)} detection(s) are for images that are not in the ground truth "
                            f"(first: detection {i}, image_id {iid!r}); check that results and --gt belong "
                            f"to the same split", path=path)
    if bad_cat and unknown == "error":
        i, cid = bad_cat[0]
        raise BadInputError(f"{len(bad_cat)} detection(s) have a category_id that is not in the ground truth's "
                            f"categories (first: detection {i}, category_id {cid!r}); map your class indices "
                            f"to the dataset's category ids", path=path)
    return CocoResults(by_image, area_from_bbox, n, path)

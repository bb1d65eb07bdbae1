"""Format converters for panoptic segmentation (``segbench convert``).

* :func:`combine_semantic_instance` — semantic + instance predictions → panoptic, the heuristic of
  the panoptic paper (Kirillov et al. 2019, sec. 7) as in panopticapi's
  ``combine_semantic_and_instance_predictions.py``: instances with ``score >= confidence_thr`` in
  decreasing score order; an instance whose overlap with the pixels already taken is more than
  ``overlap_thr`` of its area is dropped, otherwise it takes its pixels not yet taken; then each stuff
  class of the semantic prediction takes its pixels still free if there are at least
  ``stuff_area_limit`` of them (thing classes of the semantic map are ignored).
* :func:`panoptic_to_semantic` — one label per pixel (category id or train id; void → 0 / 255).
* :func:`panoptic_to_detection` / :func:`detection_to_panoptic` — COCO panoptic ↔ COCO detection
  format (one annotation per segment, RLE masks via ``pycocotools.mask``), as panopticapi's
  ``panoptic2detection_coco_format.py`` / ``detection2panoptic_coco_format.py``.
* :func:`two_channel_to_panoptic_files` — the 2-channel PNG format → COCO panoptic.

Segment ids are deterministic (``1, 2, 3, ...`` in creation order) instead of panopticapi's random
colours, so converted files are reproducible; scores do not depend on ids.

Examples
--------
>>> import numpy as np
>>> from pycocotools import mask as M
>>> m = np.zeros((4, 4), np.uint8); m[:2, :2] = 1
>>> inst = [{"category_id": 1, "score": 0.9, "segmentation": M.encode(np.asfortranarray(m))}]
>>> sem = np.full((4, 4), 5)
>>> ids, segs = combine_semantic_instance(sem, inst, {1: {"isthing": 1}, 5: {"isthing": 0}}, stuff_area_limit=4)
>>> ids.tolist()[0], [(s["id"], s["category_id"]) for s in segs]
([1, 1, 2, 2], [(1, 1), (2, 5)])
"""

from __future__ import annotations

import json
import math
import os
from collections import defaultdict
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from .errors import BadInputError, NotFoundError, UsageError
from .io.panoptic import (load_panoptic_json, panoptic_categories, read_panoptic_png, read_two_channel_png,
                          segments_from_ids, two_channel_to_ids, validate_segments, write_panoptic_json,
                          write_panoptic_png)

__all__ = ["combine_semantic_instance", "panoptic_to_semantic", "panoptic_to_detection", "detection_to_panoptic",
           "combine_files", "panoptic_to_semantic_files", "panoptic_to_detection_file",
           "detection_to_panoptic_files", "two_channel_to_panoptic_files"]


def _mask():
    from pycocotools import mask as M
    return M


def _rle(seg, h: int | None = None, w: int | None = None):
    """A COCO segmentation (RLE with str/bytes counts, uncompressed RLE, polygons) → compressed RLE."""
    M = _mask()
    if isinstance(seg, list):
        if h is None:
            raise BadInputError("polygon segmentation needs the image height and width")
        return M.merge(M.frPyObjects(seg, h, w))
    if isinstance(seg, dict) and isinstance(seg.get("counts"), list):
        return M.frPyObjects(seg, *seg["size"])
    if isinstance(seg, dict) and isinstance(seg.get("counts"), str):
        return {"size": seg["size"], "counts": seg["counts"].encode("ascii")}
    if isinstance(seg, dict):
        return seg
    raise BadInputError(f"expected a COCO segmentation (RLE or polygons), found {type(seg).__name__}")


# --------------------------------------------------------------------------- input checks (one line each)
def _images_list(images, path) -> list:
    """``images`` entries with id, file_name, height and width; ids and PNG names unique."""
    if not isinstance(images, list):
        raise BadInputError(f"expected a list of images (id, file_name, height, width), found {type(images).__name__}",
                            path=path)
    seen, names = set(), {}
    for i, im in enumerate(images):
        if not isinstance(im, Mapping) or any(k not in im for k in ("id", "file_name", "height", "width")):
            raise BadInputError(f"images[{i}]: expected an object with id, file_name, height and width, found "
                                f"{str(im)[:80]}", path=path)
        try:
            h, w = int(im["height"]), int(im["width"])
            if h < 1 or w < 1:
                raise ValueError
        except (TypeError, ValueError):
            raise BadInputError(f"images[{i}]: expected positive integer height and width, found "
                                f"{im['height']!r} x {im['width']!r}", path=path) from None
        if im["id"] in seen:
            raise BadInputError(f"images[{i}]: image id {im['id']!r} appears twice; keep one", path=path)
        seen.add(im["id"])
        png = os.path.splitext(str(im["file_name"]))[0] + ".png"
        if png in names:
            raise BadInputError(f"images[{i}]: {im['file_name']!r} and images[{names[png]}] would both be written "
                                f"as {png}; give them distinct file names", path=path)
        names[png] = i
    return images


def _check_objects(objs, categories: Mapping, images_by_id: Mapping, path, what: str, scored: bool) -> None:
    """Instances / detections: objects with image_id, category_id in ``categories``, a segmentation of the
    image's size, and (``scored``) a finite score."""
    from .io.coco import check_segmentation
    if not isinstance(objs, list):
        raise BadInputError(f"expected a JSON list of {what}, found {type(objs).__name__}", path=path)
    for i, d in enumerate(objs):
        where = f"{what}[{i}]"
        if not isinstance(d, Mapping) or "image_id" not in d or "category_id" not in d:
            raise BadInputError(f"{where}: expected an object with image_id, category_id and segmentation, found "
                                f"{str(d)[:80]}", path=path)
        im = images_by_id.get(d["image_id"])
        if im is None:
            continue  # objects of images not converted are not read
        where = f"{where} (image_id {d['image_id']!r})"
        if d["category_id"] not in categories:
            raise BadInputError(f"{where}: category_id {d['category_id']!r} is not in the categories", path=path)
        if scored:
            sc = d.get("score")
            if isinstance(sc, bool) or not isinstance(sc, (int, float)) or not math.isfinite(float(sc)):
                raise BadInputError(f"{where}: expected a finite numeric 'score', found {str(sc)[:40]}", path=path)
        if d.get("segmentation") in (None, []):
            raise BadInputError(f"{where}: expected a 'segmentation' (RLE or polygons), found "
                                f"{d.get('segmentation')!r}", path=path)
        check_segmentation(d["segmentation"], int(im["height"]), int(im["width"]), where, path)


# --------------------------------------------------------------------------- semantic + instance -> panoptic
def combine_semantic_instance(semantic, instances: Sequence[Mapping], categories: Mapping[int, Mapping],
                              confidence_thr: float = 0.5, overlap_thr: float = 0.5,
                              stuff_area_limit: float = 64 * 64, shape: tuple | None = None
                              ) -> tuple[np.ndarray, list]:
    """Combine one image's semantic and instance predictions into a panoptic map.

    Parameters
    ----------
    semantic : ndarray (H, W) of category ids, or list of COCO stuff results
        Semantic prediction: a map of native category ids (values not in ``categories`` are ignored),
        or COCO-stuff-format records ``{category_id, segmentation}`` (panopticapi's input).
    instances : list of dict
        COCO detection results ``{category_id, score, segmentation (RLE)}``.
    categories : mapping
        ``category_id → {"isthing": 0/1, ...}``.
    confidence_thr, overlap_thr, stuff_area_limit : float
        panopticapi's defaults 0.5, 0.5, 64*64.
    shape : (H, W), optional
        Needed when ``semantic`` is a list and there is no instance to take it from.

    Returns
    -------
    ids : ndarray (H, W) uint32
        Segment ids 1, 2, ... (0 = void).
    segments_info : list of dict
        ``id, category_id, iscrowd (0), area, bbox``.
    """
    M = _mask()
    if isinstance(semantic, np.ndarray):
        h, w = semantic.shape
    elif shape is not None:
        h, w = shape
    else:
        sizes = [(_rle(s["segmentation"])["size"]) for s in list(semantic) + list(instances)]
        if not sizes:
            raise BadInputError("cannot tell the image size: no semantic map, no segment and no shape given")
        h, w = sizes[0]
    ids = np.zeros((h, w), np.uint32)
    cats: dict[int, int] = {}
    nxt = 1
    used = None
    inst = [d for d in instances if float(d.get("score", 1.0)) >= confidence_thr]
    inst = sorted(inst, key=lambda d: -float(d.get("score", 1.0)))  # stable: ties keep file order
    for d in inst:
        rle = _rle(d["segmentation"], h, w)
        area = float(M.area(rle))
        if area == 0:
            continue
        if used is None:
            inter = 0.0
            used = rle
        else:
            inter = float(M.area(M.merge([used, rle], intersect=True)))
        if inter / area > overlap_thr:
            continue
        used = M.merge([used, rle], intersect=False) if used is not rle else used
        m = M.decode(rle).astype(bool)
        if m.shape != (h, w):
            raise BadInputError(f"instance mask of size {m.shape} does not match the image size {(h, w)}")
        if inter != 0:
            m &= ids == 0
        ids[m] = nxt
        cats[nxt] = int(d["category_id"])
        nxt += 1
    if isinstance(semantic, np.ndarray):
        sem_items = [(int(c), semantic == c) for c in np.unique(semantic).tolist()]
    else:
        sem_items = [(int(s["category_id"]), M.decode(_rle(s["segmentation"], h, w)).astype(bool)) for s in semantic]
    for c, m in sem_items:
        info = categories.get(c)
        if info is None or int(info.get("isthing", 0)) == 1:
            continue
        left = m & (ids == 0)
        if left.sum() < stuff_area_limit:
            continue
        ids[left] = nxt
        cats[nxt] = c
        nxt += 1
    segs = segments_from_ids(ids, cats)
    order = {sid: k for k, sid in enumerate(cats)}
    segs.sort(key=lambda s: order[s["id"]])
    return ids, segs


def combine_files(semantic, instances_json, images_json, categories_json, out_json, out_folder=None,
                  confidence_thr: float = 0.5, overlap_thr: float = 0.5, stuff_area_limit: float = 64 * 64) -> Path:
    """File-level :func:`combine_semantic_instance`.

    ``semantic`` is a COCO stuff results JSON (list of ``{image_id, category_id, segmentation}``) or a
    folder of label PNGs of category ids named after the images (``<stem>.png``). ``images_json`` has
    ``images`` (``id, file_name, height, width``); ``categories_json`` is a list of categories (or a
    dict with ``categories``). Writes ``out_json`` and the PNGs in ``out_folder`` (default: beside it,
    named after its stem).
    """
    for name, v in (("--confidence-thr", confidence_thr), ("--overlap-thr", overlap_thr),
                    ("--stuff-area-limit", stuff_area_limit)):
        if not math.isfinite(float(v)):
            raise UsageError(f"{name}: expected a finite number, found {v}")
    categories = _categories(categories_json)
    images = _read_json(images_json)
    images = _images_list(images["images"] if isinstance(images, dict) else images, images_json)
    by_id = {im["id"]: im for im in images}
    inst = _read_json(instances_json)
    _check_objects(inst, categories, by_id, instances_json, "instances", scored=True)
    inst_by = defaultdict(list)
    for d in inst:
        inst_by[d["image_id"]].append(d)
    sem_by = None
    sem_folder = None
    if Path(semantic).is_dir():
        sem_folder = Path(semantic)
    else:
        sem = _read_json(semantic)
        _check_objects(sem, categories, by_id, semantic, "semantic", scored=False)
        sem_by = defaultdict(list)
        for d in sem:
            sem_by[d["image_id"]].append(d)
    out_json = Path(out_json)
    folder = Path(out_folder) if out_folder else out_json.with_suffix("")
    folder.mkdir(parents=True, exist_ok=True)
    anns = []
    for im in images:
        h, w = int(im["height"]), int(im["width"])
        stem = os.path.splitext(im["file_name"])[0]
        if sem_folder is not None:
            p = sem_folder / f"{stem}.png"
            if not p.exists():
                raise NotFoundError(f"image {im['id']!r}: expected a semantic label PNG {p.name}, found none", path=p)
            from .io.labels import open_image
            sem = np.asarray(open_image(p))
            if sem.ndim != 2:
                raise BadInputError(f"image {im['id']!r}: expected a single-channel label PNG of category ids, "
                                    f"found shape {sem.shape}", path=p)
            if sem.shape != (h, w):
                raise BadInputError(f"image {im['id']!r}: expected a {w}x{h} label PNG (the image size in "
                                    f"{Path(images_json).name}), found {sem.shape[1]}x{sem.shape[0]}", path=p)
        else:
            sem = sem_by.get(im["id"], [])
        ids, segs = combine_semantic_instance(sem, inst_by.get(im["id"], []), categories, confidence_thr,
                                              overlap_thr, stuff_area_limit, shape=(h, w))
        name = f"{stem}.png"
        write_panoptic_png(folder / name, ids)
        anns.append({"image_id": im["id"], "file_name": name, "segments_info": segs})
    write_panoptic_json(out_json, anns, list(categories.values()), images)
    return out_json


def _checked_png(js, a, folder, json_path) -> np.ndarray:
    """An annotation's PNG, checked against its segments_info and the image size (panopticapi's
    converters trust both, so a mismatch would be written out silently)."""
    png = folder / a["file_name"]
    ids = read_panoptic_png(png)
    validate_segments(a["segments_info"], js.categories, a["image_id"], path=png,
                      present_ids=np.unique(ids))
    im = js.images.get(a["image_id"]) if js.images else None
    if im is not None and "height" in im and "width" in im and ids.shape != (int(im["height"]), int(im["width"])):
        raise BadInputError(f"image {a['image_id']!r}: expected a {im['width']}x{im['height']} PNG (the image size "
                            f"in {Path(json_path).name}), found {ids.shape[1]}x{ids.shape[0]}", path=png)
    return ids


# --------------------------------------------------------------------------- panoptic -> semantic
def panoptic_to_semantic(ids: np.ndarray, segments: Sequence[Mapping], mapping: Mapping[int, int] | None = None,
                         void: int = 0, things_other: int | None = None, categories: Mapping | None = None,
                         dtype=np.uint8) -> np.ndarray:
    """Panoptic map → semantic label map (all segments of a class merged).

    Parameters
    ----------
    ids : ndarray (H, W)
    segments : list of dict
    mapping : dict, optional
        ``category_id → output value`` (e.g. train ids); default the category id itself
        (panopticapi's ``panoptic2semantic_segmentation.py``). Unmapped categories become ``void``.
    void : int
        Value of VOID pixels (panopticapi: 0; segbench train-id maps: 255).
    things_other : int, optional
        Put every thing segment in this one class (panopticapi ``--things_others``: 183).
    categories : mapping, optional
        ``category_id → {"isthing"}``; needed with ``things_other``.
    """
    ids = np.asarray(ids)
    out = np.full(ids.shape, void, dtype=dtype)
    for s in segments:
        c = int(s["category_id"])
        if things_other is not None and categories is not None and int(categories.get(c, {}).get("isthing", 0)) == 1:
            v = things_other
        else:
            v = mapping.get(c, void) if mapping is not None else c
        out[ids == int(s["id"])] = v
    return out


def panoptic_to_semantic_files(panoptic_json, out_folder, png_folder=None, train_ids: bool = False,
                               things_other: int | None = None) -> Path:
    """Write one label PNG per image (``<file_name>``): category ids with void 0, or with ``train_ids``
    the contiguous index of the category in ``categories`` with void 255."""
    from PIL import Image
    js = load_panoptic_json(panoptic_json)
    folder = Path(png_folder) if png_folder else js.folder_beside()
    out = Path(out_folder)
    out.mkdir(parents=True, exist_ok=True)
    mapping = {c: i for i, c in enumerate(js.categories)} if train_ids else None
    if train_ids and len(js.categories) > 255:
        raise UsageError(f"--train-ids: {len(js.categories)} categories need train ids above 254, which collide "
                         f"with void 255 in 8-bit PNGs; convert without --train-ids (category ids, 16-bit)")
    if things_other is not None:
        top = 65535 if max(js.categories, default=0) > 255 else 255
        if not 0 <= things_other <= top or things_other in js.categories or things_other == (255 if train_ids else 0):
            raise UsageError(f"--things-other: expected an id 0..{top} that is neither a category id nor void, "
                             f"found {things_other}")
    for a in js.annotations:
        ids = _checked_png(js, a, folder, panoptic_json)
        sem = panoptic_to_semantic(ids, a["segments_info"], mapping, 255 if train_ids else 0, things_other,
                                   js.categories, dtype=np.uint16 if not train_ids and max(js.categories, default=0) > 255
                                   else np.uint8)
        import io as _io
        buf = _io.BytesIO()
        Image.fromarray(sem).save(buf, format="PNG")
        from .io.atomic import atomic_write_bytes
        atomic_write_bytes(out / a["file_name"], buf.getvalue())
    return out


# --------------------------------------------------------------------------- panoptic <-> detection
def panoptic_to_detection(ids: np.ndarray, segments: Sequence[Mapping], image_id: Any,
                          categories: Mapping | None = None, things_only: bool = False, start_id: int = 0) -> list:
    """One image's segments as COCO detection annotations (RLE with str counts, area, bbox, iscrowd)."""
    M = _mask()
    ids = np.asarray(ids)
    out = []
    k = start_id
    for s in segments:
        c = int(s["category_id"])
        if things_only and categories is not None and int(categories.get(c, {}).get("isthing", 0)) != 1:
            continue
        m = np.asfortranarray((ids == int(s["id"])).astype(np.uint8))
        rle = M.encode(m)
        ann = {k2: v for k2, v in s.items() if k2 != "id"}
        ann.update({"id": k, "image_id": image_id, "category_id": c,
                    "segmentation": {"size": list(rle["size"]), "counts": rle["counts"].decode("ascii")},
                    "area": int(M.area(rle)), "bbox": [float(x) for x in M.toBbox(rle)],
                    "iscrowd": int(s.get("iscrowd", 0))})
        out.append(ann)
        k += 1
    return out


def panoptic_to_detection_file(panoptic_json, out_json, png_folder=None, things_only: bool = False) -> Path:
    """COCO panoptic (JSON + PNGs) → COCO detection JSON (images, annotations, categories)."""
    from .io.atomic import atomic_write_json
    js = load_panoptic_json(panoptic_json)
    folder = Path(png_folder) if png_folder else js.folder_beside()
    anns = []
    for a in js.annotations:
        ids = _checked_png(js, a, folder, panoptic_json)
        anns.extend(panoptic_to_detection(ids, a["segments_info"], a["image_id"], js.categories, things_only,
                                          start_id=len(anns) + 1))
    cats = [{k: v for k, v in c.items() if k not in ("isthing", "color")} for c in js.categories.values()
            if not things_only or int(c.get("isthing", 0)) == 1]
    images = list(js.images.values()) or [{"id": a["image_id"], "file_name": a["file_name"]} for a in js.annotations]
    atomic_write_json(out_json, {"images": images, "annotations": anns, "categories": cats}, indent=None)
    return Path(out_json)


def detection_to_panoptic(annotations: Sequence[Mapping], height: int, width: int, image: Any = None
                          ) -> tuple[np.ndarray, list]:
    """One image's COCO detection annotations → panoptic map (segments must not overlap).

    Segment ids are the annotations' ``id`` when they fit 24 bits and are unique, else 1, 2, ....
    """
    M = _mask()
    ids = np.zeros((height, width), np.uint32)
    seg_ids = [a.get("id") for a in annotations]
    keep_ids = all(isinstance(i, int) and 0 < i < (1 << 24) for i in seg_ids) and len(set(seg_ids)) == len(seg_ids)
    cats, crowd = {}, {}
    for k, a in enumerate(annotations):
        sid = int(a["id"]) if keep_ids else k + 1
        m = M.decode(_rle(a["segmentation"], height, width)).astype(bool)
        if m.shape != (height, width):
            raise BadInputError(f"image {image!r}: annotation {a.get('id')} has a mask of size {m.shape}, "
                                f"expected {(height, width)}")
        if (ids[m] != 0).any():
            raise BadInputError(f"image {image!r}: annotation {a.get('id')} overlaps another segment; panoptic "
                                f"segments cannot overlap (resolve overlaps first, e.g. with segbench convert "
                                f"to-panoptic)")
        ids[m] = sid
        cats[sid] = int(a["category_id"])
        crowd[sid] = int(a.get("iscrowd", 0))
    segs = segments_from_ids(ids, cats, crowd)
    order = {sid: k for k, sid in enumerate(cats)}
    segs.sort(key=lambda s: order[s["id"]])
    return ids, segs


def detection_to_panoptic_files(detection_json, out_json, out_folder=None, categories_json=None) -> Path:
    """COCO detection JSON (images, annotations, categories) → COCO panoptic JSON + PNGs."""
    d = _read_json(detection_json)
    if not isinstance(d, dict) or "images" not in d:
        raise BadInputError("expected a COCO detection JSON object with images, annotations and categories",
                            path=detection_json)
    cats = d.get("categories", [])
    if categories_json:
        cats = list(_categories(categories_json).values())
    cat_map = _categories_from(cats, categories_json or detection_json)
    images = _images_list(d["images"], detection_json)
    _check_objects(d.get("annotations", []), cat_map, {im["id"]: im for im in images}, detection_json,
                   "annotations", scored=False)
    by_img = defaultdict(list)
    for a in d.get("annotations", []):
        by_img[a["image_id"]].append(a)
    out_json = Path(out_json)
    folder = Path(out_folder) if out_folder else out_json.with_suffix("")
    folder.mkdir(parents=True, exist_ok=True)
    anns = []
    for im in d["images"]:
        try:
            ids, segs = detection_to_panoptic(by_img.get(im["id"], []), int(im["height"]), int(im["width"]),
                                              im["id"])
        except BadInputError as e:
            if e.path is not None:
                raise
            raise BadInputError(e.message, path=detection_json) from None
        name = os.path.splitext(im["file_name"])[0] + ".png"
        write_panoptic_png(folder / name, ids)
        anns.append({"image_id": im["id"], "file_name": name, "segments_info": segs})
    write_panoptic_json(out_json, anns, cats, d["images"])
    return out_json


def two_channel_to_panoptic_files(source_folder, images_json, categories_json, out_json, out_folder=None,
                                  void: int = 0) -> Path:
    """2-channel PNGs (category, instance) → COCO panoptic JSON + PNGs (panopticapi
    ``2channels2panoptic_coco_format.py``; segment id ``category * 1000 + instance``)."""
    images = _read_json(images_json)
    images = images["images"] if isinstance(images, dict) else images
    cr = _read_json(categories_json)
    cats = cr["categories"] if isinstance(cr, dict) else cr
    categories = {int(c["id"]): c for c in cats}
    out_json = Path(out_json)
    folder = Path(out_folder) if out_folder else out_json.with_suffix("")
    folder.mkdir(parents=True, exist_ok=True)
    anns = []
    for im in images:
        name = os.path.splitext(im["file_name"])[0] + ".png"
        c, i = read_two_channel_png(Path(source_folder) / name)
        unknown = sorted(set(np.unique(c).tolist()) - set(categories) - {void})
        if unknown:
            raise BadInputError(f"image {im['id']!r}: category id {unknown[0]} is not in the categories",
                                path=Path(source_folder) / name)
        ids, segs = two_channel_to_ids(c, i, categories, void_categories=(void,))
        write_panoptic_png(folder / name, ids)
        anns.append({"image_id": im["id"], "file_name": name, "segments_info": segs})
    write_panoptic_json(out_json, anns, cats, images)
    return out_json


def _categories_from(cats, path) -> dict:
    if not isinstance(cats, list):
        raise BadInputError(f"expected a list of categories (id, name, isthing), found {type(cats).__name__}",
                            path=path)
    return panoptic_categories(cats, path)


def _categories(path) -> dict:
    raw = _read_json(path)
    return _categories_from(raw["categories"] if isinstance(raw, dict) and "categories" in raw else raw, path)


def _read_json(path):
    try:
        with open(path, "rb") as f:
            return json.loads(f.read())
    except FileNotFoundError:
        raise NotFoundError("expected a JSON file, found no such file", path=path) from None
    except ValueError as e:
        raise BadInputError(f"expected valid JSON, found a parse error ({e})", path=path) from None


# --------------------------------------------------------------------------- CLI (`segbench convert`)
def add_parser(sub) -> None:
    """Register ``segbench convert {to-panoptic, panoptic-to-semantic, panoptic-to-detection,
    detection-to-panoptic, 2ch-to-panoptic}``."""
    p = sub.add_parser("convert", help="convert panoptic / semantic / instance / detection formats")
    cs = p.add_subparsers(dest="conversion", metavar="CONVERSION")
    a = cs.add_parser("to-panoptic", help="semantic + instance predictions -> COCO panoptic (panoptic paper heuristic)")
    a.add_argument("--semantic", required=True, help="COCO stuff results JSON, or a folder of category-id label PNGs")
    a.add_argument("--instances", required=True, help="COCO detection results JSON (segm, with scores)")
    a.add_argument("--images", required=True, help="JSON with 'images' (id, file_name, height, width)")
    a.add_argument("--categories", required=True, help="panoptic categories JSON (id, isthing, ...)")
    a.add_argument("--out", required=True, help="output panoptic JSON (PNG folder beside it, named after its stem)")
    a.add_argument("--out-folder", help="output PNG folder (default: beside --out)")
    a.add_argument("--confidence-thr", type=float, default=0.5)
    a.add_argument("--overlap-thr", type=float, default=0.5)
    a.add_argument("--stuff-area-limit", type=float, default=64 * 64)
    b = cs.add_parser("panoptic-to-semantic", help="COCO panoptic -> label PNGs")
    b.add_argument("panoptic", help="panoptic JSON")
    b.add_argument("--folder", help="its PNG folder (default: beside it)")
    b.add_argument("--out", required=True, help="output folder of label PNGs")
    b.add_argument("--train-ids", action="store_true", help="contiguous train ids (categories order), void 255")
    b.add_argument("--things-other", type=int, help="merge all thing classes into this id (panopticapi: 183)")
    c = cs.add_parser("panoptic-to-detection", help="COCO panoptic -> COCO detection JSON (RLE)")
    c.add_argument("panoptic", help="panoptic JSON")
    c.add_argument("--folder", help="its PNG folder (default: beside it)")
    c.add_argument("--out", required=True, help="output detection JSON")
    c.add_argument("--things-only", action="store_true")
    d = cs.add_parser("detection-to-panoptic", help="COCO detection JSON (non-overlapping) -> COCO panoptic")
    d.add_argument("detection", help="COCO detection JSON with images, annotations, categories")
    d.add_argument("--out", required=True, help="output panoptic JSON")
    d.add_argument("--out-folder", help="output PNG folder (default: beside --out)")
    d.add_argument("--categories", help="panoptic categories JSON (adds isthing / color)")
    e = cs.add_parser("2ch-to-panoptic", help="2-channel (category, instance) PNGs -> COCO panoptic")
    e.add_argument("source", help="folder of 2-channel PNGs")
    e.add_argument("--images", required=True)
    e.add_argument("--categories", required=True)
    e.add_argument("--out", required=True)
    e.add_argument("--out-folder")
    e.add_argument("--void", type=int, default=0, help="category value meaning void (default 0)")
    p.set_defaults(func=cmd_convert)


def cmd_convert(args) -> int:
    from rich.console import Console
    k = getattr(args, "conversion", None)
    if k == "to-panoptic":
        out = combine_files(args.semantic, args.instances, args.images, args.categories, args.out, args.out_folder,
                            args.confidence_thr, args.overlap_thr, args.stuff_area_limit)
    elif k == "panoptic-to-semantic":
        out = panoptic_to_semantic_files(args.panoptic, args.out, args.folder, args.train_ids, args.things_other)
    elif k == "panoptic-to-detection":
        out = panoptic_to_detection_file(args.panoptic, args.out, args.folder, args.things_only)
    elif k == "detection-to-panoptic":
        out = detection_to_panoptic_files(args.detection, args.out, args.out_folder, args.categories)
    elif k == "2ch-to-panoptic":
        out = two_channel_to_panoptic_files(args.source, args.images, args.categories, args.out, args.out_folder,
                                            args.void)
    else:
        raise UsageError("segbench convert: expected a conversion (to-panoptic, panoptic-to-semantic, "
                         "panoptic-to-detection, detection-to-panoptic, 2ch-to-panoptic); see segbench convert -h")
    Console(highlight=False).print(f"wrote {out}")
    return 0

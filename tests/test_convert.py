"""Converters: panoptic <-> detection, panoptic -> semantic, 2-channel -> panoptic, semantic + instance ->
panoptic (vs panopticapi's combine script), and the `segbench convert` CLI."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as M

from segbench.convert import (combine_semantic_instance, detection_to_panoptic, panoptic_to_detection,
                              panoptic_to_semantic)
from segbench.errors import BadInputError
from segbench.io.panoptic import load_panoptic_json, read_panoptic_png, read_two_channel_png, two_channel_to_ids

DATA = Path(__file__).resolve().parent / "data" / "panoptic"


def _real():
    js = load_panoptic_json(DATA / "panoptic_examples.json")
    out = []
    for a in js.annotations:
        out.append((a, read_panoptic_png(DATA / "panoptic_examples" / a["file_name"])))
    return js, out


def _partition(ids, segs):
    """{frozenset of pixel indices: (category, iscrowd)} — id-free description of a panoptic map."""
    out = {}
    flat = ids.ravel()
    for s in segs:
        out[tuple(np.flatnonzero(flat == s["id"]).tolist())] = (s["category_id"], s.get("iscrowd", 0))
    return out


def test_panoptic_detection_roundtrip_real():
    js, items = _real()
    for a, ids in items:
        dets = panoptic_to_detection(ids, a["segments_info"], a["image_id"], js.categories)
        assert len(dets) == len(a["segments_info"])
        for d, s in zip(dets, a["segments_info"]):
            assert d["area"] == s["area"] and d["category_id"] == s["category_id"] and d["iscrowd"] == s["iscrowd"]
            assert isinstance(d["segmentation"]["counts"], str)
            assert [round(x) for x in d["bbox"]] == s["bbox"]
        h, w = ids.shape
        back, segs = detection_to_panoptic(dets, h, w, a["image_id"])
        assert _partition(back, segs) == _partition(ids, a["segments_info"])
        assert ((back == 0) == (ids == 0)).all()


def test_panoptic_to_detection_matches_official_sample():
    js, items = _real()
    off = json.load(open(DATA / "panoptic_coco_detection_format.json"))
    for a, ids in items:
        mine = panoptic_to_detection(ids, a["segments_info"], a["image_id"], js.categories)
        theirs = [d for d in off["annotations"] if d["image_id"] == a["image_id"]]
        assert len(mine) == len(theirs)
        key = lambda d: (d["category_id"], d["area"])
        for m, t in zip(sorted(mine, key=key), sorted(theirs, key=key)):
            assert m["category_id"] == t["category_id"] and m["area"] == t["area"]
            tm = M.decode(M.frPyObjects(t["segmentation"], *t["segmentation"]["size"])
                          if isinstance(t["segmentation"]["counts"], list) else
                          {"size": t["segmentation"]["size"], "counts": t["segmentation"]["counts"].encode()})
            mm = M.decode({"size": m["segmentation"]["size"], "counts": m["segmentation"]["counts"].encode()})
            assert (tm == mm).all()


def test_things_only_and_overlap_error():
    js, items = _real()
    a, ids = items[0]
    dets = panoptic_to_detection(ids, a["segments_info"], a["image_id"], js.categories, things_only=True)
    assert dets and all(js.categories[d["category_id"]]["isthing"] == 1 for d in dets)
    both = dets + [dict(dets[0], id=999)]
    with pytest.raises(BadInputError, match="overlaps another segment"):
        detection_to_panoptic(both, *ids.shape, image=a["image_id"])


def test_panoptic_to_semantic_equals_two_channel_category():
    js, items = _real()
    for a, ids in items:
        sem = panoptic_to_semantic(ids, a["segments_info"])
        cat, _ = read_two_channel_png(DATA / "panoptic_examples_2ch_format" / a["file_name"])
        assert (sem == cat).all()
        lut = {c: i for i, c in enumerate(js.categories)}
        tr = panoptic_to_semantic(ids, a["segments_info"], lut, void=255)
        assert set(np.unique(tr[ids == 0]).tolist()) <= {255}
        assert tr[ids != 0].max() < len(js.categories)
        other = panoptic_to_semantic(ids, a["segments_info"], things_other=183, categories=js.categories)
        things = np.isin(ids, [s["id"] for s in a["segments_info"] if js.categories[s["category_id"]]["isthing"]])
        assert (other[things] == 183).all()


def test_two_channel_to_panoptic_real():
    js, items = _real()
    for a, ids in items:
        c, i = read_two_channel_png(DATA / "panoptic_examples_2ch_format" / a["file_name"])
        pan, segs = two_channel_to_ids(c, i, js.categories)
        want = {k: v[0] for k, v in _partition(ids, a["segments_info"]).items()}
        got = {k: v[0] for k, v in _partition(pan, segs).items()}
        assert got == want


def _combine_reference(img, insts, sems, categories, tmp_path, **kw):
    comb = pytest.importorskip("panopticapi.combine_semantic_and_instance_predictions")
    folder = tmp_path / "ref"
    folder.mkdir(exist_ok=True)
    with contextlib.redirect_stdout(io.StringIO()):
        out = comb.combine_to_panoptic_single_core(0, [img["id"]], {img["id"]: img}, {img["id"]: insts},
                                                   {img["id"]: sems}, str(folder), kw.get("overlap_thr", 0.5),
                                                   kw.get("stuff_area_limit", 64 * 64), categories)
    from PIL import Image
    a = np.array(Image.open(folder / out[0]["file_name"]), dtype=np.uint32)
    ids = a[..., 0] + 256 * a[..., 1] + 65536 * a[..., 2]
    return ids, out[0]["segments_info"]


@pytest.mark.parametrize("seed", [0, 1])
def test_combine_matches_panopticapi(tmp_path, seed):
    js, items = _real()
    rng = np.random.default_rng(seed)
    cats = js.categories
    for a, ids in items:
        h, w = ids.shape
        img = {"id": a["image_id"], "file_name": a["file_name"].replace(".png", ".jpg"), "height": h, "width": w}
        dets = panoptic_to_detection(ids, a["segments_info"], a["image_id"], cats)
        insts, sems = [], []
        for d in dets:
            if cats[d["category_id"]]["isthing"]:
                m = M.decode({"size": d["segmentation"]["size"], "counts": d["segmentation"]["counts"].encode()})
                for k in range(2):  # the instance and a shifted duplicate (overlaps, different score)
                    mm = np.roll(m, int(rng.integers(-15, 16)) * k, axis=1)
                    r = M.encode(np.asfortranarray(mm))
                    r["counts"] = r["counts"].decode()
                    insts.append({"image_id": a["image_id"], "category_id": d["category_id"],
                                  "score": float(rng.random()), "segmentation": r})
            else:
                sems.append({"image_id": a["image_id"], "category_id": d["category_id"],
                             "segmentation": d["segmentation"]})
        # a thing class in the semantic input is ignored by the heuristic
        sems.append({"image_id": a["image_id"], "category_id": 1, "segmentation": dets[0]["segmentation"]})
        insts = sorted([i for i in insts if i["score"] >= 0.5], key=lambda el: -el["score"])
        ref_sems = [x for x in sems if not cats[x["category_id"]]["isthing"]]  # as panopticapi's file-level code
        ref_ids, ref_segs = _combine_reference(img, copy.deepcopy(insts), copy.deepcopy(ref_sems), cats, tmp_path,
                                               stuff_area_limit=1000)
        mine, segs = combine_semantic_instance(sems, insts, cats, stuff_area_limit=1000, shape=(h, w))
        assert [s["category_id"] for s in segs] == [s["category_id"] for s in ref_segs]
        assert {k: v[0] for k, v in _partition(mine, segs).items()} == \
               {k: v[0] for k, v in _partition(ref_ids, ref_segs).items()}
        assert ((mine == 0) == (ref_ids == 0)).all()


def test_combine_with_semantic_map():
    inst_m = np.zeros((6, 6), np.uint8)
    inst_m[:3, :3] = 1
    r = M.encode(np.asfortranarray(inst_m))
    low = dict(category_id=1, score=0.3, segmentation=r)
    hi = dict(category_id=2, score=0.9, segmentation=r)
    sem = np.full((6, 6), 7)
    sem[5, 5] = 8
    cats = {1: {"isthing": 1}, 2: {"isthing": 1}, 7: {"isthing": 0}, 8: {"isthing": 0}}
    ids, segs = combine_semantic_instance(sem, [low, hi, dict(hi, score=0.8)], cats, stuff_area_limit=2)
    assert [(s["category_id"], s["area"]) for s in segs] == [(2, 9), (7, 26)]
    assert ids[5, 5] == 0  # stuff 8 below the area limit stays void


def test_cli_convert_roundtrip(tmp_path):
    from segbench.cli import main
    shutil.copy(DATA / "panoptic_examples.json", tmp_path / "pan.json")
    shutil.copytree(DATA / "panoptic_examples", tmp_path / "pan")
    assert main(["convert", "panoptic-to-detection", str(tmp_path / "pan.json"), "--out", str(tmp_path / "det.json")]) == 0
    assert main(["convert", "detection-to-panoptic", str(tmp_path / "det.json"), "--out", str(tmp_path / "back.json"),
                 "--categories", str(DATA / "panoptic_coco_categories.json")]) == 0
    a = load_panoptic_json(tmp_path / "pan.json")
    b = load_panoptic_json(tmp_path / "back.json")
    for x in a.annotations:
        y = b.by_image[x["image_id"]]
        p1 = _partition(read_panoptic_png(tmp_path / "pan" / x["file_name"]), x["segments_info"])
        p2 = _partition(read_panoptic_png(tmp_path / "back" / y["file_name"]), y["segments_info"])
        assert p1 == p2
    assert main(["convert", "panoptic-to-semantic", str(tmp_path / "pan.json"), "--out", str(tmp_path / "sem")]) == 0
    assert len(list((tmp_path / "sem").glob("*.png"))) == 2
    assert main(["convert", "2ch-to-panoptic", str(DATA / "panoptic_examples_2ch_format"), "--images",
                 str(DATA / "images_info_examples.json"), "--categories", str(DATA / "panoptic_coco_categories.json"),
                 "--out", str(tmp_path / "from2ch.json")]) == 0
    assert len(load_panoptic_json(tmp_path / "from2ch.json").annotations) == 2
    # semantic (stuff JSON) + instances -> panoptic, then evaluated against the GT: valid files
    det = json.load(open(tmp_path / "det.json"))
    cats = {c["id"]: c for c in json.load(open(DATA / "panoptic_coco_categories.json"))}
    inst = [dict(d, score=0.9) for d in det["annotations"] if cats[d["category_id"]]["isthing"] and not d["iscrowd"]]
    sem = [d for d in det["annotations"] if not cats[d["category_id"]]["isthing"]]
    json.dump(inst, open(tmp_path / "inst.json", "w"))
    json.dump(sem, open(tmp_path / "sem.json", "w"))
    assert main(["convert", "to-panoptic", "--semantic", str(tmp_path / "sem.json"), "--instances",
                 str(tmp_path / "inst.json"), "--images", str(DATA / "images_info_examples.json"), "--categories",
                 str(DATA / "panoptic_coco_categories.json"), "--out", str(tmp_path / "comb.json"),
                 "--stuff-area-limit", "0"]) == 0
    from segbench.datasets.coco_panoptic import CocoPanopticStyle
    from segbench.engine import evaluate_samples
    ds = CocoPanopticStyle(tmp_path / "pan.json")
    r = evaluate_samples(ds, ds.predictions(tmp_path / "comb.json"), ds.build_metrics(["pq"])).results["pq@1"]
    assert r.values["PQ"] > 0.99  # everything but the crowd regions is reproduced exactly
    assert main(["convert"]) == 2


def test_two_channel_writer_roundtrip(tmp_path):
    from segbench.io.panoptic import ids_to_two_channel, write_two_channel_png
    js, items = _real()
    things = [c for c in js.categories if js.categories[c]["isthing"]]
    for a, ids in items:
        two = ids_to_two_channel(ids, a["segments_info"], things)
        write_two_channel_png(tmp_path / a["file_name"], two)
        c, i = read_two_channel_png(tmp_path / a["file_name"])
        assert (c == two[..., 0]).all() and (i == two[..., 1]).all()
        pan, segs = two_channel_to_ids(c, i, js.categories)
        # crowd and non-crowd instances of one class stay distinct segments; categories are kept
        want = {k: v[0] for k, v in _partition(ids, a["segments_info"]).items()}
        assert {k: v[0] for k, v in _partition(pan, segs).items()} == want


def test_combine_files_with_semantic_png_folder(tmp_path):
    from PIL import Image
    from segbench.convert import combine_files
    js, items = _real()
    (tmp_path / "sem").mkdir()
    inst = []
    for a, ids in items:
        sem = panoptic_to_semantic(ids, a["segments_info"])
        Image.fromarray(sem.astype(np.uint8)).save(tmp_path / "sem" / a["file_name"])
        for d in panoptic_to_detection(ids, a["segments_info"], a["image_id"], js.categories, things_only=True):
            if not d["iscrowd"]:
                inst.append(dict(d, score=0.8))
    json.dump(inst, open(tmp_path / "inst.json", "w"))
    out = combine_files(tmp_path / "sem", tmp_path / "inst.json", DATA / "images_info_examples.json",
                        DATA / "panoptic_coco_categories.json", tmp_path / "pan.json", stuff_area_limit=0)
    got = load_panoptic_json(out)
    for a, ids in items:
        b = got.by_image[a["image_id"]]
        mine = read_panoptic_png(tmp_path / "pan" / b["file_name"])
        want = {k: v[0] for k, v in _partition(ids, a["segments_info"]).items() if not v[1]}
        have = {k: v[0] for k, v in _partition(mine, b["segments_info"]).items()}
        assert want.items() <= have.items()  # every non-crowd segment is reproduced exactly
    with pytest.raises(Exception, match="semantic label PNG"):
        (tmp_path / "sem" / items[0][0]["file_name"]).unlink()
        combine_files(tmp_path / "sem", tmp_path / "inst.json", DATA / "images_info_examples.json",
                      DATA / "panoptic_coco_categories.json", tmp_path / "pan2.json")


def test_convert_bad_inputs_are_one_line_errors(tmp_path, capsys):
    from segbench.cli import main
    shutil.copy(DATA / "panoptic_examples.json", tmp_path / "pan.json")
    shutil.copytree(DATA / "panoptic_examples", tmp_path / "pan")
    assert main(["convert", "panoptic-to-detection", str(tmp_path / "pan.json"), "--out", str(tmp_path / "det.json")]) == 0
    det = json.load(open(tmp_path / "det.json"))
    cats_path = DATA / "panoptic_coco_categories.json"
    cats = {c["id"]: c for c in json.load(open(cats_path))}
    inst = [dict(d, score=0.9) for d in det["annotations"] if cats[d["category_id"]]["isthing"] and not d["iscrowd"]]
    sem = [d for d in det["annotations"] if not cats[d["category_id"]]["isthing"]]
    images = str(DATA / "images_info_examples.json")

    def combine(inst_list, *extra):
        k = len(list(tmp_path.glob("inst*.json")))
        json.dump(inst_list, open(tmp_path / f"inst{k}.json", "w"))
        json.dump(sem, open(tmp_path / "sem.json", "w"))
        return ["convert", "to-panoptic", "--semantic", str(tmp_path / "sem.json"), "--instances",
                str(tmp_path / f"inst{k}.json"), "--images", images, "--categories", str(cats_path),
                "--out", str(tmp_path / "comb.json"), *extra]

    pan = json.load(open(tmp_path / "pan.json"))
    seg0 = pan["annotations"][0]["segments_info"][0]

    def pan_with(edit):
        k = len(list(tmp_path.glob("bad*.json")))
        d = copy.deepcopy(pan)
        edit(d)
        json.dump(d, open(tmp_path / f"bad{k}.json", "w"))
        shutil.copytree(tmp_path / "pan", tmp_path / f"bad{k}", dirs_exist_ok=True)
        return str(tmp_path / f"bad{k}.json")

    cases = [
        (combine([dict(inst[0], score=float("nan"))] + inst[1:]), ("inst", "instances[0]", "finite numeric 'score'")),
        (combine([dict(inst[0], category_id=9999)] + inst[1:]), ("inst", "category_id 9999")),
        (combine([{k: v for k, v in inst[0].items() if k != "segmentation"}] + inst[1:]), ("inst", "'segmentation'")),
        (combine(inst, "--confidence-thr", "nan"), ("--confidence-thr", "finite")),
        (["convert", "panoptic-to-semantic", pan_with(lambda d: d["annotations"][0]["segments_info"].pop(0)),
          "--out", str(tmp_path / "s1")], ("bad", f"segment {seg0['id']} is in the PNG but not in the JSON")),
        (["convert", "panoptic-to-detection",
          pan_with(lambda d: d["annotations"][0]["segments_info"][0].update(category_id=9999)),
          "--out", str(tmp_path / "d1.json")], ("bad", "category_id 9999")),
        (["convert", "panoptic-to-semantic", str(tmp_path / "pan.json"), "--out", str(tmp_path / "s2"),
          "--things-other", str(next(iter(cats)))], ("--things-other", "neither a category id nor void")),
    ]
    for argv, needles in cases:
        capsys.readouterr()
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
        for n in needles:
            assert n in err, (n, err)

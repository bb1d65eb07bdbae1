"""Bad input for COCO instances / results files: one-line errors that name the file, index and image."""

from __future__ import annotations

import json

import pytest

from segbench.cli import main
from segbench.errors import BadInputError, NotFoundError
from segbench.io.coco import CocoGT, load_results

GT = {"images": [{"id": 7, "height": 20, "width": 30}, {"id": 8, "height": 10, "width": 10}],
      "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}],
      "annotations": [{"id": 1, "image_id": 7, "category_id": 1, "bbox": [1, 1, 5, 5], "area": 25, "iscrowd": 0,
                       "segmentation": [[1, 1, 6, 1, 6, 6, 1, 6]]}]}


def _rle(h, w):
    return {"size": [h, w], "counts": "0" + ""}  # syntactically an RLE; size is what is checked


def gt():
    return CocoGT(json.loads(json.dumps(GT)))


def test_results_not_a_list():
    with pytest.raises(BadInputError, match="expected COCO results as a JSON list"):
        load_results({"annotations": []}, gt())
    with pytest.raises(BadInputError, match="instances"):
        load_results({"annotations": []}, gt())


def test_missing_score():
    with pytest.raises(BadInputError, match=r"detection 1: missing 'score'"):
        load_results([{"image_id": 7, "category_id": 1, "score": 0.5, "bbox": [0, 0, 1, 1]},
                      {"image_id": 7, "category_id": 1, "bbox": [0, 0, 1, 1]}], gt(), "bbox")


def test_non_numeric_score():
    with pytest.raises(BadInputError, match=r"detection 0 \(image_id 7\): expected a numeric 'score'"):
        load_results([{"image_id": 7, "category_id": 1, "score": "high", "bbox": [0, 0, 1, 1]}], gt(), "bbox")


@pytest.mark.parametrize("seg", [42, "abc", {"foo": 1}, [], [[1, 2, "x", 4, 5, 6]]])
def test_segmentation_neither_rle_nor_polygon(seg):
    with pytest.raises(BadInputError, match=r"detection 0 \(image_id 7\)"):
        load_results([{"image_id": 7, "category_id": 1, "score": 0.5, "segmentation": seg}], gt(), "segm")


def test_rle_size_differs_from_image_names_index_and_image():
    dets = [{"image_id": 7, "category_id": 1, "score": 0.5, "segmentation": {"size": [20, 30], "counts": "PX"}},
            {"image_id": 8, "category_id": 2, "score": 0.5, "segmentation": {"size": [20, 30], "counts": "PX"}}]
    with pytest.raises(BadInputError, match=r"detection 1 \(image_id 8\): RLE size \[20, 30\] differs from the "
                                            r"image size \[10, 10\]"):
        load_results(dets, gt(), "segm")


def test_uncompressed_counts_must_cover_the_image():
    d = [{"image_id": 8, "category_id": 1, "score": 0.5, "segmentation": {"size": [10, 10], "counts": [5, 10]}}]
    with pytest.raises(BadInputError, match="sum to 15, expected 100"):
        load_results(d, gt(), "segm")


def test_detection_for_unknown_image_or_category():
    with pytest.raises(BadInputError, match=r"1 detection\(s\) are for images that are not in the ground truth "
                                            r"\(first: detection 0, image_id 99\)"):
        load_results([{"image_id": 99, "category_id": 1, "score": 0.5, "bbox": [0, 0, 1, 1]}], gt(), "bbox")
    with pytest.raises(BadInputError, match=r"category_id 5"):
        load_results([{"image_id": 7, "category_id": 5, "score": 0.5, "bbox": [0, 0, 1, 1]}], gt(), "bbox")
    r = load_results([{"image_id": 99, "category_id": 1, "score": 0.5, "bbox": [0, 0, 1, 1]}], gt(), "bbox",
                     unknown="ignore")
    assert r.count == 0


def test_segm_needs_segmentation_or_box_and_bbox_needs_box():
    with pytest.raises(BadInputError, match="segm evaluation needs a 'segmentation'"):
        load_results([{"image_id": 7, "category_id": 1, "score": 0.5}], gt(), "segm")
    with pytest.raises(BadInputError, match="bbox evaluation needs a 'bbox'"):
        load_results([{"image_id": 7, "category_id": 1, "score": 0.5}], gt(), "bbox")
    with pytest.raises(BadInputError, match=r"expected bbox \[x, y, w, h\]"):
        load_results([{"image_id": 7, "category_id": 1, "score": 0.5, "bbox": [1, 2]}], gt(), "bbox")


def test_load_results_normalises_like_loadres():
    res = load_results([{"image_id": 7, "category_id": 1, "score": 0.5, "bbox": [0, 0, 2, 3], "area": 999},
                        {"image_id": 7, "category_id": 1, "score": 0.4,
                         "segmentation": [[0, 0, 4, 0, 4, 4, 0, 4]], "bbox": [0, 0, 4, 4]}], gt(), "segm")
    d0, d1 = res.by_image[7]
    assert d0["area"] == 6 and d0["segmentation"] == [[0, 0, 0, 3, 2, 3, 2, 0]] and d0["iscrowd"] == 0
    assert d1["area"] == 16
    res = load_results([{"image_id": 7, "category_id": 1, "score": 0.5, "area": 5,
                         "segmentation": [[0, 0, 4, 0, 4, 4, 0, 4]]}], gt(), "segm")
    assert res.by_image[7][0]["area"] is None  # mask area computed at evaluation (loadRes' second branch)


def test_bad_gt_files(tmp_path):
    p = tmp_path / "gt.json"
    p.write_text("{not json")
    with pytest.raises(BadInputError, match="line 1 column 2"):
        CocoGT(p)
    p.write_text(json.dumps([1, 2]))
    with pytest.raises(BadInputError, match="results file"):
        CocoGT(p)
    bad = json.loads(json.dumps(GT))
    bad["annotations"][0]["image_id"] = 3
    with pytest.raises(BadInputError, match=r"annotations\[0\] \(id 1\): image_id 3 is not in 'images'"):
        CocoGT(bad)
    bad = json.loads(json.dumps(GT))
    bad["annotations"][0]["segmentation"] = {"size": [5, 5], "counts": "x"}
    with pytest.raises(BadInputError, match="differs from the image size"):
        CocoGT(bad)
    with pytest.raises(NotFoundError):
        CocoGT(tmp_path / "missing.json")


def test_cli_bad_results_exit_2(tmp_path, capsys):
    g = tmp_path / "gt.json"
    g.write_text(json.dumps(GT))
    r = tmp_path / "res.json"
    r.write_text(json.dumps({"oops": 1}))
    assert main(["eval", str(r), "--dataset", "coco-style", "--gt", str(g)]) == 2
    err = capsys.readouterr().err
    assert "expected COCO results as a JSON list" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    r.write_text(json.dumps([{"image_id": 8, "category_id": 1, "score": 0.3,
                              "segmentation": {"size": [20, 30], "counts": "PX"}}]))
    assert main(["eval", str(r), "--dataset", "coco-style", "--gt", str(g)]) == 2
    err = capsys.readouterr().err
    assert "detection 0 (image_id 8)" in err and "res.json" in err


def test_gt_without_segmentation_for_segm_is_a_clear_error():
    from segbench.metrics.functional.coco import evaluate_coco
    g = json.loads(json.dumps(GT))
    del g["annotations"][0]["segmentation"]
    dets = [{"image_id": 7, "category_id": 1, "score": 0.5, "bbox": [1, 1, 5, 5]}]
    with pytest.raises(BadInputError, match="image 7: .*'segmentation'.*--iou-type bbox"):
        evaluate_coco(g, dets, "segm")
    assert evaluate_coco(g, dets, "bbox")["AP"] == pytest.approx(1.0)


def _gt_with(**change):
    g = json.loads(json.dumps(GT))
    for k, f in change.items():
        f(g)
    return g


@pytest.mark.parametrize("mutate, needle", [
    (lambda g: g["categories"].append(7), r"categories\[2\]: expected an object with 'id' and 'name', found 7"),
    (lambda g: g["categories"][1].update(id="b"), r"categories\[1\]: expected an integer category id .*'b'"),
    (lambda g: g["categories"][1].update(id=1.5), r"categories\[1\]: expected an integer category id .*1\.5"),
    (lambda g: g["categories"][1].update(id=2 ** 64), r"does not fit in 64 bits"),
    (lambda g: g["categories"][1].update(id=1), r"categories\[1\]: category id 1 is listed twice"),
    (lambda g: g["annotations"].append(dict(g["annotations"][0], image_id=8)),
     r"annotations\[1\]: annotation id 1 is used twice \(also annotations\[0\]\)"),
    (lambda g: g["annotations"][0].update(bbox=[1, 1, float("nan"), 5]), r"bbox \[x, y, w, h\] of finite numbers"),
    (lambda g: g["annotations"][0].update(area=float("nan")), r"expected a numeric 'area'"),
    (lambda g: g["annotations"][0].update(segmentation=[[1, 1, 6, float("inf"), 6, 6]]),
     r"expected finite polygon coordinates, found inf"),
    (lambda g: g["annotations"][0].update(segmentation=[[1, 1, 1e12, 1, 6, 6]]),
     r"expected polygon coordinates near the 20x30 image, found edges 2e\+12 pixels long"),
])
def test_gt_values_no_evaluator_agrees_on_are_refused(mutate, needle):
    with pytest.raises(BadInputError, match=needle):
        CocoGT(_gt_with(m=mutate))


@pytest.mark.parametrize("det, needle", [
    ({"score": 10 ** 400}, "expected a numeric 'score'"),
    ({"score": float("nan")}, "expected a numeric 'score'"),
    ({"bbox": [1, 1, float("nan"), 2]}, r"expected bbox \[x, y, w, h\] of finite numbers"),
    ({"bbox": [1, 1, 10 ** 400, 2]}, r"expected bbox \[x, y, w, h\] of finite numbers"),
    ({"segmentation": [[0, 0, float("nan"), 1, 2, 2]]}, "expected finite polygon coordinates"),
    ({"segmentation": [[0, 0, -1e9, 1, 2, 2]]}, "expected polygon coordinates near the 20x30 image"),
])
def test_detection_values_no_evaluator_agrees_on_are_refused(det, needle):
    d = dict({"image_id": 7, "category_id": 1, "score": 0.5, "segmentation": [[1, 1, 6, 1, 6, 6]]}, **det)
    with pytest.raises(BadInputError, match=r"detection 0 \(image_id 7\): " + needle):
        load_results([d], gt(), "segm" if "bbox" not in det else "bbox")


def test_polygons_a_little_outside_the_image_are_scored(tmp_path):
    d = {"image_id": 7, "category_id": 1, "score": 0.5, "segmentation": [[-40, -40, 100, -40, 100, 70, -40, 70]]}
    assert load_results([d], gt(), "segm").count == 1


def test_gt_annotation_without_the_evaluated_field_names_file_and_annotation(tmp_path, capsys):
    for field, iou in (("bbox", "bbox"), ("segmentation", "segm")):
        g = _gt_with(m=lambda x: x["annotations"][0].pop(field))
        p = tmp_path / f"gt_{field}.json"
        p.write_text(json.dumps(g))
        r = tmp_path / "res.json"
        r.write_text(json.dumps([{"image_id": 7, "category_id": 1, "score": 0.5, "bbox": [1, 1, 5, 5]}]))
        assert main(["eval", str(r), "--dataset", "coco-style", "--gt", str(p), "--iou-type", iou]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
        assert f"gt_{field}.json: annotation id 1 (image_id 7): {iou} evaluation needs a '{field}'" in err

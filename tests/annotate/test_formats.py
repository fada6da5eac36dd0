import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from tfxai.annotate import Label, Video
from tfxai.annotate.formats import FORMATS, export_labels, frame_name, read_export
from tfxai.errors import TfxaiError

ITEMS = [
    (3, [Label((10.25, 20.5, 30, 40), 1, 0, "hand"), Label((0, 0, 12, 8), 0, 1, "detector", 0.8)]),
    (7, [Label((100, 50, 27.5, 45.75), 0, 0, "framediff")]),
    (9, []),  # a frame whose boxes were all deleted in review is not exported
]


@pytest.mark.parametrize("fmt", FORMATS)
def test_labels_round_trip_through_each_format(fmt, moving_video, tmp_path):
    with Video(moving_video[0]) as video:
        count = export_labels(ITEMS, ["person", "dog"], video, fmt, tmp_path / fmt)
    classes, boxes, images = read_export(tmp_path / fmt, fmt)
    assert count == 2 and classes == ["person", "dog"]
    assert sorted(boxes) == [frame_name(3) + ".jpg", frame_name(7) + ".jpg"]
    for frame, labels in ITEMS[:2]:
        got = boxes[frame_name(frame) + ".jpg"]
        assert [c for _, c in got] == [label.class_id for label in labels]
        np.testing.assert_allclose([b for b, _ in got], [label.box for label in labels], atol=0.01)
    assert (tmp_path / fmt / images.split("/")[-1] / (frame_name(7) + ".jpg")).is_file()


def test_exports_use_the_standard_conventions(moving_video, tmp_path):
    with Video(moving_video[0]) as video:
        for fmt in FORMATS:
            export_labels(ITEMS, ["person", "dog"], video, fmt, tmp_path / fmt)
    # YOLO: class, centre and size as fractions of the 128x96 image
    line = (tmp_path / "yolo" / "labels" / "frame_000007.txt").read_text().split()
    assert line == ["0", f"{113.75 / 128:.6f}", f"{72.875 / 96:.6f}", f"{27.5 / 128:.6f}", f"{45.75 / 96:.6f}"]
    # COCO: 1-based categories, bbox x, y, w, h
    coco = json.loads((tmp_path / "coco" / "annotations.json").read_text())
    assert coco["annotations"][0]["category_id"] == 2 and coco["annotations"][0]["bbox"] == [10.25, 20.5, 30, 40]
    # VOC: 1-based inclusive corners
    box = ET.parse(tmp_path / "voc" / "Annotations" / "frame_000007.xml").getroot().find("object/bndbox")
    assert [float(box.find(t).text) for t in ("xmin", "ymin", "xmax", "ymax")] == [101, 51, 127.5, 95.75]


def test_export_refuses_unknown_formats_and_existing_folders(moving_video, tmp_path):
    with Video(moving_video[0]) as video:
        with pytest.raises(TfxaiError, match="unknown export format"):
            export_labels(ITEMS, ["a", "b"], video, "kitti", tmp_path / "x")
        export_labels(ITEMS, ["a", "b"], video, "coco", tmp_path / "x")
        with pytest.raises(TfxaiError, match="already exists"):
            export_labels(ITEMS, ["a", "b"], video, "coco", tmp_path / "x")
        with pytest.raises(TfxaiError, match="no labelled frames"):
            export_labels(ITEMS[2:], ["a", "b"], video, "coco", tmp_path / "y")

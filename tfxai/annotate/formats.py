"""Export a label folder with its video frames as YOLO, COCO or Pascal VOC, and read those back.

- ``yolo``: ``images/*.jpg``, ``labels/*.txt`` (``class cx cy w h``, fractions of the image),
  ``classes.txt`` and ``data.yaml`` (Ultralytics; Label Studio's and CVAT's YOLO import).
- ``coco``: ``images/*.jpg`` and ``annotations.json`` (``bbox`` = x, y, w, h in pixels, category ids from 1).
- ``voc``: ``JPEGImages/*.jpg``, ``Annotations/*.xml`` and ``ImageSets/Main/default.txt`` (CVAT's Pascal VOC 1.1).

Every export is built in a staging folder and appears only when complete.
"""

import json
import os
import xml.etree.ElementTree as ET

import cv2

from tfxai.errors import TfxaiError
from tfxai.io import staged_directory, write_json, write_text

__all__ = ["FORMATS", "export_labels", "frame_name", "read_export"]

FORMATS = ("yolo", "coco", "voc")


def frame_name(index):
    return f"frame_{int(index):06d}"


def export_labels(items, classes, video, fmt, out, overwrite=False, quality=95):
    """Write ``items`` (``[(frame index, [Label])]``) and their frames from ``video`` in format ``fmt``.

    Returns the number of images written.
    """
    if fmt not in FORMATS:
        raise TfxaiError(f"unknown export format {fmt!r}: choose one of {list(FORMATS)}")
    items = [(frame, boxes) for frame, boxes in items if boxes]
    if not items:
        raise TfxaiError("no labelled frames to export: label or track some frames first")
    image_folder = "JPEGImages" if fmt == "voc" else "images"
    with staged_directory(out, overwrite=overwrite) as staging:
        os.makedirs(os.path.join(staging, image_folder))
        for frame, _ in items:
            path = os.path.join(staging, image_folder, frame_name(frame) + ".jpg")
            image = cv2.cvtColor(video.read(frame), cv2.COLOR_RGB2BGR)
            if not cv2.imwrite(path, image, [cv2.IMWRITE_JPEG_QUALITY, quality]):
                raise TfxaiError(f"could not write {path}: check the output folder")
        WRITERS[fmt](staging, items, list(classes), video.width, video.height)
    return len(items)


def _write_yolo(folder, items, classes, width, height):
    os.makedirs(os.path.join(folder, "labels"))
    for frame, boxes in items:
        lines = []
        for label in boxes:
            x, y, w, h = label.box
            lines.append(f"{label.class_id} {(x + w / 2) / width:.6f} {(y + h / 2) / height:.6f} {w / width:.6f} {h / height:.6f}")
        write_text(os.path.join(folder, "labels", frame_name(frame) + ".txt"), "\n".join(lines) + "\n")
    write_text(os.path.join(folder, "classes.txt"), "\n".join(classes) + "\n")
    names = "\n".join(f"  {i}: {json.dumps(name)}" for i, name in enumerate(classes))
    write_text(os.path.join(folder, "data.yaml"), f"path: .\ntrain: images\nval: images\nnames:\n{names}\n")


def _write_coco(folder, items, classes, width, height):
    images, annotations = [], []
    for image_id, (frame, boxes) in enumerate(items, start=1):
        images.append({"id": image_id, "file_name": frame_name(frame) + ".jpg", "width": width, "height": height})
        for label in boxes:
            x, y, w, h = label.box
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": label.class_id + 1,
                                "bbox": [x, y, w, h], "area": w * h, "iscrowd": 0,
                                "attributes": {"source": label.source, "track_id": label.track}})
    categories = [{"id": i + 1, "name": name, "supercategory": ""} for i, name in enumerate(classes)]
    write_json(os.path.join(folder, "annotations.json"),
               {"images": images, "annotations": annotations, "categories": categories})


def _write_voc(folder, items, classes, width, height):
    os.makedirs(os.path.join(folder, "Annotations"))
    os.makedirs(os.path.join(folder, "ImageSets", "Main"))
    for frame, boxes in items:
        root = ET.Element("annotation")
        ET.SubElement(root, "folder").text = "JPEGImages"
        ET.SubElement(root, "filename").text = frame_name(frame) + ".jpg"
        size = ET.SubElement(root, "size")
        for tag, value in (("width", width), ("height", height), ("depth", 3)):
            ET.SubElement(size, tag).text = str(value)
        ET.SubElement(root, "segmented").text = "0"
        for label in boxes:
            x, y, w, h = label.box
            node = ET.SubElement(root, "object")
            ET.SubElement(node, "name").text = classes[label.class_id]
            ET.SubElement(node, "pose").text = "Unspecified"
            ET.SubElement(node, "truncated").text = "0"
            ET.SubElement(node, "difficult").text = "0"
            box = ET.SubElement(node, "bndbox")
            # VOC corners are 1-based inclusive pixels
            for tag, value in (("xmin", x + 1), ("ymin", y + 1), ("xmax", x + w), ("ymax", y + h)):
                ET.SubElement(box, tag).text = f"{value:.2f}"
        ET.indent(root)
        write_text(os.path.join(folder, "Annotations", frame_name(frame) + ".xml"), ET.tostring(root, encoding="unicode") + "\n")
    write_text(os.path.join(folder, "ImageSets", "Main", "default.txt"), "\n".join(frame_name(f) for f, _ in items) + "\n")
    write_text(os.path.join(folder, "labelmap.txt"), "".join(f"{name}:::\n" for name in classes))


WRITERS = {"yolo": _write_yolo, "coco": _write_coco, "voc": _write_voc}


# === Reading exports back ===


def read_export(folder, fmt):
    """``(classes, {image file name: [(box (x, y, w, h) pixels, class id)]}, image folder)`` of an export."""
    if fmt not in FORMATS:
        raise TfxaiError(f"unknown export format {fmt!r}: choose one of {list(FORMATS)}")
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise TfxaiError(f"{folder} is not a folder: pass a folder written by 'tfxai annotate export'")
    try:
        return READERS[fmt](folder)
    except (OSError, ValueError, KeyError, IndexError, ET.ParseError) as error:
        raise TfxaiError(f"{folder} is not a readable {fmt} export ({error}): export it again") from None


def _read_yolo(folder):
    with open(os.path.join(folder, "classes.txt"), encoding="utf-8") as handle:
        classes = [line.strip() for line in handle if line.strip()]
    images = os.path.join(folder, "images")
    boxes = {}
    for name in sorted(os.listdir(images)):
        image = cv2.imread(os.path.join(images, name))
        height, width = image.shape[:2]
        stem = os.path.splitext(name)[0]
        entries = []
        with open(os.path.join(folder, "labels", stem + ".txt"), encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    c, cx, cy, w, h = line.split()
                    w, h = float(w) * width, float(h) * height
                    entries.append(((float(cx) * width - w / 2, float(cy) * height - h / 2, w, h), int(c)))
        boxes[name] = entries
    return classes, boxes, images


def _read_coco(folder):
    with open(os.path.join(folder, "annotations.json"), encoding="utf-8") as handle:
        data = json.load(handle)
    order = sorted(data["categories"], key=lambda c: c["id"])
    index = {c["id"]: i for i, c in enumerate(order)}
    names = {image["id"]: image["file_name"] for image in data["images"]}
    boxes = {name: [] for name in names.values()}
    for a in data["annotations"]:
        boxes[names[a["image_id"]]].append((tuple(float(v) for v in a["bbox"]), index[a["category_id"]]))
    return [c["name"] for c in order], boxes, os.path.join(folder, "images")


def _read_voc(folder):
    classes = []
    with open(os.path.join(folder, "labelmap.txt"), encoding="utf-8") as handle:
        classes = [line.split(":")[0] for line in handle if line.strip() and not line.startswith("#")]
    boxes = {}
    annotations = os.path.join(folder, "Annotations")
    for name in sorted(os.listdir(annotations)):
        root = ET.parse(os.path.join(annotations, name)).getroot()
        entries = []
        for node in root.iter("object"):
            box = node.find("bndbox")
            x0, y0, x1, y1 = (float(box.find(tag).text) for tag in ("xmin", "ymin", "xmax", "ymax"))
            entries.append(((x0 - 1, y0 - 1, x1 - x0 + 1, y1 - y0 + 1), classes.index(node.find("name").text)))
        boxes[root.find("filename").text] = entries
    return classes, boxes, os.path.join(folder, "JPEGImages")


READERS = {"yolo": _read_yolo, "coco": _read_coco, "voc": _read_voc}

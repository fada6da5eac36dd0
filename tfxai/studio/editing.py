"""The studio's reads and writes of label folders and attention-map folders, each safe against concurrent writers.

Labels go through :class:`tfxai.annotate.LabelStore` (one JSON file per frame,
written atomically). A write carries the *version* the client last read (a
hash of the frame file, ``""`` for no file): it is done only when the file
still has that version (compare-and-swap, under a per-file lock), otherwise
it is refused with 409 and the current labels, which the page re-reads before
applying its edit again. So two tabs, or a tab and ``tfxai annotate track``,
never silently overwrite each other's edit.
"""

import collections
import hashlib
import json
import math
import os
import threading

import cv2
import numpy as np

from tfxai.annotate import Label, LabelStore
from tfxai.annotate.labels import SOURCES
from tfxai.errors import TfxaiError
from tfxai.io import write_image
from tfxai.studio.workspace import RequestError

__all__ = ["FrameLabelsEditor", "MapsFolder", "file_version", "frame_summary"]

_LOCKS = collections.defaultdict(threading.Lock)
_LOCKS_GUARD = threading.Lock()


def _lock(path):
    with _LOCKS_GUARD:
        return _LOCKS[os.path.realpath(path)]


def file_version(path):
    """A short hash of the file's bytes, ``""`` when there is no file."""
    try:
        with open(path, "rb") as handle:
            return hashlib.sha1(handle.read()).hexdigest()[:16]
    except FileNotFoundError:
        return ""


class FrameLabelsEditor:
    """One label folder as the pages see it."""

    def __init__(self, folder):
        try:
            self.store = LabelStore.open(folder)
        except TfxaiError as error:
            raise RequestError(404, str(error)) from None

    def frame_count(self):
        return int(self.store.meta.get("frame_count") or 0)

    def read(self, frame):
        """``{"frame", "boxes", "reviewed", "version"}``."""
        path = self.store._path(frame)
        with _lock(path):
            version = file_version(path)
            try:
                record = self.store.get(frame)
            except TfxaiError as error:
                raise RequestError(409, str(error)) from None
        return {"frame": int(frame), "boxes": [label.to_json() for label in record.boxes], "reviewed": record.reviewed,
                "version": version}

    def write(self, frame, boxes, reviewed, version, size=None):
        """Write ``frame``'s labels when its file still has ``version``; 409 with the current labels otherwise."""
        labels = parse_boxes(boxes, len(self.store.classes), size)
        path = self.store._path(frame)
        with _lock(path):
            current = file_version(path)
            if version != current:
                raise RequestError(409, f"frame {frame} was changed by someone else: reload it and apply the edit again")
            self.store.put(frame, labels, reviewed=bool(reviewed))
            return {"frame": int(frame), "boxes": [label.to_json() for label in labels], "reviewed": bool(reviewed),
                    "version": file_version(path)}

    def summary(self):
        """Every labelled frame, with what review sorts on (see :func:`frame_summary`)."""
        records = {}
        for frame in self.store.frames():
            try:
                record = self.store.get(frame)
            except TfxaiError:
                records[frame] = None
                continue
            records[frame] = record
        return frame_summary(records)


def frame_summary(records):
    """``[{"frame", "boxes", "sources", "reviewed", "min_score", "jump", "broken"}]`` of ``{frame: FrameLabels|None}``.

    ``jump`` is the largest move of a track's box centre since the previous
    labelled frame, in units of the box's size (sqrt of its area): 1 means the
    box jumped its own size. ``broken`` frames have an unreadable file.
    """
    rows, previous = [], {}
    for frame in sorted(records):
        record = records[frame]
        if record is None:
            rows.append({"frame": frame, "boxes": 0, "sources": [], "reviewed": False, "min_score": None, "jump": 0.0,
                         "broken": True})
            continue
        jump, scores = 0.0, []
        for label in record.boxes:
            x, y, w, h = label.box
            centre = (x + w / 2, y + h / 2)
            if label.track in previous:
                (px, py), size = previous[label.track]
                jump = max(jump, math.hypot(centre[0] - px, centre[1] - py) / max(size, 1.0))
            previous[label.track] = (centre, math.sqrt(w * h))
            if label.score is not None:
                scores.append(float(label.score))
        rows.append({"frame": frame, "boxes": len(record.boxes), "sources": sorted({b.source for b in record.boxes}),
                     "reviewed": record.reviewed, "min_score": min(scores) if scores else None, "jump": round(jump, 3),
                     "broken": False})
    return rows


def parse_boxes(boxes, num_classes, size=None):
    """``[Label]`` from the JSON of a page; :class:`RequestError` 400 naming the first bad box."""
    if not isinstance(boxes, list):
        raise RequestError(400, "boxes must be a list of {box: [x, y, w, h], class, track, source, score}")
    labels = []
    for index, item in enumerate(boxes):
        if not isinstance(item, dict) or not isinstance(item.get("box"), list):
            raise RequestError(400, f"box {index} is not an object with box: [x, y, w, h]")
        if item.get("source", "hand") not in SOURCES:
            raise RequestError(400, f"box {index} has source {item.get('source')!r}: use one of {list(SOURCES)}")
        class_id = item.get("class", 0)
        if isinstance(class_id, bool) or not isinstance(class_id, int) or not 0 <= class_id < num_classes:
            raise RequestError(400, f"box {index} has class {class_id!r}: the folder has classes 0 to {num_classes - 1}")
        score = item.get("score")
        if score is not None and (isinstance(score, bool) or not isinstance(score, (int, float))):
            raise RequestError(400, f"box {index} has score {score!r}: a number or null")
        try:
            label = Label.from_json(item)
        except (TfxaiError, TypeError, ValueError) as error:
            raise RequestError(400, f"box {index}: {error}") from None
        if size is not None:
            width, height = size
            x, y, w, h = label.box
            if x < -1 or y < -1 or x + w > width + 1 or y + h > height + 1:
                raise RequestError(400, f"box {index} {list(label.box)} is outside the {width}x{height} frame")
        labels.append(label)
    return labels


class MapsFolder:
    """A folder written by ``tfxai attention export-maps``: images/, maps/, edited/, manifest.json.

    Read without :mod:`tfxai.attention` (which imports TensorFlow); the edited
    maps written here are what ``tfxai train abn --human-maps`` reads
    (``edited/<name>``, grayscale PNG, same size as ``maps/<name>``).
    """

    def __init__(self, folder):
        self.folder = folder
        try:
            with open(os.path.join(folder, "manifest.json"), encoding="utf-8") as handle:
                manifest = json.load(handle)
            self.entries = [dict(entry) for entry in manifest["entries"]]
            self.class_names = list(manifest.get("class_names", []))
            for entry in self.entries:
                if not isinstance(entry["name"], str) or "/" in entry["name"] or entry["name"].startswith("."):
                    raise ValueError(f"bad name {entry['name']!r}")
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise RequestError(409, f"manifest.json is not a valid attention-map manifest ({error})") from None
        self.names = {entry["name"] for entry in self.entries}

    def listing(self):
        rows = []
        for entry in self.entries:
            path = os.path.join(self.folder, "edited", entry["name"])
            rows.append({**entry, "has_edited": os.path.isfile(path), "version": file_version(path)})
        return {"class_names": self.class_names, "entries": rows}

    def _check(self, name):
        if name not in self.names:
            raise RequestError(404, f"no map {name!r} in manifest.json")

    def shape(self, name):
        self._check(name)
        image = cv2.imread(os.path.join(self.folder, "maps", name), cv2.IMREAD_GRAYSCALE)
        if image is None:
            raise RequestError(409, f"maps/{name} is missing or unreadable: export the maps again")
        return image.shape

    def write(self, name, data, version):
        """Write ``edited/<name>`` from raw grayscale bytes (height x width, row-major) when it still has ``version``."""
        height, width = self.shape(name)
        if len(data) != height * width:
            raise RequestError(400, f"map {name} needs {height}x{width} = {height * width} bytes, got {len(data)}")
        path = os.path.join(self.folder, "edited", name)
        with _lock(path):
            if version != file_version(path):
                raise RequestError(409, f"edited/{name} was changed by someone else: reload it")
            write_image(path, np.frombuffer(data, np.uint8).reshape(height, width))
            return {"name": name, "version": file_version(path)}

    def remove(self, name, version):
        """Delete ``edited/<name>`` (the image then trains without a human map)."""
        self._check(name)
        path = os.path.join(self.folder, "edited", name)
        with _lock(path):
            if version != file_version(path):
                raise RequestError(409, f"edited/{name} was changed by someone else: reload it")
            if os.path.isfile(path):
                os.remove(path)
        return {"name": name, "version": ""}

"""The label store: one small JSON file per frame, each written atomically, so nothing is lost on a crash.

Layout of a label folder::

    meta.json            {"format": "tfxai-annotate-labels", "version": 1, "classes": [...],
                          "video": ..., "width": ..., "height": ..., "frame_count": ...}
    frames/000123.json   {"frame": 123, "reviewed": false,
                          "boxes": [{"box": [x, y, w, h], "class": 0, "track": 0,
                                     "source": "hand", "score": null}]}

``box`` is in frame pixels (top-left corner, width, height). ``source`` says
why the box exists: ``hand`` (drawn by a person), ``detector`` (the detector
found it in the search region), ``framediff`` (moved toward the changed
pixels), ``held`` (frame difference undecided: the previous box kept),
``edited`` (a person moved or resized a machine box in review).
"""

import json
import os
from dataclasses import asdict, dataclass, field

from tfxai.annotate.boxes import check_box
from tfxai.errors import TfxaiError
from tfxai.io import write_json

__all__ = ["SOURCES", "Label", "LabelStore"]

SOURCES = ("hand", "detector", "framediff", "held", "edited")
FORMAT = "tfxai-annotate-labels"
META = "meta.json"


@dataclass
class Label:
    """One box on one frame."""

    box: tuple
    class_id: int = 0
    track: int = 0
    source: str = "hand"
    score: float = None

    def __post_init__(self):
        self.box = tuple(round(v, 2) for v in check_box(self.box))
        if self.source not in SOURCES:
            raise TfxaiError(f"unknown label source {self.source!r}: use one of {list(SOURCES)}")
        self.class_id = int(self.class_id)
        self.track = int(self.track)

    def to_json(self):
        record = asdict(self)
        record["box"] = list(self.box)
        record["class"] = record.pop("class_id")
        return record

    @classmethod
    def from_json(cls, record):
        return cls(box=record["box"], class_id=record.get("class", 0), track=record.get("track", 0),
                   source=record.get("source", "hand"), score=record.get("score"))

    def moved(self, box, source):
        """A copy at ``box`` with a new ``source`` (score dropped)."""
        return Label(box=box, class_id=self.class_id, track=self.track, source=source)


@dataclass
class FrameLabels:
    frame: int
    boxes: list = field(default_factory=list)
    reviewed: bool = False


class LabelStore:
    """A label folder (see the module docstring); create it or open an existing one.

    Parameters
    ----------
    folder : str
    classes : list of str, optional
        Class names; required when the folder is new, checked against the folder otherwise.
    video : Video, optional
        Recorded in ``meta.json`` for a new folder (path and size).
    """

    def __init__(self, folder, classes=None, video=None):
        self.folder = os.fspath(folder)
        self.meta_path = os.path.join(self.folder, META)
        if os.path.isfile(self.meta_path):
            self.meta = _read_json(self.meta_path, "label folder metadata")
            if self.meta.get("format") != FORMAT:
                raise TfxaiError(f"{self.meta_path} is not a tfxai label folder: choose another --labels/--out folder")
            if classes and list(classes) != list(self.meta["classes"]):
                raise TfxaiError(f"{self.folder} has classes {self.meta['classes']}, not {list(classes)}: "
                                 "pass the same classes or another folder")
        else:
            if os.path.exists(self.folder) and os.listdir(self.folder):
                raise TfxaiError(f"{self.folder} exists and is not a label folder (no {META}): choose an empty or new folder")
            self.meta = {"format": FORMAT, "version": 1, "classes": list(classes or ["object"])}
            if video is not None:
                self.meta.update(video=os.path.abspath(video.path), width=video.width, height=video.height,
                                 frame_count=video.frame_count)
            write_json(self.meta_path, self.meta)
        os.makedirs(os.path.join(self.folder, "frames"), exist_ok=True)

    @classmethod
    def open(cls, folder):
        """An existing label folder; :class:`TfxaiError` when ``folder`` is not one."""
        if not os.path.isfile(os.path.join(os.fspath(folder), META)):
            raise TfxaiError(f"{folder} is not a label folder (no {META}): pass a folder written by 'tfxai annotate label' or 'track'")
        return cls(folder)

    @property
    def classes(self):
        return list(self.meta["classes"])

    def _path(self, frame):
        return os.path.join(self.folder, "frames", f"{int(frame):06d}.json")

    def frames(self):
        """Sorted frame indices that have a label file (possibly with no boxes)."""
        names = os.listdir(os.path.join(self.folder, "frames"))
        return sorted(int(name[:-5]) for name in names if name.endswith(".json") and name[:-5].isdigit())

    def __contains__(self, frame):
        return os.path.isfile(self._path(frame))

    def get(self, frame):
        """The :class:`FrameLabels` of ``frame`` (empty when it has no file)."""
        path = self._path(frame)
        if not os.path.isfile(path):
            return FrameLabels(int(frame))
        record = _read_json(path, f"labels of frame {frame}")
        try:
            boxes = [Label.from_json(item) for item in record["boxes"]]
        except (KeyError, TypeError) as error:
            raise TfxaiError(f"{path} is malformed ({error}): delete it and label the frame again") from None
        return FrameLabels(int(frame), boxes, bool(record.get("reviewed", False)))

    def boxes(self, frame):
        return self.get(frame).boxes

    def put(self, frame, boxes, reviewed=False):
        """Write the labels of ``frame`` atomically (a crash leaves the old or the new file, never half)."""
        record = {"frame": int(frame), "reviewed": bool(reviewed), "boxes": [label.to_json() for label in boxes]}
        write_json(self._path(frame), record)

    def items(self, sources=None):
        """``(frame, [Label])`` for every labelled frame with boxes, keeping only ``sources`` when given."""
        for frame in self.frames():
            boxes = [b for b in self.boxes(frame) if sources is None or b.source in sources]
            if boxes:
                yield frame, boxes


def _read_json(path, what):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, json.JSONDecodeError) as error:
        raise TfxaiError(f"cannot read {what} {path} ({error}): delete it or choose another folder") from None

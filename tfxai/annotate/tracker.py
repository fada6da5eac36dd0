"""The report's tracker: detector on a search region around the previous box, frame difference when it misses.

For each next frame and each tracked box: cut the 416 px search region
centred on the previous box, run the detector there; if it finds the object
(a detection overlapping the previous box), keep that box (source
``detector``); otherwise move the previous box toward the changed pixels of
the frame difference inside the region (``framediff``), or keep it where it
was when the sides changed about equally (``held``).

Two rules are tfxai's, not the report's (docs/annotate.md, last table):
a detection is taken only when it has the tracked box's class and overlaps
the previous box by ``min_iou`` (the report keeps any detection in the search
region: with ``min_iou=0`` a detection of the class anywhere in it is kept), and
hand-labelled frames met while tracking replace the tracked boxes
(``reanchor``; the report labels only the first frame: ``reanchor=False``).
"""

import time
from dataclasses import dataclass, field

from tfxai.annotate.boxes import clip_box, iou, region_offset, search_region
from tfxai.annotate.framediff import FrameDifferenceConfig, frame_difference_step
from tfxai.annotate.labels import Label
from tfxai.data.video import to_gray
from tfxai.errors import TfxaiError

__all__ = ["MODES", "Tracker", "TrackerConfig", "track_video"]

MODES = ("combined", "detector", "framediff")


@dataclass
class TrackerConfig:
    """mode : ``combined`` (the report), ``detector`` (hold when it misses) or ``framediff`` (no detector).

    search_size : side of the square search region (the report: 416, YOLOv3's input).
    min_iou : a detection counts as the tracked object when it has its class and overlaps the previous box at least
        this much (0: any detection of the class in the search region, as the report).
    reanchor : hand-labelled frames met while tracking replace the tracked boxes (tfxai); ``False``: only the
        first labelled frame is used and everything after it is tracked (the report's mode).
    """

    mode: str = "combined"
    search_size: int = 416
    min_iou: float = 0.3
    reanchor: bool = True
    frame_difference: FrameDifferenceConfig = field(default_factory=FrameDifferenceConfig)

    def __post_init__(self):
        if self.mode not in MODES:
            raise TfxaiError(f"unknown tracking mode {self.mode!r}: choose one of {list(MODES)}")
        if self.search_size < 32:
            raise TfxaiError(f"search region {self.search_size} px is too small: use at least 32 (the report uses 416)")
        if not 0.0 <= self.min_iou <= 1.0:
            raise TfxaiError(f"min_iou must be in [0, 1], got {self.min_iou}")


class Tracker:
    """One tracking step for every box of a frame; ``detector`` has ``detect(image) -> [Detection]``."""

    def __init__(self, config=None, detector=None):
        self.config = config or TrackerConfig()
        if self.config.mode != "framediff" and detector is None:
            raise TfxaiError(f"tracking mode {self.config.mode!r} needs a detector: pass --detector or use --mode framediff")
        self.detector = detector if self.config.mode != "framediff" else None

    def step(self, previous_gray, frame, boxes, gray=None):
        """The labels on ``frame`` (RGB) from the labels ``boxes`` on the previous frame."""
        gray = to_gray(frame) if gray is None else gray
        height, width = gray.shape
        size = self.config.search_size
        result = []
        for label in boxes:
            found = None
            if self.detector is not None:
                found = self._detect(frame, label, size)
            if found is not None:
                box, score = found
                result.append(Label(clip_box(box, width, height), label.class_id, label.track, "detector", round(score, 4)))
                continue
            if self.config.mode == "detector":
                result.append(label.moved(label.box, "held"))
                continue
            x0, y0 = region_offset(label.box, size, width, height)
            bounds = (x0, y0, x0 + size, y0 + size)
            box, moved = frame_difference_step(previous_gray, gray, label.box, self.config.frame_difference, bounds)
            result.append(label.moved(box, "framediff" if moved else "held"))
        return result

    def _detect(self, frame, label, size):
        crop, (x0, y0) = search_region(frame, label.box, size)
        best = None
        for detection in self.detector.detect(crop):
            if detection.class_id != label.class_id:
                continue
            box = (detection.box[0] + x0, detection.box[1] + y0, detection.box[2], detection.box[3])
            if iou(box, label.box) >= self.config.min_iou and (best is None or detection.score > best[1]):
                best = (box, detection.score)
        return best


def track_video(video, store, tracker, anchors, start=None, stop=None, progress=None):
    """Track through ``video`` writing every frame's labels to ``store``; returns ``(frames tracked, seconds)``.

    ``anchors`` maps frame index -> [Label] drawn by hand: tracking starts at
    ``start`` (default: the first anchor) and, on reaching another anchor
    frame, takes its boxes instead of the tracked ones (they are copied to the
    store) unless the tracker's ``config.reanchor`` is off (the report's mode:
    one hand-labelled frame, everything after it tracked). Resumable: frames from ``start`` on that ``store`` already holds
    are not tracked again; tracking continues after the last of them.
    """
    if not anchors:
        raise TfxaiError("nothing to track: pass --init FRAME:x,y,w,h or --labels with hand-labelled frames")
    start = min(anchors) if start is None else int(start)
    stop = len(video) if stop is None else min(int(stop), len(video))
    if start not in anchors and start not in store:
        raise TfxaiError(f"frame {start} has no boxes to start from: start at a labelled frame ({sorted(anchors)[:5]}...)")
    if start not in store:
        store.put(start, anchors[start])
    last = start
    while last + 1 < stop and (last + 1) in store:
        last += 1
    boxes = store.boxes(last)
    reanchor = getattr(getattr(tracker, "config", None), "reanchor", True)
    previous = to_gray(video.read(last))
    tracked, began = 0, time.perf_counter()
    for index in range(last + 1, stop):
        frame = video.read(index)
        gray = to_gray(frame)
        if index in anchors and reanchor:
            boxes = list(anchors[index])
        else:
            boxes = tracker.step(previous, frame, boxes, gray)
            tracked += 1
        store.put(index, boxes)
        previous = gray
        if progress is not None:
            progress(index, stop)
    return tracked, time.perf_counter() - began

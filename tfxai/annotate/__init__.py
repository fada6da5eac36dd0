"""Video auto-annotation: a detector bootstrapped from a few hand-labelled frames, search-region tracking
with a frame-difference fallback, human review, and export (YOLO, COCO, Pascal VOC).

After the regional research centre's report on reducing annotation work: (1) label 20-30 frames by
hand, (2) pre-train a detector on them, (3) track through the video with the detector on a 416 px
search region around the previous box, falling back to the frame difference, (4) a person removes the
wrong labels, (5) main training on the result. See ``docs/annotate.md``.
"""

from tfxai.annotate.boxes import iou, search_region
from tfxai.annotate.framediff import FrameDifferenceConfig, frame_difference_step
from tfxai.annotate.labels import SOURCES, Label, LabelStore
from tfxai.annotate.tracker import MODES, Tracker, TrackerConfig, track_video
from tfxai.data.video import Video

__all__ = ["MODES", "SOURCES", "FrameDifferenceConfig", "Label", "LabelStore", "Tracker", "TrackerConfig", "Video",
           "frame_difference_step", "iou", "search_region", "track_video"]

"""The tracker's two rules that are tfxai's, not the report's: which detection counts, and re-anchoring at hand labels."""

import numpy as np
import pytest

from tfxai.annotate import Label, LabelStore, Tracker, TrackerConfig, Video, track_video
from tfxai.annotate.boxes import region_offset
from tfxai.annotate.detector import Detection
from tfxai.errors import TfxaiError


class FixedDetector:
    """Reports the same detections (frame coordinates) on every frame, moved into the crop's coordinates."""

    def __init__(self, detections, frame_size=(128, 96), search_size=64):
        self.detections, self.frame_size, self.search_size, self.box = detections, frame_size, search_size, None

    def detect(self, crop):
        x0, y0 = region_offset(self.box, self.search_size, *self.frame_size)
        return [Detection((d.box[0] - x0, d.box[1] - y0, d.box[2], d.box[3]), d.score, d.class_id) for d in self.detections]


def step_with(detections, **config):
    previous = Label((40, 40, 16, 16))
    detector = FixedDetector(detections)
    detector.box = previous.box
    tracker = Tracker(TrackerConfig(search_size=64, **config), detector)
    frame = np.zeros((96, 128, 3), np.uint8)
    return tracker.step(np.zeros((96, 128), np.uint8), frame, [previous])[0]


def test_a_detection_must_have_the_class_and_overlap_the_previous_box():
    overlapping_other_class = Detection((42, 40, 16, 16), 0.9, 1)
    far_same_class = Detection((70, 60, 16, 16), 0.8, 0)  # IoU 0 with the previous box
    near_same_class = Detection((44, 40, 16, 16), 0.5, 0)  # IoU 0.6
    assert step_with([overlapping_other_class, far_same_class]).source != "detector"  # neither counts: held / frame difference
    taken = step_with([overlapping_other_class, far_same_class, near_same_class])
    assert taken.source == "detector" and taken.box == (44, 40, 16, 16)
    # the report's rule, any detection of the class in the search region: min_iou=0 takes the far one (higher score)
    report = step_with([overlapping_other_class, far_same_class, near_same_class], min_iou=0.0)
    assert report.source == "detector" and report.box == (70, 60, 16, 16)
    with pytest.raises(TfxaiError, match="min_iou"):
        TrackerConfig(min_iou=1.5)


def track(video_path, folder, anchors, reanchor):
    store = LabelStore(folder, classes=["blob"])
    with Video(video_path) as video:
        track_video(video, store, Tracker(TrackerConfig(mode="framediff", reanchor=reanchor)), anchors, stop=14)
    return store


def test_hand_labels_re_anchor_unless_the_report_mode_tracks_from_the_first_frame_only(moving_video, tmp_path):
    path, truth = moving_video
    misplaced = Label((truth[8][0] + 30, truth[8][1], 16, 16))  # a hand box at frame 8 far from the square
    anchors = {0: [Label(truth[0])], 8: [misplaced]}
    anchored = track(path, tmp_path / "anchored", anchors, reanchor=True)
    assert anchored.boxes(8) == [misplaced]  # the hand box replaces the tracked one
    report = track(path, tmp_path / "report", anchors, reanchor=False)
    tracked = report.boxes(8)[0]
    assert tracked.source in ("framediff", "held") and abs(tracked.box[0] - truth[8][0]) < 10  # tracked on from frame 0
    assert abs(report.boxes(13)[0].box[0] - truth[13][0]) < abs(anchored.boxes(13)[0].box[0] - truth[13][0])

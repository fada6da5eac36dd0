import json
import os

import pytest

from tfxai.annotate import Label, LabelStore, Tracker, TrackerConfig, Video, track_video
from tfxai.errors import TfxaiError


def test_store_round_trips_boxes_sources_and_review_flag(tmp_path):
    store = LabelStore(tmp_path / "labels", classes=["person", "dog"])
    boxes = [Label((1.5, 2, 30, 40), 1, 3, "detector", 0.9), Label((5, 6, 7, 8), 0, 0, "held")]
    store.put(12, boxes, reviewed=True)
    again = LabelStore.open(tmp_path / "labels")
    record = again.get(12)
    assert record.boxes == boxes and record.reviewed and again.classes == ["person", "dog"]
    assert again.frames() == [12] and again.get(13).boxes == []


def test_interrupted_save_keeps_the_previous_labels(tmp_path, monkeypatch):
    store = LabelStore(tmp_path / "labels", classes=["person"])
    store.put(0, [Label((1, 2, 3, 4))])

    def crash(*args):
        raise KeyboardInterrupt  # the process dies between writing the temporary file and renaming it

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        store.put(0, [Label((9, 9, 9, 9))])
    monkeypatch.undo()
    assert store.boxes(0) == [Label((1, 2, 3, 4))]
    assert sorted(os.listdir(tmp_path / "labels" / "frames")) == ["000000.json"]  # no temporary file left
    with open(tmp_path / "labels" / "frames" / "000000.json") as handle:
        assert json.load(handle)["boxes"][0]["box"] == [1, 2, 3, 4]


def test_store_refuses_a_folder_that_is_not_a_label_folder(tmp_path):
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x.txt").write_text("x")
    with pytest.raises(TfxaiError, match="not a label folder"):
        LabelStore(tmp_path / "other", classes=["a"])
    with pytest.raises(TfxaiError, match="classes"):
        LabelStore(tmp_path / "new", classes=["a"]) and LabelStore(tmp_path / "new", classes=["b"])
    with pytest.raises(TfxaiError, match="unknown label source"):
        Label((0, 0, 1, 1), source="guess")


def _track(video_path, folder, stop, box):
    store = LabelStore(folder, classes=["blob"])
    with Video(video_path) as video:
        tracked, _ = track_video(video, store, Tracker(TrackerConfig(mode="framediff")), {0: [Label(box)]}, stop=stop)
    return store, tracked


def test_tracking_resumes_after_the_last_written_frame(moving_video, tmp_path):
    path, truth = moving_video
    whole, tracked = _track(path, tmp_path / "whole", None, truth[0])
    assert tracked == 19
    _, first = _track(path, tmp_path / "resumed", 8, truth[0])  # "interrupted" after frame 7
    resumed, second = _track(path, tmp_path / "resumed", None, truth[0])
    assert (first, second) == (7, 12)  # the second run tracked only frames 8..19
    for frame in range(20):
        assert resumed.boxes(frame) == whole.boxes(frame)
    assert {label.source for frame in range(1, 20) for label in whole.boxes(frame)} == {"framediff"}
    assert whole.boxes(19)[0].box[0] > truth[0][0] + 30  # it followed the blob

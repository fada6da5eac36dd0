"""``tfxai annotate``: track -> review sheets -> export -> train on a tiny synthetic video; bad input exits 2."""

import pytest
from click.testing import CliRunner

from tfxai.annotate import LabelStore
from tfxai.apps.cli import main
from tfxai.testing import write_sliding_box_video


@pytest.fixture
def video(tmp_path):
    return write_sliding_box_video(tmp_path / "clip.avi")


def _run(*args):
    return CliRunner().invoke(main, ["annotate", *map(str, args)])


def test_track_review_export_and_train(video, tmp_path):
    labels = tmp_path / "labels"
    result = _run("track", video, "--init", "0:10,20,16,16", "--out", labels, "--classes", "box")
    assert result.exit_code == 0, result.output
    store = LabelStore.open(labels)
    assert store.frames() == list(range(12)) and store.classes == ["box"]
    assert store.boxes(11)[0].box[0] > 30  # it followed the square (33 px to the right by frame 11)
    result = _run("review", video, "--labels", labels, "--sheets", tmp_path / "sheets", "--every", 2)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "sheets" / "sheet_000.png").is_file()
    result = _run("export", video, "--labels", labels, "--format", "yolo", "--out", tmp_path / "yolo")
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "yolo" / "labels").iterdir())) == 12
    model = tmp_path / "main.keras"
    result = _run("train", "--data", tmp_path / "yolo", "--out", model, "--input-size", 64, "--width", 4,
                  "--search-size", 64, "--samples", 16, "--epochs", 1)
    assert result.exit_code == 0, result.output
    assert model.is_file()
    # the trained detector plugs into the tracker (resuming an existing folder tracks nothing new)
    result = _run("track", video, "--init", "0:10,20,16,16", "--out", tmp_path / "again", "--detector", model,
                  "--search-size", 64, "--stop", 4)
    assert result.exit_code == 0, result.output
    assert "tracked 3 frames" in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["track", "VIDEO", "--init", "0:1,2,3", "--out", "OUT"], "is not 4 numbers"),
        (["track", "VIDEO", "--out", "OUT"], "pass either --init"),
        (["track", "missing.avi", "--init", "0:1,2,3,4", "--out", "OUT"], "does not exist"),
        (["track", "VIDEO", "--init", "0:1,2,3,4", "--out", "OUT", "--mode", "combined"], "needs a detector"),
        (["export", "VIDEO", "--labels", "OUT", "--format", "coco", "--out", "X"], "not a label folder"),
        (["pretrain", "VIDEO", "--labels", "OUT", "--out", "m.h5"], "not a label folder"),
        (["pretrain", "--labels", "OUT", "--out", "m.h5"], "missing VIDEO"),
        (["label", "VIDEO", "--labels", "OUT", "--box", "99:1,2,3,4"], "outside the video"),
        (["label", "VIDEO", "--labels", "OUT", "--box", "0:90,2,30,4"], "leaves the 96x64 frame"),
        (["label", "VIDEO", "--labels", "OUT", "--box", "0:1,2,3"], "is not 4 numbers"),
        (["label", "VIDEO", "--labels", "OUT", "--box", "zero:1,2,3,4"], "is not FRAME:x,y,w,h"),
        (["review", "VIDEO", "--labels", "OUT"], "not a label folder"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message, video, tmp_path):
    args = [str(tmp_path / "out") if a == "OUT" else video if a == "VIDEO" else a for a in args]
    result = _run(*args)
    assert result.exit_code == 2, result.output
    assert message in result.output and result.output.count("\n") == 1


def test_label_with_boxes_writes_hand_labels_without_a_page_and_pretrain_wants_enough(video, tmp_path):
    hand = tmp_path / "hand"
    result = _run("label", video, "--labels", hand, "--classes", "box,other", "--box", "0:10,20,16,16", "--box", "4:22,20,16,16:1",
                  "--box", "4:40,30,10,10")
    assert result.exit_code == 0, result.output
    store = LabelStore.open(hand)
    assert [(b.box, b.class_id, b.track, b.source) for b in store.boxes(4)] == [
        ((22, 20, 16, 16), 1, 0, "hand"), ((40, 30, 10, 10), 0, 1, "hand")]
    result = _run("label", video, "--labels", hand, "--box", "4:60,20,8,8")  # adds to the frame's boxes
    assert result.exit_code == 0 and len(store.boxes(4)) == 3
    result = _run("pretrain", video, "--labels", hand, "--out", tmp_path / "m.keras")
    assert result.exit_code == 2 and "holds 4 hand boxes in 2 frames, too few to learn from" in result.output
    assert result.output.count("\n") == 1


def test_video_option_still_works_with_a_deprecation_note(video, tmp_path):
    labels = tmp_path / "labels"
    assert _run("track", video, "--init", "0:10,20,16,16", "--out", labels).exit_code == 0
    result = _run("export", "--video", video, "--labels", labels, "--format", "yolo", "--out", tmp_path / "yolo")
    assert result.exit_code == 0, result.output
    assert "--video is deprecated" in result.output and (tmp_path / "yolo" / "data.yaml").is_file()

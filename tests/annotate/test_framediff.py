import numpy as np

from tfxai.annotate.boxes import iou
from tfxai.annotate.framediff import FrameDifferenceConfig, frame_difference_step


def _gray(frame):
    return frame.mean(axis=-1).astype(np.uint8)


def test_box_follows_a_blob_moving_right_and_down(make_frame):
    box = (20.0, 30.0, 16.0, 16.0)
    for t in range(1, 15):
        previous = _gray(make_frame(20 + 2 * (t - 1), 30 + (t - 1)))
        current = _gray(make_frame(20 + 2 * t, 30 + t))
        new, moved = frame_difference_step(previous, current, box)
        assert moved
        assert new[0] > box[0] and new[1] >= box[1]  # toward the motion, never away
        assert new[2:] == box[2:]  # the box keeps its size
        box = new
    assert iou(box, (20 + 2 * 14, 30 + 14, 16, 16)) > 0.8


def test_box_moves_left_for_a_blob_moving_left(make_frame):
    previous, current = _gray(make_frame(60, 40)), _gray(make_frame(56, 40))
    new, moved = frame_difference_step(previous, current, (60.0, 40.0, 16.0, 16.0))
    assert moved and new[0] < 60.0 and new[1] == 40.0


def test_box_holds_on_a_static_frame(make_frame):
    frame = _gray(make_frame(40, 40))
    box = (38.0, 41.0, 16.0, 16.0)
    assert frame_difference_step(frame, frame.copy(), box) == (box, False)


def test_box_holds_when_both_sides_change_equally():
    previous = np.zeros((64, 64), np.uint8)
    current = previous.copy()
    current[20:40, 10:14] = 255  # changes in the strips left and right of the box: 80 vs 100 pixels
    current[20:40, 49:54] = 255  # (within the balance of 20%: hold, as the report says)
    box = (22.0, 20.0, 20.0, 20.0)
    assert frame_difference_step(previous, current, box, FrameDifferenceConfig(margin=0.6)) == (box, False)
    current[20:40, 49:54] = 0
    current[20:40, 44:54] = 255  # now clearly more on the right
    new, moved = frame_difference_step(previous, current, box, FrameDifferenceConfig(margin=0.6))
    assert moved and new[0] > box[0]

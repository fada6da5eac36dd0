import numpy as np
import pytest

from tfxai.annotate.boxes import check_box, iou, search_region
from tfxai.errors import TfxaiError


def _frame(height, width):
    return np.arange(height * width, dtype=np.int32).reshape(height, width)


@pytest.mark.parametrize(
    "box, expected_offset",
    [
        ((0, 0, 10, 10), (0, 0)),  # top-left corner: region shifted inside, not padded
        ((110, 70, 10, 10), (80, 40)),  # bottom-right corner
        ((50, 30, 10, 10), (35, 15)),  # centred on the box
    ],
)
def test_search_region_stays_inside_the_frame_at_borders(box, expected_offset):
    frame = _frame(80, 120)
    crop, (x0, y0) = search_region(frame, box, size=40)
    assert crop.shape == (40, 40)
    assert (x0, y0) == expected_offset
    np.testing.assert_array_equal(crop, frame[y0 : y0 + 40, x0 : x0 + 40])
    # the box is inside the region
    assert x0 <= box[0] and box[0] + box[2] <= x0 + 40 and y0 <= box[1] and box[1] + box[3] <= y0 + 40


def test_search_region_pads_a_frame_smaller_than_the_region():
    frame = _frame(20, 30) + 1  # no zero pixels
    crop, (x0, y0) = search_region(frame, (25, 15, 5, 5), size=40)
    assert (x0, y0) == (-5, -10)
    np.testing.assert_array_equal(crop[10:30, 5:35], frame)
    assert (crop == 0).sum() == 40 * 40 - 20 * 30


def test_iou_matches_hand_computed_values():
    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0


def test_bad_boxes_are_one_line_errors():
    with pytest.raises(TfxaiError, match="positive width"):
        check_box((0, 0, 0, 5))
    with pytest.raises(TfxaiError, match="4 numbers"):
        check_box((1, 2, 3))

import cv2
import numpy as np

from tfxai.annotate import Label, LabelStore, Video
from tfxai.annotate.sessions import COLORS, draw_labels, write_contact_sheets


def test_draw_labels_colours_boxes_by_source_and_leaves_the_frame(moving_video):
    with Video(moving_video[0]) as video:
        frame = video.read(0)
    before = frame.copy()
    drawn = draw_labels(frame, [Label((10, 10, 20, 20), source="held")], ["blob"])
    assert tuple(drawn[10, 20]) == COLORS["held"] and not np.array_equal(drawn, frame)
    assert np.array_equal(frame, before)  # the frame itself is not drawn on


def test_contact_sheets_of_labelled_frames(moving_video, tmp_path):
    store = LabelStore(tmp_path / "tracked", classes=["blob"])
    store.put(0, [Label((10, 10, 20, 20), source="hand")])
    store.put(1, [Label((12, 10, 20, 20), source="framediff"), Label((50, 50, 10, 10), track=1, source="held")])
    with Video(moving_video[0]) as video:
        names = write_contact_sheets(video, store, tmp_path / "sheets", columns=2, rows=1)
    assert names == ["sheet_000.png"]
    assert cv2.imread(str(tmp_path / "sheets" / "sheet_000.png")).shape[1] > 2 * 256

import cv2

from tfxai.annotate import Label, LabelStore, Video
from tfxai.annotate.sessions import LabelSession, ReviewSession, write_contact_sheets


def test_label_session_draws_moves_deletes_and_saves_at_once(moving_video, tmp_path):
    store = LabelStore(tmp_path / "hand", classes=["blob", "other"])
    with Video(moving_video[0]) as video:
        session = LabelSession(video, store, start=2, scale=2.0)
        session.handle_key(ord("1"))  # class "other"
        session.handle_mouse(cv2.EVENT_LBUTTONDOWN, 40, 60)  # display pixels = 2 x frame pixels
        session.handle_mouse(cv2.EVENT_MOUSEMOVE, 60, 80)
        session.handle_mouse(cv2.EVENT_LBUTTONUP, 80, 100)
        assert store.boxes(2) == [Label((20, 30, 20, 20), 1, 0, "hand")]  # saved without a save key
        session.handle_mouse(cv2.EVENT_LBUTTONDOWN, 50, 70)  # inside the box: move it by (+5, -3) frame px
        session.handle_mouse(cv2.EVENT_MOUSEMOVE, 60, 64)
        session.handle_mouse(cv2.EVENT_LBUTTONUP, 60, 64)
        assert store.boxes(2)[0].box == (25, 27, 20, 20)
        session.handle_key(ord("n"))
        assert session.frame_index == 3 and session.labels == []
        session.handle_mouse(cv2.EVENT_LBUTTONDOWN, 0, 0)
        session.handle_mouse(cv2.EVENT_LBUTTONUP, 2, 2)  # a click, not a box
        assert 3 not in store
        session.handle_key(ord("p"))
        session.handle_mouse(cv2.EVENT_RBUTTONDOWN, 60, 64)  # right-click deletes
        assert store.boxes(2) == []
        assert session.image().shape == (96, 128, 3)


def test_review_session_keeps_deletes_and_nudges(moving_video, tmp_path):
    store = LabelStore(tmp_path / "tracked", classes=["blob"])
    store.put(0, [Label((10, 10, 20, 20), source="hand")])
    store.put(1, [Label((12, 10, 20, 20), source="framediff"), Label((50, 50, 10, 10), track=1, source="held")])
    with Video(moving_video[0]) as video:
        session = ReviewSession(video, store, step=2)
        session.handle_key(ord(" "))  # keep frame 0
        assert store.get(0).reviewed and session.frame_index == 1
        session.handle_key(ord("\t"))  # select the held box
        session.handle_key(ord("d"))
        session.handle_key(ord("L"))  # nudge the remaining box 5 x 2 px right
        session.handle_key(ord("k"))  # and 2 px up
        assert store.boxes(1) == [Label((22, 8, 20, 20), source="edited")]
        session.handle_key(ord("x"))
        assert store.boxes(1) == [] and 1 in store
        names = write_contact_sheets(video, store, tmp_path / "sheets", columns=2, rows=1)
    assert names == ["sheet_000.png"]
    assert cv2.imread(str(tmp_path / "sheets" / "sheet_000.png")).shape[1] > 2 * 256

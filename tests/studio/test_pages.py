"""The studio's pages in headless Chromium: real mouse drags and keys, then the files on disk.

Screenshots go to tests/studio/screenshots/ (git-ignored; TFXAI_STUDIO_SCREENSHOTS moves them).
"""

import time

import cv2
import numpy as np
import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.actions.action_builder import ActionBuilder
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from tfxai.annotate import LabelStore


def open_page(browser, base, token, page, item, ready="window.studioState && window.studioState.image"):
    browser.get(f"{base}{page}?token={token}&item={item}")
    if ready:
        WebDriverWait(browser, 20).until(lambda d: d.execute_script(f"return !!({ready})"))


def wait_saved(browser):
    browser.execute_async_script("const done = arguments[arguments.length - 1]; window.studioIdle().then(() => done(true));")


def to_screen(browser, x, y, width, height):
    """Viewport pixels of frame point (x, y) on the page's canvas (unzoomed)."""
    rect = browser.execute_script("const r = document.getElementById('canvas').getBoundingClientRect(); return [r.left, r.top, r.width, r.height];")
    return rect[0] + x * rect[2] / width, rect[1] + y * rect[3] / height


def drag(browser, start, end, steps=5, button_down=True):
    actions = ActionBuilder(browser)
    pointer = actions.pointer_action
    pointer.move_to_location(int(start[0]), int(start[1]))
    pointer.pointer_down()
    for k in range(1, steps + 1):
        pointer.move_to_location(int(start[0] + (end[0] - start[0]) * k / steps), int(start[1] + (end[1] - start[1]) * k / steps))
    pointer.pointer_up()
    actions.perform()


def keys(browser, *sequence):
    ActionChains(browser).send_keys(*sequence).perform()


def test_home_lists_the_folders(browser, studio, screenshot):
    _, base, token = studio
    browser.get(f"{base}/?token={token}")
    WebDriverWait(browser, 20).until(lambda d: d.find_elements("css selector", ".card"))
    text = browser.find_element("tag name", "body").text
    assert "hand" in text and "tracked" in text and "maps" in text and "report" in text
    screenshot("studio_home")


def test_draw_a_box_with_the_mouse_and_find_it_in_the_label_folder(browser, studio, workspace, screenshot):
    _, base, token = studio
    open_page(browser, base, token, "/label", "0/hand")
    keys(browser, Keys.ARROW_RIGHT, Keys.ARROW_RIGHT)  # frame 2
    WebDriverWait(browser, 10).until(lambda d: d.execute_script("return window.studioState.record.frame === 2"))
    keys(browser, "2")  # class "other"
    drag(browser, to_screen(browser, 12, 40, 160, 120), to_screen(browser, 32, 60, 160, 120))
    wait_saved(browser)
    boxes = LabelStore.open(workspace / "hand").boxes(2)
    assert len(boxes) == 1 and boxes[0].class_id == 1 and boxes[0].source == "hand"
    x, y, w, h = boxes[0].box
    assert abs(x - 12) < 1.5 and abs(y - 40) < 1.5 and abs(w - 20) < 1.5 and abs(h - 20) < 1.5
    # move it by dragging its inside, then resize it by its right edge
    drag(browser, to_screen(browser, 22, 50, 160, 120), to_screen(browser, 32, 50, 160, 120))
    wait_saved(browser)
    x2 = LabelStore.open(workspace / "hand").boxes(2)[0].box[0]
    assert abs(x2 - (x + 10)) < 1.5
    drag(browser, to_screen(browser, x2 + w, 50, 160, 120), to_screen(browser, x2 + w + 15, 50, 160, 120))
    wait_saved(browser)
    assert abs(LabelStore.open(workspace / "hand").boxes(2)[0].box[2] - (w + 15)) < 1.5
    browser.execute_script("window.studioState.zoom = 2; window.dispatchEvent(new Event('resize'));")
    assert "frame 2" in browser.find_element("id", "frames").text  # the hand-labelled frames are listed
    screenshot("studio_label")
    keys(browser, Keys.DELETE)
    wait_saved(browser)
    assert LabelStore.open(workspace / "hand").boxes(2) == []


def test_review_deletes_a_wrong_box_keeps_a_right_one_and_marks_reviewed(browser, studio, workspace, screenshot):
    _, base, token = studio
    store = LabelStore.open(workspace / "tracked")
    open_page(browser, base, token, "/review", "0/tracked")
    first = browser.execute_script("return window.studioState.frame")
    assert "held" in [b.source for b in store.boxes(first)]  # held frames come first
    keys(browser, "d", " ")  # delete the selected (only) box, keep the frame
    WebDriverWait(browser, 10).until(lambda d: d.execute_script(f"return window.studioState.record.frame !== {first}"))
    second = browser.execute_script("return window.studioState.frame")
    keys(browser, " ")  # keep the next one as it is
    WebDriverWait(browser, 10).until(lambda d: d.execute_script(f"return window.studioState.record.frame !== {second}"))
    wait_saved(browser)
    assert store.get(first).reviewed and store.boxes(first) == []
    assert store.get(second).reviewed and len(store.boxes(second)) == 1
    assert "2 of 100 frames reviewed" in browser.find_element("id", "progress-text").text
    screenshot("studio_review")


def test_a_scripted_reviewer_clears_100_frames_with_the_keyboard(browser, studio, workspace, record_property):
    _, base, token = studio
    open_page(browser, base, token, "/review", "0/tracked")
    browser.execute_script("document.getElementById('filter').value = 'all'; document.getElementById('order').value = 'frame';"
                           "document.getElementById('filter').dispatchEvent(new Event('change'));")
    browser.execute_script("window.studioState.loadToken++; return null")
    keys(browser, Keys.HOME)
    browser.execute_script("document.querySelector('#frames li').click()")
    WebDriverWait(browser, 10).until(lambda d: d.execute_script("return window.studioState.record.frame === 0"))
    started = time.perf_counter()
    for frame in range(100):
        keys(browser, " ")
        if frame < 99:
            WebDriverWait(browser, 10, poll_frequency=0.005).until(
                lambda d: d.execute_script(f"return window.studioState.record.frame === {frame + 1} && !!window.studioState.image"))
    wait_saved(browser)
    seconds = time.perf_counter() - started
    store = LabelStore.open(workspace / "tracked")
    assert all(store.get(frame).reviewed for frame in range(100))
    app = browser.execute_script("return Studio.timings.filter(t => t.what === 'go').map(t => t.ms)")
    per_frame = seconds / 100
    record_property("review_seconds_per_frame", per_frame)
    print(f"\nscripted review: {per_frame * 1000:.0f} ms per frame (with the test driver), "
          f"page load of a frame median {np.median(app):.0f} ms")
    assert per_frame < 0.5


def test_paint_on_an_attention_map_changes_the_saved_png_where_painted_only(browser, studio, workspace, screenshot):
    _, base, token = studio
    open_page(browser, base, token, "/attention", "0/maps")
    drag(browser, to_screen(browser, 20.5, 24.5, 32, 32), to_screen(browser, 28.5, 24.5, 32, 32), steps=8)
    wait_saved(browser)
    original = cv2.imread(str(workspace / "maps" / "maps" / "0000.png"), cv2.IMREAD_GRAYSCALE)
    edited = cv2.imread(str(workspace / "maps" / "edited" / "0000.png"), cv2.IMREAD_GRAYSCALE)
    assert edited is not None and edited.shape == original.shape
    changed = np.argwhere(edited != original)
    assert len(changed) > 10
    radius = 2
    assert all(20 - radius - 1 <= x <= 28 + radius + 1 and abs(y - 24) <= radius + 1 for y, x in changed)
    assert (edited[24, 20:29] == 255).all()
    keys(browser, "e")  # erase
    drag(browser, to_screen(browser, 10.5, 10.5, 32, 32), to_screen(browser, 11.5, 10.5, 32, 32), steps=2)
    wait_saved(browser)
    edited = cv2.imread(str(workspace / "maps" / "edited" / "0000.png"), cv2.IMREAD_GRAYSCALE)
    assert edited[10, 10] == 0 and original[10, 10] > 200
    screenshot("studio_attention")
    keys(browser, "u")  # undo the erase
    wait_saved(browser)
    edited = cv2.imread(str(workspace / "maps" / "edited" / "0000.png"), cv2.IMREAD_GRAYSCALE)
    assert edited[10, 10] == original[10, 10]


def test_open_an_explanation_report(browser, studio, screenshot):
    _, base, token = studio
    open_page(browser, base, token, "/explain", "0/report", ready="document.querySelectorAll('figure').length === 3")
    assert "3 images, 2 labelled, accuracy 0.500" in browser.find_element("tag name", "body").text
    screenshot("studio_explain")


def test_the_explain_page_plays_a_video_explanation_at_the_sources_size(browser, tmp_path, screenshot):
    from tfxai.io import write_json
    from tfxai.studio import Studio, StudioServer
    from tfxai.video.render import write_clip_explanation

    folder = tmp_path / "explained"
    folder.mkdir()
    rng = np.random.default_rng(0)
    frames = np.full((4, 120, 160, 3), 90, np.uint8)
    captions = [f"class walk p=0.93 frame {f}" for f in (10, 12, 14, 16)]
    write_clip_explanation(folder, "clip1", frames, rng.random((4, 6, 6)), np.array([0.1, 0.5, 0.9, 0.3]), captions=captions)
    write_json(folder / "summary.json", {"video": "v.avi", "size": [160, 120], "predicted": "walk", "probability": 0.93,
                                         "probabilities": {"walk": 0.93, "run": 0.07},
                                         "clips": [{"first_frame": 10, "stride": 2, "frames": [10, 12, 14, 16], "predicted": "walk",
                                                    "probability": 0.93, "temporal_attention": [0.1, 0.5, 0.9, 0.3]}]})
    server = StudioServer(Studio([folder]), port=0).start()
    try:
        open_page(browser, f"http://127.0.0.1:{server.port}", server.studio.token, "/explain", "0/.",
                  ready="document.querySelector('canvas') && document.querySelector('canvas').width === 160")
        canvas = browser.execute_script("const c = document.querySelector('canvas'); return [c.width, c.height]")
        assert canvas == [160, 120]  # the source's size, not the model's
        assert "frame 1 / 4" in browser.find_element("tag name", "body").text
        pixels = browser.execute_script(
            "const c = document.querySelector('canvas'); return Array.from(c.getContext('2d').getImageData(0, 0, 160, 20).data)")
        top = np.asarray(pixels, np.uint8).reshape(20, 160, 4)[..., :3]
        # the caption (white letters outlined in black) is in the movie's frames: a gray frame under JET has neither
        assert (top.max(axis=-1) < 60).sum() > 100 and (top.min(axis=-1) > 180).sum() > 20
        screenshot("studio_explain_video")
    finally:
        server.stop()

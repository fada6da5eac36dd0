"""Fixtures of the studio tests: a small video with tracked labels, an attention-map folder, a report, a running
studio (uvicorn in a thread on a free 127.0.0.1 port) and a headless Chromium driven by Selenium.

Without Chromium the browser tests are skipped with the reason, except under CI=true, where they fail:
``.ci/run`` installs Debian's chromium and chromium-driver.
"""

import json
import os
import shutil

import cv2
import numpy as np
import pytest

from tfxai.annotate import Label, LabelStore, Video
from tfxai.io import write_image, write_json, write_text

SCREENSHOTS = os.environ.get("TFXAI_STUDIO_SCREENSHOTS", os.path.join(os.path.dirname(__file__), "screenshots"))
FRAMES, WIDTH, HEIGHT = 100, 160, 120


def write_video(path, frames=FRAMES, size=(WIDTH, HEIGHT)):
    """A square moving 2 px right per frame over a striped floor (MJPG .avi, any OpenCV reads it)."""
    width, height = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (width, height))
    assert writer.isOpened()
    for t in range(frames):
        frame = np.full((height, width, 3), 60, np.uint8)
        frame[::8] = 90
        frame[40:60, 10 + t : 30 + t] = (40, 200, 230)
        writer.write(frame)
    writer.release()
    return str(path)


@pytest.fixture
def make_video():
    """:func:`write_video` (``make_video(path, frames=100, size=(160, 120))``)."""
    return write_video


@pytest.fixture(autouse=True)
def frame_cache(tmp_path_factory, monkeypatch):
    """The studio's disk cache of frames in a temporary folder (not ~/.cache), one per test."""
    root = tmp_path_factory.mktemp("frame-cache")
    monkeypatch.setenv("TFXAI_FRAME_CACHE", str(root))
    return root


@pytest.fixture
def workspace(tmp_path):
    """A folder holding video.avi, hand/ (empty label folder), tracked/ (100 tracked frames), maps/ and report/."""
    video = write_video(tmp_path / "video.avi")
    with Video(video) as clip:
        LabelStore(tmp_path / "hand", classes=["blob", "other"], video=clip)
        tracked = LabelStore(tmp_path / "tracked", classes=["blob", "other"], video=clip)
    for t in range(FRAMES):
        source = ("detector", "framediff", "held")[t % 3]
        tracked.put(t, [Label((10 + t, 40, 20, 20), 0, 0, source, 0.9 if source == "detector" else None)])
    write_maps(tmp_path / "maps")
    write_report(tmp_path / "report")
    return tmp_path


def write_maps(folder, count=3, size=32):
    """A folder as 'tfxai attention export-maps' writes it (images/, maps/, edited/, manifest.json)."""
    entries = []
    for folder_name in ("images", "maps", "edited", "overlays"):
        os.makedirs(os.path.join(folder, folder_name), exist_ok=True)
    yy, xx = np.mgrid[:size, :size]
    for i in range(count):
        name = f"{i:04d}.png"
        image = np.zeros((size, size, 3), np.uint8)
        image[8:24, 8:24] = (200, 120, 40)
        write_image(os.path.join(folder, "images", name), image)
        attention = np.clip(255 - 12 * np.hypot(yy - 10, xx - 10 - 4 * i), 0, 255).astype(np.uint8)
        write_image(os.path.join(folder, "maps", name), attention)
        entries.append({"name": name, "source": f"cls/{i}.png", "label": 0, "class_name": "cls", "predicted": 1,
                        "probability": 0.7, "image": f"images/{name}", "map": f"maps/{name}", "edited": f"edited/{name}"})
    write_json(os.path.join(folder, "manifest.json"), {"class_names": ["cls", "other"], "entries": entries})


def write_report(folder):
    """A folder as 'tfxai explain' writes it, with 3 images of which 2 are labelled."""
    os.makedirs(os.path.join(folder, "overlays"), exist_ok=True)
    rows = ["image,true,predicted,probability,correct", "a.png,cat,cat,0.9000,1", "b.png,cat,dog,0.6000,0", "c.png,,dog,0.8000,"]
    for i, name in enumerate("abc"):
        write_image(os.path.join(folder, "overlays", f"{i:04d}_{name}.png"), np.full((48, 64, 3), 80 * i, np.uint8))
    write_text(os.path.join(folder, "predictions.csv"), "\n".join(rows) + "\n")
    write_text(os.path.join(folder, "index.html"), "<!doctype html><p>report</p>")


@pytest.fixture
def studio(workspace):
    """A running studio on ``workspace``: ``(server, base_url, token)``."""
    from tfxai.studio import Studio, StudioServer

    server = StudioServer(Studio([workspace]), port=0).start()
    yield server, f"http://127.0.0.1:{server.port}", server.studio.token
    server.stop()


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="session")
def browser():
    """A headless Chromium (Selenium + chromedriver), 1280x800."""
    binary, driver_path = _chromium(), shutil.which("chromedriver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        binary = None
    if not binary or not driver_path:
        message = "headless Chromium is missing: apt-get install chromium chromium-driver (and pip install selenium)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,800",
                     "--force-device-scale-factor=1"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture
def screenshot(browser):
    """``screenshot(name)``: save the page as ``<SCREENSHOTS>/<name>.png``."""
    os.makedirs(SCREENSHOTS, exist_ok=True)

    def take(name):
        path = os.path.join(SCREENSHOTS, f"{name}.png")
        browser.save_screenshot(path)
        return path

    return take


def read_json(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)

"""The auto-annotation loop (report 003) done in the studio on a real video, with a scripted person in headless Chromium.

    nice python -u experiments/studio_loop.py [--work DIR] [--epochs 12] [--input-size 160] [--samples 400]

1. ``tfxai annotate label VIDEO --labels hand --port 0``: in the Label page, 20 frames are labelled by dragging one
   box each with the mouse (frames reached with ``g`` + number + Enter), placed from the reference boxes below.
2. ``tfxai annotate pretrain VIDEO --labels hand`` (small settings: the machine is shared).
3. ``tfxai annotate track VIDEO --labels hand --detector ...`` (combined: detector, frame difference when it misses).
4. ``tfxai annotate review VIDEO --labels tracked --port 0``: the Review page, every tracked frame in frame order;
   where the tracked box has IoU < 0.5 with the reference, the reviewer deletes it (``d``) and drags the right
   one; every frame is kept with Space. The number of such frames is what a reviewer had to fix.
5. ``tfxai annotate export VIDEO --labels tracked --format yolo``.

Reference boxes (experiments/studio_loop/reference.json): one pedestrian of opencv-doc's vtest.avi (the man in a
dark jacket entering at the right edge, frames 40-150), one box per frame from the difference to a per-pixel
median background (:func:`make_reference`, ``--make-reference`` rewrites the file), checked by eye on the frames
listed in the file.
"""

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np

import tfxai  # noqa: F401  (before TensorFlow: oneDNN setting)
from tfxai.annotate import LabelStore
from tfxai.annotate.boxes import iou

VIDEO = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"
HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "studio_loop")
REFERENCE = os.path.join(HERE, "reference.json")
FIRST, LAST = 40, 150
TF_LOG = re.compile(r"^([IWEF]\d{4} |WARNING: All log messages|\S+\.(cc|h):\d+)")
HAND = [FIRST + round(i * (LAST - FIRST) / 19) for i in range(20)]  # 20 frames spread over the stretch


# === Reference boxes ===


def make_reference(video=VIDEO, start_box=(735, 281, 33, 113), threshold=35):
    """One box per frame FIRST..LAST: foreground = a channel differs from the median of every 5th frame by more than
    ``threshold`` (7x7 closing, 3x3 opening); the box joins the components touching the previous box (10 px margin)."""
    import cv2

    capture, frames = cv2.VideoCapture(video), []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    background = np.median(np.stack(frames[::5]), axis=0).astype(np.int16)
    boxes, previous = {}, tuple(start_box)
    close, open_ = np.ones((7, 7), np.uint8), np.ones((3, 3), np.uint8)
    for t in range(FIRST, LAST + 1):
        mask = (np.abs(frames[t].astype(np.int16) - background).max(axis=2) > threshold).astype(np.uint8)
        mask = cv2.morphologyEx(cv2.morphologyEx(mask, cv2.MORPH_CLOSE, close), cv2.MORPH_OPEN, open_)
        stats = cv2.connectedComponentsWithStats(mask)[2][1:]
        x, y, w, h = previous
        near = [s for s in stats if s[4] > 60 and s[0] < x + w + 10 and s[0] + s[2] > x - 10 and s[1] < y + h + 10 and s[1] + s[3] > y - 10]
        if near:
            x0, y0 = min(s[0] for s in near), min(s[1] for s in near)
            previous = (int(x0), int(y0), int(max(s[0] + s[2] for s in near) - x0), int(max(s[1] + s[3] for s in near) - y0))
        boxes[t] = list(previous)
    return boxes


def load_reference():
    with open(REFERENCE, encoding="utf-8") as handle:
        data = json.load(handle)
    return {int(k): v for k, v in data["boxes"].items()}, data


# === The studio, as a person uses it ===


class StudioProcess:
    """A ``tfxai annotate label|review`` process serving the studio; ``url`` is the one it printed."""

    def __init__(self, *args):
        self.process = subprocess.Popen([sys.executable, "-m", "tfxai.apps.cli", "annotate", *args, "--port", "0"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # progress on stderr
        started = time.monotonic()
        for line in self.process.stderr:
            found = re.search(r"open (http://\S+)", line)
            if found:
                self.url = found.group(1)
                break
        else:
            raise RuntimeError(f"'tfxai annotate {args[0]}' printed no URL")
        port = int(re.search(r":(\d+)/", self.url).group(1))
        while True:  # the URL is printed once the port is bound; the server listens a moment later
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() - started > 30:
                    raise
                time.sleep(0.05)
        self.seconds_to_start = time.monotonic() - started

    def stop(self):
        self.process.send_signal(signal.SIGINT)  # Ctrl-C
        self.process.wait(30)
        return self.process.stderr.read().strip().splitlines()[-1]


def chromium():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,900",
                     "--force-device-scale-factor=1"):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def wait(driver, condition, timeout=20):
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout, poll_frequency=0.01).until(lambda d: d.execute_script(f"return !!({condition})"))


def idle(driver):
    driver.execute_async_script("const done = arguments[arguments.length - 1]; window.studioIdle().then(() => done(true));")


def keys(driver, *sequence):
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(driver).send_keys(*sequence).perform()


def drag_box(driver, box, width=768, height=576):
    """Press the mouse at the box's top-left corner and release it at the bottom-right (frame pixels)."""
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    left, top, shown_w, shown_h = driver.execute_script(
        "const r = document.getElementById('canvas').getBoundingClientRect(); return [r.left, r.top, r.width, r.height];")
    sx, sy = shown_w / width, shown_h / height
    x, y, w, h = box
    actions = ActionBuilder(driver)
    pointer = actions.pointer_action
    pointer.move_to_location(int(round(left + x * sx)), int(round(top + y * sy)))
    pointer.pointer_down()
    for k in range(1, 5):
        pointer.move_to_location(int(round(left + (x + w * k / 4) * sx)), int(round(top + (y + h * k / 4) * sy)))
    pointer.pointer_up()
    actions.perform()
    return sx


def go_to(driver, frame):
    keys(driver, "g")
    driver.execute_script("document.getElementById('goto').value = '';")
    keys(driver, str(frame))
    from selenium.webdriver.common.keys import Keys

    keys(driver, Keys.ENTER)
    wait(driver, f"window.studioState.record.frame === {frame} && !!window.studioState.image")


def label_in_browser(driver, url, reference):
    driver.get(url)
    wait(driver, "window.studioState && window.studioState.image")
    scale = None
    for frame in HAND:
        go_to(driver, frame)
        scale = drag_box(driver, reference[frame])
        idle(driver)
    return scale


def review_in_browser(driver, url, reference):
    """Every tracked frame in frame order; fix (delete + draw) the boxes with IoU < 0.5; keep each. Returns the fixed frames."""
    driver.get(url)
    wait(driver, "window.studioState && window.studioState.image")
    driver.execute_script("document.getElementById('filter').value = 'all'; document.getElementById('order').value = 'frame';"
                          "document.getElementById('filter').dispatchEvent(new Event('change'));")
    frames = driver.execute_script("return window.studioState.list.slice()")
    driver.find_element("css selector", f'#frames li[data-frame="{frames[0]}"]').click()  # the first frame in the list
    wait(driver, f"window.studioState.record.frame === {frames[0]} && !!window.studioState.image")
    fixed, ious = [], {}
    for position, frame in enumerate(frames):
        record = driver.execute_script("return window.studioState.record")
        assert record["frame"] == frame, (record["frame"], frame)
        boxes = [b["box"] for b in record["boxes"]]
        best = max((iou(b, reference[frame]) for b in boxes), default=0.0) if frame in reference else None
        ious[frame] = best
        if best is not None and best < 0.5:
            for _ in boxes:
                keys(driver, "d")
            idle(driver)
            drag_box(driver, reference[frame])
            idle(driver)
            fixed.append(frame)
        keys(driver, " ")  # keep: reviewed, next frame
        if position + 1 < len(frames):
            wait(driver, f"window.studioState.record.frame === {frames[position + 1]} && !!window.studioState.image")
    idle(driver)
    return frames, fixed, ious


def tfxai_cli(*args):
    began = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "tfxai.apps.cli", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"tfxai {' '.join(args)} failed:\n{result.stdout}\n{result.stderr[-3000:]}")
    # the apps print progress on stderr; leave out TensorFlow's start-up lines
    lines = [line for line in result.stderr.splitlines() if line.strip() and not TF_LOG.match(line)]
    return time.perf_counter() - began, "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "studio-loop"))
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--input-size", type=int, default=160)
    parser.add_argument("--samples", type=int, default=400)
    parser.add_argument("--make-reference", action="store_true", help="rewrite reference.json from the video")
    args = parser.parse_args()
    if args.make_reference:
        _, data = load_reference() if os.path.isfile(REFERENCE) else (None, {})
        data["boxes"] = {str(k): v for k, v in make_reference().items()}
        data["boxes"].update(data.get("corrected", {}))  # corrections by hand win
        with open(REFERENCE, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1)
    reference, data = load_reference()
    os.makedirs(args.work, exist_ok=True)
    hand, tracked = os.path.join(args.work, "hand"), os.path.join(args.work, "tracked")
    detector, export = os.path.join(args.work, "pretrain.keras"), os.path.join(args.work, "yolo")
    wall = time.perf_counter()
    times = {}
    driver = chromium()
    try:
        # 1. label 20 frames in the Label page
        began = time.perf_counter()
        studio = StudioProcess("label", VIDEO, "--labels", hand, "--classes", "person")
        scale = label_in_browser(driver, studio.url, reference)
        print(studio.stop())
        times["label (browser)"] = time.perf_counter() - began
        store = LabelStore.open(hand)
        labelled = dict(store.items({"hand"}))
        drawn = [iou(labelled[f][0].box, reference[f]) for f in HAND if len(labelled.get(f, [])) == 1]
        print(f"labelled {len(labelled)} frames in the browser ({times['label (browser)']:.0f} s; canvas {scale:.3f} css px per "
              f"frame px); IoU of the dragged boxes with the reference: min {min(drawn):.3f}, mean {np.mean(drawn):.3f}")
        # 2. pre-train
        times["pretrain"], out = tfxai_cli("annotate", "pretrain", VIDEO, "--labels", hand, "--out", detector,
                                           "--epochs", str(args.epochs), "--input-size", str(args.input_size),
                                           "--samples", str(args.samples))
        print(out.splitlines()[-1], f"({times['pretrain']:.0f} s)")
        # 3. track the stretch
        times["track"], out = tfxai_cli("annotate", "track", VIDEO, "--labels", hand, "--out", tracked, "--detector", detector,
                                        "--stop", str(LAST + 1))
        print(out.splitlines()[-1])
        sources = {}
        for frame, boxes in LabelStore.open(tracked).items():
            for box in boxes:
                sources[box.source] = sources.get(box.source, 0) + 1
        # 4. review in the Review page
        began = time.perf_counter()
        studio = StudioProcess("review", VIDEO, "--labels", tracked)
        frames, fixed, ious = review_in_browser(driver, studio.url, reference)
        print(studio.stop())
        times["review (browser)"] = time.perf_counter() - began
    finally:
        driver.quit()
    # 5. export YOLO
    times["export"], out = tfxai_cli("annotate", "export", VIDEO, "--labels", tracked, "--format", "yolo", "--out", export)
    print(out.splitlines()[-1])
    wall = time.perf_counter() - wall
    scored = [v for f, v in ious.items() if v is not None and f not in HAND]
    checked = [f for f in data.get("checked_by_eye", []) if f not in HAND and f in ious]
    after = LabelStore.open(tracked)
    after_iou = [max((iou(b.box, reference[f]) for b in after.boxes(f)), default=0.0) for f in frames if f in reference]
    results = {
        "video": VIDEO, "hand_frames": HAND, "settings": vars(args), "seconds": {k: round(v, 1) for k, v in times.items()},
        "wall_seconds": round(wall, 1), "tracked_frames": len(frames), "sources": sources,
        "fixed_frames": fixed, "frames_to_fix": len(fixed),
        "tracked_not_hand": len(scored), "mean_iou_not_hand": round(float(np.mean(scored)), 3),
        "to_fix_among_checked_by_eye": [f for f in checked if ious[f] < 0.5], "checked_by_eye_scored": len(checked),
        "reviewed": sum(after.get(f).reviewed for f in frames), "min_iou_after_review": round(float(min(after_iou)), 3),
        "yolo_labels": len([n for n in os.listdir(os.path.join(export, "labels")) if n.endswith(".txt")])
        if os.path.isdir(os.path.join(export, "labels")) else None,
    }
    with open(os.path.join(args.work, "results.json"), "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=1)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

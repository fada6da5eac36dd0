"""Labelling and review: keys and mouse in, label files out — all display-free (tested headless).

:class:`LabelSession` (``tfxai annotate label``) draws, moves and deletes
hand boxes; :class:`ReviewSession` (``tfxai annotate review``) steps through
tracked frames to keep, delete or nudge boxes (the report's step 4: a person
removes the clearly wrong labels). Every change is written to the label store
at once (atomically). :func:`run_window` is the only part that needs a display.
"""

import os

import cv2
import numpy as np

from tfxai.annotate.boxes import clip_box
from tfxai.annotate.labels import Label
from tfxai.errors import TfxaiError
from tfxai.io import staged_directory, write_image

__all__ = ["COLORS", "LabelSession", "ReviewSession", "check_window", "draw_labels", "run_window", "write_contact_sheets"]

# RGB colour of a box by why it exists
COLORS = {"hand": (0, 220, 0), "detector": (0, 140, 255), "framediff": (255, 160, 0), "held": (255, 0, 0),
          "edited": (255, 0, 255)}


def draw_labels(frame, labels, classes, selected=None, thickness=2):
    """``frame`` (RGB) with its boxes drawn in their source's colour; the selected one thicker."""
    image = np.ascontiguousarray(frame).copy()
    for i, label in enumerate(labels):
        x, y, w, h = (int(round(v)) for v in label.box)
        color = COLORS.get(label.source, (255, 255, 255))
        cv2.rectangle(image, (x, y), (x + w, y + h), color, thickness * (2 if i == selected else 1))
        text = f"{classes[label.class_id] if label.class_id < len(classes) else label.class_id} {label.source}"
        cv2.putText(image, text, (x, max(y - 4, 10)), cv2.FONT_HERSHEY_SIMPLEX, 0.4, color, 1, cv2.LINE_AA)
    return image


class _Session:
    """Shared state: a video, a label store, the frames to visit and the current frame's boxes."""

    def __init__(self, video, store, frames, scale=1.0):
        if not frames:
            raise TfxaiError("no frames to show: check the label folder and the video")
        self.video, self.store, self.frames = video, store, list(frames)
        self.scale = float(scale)
        self.position = 0
        self.selected = None
        self.done = False
        self._load()

    @property
    def frame_index(self):
        return self.frames[self.position]

    def _load(self):
        record = self.store.get(self.frame_index)
        self.labels, self.reviewed = list(record.boxes), record.reviewed
        self.selected = 0 if self.labels else None

    def save(self):
        """Write the current frame's boxes (a frame left without boxes keeps an empty file)."""
        self.store.put(self.frame_index, self.labels, reviewed=self.reviewed)

    def go(self, position):
        self.position = int(np.clip(position, 0, len(self.frames) - 1))
        self._load()

    def image(self):
        return draw_labels(self.video.read(self.frame_index), self.labels, self.store.classes, self.selected)

    def hit(self, x, y):
        """Index of the smallest box containing frame point (x, y), or None."""
        inside = [(l.box[2] * l.box[3], i) for i, l in enumerate(self.labels)
                  if l.box[0] <= x <= l.box[0] + l.box[2] and l.box[1] <= y <= l.box[1] + l.box[3]]
        return min(inside)[1] if inside else None

    def delete_selected(self):
        if self.selected is None:
            return False
        del self.labels[self.selected]
        self.selected = (min(self.selected, len(self.labels) - 1)) if self.labels else None
        self.save()
        return True


class LabelSession(_Session):
    """Hand labelling of video frames.

    Mouse (display coordinates, divided by ``scale``): left-drag on empty
    space draws a box of the current class; left-drag inside a box moves it;
    right-click deletes the box under the pointer. Keys: ``n``/space next
    frame, ``p`` previous, ``.``/``,`` jump ``jump`` frames, ``c`` next class,
    ``0``-``9`` class (also of the selected box), ``d`` delete the selected
    box, ``q``/Esc quit. Every change is saved at once.
    """

    MIN_SIZE = 3

    def __init__(self, video, store, start=0, jump=10, scale=1.0):
        self.jump = int(jump)
        self.class_id = 0
        self._drag = None
        super().__init__(video, store, range(len(video)), scale)
        self.go(start)

    def handle_key(self, key):
        key = key & 0xFF if key >= 0 else key
        char = chr(key) if 0 <= key < 256 else ""
        moves = {"n": 1, " ": 1, "p": -1, ".": self.jump, ",": -self.jump}
        if char in moves:
            self.go(self.position + moves[char])
        elif char == "c":
            self.class_id = (self.class_id + 1) % len(self.store.classes)
        elif char.isdigit() and int(char) < len(self.store.classes):
            self.class_id = int(char)
            if self.selected is not None:
                self.labels[self.selected].class_id = self.class_id
                self.save()
        elif char == "d":
            self.delete_selected()
        elif char == "q" or key == 27:
            self.done = True
        return char or None

    def handle_mouse(self, event, x, y, flags=0):
        fx, fy = x / self.scale, y / self.scale
        if event == cv2.EVENT_LBUTTONDOWN:
            hit = self.hit(fx, fy)
            if hit is None:
                self._drag = ("draw", fx, fy)
                self.selected = None
            else:
                self.selected = hit
                self._drag = ("move", fx, fy, self.labels[hit].box)
        elif event == cv2.EVENT_MOUSEMOVE and self._drag is not None and self._drag[0] == "move":
            _, sx, sy, (bx, by, bw, bh) = self._drag
            self.labels[self.selected].box = clip_box((bx + fx - sx, by + fy - sy, bw, bh), self.video.width, self.video.height)
        elif event == cv2.EVENT_LBUTTONUP and self._drag is not None:
            if self._drag[0] == "draw":
                self._finish_box(self._drag[1], self._drag[2], fx, fy)
            else:
                label = self.labels[self.selected]
                self.labels[self.selected] = label.moved(label.box, "hand")
                self.save()
            self._drag = None
        elif event == cv2.EVENT_RBUTTONDOWN:
            self.selected = self.hit(fx, fy)
            self.delete_selected()

    def _finish_box(self, x0, y0, x1, y1):
        x0, x1 = sorted((float(np.clip(x0, 0, self.video.width)), float(np.clip(x1, 0, self.video.width))))
        y0, y1 = sorted((float(np.clip(y0, 0, self.video.height)), float(np.clip(y1, 0, self.video.height))))
        if x1 - x0 < self.MIN_SIZE or y1 - y0 < self.MIN_SIZE:
            return
        track = max((label.track for label in self.labels), default=-1) + 1
        self.labels.append(Label((x0, y0, x1 - x0, y1 - y0), self.class_id, track, "hand"))
        self.selected = len(self.labels) - 1
        self.save()

    def save(self):
        if self.labels or self.frame_index in self.store:
            super().save()

    def status(self):
        return (f"frame {self.frame_index}/{len(self.video) - 1} | class {self.store.classes[self.class_id]} | "
                f"{len(self.labels)} boxes | drag draw/move, right-click delete, n/p frame, ./, jump, c class, d delete, q quit")


class ReviewSession(_Session):
    """Step through labelled frames: keep, delete or nudge boxes.

    Keys: space/Enter keep (mark reviewed) and next, ``n`` next, ``p``
    previous, Tab select the next box, ``d`` delete it, ``x`` delete all boxes
    of the frame, ``h``/``j``/``k``/``l`` nudge left/down/up/right by ``step``
    px (capitals: 5x), ``+``/``-`` grow/shrink, ``q``/Esc quit. A nudged box
    becomes ``edited``; every change is saved at once.
    """

    NUDGES = {"h": (-1, 0), "l": (1, 0), "k": (0, -1), "j": (0, 1)}

    def __init__(self, video, store, frames=None, step=2, scale=1.0):
        self.step = float(step)
        super().__init__(video, store, store.frames() if frames is None else frames, scale)

    def handle_key(self, key):
        key = key & 0xFF if key >= 0 else key
        char = chr(key) if 0 <= key < 256 else ""
        if char in (" ", "\r", "\n"):
            self.reviewed = True
            self.save()
            self.go(self.position + 1)
        elif char in ("n", "p"):
            self.go(self.position + (1 if char == "n" else -1))
        elif char == "\t" and self.labels:
            self.selected = 0 if self.selected is None else (self.selected + 1) % len(self.labels)
        elif char == "d":
            self.delete_selected()
        elif char == "x":
            self.labels, self.selected = [], None
            self.save()
        elif char.lower() in self.NUDGES and self.selected is not None:
            dx, dy = self.NUDGES[char.lower()]
            factor = self.step * (5 if char.isupper() else 1)
            self._change(lambda x, y, w, h: (x + dx * factor, y + dy * factor, w, h))
        elif char in ("+", "=", "-") and self.selected is not None:
            d = self.step if char != "-" else -self.step
            self._change(lambda x, y, w, h: (x - d, y - d, max(w + 2 * d, 2.0), max(h + 2 * d, 2.0)))
        elif char == "q" or key == 27:
            self.done = True
        return char or None

    def _change(self, function):
        label = self.labels[self.selected]
        box = clip_box(function(*label.box), self.video.width, self.video.height)
        self.labels[self.selected] = label.moved(box, "edited")
        self.save()

    def status(self):
        state = "reviewed" if self.reviewed else "not reviewed"
        return (f"frame {self.frame_index} ({self.position + 1}/{len(self.frames)}, {state}) | "
                "space keep, n/p, Tab select, d delete, x delete all, hjkl nudge, +/- size, q quit")


def write_contact_sheets(video, store, out, frames=None, every=1, columns=6, rows=6, tile_width=256, overwrite=False):
    """Headless review: sheets of frames with their boxes (coloured by source) as PNGs in folder ``out``.

    Returns the list of sheet file names. A person looks through the sheets
    and deletes wrong boxes with ``tfxai annotate review`` (or the JSON files).
    """
    from tfxai.explain.overlay import caption, contact_sheet

    frames = [f for f in (store.frames() if frames is None else frames)][:: max(int(every), 1)]
    if not frames:
        raise TfxaiError(f"{store.folder} has no labelled frames: track or label some first")
    per_sheet = columns * rows
    names = []
    with staged_directory(out, overwrite=overwrite) as staging:
        for start in range(0, len(frames), per_sheet):
            tiles = []
            for frame in frames[start : start + per_sheet]:
                labels = store.boxes(frame)
                image = draw_labels(video.read(frame), labels, store.classes, thickness=3)
                scale = tile_width / image.shape[1]
                image = cv2.resize(image, (tile_width, int(round(image.shape[0] * scale))), interpolation=cv2.INTER_AREA)
                sources = ",".join(sorted({label.source for label in labels})) or "no boxes"
                tiles.append(caption(image, [f"frame {frame}: {sources}"]))
            name = f"sheet_{start // per_sheet:03d}.png"
            write_image(os.path.join(staging, name), cv2.cvtColor(contact_sheet(tiles, columns), cv2.COLOR_RGB2BGR))
            names.append(name)
    return names


def check_window():
    """Raise :class:`TfxaiError` (saying how to work headless) unless OpenCV can open windows here."""
    from tfxai.attention.human import check_gui

    try:
        check_gui()
    except TfxaiError as error:
        reason = str(error).split(":")[0]
        raise TfxaiError(f"{reason}: install opencv-python and run on a desktop, or work headless "
                         "('tfxai annotate review --sheets', 'tfxai annotate track --init')") from None


def run_window(session, title):
    """Show ``session`` in an OpenCV window until it quits (needs a display and opencv-python with GUI)."""
    check_window()
    try:
        cv2.namedWindow(title, cv2.WINDOW_AUTOSIZE)
    except cv2.error as error:
        raise TfxaiError(f"OpenCV cannot open a window ({str(error).strip().splitlines()[-1]}): install opencv-python") from error
    if hasattr(session, "handle_mouse"):
        cv2.setMouseCallback(title, lambda event, x, y, flags, param: session.handle_mouse(event, x, y, flags))
    try:
        while not session.done:
            image = session.image()
            if session.scale != 1.0:
                image = cv2.resize(image, None, fx=session.scale, fy=session.scale, interpolation=cv2.INTER_LINEAR)
            cv2.imshow(title, cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
            cv2.setWindowTitle(title, session.status())
            key = cv2.waitKey(30)
            if key != -1:
                session.handle_key(key)
            if cv2.getWindowProperty(title, cv2.WND_PROP_VISIBLE) < 1:
                break
    finally:
        cv2.destroyAllWindows()

"""Review without a window: labels drawn on frames, contact sheets of labelled frames.

Labelling and review by hand happen in the web studio (``tfxai studio``,
``tfxai annotate label`` / ``review``; :mod:`tfxai.studio`), which replaced the
OpenCV-window sessions: the package's headless OpenCV cannot open windows.
What stays here needs no display: :func:`draw_labels` and the contact sheets
of ``tfxai annotate review --sheets``.
"""

import os

import cv2
import numpy as np

from tfxai.errors import TfxaiError
from tfxai.io import staged_directory, write_image

__all__ = ["COLORS", "draw_labels", "write_contact_sheets"]

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


def write_contact_sheets(video, store, out, frames=None, every=1, columns=6, rows=6, tile_width=256, overwrite=False):
    """Headless review: sheets of frames with their boxes (coloured by source) as PNGs in folder ``out``.

    Returns the list of sheet file names. A person looks through the sheets
    and deletes wrong boxes in the studio (``tfxai annotate review``) or in the JSON files.
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

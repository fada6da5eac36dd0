"""Boxes as ``(x, y, w, h)`` in pixels (top-left corner, width, height), and the search region.

The report's tracker looks for the object in a square search region (416 px,
YOLOv3's input size) centred on the previous box; :func:`search_region` cuts
that region out of a frame, shifting it inside the frame at the borders and
padding only when the frame is smaller than the region.
"""

import numpy as np

from tfxai.errors import TfxaiError

__all__ = ["check_box", "clip_box", "iou", "region_offset", "search_region"]


def check_box(box, what="box"):
    """``box`` as a tuple of 4 floats with positive width and height, or :class:`TfxaiError`."""
    try:
        x, y, w, h = (float(v) for v in box)
    except (TypeError, ValueError):
        raise TfxaiError(f"{what} {box!r} is not 4 numbers: give it as x,y,w,h in pixels") from None
    if not (np.isfinite([x, y, w, h]).all() and w > 0 and h > 0):
        raise TfxaiError(f"{what} {box!r} needs finite values and a positive width and height: give x,y,w,h in pixels")
    return x, y, w, h


def clip_box(box, width, height):
    """``box`` moved (not shrunk) to lie inside a ``width`` x ``height`` image where it fits."""
    x, y, w, h = box
    x = min(max(x, 0.0), max(width - w, 0.0))
    y = min(max(y, 0.0), max(height - h, 0.0))
    return (float(x), float(y), float(w), float(h))


def iou(a, b):
    """Intersection over union of two ``(x, y, w, h)`` boxes (0 when either is empty)."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return float(inter / union) if union > 0 else 0.0


def region_offset(box, size, width, height):
    """Top-left corner ``(x0, y0)`` of the ``size`` x ``size`` search region for ``box``.

    Centred on the box, then shifted to stay inside the frame; when the frame
    is smaller than ``size`` along an axis the region is centred on the frame
    (and :func:`search_region` pads it).
    """
    cx, cy = box[0] + box[2] / 2.0, box[1] + box[3] / 2.0

    def start(centre, extent):
        if extent < size:
            return -((size - extent) // 2)
        return int(min(max(round(centre - size / 2.0), 0), extent - size))

    return start(cx, width), start(cy, height)


def search_region(frame, box, size=416):
    """Cut the ``size`` x ``size`` search region around ``box`` out of ``frame``.

    Returns
    -------
    crop : array (size, size, ...)
        Same dtype as ``frame``; zeros where the region leaves a frame smaller than ``size``.
    offset : (x0, y0)
        Frame coordinates of the crop's top-left pixel: frame pixel ``(x0 + u, y0 + v)`` is crop pixel ``(u, v)``.
    """
    frame = np.asarray(frame)
    height, width = frame.shape[:2]
    x0, y0 = region_offset(box, size, width, height)
    crop = np.zeros((size, size) + frame.shape[2:], frame.dtype)
    fx0, fy0 = max(x0, 0), max(y0, 0)
    fx1, fy1 = min(x0 + size, width), min(y0 + size, height)
    crop[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0] = frame[fy0:fy1, fx0:fx1]
    return crop, (x0, y0)

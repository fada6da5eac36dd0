"""The report's fallback when the detector finds nothing: follow the changed pixels.

"Take the time difference around the tracked box inside the search region,
binarise it, and move the box toward the side where more pixels changed; when
the counts differ little, do not move" (regional research centre's report on
auto-annotation, section 2.2).
"""

from dataclasses import dataclass

import numpy as np

__all__ = ["FrameDifferenceConfig", "frame_difference_step"]


@dataclass
class FrameDifferenceConfig:
    """Parameters of :func:`frame_difference_step`.

    threshold : grey-level change (0-255) above which a pixel counts as changed.
    margin : width of the strips around the box, as a fraction of the box size (at least 2 px).
    balance : no move along an axis when ``|a - b| <= balance * (a + b)`` for the two strips' counts.
    min_changed : no move along an axis when fewer pixels than this changed in its two strips (noise).
    max_step : largest move per frame, as a fraction of the box size.
    """

    threshold: int = 25
    margin: float = 0.25
    balance: float = 0.2
    min_changed: int = 8
    max_step: float = 0.25


def frame_difference_step(previous, current, box, config=None, bounds=None):
    """Move ``box`` toward the side of the changed pixels around it between two grey frames.

    The binarised difference is counted in four strips just outside the box
    (left, right, above, below, each ``margin`` x the box size wide). An object
    moving right by ``d`` px changes about ``d`` x its height pixels in the
    right strip (its leading edge leaves the box) and none in the left one
    (its trailing edge is still inside the box), so the box moves right by
    the count difference divided by the number of changed rows (at most ``max_step``).
    Counts that differ little leave the box where it is, as in the report.

    Parameters
    ----------
    previous, current : uint8 arrays (H, W)
        Consecutive grey frames.
    box : (x, y, w, h)
        The box on ``previous``.
    config : FrameDifferenceConfig
    bounds : (x0, y0, x1, y1), optional
        Only look inside this rectangle (the search region); default the whole frame.

    Returns
    -------
    (box, moved)
        The box on ``current`` (same size) and whether it moved.
    """
    config = config or FrameDifferenceConfig()
    height, width = current.shape[:2]
    x, y, w, h = (float(v) for v in box)
    bx0, by0, bx1, by1 = bounds if bounds is not None else (0, 0, width, height)
    mx, my = max(config.margin * w, 2.0), max(config.margin * h, 2.0)
    x0, y0 = int(max(np.floor(x - mx), bx0, 0)), int(max(np.floor(y - my), by0, 0))
    x1, y1 = int(min(np.ceil(x + w + mx), bx1, width)), int(min(np.ceil(y + h + my), by1, height))
    if x1 <= x0 or y1 <= y0:
        return tuple(box), False
    a = previous[y0:y1, x0:x1].astype(np.int16)
    b = current[y0:y1, x0:x1].astype(np.int16)
    changed = (np.abs(b - a) > config.threshold).astype(np.int32)
    # box edges in window coordinates (pixel centres inside the box belong to it)
    left, right = int(round(x)) - x0, int(round(x + w)) - x0
    top, bottom = int(round(y)) - y0, int(round(y + h)) - y0
    rows = changed[max(top, 0) : max(bottom, 0)]
    columns = changed[:, max(left, 0) : max(right, 0)]
    dx = _axis_step(rows[:, : max(left, 0)], rows[:, max(right, 0) :], 1, config, w)
    dy = _axis_step(columns[: max(top, 0)], columns[max(bottom, 0) :], 0, config, h)
    if dx == 0.0 and dy == 0.0:
        return tuple(box), False
    new = (min(max(x + dx, 0.0), max(width - w, 0.0)), min(max(y + dy, 0.0), max(height - h, 0.0)), w, h)
    return new, new[:2] != (x, y)


def _axis_step(before, after, axis, config, size):
    """Signed move along one axis from the changed pixels of the strips before and after the box.

    The count difference is divided by the number of lines (rows for a
    horizontal move) that changed in either strip: the displacement of a
    rigid edge, also when only part of the box (a person's legs) moves.
    """
    a, b = float(before.sum()), float(after.sum())
    if a + b < config.min_changed or abs(b - a) <= config.balance * (a + b):
        return 0.0
    lines = max(int(np.count_nonzero(before.any(axis=axis) | after.any(axis=axis))), 1)
    return float(np.clip((b - a) / lines, -config.max_step * size, config.max_step * size))

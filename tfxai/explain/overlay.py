"""Pictures of explanations: JET overlays, captions and contact sheets (OpenCV)."""

import cv2
import numpy as np

from tfxai.errors import TfxaiError

__all__ = ["overlay", "to_uint8_rgb", "caption", "contact_sheet"]


def to_uint8_rgb(image):
    """An (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) image as uint8 RGB.

    Floats are taken as [0, 1] when their maximum is <= 1, else as [0, 255].
    """
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    if image.ndim != 3 or image.shape[-1] not in (3, 4):
        raise TfxaiError(f"cannot draw an image of shape {image.shape}: pass (H, W), (H, W, 1), (H, W, 3) or (H, W, 4)")
    image = image[..., :3]
    if image.dtype != np.uint8:
        image = image.astype(np.float32)
        if image.size and np.nanmax(image) <= 1.0:
            image = image * 255.0
        image = np.clip(np.nan_to_num(image), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(image)


def overlay(image, heatmap, alpha=0.4, colormap=cv2.COLORMAP_JET):
    """Blend a [0, 1] heatmap, coloured with OpenCV's JET map, over an image.

    Parameters
    ----------
    image : array (H, W[, C])
        uint8 in [0, 255] or float in [0, 1] / [0, 255].
    heatmap : array (h, w)
        Values in [0, 1]; resized to the image if needed.
    alpha : float
        Weight of the heatmap in the blend.

    Returns
    -------
    numpy.ndarray
        uint8 RGB (H, W, 3).
    """
    if not 0.0 <= alpha <= 1.0:
        raise TfxaiError(f"alpha must be in [0, 1], got {alpha}")
    rgb = to_uint8_rgb(image)
    heat = np.asarray(heatmap, dtype=np.float32)
    if heat.ndim != 2:
        raise TfxaiError(f"heatmap must be 2-D (H, W), got shape {heat.shape}")
    if heat.shape != rgb.shape[:2]:
        heat = cv2.resize(heat, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)
    heat = np.clip(np.nan_to_num(heat), 0.0, 1.0)
    colored = cv2.applyColorMap((heat * 255).astype(np.uint8), colormap)
    colored = cv2.cvtColor(colored, cv2.COLOR_BGR2RGB)
    blended = (1.0 - alpha) * rgb.astype(np.float32) + alpha * colored.astype(np.float32)
    return np.clip(blended, 0, 255).astype(np.uint8)


def caption(image, lines, min_width=160, scale=0.4, color=(255, 255, 255), background=(32, 32, 32)):
    """Return the image (upscaled to at least ``min_width``) with text lines written under it."""
    rgb = to_uint8_rgb(image)
    if rgb.shape[1] < min_width:
        factor = int(np.ceil(min_width / rgb.shape[1]))
        rgb = cv2.resize(rgb, (rgb.shape[1] * factor, rgb.shape[0] * factor), interpolation=cv2.INTER_NEAREST)
    line_height = int(22 * scale / 0.4)
    strip = np.zeros((line_height * len(lines) + 4, rgb.shape[1], 3), np.uint8)
    strip[:] = background
    for row, text in enumerate(lines):
        cv2.putText(strip, str(text), (3, line_height * (row + 1) - 6), cv2.FONT_HERSHEY_SIMPLEX, scale, color, 1, cv2.LINE_AA)
    return np.concatenate([rgb, strip], axis=0)


def contact_sheet(tiles, columns=8, gap=4, background=255):
    """Arrange uint8 RGB tiles (any sizes) in a grid; returns one uint8 RGB image."""
    tiles = [to_uint8_rgb(t) for t in tiles]
    if not tiles:
        raise TfxaiError("no images for the contact sheet: explain at least one image")
    columns = max(1, min(columns, len(tiles)))
    height = max(t.shape[0] for t in tiles)
    width = max(t.shape[1] for t in tiles)
    rows = int(np.ceil(len(tiles) / columns))
    sheet = np.full((rows * (height + gap) + gap, columns * (width + gap) + gap, 3), background, np.uint8)
    for index, tile in enumerate(tiles):
        r, c = divmod(index, columns)
        y, x = gap + r * (height + gap), gap + c * (width + gap)
        sheet[y : y + tile.shape[0], x : x + tile.shape[1]] = tile
    return sheet

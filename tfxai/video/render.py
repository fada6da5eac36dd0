"""Pictures and movies of video explanations: spatial attention in JET over each frame, temporal attention as a strip.

Red is important (JET of 1), blue unimportant (JET of 0), as in the thesis's figure 3.
"""

import os

import cv2
import numpy as np

from tfxai.errors import TfxaiError
from tfxai.explain.overlay import overlay, to_uint8_rgb
from tfxai.io import atomic_path, write_image

__all__ = ["VIDEO_FORMATS", "clip_panel", "frame_sequence", "jet_colours", "write_clip_explanation"]

VIDEO_FORMATS = ("mp4", "gif")
STRIP = 10  # strip height in pixels


def jet_colours(values):
    """RGB uint8 (n, 3) JET colours of values in [0, 1] (1 = red)."""
    levels = (np.clip(np.asarray(values, np.float32), 0, 1) * 255).astype(np.uint8).reshape(-1, 1)
    return cv2.cvtColor(cv2.applyColorMap(levels, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB).reshape(-1, 3)


def _check(frames, spatial, temporal):
    frames, spatial, temporal = np.asarray(frames), np.asarray(spatial, np.float32), np.asarray(temporal, np.float32)
    if spatial.shape != frames.shape[:3] or temporal.shape != frames.shape[:1]:
        raise TfxaiError(f"attention shapes {spatial.shape} and {temporal.shape} do not match the clip {frames.shape}: pass (T, H, W) and (T,)")
    return frames, spatial, temporal


def clip_panel(frames, spatial, temporal, alpha=0.4, gap=2):
    """One RGB image: every frame with its spatial attention, each above a strip in the colour of its temporal weight."""
    frames, spatial, temporal = _check(frames, spatial, temporal)
    colours = jet_colours(temporal)
    tiles = []
    for frame, heat, colour in zip(frames, spatial, colours):
        tile = overlay(frame, heat, alpha)
        strip = np.broadcast_to(colour, (STRIP, tile.shape[1], 3))
        tiles.append(np.concatenate([tile, strip], axis=0))
        tiles.append(np.full((tile.shape[0] + STRIP, gap, 3), 255, np.uint8))
    return np.concatenate(tiles[:-1], axis=1)


def frame_sequence(frames, spatial, temporal, alpha=0.4):
    """One RGB image per frame: its spatial overlay above the clip's temporal strip, the current frame outlined in white."""
    frames, spatial, temporal = _check(frames, spatial, temporal)
    width = frames.shape[2]
    edges = np.linspace(0, width, len(temporal) + 1).astype(int)
    strip = np.zeros((STRIP, width, 3), np.uint8)
    for (left, right), colour in zip(zip(edges[:-1], edges[1:]), jet_colours(temporal)):
        strip[:, left:right] = colour
    images = []
    for index, (frame, heat) in enumerate(zip(frames, spatial)):
        marked = strip.copy()
        cv2.rectangle(marked, (int(edges[index]), 0), (int(edges[index + 1]) - 1, STRIP - 1), (255, 255, 255), 1)
        images.append(np.concatenate([overlay(to_uint8_rgb(frame), heat, alpha), marked], axis=0))
    return images


def _write_movie(path, images, fps):
    with atomic_path(path) as tmp:
        if path.endswith(".gif"):
            try:
                from PIL import Image
            except ImportError as error:
                raise TfxaiError("GIF output needs Pillow: pip install pillow, or use --format mp4") from error

            first, *rest = [Image.fromarray(image) for image in images]
            first.save(tmp, save_all=True, append_images=rest, duration=int(1000 / fps), loop=0)
            return
        height, width = images[0].shape[:2]
        writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (width, height))
        if not writer.isOpened():
            raise TfxaiError(f"OpenCV cannot write {path}: use --format gif")
        for image in images:
            writer.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        writer.release()


def write_clip_explanation(folder, name, frames, spatial, temporal, alpha=0.4, fps=8.0, video_format="mp4", scale=1):
    """Write ``<name>.png`` (:func:`clip_panel`) and ``<name>.mp4`` or ``.gif`` (:func:`frame_sequence`) into ``folder``.

    ``scale`` enlarges small clips (nearest neighbour) so the pictures are readable.
    """
    if video_format not in VIDEO_FORMATS:
        raise TfxaiError(f"unknown video format {video_format!r}: choose mp4 or gif")
    frames = to_uint8_frames(frames, scale)
    spatial = np.stack([cv2.resize(np.asarray(m, np.float32), frames.shape[2:0:-1], interpolation=cv2.INTER_LINEAR) for m in spatial])
    write_image(os.path.join(folder, f"{name}.png"), cv2.cvtColor(clip_panel(frames, spatial, temporal, alpha), cv2.COLOR_RGB2BGR))
    _write_movie(os.path.join(folder, f"{name}.{video_format}"), frame_sequence(frames, spatial, temporal, alpha), fps)


def to_uint8_frames(frames, scale=1):
    """Frames (T, H, W[, C]) as uint8 RGB, enlarged ``scale`` times."""
    out = [to_uint8_rgb(frame) for frame in np.asarray(frames)]
    if scale > 1:
        out = [cv2.resize(f, (f.shape[1] * scale, f.shape[0] * scale), interpolation=cv2.INTER_NEAREST) for f in out]
    return np.stack(out)

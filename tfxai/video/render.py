"""Pictures and movies of video explanations: spatial attention in JET over each frame, temporal attention as a strip.

Red is important (JET of 1), blue unimportant (JET of 0), as in the thesis's figure 3.
"""

import os

import cv2
import numpy as np

from tfxai.errors import TfxaiError
from tfxai.explain.overlay import overlay, to_uint8_rgb
from tfxai.io import atomic_path, write_image

__all__ = ["VIDEO_FORMATS", "clip_panel", "draw_caption", "frame_sequence", "jet_colours", "strip_height", "write_clip_explanation"]

VIDEO_FORMATS = ("mp4", "gif")
STRIP = 10  # strip height of the panel's tiles, in pixels
PANEL_HEIGHT = 240  # panel tiles of taller frames are shrunk to this height (aspect ratio kept)


def jet_colours(values):
    """RGB uint8 (n, 3) JET colours of values in [0, 1] (1 = red)."""
    levels = (np.clip(np.asarray(values, np.float32), 0, 1) * 255).astype(np.uint8).reshape(-1, 1)
    return cv2.cvtColor(cv2.applyColorMap(levels, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB).reshape(-1, 3)


def draw_caption(image, text):
    """A copy of RGB uint8 ``image`` with ``text`` in white, outlined in black (readable on any background), top left.

    The font is sized to the image (about 1/30 of its width per 20 characters) and shrunk until the line fits.
    """
    image = np.ascontiguousarray(image, np.uint8).copy()
    height, width = image.shape[:2]
    font, margin = cv2.FONT_HERSHEY_SIMPLEX, max(2, width // 100)
    scale = float(np.clip(width / 800, 0.3, 1.5))
    thickness = max(1, int(round(scale * 1.5)))
    while True:
        (text_width, text_height), _ = cv2.getTextSize(text, font, scale, thickness)
        if text_width + 2 * margin + 2 <= width or scale <= 0.2:
            break
        scale *= 0.9
    x, y = margin + 1, margin + text_height + 1
    # the outline: the same strokes in black shifted by a pixel each way (a thicker pen would lay the glyphs out wider)
    for dx, dy in ((-1, -1), (0, -1), (1, -1), (-1, 0), (1, 0), (-1, 1), (0, 1), (1, 1)):
        cv2.putText(image, text, (x + dx, y + dy), font, scale, (0, 0, 0), thickness, cv2.LINE_AA)
    cv2.putText(image, text, (x, y), font, scale, (255, 255, 255), thickness, cv2.LINE_AA)
    return image


def _check(frames, spatial, temporal, captions=None):
    frames, spatial, temporal = np.asarray(frames), np.asarray(spatial, np.float32), np.asarray(temporal, np.float32)
    if spatial.shape[:1] != frames.shape[:1] or spatial.ndim != 3 or temporal.shape != frames.shape[:1]:
        raise TfxaiError(f"attention shapes {spatial.shape} and {temporal.shape} do not match the clip {frames.shape}: pass (T, h, w) and (T,)")
    if captions is not None and len(captions) != len(frames):
        raise TfxaiError(f"{len(captions)} captions for {len(frames)} frames: pass one caption per frame")
    return frames, spatial, temporal


def _overlays(frames, spatial, alpha):
    """Each frame with its map resized to the frame (W x H: the model's input was the whole frame resized) in JET."""
    return [overlay(to_uint8_rgb(frame), heat, alpha) for frame, heat in zip(frames, spatial)]


def _panel_tile(image, colour, caption=None, max_height=PANEL_HEIGHT):
    """One tile of :func:`clip_panel`: ``image`` (shrunk to ``max_height``, captioned) above a strip of ``colour``."""
    if image.shape[0] > max_height:
        size = (max(1, int(round(image.shape[1] * max_height / image.shape[0]))), int(max_height))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    if caption is not None:
        image = draw_caption(image, caption)
    return np.concatenate([image, np.broadcast_to(colour, (STRIP, image.shape[1], 3))], axis=0)


def _join(tiles, gap=2):
    """The tiles side by side, ``gap`` white columns apart."""
    pieces = []
    for tile in tiles:
        pieces += [tile, np.full((tile.shape[0], gap, 3), 255, np.uint8)]
    return np.concatenate(pieces[:-1], axis=1)


def clip_panel(frames, spatial, temporal, alpha=0.4, gap=2, captions=None, max_height=PANEL_HEIGHT):
    """One RGB image: every frame with its spatial attention, each above a strip in the colour of its temporal weight.

    Tiles keep the frames' aspect ratio; frames taller than ``max_height`` are shrunk to it.
    """
    frames, spatial, temporal = _check(frames, spatial, temporal, captions)
    tiles = [_panel_tile(tile, colour, None if captions is None else captions[index], max_height)
             for index, (tile, colour) in enumerate(zip(_overlays(frames, spatial, alpha), jet_colours(temporal)))]
    return _join(tiles, gap)


def strip_height(frame_height):
    """Rows of the temporal strip drawn over the bottom of a movie frame."""
    return max(4, int(frame_height) // 30)


def _temporal_strip(temporal, height, width):
    """``(strip, cell edges)``: the clip's temporal weights as JET cells across a ``width``-wide strip (:func:`strip_height` rows)."""
    edges = np.linspace(0, width, len(temporal) + 1).astype(int)
    strip = np.zeros((strip_height(height), width, 3), np.uint8)
    for (left, right), colour in zip(zip(edges[:-1], edges[1:]), jet_colours(temporal)):
        strip[:, left:right] = colour
    return strip, edges


def _movie_image(image, strip, edges, index, caption=None):
    """``image`` (changed in place) with ``strip`` over its bottom rows, cell ``index`` outlined in white, and ``caption``."""
    rows = strip.shape[0]
    marked = strip.copy()
    cv2.rectangle(marked, (int(edges[index]), 0), (int(edges[index + 1]) - 1, rows - 1), (255, 255, 255), 1)
    image[image.shape[0] - rows:] = marked
    return draw_caption(image, caption) if caption is not None else image


def frame_sequence(frames, spatial, temporal, alpha=0.4, captions=None):
    """One RGB image per frame, as large as the frame: its spatial overlay, ``captions[i]`` top left, and the clip's
    temporal strip over the bottom rows (:func:`strip_height`), the current frame's cell outlined in white."""
    frames, spatial, temporal = _check(frames, spatial, temporal, captions)
    strip, edges = _temporal_strip(temporal, *frames.shape[1:3])
    return [_movie_image(image, strip, edges, index, None if captions is None else captions[index])
            for index, image in enumerate(_overlays(frames, spatial, alpha))]


def _write_movie(path, images, fps):
    """Write the RGB ``images`` (any iterable: each is encoded as it comes) as an .mp4 or a .gif, atomically."""
    images = iter(images)
    with atomic_path(path) as tmp:
        if path.endswith(".gif"):
            try:
                from PIL import Image
            except ImportError as error:
                raise TfxaiError("GIF output needs Pillow: pip install pillow, or use --format mp4") from error

            # Pillow keeps a GIF's frames (palettised, 1 byte a pixel) until the file is written, to store only what changes
            Image.fromarray(next(images)).save(tmp, save_all=True, append_images=(Image.fromarray(image) for image in images),
                                               duration=int(1000 / fps), loop=0)
            return
        writer = None
        try:
            for image in images:
                if writer is None:
                    height, width = image.shape[:2]
                    writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (width, height))
                    if not writer.isOpened():
                        raise TfxaiError(f"OpenCV cannot write {path}: use --format gif")
                writer.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        finally:
            if writer is not None:
                writer.release()


def write_clip_explanation(folder, name, frames, spatial, temporal, alpha=0.4, fps=8.0, video_format="mp4", scale=1,
                           captions=None):
    """Write ``<name>.png`` (:func:`clip_panel`) and ``<name>.mp4`` or ``.gif`` (:func:`frame_sequence`) into ``folder``.

    ``frames`` are the source's own frames (any size; an array or any iterable, e.g. a generator reading them
    one by one): the maps ``(T, h, w)`` are resized to them. Each frame is drawn and written to the movie as it
    comes, so only the panel's tiles stay in memory. ``scale`` enlarges small frames (nearest neighbour) so the
    pictures are readable; ``captions`` (one per frame, e.g. ``class walk p=0.93 frame 123``) are drawn on every frame.
    """
    if video_format not in VIDEO_FORMATS:
        raise TfxaiError(f"unknown video format {video_format!r}: choose mp4 or gif")
    spatial, temporal = np.asarray(spatial, np.float32), np.asarray(temporal, np.float32)
    if spatial.ndim != 3 or temporal.shape != spatial.shape[:1]:
        raise TfxaiError(f"attention shapes {spatial.shape} and {temporal.shape} do not match: pass (T, h, w) and (T,)")
    if captions is not None and len(captions) != len(spatial):
        raise TfxaiError(f"{len(captions)} captions for {len(spatial)} frames: pass one caption per frame")
    colours, tiles = jet_colours(temporal), []

    def images():
        shape = None
        for index, frame in enumerate(frames):
            if index >= len(spatial):
                raise TfxaiError(f"more frames than the {len(spatial)} attention maps: pass one map per frame")
            image = _scaled(frame, scale)
            if shape is None:
                shape = image.shape
                strip, edges = _temporal_strip(temporal, *shape[:2])
            elif image.shape != shape:
                raise TfxaiError(f"frame {index} is {image.shape[1]}x{image.shape[0]}, not {shape[1]}x{shape[0]} as the first: "
                                 "pass frames of one size")
            heat = cv2.resize(spatial[index], (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
            layered = overlay(image, heat, alpha)
            caption = None if captions is None else captions[index]
            tiles.append(_panel_tile(layered, colours[index], caption))
            yield _movie_image(layered, strip, edges, index, caption)
        if len(tiles) != len(spatial):
            raise TfxaiError(f"{len(tiles)} frames for {len(spatial)} attention maps: pass one frame per map")

    _write_movie(os.path.join(folder, f"{name}.{video_format}"), images(), fps)
    write_image(os.path.join(folder, f"{name}.png"), cv2.cvtColor(_join(tiles), cv2.COLOR_RGB2BGR))


def _scaled(frame, scale=1):
    """One frame as uint8 RGB, enlarged ``scale`` times (nearest neighbour)."""
    frame = to_uint8_rgb(frame)
    if scale > 1:
        frame = cv2.resize(frame, (frame.shape[1] * scale, frame.shape[0] * scale), interpolation=cv2.INTER_NEAREST)
    return frame


def to_uint8_frames(frames, scale=1):
    """Frames (T, H, W[, C]) as uint8 RGB, enlarged ``scale`` times."""
    return np.stack([_scaled(frame, scale) for frame in np.asarray(frames)])

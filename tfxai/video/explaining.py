"""Explaining one video with any video model: clips, attentions (own or Grad-CAM), pictures and a summary."""

import os

import numpy as np

from tfxai.errors import TfxaiError
from tfxai.io import write_json

__all__ = ["CLIP_BATCH", "clip_attention", "explain_video"]


def clip_attention(model, clips):
    """``(spatial (n, T, H, W), temporal (n, T), probabilities (n, K))`` of ``clips`` (n, T, H, W, C).

    ST-ABN: its own attentions. Another classifier: Grad-CAM (5-D features)
    and, as temporal weights, each frame's mean Grad-CAM over the clip's largest.
    """
    if hasattr(model, "attention") and hasattr(model, "attention_branch"):
        attention = model.attention(clips)
        return np.asarray(attention["spatial"]), np.asarray(attention["temporal"]), np.asarray(model(clips, training=False))
    from tfxai.explain import GradCAM
    from tfxai.explain.protocol import explain_in_batches

    spatial, probabilities = explain_in_batches(GradCAM(model), clips, batch_size=4)
    energy = spatial.mean(axis=(2, 3))
    return spatial, energy / np.maximum(energy.max(axis=1, keepdims=True), 1e-7), probabilities


def _clip_shape(model):
    from tfxai.io.export import model_input_shape

    shape = model_input_shape(model)[1:]
    if len(shape) != 4:
        raise TfxaiError(
            f"{type(model).__name__} takes inputs of shape {tuple(shape)}, not clips (T, H, W, C): "
            "pass a video classifier (input (frames, H, W, C)), e.g. one written by 'tfxai train video'"
        )
    return shape


#: Clips read and explained together (the Grad-CAM batch of :func:`clip_attention`): memory holds this many clips at any ``clips``.
CLIP_BATCH = 4


def explain_video(model, path, folder, class_names=None, clips=2, stride=1, video_format="mp4", alpha=0.4, scale=1, progress=None):
    """Write ``clip<i>.png`` / ``.mp4|.gif`` per clip and ``summary.json`` into ``folder``; returns the summary.

    The pictures show the source's own frames (its resolution and aspect ratio, not the model's
    input): each map is resized back to the frame, and every frame carries
    ``class <name> p=<probability> frame <index>`` (the clip's predicted class and its probability).

    Clips are read and explained :data:`CLIP_BATCH` at a time; each clip's frames are then read again one by
    one, drawn and written as they come, so memory holds a few clips at the model's size and one source
    frame, whatever the video's length and ``clips``. ``progress(total)`` -> a tqdm-like bar (``update(n)``,
    ``close()``) or None, counting clips.
    """
    from tfxai.video.data import check_long_enough, clip_starts, read_clip, video_source

    frames, height, width, channels = _clip_shape(model)
    source = video_source(path)
    check_long_enough([source], frames, stride)
    starts = clip_starts(source.frame_count, frames, stride, clips)
    records, rows, size, names = [], [], None, None
    bar = progress(len(starts)) if progress is not None else None
    try:
        for first in range(0, len(starts), CLIP_BATCH):
            group = starts[first:first + CLIP_BATCH]
            batch = np.stack([read_clip(source, start, frames, stride, (height, width), channels) for start in group]).astype(np.float32)
            spatial, temporal, probabilities = clip_attention(model, batch)
            names = names or (list(class_names) if class_names else [str(i) for i in range(probabilities.shape[1])])
            for offset, start in enumerate(group):
                record, size = _write_clip(folder, f"clip{first + offset + 1}", path, source.frame_count, start, frames, stride,
                                           spatial[offset], temporal[offset], probabilities[offset], names,
                                           alpha=alpha, video_format=video_format, scale=scale)
                records.append(record)
                rows.append(probabilities[offset])
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    mean = np.stack(rows).mean(axis=0)
    summary = {
        "video": os.fspath(path),
        "size": size,
        "model_input": [int(width), int(height)],
        "predicted": names[int(mean.argmax())],
        "probability": float(mean.max()),
        "probabilities": {name: float(p) for name, p in zip(names, mean)},
        "clips": records,
    }
    write_json(os.path.join(folder, "summary.json"), summary)
    return summary


def _write_clip(folder, clip_name, path, frame_count, start, frames, stride, spatial, temporal, probabilities, names, **drawing):
    """Draw one clip from its source frames, read one by one; ``(its summary record, the source's [width, height])``."""
    from tfxai.data.video import iter_frames
    from tfxai.video.render import write_clip_explanation

    indices = [min(int(start) + i * int(stride), frame_count - 1) for i in range(int(frames))]
    predicted, probability = names[int(probabilities.argmax())], float(probabilities.max())
    captions = [f"class {predicted} p={probability:.2f} frame {i}" for i in indices]
    size = []

    def originals():
        for frame in iter_frames(path, indices):
            size[:] = size or [int(frame.shape[1]), int(frame.shape[0])]
            yield frame

    write_clip_explanation(folder, clip_name, originals(), spatial, temporal, captions=captions, **drawing)
    record = {"first_frame": int(start), "stride": int(stride), "frames": indices,
              "temporal_attention": [float(v) for v in temporal],
              "predicted": predicted, "probability": probability,
              "probabilities": {name: float(p) for name, p in zip(names, probabilities)},
              "captions": captions}
    return record, size

"""Explaining one video with any video model: clips, attentions (own or Grad-CAM), pictures and a summary."""

import os

import numpy as np

from tfxai.errors import TfxaiError
from tfxai.io import write_json

__all__ = ["clip_attention", "explain_video"]


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


def explain_video(model, path, folder, class_names=None, clips=2, stride=1, video_format="mp4", alpha=0.4, scale=1):
    """Write ``clip<i>.png`` / ``.mp4|.gif`` per clip and ``summary.json`` into ``folder``; returns the summary.

    The pictures show the source's own frames (its resolution and aspect ratio, not the model's
    input): each map is resized back to the frame, and every frame carries
    ``class <name> p=<probability> frame <index>`` (the clip's predicted class and its probability).
    """
    from tfxai.data.video import read_frames
    from tfxai.video.data import check_long_enough, clip_starts, read_clip, video_source
    from tfxai.video.render import write_clip_explanation

    frames, height, width, channels = _clip_shape(model)
    source = video_source(path)
    check_long_enough([source], frames, stride)
    starts = clip_starts(source.frame_count, frames, stride, clips)
    batch = np.stack([read_clip(source, start, frames, stride, (height, width), channels) for start in starts]).astype(np.float32)
    spatial, temporal, probabilities = clip_attention(model, batch)
    names = list(class_names) if class_names else [str(i) for i in range(probabilities.shape[1])]
    mean = probabilities.mean(axis=0)
    records, size = [], None
    for index, start in enumerate(starts):
        indices = [min(int(start) + i * int(stride), source.frame_count - 1) for i in range(int(frames))]
        predicted, probability = names[int(probabilities[index].argmax())], float(probabilities[index].max())
        captions = [f"class {predicted} p={probability:.2f} frame {i}" for i in indices]
        originals = read_frames(path, indices)
        size = [int(originals.shape[2]), int(originals.shape[1])]
        write_clip_explanation(folder, f"clip{index + 1}", originals, spatial[index], temporal[index], alpha,
                               video_format=video_format, scale=scale, captions=captions)
        records.append({"first_frame": int(start), "stride": int(stride), "frames": indices,
                        "temporal_attention": [float(v) for v in temporal[index]],
                        "predicted": predicted, "probability": probability,
                        "probabilities": {name: float(p) for name, p in zip(names, probabilities[index])},
                        "captions": captions})
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

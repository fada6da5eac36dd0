"""Evaluating video models: multi-clip inference (the thesis's table 1, "32" and "32+32") and the
attention-inversion table (the thesis's table 2)."""

import numpy as np
import tensorflow as tf

from tfxai.errors import TfxaiError

__all__ = ["INVERSIONS", "clip_average", "evaluate_videos", "format_inversion_table", "inversion_table", "top_k_accuracy",
           "video_scores"]

#: (spatial inverted, temporal inverted) for the four rows of the table
INVERSIONS = ((False, False), (True, False), (False, True), (True, True))


def _probabilities(model, clips, batch_size, **forward):
    if forward:
        run = lambda chunk: model.forward(chunk, training=False, **forward)["probabilities"]  # noqa: E731
    else:
        run = lambda chunk: model(chunk, training=False)  # noqa: E731
    parts = [np.asarray(run(tf.constant(clips[i : i + batch_size], tf.float32))) for i in range(0, len(clips), batch_size)]
    return np.concatenate(parts)


def clip_average(model, clips, batch_size=8):
    """Scores of videos from several clips each: ``clips`` (videos, clips, T, H, W, C) -> mean probabilities (videos, K).

    The thesis's "32+32 frames": two 32-frame clips of one video, scores averaged.
    """
    clips = np.asarray(clips, np.float32)
    if clips.ndim != 6:
        raise TfxaiError(f"clips must be (videos, clips per video, T, H, W, C), got shape {clips.shape}: add the clips axis")
    videos, per_video = clips.shape[:2]
    flat = _probabilities(model, clips.reshape((videos * per_video,) + clips.shape[2:]), batch_size)
    return flat.reshape(videos, per_video, -1).mean(axis=1)


def top_k_accuracy(probabilities, labels, k):
    """Fraction of samples whose label is among the ``k`` highest probabilities."""
    top = np.argsort(-np.asarray(probabilities), axis=1)[:, :k]
    return float(np.mean(np.any(top == np.asarray(labels)[:, None], axis=1)))


def _accuracies(probabilities, labels, num_classes):
    row = {"top1": top_k_accuracy(probabilities, labels, 1)}
    if num_classes > 5:
        row["top5"] = top_k_accuracy(probabilities, labels, 5)
    return row


def video_scores(model, sources, frames, stride, size, clips_per_video, channels=3, batch_size=8):
    """Probabilities of whole videos: ``(centred clip (videos, K), mean over clips_per_video clips (videos, K))``.

    ``sources`` are :class:`tfxai.video.data.VideoSource`; the clips are spread
    evenly over each video (:func:`tfxai.video.data.clip_starts`, the first
    at frame 0 and the last ending on the last frame), read ``batch_size``
    videos at a time. With ``clips_per_video=1`` both scores are the centred clip's.
    """
    from tfxai.video.data import read_video_clips

    if int(clips_per_video) < 1:
        raise TfxaiError(f"clips_per_video must be at least 1, got {clips_per_video}")
    centre, average = [], []
    for first in range(0, len(sources), batch_size):
        group = sources[first : first + batch_size]
        centred = np.stack([read_video_clips(s, frames, stride, size, 1, channels)[0] for s in group]).astype(np.float32)
        centre.append(_probabilities(model, centred, batch_size))
        if int(clips_per_video) == 1:
            average.append(centre[-1])
            continue
        spread = np.stack([read_video_clips(s, frames, stride, size, clips_per_video, channels) for s in group]).astype(np.float32)
        average.append(clip_average(model, spread, batch_size))
    return np.concatenate(centre), np.concatenate(average)


def evaluate_videos(model, sources, labels, frames, stride, size, clips_per_video, channels=3, batch_size=8):
    """Top-1 (and, beyond 5 classes, top-5) of the centred clip and of the mean over ``clips_per_video`` clips, side by side.

    Returns ``{"videos", "clips_per_video", "centre_clip": {"top1"[, "top5"]}, "clip_average": {...}}``:
    the thesis's table 1 rows "32" (one clip) and "32+32" (two clips, scores averaged).
    """
    labels = np.asarray(labels)
    if len(sources) != len(labels) or len(sources) == 0:
        raise TfxaiError(f"got {len(sources)} videos and {len(labels)} labels: pass one label per video (at least one)")
    centre, average = video_scores(model, sources, frames, stride, size, clips_per_video, channels, batch_size)
    num_classes = centre.shape[-1]
    return {"videos": int(len(labels)), "clips_per_video": int(clips_per_video),
            "centre_clip": _accuracies(centre, labels, num_classes), "clip_average": _accuracies(average, labels, num_classes)}


def inversion_table(model, clips, labels, batch_size=8):
    """Accuracy of ST-ABN with its attention inverted at test time (M -> 1 - M), the thesis's table 2.

    Returns four rows (none, spatial inverted, temporal inverted, both), each
    ``{"spatial_inverted", "temporal_inverted", "top1"[, "top5"]}``; top-5 only
    with more than 5 classes (otherwise it is always 1).
    """
    if not hasattr(model, "forward") or not hasattr(model, "attention_branch"):
        raise TfxaiError(f"{type(model).__name__} has no spatio-temporal attention to invert: pass a tfxai.video.STABN")
    clips, labels = np.asarray(clips, np.float32), np.asarray(labels)
    if len(clips) != len(labels) or len(clips) == 0:
        raise TfxaiError(f"got {len(clips)} clips and {len(labels)} labels: pass one label per clip (at least one)")
    rows = []
    for spatial, temporal in INVERSIONS:
        probabilities = _probabilities(model, clips, batch_size, invert_spatial=spatial, invert_temporal=temporal)
        rows.append({"spatial_inverted": spatial, "temporal_inverted": temporal, **_accuracies(probabilities, labels, model.num_classes)})
    return rows


def format_inversion_table(rows):
    """The rows as a Markdown table (accuracies in %)."""
    top5 = "top5" in rows[0]
    lines = ["| spatial inverted | temporal inverted | top-1 |" + (" top-5 |" if top5 else ""),
             "|---|---|---|" + ("---|" if top5 else "")]
    for row in rows:
        cells = ["yes" if row["spatial_inverted"] else "", "yes" if row["temporal_inverted"] else "", f"{100 * row['top1']:.1f}"]
        if top5:
            cells.append(f"{100 * row['top5']:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)

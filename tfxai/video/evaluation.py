"""Evaluating video models: multi-clip inference and the attention-inversion table (the thesis's table 2)."""

import numpy as np
import tensorflow as tf

from tfxai.errors import TfxaiError

__all__ = ["INVERSIONS", "clip_average", "format_inversion_table", "inversion_table", "top_k_accuracy"]

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
        row = {"spatial_inverted": spatial, "temporal_inverted": temporal, "top1": top_k_accuracy(probabilities, labels, 1)}
        if model.num_classes > 5:
            row["top5"] = top_k_accuracy(probabilities, labels, 5)
        rows.append(row)
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

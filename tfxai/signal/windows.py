"""Windowed recognition: cut recordings into windows, classify them, vote.

A recording of any length is classified by sliding a fixed window over it
(64 samples in steps of 10 in the 1D-SAN thesis), adding up each class's
output over all windows and answering the class with the largest total.
"""

import collections

import numpy as np

from tfxai.errors import TfxaiError

WINDOW = 64
STEP = 10

Vote = collections.namedtuple("Vote", ["label", "totals", "window_outputs"])
Vote.__doc__ = """A recording's vote: the winning class, each class's summed output, and the per-window outputs."""


def window_starts(length, window=WINDOW, step=STEP):
    """Start indices of the windows that fit in a recording of ``length`` samples."""
    _check_window(window, step)
    if length < window:
        raise TfxaiError(
            f"a recording has {length} samples, fewer than the {window}-sample window: "
            "drop it or choose a shorter window"
        )
    return np.arange(0, length - window + 1, step)


def sliding_windows(recording, window=WINDOW, step=STEP):
    """Cut one recording ``(T, C)`` into windows ``(n, window, C)``, ``n = 1 + (T - window) // step``."""
    recording = np.asarray(recording)
    if recording.ndim != 2:
        raise TfxaiError(f"a recording must have shape (time, channels), got {recording.shape}")
    starts = window_starts(len(recording), window, step)
    view = np.lib.stride_tricks.sliding_window_view(recording, window, axis=0)  # (T - window + 1, C, window)
    return np.ascontiguousarray(view[starts].transpose(0, 2, 1))


def make_windows(recordings, labels=None, window=WINDOW, step=STEP):
    """Window a list of recordings into training samples.

    Returns
    -------
    windows : ndarray, (n, window, C)
    window_labels : ndarray of int, (n,) or None when ``labels`` is None
    recording_index : ndarray of int, (n,)
        For every window, the position of its recording in ``recordings``.
    """
    parts = [sliding_windows(recording, window, step) for recording in recordings]
    if not parts:
        raise TfxaiError("no recordings to window: check the data set and the split")
    index = np.concatenate([np.full(len(part), i) for i, part in enumerate(parts)])
    windows = np.concatenate(parts).astype("float32")
    window_labels = None if labels is None else np.asarray(labels)[index]
    return windows, window_labels, index


def vote(window_outputs):
    """Add each class's output over all windows and return ``(winning class, totals)``."""
    totals = np.asarray(window_outputs, dtype="float64").sum(axis=0)
    return int(np.argmax(totals)), totals


def predict_windows(model, windows, preprocessor=None, batch_size=256):
    """Model outputs for a batch of raw windows, preprocessed first when ``preprocessor`` is given."""
    windows = np.asarray(windows, dtype="float32")
    if preprocessor is not None:
        windows = np.concatenate(
            [np.asarray(preprocessor(windows[i : i + 4096])) for i in range(0, len(windows), 4096)]
        )
    return np.asarray(model.predict(windows, batch_size=batch_size, verbose=0))


def classify_recording(model, recording, window=WINDOW, step=STEP, preprocessor=None, batch_size=256):
    """Classify a recording of any length by sliding-window voting.

    Slides a ``window``-sample window over ``recording`` ``(T, C)`` in steps of
    ``step`` samples, runs ``model`` on every window (after ``preprocessor``),
    sums each class's output over all windows and answers the class with the
    largest total (as in the 1D-SAN thesis).

    Returns
    -------
    Vote
        ``(label, totals, window_outputs)``.
    """
    outputs = predict_windows(model, sliding_windows(recording, window, step), preprocessor, batch_size)
    label, totals = vote(outputs)
    return Vote(label, totals, outputs)


def classify_recordings(model, recordings, window=WINDOW, step=STEP, preprocessor=None, batch_size=256):
    """:func:`classify_recording` for many recordings at once (one batched pass); a list of :class:`Vote`."""
    windows, _, index = make_windows(recordings, None, window, step)
    outputs = predict_windows(model, windows, preprocessor, batch_size)
    votes = []
    for i in range(len(recordings)):
        part = outputs[index == i]
        label, totals = vote(part)
        votes.append(Vote(label, totals, part))
    return votes


def _check_window(window, step):
    if int(window) < 1 or int(step) < 1:
        raise TfxaiError(f"window and step must be positive numbers of samples, got window={window}, step={step}")

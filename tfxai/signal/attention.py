"""What a 1D-SAB attends to: its footprint weights per time step, over a whole recording.

For every window of a recording, the chosen :class:`~tfxai.signal.SelfAttention1D`
block's weights ``gamma(delta)`` (averaged over value channels) give one value
per time step and footprint position; overlapping windows are averaged, so
each sample of the recording gets one row of ``footprint`` weights. For
Fourier-magnitude inputs the axis is the frequency bin, averaged over windows.
"""

import collections

import numpy as np
from matplotlib.figure import Figure

from tfxai.errors import TfxaiError
from tfxai.io import atomic_path
from tfxai.signal.windows import STEP, WINDOW, sliding_windows, window_starts

AttentionTrace = collections.namedtuple("AttentionTrace", ["weights", "offsets", "axis", "inputs"])
AttentionTrace.__doc__ = """Attention over a recording.

weights : (length, footprint) mean weights, NaN where no window covers a sample (or, with zero
padding, where the neighbour lies outside every window covering it);
offsets : the footprint's time (or bin) offsets; axis : "time step" or "frequency bin";
inputs : what the weights are plotted over, (length, channels): the recording, or its mean model input.
"""


def recording_attention(model, recording, preprocessor=None, window=WINDOW, step=STEP, block=0, batch_size=256):
    """Per-step footprint weights of one attention block over ``recording`` ``(T, C)``.

    Parameters
    ----------
    model : SAN1D
        A model with :class:`SelfAttention1D` blocks and ``call_with_attention``.
    recording : array, (T, C)
        Raw recording, at least ``window`` samples long.
    preprocessor : WindowPreprocessor or None
        What the model was trained with.
    window, step : int
        Sliding window length and step.
    block : int
        Which attention block (0 = nearest the input).

    Returns
    -------
    AttentionTrace
    """
    if not hasattr(model, "call_with_attention"):
        raise TfxaiError(f"model {model.name!r} has no self-attention blocks: attention views need a san1d model")
    blocks = model.attention_blocks
    if not -len(blocks) <= block < len(blocks):
        raise TfxaiError(f"block {block} does not exist: the model has {len(blocks)} attention blocks")
    recording = np.asarray(recording, dtype="float32")
    windows = sliding_windows(recording, window, step)
    inputs = windows if preprocessor is None else np.asarray(preprocessor(windows))
    maps = np.concatenate(
        [
            np.asarray(model.call_with_attention(inputs[i : i + batch_size])["attention"][:, block])
            for i in range(0, len(inputs), batch_size)
        ]
    )
    layer = blocks[block]
    offsets = layer.offsets
    # With zero padding, neighbours beyond a window's ends contribute nothing: leave them out.
    valid = np.ones(maps.shape[1:], dtype=bool)
    if layer.padding == "zeros":
        valid = np.asarray(layer.valid_neighbours(maps.shape[1]))
    if preprocessor is not None and preprocessor.fourier:
        return AttentionTrace(np.where(valid, maps.mean(axis=0), np.nan), offsets, "frequency bin", inputs.mean(axis=0))
    total = np.zeros((len(recording), len(offsets)))
    count = np.zeros((len(recording), len(offsets)))
    for start, weights in zip(window_starts(len(recording), window, step), maps):
        total[start : start + window] += np.where(valid, weights, 0.0)
        count[start : start + window] += valid
    with np.errstate(invalid="ignore", divide="ignore"):
        return AttentionTrace(np.where(count > 0, total / count, np.nan), offsets, "time step", recording)


def plot_attention(trace, path, title=None):
    """Plot a recording (or its mean spectrum) above its per-step footprint weights; write ``path`` atomically."""
    figure = Figure(figsize=(10, 5.5), constrained_layout=True)
    top, bottom = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [1, 1.2]})
    steps = np.arange(len(trace.inputs))
    for channel in range(trace.inputs.shape[1]):
        top.plot(steps, trace.inputs[:, channel], linewidth=0.8, label=f"ch {channel}")
    top.set_ylabel("signal" if trace.axis == "time step" else "model input")
    if trace.inputs.shape[1] <= 8:
        top.legend(loc="upper right", fontsize=7, ncol=min(trace.inputs.shape[1], 4))
    if title:
        top.set_title(title)
    image = bottom.imshow(
        np.ma.masked_invalid(trace.weights.T),
        aspect="auto",
        cmap="viridis",
        interpolation="nearest",
        extent=(-0.5, len(steps) - 0.5, len(trace.offsets) - 0.5, -0.5),
    )
    bottom.set_yticks(range(len(trace.offsets)), [f"{o:+d}" for o in trace.offsets])
    bottom.set_ylabel("neighbour offset")
    bottom.set_xlabel(trace.axis)
    figure.colorbar(image, ax=bottom, label="mean attention weight")
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=110)
    return path


def write_attention_csv(trace, path):
    """Write the per-step weights as CSV (one row per step, one column per footprint offset), atomically."""
    header = ",".join(["step"] + [f"offset{o:+d}" for o in trace.offsets])
    rows = np.column_stack([np.arange(len(trace.weights)), trace.weights])
    with atomic_path(path) as tmp:
        np.savetxt(tmp, rows, delimiter=",", header=header, comments="", fmt=["%d"] + ["%.6g"] * len(trace.offsets))
    return path

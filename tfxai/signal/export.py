"""Exporting a signal classifier as a SavedModel that takes a batch of raw windows.

The SavedModel applies the preprocessing (Fourier magnitude, standardisation)
itself and serves, under the endpoint and signature ``serve``::

    serve(windows: float32 (batch, window, channels)) -> {
        "probabilities": (batch, classes),
        "attention": (batch, blocks, steps, footprint),   # 1D-SAN only
    }

It loads with plain ``tf.saved_model.load``; tfxai is not needed to serve it.
"""

import keras
import tensorflow as tf

from tfxai.io import atomic_path
from tfxai.signal.windows import WINDOW


def export_signal_model(model, path, preprocessor=None, window=WINDOW):
    """Write ``model`` (after ``preprocessor``) to ``path`` as a SavedModel serving raw windows.

    Parameters
    ----------
    model : keras.Model
        A window classifier (:class:`SAN1D`, :class:`CNN1D` or any model on windows).
    path : str
        Output folder; written completely or not at all.
    preprocessor : WindowPreprocessor or None
        Applied to the raw windows inside the SavedModel.
    window : int
        Raw window length the SavedModel accepts.
    """
    channels = int(model.inputs[0].shape[-1])

    def serve(windows):
        inputs = windows if preprocessor is None else preprocessor(windows)
        if hasattr(model, "call_with_attention"):
            return model.call_with_attention(inputs, training=False)
        return {"probabilities": model(inputs, training=False)}

    archive = keras.export.ExportArchive()
    archive.track(model)  # the preprocessor holds constants only, traced into the endpoint
    archive.add_endpoint(
        name="serve",
        fn=serve,
        input_signature=[tf.TensorSpec((None, window, channels), tf.float32, name="windows")],
    )
    with atomic_path(path) as tmp:
        archive.write_out(tmp, verbose=False)
    return path

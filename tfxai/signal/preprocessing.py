"""Turning raw signal windows into model inputs: Fourier magnitude and standardisation.

Kept apart from the models (a Keras layer without weights), so the same step
runs in ``tf.data.Dataset.map``, in numpy code and inside an exported SavedModel.
"""

import keras
import numpy as np
from keras import ops

from tfxai.errors import TfxaiError


def fourier_magnitude(windows, by_matrix=False):
    """Magnitude of the real FFT along time, per channel: ``(batch, T, C) -> (batch, T // 2 + 1, C)``.

    Scaled by ``1 / sqrt(T)`` so that its size does not depend on the window length.
    ``by_matrix``: the same transform as two matrix products with the DFT's
    cosine and sine tables (T known): exported models use it, because ONNX
    converters do not translate TensorFlow's ``RFFT`` followed by the magnitude
    (tf2onnx 1.17) and every runtime has ``MatMul``.
    """
    windows = ops.convert_to_tensor(windows, dtype="float32")
    length = ops.shape(windows)[1]
    if by_matrix:
        length = int(windows.shape[1])
        angles = 2 * np.pi * np.outer(np.arange(length), np.arange(length // 2 + 1)) / length  # (T, F), in float64
        real = ops.einsum("btc,tf->bfc", windows, ops.convert_to_tensor(np.cos(angles).astype("float32")))
        imag = ops.einsum("btc,tf->bfc", windows, ops.convert_to_tensor(np.sin(angles).astype("float32")))
        return ops.sqrt(ops.square(real) + ops.square(imag)) / np.float32(np.sqrt(length))
    real, imag = ops.rfft(ops.transpose(windows, (0, 2, 1)))
    magnitude = ops.sqrt(ops.square(real) + ops.square(imag)) / ops.sqrt(ops.cast(length, "float32"))
    return ops.transpose(magnitude, (0, 2, 1))


@keras.saving.register_keras_serializable(package="tfxai")
class WindowPreprocessor(keras.layers.Layer):
    """Raw windows -> model inputs: optional Fourier magnitude, then per-channel standardisation.

    The thesis this reproduces (1D-SAN for nerve signals; Zhao et al., CVPR 2020
    for the attention block) compares raw windows with their Fourier
    magnitude; both are standardised with statistics of the training windows.

    Parameters
    ----------
    fourier : bool
        Replace each window by the magnitude of its real FFT along time.
    mean, std : list of float or None
        Per-channel statistics (of the transformed training windows); set them
        with :meth:`adapt`. ``None`` leaves values unscaled.
    **kwargs
        Standard layer arguments.
    """

    def __init__(self, fourier=False, mean=None, std=None, **kwargs):
        super().__init__(**kwargs)
        self.fourier = bool(fourier)
        self.mean = None if mean is None else [float(v) for v in mean]
        self.std = None if std is None else [float(v) for v in std]

    def transform(self, windows, portable=False):
        """The unscaled part: the Fourier magnitude when ``fourier`` is set, else the windows (``portable``: :func:`fourier_magnitude`'s ``by_matrix``)."""
        windows = ops.convert_to_tensor(windows, dtype="float32")
        return fourier_magnitude(windows, by_matrix=portable) if self.fourier else windows

    def adapt(self, windows):
        """Set ``mean``/``std`` per channel from training windows ``(n, T, C)``; returns ``self``."""
        windows = np.asarray(windows, dtype="float32")
        if windows.ndim != 3 or len(windows) == 0:
            raise TfxaiError(f"adapt needs a non-empty batch of windows (n, T, C), got shape {windows.shape}")
        transformed = np.concatenate(
            [ops.convert_to_numpy(self.transform(windows[i : i + 4096])) for i in range(0, len(windows), 4096)]
        )
        self.mean = transformed.mean(axis=(0, 1)).astype(float).tolist()
        self.std = np.maximum(transformed.std(axis=(0, 1)), 1e-6).astype(float).tolist()
        return self

    def output_length(self, window):
        """Time (or frequency) length of the model input for raw windows of ``window`` samples."""
        return window // 2 + 1 if self.fourier else window

    def call(self, inputs, portable=False):
        outputs = self.transform(inputs, portable=portable)
        if self.mean is not None:
            mean = ops.convert_to_tensor(np.asarray(self.mean, "float32"))
            std = ops.convert_to_tensor(np.asarray(self.std, "float32"))
            outputs = (outputs - mean) / std
        return outputs

    def compute_output_shape(self, input_shape):
        length = input_shape[1]
        if self.fourier and length is not None:
            length = length // 2 + 1
        return (input_shape[0], length, input_shape[2])

    def get_config(self):
        config = super().get_config()
        config.update({"fourier": self.fourier, "mean": self.mean, "std": self.std})
        return config

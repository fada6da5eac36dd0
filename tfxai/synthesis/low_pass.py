"""An ideal circular low-pass filter in the 2-D Fourier domain of each channel."""

import keras
import numpy as np
import tensorflow as tf


def low_pass_mask(height, width, radius):
    """Return the ``(height, width)`` 0/1 mask of frequencies with ``|k| <= radius``.

    The mask is laid out like ``np.fft.fft2``'s output (zero frequency at
    ``[0, 0]``); frequencies are in cycles per image, so ``radius = 10`` on a
    32 x 32 image keeps the frequencies within 10 cycles of DC, as in
    Hirano et al.
    """
    fy = np.fft.fftfreq(int(height)) * int(height)
    fx = np.fft.fftfreq(int(width)) * int(width)
    distance = np.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2)
    return (distance <= float(radius)).astype("float32")


@keras.saving.register_keras_serializable(package="tfxai")
class LowPassFilter(keras.layers.Layer):
    """Ideal circular low-pass filter applied to every channel of a batch of images.

    Hirano, Iwamura & Kise low-pass filter the generated image (radius 10 on
    CIFAR-10's 32 x 32 images) so that it stays natural-looking: each channel is
    transformed with a 2-D FFT, every frequency farther than ``radius`` from
    DC is set to zero, and the result is transformed back (real part).

    Parameters
    ----------
    radius : float
        Cut-off radius in cycles per image.
    **kwargs
        Standard layer arguments.

    Call arguments
    --------------
    images : tensor of shape ``(batch, height, width, channels)``.
    """

    def __init__(self, radius, **kwargs):
        super().__init__(**kwargs)
        self.radius = float(radius)

    def call(self, images):
        height, width = images.shape[1], images.shape[2]
        mask = tf.constant(low_pass_mask(height, width, self.radius), tf.complex64)
        channels_first = tf.transpose(tf.cast(images, tf.float32), [0, 3, 1, 2])
        # tf.complex (not tf.cast) so the gradient back to the real image is real, without a dtype warning.
        spectrum = tf.signal.fft2d(tf.complex(channels_first, tf.zeros_like(channels_first))) * mask
        filtered = tf.math.real(tf.signal.ifft2d(spectrum))
        return tf.cast(tf.transpose(filtered, [0, 2, 3, 1]), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config["radius"] = self.radius
        return config

"""The soft, differentiable mask shared by the attention-mining methods (ABN's mining branch, GAIN).

T(A) = sigmoid(omega * (A - sigma)) approximates the threshold ``A > sigma``
while letting gradients through; the masked input keeps what attention did
*not* cover: ``I* = I - T(A) * I``.
"""

import tensorflow as tf

__all__ = ["soft_mask", "mask_out"]


def soft_mask(attention, sigma=0.5, omega=10.0):
    """T(A) = sigmoid(omega * (A - sigma)), elementwise.

    Li et al., "Tell Me Where to Look: Guided Attention Inference Network",
    CVPR 2018 (eq. 3); Iwayoshi et al. (Attention Mining Branch).
    """
    attention = tf.convert_to_tensor(attention)
    return tf.sigmoid(omega * (attention - tf.cast(sigma, attention.dtype)))


def mask_out(inputs, attention, sigma=0.5, omega=10.0):
    """``inputs - T(attention) * inputs``: erase what the attention map covers.

    ``attention`` is (batch, H, W) or (batch, H, W, 1) and is resized
    bilinearly to the spatial size of ``inputs`` (batch, H', W', C) when they
    differ; the mask is shared by all channels.
    """
    inputs = tf.convert_to_tensor(inputs)
    attention = tf.convert_to_tensor(attention, dtype=inputs.dtype)
    if len(attention.shape) == len(inputs.shape) - 1:
        attention = attention[..., None]
    if attention.shape[1:3] != inputs.shape[1:3]:
        attention = tf.image.resize(attention, tf.shape(inputs)[1:3], method="bilinear")
    mask = soft_mask(attention, sigma, omega)
    return inputs - mask * inputs

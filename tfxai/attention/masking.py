"""The masks shared by the attention-mining methods (ABN's mining branch, GAIN).

T(A) = sigmoid(omega * (A - sigma)) (``"soft"``) approximates the threshold
``A > sigma`` while letting gradients through; ``"hard"`` is the threshold
itself, step(A - sigma) in {0, 1}, with the soft mask's gradient
(straight-through). The masked input keeps what attention did *not* cover:
``I* = I - T(A) * I``.
"""

import tensorflow as tf

from tfxai.errors import TfxaiError

__all__ = ["MASKS", "hard_mask", "soft_mask", "mask_out"]

#: Mask kinds accepted by :func:`mask_out`.
MASKS = ("soft", "hard")


def soft_mask(attention, sigma=0.5, omega=10.0):
    """T(A) = sigmoid(omega * (A - sigma)), elementwise.

    Li et al., "Tell Me Where to Look: Guided Attention Inference Network",
    CVPR 2018 (eq. 3); Iwayoshi et al. (Attention Mining Branch).
    """
    attention = tf.convert_to_tensor(attention)
    return tf.sigmoid(omega * (attention - tf.cast(sigma, attention.dtype)))


def hard_mask(attention, sigma=0.5, omega=10.0):
    """T(A) = 1 where A > sigma, else 0, with the gradient of :func:`soft_mask` (straight-through).

    Iwayoshi et al. (Attention Mining Branch) binarise the attention map at
    sigma. A step has zero gradient almost everywhere, so the backward pass
    uses the soft mask's, ``omega * s (1 - s)`` with s = sigmoid(omega (A -
    sigma)): largest at the threshold and fading away from it, so M still
    learns where the mask boundary goes (an identity backward would push
    every pixel equally, however far from sigma). The forward values are
    exactly 0 and 1: ``stop_gradient(step) + (s - stop_gradient(s))`` adds
    an exact zero.
    """
    attention = tf.convert_to_tensor(attention)
    soft = soft_mask(attention, sigma, omega)
    step = tf.cast(attention > tf.cast(sigma, attention.dtype), soft.dtype)
    return tf.stop_gradient(step) + (soft - tf.stop_gradient(soft))


def mask_out(inputs, attention, sigma=0.5, omega=10.0, kind="soft"):
    """``inputs - T(attention) * inputs``: erase what the attention map covers.

    ``attention`` is (batch, H, W) or (batch, H, W, 1) and is resized
    bilinearly to the spatial size of ``inputs`` (batch, H', W', C) when they
    differ; the mask is shared by all channels. ``kind`` is ``"soft"``
    (:func:`soft_mask`) or ``"hard"`` (:func:`hard_mask`).
    """
    if kind not in MASKS:
        raise TfxaiError(f"unknown mask kind {kind!r}: choose one of {list(MASKS)}")
    inputs = tf.convert_to_tensor(inputs)
    attention = tf.convert_to_tensor(attention, dtype=inputs.dtype)
    if len(attention.shape) == len(inputs.shape) - 1:
        attention = attention[..., None]
    if attention.shape[1:3] != inputs.shape[1:3]:
        attention = tf.image.resize(attention, tf.shape(inputs)[1:3], method="bilinear")
    mask = (hard_mask if kind == "hard" else soft_mask)(attention, sigma, omega)
    return inputs - mask * inputs

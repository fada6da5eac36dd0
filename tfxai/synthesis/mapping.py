"""The image <-> weight mapping of Hirano, Iwamura & Kise.

An image ``x`` in [0, 1] is stored as the weights ``x' = tan((x - 0.5) * pi)``
of a layer, and read back with ``x = arctan(x') / pi + 0.5``. The read-back
always lies in (0, 1), whatever gradient descent does to the weights, so the
generated image never leaves the valid pixel range.
"""

import math

from keras import ops

DEFAULT_EPSILON = 1e-3


def image_to_weights(images, epsilon=DEFAULT_EPSILON):
    """Map images in [0, 1] to unbounded weights, ``tan((x - 0.5) * pi)``.

    Parameters
    ----------
    images : tensor-like
        Pixel values in [0, 1].
    epsilon : float
        Pixels are clipped to ``[epsilon, 1 - epsilon]`` first so that the
        weights stay finite (``tan(+-pi/2)`` is infinite). Larger values let
        saturated pixels (pure black or white) move faster under gradient descent.

    Returns
    -------
    tensor
        Weights of the same shape.
    """
    x = ops.clip(ops.convert_to_tensor(images, "float32"), epsilon, 1.0 - epsilon)
    return ops.tan((x - 0.5) * math.pi)


def weights_to_image(weights):
    """Map weights back to pixels in (0, 1), ``arctan(w) / pi + 0.5``."""
    return ops.arctan(ops.convert_to_tensor(weights, "float32")) / math.pi + 0.5

"""Strided pointwise convolutions as a subsample and a stride-1 convolution: the same function, without oneDNN's crash.

TensorFlow 2.21's oneDNN kernels corrupt memory (segfault, "corrupted size vs.
prev_size") in the backward pass of a strided 1x1 ``Conv2D`` on even-sized maps
(the projection shortcuts of small residual nets such as mini-Xception), on
AMD and Intel CPUs. A 1x1 convolution with strides ``s`` reads only the inputs
at ``0, s, 2s, ...`` along each axis, with "same" and "valid" padding alike
(``ceil(n / s)`` outputs), so it equals a stride-1 1x1 convolution of
``inputs[:, ::s, ::s, :]``. Its gradient is then a strided-slice gradient and
a stride-1 convolution's, which oneDNN computes correctly.

:func:`install` makes Keras's TensorFlow backend compute every 1-D and 2-D
pointwise convolution with strides that way (Keras layers, users' saved models
and ``keras.applications`` alike: they all call ``keras.ops.conv``). 3-D
convolutions are left alone: the same pattern with ``Conv3D`` runs cleanly with
oneDNN on. This is what lets tfxai leave oneDNN on (:mod:`tfxai._runtime`).
"""

import functools

_ORIGINAL = {}


def _strides(strides, rank):
    return (int(strides),) * rank if isinstance(strides, int) else tuple(int(s) for s in strides)


def subsampled_pointwise(conv):
    """Wrap the backend's ``conv(inputs, kernel, strides, padding, data_format, dilation_rate)``."""

    @functools.wraps(conv)
    def safe_conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
        rank = len(kernel.shape) - 2
        steps = _strides(strides, rank) if rank in (1, 2) else ()
        if not steps or any(int(k) != 1 for k in kernel.shape[:rank]) or max(steps) == 1:
            return conv(inputs, kernel, strides, padding, data_format, dilation_rate)
        import keras

        every = tuple(slice(None, None, s) for s in steps)
        if (data_format or keras.config.image_data_format()) == "channels_last":
            inputs = inputs[(slice(None),) + every + (slice(None),)]
        else:
            inputs = inputs[(slice(None), slice(None)) + every]
        return conv(inputs, kernel, 1, "valid", data_format, 1)

    safe_conv.tfxai_subsampled_pointwise = True
    return safe_conv


def install():
    """Route Keras's TensorFlow ``conv`` through :func:`subsampled_pointwise` (once; other backends are left alone)."""
    import keras

    if keras.backend.backend() != "tensorflow":
        return False
    from keras.src.backend.tensorflow import nn

    if not getattr(nn.conv, "tfxai_subsampled_pointwise", False):
        _ORIGINAL["conv"] = nn.conv
        nn.conv = subsampled_pointwise(nn.conv)
    return True


def installed():
    """True when Keras's TensorFlow ``conv`` computes strided pointwise convolutions by subsampling."""
    import sys

    if "keras" not in sys.modules:  # nothing to ask yet (and importing Keras here would load TensorFlow)
        return False
    try:
        from keras.src.backend.tensorflow import nn
    except ImportError:
        return False
    return bool(getattr(nn.conv, "tfxai_subsampled_pointwise", False))

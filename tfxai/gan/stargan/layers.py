"""Building blocks of StarGAN v2 (Choi et al., CVPR 2020): residual blocks and AdaIN.

Instance norm is ``keras.layers.GroupNormalization(groups=-1)``; every block
divides its sum by sqrt(2) (unit variance), as the official architecture.
"""

import math

import keras
from keras import ops

__all__ = ["AdaIN", "AdainResBlock", "ResBlock", "conv", "dense", "instance_norm"]


def he_init():
    """He (Kaiming) normal initialisation, the official ``he_init`` (biases start at 0)."""
    return keras.initializers.VarianceScaling(2.0, "fan_in", "untruncated_normal")


def conv(filters, kernel_size=3, padding="same", use_bias=True, name=None):
    """A convolution with the official initialisation."""
    return keras.layers.Conv2D(filters, kernel_size, padding=padding, use_bias=use_bias, kernel_initializer=he_init(), name=name)


def dense(units, activation=None, name=None):
    """A fully connected layer with the official initialisation."""
    return keras.layers.Dense(units, activation=activation, kernel_initializer=he_init(), name=name)


def instance_norm(affine=True, name=None):
    """Instance normalisation (epsilon 1e-5 as PyTorch's ``InstanceNorm2d``)."""
    return keras.layers.GroupNormalization(groups=-1, epsilon=1e-5, center=affine, scale=affine, name=name)


@keras.saving.register_keras_serializable(package="tfxai")
class AdaIN(keras.layers.Layer):
    """Adaptive instance normalisation: ``(1 + gamma(s)) * IN(x) + beta(s)``, gamma and beta from a Dense of the style."""

    def __init__(self, channels, **kwargs):
        super().__init__(**kwargs)
        self.channels = channels
        self.norm = instance_norm(affine=False)
        self.fc = dense(2 * channels)

    def call(self, x, style):
        gamma, beta = ops.split(self.fc(style)[:, None, None, :], 2, axis=-1)
        return (1.0 + gamma) * self.norm(x) + beta

    def get_config(self):
        return {**super().get_config(), "channels": self.channels}


@keras.saving.register_keras_serializable(package="tfxai")
class ResBlock(keras.layers.Layer):
    """Pre-activation residual block (optional instance norm, optional 2x average-pool downsampling)."""

    def __init__(self, dim_in, dim_out, normalize=False, downsample=False, **kwargs):
        super().__init__(**kwargs)
        self.dim_in, self.dim_out, self.normalize, self.downsample = dim_in, dim_out, normalize, downsample
        self.conv1, self.conv2 = conv(dim_in), conv(dim_out)
        if normalize:
            self.norm1, self.norm2 = instance_norm(), instance_norm()
        self.shortcut_conv = conv(dim_out, 1, use_bias=False) if dim_in != dim_out else None
        self.pool = keras.layers.AveragePooling2D(2)

    def call(self, x):
        shortcut = self.shortcut_conv(x) if self.shortcut_conv is not None else x
        if self.downsample:
            shortcut = self.pool(shortcut)
        h = self.norm1(x) if self.normalize else x
        h = self.conv1(ops.leaky_relu(h, 0.2))
        if self.downsample:
            h = self.pool(h)
        h = self.norm2(h) if self.normalize else h
        h = self.conv2(ops.leaky_relu(h, 0.2))
        return (shortcut + h) / math.sqrt(2.0)

    def get_config(self):
        return {**super().get_config(), "dim_in": self.dim_in, "dim_out": self.dim_out,
                "normalize": self.normalize, "downsample": self.downsample}


@keras.saving.register_keras_serializable(package="tfxai")
class AdainResBlock(keras.layers.Layer):
    """Residual block with AdaIN (the style enters both norms) and optional 2x nearest upsampling."""

    def __init__(self, dim_in, dim_out, upsample=False, **kwargs):
        super().__init__(**kwargs)
        self.dim_in, self.dim_out, self.upsample = dim_in, dim_out, upsample
        self.conv1, self.conv2 = conv(dim_out), conv(dim_out)
        self.norm1, self.norm2 = AdaIN(dim_in), AdaIN(dim_out)
        self.shortcut_conv = conv(dim_out, 1, use_bias=False) if dim_in != dim_out else None
        self.up = keras.layers.UpSampling2D(2, interpolation="nearest")

    def build(self, x_shape, style_shape=None):
        pass  # the sub-layers build on the first call

    def call(self, x, style):
        shortcut = self.up(x) if self.upsample else x
        if self.shortcut_conv is not None:
            shortcut = self.shortcut_conv(shortcut)
        h = ops.leaky_relu(self.norm1(x, style), 0.2)
        if self.upsample:
            h = self.up(h)
        h = self.conv1(h)
        h = self.conv2(ops.leaky_relu(self.norm2(h, style), 0.2))
        return (h + shortcut) / math.sqrt(2.0)

    def get_config(self):
        return {**super().get_config(), "dim_in": self.dim_in, "dim_out": self.dim_out, "upsample": self.upsample}

"""DCGAN generator and discriminator (Radford et al. 2016), the base networks of collaborative GANs.

The generator maps a latent vector to an image in [-1, 1] through a dense
4x4 seed and stride-2 transposed convolutions; the outputs of its
ReLU blocks are the feature maps that attention transfer compares. The discriminator is
stride-2 convolutions with LeakyReLU, optionally wrapped in
``keras.layers.SpectralNormalization``, ending in ``outputs`` logits.
"""

import math

import keras

from tfxai.errors import TfxaiError

__all__ = ["build_discriminator", "build_generator", "transfer_layer_names", "upsampling_steps"]


def upsampling_steps(image_size):
    """How many stride-2 steps take a 4x4 seed to ``image_size`` (a power of two, at least 8)."""
    steps = math.log2(int(image_size) / 4)
    if image_size < 8 or steps != int(steps):
        raise TfxaiError(f"DCGAN image size must be a power of two of at least 8 (8, 16, 32, 64, ...), got {image_size}")
    return int(steps)


def transfer_layer_names(image_size):
    """Names of the generator's feature maps used for attention transfer (every block before the image)."""
    return ["seed_relu"] + [f"up_{i}_relu" for i in range(1, upsampling_steps(image_size))]


def build_generator(latent_dim=100, image_size=64, channels=3, filters=64, name="generator"):
    """A DCGAN generator: z (latent_dim,) -> image (image_size, image_size, channels) in [-1, 1]."""
    steps = upsampling_steps(image_size)
    z = keras.Input((latent_dim,), name="z")
    width = filters * 2 ** (steps - 1)
    x = keras.layers.Dense(4 * 4 * width, use_bias=False, name="seed")(z)
    x = keras.layers.Reshape((4, 4, width))(x)
    x = keras.layers.BatchNormalization(name="seed_bn")(x)
    x = keras.layers.ReLU(name="seed_relu")(x)
    for i in range(1, steps):
        width //= 2
        x = keras.layers.Conv2DTranspose(width, 4, strides=2, padding="same", use_bias=False, name=f"up_{i}")(x)
        x = keras.layers.BatchNormalization(name=f"up_{i}_bn")(x)
        x = keras.layers.ReLU(name=f"up_{i}_relu")(x)
    image = keras.layers.Conv2DTranspose(channels, 4, strides=2, padding="same", activation="tanh", name="image",
                                         dtype="float32")(x)  # float32 images under mixed precision too
    return keras.Model(z, image, name=name)


def build_discriminator(image_size=64, channels=3, filters=64, outputs=1, spectral_norm=True, name="discriminator"):
    """A DCGAN discriminator returning ``outputs`` logits; spectral norm on every kernel, or batch norm without it."""
    steps = upsampling_steps(image_size)

    def wrap(layer):
        return keras.layers.SpectralNormalization(layer, name=f"sn_{layer.name}", dtype=layer.dtype_policy) if spectral_norm else layer

    image = keras.Input((image_size, image_size, channels), name="images")
    x = image
    for i in range(steps):
        x = wrap(keras.layers.Conv2D(filters * 2 ** i, 4, strides=2, padding="same", name=f"down_{i + 1}"))(x)
        if i and not spectral_norm:
            x = keras.layers.BatchNormalization(name=f"down_{i + 1}_bn")(x)
        x = keras.layers.LeakyReLU(0.2, name=f"down_{i + 1}_lrelu")(x)
    x = keras.layers.Flatten()(x)
    logits = wrap(keras.layers.Dense(outputs, name="logits", dtype="float32"))(x)  # float32 logits under mixed precision too
    return keras.Model(image, logits, name=name)

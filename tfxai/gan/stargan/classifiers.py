"""The two source-trained classifiers of Imaeda's TTA table: "ResNet-20 (701.4k)" and "CNN (24.3k)".

The thesis (section 4.2) names them only by kind and size: "ResNet-20 と、ドメイン間の差異を吸収する
ことが困難な 5 層の CNN" (a ResNet-20 and a 5-layer CNN that finds it hard to absorb the domain gap),
with their parameter counts under the names in table 1. Everything else here is an interpretation,
chosen to match those counts to within 1 % (trainable parameters, the count PyTorch reports:
BatchNorm's running statistics are buffers there, not parameters). docs/stargan_tta.md has the table.

- :func:`resnet20`: He et al.'s CIFAR ResNet-20 layout (3x3 stem, three stages of three basic
  blocks, stride 2 at stages 2 and 3 with 1x1 projection shortcuts, global average pooling,
  dense): 1 + 18 + 1 = 20 weight layers. The widths (26, 52, 102) give 697,176 parameters
  (-0.6 %); He et al.'s (16, 32, 64) give 0.27 M, far from 701.4k.
- :func:`cnn5`: three 3x3 convolutions (16, 32, 32) each followed by 2x max pooling, flatten,
  dense 19 (the ``features`` layer of the UMAP maps), dense K: 5 weight layers, 24,283
  parameters at 32 px (-0.07 %).

Both take images in [0, 255] and start with a per-image standardisation (zero mean, unit
variance per image, as usual for SVHN); both end in a softmax; the layer named ``features``
is the feature vector for the UMAP maps (thesis section 4.3).
"""

import keras
import tensorflow as tf

from tfxai.errors import TfxaiError

__all__ = ["CNN5_PARAMETERS", "PerImageStandardization", "RESNET20_PARAMETERS", "cnn5", "resnet20", "trainable_parameters"]

#: the thesis' table 1: "ResNet-20 (701.4k)", "CNN (24.3k)"
RESNET20_PARAMETERS, CNN5_PARAMETERS = 701_400, 24_300


@keras.saving.register_keras_serializable(package="tfxai")
class PerImageStandardization(keras.layers.Layer):
    """Each image to zero mean and unit variance (``tf.image.per_image_standardization``)."""

    def call(self, images):
        return tf.image.per_image_standardization(tf.cast(images, tf.float32))


def trainable_parameters(model):
    """Trainable parameters (BatchNorm's moving mean and variance excluded, as PyTorch counts)."""
    return int(sum(int(tf.size(w)) for w in model.trainable_weights))


def _check(input_shape, num_classes):
    if len(input_shape) != 3 or int(num_classes) < 2:
        raise TfxaiError(f"need an (H, W, C) input shape and at least 2 classes, got {tuple(input_shape)} and {num_classes}")


def resnet20(num_classes=10, input_shape=(32, 32, 3), widths=(26, 52, 102), name="resnet20"):
    """ResNet-20 (3 stages x 3 basic blocks) ending in a softmax; 697,176 parameters with the defaults (thesis: 701.4k)."""
    _check(input_shape, num_classes)
    layers = keras.layers

    def conv_bn(x, filters, kernel, strides):
        x = layers.Conv2D(filters, kernel, strides, padding="same", use_bias=False, kernel_initializer="he_normal")(x)
        return layers.BatchNormalization()(x)

    inputs = keras.Input(tuple(input_shape), name="images")
    x = layers.ReLU()(conv_bn(PerImageStandardization()(inputs), widths[0], 3, 1))
    for stage, filters in enumerate(widths):
        for block in range(3):
            strides = 2 if stage > 0 and block == 0 else 1
            shortcut = x if strides == 1 and x.shape[-1] == filters else conv_bn(x, filters, 1, strides)
            h = layers.ReLU()(conv_bn(x, filters, 3, strides))
            x = layers.ReLU()(layers.Add()([shortcut, conv_bn(h, filters, 3, 1)]))
    x = layers.GlobalAveragePooling2D(name="features")(x)
    return keras.Model(inputs, layers.Dense(int(num_classes), activation="softmax", name="probabilities")(x), name=name)


def cnn5(num_classes=10, input_shape=(32, 32, 3), name="cnn5"):
    """The 5-layer CNN (3 convolutions, 2 dense) ending in a softmax; 24,283 parameters at 32 px (thesis: 24.3k)."""
    _check(input_shape, num_classes)
    layers = keras.layers
    model = keras.Sequential([keras.Input(tuple(input_shape), name="images"), PerImageStandardization()], name=name)
    for filters in (16, 32, 32):
        model.add(layers.Conv2D(filters, 3, padding="same", activation="relu"))
        model.add(layers.MaxPooling2D())
    model.add(layers.Flatten())
    model.add(layers.Dense(19, activation="relu", name="features"))
    model.add(layers.Dense(int(num_classes), activation="softmax", name="probabilities"))
    return model

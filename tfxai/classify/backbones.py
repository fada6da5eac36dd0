"""Named backbones, each with its feature-map layer and its split point known.

``feature_layer`` is the last convolutional feature map (what Grad-CAM
explains); ``split_layer`` ends the backbone's early stages, where attention
methods (ABN, GAIN) split it into a feature extractor and a perception head.
Preprocessing is part of the classifier (a layer), so models take raw pixel
values in [0, 255].
"""

import dataclasses
import os
from typing import Callable

import keras

from tfxai.errors import TfxaiError

__all__ = ["Backbone", "BACKBONES", "get_backbone", "build_backbone", "build_classifier", "classifier_base", "mini_xception", "small_cnn", "stem"]


# === Preprocessing layers ===


@keras.saving.register_keras_serializable(package="tfxai")
class CaffePreprocess(keras.layers.Layer):
    """ImageNet 'caffe' preprocessing (ResNet-50, VGG16): RGB -> BGR, subtract the channel means."""

    MEANS = (103.939, 116.779, 123.68)

    def call(self, inputs):
        bgr = keras.ops.flip(keras.ops.cast(inputs, "float32"), axis=-1)
        return bgr - keras.ops.convert_to_tensor(self.MEANS, dtype="float32")


@keras.saving.register_keras_serializable(package="tfxai")
class GrayToRGB(keras.layers.Layer):
    """Repeat a single channel three times (grayscale images into ImageNet backbones)."""

    def call(self, inputs):
        return keras.ops.concatenate([inputs, inputs, inputs], axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (3,)


# === Small backbones for CPUs ===


def small_cnn(input_shape=(32, 32, 3), filters=(32, 64, 128), name="small_cnn"):
    """A small conv net for two CPU cores: per block conv-BN-ReLU x2 then max-pool (no pool after the last)."""
    inputs = keras.Input(input_shape)
    x = inputs
    for block, width in enumerate(filters, start=1):
        for conv in (1, 2):
            x = keras.layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"block{block}_conv{conv}")(x)
            x = keras.layers.BatchNormalization(momentum=0.9, name=f"block{block}_bn{conv}")(x)
            x = keras.layers.ReLU(name=f"block{block}_relu{conv}")(x)
        if block < len(filters):
            x = keras.layers.MaxPooling2D(name=f"block{block}_pool")(x)
    return keras.Model(inputs, x, name=name)


def mini_xception(input_shape=(64, 64, 1), num_classes=7, l2=0.01, name="mini_xception"):
    """mini-Xception (Arriaga et al., "Real-time Convolutional Neural Networks for Emotion and Gender
    Classification", 2017): depthwise-separable residual blocks with strided 1x1 projection shortcuts,
    a class-count conv and global average pooling. Complete classifier (softmax output).
    """
    regularizer = keras.regularizers.L1L2(0.0, l2)
    inputs = keras.Input(input_shape)
    x = inputs
    for _ in range(2):
        x = keras.layers.Conv2D(8, 3, use_bias=False, kernel_regularizer=regularizer)(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.Activation("relu")(x)
    for width in (16, 32, 64, 128):
        shortcut = keras.layers.Conv2D(width, 1, strides=2, padding="same", use_bias=False)(x)
        shortcut = keras.layers.BatchNormalization()(shortcut)
        x = keras.layers.SeparableConv2D(width, 3, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.Activation("relu")(x)
        x = keras.layers.SeparableConv2D(width, 3, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.MaxPooling2D(3, strides=2, padding="same")(x)
        x = keras.layers.Add()([x, shortcut])
    x = keras.layers.Conv2D(num_classes, 3, padding="same")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Activation("softmax", name="predictions", dtype="float32")(x)  # float32 under mixed precision too
    return keras.Model(inputs, outputs, name=name)


# === The registry ===


@dataclasses.dataclass(frozen=True)
class Backbone:
    """A named backbone: how to build it and where its feature maps are."""

    name: str
    builder: Callable
    feature_layer: str
    split_layer: str
    preprocessing: Callable
    default_size: int
    min_size: int
    imagenet: bool
    paper: str = ""


def _keras_app(constructor):
    def build(input_shape, weights):
        return constructor(input_shape=input_shape, include_top=False, weights=weights)

    return build


#: Names of the preprocessing layers tfxai puts at the start of its models, which take [0, 255] pixels.
PIXEL_PREPROCESSING_LAYERS = ("rescale", "caffe_preprocess")


def input_pixel_scale(model):
    """255.0 if ``model`` starts with tfxai's pixel preprocessing (it takes [0, 255] pixels), else None (unknown).

    Nested models (a backbone inside a classifier) are searched too.
    """
    pending = list(getattr(model, "layers", []))
    while pending:
        layer = pending.pop()
        if layer.name in PIXEL_PREPROCESSING_LAYERS:
            return 255.0
        pending.extend(getattr(layer, "layers", []))
    return None


def _rescale_unit():
    return keras.layers.Rescaling(1.0 / 255.0, name="rescale")


def _rescale_symmetric():
    return keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="rescale")


BACKBONES = {
    "mobilenet_v2": Backbone(
        "mobilenet_v2", _keras_app(keras.applications.MobileNetV2), "out_relu", "block_13_expand_relu",
        _rescale_symmetric, 224, 32, True, "Sandler et al. 2018",
    ),
    "resnet50": Backbone(
        "resnet50", _keras_app(keras.applications.ResNet50), "conv5_block3_out", "conv4_block6_out",
        lambda: CaffePreprocess(name="caffe_preprocess"), 224, 32, True, "He et al. 2016",
    ),
    "vgg16": Backbone(
        "vgg16", _keras_app(keras.applications.VGG16), "block5_conv3", "block4_pool",
        lambda: CaffePreprocess(name="caffe_preprocess"), 224, 32, True, "Simonyan & Zisserman 2015",
    ),
    "small_cnn": Backbone(
        "small_cnn", lambda input_shape, weights: _with_weights(small_cnn(input_shape), weights), "block3_relu2", "block2_pool",
        _rescale_unit, 32, 8, False, "tfxai (CPU preset)",
    ),
}


def _with_weights(model, weights):
    """Load a local weights file into a freshly built backbone (``None``: keep the random init)."""
    if weights is not None:
        try:
            model.load_weights(weights)
        except Exception as error:  # noqa: BLE001 - Keras raises many types for a bad file
            text = str(error)
            raise TfxaiError(f"could not load weights file {weights} into {model.name}: {text.splitlines()[0] if text else error!r}") from error
    return model


def get_backbone(name):
    """The :class:`Backbone` registered under ``name``."""
    key = name.lower().replace("-", "_")
    if key not in BACKBONES:
        raise TfxaiError(f"unknown backbone {name!r}: choose one of {sorted(BACKBONES)}")
    return BACKBONES[key]


def _resolve_weights(spec, weights):
    if weights in (None, "none", "None", ""):
        return None
    if weights == "imagenet":
        if not spec.imagenet:
            raise TfxaiError(f"backbone {spec.name!r} has no ImageNet weights: pass --weights none")
        return "imagenet"
    if not os.path.isfile(weights):
        raise TfxaiError(f"weights file {weights} does not exist: pass imagenet, none, or the path of a local weights file")
    return os.fspath(weights)


def build_backbone(name, input_shape, weights=None, filters=None):
    """Build the feature extractor of backbone ``name`` (no classification top).

    Parameters
    ----------
    name : str
        A key of :data:`BACKBONES`.
    input_shape : tuple
        (H, W, 3) for ImageNet backbones.
    weights : {"imagenet", None, "none"} or str
        ImageNet weights (downloaded once by Keras and cached in ~/.keras), none
        (random init), or a local weights file.
    filters : tuple of int, optional
        Block widths of ``small_cnn`` (default (32, 64, 128)); only for ``small_cnn``.
    """
    spec = get_backbone(name)
    if filters and spec.name != "small_cnn":
        raise TfxaiError(f"backbone_filters only applies to the small_cnn backbone, not {spec.name}: leave it unset")
    weights = _resolve_weights(spec, weights)
    height, width = input_shape[:2]
    if min(height, width) < spec.min_size:
        raise TfxaiError(f"{spec.name} needs images of at least {spec.min_size}x{spec.min_size}, got {height}x{width}: use a larger --image-size")
    try:
        if filters:
            return _with_weights(small_cnn(tuple(input_shape), filters=tuple(filters)), weights)
        return spec.builder(tuple(input_shape), weights)
    except TfxaiError:
        raise
    except Exception as error:  # noqa: BLE001 - Keras raises plain Exception for download failures
        text = str(error)
        if weights == "imagenet" and ("URL fetch failure" in text or "fetch" in text.lower() or "urlopen" in text.lower()):
            raise TfxaiError(
                f"could not download the ImageNet weights of {spec.name} (no network?): pass --weights PATH to a local "
                "weights file (Keras' *_notop.h5), or --weights none to train from scratch"
            ) from error
        if weights not in (None, "imagenet"):
            raise TfxaiError(f"could not load weights file {weights} into {spec.name}: {text.splitlines()[0] if text else error!r}") from error
        raise


def stem(spec, input_shape):
    """The shared start of every image model: ``(inputs, x, backbone channels)``.

    ``inputs`` is a ``keras.Input`` named ``images`` (raw pixels [0, 255]),
    ``x`` the backbone's preprocessing of it, with grayscale repeated to RGB
    for ImageNet backbones; any other channel count for those is a
    :class:`TfxaiError`.
    """
    spec = get_backbone(spec) if isinstance(spec, str) else spec
    channels = input_shape[-1]
    inputs = keras.Input(tuple(input_shape), name="images")
    x = spec.preprocessing()(inputs)
    if spec.imagenet and channels == 1:
        return inputs, GrayToRGB(name="gray_to_rgb")(x), 3
    if spec.imagenet and channels != 3:
        raise TfxaiError(f"{spec.name} takes 1 or 3 channels, got {channels}: convert the images to RGB")
    return inputs, x, channels


def classifier_base(backbone, num_classes, input_shape, weights=None):
    """The start every classifier builder shares: ``(spec, inputs, x, base)``.

    ``inputs`` and ``x`` are :func:`stem`'s, ``base`` the backbone built for
    ``x``'s channels (not yet called on it); fewer than 2 classes is a :class:`TfxaiError`.
    """
    spec = get_backbone(backbone)
    if num_classes < 2:
        raise TfxaiError(f"need at least 2 classes to train a classifier, got {num_classes}")
    height, width, _ = input_shape
    inputs, x, base_channels = stem(spec, input_shape)
    return spec, inputs, x, build_backbone(spec.name, (height, width, base_channels), weights)


def build_classifier(backbone, num_classes, input_shape, weights=None, dropout=0.2, train_backbone=False, name=None):
    """A transfer-learning classifier: preprocessing -> backbone -> GAP -> dropout -> softmax.

    The model takes raw pixels in [0, 255] (any number of channels the
    backbone accepts; grayscale is repeated to RGB for ImageNet backbones).
    The backbone is a nested model, frozen unless ``train_backbone``.
    """
    spec, inputs, x, base = classifier_base(backbone, num_classes, input_shape, weights)
    base.trainable = bool(train_backbone) or _resolve_weights(spec, weights) is None
    x = base(x, training=False if not base.trainable else None)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="predictions", dtype="float32")(x)  # float32 under mixed precision too
    return keras.Model(inputs, outputs, name=name or f"{spec.name}_classifier")

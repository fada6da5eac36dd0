"""3D ResNet (Hara et al.'s 3D ResNets) as Keras functional pieces: the baseline ``R3D`` and ST-ABN's two halves.

A clip is ``(batch, T, H, W, C)`` in raw pixels [0, 255]. The stem is a
(3, 7, 7) convolution with spatial stride 2 and a (1, 3, 3) max pool; stages
1 to 3 keep every frame (spatial stride 2 from stage 2 on), so the features
that ST-ABN's attention branch sees have one time step per input frame; stage
4 halves time and space. Depth 50 is the bottleneck ResNet-50 of the thesis
(blocks 3, 4, 6, 3; widths 64 to 512, expansion 4); 10, 18 and 34 use basic
blocks.

The same stage builder makes the baseline (:func:`R3D`, one flat functional
model, so Grad-CAM finds its 5-D feature maps) and ST-ABN's feature extractor
(stem + stages 1 to 3) and perception trunk (stage 4), so the two models
compared in the benchmark and the experiment differ only by the attention.
"""

import keras
from keras import ops

from tfxai.errors import TfxaiError

__all__ = ["DEPTHS", "R3D", "FramewiseMaxPooling", "feature_extractor", "perception_trunk"]

#: depth -> (block kind, blocks per stage)
DEPTHS = {
    10: ("basic", (1, 1, 1, 1)),
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
}
#: the stage whose output is ST-ABN's feature map (stages after it form the perception branch)
SPLIT = 3


def _check(depth, input_shape):
    if int(depth) not in DEPTHS:
        raise TfxaiError(f"unknown 3D ResNet depth {depth}: choose one of {sorted(DEPTHS)}")
    if len(input_shape) != 4:
        raise TfxaiError(f"input_shape must be (frames, height, width, channels), got {tuple(input_shape)}")


def _conv_bn(x, filters, kernel, strides, name, relu=True):
    x = keras.layers.Conv3D(filters, kernel, strides=strides, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x) if relu else x


def _block(x, kind, width, strides, name):
    """One residual block (basic: two 3x3x3 convs; bottleneck: 1x1x1, 3x3x3, 1x1x1 with expansion 4)."""
    out_channels = width * 4 if kind == "bottleneck" else width
    shortcut = x
    if strides != (1, 1, 1) or x.shape[-1] != out_channels:
        shortcut = _conv_bn(x, out_channels, 1, strides, f"{name}_down", relu=False)
    if kind == "bottleneck":
        y = _conv_bn(x, width, 1, (1, 1, 1), f"{name}_a")
        y = _conv_bn(y, width, 3, strides, f"{name}_b")
        y = _conv_bn(y, out_channels, 1, (1, 1, 1), f"{name}_c", relu=False)
    else:
        y = _conv_bn(x, width, 3, strides, f"{name}_a")
        y = _conv_bn(y, out_channels, 3, (1, 1, 1), f"{name}_b", relu=False)
    y = keras.layers.Add(name=f"{name}_add")([shortcut, y])
    return keras.layers.ReLU(name=f"{name}_out")(y)


def _stages(x, depth, base_width, stages):
    kind, blocks = DEPTHS[int(depth)]
    for stage in stages:
        width = base_width * 2 ** (stage - 1)
        for index in range(blocks[stage - 1]):
            if index == 0 and stage > 1:
                strides = (2, 2, 2) if stage > SPLIT else (1, 2, 2)
            else:
                strides = (1, 1, 1)
            x = _block(x, kind, width, strides, f"stage{stage}_block{index + 1}")
    return x


@keras.saving.register_keras_serializable(package="tfxai")
class FramewiseMaxPooling(keras.layers.Layer):
    """``MaxPooling3D((1, k, k), strides=(1, s, s), padding="same")`` computed as a 2-D max pool of every frame.

    The two are the same function (a pool one frame deep never mixes frames);
    this one folds time into the batch, so exported models use LiteRT's
    built-in ``MAX_POOL_2D`` (LiteRT has no 3-D max pool: ``MaxPooling3D``
    falls back to Select TF ops, which the plain interpreter cannot run).
    Models saved with ``MaxPooling3D`` still load and give the same outputs.
    """

    def __init__(self, pool_size=3, strides=2, **kwargs):
        super().__init__(**kwargs)
        self.pool_size, self.strides = int(pool_size), int(strides)
        self.pool = keras.layers.MaxPooling2D(self.pool_size, strides=self.strides, padding="same")

    def call(self, clips):
        frames, height, width, channels = clips.shape[1:]
        pooled = self.pool(ops.reshape(clips, (-1, height, width, channels)))
        return ops.reshape(pooled, (-1, frames, *pooled.shape[1:]))

    def compute_output_shape(self, input_shape):
        pooled = self.pool.compute_output_shape((None, *input_shape[2:]))
        return (input_shape[0], input_shape[1], *pooled[1:])

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides}


def _stem(inputs, base_width):
    x = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="rescale")(inputs)
    x = _conv_bn(x, base_width, (3, 7, 7), (1, 2, 2), "stem")
    return FramewiseMaxPooling(3, strides=2, name="stem_pool")(x)


def feature_extractor(input_shape, depth=50, base_width=64, name="feature_extractor"):
    """Stem + stages 1 to 3: clips (batch, T, H, W, C) -> features (batch, T, H/16, W/16, channels)."""
    _check(depth, input_shape)
    inputs = keras.Input(tuple(input_shape), name="clips")
    return keras.Model(inputs, _stages(_stem(inputs, base_width), depth, base_width, range(1, SPLIT + 1)), name=name)


def perception_trunk(feature_shape, depth=50, base_width=64, name="perception_trunk"):
    """Stage 4 on ST-ABN's fused features (batch, T, h, w, channels)."""
    inputs = keras.Input(tuple(feature_shape), name="features")
    return keras.Model(inputs, _stages(inputs, depth, base_width, range(SPLIT + 1, 5)), name=name)


def R3D(num_classes, input_shape=(32, 112, 112, 3), depth=50, base_width=64, name="r3d"):
    """The 3D ResNet baseline: one functional classifier clips -> softmax probabilities (batch, K).

    Explained by Grad-CAM (:class:`tfxai.explain.GradCAM`) at its last 5-D feature map.
    """
    _check(depth, input_shape)
    if int(num_classes) < 2:
        raise TfxaiError(f"a video classifier needs at least 2 classes, got {num_classes}")
    inputs = keras.Input(tuple(input_shape), name="clips")
    x = _stages(_stem(inputs, base_width), depth, base_width, range(1, 5))
    x = keras.layers.GlobalAveragePooling3D(name="pool")(x)
    outputs = keras.layers.Dense(int(num_classes), activation="softmax", name="predictions", dtype="float32")(x)  # float32 under mixed precision too
    return keras.Model(inputs, outputs, name=name)

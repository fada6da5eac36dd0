"""ABN's layers: the attention branch, the attention mechanism and the two-vector PC loss.

Fukui et al., "Attention Branch Network: Learning of Attention Mechanism for
Visual Explanation", CVPR 2019 (branch and mechanism); Iwayoshi et al.,
"Optimising attention maps with an Attention Mining Branch" (the multiplying
mechanism and the PC loss on two feature vectors). :class:`tfxai.attention.ABN`
puts them together. Their registered Keras names (``tfxai>AttentionBranch``, ...)
do not depend on this module's name, so files saved when they lived in
:mod:`tfxai.attention.abn` still load.
"""

import keras
import tensorflow as tf

from tfxai.attention import losses as losses_lib
from tfxai.errors import TfxaiError

__all__ = ["AttentionBranch", "AttentionMechanism", "MECHANISMS", "PrototypeConformityPair"]

MECHANISMS = ("residual", "multiply")

@keras.saving.register_keras_serializable(package="tfxai")
class AttentionBranch(keras.layers.Layer):
    """ABN's attention branch: conv blocks -> K maps -> (attention logits, attention map).

    Fukui et al., CVPR 2019: ``convs`` x (3x3 conv-BN-ReLU), BN, a K-channel
    1x1 conv (K = classes) with BN-ReLU; the K maps give the attention-branch
    logits through a 1x1 conv and global average pooling, and the attention
    map M through a 1x1 conv to one channel, BN and a sigmoid.

    Parameters
    ----------
    num_classes : int
    filters : int
        Width of the conv blocks.
    convs : int
        Number of 3x3 conv blocks.
    momentum : float
        Momentum of the batch-norm moving statistics (0.9, PyTorch's default
        that ABN's public code trains with; Keras' 0.99 leaves the inference
        statistics of short trainings far from the batch statistics).

    Calling it on features (batch, h, w, C) returns ``(logits (batch, K), map (batch, h, w, 1))``.
    """

    def __init__(self, num_classes, filters=64, convs=2, momentum=0.9, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.filters = filters
        self.convs = convs
        self.momentum = momentum
        # === Layers ===
        self.blocks = []
        for index in range(convs):
            self.blocks.append(keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{index + 1}"))
            self.blocks.append(keras.layers.BatchNormalization(momentum=momentum, name=f"bn{index + 1}"))
            self.blocks.append(keras.layers.ReLU(name=f"relu{index + 1}"))
        self.norm = keras.layers.BatchNormalization(momentum=momentum, name="bn_att")
        self.class_maps = keras.layers.Conv2D(num_classes, 1, use_bias=False, name="class_maps")
        self.class_norm = keras.layers.BatchNormalization(momentum=momentum, name="bn_class_maps")
        self.logit_conv = keras.layers.Conv2D(num_classes, 1, use_bias=False, name="logit_conv")
        self.pool = keras.layers.GlobalAveragePooling2D(name="gap")
        self.map_conv = keras.layers.Conv2D(1, 1, use_bias=False, name="map_conv")
        self.map_norm = keras.layers.BatchNormalization(momentum=momentum, name="bn_map")

    def build(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.blocks:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self.norm.build(shape)
        self.class_maps.build(shape)
        shape = self.class_maps.compute_output_shape(shape)
        self.class_norm.build(shape)
        self.logit_conv.build(shape)
        self.map_conv.build(shape)
        self.map_norm.build(self.map_conv.compute_output_shape(shape))

    def call(self, features, training=None):
        x = features
        for layer in self.blocks:
            x = layer(x, training=training)
        x = self.norm(x, training=training)
        maps = tf.nn.relu(self.class_norm(self.class_maps(x), training=training))
        logits = self.pool(self.logit_conv(maps))
        attention = tf.sigmoid(self.map_norm(self.map_conv(maps), training=training))
        return logits, attention

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_classes), tuple(input_shape[:3]) + (1,)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "filters": self.filters, "convs": self.convs,
                "momentum": self.momentum}


@keras.saving.register_keras_serializable(package="tfxai")
class AttentionMechanism(keras.layers.Layer):
    """g(F) = (1 + M) * F (``"residual"``, ABN) or M * F (``"multiply"``, the mining variant).

    Fukui et al., CVPR 2019 (eq. 2) and Iwayoshi et al. The map (batch, h, w, 1)
    is shared by all channels.
    """

    def __init__(self, mode="residual", **kwargs):
        super().__init__(**kwargs)
        if mode not in MECHANISMS:
            raise TfxaiError(f"unknown attention mechanism {mode!r}: choose one of {list(MECHANISMS)}")
        self.mode = mode

    def call(self, features, attention):
        attention = tf.cast(attention, features.dtype)
        if self.mode == "residual":
            return features * (1.0 + attention)
        return features * attention

    def compute_output_shape(self, features_shape, attention_shape=None):
        return features_shape

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


@keras.saving.register_keras_serializable(package="tfxai")
class PrototypeConformityPair(keras.layers.Layer):
    """PC loss on two feature vectors (perception branch and attention module), each with its own centroids.

    Iwayoshi et al.: L_PC is applied to the perception branch's features and
    to the attention module's features; ``layer(perception, attention, labels)``
    returns the per-sample sum of both (batch,).
    """

    def __init__(self, num_classes, normalize=False, **kwargs):
        kwargs["dtype"] = "float32"  # a loss: float32 under mixed precision too
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.normalize = bool(normalize)
        self.perception = losses_lib.PrototypeConformity(num_classes, normalize=normalize, name="perception", dtype="float32")
        self.attention = losses_lib.PrototypeConformity(num_classes, normalize=normalize, name="attention", dtype="float32")

    def build(self, perception_shape, attention_shape=None, labels_shape=None):
        self.perception.build(perception_shape)
        self.attention.build(attention_shape)

    def call(self, perception_features, attention_features, labels):
        return self.perception(perception_features, labels) + self.attention(attention_features, labels)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "normalize": self.normalize}

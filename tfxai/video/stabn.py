"""ST-ABN: the spatio-temporal attention branch network (Mitsuhara, master's thesis).

Structure (clips ``(batch, T, H, W, C)`` in raw pixels [0, 255])::

    clips -> feature extractor (3D ResNet stem + stages 1-3) -> f (batch, T, h, w, C)
    f -> ST attention branch -> K maps -> GAP -> attention logits (L_att)
         K maps -> 1x1x1 conv -> sigmoid, per frame -> M_s (batch, T, h, w)
         K maps -> 1x1x1 conv (compress) -> conv with T output channels -> GAP
                -> dense -> ReLU -> dense -> sigmoid -> M_t (batch, T)
    mechanism: f_s = (1 + M_s) f, f_t = M_t f, conv(concat(f_s, f_t))
    -> perception branch (3D ResNet stage 4, GAP, dense) -> logits (L_per)
    L = attention_weight * L_att + perception_weight * L_per

``forward(clips, invert_spatial, invert_temporal)`` replaces M_s by 1 - M_s
and/or M_t by 1 - M_t before the mechanism (the thesis's table 2).
"""

import keras
import tensorflow as tf

from tfxai.attention.base import AttentionModel, unpack_inputs
from tfxai.errors import TfxaiError
from tfxai.explain import targets as targets_lib
from tfxai.explain.cam import upsample
from tfxai.training.precision import float32
from tfxai.video.resnet3d import feature_extractor, perception_trunk

__all__ = ["STABN", "STAttentionBranch", "STMechanism"]

@keras.saving.register_keras_serializable(package="tfxai")
class STAttentionBranch(keras.layers.Layer):
    """The ST attention branch: features -> (attention logits (batch, K), M_s (batch, T, h, w), M_t (batch, T)).

    ``convs`` x (3x3x3 conv-BN-ReLU), then a K-channel 1x1x1 conv with BN-ReLU
    (the K maps). Logits: 1x1x1 conv to K and GAP. Spatial: 1x1x1 conv to one
    map, BN, sigmoid (per frame, since time is kept). Temporal: 1x1x1 conv to
    ``temporal_channels``, frames moved to channels, a 3x3 conv with T output
    channels, GAP over space, dense(T) -> ReLU -> dense(T) -> sigmoid.
    """

    def __init__(self, num_classes, frames, filters=64, convs=1, temporal_channels=4, **kwargs):
        super().__init__(**kwargs)
        self.num_classes, self.frames = int(num_classes), int(frames)
        self.filters, self.convs, self.temporal_channels = int(filters), int(convs), int(temporal_channels)
        conv = keras.layers.Conv3D
        self.blocks = [
            (conv(self.filters, 3, padding="same", use_bias=False, name=f"conv{i + 1}"), keras.layers.BatchNormalization(name=f"bn{i + 1}"))
            for i in range(self.convs)
        ]
        self.class_maps = conv(self.num_classes, 1, use_bias=False, name="class_maps")
        self.class_bn = keras.layers.BatchNormalization(name="class_bn")
        self.logit_conv = conv(self.num_classes, 1, use_bias=False, name="logit_conv")
        self.spatial_conv = conv(1, 1, use_bias=False, name="spatial_conv")
        self.spatial_bn = keras.layers.BatchNormalization(name="spatial_bn")
        self.temporal_compress = conv(self.temporal_channels, 1, name="temporal_compress")
        self.temporal_conv = keras.layers.Conv2D(self.frames, 3, padding="same", name="temporal_conv")
        self.temporal_hidden = keras.layers.Dense(self.frames, activation="relu", name="temporal_hidden")
        self.temporal_out = keras.layers.Dense(self.frames, activation="sigmoid", name="temporal_out")

    def build(self, input_shape):
        shape = tuple(input_shape)
        for conv, bn in self.blocks:
            conv.build(shape)
            shape = shape[:-1] + (self.filters,)
            bn.build(shape)
        self.class_maps.build(shape)
        k_shape = shape[:-1] + (self.num_classes,)
        for layer in (self.class_bn, self.logit_conv, self.spatial_conv, self.temporal_compress):
            layer.build(k_shape)
        self.spatial_bn.build(shape[:-1] + (1,))
        self.temporal_conv.build((None, shape[2], shape[3], self.frames * self.temporal_channels))
        self.temporal_hidden.build((None, self.frames))
        self.temporal_out.build((None, self.frames))

    def call(self, features, training=None):
        x = features
        for conv, bn in self.blocks:
            x = tf.nn.relu(bn(conv(x), training=training))
        k_maps = tf.nn.relu(self.class_bn(self.class_maps(x), training=training))
        logits = tf.reduce_mean(self.logit_conv(k_maps), axis=(1, 2, 3))
        spatial = tf.sigmoid(self.spatial_bn(self.spatial_conv(k_maps), training=training))[..., 0]
        compressed = self.temporal_compress(k_maps)  # (batch, T, h, w, c)
        shape = tf.shape(compressed)
        channels = self.frames * self.temporal_channels
        frames_as_channels = tf.reshape(tf.transpose(compressed, [0, 2, 3, 1, 4]), [shape[0], shape[2], shape[3], channels])
        pooled = tf.reduce_mean(self.temporal_conv(frames_as_channels), axis=(1, 2))
        temporal = self.temporal_out(self.temporal_hidden(pooled))
        return logits, spatial, temporal

    def get_config(self):
        config = super().get_config()
        config.update(num_classes=self.num_classes, frames=self.frames, filters=self.filters, convs=self.convs,
                      temporal_channels=self.temporal_channels)
        return config

@keras.saving.register_keras_serializable(package="tfxai")
class STMechanism(keras.layers.Layer):
    """conv(concat((1 + M_s) f, M_t f)): a 1x1x1 conv-BN-ReLU back to f's channels."""

    def __init__(self, channels, **kwargs):
        super().__init__(**kwargs)
        self.channels = int(channels)
        self.fusion = keras.layers.Conv3D(self.channels, 1, use_bias=False, name="fusion")
        self.fusion_bn = keras.layers.BatchNormalization(name="fusion_bn")

    def build(self, features_shape, spatial_shape=None, temporal_shape=None):
        shape = tuple(features_shape)
        self.fusion.build(shape[:-1] + (2 * shape[-1],))
        self.fusion_bn.build(shape[:-1] + (self.channels,))

    def call(self, features, spatial, temporal, training=None):
        spatial_part = (1.0 + spatial[..., None]) * features
        temporal_part = temporal[:, :, None, None, None] * features
        fused = self.fusion(tf.concat([spatial_part, temporal_part], axis=-1))
        return tf.nn.relu(self.fusion_bn(fused, training=training))

    def get_config(self):
        config = super().get_config()
        config.update(channels=self.channels)
        return config

@keras.saving.register_keras_serializable(package="tfxai")
class STABN(AttentionModel):
    """Spatio-temporal attention branch network on a 3D ResNet.

    Parameters
    ----------
    num_classes : int
    input_shape : (T, H, W, C)
        Clip shape (raw pixels in [0, 255]).
    depth, base_width : int
        3D ResNet depth (10, 18, 34, 50) and the width of stage 1.
    attention_filters, attention_convs, temporal_channels : int
        Width and number of the attention branch's 3x3x3 convs (None: the
        feature channels) and the channels kept before the temporal conv.
    attention_weight, perception_weight : float
        Weights of L_att and L_per (``tf.Variable`` hyperparameters).
    """

    app = "tfxai train video --model st_abn"

    def __init__(self, num_classes=2, input_shape=(32, 112, 112, 3), depth=50, base_width=64, attention_filters=None,
                 attention_convs=1, temporal_channels=4, attention_weight=1.0, perception_weight=1.0, name="st_abn", **kwargs):
        super().__init__(name=name, **kwargs)
        if int(num_classes) < 2:
            raise TfxaiError(f"ST-ABN needs at least 2 classes, got {num_classes}")
        self.num_classes = int(num_classes)
        self.image_shape = tuple(int(v) for v in input_shape)
        self.depth, self.base_width = int(depth), int(base_width)
        self.feature_extractor = feature_extractor(self.image_shape, self.depth, self.base_width)
        feature_shape = tuple(self.feature_extractor.outputs[0].shape[1:])
        self.attention_filters = int(attention_filters or feature_shape[-1])
        self.attention_convs, self.temporal_channels = int(attention_convs), int(temporal_channels)
        self.attention_branch = STAttentionBranch(self.num_classes, self.image_shape[0], self.attention_filters,
                                                  self.attention_convs, self.temporal_channels, name="st_attention_branch")
        self.mechanism = STMechanism(feature_shape[-1], name="st_mechanism")
        self.perception_trunk = perception_trunk(feature_shape, self.depth, self.base_width)
        self.perception_head = keras.layers.Dense(self.num_classes, name="perception_logits")
        self.add_loss_term("attention", attention_weight)
        self.add_loss_term("perception", perception_weight)
        self.build((None,) + self.image_shape)

    def build(self, input_shape):
        feature_shape = (None,) + tuple(self.feature_extractor.outputs[0].shape[1:])
        self.attention_branch.build(feature_shape)
        self.mechanism.build(feature_shape)
        self.perception_head.build((None, int(self.perception_trunk.outputs[0].shape[-1])))

    # === Forward passes ===

    def forward(self, clips, training=None, invert_spatial=False, invert_temporal=False):
        """Every output of one pass: ``probabilities``, ``logits``, ``attention_logits``, ``spatial`` (batch, T, h, w), ``temporal`` (batch, T).

        ``invert_spatial`` / ``invert_temporal`` feed 1 - M to the mechanism
        (the returned ``spatial`` / ``temporal`` are the branch's own M).
        """
        features = self.feature_extractor(tf.cast(clips, tf.float32), training=training)
        attention_logits, spatial, temporal = self.attention_branch(features, training=training)
        used_spatial = 1.0 - spatial if invert_spatial else spatial
        used_temporal = 1.0 - temporal if invert_temporal else temporal
        attended = self.mechanism(features, used_spatial, used_temporal, training=training)
        pooled = tf.reduce_mean(self.perception_trunk(attended, training=training), axis=(1, 2, 3))
        logits = self.perception_head(pooled)
        logits, attention_logits, spatial, temporal = float32((logits, attention_logits, spatial, temporal))  # heads and losses in float32
        return {"probabilities": tf.nn.softmax(logits), "logits": logits, "attention_logits": attention_logits,
                "spatial": spatial, "temporal": temporal}

    def call(self, inputs, training=None):
        clips, _ = unpack_inputs(inputs)
        return self.forward(clips, training)["probabilities"]

    def _spatial_at_input(self, spatial, clips):
        shape = tf.shape(clips)
        return tf.clip_by_value(upsample(spatial, (shape[1], shape[2], shape[3])), 0.0, 1.0)

    def attention(self, clips):
        """``{"spatial": (batch, T, H, W) at the input resolution, "temporal": (batch, T)}``, both in [0, 1]."""
        clips = tf.cast(tf.convert_to_tensor(clips), tf.float32)
        out = self.forward(clips, training=False)
        return {"spatial": self._spatial_at_input(out["spatial"], clips), "temporal": out["temporal"]}

    def explain(self, clips):
        """``(spatial attention (batch, T, H, W) in [0, 1] at the input resolution, probabilities (batch, K))``."""
        clips = tf.cast(tf.convert_to_tensor(clips), tf.float32)
        out = self.forward(clips, training=False)
        return self._spatial_at_input(out["spatial"], clips), out["probabilities"]

    def serve_attention(self, clips):
        """Probabilities, spatial (batch, T, H, W) and temporal (batch, T) attention in one pass (the SavedModel's outputs)."""
        clips = tf.cast(tf.convert_to_tensor(clips), tf.float32)
        out = self.forward(clips, training=False)
        return {"probabilities": out["probabilities"], "spatial": self._spatial_at_input(out["spatial"], clips), "temporal": out["temporal"]}

    # === Losses ===

    def loss_terms(self, x, y, update="main", training=False):
        clips, _ = unpack_inputs(x)
        labels = targets_lib.class_ids_from_labels(y, self.num_classes)
        out = self.forward(clips, training)
        terms = {
            "attention": keras.losses.sparse_categorical_crossentropy(labels, out["attention_logits"], from_logits=True),
            "perception": keras.losses.sparse_categorical_crossentropy(labels, out["logits"], from_logits=True),
        }
        return terms, out["probabilities"]

    def get_config(self):
        config = super().get_config()
        config.update(num_classes=self.num_classes, input_shape=list(self.image_shape), depth=self.depth, base_width=self.base_width,
                      attention_filters=self.attention_filters, attention_convs=self.attention_convs,
                      temporal_channels=self.temporal_channels)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

"""ST-ABN's formulas against numpy: the attention branch (spatial and temporal), the mechanism (eqs. 2-4) and inversion.

Independent of tests/video/test_stabn.py: here every product, sum, convolution and
normalisation is written out in numpy from the layers' weights (random BatchNorm
statistics, so the inference-mode BatchNorm is part of the check).
"""

import numpy as np
import pytest

import tfxai  # noqa: F401  (before TensorFlow)
import keras
import tensorflow as tf

from tfxai.video import STABN, inversion_table
from tfxai.video.stabn import STAttentionBranch, STMechanism

B, T, H, W, C, K, TC = 2, 3, 3, 3, 4, 5, 2  # batch, frames, feature height / width, channels, classes, temporal channels


def n(x):
    return np.asarray(x, np.float64)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def randomise_batchnorms(layer, seed):
    rng = np.random.default_rng(seed)
    for bn in [v for v in layer._flatten_layers() if isinstance(v, keras.layers.BatchNormalization)]:
        size = bn.gamma.shape[0]
        bn.gamma.assign(rng.uniform(0.5, 1.5, size))
        bn.beta.assign(rng.normal(0, 0.3, size))
        bn.moving_mean.assign(rng.normal(0, 0.3, size))
        bn.moving_variance.assign(rng.uniform(0.5, 2.0, size))


def batchnorm(x, bn):
    return (x - n(bn.moving_mean)) / np.sqrt(n(bn.moving_variance) + bn.epsilon) * n(bn.gamma) + n(bn.beta)


def pointwise(x, conv):
    """A 1x1(x1) convolution: a matrix product over the channel axis (plus the bias when it has one)."""
    out = x @ n(conv.kernel).reshape(x.shape[-1], -1)
    return out + n(conv.bias) if conv.use_bias else out


def conv2d_same_3x3(x, conv):
    """A 3x3 'same' 2-D convolution with zero padding, written as loops."""
    kernel, bias = n(conv.kernel), n(conv.bias)
    batch, height, width, _ = x.shape
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    out = np.zeros((batch, height, width, kernel.shape[-1]))
    for i in range(height):
        for j in range(width):
            patch = padded[:, i : i + 3, j : j + 3, :]  # (batch, 3, 3, in)
            out[:, i, j, :] = np.einsum("bxyc,xyco->bo", patch, kernel) + bias
    return out


@pytest.fixture(scope="module")
def features():
    return np.random.default_rng(0).normal(size=(B, T, H, W, C)).astype(np.float32)


def test_attention_branch_by_hand(features):
    # no 3x3x3 convs (convs=0) so every step is a matrix product or an explicit 3x3 convolution
    keras.utils.set_random_seed(2)
    branch = STAttentionBranch(K, T, filters=C, convs=0, temporal_channels=TC)
    branch.build(features.shape)
    randomise_batchnorms(branch, 3)
    logits, spatial, temporal = (n(v) for v in branch(features, training=False))
    k_maps = np.maximum(batchnorm(pointwise(n(features), branch.class_maps), branch.class_bn), 0)  # the K class maps
    np.testing.assert_allclose(logits, pointwise(k_maps, branch.logit_conv).mean(axis=(1, 2, 3)), atol=1e-5)
    # spatial: one map from the K maps, BatchNorm, sigmoid, per frame
    np.testing.assert_allclose(spatial, sigmoid(batchnorm(pointwise(k_maps, branch.spatial_conv), branch.spatial_bn))[..., 0], atol=1e-5)
    # temporal: compress to TC channels, stack the T frames' channels (frame-major), 3x3 conv to T channels,
    # spatial mean, dense-ReLU, dense-sigmoid
    compressed = pointwise(k_maps, branch.temporal_compress)  # (B, T, H, W, TC)
    stacked = np.zeros((B, H, W, T * TC))
    for t in range(T):
        stacked[..., t * TC : (t + 1) * TC] = compressed[:, t]
    pooled = conv2d_same_3x3(stacked, branch.temporal_conv).mean(axis=(1, 2))
    hidden = np.maximum(pooled @ n(branch.temporal_hidden.kernel) + n(branch.temporal_hidden.bias), 0)
    np.testing.assert_allclose(temporal, sigmoid(hidden @ n(branch.temporal_out.kernel) + n(branch.temporal_out.bias)), atol=1e-5)


def hand_mechanism(features, spatial, temporal, mechanism):
    """Eqs. 2-4 as the prose reads them: f_s = (1 + M_s) f, f_t = M_t f, conv(concat(f_s, f_t)), BN, ReLU; element by element."""
    f = n(features)
    spatial_part, temporal_part = np.empty_like(f), np.empty_like(f)
    for b, t, i, j in np.ndindex(f.shape[:4]):
        spatial_part[b, t, i, j] = (1 + spatial[b, t, i, j]) * f[b, t, i, j]
        temporal_part[b, t, i, j] = temporal[b, t] * f[b, t, i, j]
    kernel = n(mechanism.fusion.kernel).reshape(2 * f.shape[-1], -1)
    fused = spatial_part @ kernel[: f.shape[-1]] + temporal_part @ kernel[f.shape[-1] :]  # concat order: spatial, then temporal
    return np.maximum(batchnorm(fused, mechanism.fusion_bn), 0)


def test_mechanism_with_a_known_kernel_is_residual_spatial_plus_weighted_temporal(features):
    # kernel [I; 2 I]: the fused map is (1 + M_s) f + 2 M_t f exactly, then the fresh BatchNorm's 1 / sqrt(1 + eps)
    rng = np.random.default_rng(4)
    spatial, temporal = rng.uniform(size=(B, T, H, W)), rng.uniform(size=(B, T))
    mechanism = STMechanism(C)
    mechanism.build(features.shape)
    mechanism.fusion.kernel.assign(np.concatenate([np.eye(C), 2 * np.eye(C)]).reshape(1, 1, 1, 2 * C, C))
    out = n(mechanism(features, spatial.astype("float32"), temporal.astype("float32"), training=False))
    f = n(features)
    expected = ((1 + spatial[..., None]) * f + 2 * temporal[:, :, None, None, None] * f) / np.sqrt(1 + mechanism.fusion_bn.epsilon)
    np.testing.assert_allclose(out, np.maximum(expected, 0), atol=1e-5)
    # the printed eq. 2, (1 + M_s f), would be another function: it is not what the layer computes
    printed = (1 + spatial[..., None] * f + 2 * temporal[:, :, None, None, None] * f) / np.sqrt(1 + mechanism.fusion_bn.epsilon)
    assert not np.allclose(out, np.maximum(printed, 0), atol=1e-3)


def test_mechanism_with_random_weights_and_statistics_by_hand(features):
    keras.utils.set_random_seed(5)
    rng = np.random.default_rng(6)
    spatial, temporal = rng.uniform(size=(B, T, H, W)), rng.uniform(size=(B, T))
    mechanism = STMechanism(C)
    mechanism.build(features.shape)
    randomise_batchnorms(mechanism, 7)
    out = n(mechanism(features, spatial.astype("float32"), temporal.astype("float32"), training=False))
    np.testing.assert_allclose(out, hand_mechanism(features, spatial, temporal, mechanism), atol=1e-5)


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(8)
    stabn = STABN(num_classes=7, input_shape=(4, 16, 16, 3), depth=10, base_width=4, attention_filters=8)
    randomise_batchnorms(stabn.mechanism, 9)
    return stabn


@pytest.mark.parametrize("invert_spatial, invert_temporal", [(True, False), (False, True), (True, True)])
def test_inversion_feeds_one_minus_m_to_the_mechanism(model, invert_spatial, invert_temporal):
    clips = np.random.default_rng(10).uniform(0, 255, (3, 4, 16, 16, 3)).astype(np.float32)
    base = model.forward(clips, training=False)
    out = model.forward(clips, training=False, invert_spatial=invert_spatial, invert_temporal=invert_temporal)
    spatial, temporal = n(base["spatial"]), n(base["temporal"])
    np.testing.assert_allclose(n(out["spatial"]), spatial, atol=1e-6)  # the branch's own maps are reported
    np.testing.assert_allclose(n(out["temporal"]), temporal, atol=1e-6)
    used_spatial = 1 - spatial if invert_spatial else spatial
    used_temporal = 1 - temporal if invert_temporal else temporal
    features = model.feature_extractor(clips, training=False)
    attended = hand_mechanism(features, used_spatial, used_temporal, model.mechanism).astype(np.float32)
    pooled = n(model.perception_trunk(attended, training=False)).mean(axis=(1, 2, 3))
    logits = pooled @ n(model.perception_head.kernel) + n(model.perception_head.bias)
    np.testing.assert_allclose(n(out["logits"]), logits, atol=1e-4)
    assert not np.allclose(n(base["logits"]), logits, atol=1e-4)


def test_inversion_table_top1_and_top5_from_hand_logits(model):
    clips = np.random.default_rng(11).uniform(0, 255, (6, 4, 16, 16, 3)).astype(np.float32)
    labels = np.array([0, 1, 2, 3, 4, 5])
    rows = inversion_table(model, clips, labels, batch_size=4)
    for row in rows:
        logits = n(model.forward(tf.constant(clips), training=False, invert_spatial=row["spatial_inverted"],
                                 invert_temporal=row["temporal_inverted"])["logits"])
        ranked = np.argsort(-logits, axis=1)
        assert row["top1"] == pytest.approx(np.mean(ranked[:, 0] == labels))
        assert row["top5"] == pytest.approx(np.mean([labels[i] in ranked[i, :5] for i in range(6)]))

"""The attention-branch losses against hand computations on small arrays."""

import math

import numpy as np
import pytest
import tensorflow as tf

from tfxai.attention import losses
from tfxai.attention.masking import mask_out, soft_mask
from tfxai.errors import TfxaiError

LABELS = np.array([0, 2, 1])
PROBABILITIES = np.array([[0.7, 0.2, 0.1, 0.0], [0.1, 0.3, 0.4, 0.2], [0.25, 0.25, 0.25, 0.25]], np.float32)


def test_attention_mining_loss_is_the_sum_of_true_class_probabilities():
    expected = 0.7 + 0.4 + 0.25
    assert float(losses.attention_mining_loss(LABELS, PROBABILITIES)) == pytest.approx(expected, rel=1e-6)
    assert float(losses.attention_mining_loss(LABELS, PROBABILITIES, reduction="mean")) == pytest.approx(expected / 3, rel=1e-6)
    per_sample = losses.attention_mining_loss(np.eye(4)[LABELS], PROBABILITIES, reduction="none")  # one-hot labels too
    np.testing.assert_allclose(per_sample, [0.7, 0.4, 0.25], rtol=1e-6)
    keras_loss = losses.AttentionMiningLoss()
    assert float(keras_loss(LABELS, PROBABILITIES)) == pytest.approx(expected, rel=1e-6)


def _complement_entropy_by_hand(labels, probabilities):
    total = 0.0
    for label, row in zip(labels, probabilities):
        rest = 1.0 - row[label]
        for j, p in enumerate(row):
            if j == label or p == 0:
                continue
            q = p / rest
            total -= q * math.log(q)
    return total / len(labels)


def test_complement_entropy_matches_the_formula():
    expected = _complement_entropy_by_hand(LABELS, PROBABILITIES)
    got = float(losses.complement_entropy(LABELS, probabilities=PROBABILITIES))
    assert got == pytest.approx(expected, rel=1e-5)
    # the third sample has a flat complement: its entropy is log(K - 1)
    per_sample = losses.complement_entropy(LABELS, probabilities=PROBABILITIES, reduction="none")
    assert float(per_sample[2]) == pytest.approx(math.log(3), rel=1e-5)


def test_complement_entropy_from_logits_equals_from_probabilities():
    logits = np.array([[2.0, -1.0, 0.5, 0.0], [0.3, 0.1, 3.0, -2.0]], np.float32)
    labels = np.array([0, 2])
    probabilities = tf.nn.softmax(logits).numpy()
    from_logits = losses.complement_entropy(labels, logits=logits, reduction="none")
    from_probabilities = losses.complement_entropy(labels, probabilities=probabilities, reduction="none")
    np.testing.assert_allclose(from_logits, from_probabilities, rtol=1e-5)
    np.testing.assert_allclose(from_logits, [_complement_entropy_by_hand([l], [p]) for l, p in zip(labels, probabilities)], rtol=1e-5)
    # the COT loss minimised in the second update: log(K - 1) - C, zero exactly for a flat complement
    gap = losses.complement_entropy_gap(labels, logits=logits, reduction="none")
    np.testing.assert_allclose(gap, math.log(3) - np.asarray(from_logits), rtol=1e-5, atol=1e-6)
    flat = losses.complement_entropy_gap([1], logits=[[0.0, 5.0, 0.0, 0.0]], reduction="none")
    assert float(flat[0]) == pytest.approx(0.0, abs=1e-6)
    keras_loss = losses.ComplementEntropy(from_logits=True)
    assert float(keras_loss(labels, logits)) == pytest.approx(float(np.mean(gap)), rel=1e-5)


def test_complement_entropy_needs_three_classes():
    with pytest.raises(TfxaiError, match="at least 3 classes"):
        losses.complement_entropy([0], probabilities=[[0.5, 0.5]])


def test_prototype_conformity_matches_the_formula():
    features = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]], np.float32)
    centroids = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]], np.float32)
    labels = np.array([0, 2, 1])
    k = 3
    expected = []
    for f, g in zip(features, labels):
        alpha = np.linalg.norm(f - centroids[g])
        rest = sum(np.linalg.norm(f - centroids[j]) + np.linalg.norm(centroids[g] - centroids[j]) for j in range(k) if j != g)
        expected.append(alpha - rest / (k - 1))
    got = losses.prototype_conformity(features, labels, centroids, reduction="none")
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    assert float(losses.prototype_conformity(features, labels, centroids, reduction="sum")) == pytest.approx(sum(expected), rel=1e-5)
    # the layer owns the centroids and computes the same thing
    layer = losses.PrototypeConformity(3)
    layer.build((None, 2))
    layer.centroids.assign(centroids)
    np.testing.assert_allclose(layer(tf.constant(features), tf.constant(labels)), expected, rtol=1e-5)


def test_prototype_conformity_gradient_is_finite_at_a_centroid():
    centroids = tf.Variable([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]])
    features = tf.Variable([[0.0, 0.0]])  # exactly on its own centroid
    with tf.GradientTape() as tape:
        value = losses.prototype_conformity(features, [0], centroids, reduction="sum")
    gradients = tape.gradient(value, [features, centroids])
    assert all(np.all(np.isfinite(g.numpy())) for g in gradients)


def test_masking_is_features_minus_soft_mask_times_features():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(2, 3, 3, 4)).astype(np.float32)
    attention = rng.uniform(size=(2, 3, 3, 1)).astype(np.float32)
    sigma, omega = 0.4, 10.0
    mask = 1.0 / (1.0 + np.exp(-omega * (attention - sigma)))
    np.testing.assert_allclose(soft_mask(attention, sigma, omega), mask, rtol=1e-5)
    np.testing.assert_allclose(mask_out(features, attention, sigma, omega), features - mask * features, rtol=1e-5, atol=1e-6)
    # (batch, h, w) maps broadcast over channels the same way
    np.testing.assert_allclose(mask_out(features, attention[..., 0], sigma, omega), features - mask * features, rtol=1e-5, atol=1e-6)


def test_attention_map_loss_is_flagged_mean_squared_error():
    target = np.array([[[1.0, 0.0], [0.0, 1.0]], [[1.0, 1.0], [1.0, 1.0]]], np.float32)
    maps = np.array([[[0.5, 0.0], [0.0, 0.5]], [[0.0, 0.0], [0.0, 0.0]]], np.float32)
    values = losses.attention_map_loss(target, maps, reduction="none")
    np.testing.assert_allclose(values, [0.125, 1.0], rtol=1e-6)
    flagged = losses.attention_map_loss(target, maps, flags=[1.0, 0.0], reduction="none")
    np.testing.assert_allclose(flagged, [0.125, 0.0], rtol=1e-6)
    # a 4x4 target is area-averaged down to the 2x2 map
    large = np.kron(target[:1], np.ones((2, 2)))
    np.testing.assert_allclose(losses.attention_map_loss(large, maps[:1], reduction="none"), [0.125], rtol=1e-6)
    keras_loss = losses.AttentionMapLoss()
    assert float(keras_loss(target, maps, sample_weight=np.array([1.0, 0.0]))) == pytest.approx(0.125 / 2, rel=1e-6)

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


# === The paper's COT variant for the mining branch (eq. 4 with y_g = 0) ===


def _paper_complement_entropy_by_hand(labels, probabilities):
    """-1/N sum_i sum_{j != g} y_ij log y_ij: eq. 4 with y_ig = 0 in the denominator."""
    total = 0.0
    for label, row in zip(labels, probabilities):
        total -= sum(p * math.log(p) for j, p in enumerate(row) if j != label and p > 0)
    return total / len(labels)


def _numpy_softmax(logits):
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _true_logit_gradient_by_hand(logits, label, variant):
    """d(max C - C)/dz_g by central differences in float64 numpy (the COT loss on one sample)."""
    def loss(z):
        p = _numpy_softmax(z)
        rest = p[np.arange(len(p)) != label]
        q = rest / rest.sum() if variant == "chen" else rest
        return float(np.sum(q * np.log(q)))  # = -C (the constant maximum does not change the gradient)

    step = np.zeros_like(logits)
    step[label] = 1e-5
    return (loss(logits + step) - loss(logits - step)) / 2e-5


def test_paper_complement_entropy_matches_eq_4_with_the_true_class_set_to_zero():
    expected = _paper_complement_entropy_by_hand(LABELS, PROBABILITIES)
    got = float(losses.complement_entropy(LABELS, probabilities=PROBABILITIES, variant="paper"))
    assert got == pytest.approx(expected, rel=1e-5)
    assert got != pytest.approx(_complement_entropy_by_hand(LABELS, PROBABILITIES), rel=1e-2)  # not Chen's
    logits = np.array([[2.0, -1.0, 0.5, 0.0], [0.3, 0.1, 3.0, -2.0]], np.float32)
    probabilities = _numpy_softmax(logits.astype(np.float64))
    from_logits = losses.complement_entropy([0, 2], logits=logits, reduction="none", variant="paper")
    np.testing.assert_allclose(from_logits, [_paper_complement_entropy_by_hand([l], [p]) for l, p in zip([0, 2], probabilities)], rtol=1e-5)


@pytest.mark.parametrize("variant, sign", [("paper", 1.0), ("chen", 0.0)])
def test_cot_gradient_on_the_true_logit(variant, sign):
    """Chen's COT leaves the true logit alone; the paper's pushes it down (positive gradient of the loss)."""
    logits = np.array([[1.5, 0.2, -0.3, 0.1, 0.0], [-0.5, 2.0, 0.4, 0.3, 0.2]], np.float64)
    labels = np.array([0, 1])
    variable = tf.Variable(logits.astype(np.float32))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(losses.complement_entropy_gap(labels, logits=variable, reduction="none", variant=variant))
    gradient = tape.gradient(loss, variable).numpy()
    true_gradient = gradient[np.arange(2), labels]
    by_hand = [_true_logit_gradient_by_hand(logits[i], labels[i], variant) for i in range(2)]
    np.testing.assert_allclose(true_gradient, by_hand, rtol=1e-3, atol=1e-6)
    if sign:
        assert np.all(true_gradient > 1e-3)  # gradient descent lowers the true-class logit
    else:
        np.testing.assert_allclose(true_gradient, 0.0, atol=1e-6)


def test_paper_cot_gap_is_zero_only_when_the_true_class_is_gone_and_the_rest_flat():
    flat_without_true = np.log(np.array([[1e-12, 1 / 3, 1 / 3, 1 / 3]], np.float64))  # K = 4, y_g ~ 0
    assert float(losses.complement_entropy_gap([0], logits=flat_without_true, variant="paper")) == pytest.approx(0.0, abs=1e-6)
    flat_with_true = np.zeros((1, 4), np.float32)  # y_g = 1/4: Chen's optimum, not the paper's
    assert float(losses.complement_entropy_gap([0], logits=flat_with_true, variant="chen")) == pytest.approx(0.0, abs=1e-6)
    paper_gap = float(losses.complement_entropy_gap([0], logits=flat_with_true, variant="paper"))
    assert paper_gap == pytest.approx(math.log(3) - 0.75 * math.log(4), rel=1e-5)  # log 3 + 3 (1/4) log(1/4)
    # K = 3: the maximum of s log(2 / s) is 2/e at s = 2/e (y_g = 1 - 2/e), so the gap stays >= 0 there too
    s = 2 / math.e
    optimum = np.log(np.array([[1 - s, s / 2, s / 2]]))
    assert float(losses.complement_entropy_gap([0], logits=optimum, variant="paper")) == pytest.approx(0.0, abs=1e-6)
    rng = np.random.default_rng(0)
    for classes in (3, 4, 10):
        gaps = losses.complement_entropy_gap(rng.integers(0, classes, 64), logits=rng.normal(0, 3, (64, classes)), reduction="none", variant="paper")
        assert float(tf.reduce_min(gaps)) >= -1e-6


def test_complement_entropy_keras_loss_and_unknown_variant():
    logits = np.array([[2.0, -1.0, 0.5, 0.0]], np.float32)
    keras_loss = losses.ComplementEntropy(from_logits=True, variant="paper")
    expected = losses.complement_entropy_gap([0], logits=logits, variant="paper")
    assert float(keras_loss([0], logits)) == pytest.approx(float(expected), rel=1e-6)
    assert losses.ComplementEntropy.from_config(keras_loss.get_config()).variant == "paper"
    with pytest.raises(TfxaiError, match="unknown complement-entropy variant 'renormalised'"):
        losses.complement_entropy([0], logits=logits, variant="renormalised")


# === A bounded PC loss (normalised features and centroids) ===


def test_normalized_prototype_conformity_is_the_formula_on_unit_vectors():
    features = np.array([[3.0, 0.0], [0.0, 0.5], [2.0, 2.0]], np.float32)
    centroids = np.array([[1.0, 1.0], [5.0, 0.0], [0.0, 0.2]], np.float32)
    labels = np.array([0, 2, 1])
    unit = lambda a: a / np.linalg.norm(a, axis=-1, keepdims=True)  # noqa: E731
    f, w = unit(features), unit(centroids)
    expected = [
        np.linalg.norm(f[i] - w[g]) - sum(np.linalg.norm(f[i] - w[j]) + np.linalg.norm(w[g] - w[j]) for j in range(3) if j != g) / 2
        for i, g in enumerate(labels)
    ]
    got = losses.prototype_conformity(features, labels, centroids, reduction="none", normalize=True)
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    layer = losses.PrototypeConformity(3, normalize=True)
    layer.build((None, 2))
    layer.centroids.assign(centroids * 7.0)  # the scale of a centroid does not matter on the sphere
    np.testing.assert_allclose(layer(tf.constant(features), tf.constant(labels)), expected, rtol=1e-5)
    assert losses.PrototypeConformity.from_config(layer.get_config()).normalize is True


@pytest.mark.parametrize("normalize", [False, True])
def test_minimising_prototype_conformity_stays_bounded_only_when_normalized(normalize):
    """Gradient descent on features and centroids: the raw eq. 3 falls without end, the normalised form stops at >= -4."""
    rng = np.random.default_rng(0)
    features = tf.Variable(rng.normal(size=(16, 8)).astype(np.float32))
    centroids = tf.Variable(rng.normal(size=(4, 8)).astype(np.float32))
    labels = np.arange(16) % 4
    optimizer = tf.keras.optimizers.SGD(0.1)

    @tf.function  # one trace, 300 fast steps (eager steps took 8 s)
    def step():
        with tf.GradientTape() as tape:
            value = losses.prototype_conformity(features, labels, centroids, reduction="sum", normalize=normalize)
        optimizer.apply_gradients(zip(tape.gradient(value, [features, centroids]), [features, centroids]))
        return value

    values = [float(step()) for _ in range(300)]
    if normalize:
        assert min(values) >= -4.0 * 16 - 1e-3
        assert abs(values[-1] - values[-51]) < 1e-2 * abs(values[-1])  # settled
    else:
        assert values[-1] < -4.0 * 16 and values[-1] < values[-51] - 10  # still falling, past any bound

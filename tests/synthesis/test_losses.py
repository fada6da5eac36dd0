import keras
import numpy as np
import pytest

import tfxai  # noqa: F401
from tfxai.errors import TfxaiError
from tfxai.synthesis import MixedTargetLoss, mixed_target_loss, stack_targets
from tfxai.testing import assert_config_round_trip  # noqa: F401

P = np.array([[0.7, 0.2, 0.1], [0.25, 0.5, 0.25]], "float32")
LABELS = np.array([0, 1])
Q = np.array([[0.6, 0.3, 0.1], [0.0, 0.9, 0.1]], "float32")


def _hand(p, label, q):
    """Eq. 9 by hand: 0.5 * sum q log(q / p) + 0.5 * -log p[label], with 0 log 0 = 0."""
    kl = sum(qi * np.log(qi / pi) for qi, pi in zip(q, p) if qi > 0)
    return 0.5 * kl + 0.5 * -np.log(p[label])


def test_eq9_against_a_hand_computation():
    got = np.asarray(mixed_target_loss(LABELS, Q, P))
    expected = [_hand(P[0], 0, Q[0]), _hand(P[1], 1, Q[1])]
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    # First row by hand with numbers: 0.5*(0.6 ln(6/7) + 0.3 ln(3/2) + 0) + 0.5*(-ln 0.7)
    first = 0.5 * (0.6 * np.log(0.6 / 0.7) + 0.3 * np.log(0.3 / 0.2)) + 0.5 * -np.log(0.7)
    np.testing.assert_allclose(got[0], first, rtol=1e-5)


def test_original_images_get_plain_cross_entropy():
    one_hot = np.eye(3, dtype="float32")[LABELS]
    got = np.asarray(mixed_target_loss(LABELS, one_hot, P))
    np.testing.assert_allclose(got, -np.log(P[[0, 1], LABELS]), rtol=1e-5)
    reference = keras.losses.CategoricalCrossentropy(reduction=None)(one_hot, P)
    np.testing.assert_allclose(got, np.asarray(reference), rtol=1e-5)


def test_logits_and_one_hot_labels_give_the_same_loss():
    logits = np.log(P)
    one_hot = np.eye(3, dtype="float32")[LABELS]
    a = np.asarray(mixed_target_loss(LABELS, Q, P))
    b = np.asarray(mixed_target_loss(one_hot, Q, logits, from_logits=True))
    np.testing.assert_allclose(a, b, rtol=1e-5)


def test_keras_loss_reduces_over_the_batch_and_round_trips():
    loss = MixedTargetLoss(kl_weight=0.5)
    y_true = stack_targets(LABELS, Q)
    assert tuple(y_true.shape) == (2, 2, 3)
    value = float(loss(y_true, P))
    np.testing.assert_allclose(value, np.mean([_hand(P[0], 0, Q[0]), _hand(P[1], 1, Q[1])]), rtol=1e-5)
    clone = MixedTargetLoss.from_config(loss.get_config())
    assert clone.kl_weight == 0.5 and float(clone(y_true, P)) == pytest.approx(value)
    with pytest.raises(TfxaiError, match="stack_targets"):
        loss(np.eye(3, dtype="float32")[LABELS], P)


def test_loss_trains_a_model_with_compile_and_fit():
    rng = np.random.default_rng(0)
    x = rng.random((32, 5)).astype("float32")
    labels = (x[:, 0] > 0.5).astype("int64")
    q = np.eye(2, dtype="float32")[labels] * 0.8 + 0.1
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss=MixedTargetLoss())
    history = model.fit(x, np.asarray(stack_targets(labels, q)), epochs=5, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]

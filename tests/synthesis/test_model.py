import keras
import numpy as np
import tensorflow as tf

import tfxai  # noqa: F401
from tfxai.synthesis import MixedTargetModel
from tfxai.testing import assert_config_round_trip, assert_keras_round_trip


def _data(count=48, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((count, 6, 6, 1)).astype("float32")
    labels = (x.mean(axis=(1, 2, 3)) > 0.5).astype("int64")
    soft = np.eye(2, dtype="float32")[labels]
    soft[::3] = 0.9 * soft[::3] + 0.1 * soft[::3][:, ::-1]  # a third "generated": 0.9 own / 0.1 other
    return x, labels, soft


def _classifier():
    return keras.Sequential(
        [keras.Input((6, 6, 1)), keras.layers.Flatten(), keras.layers.Dense(8, activation="relu"),
         keras.layers.Dense(2, activation="softmax")]
    )


def test_fit_reduces_the_loss_and_reports_metrics():
    x, labels, soft = _data()
    model = MixedTargetModel(_classifier())
    model.compile(optimizer=keras.optimizers.Adam(0.02))
    data = tf.data.Dataset.from_tensor_slices((x, (labels, soft))).batch(16)
    history = model.fit(data, epochs=6, verbose=0)
    assert set(history.history) == {"loss", "kl", "ce", "accuracy"}
    assert history.history["loss"][-1] < history.history["loss"][0]
    results = model.evaluate(x, labels, verbose=0, return_dict=True)  # plain labels: q = t
    np.testing.assert_allclose(results["kl"], results["ce"], rtol=1e-4)


def test_step_loss_is_eq9_averaged_over_the_batch():
    x, labels, soft = _data(8)
    classifier = _classifier()
    model = MixedTargetModel(classifier)
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    out = model.test_step((tf.constant(x), (tf.constant(labels), tf.constant(soft))))
    p = classifier.predict(x, verbose=0)
    kl = np.sum(np.where(soft > 0, soft * np.log(np.where(soft > 0, soft, 1) / p), 0), axis=1)
    ce = -np.log(p[np.arange(8), labels])
    np.testing.assert_allclose(float(out["loss"]), np.mean(0.5 * kl + 0.5 * ce), rtol=1e-4)


def test_plain_labels_train_exactly_like_cross_entropy():
    x, labels, _ = _data(16)
    keras.utils.set_random_seed(1)
    ours = _classifier()
    keras.utils.set_random_seed(1)
    reference = _classifier()
    reference.set_weights(ours.get_weights())
    model = MixedTargetModel(ours)
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    model.fit(x, labels, batch_size=16, epochs=2, shuffle=False, verbose=0)
    reference.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    reference.fit(x, labels, batch_size=16, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_sample_weight_zero_ignores_examples():
    x, labels, soft = _data(8)
    model = MixedTargetModel(_classifier())
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    weights = np.array([1, 1, 1, 1, 0, 0, 0, 0], "float32")
    full = model.test_step((tf.constant(x), (labels, soft), tf.constant(weights)))
    model.reset_metrics()
    half = model.test_step((tf.constant(x[:4]), (labels[:4], soft[:4])))
    np.testing.assert_allclose(float(full["loss"]) * 2, float(half["loss"]), rtol=1e-4)


def test_config_and_keras_round_trip(tmp_path):
    x, _, _ = _data(4)
    model = MixedTargetModel(_classifier(), kl_weight=0.3, name="mixed")
    model(x)
    clone = assert_config_round_trip(model, x)
    assert clone.kl_weight == 0.3
    assert_keras_round_trip(model, x, str(tmp_path))

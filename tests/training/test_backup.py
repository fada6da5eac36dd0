"""The backup behind resume: batch order keyed by the epoch, exact continuation in-process, refused option changes."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfxai.errors import TfxaiError
from tfxai.training.resume import EpochCounter, epoch_shuffle, epoch_variable, fit_resumable
from tfxai.training import make_dataset


def epoch_orders(data, epochs):
    orders = []
    for epoch in range(epochs):
        EpochCounter().on_epoch_begin(epoch)
        orders.append([int(x) for x in data])
    return orders


def test_epoch_shuffle_reshuffles_every_epoch_and_repeats_an_epoch_exactly():
    data = epoch_shuffle(tf.data.Dataset.range(20), 20, seed=5)
    assert int(data.cardinality()) == 20
    orders = epoch_orders(data, 3)
    assert all(sorted(order) == list(range(20)) for order in orders)
    assert orders[0] != orders[1] != orders[2]
    for _ in range(2):  # extra iterators (Keras makes one or two per epoch) do not move the order
        iter(data)
    assert epoch_orders(data, 3) == orders


def tiny_run(backup, epochs, stop_at=None, options=None):
    keras.utils.set_random_seed(1)
    rng = np.random.default_rng(0)
    x = rng.random((24, 6)).astype("float32")
    y = (x[:, 0] > 0.5).astype("int32")
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dropout(0.3), keras.layers.Dense(2, activation="softmax")])
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == stop_at:
                raise KeyboardInterrupt

    history = fit_resumable(model, make_dataset(x, y, 4, shuffle=True, seed=2), epochs=epochs, backup=backup, options=options or {"lr": 0.01},
                            callbacks=[Interrupt()], verbose=0)
    return model, history


def test_interrupted_and_resumed_fit_equals_an_uninterrupted_one(tmp_path):
    whole, whole_history = tiny_run(None, 5)
    with pytest.raises(KeyboardInterrupt):
        tiny_run(tmp_path / "backup", 5, stop_at=3)
    assert json.loads((tmp_path / "backup" / "state.json").read_text())["epoch"] == 3
    resumed, history = tiny_run(tmp_path / "backup", 5)
    assert history.history["loss"] == whole_history.history["loss"]  # all five epochs, the three before the interruption too
    assert history.epoch == [0, 1, 2, 3, 4]
    for a, b in zip(whole.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_rerun_with_other_options_is_refused(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        tiny_run(tmp_path / "backup", 4, stop_at=2)
    with pytest.raises(TfxaiError, match=r"other options \(lr\): rerun with the same options .* or delete that folder"):
        tiny_run(tmp_path / "backup", 4, options={"lr": 0.1})
    assert epoch_variable().dtype == tf.int64

"""A NaN or infinite loss stops training with one line naming the step and the loss term; nothing is half-written."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfxai.attention import ABN
from tfxai.errors import TfxaiError
from tfxai.training.resume import backup_folder
from tfxai.training import RunConfig, make_dataset, run_training


def images_with_a_nan(count=16, at=9):
    rng = np.random.default_rng(0)
    x = rng.random((count, 16, 16, 1)).astype("float32")
    x[at, 3, 3, 0] = np.nan  # batch 3 of 4 images
    return x, np.arange(count) % 3


def test_a_nan_image_stops_the_classifier_naming_epoch_batch_and_loss(tmp_path):
    x, y = images_with_a_nan()
    model = keras.Sequential([keras.Input((16, 16, 1)), keras.layers.Conv2D(4, 3), keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    config = RunConfig(out=str(tmp_path / "run"), epochs=3, export=False)
    with pytest.raises(TfxaiError, match=r"^training stopped at epoch 1, batch 3: the loss became NaN or infinite; lower --learning-rate"):
        run_training(config, model, make_dataset(x, y, 4), None, ["a", "b", "c"], verbose=0)
    assert not os.path.exists(tmp_path / "run")  # nothing half-written
    assert not os.path.exists(os.path.join(backup_folder(tmp_path / "run"), "state.json"))  # the cut-short epoch is no backup


class NaNAttention(ABN):
    """An ABN whose attention term becomes NaN from the third training step on (a planted numerics bug)."""

    def loss_terms(self, x, y, update="main", training=False):
        terms, probabilities = super().loss_terms(x, y, update, training)
        if "attention" in terms and training:
            poison = tf.where(self.optimizer.iterations >= 6, tf.constant(np.nan, tf.float32), 0.0)
            terms = {**terms, "attention": terms["attention"] + poison}
        return terms, probabilities


def test_a_nan_attention_term_is_named_with_its_step(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.random((16, 16, 16, 1)).astype("float32"), np.arange(16) % 3
    model = NaNAttention("small_cnn", 3, (16, 16, 1), backbone_filters=(4, 8, 8), attention_filters=4, attention_convs=1)
    model.compile(keras.optimizers.SGD(0.01), metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    config = RunConfig(out=str(tmp_path / "abn"), epochs=3, export=False)
    with pytest.raises(TfxaiError, match=r"^training stopped at epoch 2, batch 3: the attention_loss, loss became NaN"):
        run_training(config, model, make_dataset(x, y, 4), None, ["a", "b", "c"], verbose=0)
    assert not os.path.exists(tmp_path / "abn")

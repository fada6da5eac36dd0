"""``tfxai train stargan`` and ``tfxai tta`` on tiny generated folders."""

import json

import cv2
import keras
import numpy as np
import pytest
from click.testing import CliRunner

import tfxai  # noqa: F401
from tfxai.apps.cli import main


@pytest.fixture
def workspace(stargan_folders):
    """The StarGAN folders (tests/apps/conftest.py) and a classifier that calls bright images "light"."""
    classifier = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Rescaling(1 / 255.0), keras.layers.GlobalAveragePooling2D(),
                                   keras.layers.Dense(2, activation="softmax")])
    classifier.layers[-1].set_weights([np.array([[-4.0, 4.0]] * 3, "float32"), np.array([6.0, -6.0], "float32")])
    classifier.save(stargan_folders / "classifier.keras")
    return stargan_folders


def test_train_stargan_then_tta_report_accuracy_for_n_0_1_and_n(trained_stargan, workspace):
    out = trained_stargan / "run"  # tfxai train stargan --class-aware (tests/apps/conftest.py)
    assert not (trained_stargan / "run.backup").exists()  # the per-epoch backup is removed once the run folder is written
    assert {"stargan.keras", "translator", "grid_target_to_source.png", "history.csv", "class_names.json"} <= {p.name for p in out.iterdir()}
    grid = cv2.imread(str(out / "grid_target_to_source.png"))
    assert grid.shape == (4 * 16, 6 * 16, 3)  # 4 target images, input + 5 styles
    result = CliRunner().invoke(main, ["tta", "--classifier", str(workspace / "classifier.keras"), "--translator", str(out),
                                       "--data", str(trained_stargan / "labelled_target"), "--n", "3", "--out", str(workspace / "tta")])
    assert result.exit_code == 0, result.output
    results = json.loads((workspace / "tta" / "results.json").read_text())
    assert set(results) == {"accuracy_n0", "accuracy_n1", "accuracy_n3"}
    assert results["accuracy_n0"] == 1.0  # brightness decides the class for untranslated images
    assert all(0.0 <= value <= 1.0 for value in results.values())
    assert (workspace / "tta" / "tta_classifier" / "saved_model.pb").exists()


@pytest.mark.parametrize("args, message", [
    (["--source", "{w}/missing", "--target", "{w}/target"], "does not exist"),
    (["--source", "{w}/target", "--target", "{w}/target", "--class-aware"], "needs labelled source images"),
    (["--source", "{w}/source", "--target", "{w}/target", "--batch-size", "3"], "must be even"),
    (["--source", "{w}/source", "--target", "{w}/target", "--image-size", "24"], "power of two"),
])
def test_bad_training_input_is_one_line_and_exit_2(workspace, args, message):
    result = CliRunner().invoke(main, ["train", "stargan", *[a.format(w=workspace) for a in args], "--out", str(workspace / "bad")])
    assert result.exit_code == 2 and message in result.output and len(result.output.strip().splitlines()) == 1, result.output
    assert not (workspace / "bad").exists()


def test_tta_rejects_a_model_that_is_not_a_translator(workspace):
    result = CliRunner().invoke(main, ["tta", "--classifier", str(workspace / "classifier.keras"), "--translator",
                                       str(workspace / "classifier.keras"), "--data", str(workspace / "labelled_target")])
    assert result.exit_code == 2 and "not a StarGAN v2 translator" in result.output, result.output

"""Every training run returns one RunResult; the old tuples still unpack for one release, with a DeprecationWarning."""

import dataclasses
import inspect
import os

import cv2
import numpy as np
import pytest

import tfxai  # noqa: F401 (before TensorFlow)
from tfxai.annotate.training import DetectorTrainingConfig, train_detector
from tfxai.attention.abn_training import train_abn
from tfxai.attention.gain_training import train_gain
from tfxai.classify.classifier import ClassifierConfig, train_classifier
from tfxai.gan.collaborative.training import train_collab_gan
from tfxai.gan.stargan.training import run_train_stargan
from tfxai.signal.training import run_signal_training
from tfxai.synthesis.training import run_train_mixed
from tfxai.training import RunResult
from tfxai.training.result import run_result
from tfxai.video.training import train_video

RUNS = [train_classifier, train_abn, train_gain, train_video, run_signal_training, train_collab_gan, run_train_stargan,
        run_train_mixed, train_detector]


@pytest.mark.parametrize("run", RUNS, ids=lambda run: run.__name__)
def test_every_training_run_is_declared_to_return_a_run_result(run):
    assert inspect.signature(run).return_annotation is RunResult


def test_a_run_result_reads_the_history_and_keeps_the_old_tuple_behind_a_warning():
    result = run_result("model", {"loss": [2.0, 1.0], "accuracy": [0.5, 0.75]}, "config", "out", metrics={"is": [3.0]},
                        class_names=["a", "b"], legacy=("model", ["a", "b"], "history"))
    assert result.metrics == {"loss": 1.0, "accuracy": 0.75, "is": [3.0]}
    assert result.class_names == ("a", "b") and result.out == "out" and result.history["loss"] == [2.0, 1.0]
    with pytest.warns(DeprecationWarning, match="deprecated"):
        model, names, history = result
    assert (model, names, history) == ("model", ["a", "b"], "history")
    with pytest.warns(DeprecationWarning, match="result.metrics"):
        assert result["accuracy"] == 0.75
    with pytest.warns(DeprecationWarning):
        assert result[2] == "history"
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.out = "elsewhere"


def test_a_tiny_detector_run_returns_a_run_result_without_a_folder():
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (64, 64, 3)).astype(np.uint8) for _ in range(2)]
    config = DetectorTrainingConfig(input_size=32, width=4, region_size=64, samples=8, epochs=2, batch_size=4)
    result = train_detector(frames, [[((10.0, 10.0, 20.0, 20.0), 0)], [((30.0, 20.0, 16.0, 24.0), 0)]], 1, config)
    assert isinstance(result, RunResult) and result.out is None and result.config is config
    assert len(result.history["loss"]) == 2 and result.metrics["loss"] == result.history["loss"][-1]
    assert result.model.output_shape[1:] == (8, 8, 5)
    with pytest.warns(DeprecationWarning):
        model, history = result  # the old (model, history dict)
    assert model is result.model and history == result.history


def test_a_tiny_classifier_run_returns_a_run_result_with_its_folder(tmp_path):
    for index, name in enumerate(("a", "b")):
        os.makedirs(tmp_path / "images" / name)
        for i in range(6):
            low = 128 * index
            cv2.imwrite(str(tmp_path / "images" / name / f"{i}.png"),
                        np.random.default_rng(i).integers(low, low + 128, (16, 16, 3)).astype("uint8"))
    config = ClassifierConfig.from_preset("small", data=str(tmp_path / "images"), out=str(tmp_path / "out"), image_size=16,
                                          epochs=1, batch_size=4, validation_split=0.0, export=False)
    result = train_classifier(config, verbose=0)
    assert isinstance(result, RunResult) and result.out == str(tmp_path / "out") and os.path.isfile(tmp_path / "out" / "model.keras")
    assert result.class_names == ("a", "b") and result.model.output_shape == (None, 2)
    assert result.metrics["accuracy"] == result.history["accuracy"][-1]

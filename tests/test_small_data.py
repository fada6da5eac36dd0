"""Small models and few classes (issue 17): Score-CAM on few channels, top-k only where k < classes."""

import numpy as np
import pytest

from tfxai.attention import ABN, ABNConfig
from tfxai.attention.abn_training import compile_abn
from tfxai.attention.evaluation import _results_markdown
from tfxai.explain import saliency
from tfxai.testing import tiny_cnn


def test_scorecam_on_a_feature_map_with_fewer_channels_than_max_n():
    model = tiny_cnn((8, 8, 3), filters=7)
    images = np.random.default_rng(0).random((2, 8, 8, 3), np.float32)
    maps = saliency("scorecam", model, images)  # max_n defaults to 16 > 7 channels
    assert maps.shape == (2, 8, 8) and maps.min() >= 0 and maps.max() <= 1


@pytest.mark.parametrize("classes, reported", [(3, False), (5, False), (6, True)])
def test_abn_reports_top5_only_beyond_five_classes(classes, reported):
    model = ABN("small_cnn", classes, (16, 16, 1), backbone_filters=(4, 8, 8), attention_filters=4, attention_convs=1)
    compile_abn(model, ABNConfig.from_preset("small", data="demo"))
    x = np.random.default_rng(0).random((4, 16, 16, 1), np.float32)
    history = model.fit(x, np.arange(4) % classes, epochs=1, verbose=0)
    top_k = [key for key in history.history if key.startswith("top")]
    assert top_k == (["top5"] if reported else []), sorted(history.history)


def test_evaluation_table_leaves_out_top5_of_five_classes_or_fewer():
    summary = {"model": "m.keras", "method": "attention", "images": 10, "top1": 0.9, "top5": None}
    text = _results_markdown(summary, {})
    assert "top-1 0.9000." in text and "top-5" not in text


def test_train_signal_small_preset_learns_in_its_default_epochs(tmp_path):
    import json

    from click.testing import CliRunner

    from tfxai.apps.cli import main

    # two classes, 24 recordings each: a slow and a fast sine (random phase and noise) on 2 channels
    rng = np.random.default_rng(0)
    t = np.arange(100, dtype=np.float32)
    x, y = [], []
    for label, period in enumerate((25.0, 8.0)):
        for _ in range(24):
            phase = rng.uniform(0, 2 * np.pi)
            wave = np.sin(2 * np.pi * t / period + phase)
            x.append(np.stack([wave, -wave], axis=1) + rng.normal(0, 0.3, (100, 2)))
            y.append(label)
    np.savez(tmp_path / "waves.npz", X=np.asarray(x, np.float32), y=np.asarray(y))
    result = CliRunner().invoke(main, ["train", "signal", "--data", str(tmp_path / "waves.npz"), "--preset", "small",
                                       "--model", "cnn1d", "--out", str(tmp_path / "run"), "--quiet"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["recording_accuracy"] >= 0.9, report["recording_accuracy"]

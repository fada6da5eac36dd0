"""Issue 17: ``tfxai explain video`` takes any Keras video classifier (5-D input) through Grad-CAM; an image model is a one-line error."""

import json
import os

import keras
import numpy as np
from click.testing import CliRunner

from tfxai.apps.cli import main
from tfxai.testing import one_line_error, write_moving_square_video


def run(args):
    return CliRunner().invoke(main, args)


def test_a_plain_keras_video_classifier_is_explained_with_grad_cam(tmp_path):
    write_moving_square_video(tmp_path / "clip.avi", frames=10, direction=1, seed=0)
    model = keras.Sequential([keras.Input((4, 16, 16, 3)), keras.layers.Conv3D(3, 3, padding="same", activation="relu"),
                              keras.layers.GlobalAveragePooling3D(), keras.layers.Dense(2), keras.layers.Softmax()])
    model.save(tmp_path / "user_video.keras")
    out = tmp_path / "explained"
    result = run(["explain", "video", "--model", str(tmp_path / "user_video.keras"), "--video", str(tmp_path / "clip.avi"),
                  "--out", str(out), "--clips", "2", "--stride", "2", "--format", "gif"])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["clips"]) == 2 and set(summary["probabilities"]) == {"0", "1"}
    assert abs(sum(summary["probabilities"].values()) - 1.0) < 1e-5
    for clip in summary["clips"]:
        temporal = np.asarray(clip["temporal_attention"])
        assert temporal.shape == (4,) and temporal.max() <= 1.0 + 1e-6 and temporal.min() >= 0.0
    assert sorted(os.listdir(out)) == ["clip1.gif", "clip1.png", "clip2.gif", "clip2.png", "summary.json"]


def test_an_image_model_is_a_one_line_error(tmp_path):
    write_moving_square_video(tmp_path / "clip.avi", frames=10, direction=1, seed=0)
    keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(2, 3), keras.layers.GlobalAveragePooling2D(),
                      keras.layers.Dense(2, activation="softmax")]).save(tmp_path / "image.keras")
    result = run(["explain", "video", "--model", str(tmp_path / "image.keras"), "--video", str(tmp_path / "clip.avi"), "--out", str(tmp_path / "x")])
    assert "not clips (T, H, W, C)" in one_line_error(result)
    assert not os.path.exists(tmp_path / "x")

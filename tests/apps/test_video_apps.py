"""Video apps end to end on a tiny generated .avi folder: train video (st_abn, r3d), explain video; bad input exits 2."""

import json
import os

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from tfxai.apps.cli import main
from tfxai.testing import one_line_error, write_moving_square_video

TINY = ["--preset", "small", "--frames", "4", "--stride", "2", "--image-size", "16", "--base-width", "2", "--epochs", "1",
        "--batch-size", "2", "--validation-split", "0.34", "--quiet"]


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("videos")
    for label, direction in (("left", -1), ("right", 1)):
        os.makedirs(root / label)
        for i in range(3):
            write_moving_square_video(root / label / f"{i}.avi", frames=10, direction=direction, seed=i)
    return root


def run(args):
    return CliRunner().invoke(main, args)


def test_train_and_explain_st_abn(videos, tmp_path):
    out = tmp_path / "run"
    result = run(["train", "video", "--data", str(videos), "--out", str(out), "--model", "st_abn", *TINY])
    assert result.exit_code == 0, result.output
    assert {"model.keras", "class_names.json", "history.csv", "metrics.json", "saved_model"} <= set(os.listdir(out))
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["train_videos"] == 4 and metrics["held_out_videos"] == 2
    assert "attention_loss" in (out / "history.csv").read_text()
    explained = tmp_path / "explained"
    result = run(["explain", "video", "--model", str(out), "--video", str(videos / "left" / "0.avi"), "--out", str(explained),
                  "--stride", "2", "--scale", "2"])
    assert result.exit_code == 0, result.output
    assert {"clip1.png", "clip1.mp4", "clip2.png", "clip2.mp4", "summary.json"} <= set(os.listdir(explained))
    summary = json.loads((explained / "summary.json").read_text())
    assert summary["predicted"] in ("left", "right")
    assert [c["first_frame"] for c in summary["clips"]] == [0, 3]  # 10 frames, clips span 7
    temporal = np.asarray(summary["clips"][0]["temporal_attention"])
    assert temporal.shape == (4,) and np.all((temporal > 0) & (temporal < 1))
    panel = cv2.imread(str(explained / "clip1.png"))
    assert panel.shape[0] == 2 * 16 + 10 and panel.shape[1] == 4 * 32 + 3 * 2  # frames above the temporal strip
    movie = cv2.VideoCapture(str(explained / "clip1.mp4"))
    assert int(movie.get(cv2.CAP_PROP_FRAME_COUNT)) == 4


def test_train_and_explain_r3d_as_gif(videos, tmp_path):
    out = tmp_path / "r3d"
    result = run(["train", "video", "--data", str(videos), "--out", str(out), "--model", "r3d", "--no-export", *TINY])
    assert result.exit_code == 0, result.output
    assert "saved_model" not in os.listdir(out)
    explained = tmp_path / "gif"
    result = run(["explain", "video", "--model", str(out), "--video", str(videos / "right" / "1.avi"), "--out", str(explained),
                  "--stride", "2", "--clips", "1", "--format", "gif"])
    assert result.exit_code == 0, result.output
    assert {"clip1.png", "clip1.gif", "summary.json"} <= set(os.listdir(explained))


def test_explain_images_is_still_the_default_of_explain():
    result = run(["explain", "--help"])
    assert result.exit_code == 0 and "--images" in result.output
    result = run(["explain", "video", "--help"])
    assert result.exit_code == 0 and "--video" in result.output


def test_bad_input_exits_2_with_one_line(videos, tmp_path):
    empty = tmp_path / "empty"
    os.makedirs(empty / "a")
    os.makedirs(empty / "b")
    assert "no videos" in one_line_error(run(["train", "video", "--data", str(empty), "--out", str(tmp_path / "x"), *TINY]))
    too_long = ["train", "video", "--data", str(videos), "--out", str(tmp_path / "y"), *TINY, "--frames", "8"]
    assert "needs 15" in one_line_error(run(too_long))
    broken = tmp_path / "broken.avi"
    broken.write_bytes(b"not a video")
    result = run(["explain", "video", "--model", str(tmp_path / "none"), "--video", str(broken), "--out", str(tmp_path / "z")])
    assert "does not exist" in one_line_error(result)

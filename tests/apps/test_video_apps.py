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
    result = run(["explain", "video", str(videos / "left" / "0.avi"), "--model", str(out), "--out", str(explained),
                  "--stride", "2", "--scale", "2"])
    assert result.exit_code == 0, result.output
    assert {"clip1.png", "clip1.mp4", "clip2.png", "clip2.mp4", "summary.json"} <= set(os.listdir(explained))
    summary = json.loads((explained / "summary.json").read_text())
    assert summary["predicted"] in ("left", "right")
    assert [c["first_frame"] for c in summary["clips"]] == [0, 3]  # 10 frames, clips span 7
    temporal = np.asarray(summary["clips"][0]["temporal_attention"])
    assert temporal.shape == (4,) and np.all((temporal > 0) & (temporal < 1))
    panel = cv2.imread(str(explained / "clip1.png"))
    # the source's 24x20 frames (not the model's 16x16) enlarged twice, above the temporal strip
    assert panel.shape[0] == 2 * 20 + 10 and panel.shape[1] == 4 * 48 + 3 * 2
    movie = cv2.VideoCapture(str(explained / "clip1.mp4"))
    assert int(movie.get(cv2.CAP_PROP_FRAME_COUNT)) == 4
    assert (int(movie.get(cv2.CAP_PROP_FRAME_WIDTH)), int(movie.get(cv2.CAP_PROP_FRAME_HEIGHT))) == (48, 40)


def test_train_and_explain_r3d_as_gif(videos, tmp_path):
    out = tmp_path / "r3d"
    result = run(["train", "video", "--data", str(videos), "--out", str(out), "--model", "r3d", "--no-export", *TINY])
    assert result.exit_code == 0, result.output
    assert "saved_model" not in os.listdir(out)
    explained = tmp_path / "gif"
    result = run(["explain", "video", str(videos / "right" / "1.avi"), "--model", str(out), "--out", str(explained),
                  "--stride", "2", "--clips", "1", "--format", "gif"])
    assert result.exit_code == 0, result.output
    assert {"clip1.png", "clip1.gif", "summary.json"} <= set(os.listdir(explained))


def test_explain_images_is_still_the_default_of_explain():
    result = run(["explain", "--help"])
    assert result.exit_code == 0 and "--images" in result.output
    result = run(["explain", "video", "--help"])
    assert result.exit_code == 0 and "VIDEO" in result.output and "--video" not in result.output  # the alias is hidden


def test_bad_input_exits_2_with_one_line(videos, tmp_path):
    empty = tmp_path / "empty"
    os.makedirs(empty / "a")
    os.makedirs(empty / "b")
    assert "no videos" in one_line_error(run(["train", "video", "--data", str(empty), "--out", str(tmp_path / "x"), *TINY]))
    too_long = ["train", "video", "--data", str(videos), "--out", str(tmp_path / "y"), *TINY, "--frames", "8"]
    assert "needs 15" in one_line_error(run(too_long))
    broken = tmp_path / "broken.avi"
    broken.write_bytes(b"not a video")
    result = run(["explain", "video", str(broken), "--model", str(tmp_path / "none"), "--out", str(tmp_path / "z")])
    assert "does not exist" in one_line_error(result)
    assert "missing VIDEO" in one_line_error(run(["explain", "video", "--model", str(tmp_path / "none"), "--out", str(tmp_path / "z")]))


# === explain video at the source's own size, with class, probability and frame number on each frame ===


def _user_video_model(folder, classes=("walk", "run")):
    """A plain Keras video classifier (input 4x16x16x3) in a run folder with class names: explained with Grad-CAM."""
    import keras

    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((4, 16, 16, 3)), keras.layers.Rescaling(1 / 255),
                              keras.layers.Conv3D(4, 3, padding="same", activation="relu"),
                              keras.layers.GlobalAveragePooling3D(), keras.layers.Dense(len(classes)), keras.layers.Softmax()])
    os.makedirs(folder)
    model.save(folder / "model.keras")
    (folder / "class_names.json").write_text(json.dumps(list(classes)))
    return model


def test_explained_frames_are_the_source_size_with_the_models_class_and_probability_written_on_them(tmp_path):
    from tfxai.video.data import clip_starts, read_clip, video_source

    source = write_moving_square_video(tmp_path / "wide.avi", frames=12, size=(120, 160), square=24)
    model = _user_video_model(tmp_path / "run")
    out = tmp_path / "explained"
    result = run(["explain", "video", str(source), "--model", str(tmp_path / "run"), "--out", str(out), "--stride", "2"])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["size"] == [160, 120] and summary["model_input"] == [16, 16]
    # the class and probability come from the model's own output on the clips
    starts = clip_starts(12, 4, 2, 2)
    clips = np.stack([read_clip(video_source(source), s, 4, 2, (16, 16)) for s in starts]).astype(np.float32)
    probabilities = np.asarray(model(clips))
    for clip, p, start in zip(summary["clips"], probabilities, starts):
        assert clip["frames"] == [start, start + 2, start + 4, start + 6]
        assert clip["predicted"] == ("walk", "run")[int(p.argmax())]
        assert abs(clip["probability"] - float(p.max())) < 1e-5
        assert clip["captions"] == [f"class {clip['predicted']} p={p.max():.2f} frame {f}" for f in clip["frames"]]
    movie = cv2.VideoCapture(str(out / "clip2.mp4"))
    ok, frame = movie.read()
    assert ok and frame.shape == (120, 160, 3)  # the source's 160x120, not the model's 16x16
    panel = cv2.imread(str(out / "clip1.png"))
    assert panel.shape == (120 + 10, 4 * 160 + 3 * 2, 3)


def test_the_caption_is_drawn_over_the_plain_overlay_and_the_map_is_resized_to_the_frame():
    from tfxai.explain.overlay import overlay
    from tfxai.video.render import frame_sequence, strip_height

    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (2, 120, 160, 3), dtype=np.uint8)
    spatial = rng.random((2, 6, 6)).astype(np.float32)  # model-sized maps
    temporal = np.array([0.2, 0.9], np.float32)
    plain = frame_sequence(frames, spatial, temporal)
    captioned = frame_sequence(frames, spatial, temporal, captions=["class walk p=0.93 frame 123", "class walk p=0.93 frame 125"])
    assert all(image.shape == (120, 160, 3) for image in plain + captioned)
    reference = overlay(frames[0], cv2.resize(spatial[0], (160, 120), interpolation=cv2.INTER_LINEAR))
    body = slice(30, 120 - strip_height(120))  # below the caption, above the strip
    assert np.abs(plain[0][body].astype(int) - reference[body]).max() <= 1
    changed = np.any(captioned[0] != plain[0], axis=-1)
    assert changed[:25].sum() > 200 and not changed[30:].any()  # text on the top rows only
    text = captioned[0][:25][changed[:25]]
    assert (text.min(axis=-1) > 200).sum() > 20 and (text.max(axis=-1) < 40).sum() > 100  # white letters, black outline


def test_video_option_still_works_with_a_deprecation_note(tmp_path):
    source = write_moving_square_video(tmp_path / "clip.avi", frames=10)
    _user_video_model(tmp_path / "run")
    result = run(["explain", "video", "--model", str(tmp_path / "run"), "--video", str(source), "--out", str(tmp_path / "x"),
                  "--clips", "1", "--stride", "2", "--format", "gif"])
    assert result.exit_code == 0, result.output
    assert result.output.count("--video is deprecated") == 1
    assert {"clip1.png", "clip1.gif", "summary.json"} <= set(os.listdir(tmp_path / "x"))

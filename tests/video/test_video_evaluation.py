"""Whole-video scores: the centred clip and the mean of N spread clips (the thesis's "32" and "32+32"), in metrics.json."""

import json
import os

import cv2
import numpy as np
import pytest

import tfxai  # noqa: F401  (before TensorFlow)
import keras

from tfxai.data import split_stratified
from tfxai.errors import TfxaiError
from tfxai.testing import write_moving_square_video
from tfxai.video import R3D
from tfxai.video.data import read_clip, read_video_clips, scan_video_folder
from tfxai.video.evaluation import evaluate_videos, video_scores
from tfxai.video.training import VideoConfig, train_video

FRAMES, STRIDE, SIZE = 4, 2, (16, 16)  # a clip spans 7 frames


def write_counting_video(path, frames, seed):
    """Frame t is noise plus 20 t (so clips at different starts differ)."""
    rng = np.random.default_rng(seed)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (16, 16))
    for t in range(frames):
        writer.write(np.clip(rng.integers(0, 60, (16, 16, 3)) + 20 * t, 0, 255).astype(np.uint8))
    writer.release()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("counting")
    for label in ("a", "b"):
        os.makedirs(root / label)
        for i, frames in enumerate((9, 12, 11)):
            write_counting_video(root / label / f"{i}.avi", frames, seed=10 * (label == "b") + i)
    return root


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return R3D(7, (FRAMES,) + SIZE + (3,), depth=10, base_width=4)


def test_spread_clips_start_at_zero_and_end_on_the_last_frame(folder):
    sources, _, _ = scan_video_folder(folder)
    source = sources[1]  # 12 frames: the last clip starts at 12 - 7 = 5, the centred one at 5 // 2 = 2
    clips = read_video_clips(source, FRAMES, STRIDE, SIZE, 2)
    np.testing.assert_array_equal(clips[0], read_clip(source, 0, FRAMES, STRIDE, SIZE))
    np.testing.assert_array_equal(clips[1], read_clip(source, 5, FRAMES, STRIDE, SIZE))
    np.testing.assert_array_equal(read_video_clips(source, FRAMES, STRIDE, SIZE, 1)[0], read_clip(source, 2, FRAMES, STRIDE, SIZE))


def test_video_scores_are_the_centred_clip_and_the_mean_of_the_spread_clips(folder, model):
    sources, _, _ = scan_video_folder(folder)
    centre, average = video_scores(model, sources, FRAMES, STRIDE, SIZE, 3, batch_size=4)
    for index, source in enumerate(sources):  # by hand: the starts 0, last / 2 rounded, last; and last // 2
        last = source.frame_count - 7
        starts = [0, int(round(last / 2)), last]
        clips = np.stack([read_clip(source, s, FRAMES, STRIDE, SIZE) for s in starts]).astype(np.float32)
        np.testing.assert_allclose(average[index], np.asarray(model(clips, training=False)).mean(axis=0), atol=1e-5)
        centred = read_clip(source, last // 2, FRAMES, STRIDE, SIZE)[None].astype(np.float32)
        np.testing.assert_allclose(centre[index], np.asarray(model(centred, training=False))[0], atol=1e-5)
    one_centre, one_average = video_scores(model, sources, FRAMES, STRIDE, SIZE, 1)
    np.testing.assert_allclose(one_centre, centre, atol=1e-5)
    np.testing.assert_allclose(one_average, centre, atol=1e-5)


def test_evaluate_videos_reports_one_and_n_clip_top1_and_top5_side_by_side(folder, model):
    sources, _, _ = scan_video_folder(folder)
    centre, average = video_scores(model, sources, FRAMES, STRIDE, SIZE, 2)
    labels = np.array([centre[0].argmax(), average[1].argmax(), 0, 1, 2, 3])  # the first two right by construction
    scores = evaluate_videos(model, sources, labels, FRAMES, STRIDE, SIZE, 2)
    assert scores["videos"] == 6 and scores["clips_per_video"] == 2
    for name, probabilities in (("centre_clip", centre), ("clip_average", average)):
        ranked = np.argsort(-probabilities, axis=1)
        assert scores[name]["top1"] == pytest.approx(np.mean(ranked[:, 0] == labels))
        assert scores[name]["top5"] == pytest.approx(np.mean([labels[i] in ranked[i, :5] for i in range(6)]))
    with pytest.raises(TfxaiError, match="one label per video"):
        evaluate_videos(model, sources, labels[:3], FRAMES, STRIDE, SIZE, 2)


def test_train_video_writes_centre_and_clip_average_scores_of_the_held_out_videos(tmp_path):
    root = tmp_path / "videos"
    for label, direction in (("left", -1), ("right", 1)):
        os.makedirs(root / label)
        for i in range(3):
            write_moving_square_video(root / label / f"{i}.avi", frames=10, direction=direction, seed=i)
    config = VideoConfig.from_preset("small", data=str(root), out=str(tmp_path / "run"), model="r3d", frames=FRAMES, stride=STRIDE,
                                     image_size=16, base_width=2, epochs=1, batch_size=2, validation_split=0.34,
                                     clips_per_video=3, export=False)
    model = train_video(config, verbose=0, log=lambda *_: None).model
    scores = json.loads((tmp_path / "run" / "metrics.json").read_text())["clip_evaluation"]
    assert scores["clips_per_video"] == 3 and scores["videos"] == 2
    sources, labels, _ = scan_video_folder(root)
    held = np.flatnonzero(split_stratified(labels, 0.34, config.seed))
    centre, average = video_scores(model, [sources[i] for i in held], FRAMES, STRIDE, SIZE, 3)
    assert scores["centre_clip"]["top1"] == pytest.approx(np.mean(centre.argmax(1) == labels[held]))
    assert scores["clip_average"]["top1"] == pytest.approx(np.mean(average.argmax(1) == labels[held]))
    assert "top5" not in scores["centre_clip"]  # 2 classes

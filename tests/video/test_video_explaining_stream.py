"""Explaining a video clip by clip, frames read and drawn one at a time, gives the pictures and numbers of doing it all in memory."""

import json
import os
import weakref

import cv2
import keras
import numpy as np
import pytest
from PIL import Image

from tfxai.data.video import read_frames
from tfxai.errors import TfxaiError
from tfxai.video.data import clip_starts, read_clip, video_source
from tfxai.video.explaining import clip_attention, explain_video
from tfxai.video.render import clip_panel, frame_sequence, to_uint8_frames, write_clip_explanation

FRAMES, SIZE = 4, 16  # the tiny model's clip


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    """20 frames of 32x32 (a bright square moving over noise), written with cv2.VideoWriter."""
    path = str(tmp_path_factory.mktemp("video") / "tiny.avi")
    rng = np.random.default_rng(0)
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (32, 32))
    for t in range(20):
        frame = rng.integers(0, 60, (32, 32, 3), dtype=np.uint8)
        frame[10:18, t:t + 8] = 230
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture(scope="module")
def frame_folder(video, tmp_path_factory):
    folder = tmp_path_factory.mktemp("frames")
    for i, frame in enumerate(read_frames(video, range(20))):
        cv2.imwrite(str(folder / f"{i:03d}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    return str(folder)


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((FRAMES, SIZE, SIZE, 3)), keras.layers.Rescaling(1 / 255),
                             keras.layers.Conv3D(3, 3, activation="relu"), keras.layers.GlobalAveragePooling3D(),
                             keras.layers.Dense(2, activation="softmax")])


def _in_memory(model, path, clips, stride, alpha, scale):
    """Every clip in one batch, every clip's frames in one array, every movie frame in a list (the path before streaming)."""
    source = video_source(path)
    starts = clip_starts(source.frame_count, FRAMES, stride, clips)
    batch = np.stack([read_clip(source, s, FRAMES, stride, (SIZE, SIZE)) for s in starts]).astype(np.float32)
    spatial, temporal, probabilities = clip_attention(model, batch)
    pictures = []
    for i, start in enumerate(starts):
        indices = [min(start + k * stride, source.frame_count - 1) for k in range(FRAMES)]
        p = probabilities[i]
        captions = [f"class {int(p.argmax())} p={float(p.max()):.2f} frame {k}" for k in indices]
        frames = to_uint8_frames(read_frames(path, indices), scale)
        maps = np.stack([cv2.resize(m, frames.shape[2:0:-1], interpolation=cv2.INTER_LINEAR) for m in spatial[i]])
        pictures.append((clip_panel(frames, maps, temporal[i], alpha, captions=captions),
                         frame_sequence(frames, maps, temporal[i], alpha, captions)))
    return starts, temporal, probabilities, pictures


def _movie_frames(path):
    capture, frames = cv2.VideoCapture(path), []
    while True:
        ok, frame = capture.read()
        if not ok:
            return np.stack(frames)
        frames.append(frame)


@pytest.mark.parametrize("source, clips, stride, video_format, scale", [
    ("video", 2, 1, "mp4", 1),
    ("video", 6, 2, "mp4", 2),  # two batches of clips
    ("frame_folder", 3, 3, "gif", 1),
])
def test_streamed_explanation_equals_the_in_memory_one(request, model, tmp_path, source, clips, stride, video_format, scale):
    path = request.getfixturevalue(source)
    out = tmp_path / "out"
    out.mkdir()
    summary = explain_video(model, path, str(out), None, clips, stride, video_format, 0.4, scale)
    starts, temporal, probabilities, pictures = _in_memory(model, path, clips, stride, 0.4, scale)

    assert summary == json.loads((out / "summary.json").read_text())
    assert summary["size"] == [32, 32] and [c["first_frame"] for c in summary["clips"]] == starts
    np.testing.assert_array_equal([list(c["probabilities"].values()) for c in summary["clips"]], probabilities)
    np.testing.assert_array_equal([c["temporal_attention"] for c in summary["clips"]], temporal)
    mean = probabilities.mean(axis=0)
    assert summary["probability"] == float(mean.max()) and summary["predicted"] == str(int(mean.argmax()))
    for i, (panel, movie) in enumerate(pictures):
        np.testing.assert_array_equal(cv2.imread(str(out / f"clip{i + 1}.png")), cv2.cvtColor(panel, cv2.COLOR_RGB2BGR))
        reference = str(tmp_path / f"reference{i}.{video_format}")
        if video_format == "gif":  # Pillow's writer, all frames at once
            first, *rest = [Image.fromarray(image) for image in movie]
            first.save(reference, save_all=True, append_images=rest, duration=125, loop=0)
            assert (out / f"clip{i + 1}.gif").read_bytes() == open(reference, "rb").read()
        else:  # the same encoder fed the same frames
            writer = cv2.VideoWriter(reference, cv2.VideoWriter_fourcc(*"mp4v"), 8.0, movie[0].shape[1::-1])
            for image in movie:
                writer.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
            writer.release()
            np.testing.assert_array_equal(_movie_frames(str(out / f"clip{i + 1}.mp4")), _movie_frames(reference))
    assert sorted(os.listdir(out)) == sorted(["summary.json"] + [f"clip{i}.{e}" for i in range(1, clips + 1) for e in ("png", video_format)])


@pytest.mark.parametrize("video_format", ["mp4", "gif"])
def test_clip_frames_are_read_one_at_a_time_and_let_go(video, tmp_path, video_format):
    """When frame k is asked for, the frames before k - 1 are no longer held (they were drawn and written)."""
    alive, count = [], 8

    def frames():
        for k in range(count):
            frame = read_frames(video, [k])[0]
            assert sum(ref() is not None for ref in alive[:max(k - 1, 0)]) == 0, f"frames before {k - 1} still held at frame {k}"
            alive.append(weakref.ref(frame))
            yield frame

    rng = np.random.default_rng(1)
    write_clip_explanation(str(tmp_path), "clip", frames(), rng.random((count, 4, 4)), rng.random(count), video_format=video_format)
    assert len(alive) == count and {"clip.png", f"clip.{video_format}"} == set(os.listdir(tmp_path))


def test_too_few_frames_write_nothing(video, tmp_path):
    rng = np.random.default_rng(2)
    with pytest.raises(TfxaiError, match="3 frames for 4 attention maps"):
        write_clip_explanation(str(tmp_path), "clip", (frame for frame in read_frames(video, range(3))), rng.random((4, 4, 4)), rng.random(4))
    assert os.listdir(tmp_path) == []

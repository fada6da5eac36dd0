"""Video folders: scanning, clip sampling, the streaming pipeline and one-line errors for bad input."""

import os

import cv2
import numpy as np
import pytest

from tfxai.errors import TfxaiError
from tfxai.training.resume import EpochCounter
from tfxai.testing import write_moving_square_video
from tfxai.video.data import clip_dataset, clip_starts, read_clip, scan_video_folder


def write_counting_video(path, frames=12, size=(20, 24)):
    """Frame t is uniformly grey with value 20 t (so a clip's frame indices can be read back)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (size[1], size[0]))
    for t in range(frames):
        writer.write(np.full(size + (3,), 20 * t, np.uint8))
    writer.release()


@pytest.fixture
def folder(tmp_path):
    os.makedirs(tmp_path / "a")
    os.makedirs(tmp_path / "b" / "frames")
    write_counting_video(tmp_path / "a" / "0.avi")
    write_moving_square_video(tmp_path / "a" / "1.avi")
    for t in range(9):
        cv2.imwrite(str(tmp_path / "b" / "frames" / f"{t:03d}.png"), np.full((10, 10, 3), 20 * t, np.uint8))
    return tmp_path


def test_scan_finds_videos_and_frame_folders(folder):
    sources, labels, names = scan_video_folder(folder)
    assert names == ["a", "b"]
    assert [os.path.basename(s.path) for s in sources] == ["0.avi", "1.avi", "frames"]
    assert [s.frame_count for s in sources] == [12, 12, 9]
    assert labels.tolist() == [0, 0, 1]


def test_clips_take_every_stride_frame_and_are_resized(folder):
    sources, _, _ = scan_video_folder(folder)
    clip = read_clip(sources[0], 2, 4, 3, (8, 6))
    assert clip.shape == (4, 8, 6, 3) and clip.dtype == np.uint8
    np.testing.assert_allclose(clip[:, 0, 0, 0], [40, 100, 160, 220], atol=6)  # frames 2, 5, 8, 11 (MJPG is lossy)
    frames = read_clip(sources[2], 1, 3, 2, (5, 5))
    assert frames[:, 0, 0, 0].tolist() == [20, 60, 100]  # PNG frames 1, 3, 5


def test_clip_starts_centre_and_spread():
    assert clip_starts(20, 4, 2, 1) == [6]  # span 7, last start 13
    assert clip_starts(20, 4, 2, 3) == [0, 6, 13]


def test_pipeline_batches_clips_and_evaluation_clips_are_centred(folder):
    sources, labels, _ = scan_video_folder(folder)
    data = list(clip_dataset(sources, labels, 3, 2, (8, 8), batch_size=2))
    assert [tuple(x.shape) for x, _ in data] == [(2, 3, 8, 8, 3), (1, 3, 8, 8, 3)]
    assert np.concatenate([y.numpy() for _, y in data]).tolist() == [0, 0, 1]
    first = data[0][0].numpy()[0, :, 0, 0, 0]
    np.testing.assert_allclose(first, [60, 100, 140], atol=6)  # 12 frames, span 5: centred start 3 -> frames 3, 5, 7


def test_training_pipeline_moves_the_clip_start(folder):
    sources, labels, _ = scan_video_folder(folder)
    data = clip_dataset(sources[:1], labels[:1], 2, 1, (4, 4), batch_size=1, training=True)
    starts = []
    for epoch in range(12):  # the start is keyed by the epoch (set by fit through EpochCounter): a resumed run repeats it
        EpochCounter().on_epoch_begin(epoch)
        starts.append(round(float(next(iter(data))[0][0, 0, 0, 0, 0]) / 20))
    assert len(set(starts)) > 2 and min(starts) >= 0 and max(starts) <= 10
    EpochCounter().on_epoch_begin(3)
    assert round(float(next(iter(data))[0][0, 0, 0, 0, 0]) / 20) == starts[3]


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda root: None, "does not exist"),
        (lambda root: os.makedirs(root / "only"), "class folder"),
        (lambda root: (os.makedirs(root / "a"), os.makedirs(root / "b")), "no videos"),
        (lambda root: (os.makedirs(root / "a" / "frames"), cv2.imwrite(str(root / "a" / "frames" / "0.png"), np.zeros((4, 4, 3), np.uint8)),
                       os.makedirs(root / "b" / "empty")), "holds no images"),
        (lambda root: (os.makedirs(root / "a"), os.makedirs(root / "b"), (root / "a" / "x.avi").write_bytes(b"not a video"),
                       (root / "b" / "y.avi").write_bytes(b"")), "cannot open|no readable frames"),
    ],
)
def test_bad_folders_are_one_line_errors(tmp_path, make, message):
    root = tmp_path / "data"
    make(root)
    with pytest.raises(TfxaiError, match=message) as error:
        scan_video_folder(root)
    assert "\n" not in str(error.value)


def test_too_short_video_is_named(folder):
    sources, labels, _ = scan_video_folder(folder)
    with pytest.raises(TfxaiError, match="frames has 9 frames but a clip of 6 frames with stride 2 needs 11"):
        clip_dataset(sources, labels, 6, 2, (8, 8), batch_size=2)

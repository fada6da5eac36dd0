"""Labelled videos from a folder: scanning, clip sampling and a streaming ``tf.data`` pipeline.

Layout: one sub-folder per class, holding videos (any container OpenCV
reads: .avi, .mp4, ...) and/or folders of frames (images sorted by name)::

    data/
      walk_left/  a.avi  b.mp4  c/000.png c/001.png ...
      walk_right/ ...

Only the index (path, label, frame count) is held in memory; each clip is
read from disk when the pipeline asks for it (:func:`clip_dataset`). A clip
is ``frames`` frames ``stride`` apart; training clips start at a random
frame, evaluation clips are centred (:func:`clip_starts` spreads several
clips over a video for multi-clip inference).
"""

import dataclasses
import os

import cv2
import numpy as np
import tensorflow as tf

from tfxai.data.video import Video
from tfxai.data.image_folder import IMAGE_EXTENSIONS, convert_channels, read_image
from tfxai.errors import TfxaiError

__all__ = ["VIDEO_EXTENSIONS", "VideoSource", "clip_dataset", "clip_starts", "read_clip", "read_video_clips", "scan_video_folder",
           "video_source"]

VIDEO_EXTENSIONS = (".avi", ".mp4", ".mov", ".mkv", ".webm", ".mpg", ".mpeg", ".m4v", ".wmv")


@dataclasses.dataclass(frozen=True)
class VideoSource:
    """One video: a file or a folder of frames, with its frame count."""

    path: str
    frame_count: int

    @property
    def is_frame_folder(self):
        return os.path.isdir(self.path)


def _frame_files(folder):
    return sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.lower().endswith(IMAGE_EXTENSIONS))


def video_source(path):
    """A :class:`VideoSource` for a video file or a folder of frames; :class:`TfxaiError` if it has no readable frames."""
    path = os.fspath(path)
    if os.path.isdir(path):
        count = len(_frame_files(path))
        if count == 0:
            raise TfxaiError(f"frame folder {path} holds no images ({', '.join(IMAGE_EXTENSIONS)}): add frames or remove it")
        return VideoSource(path, count)
    with Video(path) as video:
        return VideoSource(path, len(video))


def scan_video_folder(root):
    """``(sources, labels, class_names)`` of a folder with one sub-folder of videos per class."""
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise TfxaiError(f"video folder {root} does not exist: pass a folder with one sub-folder of videos per class")
    class_names = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    if len(class_names) < 2:
        raise TfxaiError(f"{root} has {len(class_names)} class folder(s): put the videos of each class (at least 2) in their own sub-folder")
    sources, labels = [], []
    for label, name in enumerate(class_names):
        folder = os.path.join(root, name)
        entries = sorted(os.listdir(folder))
        paths = [os.path.join(folder, e) for e in entries if e.lower().endswith(VIDEO_EXTENSIONS) or os.path.isdir(os.path.join(folder, e))]
        if not paths:
            raise TfxaiError(f"class folder {folder} has no videos ({', '.join(VIDEO_EXTENSIONS)}) or frame folders: add some or remove it")
        for path in paths:
            sources.append(video_source(path))
            labels.append(label)
    return sources, np.asarray(labels, np.int32), class_names


def clip_span(frames, stride):
    """Frames a clip covers: ``(frames - 1) * stride + 1``."""
    return (int(frames) - 1) * int(stride) + 1


def check_long_enough(sources, frames, stride):
    """:class:`TfxaiError` naming the first video too short for one clip."""
    span = clip_span(frames, stride)
    for source in sources:
        if source.frame_count < span:
            raise TfxaiError(
                f"{source.path} has {source.frame_count} frames but a clip of {frames} frames with stride {stride} needs {span}: "
                "lower --frames or --stride, or remove the video"
            )


def clip_starts(frame_count, frames, stride, count=1):
    """First frames of ``count`` clips spread evenly over the video (one clip: the centred one)."""
    last = max(int(frame_count) - clip_span(frames, stride), 0)
    if count == 1:
        return [last // 2]
    return [int(round(v)) for v in np.linspace(0, last, int(count))]


def _read_frames(source, indices):
    if source.is_frame_folder:
        files = _frame_files(source.path)
        return [read_image(files[i], convert=True, channels=3) for i in indices]
    with Video(source.path) as video:
        return [video.read(i) for i in indices]


def read_clip(source, start, frames, stride, size, channels=3):
    """Clip of ``frames`` frames from ``start`` every ``stride``, resized to ``size`` (H, W): uint8 (T, H, W, channels)."""
    indices = [min(int(start) + i * int(stride), source.frame_count - 1) for i in range(int(frames))]
    clip = []
    for frame in _read_frames(source, indices):
        frame = cv2.resize(frame, (int(size[1]), int(size[0])), interpolation=cv2.INTER_AREA)
        clip.append(convert_channels(frame if frame.ndim == 3 else frame[..., None], channels))
    return np.stack(clip).astype(np.uint8)


def read_video_clips(source, frames, stride, size, count, channels=3):
    """``count`` clips spread evenly over one video (:func:`clip_starts`): uint8 (count, T, H, W, channels).

    ``count=1`` is the centred clip, the one the evaluation pipeline of
    :func:`clip_dataset` reads; ``count=2`` is the thesis's "32+32".
    """
    starts = clip_starts(source.frame_count, frames, stride, count)
    return np.stack([read_clip(source, start, frames, stride, size, channels) for start in starts])


def clip_dataset(sources, labels, frames, stride, size, batch_size, channels=3, training=False, seed=0, augment=False):
    """A ``tf.data`` pipeline of ``(clips (batch, T, H, W, C) float32 in [0, 255], labels)``, read clip by clip.

    ``training``: shuffled, each clip at a random start (a new one every epoch);
    otherwise in order, centred clips. ``augment`` flips clips left-right
    (leave it off when the class depends on the direction of motion).
    """
    check_long_enough(sources, frames, stride)
    counts = np.asarray([s.frame_count for s in sources], np.int64)
    spans = counts - clip_span(frames, stride)
    shape = (int(frames), int(size[0]), int(size[1]), int(channels))

    from tfxai.training.resume import epoch_shuffle, epoch_variable

    epoch = epoch_variable()  # a new start and flip every epoch, keyed by (seed, epoch, clip): a resumed run repeats them

    def load(index, epoch):
        index = int(index)
        if not training:
            start = clip_starts(counts[index], frames, stride)[0]
        else:
            start = int(np.random.default_rng([seed, int(epoch), index]).integers(0, spans[index] + 1))
        return read_clip(sources[index], start, frames, stride, size, channels).astype(np.float32)

    def element(index):
        now = epoch.read_value()
        clip = tf.numpy_function(load, [index, now], tf.float32)
        clip = tf.ensure_shape(clip, shape)
        if augment:
            mirror = tf.random.stateless_uniform((), tf.stack([tf.constant(int(seed), tf.int64) * 1_000_003 + now, index])) < 0.5
            clip = tf.cond(mirror, lambda: tf.reverse(clip, [2]), lambda: clip)
        return clip, tf.gather(tf.constant(labels, tf.int32), index)

    data = tf.data.Dataset.range(len(sources))
    if training:
        data = epoch_shuffle(data, len(sources), seed)
    data = data.map(element, num_parallel_calls=2)  # deterministic order: the same batches every run
    return data.batch(int(batch_size)).prefetch(1)

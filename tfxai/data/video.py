"""Reading video frames by index with OpenCV (RGB uint8), with one-line errors."""

import os

import cv2
import numpy as np

from tfxai.errors import TfxaiError

__all__ = ["Video", "iter_frames", "read_frames"]


class Video:
    """A video file opened for sequential reading and seeking.

    Frames are RGB uint8 ``(H, W, 3)``. Reading frame ``i`` right after frame
    ``i - 1`` does not seek (seeking is slow in most codecs).
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        if not os.path.isfile(self.path):
            raise TfxaiError(f"video {self.path} does not exist: check the path")
        self._capture = cv2.VideoCapture(self.path)
        if not self._capture.isOpened():
            raise TfxaiError(f"OpenCV cannot open {self.path} as a video: convert it to .mp4 or .avi")
        self.width = int(self._capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self.frame_count = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT))
        self.fps = float(self._capture.get(cv2.CAP_PROP_FPS) or 0.0)
        self._next = 0
        if self.width <= 0 or self.height <= 0 or self.frame_count <= 0:
            raise TfxaiError(f"{self.path} has no readable frames: check that it is a video")

    def __len__(self):
        return self.frame_count

    def read(self, index):
        """Frame ``index`` as RGB uint8; :class:`TfxaiError` when it is out of range or unreadable."""
        index = int(index)
        if not 0 <= index < self.frame_count:
            raise TfxaiError(f"frame {index} is outside {self.path} (frames 0 to {self.frame_count - 1}): choose another frame")
        if index != self._next:
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, frame = self._capture.read()
        if not ok or frame is None:
            self._next = -1
            raise TfxaiError(f"cannot decode frame {index} of {self.path}: the file may be truncated")
        self._next = index + 1
        return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)

    def close(self):
        self._capture.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_frames(path, indices):
    """Frames ``indices`` of a video file or a folder of frames (images sorted by name) at the source's own size.

    Returns RGB uint8 ``(len(indices), H, W, 3)``; frames of a folder that differ in
    size from its first one are resized to it.
    """
    return np.stack(list(iter_frames(path, indices)))


def iter_frames(path, indices):
    """The frames of :func:`read_frames` one by one, each decoded when asked for (the video stays open meanwhile)."""
    path, indices = os.fspath(path), [int(i) for i in indices]
    if not os.path.isdir(path):
        with Video(path) as video:
            for index in indices:
                yield video.read(index)
        return
    from tfxai.data.image_folder import IMAGE_EXTENSIONS, read_image

    files = sorted(os.path.join(path, f) for f in os.listdir(path) if f.lower().endswith(IMAGE_EXTENSIONS))
    if not files:
        raise TfxaiError(f"frame folder {path} holds no images ({', '.join(IMAGE_EXTENSIONS)}): add frames or pass a video file")
    first = None
    for index in indices:
        if not 0 <= index < len(files):
            raise TfxaiError(f"frame {index} is outside {path} (frames 0 to {len(files) - 1}): choose another frame")
        frame = read_image(files[index], channels=3, convert=True)
        if first is not None and frame.shape != first:
            frame = cv2.resize(frame, (first[1], first[0]), interpolation=cv2.INTER_AREA)
        first = first or frame.shape
        yield frame


def to_gray(frame):
    """RGB uint8 frame -> grayscale uint8."""
    return cv2.cvtColor(np.asarray(frame), cv2.COLOR_RGB2GRAY)

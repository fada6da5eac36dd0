"""Video frames as JPEG for the pages: a small LRU of encoded frames, the disk cache, else decoded by frame index.

A frame is served from memory (the ``size`` most recent), else from the video's
disk cache (:class:`tfxai.studio.disk_frames.DiskFrames`, filled by a
background thread from the moment a video is first opened), else decoded with
OpenCV: one :class:`cv2.VideoCapture` per video, used under a lock (a capture
is not thread-safe); reading frame ``i + 1`` after ``i`` does not seek, so
playing and stepping forward cost one decode per frame, a random seek decodes
from the previous key frame.
"""

import collections
import os
import threading

import cv2

from tfxai.studio.disk_frames import DEFAULT_MAX_BYTES, DiskFrames
from tfxai.studio.workspace import RequestError

__all__ = ["FrameCache"]


class _Capture:
    def __init__(self, path):
        self.path = path
        self.capture = cv2.VideoCapture(path)
        if not self.capture.isOpened():
            raise RequestError(415, f"OpenCV cannot open {os.path.basename(path)} as a video")
        self.frame_count = int(self.capture.get(cv2.CAP_PROP_FRAME_COUNT))
        self.width = int(self.capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(self.capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self.fps = float(self.capture.get(cv2.CAP_PROP_FPS) or 0.0)
        self.lock = threading.Lock()
        self.next = 0

    def read_bgr(self, index):
        with self.lock:
            if index != self.next:
                self.capture.set(cv2.CAP_PROP_POS_FRAMES, index)
            ok, frame = self.capture.read()
            self.next = index + 1 if ok else -1
        if not ok or frame is None:
            raise RequestError(404, f"cannot decode frame {index} of {os.path.basename(self.path)}")
        return frame


class FrameCache:
    """JPEG bytes of video frames, the ``size`` most recent kept.

    Parameters
    ----------
    size : int
        Frames kept (a 768x576 JPEG at quality 85 is about 60 kB: 64 frames ~ 4 MB).
    quality : int
        JPEG quality.
    disk : bool
        Keep every frame of the videos opened as JPEG files in a disk cache (filled in the background).
    disk_root : str, optional
        The disk cache's folder (default: :func:`tfxai.studio.disk_frames.default_cache_root`).
    disk_bytes : int
        Bound of the disk cache.
    """

    def __init__(self, size=64, quality=85, disk=True, disk_root=None, disk_bytes=DEFAULT_MAX_BYTES):
        self.size, self.quality = int(size), int(quality)
        self.disk, self.disk_root, self.disk_bytes = bool(disk), disk_root, int(disk_bytes)
        self._disk = {}
        self._captures = {}
        self._jpegs = collections.OrderedDict()
        self._lock = threading.Lock()

    def info(self, path):
        """``{"frame_count", "width", "height", "fps"}`` of the video at ``path``."""
        capture = self._capture(path)
        return {"frame_count": capture.frame_count, "width": capture.width, "height": capture.height, "fps": capture.fps}

    def jpeg(self, path, index):
        """Frame ``index`` of ``path`` as JPEG bytes; :class:`RequestError` 404 when outside the video."""
        capture = self._capture(path)
        index = int(index)
        if not 0 <= index < capture.frame_count:
            raise RequestError(404, f"frame {index} is outside the video (frames 0 to {capture.frame_count - 1})")
        key = (path, index)
        with self._lock:
            if key in self._jpegs:
                self._jpegs.move_to_end(key)
                return self._jpegs[key]
        disk = self._disk.get(path)
        data = disk.get(index) if disk is not None else None
        if data is None:
            ok, data = cv2.imencode(".jpg", capture.read_bgr(index), [cv2.IMWRITE_JPEG_QUALITY, self.quality])
            if not ok:
                raise RequestError(500, f"cannot encode frame {index} as JPEG")
            data = data.tobytes()
        with self._lock:
            self._jpegs[key] = data
            while len(self._jpegs) > self.size:
                self._jpegs.popitem(last=False)
        return data

    def _capture(self, path):
        with self._lock:
            capture = self._captures.get(path)
        if capture is None:
            capture = _Capture(path)
            with self._lock:
                if path in self._captures:
                    capture.capture.release()
                    return self._captures[path]
                self._captures[path] = capture
                if self.disk:
                    self._disk[path] = DiskFrames(path, self.disk_root, self.quality, self.disk_bytes).start()
        return capture

    def disk_frames(self, path):
        """The :class:`DiskFrames` of an opened video (None without the disk cache)."""
        with self._lock:
            return self._disk.get(path)

    def close(self):
        with self._lock:
            disks = list(self._disk.values())
            self._disk.clear()
        for disk in disks:
            disk.stop()
        with self._lock:
            for capture in self._captures.values():
                capture.capture.release()
            self._captures.clear()
            self._jpegs.clear()

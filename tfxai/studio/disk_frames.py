"""Every frame of a video as a JPEG file on disk, written once by a background thread, for seeks without decoding.

A random seek in a video decodes forward from the previous key frame (64 ms
median on vtest.avi, XVID); reading a small JPEG file takes about a
millisecond. When the studio first opens a video, a thread decodes it once
from start to end and writes ``<cache root>/<key>/NNNNNN.jpg``; until a
frame is there, the studio seeks as before.

- The cache root is ``$TFXAI_FRAME_CACHE``, else ``$XDG_CACHE_HOME/tfxai/frames``,
  else ``~/.cache/tfxai/frames`` (private, mode 0700): never the user's label folder.
- ``<key>`` hashes the video's real path, size and modification time: a changed
  video gets a new folder, and the old one ages out.
- Bounded: the folders together stay under ``max_bytes``; the least recently
  opened videos are removed first, and a video that does not fit alone is
  cached only up to the bound (the rest is seeked).
- Safe under concurrency: each file is written to a temporary name and
  renamed (a reader sees no file or a whole one); one process fills a folder
  at a time (an ``flock`` on ``.lock``), others read what it wrote; a folder
  being filled is never evicted.
"""

import hashlib
import os
import shutil
import tempfile
import threading

import cv2

try:
    import fcntl
except ImportError:  # Windows: no cross-process lock, each process fills on its own (still atomic files)
    fcntl = None

__all__ = ["DiskFrames", "default_cache_root", "video_key"]

DEFAULT_MAX_BYTES = 2 << 30  # 2 GiB: vtest.avi (795 frames of 768x576) takes 44 MB
COMPLETE = "complete"


def default_cache_root():
    """``$TFXAI_FRAME_CACHE``, ``$XDG_CACHE_HOME/tfxai/frames`` or ``~/.cache/tfxai/frames``."""
    if os.environ.get("TFXAI_FRAME_CACHE"):
        return os.environ["TFXAI_FRAME_CACHE"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "tfxai", "frames")


def video_key(path):
    """A hash of the video's real path, size and modification time (nanoseconds)."""
    stat = os.stat(path)
    text = f"{os.path.realpath(path)}\0{stat.st_size}\0{stat.st_mtime_ns}"
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:24]


def _folder_bytes(folder):
    total = 0
    for entry in os.scandir(folder):
        try:
            total += entry.stat().st_size
        except OSError:  # removed meanwhile
            pass
    return total


def _try_lock(path):
    """An open file holding an exclusive lock on ``path``, or None when another process holds it."""
    handle = open(path, "a+b")
    if fcntl is None:
        return handle
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    return handle


class DiskFrames:
    """The JPEG files of one video's frames under ``root``; :meth:`start` fills them in a background thread.

    Parameters
    ----------
    path : str
        The video.
    root : str, optional
        Cache root (:func:`default_cache_root` by default).
    quality : int
        JPEG quality (the same as frames encoded on request, so both look alike).
    max_bytes : int
        Bound of all the cache's folders together.
    """

    def __init__(self, path, root=None, quality=85, max_bytes=DEFAULT_MAX_BYTES):
        self.path, self.quality, self.max_bytes = os.fspath(path), int(quality), int(max_bytes)
        self.root = os.fspath(root or default_cache_root())
        self.folder = os.path.join(self.root, video_key(self.path))
        self._stop = threading.Event()
        self._thread = None
        self.written = 0  # frames this object wrote
        self.error = None  # why filling stopped early, if it did

    def file(self, index):
        return os.path.join(self.folder, f"{int(index):06d}.jpg")

    def get(self, index):
        """The JPEG bytes of frame ``index``, or None when it is not (yet) cached."""
        try:
            with open(self.file(index), "rb") as handle:
                return handle.read()
        except OSError:
            return None

    @property
    def complete(self):
        return os.path.isfile(os.path.join(self.folder, COMPLETE))

    def start(self):
        """Fill the folder in a daemon thread (once); returns self."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"tfxai-frames-{os.path.basename(self.path)}", daemon=True)
            self._thread.start()
        return self

    def wait(self, timeout=None):
        """Wait for the filling thread; True when it has ended."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def stop(self):
        self._stop.set()
        self.wait(10)

    # === Filling ===

    def _run(self):
        try:
            _lower_priority()
            os.makedirs(self.root, mode=0o700, exist_ok=True)
            os.makedirs(self.folder, mode=0o700, exist_ok=True)
            os.utime(self.folder)  # last opened: the eviction order
            lock = _try_lock(os.path.join(self.folder, ".lock"))
            if lock is None:
                return  # another process fills it; its files show up as they are renamed in
            with lock:
                if not self.complete:
                    self._fill()
        except Exception as error:  # noqa: BLE001 - a cache that cannot fill only leaves frames to seeking
            self.error = f"{type(error).__name__}: {error}"

    def _fill(self):
        capture = cv2.VideoCapture(self.path)
        try:
            count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
            for name in os.listdir(self.folder):
                if name.startswith(".part-"):  # left by a process killed while writing (we hold the lock now)
                    os.remove(os.path.join(self.folder, name))
            used = _folder_bytes(self.folder)
            others = self._evict(used)
            for index in range(count):
                if self._stop.is_set():
                    return
                ok, frame = capture.read()
                if not ok or frame is None:
                    self.error = f"frame {index} could not be decoded"
                    return
                if os.path.isfile(self.file(index)):
                    continue  # an earlier, interrupted fill wrote it
                ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
                if not ok:
                    return
                if others + used + len(data) > self.max_bytes:
                    others = self._evict(used + len(data))
                    if others + used + len(data) > self.max_bytes:
                        self.error = f"cache bound of {self.max_bytes} bytes reached at frame {index}"
                        return
                self._write(self.file(index), data.tobytes())
                used += len(data)
                self.written += 1
            self._write(os.path.join(self.folder, COMPLETE), str(count).encode())
        finally:
            capture.release()

    def _write(self, path, data):
        handle, tmp = tempfile.mkstemp(dir=self.folder, prefix=".part-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise

    def _evict(self, needed):
        """Remove the least recently opened other folders until ``needed`` more bytes fit; returns their remaining size."""
        others = []
        for entry in os.scandir(self.root):
            if entry.is_dir(follow_symlinks=False) and entry.path != self.folder:
                others.append((entry.stat().st_mtime, entry.path, _folder_bytes(entry.path)))
        others.sort()
        total = sum(size for _, _, size in others)
        for _, folder, size in others:
            if total + needed <= self.max_bytes:
                break
            lock = _try_lock(os.path.join(folder, ".lock")) if os.path.isdir(folder) else None
            if lock is None:
                continue  # being filled (or gone)
            with lock:
                shutil.rmtree(folder, ignore_errors=True)
            total -= size
        return total


def _lower_priority():
    """Let requests win the CPU over the filling thread (Linux: nice the thread)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    except (AttributeError, OSError):
        pass

"""The studio's frames: the disk cache of every frame (filled in the background, outside the label folder, bounded,
safe under concurrent requests and processes) and the seeking fallback while it fills."""

import concurrent.futures
import os

import cv2
import numpy as np

from tfxai.studio.disk_frames import DiskFrames, _try_lock, video_key
from tfxai.studio.frames import FrameCache

FRAMES = 100  # make_video's default


def reference_jpegs(path, quality=85):
    """Every frame decoded from start to end, encoded as the studio encodes it."""
    capture, out = cv2.VideoCapture(str(path)), []
    while True:
        ok, frame = capture.read()
        if not ok:
            return out
        out.append(cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes())


def files_in(folder):
    return sorted(os.path.relpath(os.path.join(d, f), folder) for d, _, names in os.walk(folder) for f in names)


def test_the_disk_cache_holds_every_frame_outside_the_video_folder_and_is_served_without_decoding(tmp_path, make_video):
    os.makedirs(tmp_path / "work")
    video = make_video(tmp_path / "work" / "video.avi")
    before = files_in(tmp_path / "work")
    cache = FrameCache(disk_root=tmp_path / "cache")
    assert cache.info(video)["frame_count"] == FRAMES  # opening the video starts the filling thread
    disk = cache.disk_frames(video)
    assert disk.wait(60) and disk.complete and disk.error is None
    assert files_in(tmp_path / "work") == before  # nothing written beside the video
    assert disk.folder == str(tmp_path / "cache" / video_key(video))
    names = sorted(os.listdir(disk.folder))
    assert names == sorted([f"{i:06d}.jpg" for i in range(FRAMES)] + ["complete", ".lock"])
    assert oct(os.stat(tmp_path / "cache").st_mode & 0o777) == "0o700"
    reference = reference_jpegs(video)
    capture = cache._captures[video]
    for index in (97, 3, 50, 0, 99, 12):
        assert cache.jpeg(video, index) == reference[index]
    assert capture.next == 0  # the capture never decoded: the frames came from the disk cache
    cache.close()


def test_while_the_cache_fills_eight_threads_get_the_right_frames(tmp_path, make_video):
    video = make_video(tmp_path / "video.avi")
    reference = reference_jpegs(video)
    cache = FrameCache(size=4, disk_root=tmp_path / "cache")
    rng = np.random.default_rng(0)
    wanted = rng.integers(0, FRAMES, 200)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda f: cache.jpeg(video, int(f)), wanted))
    assert all(data == reference[f] for data, f in zip(got, wanted))
    disk = cache.disk_frames(video)
    assert disk.wait(60) and disk.complete
    assert not [name for name in os.listdir(disk.folder) if name.startswith(".part-")]  # no half-written file
    assert all(disk.get(i) == reference[i] for i in range(FRAMES))
    cache.close()


def test_the_cache_is_bounded_and_evicts_the_least_recently_opened_video(tmp_path, make_video):
    first, second = make_video(tmp_path / "a.avi"), make_video(tmp_path / "b.avi", frames=60)
    one = sum(map(len, reference_jpegs(first)))
    root = tmp_path / "cache"
    a = DiskFrames(first, root, max_bytes=int(1.5 * one)).start()
    assert a.wait(60) and a.complete
    b = DiskFrames(second, root, max_bytes=int(1.5 * one)).start()
    assert b.wait(60) and b.complete
    assert not os.path.exists(a.folder)  # evicted to make room for the newer video
    # a video larger than the bound is cached up to it; its other frames are seeked
    small = FrameCache(disk_root=tmp_path / "small", disk_bytes=one // 3)
    reference = reference_jpegs(first)
    small.info(first)
    disk = small.disk_frames(first)
    assert disk.wait(60) and not disk.complete and "bound" in disk.error
    cached = [i for i in range(FRAMES) if disk.get(i) is not None]
    assert 0 < len(cached) < FRAMES and sum(os.path.getsize(disk.file(i)) for i in cached) <= one // 3
    assert small.jpeg(first, FRAMES - 1) == reference[-1] and small.jpeg(first, cached[-1]) == reference[cached[-1]]
    small.close()


def test_a_changed_video_gets_a_new_folder_and_one_process_fills_a_folder_at_a_time(tmp_path, make_video):
    video = make_video(tmp_path / "video.avi")
    key = video_key(video)
    stat = os.stat(video)
    os.utime(video, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert video_key(video) != key
    disk = DiskFrames(video, tmp_path / "cache")
    os.makedirs(disk.folder)
    held = _try_lock(os.path.join(disk.folder, ".lock"))  # as another process filling the folder would
    assert disk.start().wait(30) and disk.written == 0 and not disk.complete
    held.close()
    again = DiskFrames(video, tmp_path / "cache").start()
    assert again.wait(60) and again.written == FRAMES and again.complete

"""Studio speed, side by side: frames decoded by seeking (before) and served from the disk cache of frames (after);
label reads and saves. Median and p90 over 100 requests each.

    python benchmarks/studio.py [VIDEO]      # default: opencv-doc's vtest.avi (768x576, 795 frames, XVID)

Runs the real server (uvicorn in a thread on 127.0.0.1) and times HTTP requests from this process. The disk
cache lives in a temporary folder here, and "after" is measured once it is full (the time to fill it is printed).
"""

import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request

import numpy as np

from tfxai.annotate import LabelStore, Video
from tfxai.studio import Studio, StudioServer
from tfxai.studio.frames import FrameCache

VTEST = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"


def timed(request):
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as response:
        body = response.read()
    return (time.perf_counter() - start) * 1000, body


class Client:
    def __init__(self, folder, frames):
        self.server = StudioServer(Studio([folder], frames=frames), port=0).start()
        self.base, self.token = f"http://127.0.0.1:{self.server.port}", self.server.studio.token

    def get(self, path):
        return timed(urllib.request.Request(self.base + path, headers={"X-Studio-Token": self.token}))

    def frame(self, index):
        return self.get(f"/api/frame.jpg?item=0/.&frame={index}")

    def save(self, frame, i):
        ms, body = self.get(f"/api/labels/frame?item=0/.&frame={frame}")
        record = json.loads(body)
        box = {"box": [10 + i, 20, 40, 90], "class": 0, "track": 0, "source": "hand", "score": None}
        data = json.dumps({"boxes": record["boxes"] + [box], "reviewed": False, "version": record["version"]}).encode()
        request = urllib.request.Request(f"{self.base}/api/labels/frame?item=0/.&frame={frame}", data=data, method="PUT",
                                         headers={"X-Studio-Token": self.token, "Content-Type": "application/json"})
        return ms, timed(request)[0]

    def close(self):
        self.server.stop()


def frame_times(client, frames, start, n):
    """Random seeks, the next frame (stepping), and revisits of the last 50 (memory LRU)."""
    random_ms = [client.frame(int(f))[0] for f in frames]
    cached_ms = [client.frame(int(f))[0] for f in frames[-50:]]
    next_ms = [client.frame(start + i)[0] for i in range(n)]
    return random_ms, next_ms, cached_ms


def main(video=VTEST, n=100, seed=0):
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as folder, Video(video) as clip:
        store = LabelStore(os.path.join(folder, "labels"), classes=["person"], video=clip)
        count, size = len(clip), (clip.width, clip.height)
        frames = rng.integers(0, count, n)
        start = int(rng.integers(0, count - n))

        before = Client(store.folder, FrameCache(disk=False))
        try:
            seek = frame_times(before, frames, start, n)
            jpeg_kb = len(before.frame(count // 2)[1]) / 1024
            reads, saves = zip(*[before.save(int(frames[i]), i) for i in range(n)])
        finally:
            before.close()

        disk = FrameCache(disk_root=os.path.join(folder, "frame-cache"))
        after = Client(store.folder, disk)
        try:
            began = time.perf_counter()
            after.frame(0)  # opens the video: the filling thread starts
            filler = disk.disk_frames(video)
            others = np.setdiff1d(np.arange(count), frames)  # not the measured ones: no memory-LRU hits later
            during = [after.frame(int(f))[0] for f in rng.choice(others, 30, replace=False)]  # while it fills
            filler.wait()
            filled = time.perf_counter() - began
            cached = frame_times(after, frames, start, n)
        finally:
            after.close()
        megabytes = sum(os.path.getsize(os.path.join(filler.folder, f)) for f in os.listdir(filler.folder)) / 2**20

    print(f"{os.path.basename(video)}: {size[0]}x{size[1]}, {count} frames; JPEG q85 ~{jpeg_kb:.0f} kB; {n} requests each; "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}\n"
          f"disk cache filled in {filled:.1f} s ({megabytes:.0f} MB); 30 random frames while it filled: median "
          f"{statistics.median(during):.1f} ms\n")
    print("| request | before: seek-decoding, median / p90 ms | after: disk cache, median / p90 ms | goal ms |\n|---|---|---|---|")
    for name, old, new, goal in [("frame, random seek", seek[0], cached[0], 50), ("frame, next frame (no seek)", seek[1], cached[1], 50),
                                 ("frame, revisit (memory LRU of 64)", seek[2], cached[2], 50)]:
        print(f"| {name} | {statistics.median(old):.1f} / {np.percentile(old, 90):.1f} | "
              f"{statistics.median(new):.1f} / {np.percentile(new, 90):.1f} | {goal} |")
    for name, values, goal in [("labels of a frame, read", reads, ""), ("labels of a frame, save (CAS + atomic write)", saves, 20)]:
        print(f"| {name} | {statistics.median(values):.1f} / {np.percentile(values, 90):.1f} | (same code) | {goal} |")


if __name__ == "__main__":
    main(*sys.argv[1:2])

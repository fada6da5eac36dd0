"""Studio speed: frame load (seek to a random frame, JPEG) and label save, median over 100 requests each, side by side.

    python benchmarks/studio.py [VIDEO]      # default: opencv-doc's vtest.avi (768x576, 795 frames)

Runs the real server (uvicorn in a thread on 127.0.0.1) and times HTTP requests from this process.
"""

import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request

import numpy as np

from tfxai.annotate import Label, LabelStore, Video
from tfxai.studio import Studio, StudioServer

VTEST = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"


def timed(request, repeat=1):
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as response:
        body = response.read()
    return (time.perf_counter() - start) * 1000, body


def main(video=VTEST, n=100, seed=0):
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as folder, Video(video) as clip:
        store = LabelStore(os.path.join(folder, "labels"), classes=["person"], video=clip)
        count, size = len(clip), (clip.width, clip.height)
        server = StudioServer(Studio([store.folder]), port=0).start()
        base, token = f"http://127.0.0.1:{server.port}", server.studio.token
        try:
            def get(path):
                request = urllib.request.Request(base + path, headers={"X-Studio-Token": token})
                return timed(request)

            rows = []
            frames = rng.integers(0, count, n)
            random_ms = [get(f"/api/frame.jpg?item=0/.&frame={f}")[0] for f in frames]
            cached_ms = [get(f"/api/frame.jpg?item=0/.&frame={f}")[0] for f in frames[-50:]]
            start = int(rng.integers(0, count - n))
            next_ms = [get(f"/api/frame.jpg?item=0/.&frame={start + i}")[0] for i in range(n)]
            jpeg_kb = len(get(f"/api/frame.jpg?item=0/.&frame={count // 2}")[1]) / 1024
            save_ms, read_ms = [], []
            for i in range(n):
                frame = int(frames[i])
                ms, body = get(f"/api/labels/frame?item=0/.&frame={frame}")
                read_ms.append(ms)
                record = json.loads(body)
                box = {"box": [10 + i, 20, 40, 90], "class": 0, "track": 0, "source": "hand", "score": None}
                data = json.dumps({"boxes": record["boxes"] + [box], "reviewed": False, "version": record["version"]}).encode()
                request = urllib.request.Request(f"{base}/api/labels/frame?item=0/.&frame={frame}", data=data, method="PUT",
                                                 headers={"X-Studio-Token": token, "Content-Type": "application/json"})
                save_ms.append(timed(request)[0])
            rows = [("frame, random seek (decode + JPEG)", random_ms, 50), ("frame, next frame (no seek)", next_ms, 50),
                    ("frame, cached (LRU of 64)", cached_ms, 50), ("labels of a frame, read", read_ms, None),
                    ("labels of a frame, save (CAS + atomic write)", save_ms, 20)]
            print(f"{os.path.basename(video)}: {size[0]}x{size[1]}, {count} frames; JPEG q85 ~{jpeg_kb:.0f} kB; {n} requests each\n")
            print(f"| request | median ms | p90 ms | goal ms |\n|---|---|---|---|")
            for name, values, goal in rows:
                print(f"| {name} | {statistics.median(values):.1f} | {np.percentile(values, 90):.1f} | {goal or ''} |")
        finally:
            server.stop()


if __name__ == "__main__":
    main(*sys.argv[1:2])

"""Peak memory of ``tfxai explain video`` and ``tfxai annotate track`` on 2,000 vs 20,000 frames (issue 27: ratio <= 1.2).

Usage::

    nice -n 10 python -P benchmarks/video_memory.py [--counts 2000 20000] [--size 192 144] [--clips 8] [--scale 1]
        [--commands explain track] [--keep DIR]

opencv-doc's ``vtest.avi`` (795 frames, 768x576, people walking) is decoded
once, downscaled to ``--size`` and written, looped, as one .mp4 (mp4v) per
count into a temporary folder; a tiny 3-D CNN (8 frames of 32x32, one 3x3x3
convolution of 4 filters) is saved beside them. Then, in subprocesses (peak
RSS and wall time by :func:`explain_memory.measure`):

- ``tfxai explain video VIDEO --model ... --clips N`` (Grad-CAM; the same work at any length:
  memory must not grow either),
- ``tfxai annotate track VIDEO --init 0:x,y,w,h --mode framediff`` through every frame
  (one box file per frame).

Run it with an older checkout's python (its own venv) to measure the code before issue 27.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # run with -P: the sibling benchmark's helpers
from explain_memory import count_table  # noqa: E402

VTEST = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"
FRAMES = 8  # the tiny model's clip length
INPUT = 32  # its frame size
BOX = (70, 40, 24, 60)  # a walker in the first frame of vtest.avi at 192x144 (x, y, w, h at --size 192 144)


def write_videos(root, counts, size):
    """One looped, downscaled vtest.avi of each count (``{count: path}``)."""
    import cv2

    capture = cv2.VideoCapture(VTEST)
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.resize(frame, tuple(size), interpolation=cv2.INTER_AREA))
    capture.release()
    if not frames:
        raise SystemExit(f"cannot read {VTEST}: install opencv-doc (apt-get install opencv-doc)")
    paths = {}
    for count in counts:
        path = os.path.join(root, f"vtest_{count}.mp4")
        writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), 10.0, tuple(size))
        for i in range(count):
            writer.write(frames[i % len(frames)])
        writer.release()
        paths[count] = path
    return paths, len(frames)


def save_model(root):
    import tfxai  # noqa: F401  (before TensorFlow)
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((FRAMES, INPUT, INPUT, 3)), keras.layers.Rescaling(1 / 255),
                              keras.layers.Conv3D(4, 3, activation="relu"), keras.layers.GlobalAveragePooling3D(),
                              keras.layers.Dense(2, activation="softmax")])
    folder = os.path.join(root, "model")
    os.makedirs(folder)
    model.save(os.path.join(folder, "model.keras"))
    with open(os.path.join(folder, "class_names.json"), "w") as file:
        json.dump(["still", "walking"], file)
    return os.path.join(folder, "model.keras")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--size", type=int, nargs=2, default=[192, 144], metavar=("W", "H"))
    parser.add_argument("--clips", type=int, default=8, help="explain video --clips (default 8).")
    parser.add_argument("--scale", type=int, default=1, help="explain video --scale (default 1).")
    parser.add_argument("--commands", nargs="+", choices=["explain", "track"], default=["explain", "track"])
    parser.add_argument("--keep", default=None, help="Work in this folder and keep it (default: a temporary folder).")
    args = parser.parse_args()
    root = args.keep or tempfile.mkdtemp(prefix="video_memory.")
    os.makedirs(root, exist_ok=True)
    tfxai = os.path.join(os.path.dirname(sys.executable), "tfxai")
    try:
        videos, looped = write_videos(root, args.counts, args.size)
        model = save_model(root)
        width, height = args.size
        box = ",".join(str(round(v * s)) for v, s in zip(BOX, (width / 192, height / 144, width / 192, height / 144)))
        print(f"vtest.avi ({looped} frames) looped and downscaled to {width}x{height}, mp4v; "
              f"tiny 3-D CNN ({FRAMES}x{INPUT}x{INPUT}x3); python {sys.version.split()[0]}; tfxai from {os.path.dirname(tfxai)}")
        runs = {
            "explain": (f"tfxai explain video --clips {args.clips} --scale {args.scale} (Grad-CAM, mp4)",
                        lambda video, out: [tfxai, "explain", "video", video, "--model", model, "--out", out, "--clips",
                                            str(args.clips), "--scale", str(args.scale), "--quiet"]),
            "track": (f"tfxai annotate track --mode framediff --init 0:{box}",
                      lambda video, out: [tfxai, "annotate", "track", video, "--init", f"0:{box}", "--out", out,
                                          "--mode", "framediff", "--quiet"]),
        }
        for name in args.commands:
            title, command = runs[name]
            count_table(title, args.counts, root, name, lambda count, out: command(videos[count], out), unit="frames")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Tracking speed on vtest.avi: the frame-difference path vs the detector path, side by side.

Usage::

    nice -n 10 python -P benchmarks/annotate.py [--frames 110] [--rounds 5] [--detector model.keras]

Frames 40-149 of opencv-doc's vtest.avi (768x576) are decoded once into memory;
each round then tracks the same person through them with
:class:`tfxai.annotate.Tracker` in ``framediff`` mode (grey conversion +
frame difference on the strips around the box) and in ``detector`` mode (416-px
search region cut, resized to the detector input, CenterNet forward pass,
decoding; the detector runs on every frame), rounds interleaved so load from
other processes hits both alike; the table gives medians. Video decoding and
label writing are timed separately (they add to both paths in ``tfxai annotate
track``). Without ``--detector`` the detector has random weights (its speed
does not depend on them; it then rarely finds anything, so its path measures
the detector call plus the hold).
"""

import argparse
import os
import platform
import statistics
import tempfile
import time

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")  # the detector has no strided 1x1 convolution (see README)

import tfxai  # noqa: E402  (before tensorflow)

import keras  # noqa: E402

from tfxai.annotate import Label, LabelStore, Tracker, TrackerConfig, Video  # noqa: E402
from tfxai.annotate.detector import CenterNetDetector, build_centernet  # noqa: E402
from tfxai.data.video import to_gray  # noqa: E402

VIDEO = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"
START, BOX = 40, (735, 281, 33, 113)  # a person entering at the right (experiments/annotate/hand_train)


def run(tracker, frames, grays):
    boxes = [Label(BOX)]
    began = time.perf_counter()
    for i in range(1, len(frames)):
        boxes = tracker.step(grays[i - 1], frames[i], boxes, grays[i])
    return (len(frames) - 1) / (time.perf_counter() - began)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=110)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--detector", help="a trained .keras detector (default: random weights, 256 px input, width 16)")
    args = parser.parse_args()
    with Video(VIDEO) as video:
        began = time.perf_counter()
        frames = [video.read(i) for i in range(START, START + args.frames)]
        decode = args.frames / (time.perf_counter() - began)
    began = time.perf_counter()
    grays = [to_gray(frame) for frame in frames]
    gray_rate = len(frames) / (time.perf_counter() - began)
    model = keras.saving.load_model(args.detector, compile=False) if args.detector else build_centernet(1, 256, 16)
    trackers = {"frame difference": Tracker(TrackerConfig(mode="framediff")),
                "detector (416 search region)": Tracker(TrackerConfig(mode="detector"), CenterNetDetector(model))}
    for tracker in trackers.values():  # warm-up (tracing excluded)
        run(tracker, frames[:3], grays[:3])
    rates = {name: [] for name in trackers}
    for _ in range(args.rounds):
        for name, tracker in trackers.items():
            rates[name].append(run(tracker, frames, grays))
    with tempfile.TemporaryDirectory() as folder:
        store = LabelStore(folder, classes=["person"])
        began = time.perf_counter()
        for i in range(args.frames):
            store.put(i, [Label(BOX, source="framediff")])
        writes = args.frames / (time.perf_counter() - began)
    print(f"vtest.avi 768x576, {args.frames} frames, {args.rounds} interleaved rounds (medians); "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"TF_ENABLE_ONEDNN_OPTS={os.environ.get('TF_ENABLE_ONEDNN_OPTS')}, detector {model.count_params()} parameters, "
          f"input {model.input_shape[1]} px\n")
    print("| path | frames/s (median) | min | max | goal |\n|---|---:|---:|---:|---:|")
    for name, goal in zip(trackers, (100, 5)):
        values = rates[name]
        print(f"| {name} | {statistics.median(values):.1f} | {min(values):.1f} | {max(values):.1f} | >= {goal} |")
    print(f"| (video decoding, OpenCV) | {decode:.0f} | | | |")
    print(f"| (grey conversion) | {gray_rate:.0f} | | | |")
    print(f"| (atomic label write, one JSON per frame) | {writes:.0f} | | | |")


if __name__ == "__main__":
    main()

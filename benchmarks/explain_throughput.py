"""Throughput of ``tfxai explain`` (decoding, Grad-CAM, overlays and CSV written) vs the bare forward pass (issue 27: <= 1.5x).

Usage::

    nice -n 5 python -P benchmarks/explain_throughput.py [--images 256] [--rounds 3] [--models mobilenetv2 small_cnn]

``--images`` JPEG photos (random crops of the frames of opencv-doc's vtest.avi,
resized to 320x240: ordinary camera-sized files, not the model's size) are
written once into a temporary folder. Per model (random weights; speed does
not depend on them), each round runs, interleaved:

- **forward**: the model's forward pass (``tf.function``, batches of 32) over
  the images already decoded and resized to the model's input;
- **decode + forward**: the same, reading and resizing the files first
  (:func:`tfxai.explain.streaming.read_chunk`);
- **tfxai explain**: :func:`tfxai.explain.streaming.explain_stream` with
  Grad-CAM, exactly what ``tfxai explain`` runs after loading the model: files
  decoded ahead in threads, maps computed, one overlay PNG per image at the
  file's own resolution, predictions.csv, the contact sheet and index.html.

Medians over the rounds; the ratio is each row's time over the bare forward pass.
"""

import argparse
import os
import platform
import shutil
import sys
import tempfile

import tfxai  # noqa: F401  (oneDNN setting before TensorFlow)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # run with -P: the shared timing helper beside this file
from timing import interleaved_medians  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfxai.classify.backbones import build_classifier  # noqa: E402
from tfxai.explain import get_explainer  # noqa: E402
from tfxai.explain.streaming import explain_stream, read_chunk  # noqa: E402

MODELS = {  # name: (backbone, input size, channels)
    "mobilenetv2": ("mobilenet_v2", 224, 3),
    "small_cnn": ("small_cnn", 64, 3),
}
VIDEO = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"


def write_photos(folder, count, seed=0):
    """``count`` 320x240 JPEGs cut from frames of opencv-doc's vtest.avi (random photos-like noise without it); return their paths."""
    rng = np.random.default_rng(seed)
    capture = cv2.VideoCapture(VIDEO)
    frames = []
    while len(frames) < 200:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    if not frames:
        print(f"note: {VIDEO} not found: random images instead")
        frames = [cv2.GaussianBlur(rng.integers(0, 256, (576, 768, 3), dtype=np.uint8), (9, 9), 0) for _ in range(8)]
    paths = []
    for i in range(count):
        frame = frames[int(rng.integers(len(frames)))]
        h, w = frame.shape[:2]
        ch, cw = int(h * rng.uniform(0.4, 1.0)), int(w * rng.uniform(0.4, 1.0))
        y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
        crop = cv2.resize(frame[y:y + ch, x:x + cw], (320, 240), interpolation=cv2.INTER_AREA)
        path = os.path.join(folder, f"{i:05d}.jpg")
        cv2.imwrite(path, crop, [cv2.IMWRITE_JPEG_QUALITY, 90])
        paths.append(path)
    return paths


def measure(name, paths, rounds, work):
    backbone, size, channels = MODELS[name]
    model = build_classifier(backbone, 5, (size, size, channels), weights="none")
    explainer = get_explainer("gradcam", model)
    forward = tf.function(lambda x: model(x, training=False))
    decoded, _ = read_chunk(paths, (size, size), channels)

    def bare(images):
        for start in range(0, len(images), 32):
            forward(tf.constant(images[start:start + 32], tf.float32)).numpy()

    def explain():
        out = os.path.join(work, f"report_{name}")
        shutil.rmtree(out, ignore_errors=True)
        explain_stream(explainer, paths, [f"class {i}" for i in range(5)], out, (size, size), channels,
                       options={"model": name}, say=lambda line: None)

    runs = {
        "forward (decoded images)": lambda: bare(decoded),
        "decode + forward": lambda: bare(read_chunk(paths, (size, size), channels)[0]),
        "tfxai explain (decode, Grad-CAM, overlays, CSV)": explain,
    }
    medians = interleaved_medians(runs, rounds, warmup=1)
    base = medians["forward (decoded images)"]
    print(f"\n{name}: {backbone} {size}x{size}x{channels}, {model.count_params():,} parameters, {len(paths)} JPEGs 320x240, "
          f"batch 32, median of {rounds} interleaved rounds\n")
    print("| run | median s | images/s | × forward |")
    print("|---|---:|---:|---:|")
    for key, value in medians.items():
        print(f"| {key} | {value:.2f} | {len(paths) / value:.1f} | {value / base:.2f} |")
    sys.stdout.flush()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=["mobilenetv2", "small_cnn"])
    args = parser.parse_args()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, TF {tf.__version__}, "
          f"TF_ENABLE_ONEDNN_OPTS={os.environ.get('TF_ENABLE_ONEDNN_OPTS', 'unset')}")
    work = tempfile.mkdtemp(prefix="tfxai_explain_throughput_")
    try:
        folder = os.path.join(work, "images")
        os.makedirs(folder)
        paths = write_photos(folder, args.images)
        for name in args.models:
            measure(name, paths, args.rounds, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Peak memory of ``tfxai explain`` for 2,000 vs 20,000 images of the same kind (issue 27: the goal is a ratio <= 1.2).

Usage::

    nice -n 10 python -P benchmarks/explain_memory.py [--counts 2000 20000] [--size 20] [--old] [--keep DIR]

The 5,000 20x20 digit tiles of opencv-doc's ``digits.png`` (random 20x20 PNGs
when it is missing) are written once, repeated to the largest count, into a
temporary folder (``--size``: resized to that size) of ten class folders ``0`` .. ``9``; a tiny CNN (one 3x3
convolution of 8 filters) is saved beside them with its class names. Each count
is then explained with Grad-CAM by ``tfxai explain`` in a subprocess (the first
N files), and the child's peak RSS (``/proc/<pid>/status`` VmHWM, polled, and
``getrusage(RUSAGE_CHILDREN)`` as a cross-check) and wall time are measured.

``--old`` also runs the code path before issue 27 in a subprocess: every image
loaded into one array (:func:`tfxai.data.load_images`), explained at once
(:func:`tfxai.explain.report.explain_batch`) and written by
:func:`tfxai.explain.report.write_report`, as ``apps/explain.py`` did.
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

DIGITS = "/usr/share/doc/opencv-doc/examples/data/digits.png"

OLD_PATH = """
import os, sys, numpy as np
import tfxai
from tfxai.data import list_images, load_images
from tfxai.explain import get_explainer
from tfxai.explain.report import explain_batch, write_report
from tfxai.io import load_model
model_path, folder, out = sys.argv[1:4]
model, class_names = load_model(model_path)
paths = list_images(folder)
size = int(sys.argv[4])
images = load_images(paths, (size, size), 1)
true = [class_names.index(os.path.basename(os.path.dirname(p))) for p in paths]
explanations = explain_batch(get_explainer("gradcam", model), images, paths, np.asarray(true), sources=paths)
write_report(explanations, class_names, out, "tfxai explain: gradcam")
"""


def write_images(root, count, size=20):
    """``count`` 20x20 grey tiles in ten class folders; returns the sorted list of class folders' files per count prefix."""
    import cv2
    import numpy as np

    if os.path.isfile(DIGITS):
        sheet = cv2.imread(DIGITS, cv2.IMREAD_GRAYSCALE)  # 50 rows of 100 tiles; 5 rows per digit
        tiles = [(row // 5, sheet[row * 20:(row + 1) * 20, col * 20:(col + 1) * 20]) for row in range(50) for col in range(100)]
        source = "opencv-doc digits.png"
    else:
        rng = np.random.default_rng(0)
        tiles = [(i % 10, rng.integers(0, 256, (20, 20), dtype=np.uint8)) for i in range(5000)]
        source = "random 20x20 tiles (digits.png missing)"
    paths = []
    for digit in range(10):
        os.makedirs(os.path.join(root, str(digit)), exist_ok=True)
    for i in range(count):
        digit, tile = tiles[i % len(tiles)]
        path = os.path.join(root, str(digit), f"{i:06d}.png")
        cv2.imwrite(path, tile if size == 20 else cv2.resize(tile, (size, size), interpolation=cv2.INTER_LINEAR))
        paths.append(path)
    return paths, source


def subset(root, paths, count):
    """A folder of the first ``count`` images (hard links, so the class folders keep their names)."""
    folder = os.path.join(root, f"images_{count}")
    for path in paths[:count]:
        target = os.path.join(folder, os.path.basename(os.path.dirname(path)), os.path.basename(path))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.link(path, target)
    return folder


def save_model(root, size=20):
    import tfxai  # noqa: F401  (before TensorFlow)
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((size, size, 1)), keras.layers.Rescaling(1 / 255), keras.layers.Conv2D(8, 3, activation="relu"),
                              keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10, activation="softmax")])
    folder = os.path.join(root, "model")
    os.makedirs(folder)
    model.save(os.path.join(folder, "model.keras"))
    with open(os.path.join(folder, "class_names.json"), "w") as file:
        json.dump([str(d) for d in range(10)], file)
    return os.path.join(folder, "model.keras")


def measure(command):
    """``(peak RSS in MB, seconds)`` of ``command`` (VmHWM polled every 50 ms; RUSAGE_CHILDREN's max as a floor)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while process.poll() is None:
        try:
            with open(f"/proc/{process.pid}/status") as file:
                for line in file:
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
        except OSError:
            pass
        time.sleep(0.05)
    seconds = time.perf_counter() - start
    stderr = process.stderr.read().decode(errors="replace")
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command[:4])} ... failed ({process.returncode}):\n{stderr[-2000:]}")
    return max(peak, 0) / 1024, seconds


def count_table(title, counts, root, name, command_for, unit="images"):
    """Print the markdown table of :func:`measure` for ``command_for(count, out)`` at each count (ratio: to the first count)."""
    print(f"\n{title}\n| {unit} | peak RSS MB | ratio | s | {unit}/s |\n|---:|---:|---:|---:|---:|")
    first = None
    for count in counts:
        out = os.path.join(root, f"out_{name}_{count}")
        peak, seconds = measure(command_for(count, out))
        first = first or peak
        print(f"| {count} | {peak:.0f} | {peak / first:.2f} | {seconds:.1f} | {count / seconds:.0f} |", flush=True)
        shutil.rmtree(out, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--size", type=int, default=20, help="Tile (and model input) size: the 20-px digits resized (default 20).")
    parser.add_argument("--old", action="store_true", help="Also measure the in-memory path of before issue 27.")
    parser.add_argument("--keep", default=None, help="Work in this folder and keep it (default: a temporary folder).")
    args = parser.parse_args()
    root = args.keep or tempfile.mkdtemp(prefix="explain_memory.")
    os.makedirs(root, exist_ok=True)
    try:
        paths, source = write_images(os.path.join(root, "all"), max(args.counts), args.size)
        model = save_model(root, args.size)
        folders = {count: subset(root, paths, count) for count in args.counts}
        print(f"{source} at {args.size}x{args.size}, tiny CNN ({args.size}x{args.size}x1, one 3x3 convolution of 8 filters), "
              f"Grad-CAM; python {sys.version.split()[0]}")
        paths_to_run = [("streamed", None)] + ([("old (all in memory)", OLD_PATH)] if args.old else [])
        for label, old in paths_to_run:
            def command(count, out, old=old):
                if old is None:
                    return [os.path.join(os.path.dirname(sys.executable), "tfxai"), "explain", "--model", model,
                            "--images", folders[count], "--out", out, "--quiet"]
                return [sys.executable, "-c", old, model, folders[count], out, str(args.size)]

            count_table(label, args.counts, root, label.split()[0], command)
        children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"\n(getrusage RUSAGE_CHILDREN: largest child peak {children:.0f} MB)")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Batched vs one-at-a-time generation of images that drive a classifier to a target (Hirano et al.).

Side by side in one process: one ``TargetOutputGenerator.generate`` call on
256 images (the traced update loop runs on all 256 at once, tfxai's default, or
on chunks of 64) versus the same 256 images generated one by
one in a Python loop (the same generator with batch
size 1, already traced, so the loop pays no tracing). 32x32x3 images, 100
plain-SGD updates (the paper's lr 0.05, weight decay 5e-4), a small CNN (and a
tiny one, to show how the gain depends on compute per image) with random
weights (speed does not depend on them), each image with its own
"own 0.9 / other 0.1" target. Both paths are warmed up first; the batched run
is repeated (rounds interleaved) and the median reported. When the loop over all images would take
too long, ``--loop-images N`` times the first N one by one and extrapolates
per image (the table says so). The batched images are checked against the
one-by-one images (same trajectory).

Run:  nice -n 5 python -P benchmarks/synthesis.py [--loop-images 32] [--xla]
"""

import argparse
import os
import platform
import statistics
import time

import tfxai  # noqa: F401  (oneDNN setting before TensorFlow)

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfxai.synthesis import TargetOutputGenerator, own_and_other_targets  # noqa: E402


def small_cnn(size=32, channels=3, classes=10, seed=0):
    """conv(16)-pool-conv(32)-pool-GAP-dense(10), 5.4k parameters, ~3.2 MFLOP forward per image."""
    keras.utils.set_random_seed(seed)
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input((size, size, channels)),
            layers.Conv2D(16, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.GlobalAveragePooling2D(),
            layers.Dense(classes, activation="softmax"),
        ],
        name="small_cnn",
    )


def tiny_cnn(size=32, channels=3, classes=10, seed=0):
    """conv(8, stride 2)-conv(16, stride 2)-GAP-dense(10), 1.5k parameters, ~0.26 MFLOP forward per image."""
    keras.utils.set_random_seed(seed)
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input((size, size, channels)),
            layers.Conv2D(8, 3, strides=2, padding="same", activation="relu"),
            layers.Conv2D(16, 3, strides=2, padding="same", activation="relu"),
            layers.GlobalAveragePooling2D(),
            layers.Dense(classes, activation="softmax"),
        ],
        name="tiny_cnn",
    )


MODELS = {"small": small_cnn, "tiny": tiny_cnn}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--loop-images", type=int, default=None, help="time only this many one by one (extrapolated)")
    parser.add_argument("--repeats", type=int, default=3, help="batched runs (median)")
    parser.add_argument("--xla", action="store_true", help="also time both paths with jit_compile=True")
    parser.add_argument("--models", default="small,tiny", help="comma-separated: " + ", ".join(MODELS))
    parser.add_argument("--chunks", default="64,256", help="batch sizes of the batched path (256: tfxai's default)")
    args = parser.parse_args()
    header = (
        f"\n{args.images} images 32x32x3, {args.steps} SGD updates (lr 0.05, wd 5e-4), own 0.9 / other 0.1 targets, "
        f"random-weight CNNs; {os.cpu_count()} CPU cores, TensorFlow {tf.__version__}, Keras {keras.__version__}, "
        f"Python {platform.python_version()}, TF_ENABLE_ONEDNN_OPTS={os.environ.get('TF_ENABLE_ONEDNN_OPTS', 'unset')}\n"
    )
    tables = [measure(MODELS[name](), args) for name in args.models.split(",")]
    print(header)
    print("| model | path | XLA | seconds (256 images) | images/s | speed-up |")
    print("|---|---|---|---:|---:|---:|")
    for rows in tables:
        for line in rows[0]:
            print(line)
    print()
    for rows in tables:
        for line in rows[1]:
            print(line)


def measure(model, args):
    """Time batched and one-by-one generation on ``model``; return (table lines, check lines)."""
    rng = np.random.default_rng(0)
    images = rng.uniform(0.0, 1.0, (args.images, 32, 32, 3)).astype("float32")
    labels = rng.integers(0, 10, args.images)
    targets, _ = own_and_other_targets(labels, 10, rng=1)
    loop_count = args.images if args.loop_images is None else min(args.loop_images, args.images)
    settings = dict(optimizer="sgd", learning_rate=0.05, weight_decay=5e-4, steps=args.steps)

    chunks = [int(c) for c in args.chunks.split(",")]
    loop_label = "one at a time (loop)" if loop_count == args.images else (
        f"one at a time (loop; {loop_count} timed, extrapolated)"
    )
    name = f"{model.name} ({model.count_params()} params)"
    table, checks = [], []
    for xla in [False, True] if args.xla else [False]:
        flag = "on" if xla else "off"
        single = TargetOutputGenerator(model, batch_size=1, jit_compile=xla, **settings)
        batched = {c: TargetOutputGenerator(model, batch_size=c, jit_compile=xla, **settings) for c in chunks}
        single.generate(images[:1], targets[:1])  # trace + warm up
        for generator in batched.values():
            generator.generate(images, targets)
        times = {c: [] for c in chunks}
        for _ in range(args.repeats):  # rounds interleaved, median reported
            for c, generator in batched.items():
                tic = time.perf_counter()
                result = generator.generate(images, targets)
                times[c].append(time.perf_counter() - tic)
        tic = time.perf_counter()
        alone = [single.generate(images[i : i + 1], targets[i : i + 1]).images[0] for i in range(loop_count)]
        loop_seconds = (time.perf_counter() - tic) * args.images / loop_count
        table.append(f"| {name} | {loop_label} | {flag} | {loop_seconds:.2f} | {args.images / loop_seconds:.1f} | 1.0 |")
        for c in chunks:
            seconds = statistics.median(times[c])
            how = "one chunk" if c >= args.images else f"chunks of {c}"
            table.append(
                f"| {name} | batched, one call ({how}; median of {args.repeats}) | {flag} | {seconds:.2f} | "
                f"{args.images / seconds:.1f} | {loop_seconds / seconds:.1f} |"
            )
        difference = float(np.abs(np.stack(alone) - result.images[:loop_count]).max())
        checks.append(
            f"{name}, XLA {flag}: max |batched - one-by-one| pixel difference {difference:.2e} "
            f"(first {loop_count} images); mean KL to target after {args.steps} updates {float(np.mean(result.kl)):.3f}"
        )
    return table, checks


if __name__ == "__main__":
    main()

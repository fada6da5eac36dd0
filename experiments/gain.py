"""Does GAIN reduce a classifier's reliance on a spurious background cue? Writes experiments/gain/results.json and figures.

Task (real images, bias built in): Fashion-MNIST "T-shirt/top" (class 0, negative)
vs "Shirt" (class 6, positive), a hard pair. Each 28x28 image is centred on a
32x32 black canvas. The spurious cue is a white 4x4 square in the top-left
corner. In the training split it is on 95% of the shirts and 5% of the
T-shirts; in the unbiased test split it is on 50% of each class, independent
of the label. We report accuracy on the unbiased test split and on its
cue-conflicting half (shirts without the square, T-shirts with it), where a
model that reads the square instead of the garment fails.

Variants, same data, initial weights, epochs, optimizer and seeds:

- plain: the classifier alone (L_cl, ``classifier.fit``);
- GAIN: ``GAIN(classifier, mining_weight=1)`` (L_cl + L_am);
- GAIN_ext: L_cl + L_am + 10 L_e with object masks (garment pixels) for
  25% of the training images (``has_attention_map`` per sample; others add nothing).

Attention is GAIN's in-graph Grad-CAM of the predicted class at the last
feature map (8x8, upsampled). We report the share of attention mass on the
garment and on the cue region (the top-left 8x8 corner, i.e. the feature
cell holding the square) over test images that carry the square, and the
insertion/deletion scores of those maps (:mod:`tfxai.metrics.insertion_deletion`,
threshold and RISE modes).

Run: nice -n 5 python -P experiments/gain.py --seeds 0 1
Data: Fashion-MNIST IDX files (MIT licence) in /usr/share/datasets/fashion-mnist/.
"""

import argparse
import gzip
import json
import os
import platform
import struct
import sys
import time

# The small CNN has no strided 1x1 convolution (the oneDNN hazard on AMD CPUs), so this
# script opts in to oneDNN, which is 2-3x faster here; tfxai respects a setting made before import.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

import tfxai  # noqa: E402  (before tensorflow)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from tfxai.attention import GAIN, build_gain_classifier  # noqa: E402
from tfxai.explain.protocol import explain_in_batches  # noqa: E402
from tfxai.training import make_dataset  # noqa: E402
from tfxai.metrics.insertion_deletion import insertion_deletion  # noqa: E402

DATA = "/usr/share/datasets/fashion-mnist"
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "gain")
NEGATIVE, POSITIVE = 0, 6  # T-shirt/top, Shirt
SIZE, PAD, CUE = 32, 2, 4
CUE_REGION = (slice(0, 8), slice(0, 8))


def read_idx(name):
    with gzip.open(os.path.join(DATA, name)) as handle:
        magic = struct.unpack(">I", handle.read(4))[0]
        dims = struct.unpack(">" + "I" * (magic & 0xFF), handle.read(4 * (magic & 0xFF)))
        return np.frombuffer(handle.read(), np.uint8).reshape(dims)


def biased_split(images, labels, per_class, cue_rate, rng):
    """Canvas images with the cue on ``cue_rate[label]`` of each class; returns images, labels, has_cue, object masks."""
    picks = np.concatenate([rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in (NEGATIVE, POSITIVE)])
    picks = rng.permutation(picks)
    binary = (labels[picks] == POSITIVE).astype(np.int32)
    canvas = np.zeros((len(picks), SIZE, SIZE, 1), np.uint8)
    canvas[:, PAD : PAD + 28, PAD : PAD + 28, 0] = images[picks]
    objects = (canvas[..., 0] > 25).astype(np.float32)
    objects[:, CUE_REGION[0], CUE_REGION[1]] = 0.0  # object pixels outside the cue region
    has_cue = rng.random(len(picks)) < np.where(binary == 1, cue_rate[1], cue_rate[0])
    canvas[has_cue, :CUE, :CUE, 0] = 255
    return canvas.astype(np.float32), binary, has_cue, objects


def make_data(seed, train_per_class):
    rng = np.random.default_rng(seed)
    train = biased_split(read_idx("train-images-idx3-ubyte.gz"), read_idx("train-labels-idx1-ubyte.gz"), train_per_class, (0.05, 0.95), rng)
    test = biased_split(read_idx("t10k-images-idx3-ubyte.gz"), read_idx("t10k-labels-idx1-ubyte.gz"), 1000, (0.5, 0.5), rng)
    return train, test


def classifier(seed):
    keras.utils.set_random_seed(seed)
    return build_gain_classifier("small_cnn", (SIZE, SIZE, 1), num_classes=2, hidden=(64,), frozen_convs=0, weights=None)


def train_variant(variant, train, seed, epochs, batch_size, mask_fraction):
    images, labels, _, objects = train
    model = classifier(seed)
    if variant == "plain":
        model.compile(keras.optimizers.Adam(1e-3), "binary_crossentropy")
        data = make_dataset(images, labels, batch_size, True, seed)
        model.fit(data, epochs=epochs, verbose=2)
        return GAIN(model, layer="block3_relu2")  # the same Grad-CAM for the evaluation
    if variant == "GAIN":
        gain, inputs = GAIN(model, layer="block3_relu2", mining_weight=1.0), images
    else:
        gain = GAIN(model, layer="block3_relu2", mining_weight=1.0, map_weight=10.0)
        has_map = (np.random.default_rng(seed + 100).random(len(labels)) < mask_fraction).astype(np.float32)
        inputs = {"images": images, "attention_maps": objects, "has_attention_map": has_map}
    gain.compile(keras.optimizers.Adam(1e-3))
    data = make_dataset(inputs, labels, batch_size, True, seed)
    keras.utils.set_random_seed(seed)
    gain.fit(data, epochs=epochs, verbose=2)
    return gain


def two_columns(gain):
    """``insertion_deletion`` takes (n, K) probabilities; a single sigmoid p becomes [1 - p, p]."""

    import tensorflow as tf

    forward = tf.function(lambda x: gain.classifier(x, training=False), reduce_retracing=True)

    def predict(batch):
        p = forward(tf.constant(batch)).numpy()
        return np.concatenate([1.0 - p, p], axis=-1)

    return predict


def evaluate(gain, test, threshold_images, rise_images):
    images, labels, has_cue, objects = test
    attention, probabilities = explain_in_batches(gain, images, 250)
    predicted = (probabilities[:, 0] > 0.5).astype(np.int32)
    correct = predicted == labels
    conflicting = has_cue != (labels == 1)
    cue_region = np.zeros((SIZE, SIZE), np.float32)
    cue_region[CUE_REGION] = 1.0
    mass = attention.sum(axis=(1, 2)) + 1e-8
    on_object = (attention * objects).sum(axis=(1, 2)) / mass
    on_cue = (attention * cue_region).sum(axis=(1, 2)) / mass
    scores = {}
    if threshold_images and rise_images:
        predict = two_columns(gain)
        n, r = threshold_images, rise_images  # the test split is shuffled: the first n are a random subset
        threshold = insertion_deletion(predict, images[:n], labels[:n], attention[:n], mode="threshold", batch_size=500)
        rise = insertion_deletion(predict, images[:r], labels[:r], attention[:r], mode="rise", batch_size=500)
        scores = {
            "insertion_threshold": threshold.insertion_auc,
            "deletion_threshold": threshold.deletion_auc,
            "insertion_rise": rise.insertion_auc,
            "deletion_rise": rise.deletion_auc,
        }
    return {
        "accuracy": float(correct.mean()),
        "accuracy_conflicting": float(correct[conflicting].mean()),
        "accuracy_aligned": float(correct[~conflicting].mean()),
        "predicted_positive_with_cue": float(predicted[has_cue].mean()),
        "predicted_positive_without_cue": float(predicted[~has_cue].mean()),
        "attention_on_object_with_cue": float(on_object[has_cue].mean()),
        "attention_on_cue_with_cue": float(on_cue[has_cue].mean()),
        "attention_on_object_no_cue": float(on_object[~has_cue].mean()),
        "object_area": float(objects.mean()),
        "cue_area": float(cue_region.mean()),
        **scores,
    }, attention


def figure(test, maps, path, count=6):
    import cv2
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images, labels, has_cue, _ = test
    conflicting = np.flatnonzero((has_cue != (labels == 1)))[:count]
    rows = ["image"] + list(maps)
    fig, axes = plt.subplots(len(rows), count, figsize=(1.3 * count, 1.4 * len(rows)))
    for column, index in enumerate(conflicting):
        gray = images[index, ..., 0].astype(np.uint8)
        for row, name in enumerate(rows):
            axis = axes[row, column]
            if name == "image":
                axis.imshow(gray, cmap="gray", vmin=0, vmax=255)
                axis.set_title(("shirt" if labels[index] else "T-shirt") + (" +cue" if has_cue[index] else ""), fontsize=7)
            else:
                heat = cv2.applyColorMap((maps[name][index] * 255).astype(np.uint8), cv2.COLORMAP_JET)[..., ::-1]
                axis.imshow((0.5 * np.repeat(gray[..., None], 3, -1) + 0.5 * heat).astype(np.uint8))
            axis.set_xticks([])
            axis.set_yticks([])
            if column == 0:
                axis.set_ylabel(name, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


ROWS = [
    ("unbiased test accuracy", "accuracy"),
    ("  on cue-conflicting images", "accuracy_conflicting"),
    ("  on cue-aligned images", "accuracy_aligned"),
    ("P(predict shirt) with cue", "predicted_positive_with_cue"),
    ("P(predict shirt) without cue", "predicted_positive_without_cue"),
    ("attention on garment (images with cue)", "attention_on_object_with_cue"),
    ("attention on cue corner (images with cue)", "attention_on_cue_with_cue"),
    ("attention on garment (images without cue)", "attention_on_object_no_cue"),
    ("insertion, threshold mode (1000 imgs)", "insertion_threshold"),
    ("deletion, threshold mode (1000 imgs)", "deletion_threshold"),
    ("insertion, RISE (100 imgs)", "insertion_rise"),
    ("deletion, RISE (100 imgs)", "deletion_rise"),
    ("training time (s)", "train_seconds"),
]


def report(results):
    """Markdown tables (one column per variant, one table per seed) from results.json."""
    runs = results["runs"]
    variants = [v for v in ("plain", "GAIN", "GAIN_ext") if any(r["variant"] == v for r in runs)]
    out = []
    for seed in sorted({r["seed"] for r in runs}):
        by = {r["variant"]: r for r in runs if r["seed"] == seed}
        out += [f"seed {seed}", "", "| | " + " | ".join(variants) + " |", "|---|" + "---:|" * len(variants)]
        for label, key in ROWS:
            if all(key in by.get(v, {}) for v in variants):
                out.append(f"| {label} | " + " | ".join(f"{by[v][key]:.3f}" if key != "train_seconds" else f"{by[v][key]:.0f}" for v in variants) + " |")
        out.append("")
    seeds = sorted({r["seed"] for r in runs})
    if len(seeds) > 1:
        out += [f"mean ± sd over seeds {seeds}", "", "| | " + " | ".join(variants) + " |", "|---|" + "---:|" * len(variants)]
        for r in runs:
            r["cue_reliance"] = r["predicted_positive_with_cue"] - r["predicted_positive_without_cue"]
        rows = ROWS[:3] + [("cue reliance: P(shirt given cue) − P(shirt, no cue)", "cue_reliance")] + ROWS[5:8]
        for label, key in rows:
            cells = []
            for v in variants:
                values = np.array([r[key] for r in runs if r["variant"] == v])
                cells.append(f"{values.mean():.3f} ± {values.std(ddof=1):.3f}")
            out.append(f"| {label} | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--train-per-class", type=int, default=1000)
    parser.add_argument("--mask-fraction", type=float, default=0.25)
    parser.add_argument("--threshold-images", type=int, default=1000, help="Test images for threshold-mode insertion/deletion.")
    parser.add_argument("--rise-images", type=int, default=100, help="Test images for RISE-mode insertion/deletion (0 with --threshold-images 0: skip both).")
    parser.add_argument("--variants", nargs="+", default=["plain", "GAIN", "GAIN_ext"])
    parser.add_argument("--report", action="store_true", help="Only print the tables of results.json.")
    args = parser.parse_args()
    os.makedirs(OUT, exist_ok=True)
    results_path = os.path.join(OUT, "results.json")
    if args.report:
        print(report(json.load(open(results_path))))
        return 0
    results = json.load(open(results_path)) if os.path.exists(results_path) else {"runs": []}
    results["setup"] = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, shared",
        "tensorflow": __import__("tensorflow").__version__,
        "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
    }
    for seed in args.seeds:
        train, test = make_data(seed, args.train_per_class)
        maps = {}
        for variant in args.variants:
            start = time.time()
            gain = train_variant(variant, train, seed, args.epochs, args.batch_size, args.mask_fraction)
            trained = time.time() - start
            metrics, maps[variant] = evaluate(gain, test, args.threshold_images, args.rise_images)
            run = {"seed": seed, "variant": variant, "train_seconds": round(trained, 1), "eval_seconds": round(time.time() - start - trained, 1),
                   "params": gain.classifier.count_params(), "args": vars(args), **metrics}
            print(json.dumps(run), flush=True)
            results["runs"] = [r for r in results["runs"] if (r["seed"], r["variant"]) != (seed, variant)] + [run]
            tfxai.io.write_json(results_path, results)
        if seed == args.seeds[0]:
            figure(test, maps, os.path.join(OUT, f"attention_seed{seed}.png"))
    return 0


if __name__ == "__main__":
    import tfxai.io  # noqa: F401

    sys.exit(main())

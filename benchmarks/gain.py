"""GAIN training-step cost: one GAIN step vs one plain classifier step, same model and batch, side by side.

A GAIN step runs the classifier forward on I (inside a tape, for Grad-CAM),
the gradient of the target score with respect to the feature map, the masked
forward pass on I* and the full backward pass through all of it (second-order
terms included). The plain step is ``classifier.train_on_batch`` with binary
cross-entropy. Both use Adam and the same weights, images and labels; rounds
are interleaved (plain, GAIN, GAIN_ext, plain, ...) so load from other
processes hits all alike; medians are reported. The issue's target is a
GAIN step <= 3x a plain step.

    python benchmarks/gain.py                          # small preset (small CNN, 32 px, batch 32) and VGG16 at 64 px, batch 8
    python benchmarks/gain.py --models small --rounds 30
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # run with -P: the shared timing helper beside this file
from timing import interleaved_medians  # noqa: E402

MODELS = {
    # name: (backbone, image size, batch, hidden, frozen convs)
    "small": ("small_cnn", 32, 32, (64,), 0),
    "vgg16": ("vgg16", 64, 8, (512, 256), 7),
}


def measure(name, rounds):
    import tfxai  # noqa: F401  (before tensorflow: oneDNN setting)
    import keras
    import numpy as np

    from tfxai.attention import GAIN, build_gain_classifier

    backbone, size, batch, hidden, frozen = MODELS[name]
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    images = (rng.random((batch, size, size, 3)) * 255).astype("float32")
    labels = (np.arange(batch) % 2).astype("float32")
    masks = {"images": images, "attention_maps": rng.random((batch, size, size)).astype("float32"), "has_attention_map": labels}

    def model():
        keras.utils.set_random_seed(0)
        return build_gain_classifier(backbone, (size, size, 3), 2, hidden, frozen, weights=None)

    plain = model()
    plain.compile(keras.optimizers.Adam(1e-4), "binary_crossentropy")
    gain = GAIN(model(), mining_weight=1.0)
    gain.compile(keras.optimizers.Adam(1e-4))
    ext = GAIN(model(), mining_weight=1.0, map_weight=1.0)
    ext.compile(keras.optimizers.Adam(1e-4))
    runs = {
        "plain classifier step": lambda: plain.train_on_batch(images, labels),
        "GAIN step (L_cl + L_am)": lambda: gain.train_on_batch(images, labels),
        "GAIN_ext step (+ L_e, masks)": lambda: ext.train_on_batch(masks, labels),
    }
    medians = interleaved_medians(runs, rounds, warmup=3)
    params = plain.count_params()
    return medians, (backbone, size, batch, params)


def table(results, info):
    backbone, size, batch, params = info
    base = results["plain classifier step"]
    lines = [
        f"{backbone} classifier ({params:,} parameters), {size}x{size}x3, batch {batch}, CPU ({os.cpu_count()} cores), "
        f"TF_ENABLE_ONEDNN_OPTS={os.environ.get('TF_ENABLE_ONEDNN_OPTS', 'unset')}",
        "",
        "| step | median time (ms) | × plain step |",
        "|---|---:|---:|",
    ]
    for key, value in results.items():
        lines.append(f"| {key} | {value * 1000:.1f} | {value / base:.2f} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=["small", "vgg16"])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    for name in args.models:
        results, info = measure(name, args.rounds)
        print(table(results, info))
        print()


if __name__ == "__main__":
    main()

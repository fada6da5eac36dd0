"""ST-ABN cost: training step and inference with both attentions vs the 3D ResNet baseline, same depth, clip and batch.

The baseline is :func:`tfxai.video.R3D` (3D ResNet, GAP, dense), trained with
``train_on_batch`` and sparse cross-entropy; ST-ABN (:class:`tfxai.video.STABN`)
has the same stem and stages plus the ST attention branch and the fusion conv,
trained on L_att + L_per. Inference: the baseline's forward pass (probabilities)
vs ST-ABN's one pass giving probabilities, spatial attention at input resolution
(batch, T, H, W) and temporal attention (batch, T) (``serve_attention``, what the
SavedModel serves); both inside ``tf.function``. Rounds are interleaved so load
from other processes hits all alike; medians are reported. Targets: training
step <= 1.5x, inference <= 1.2x the baseline.

    python benchmarks/st_abn.py                    # small preset: 3D ResNet-10 (width 8), 16 x 48 x 48 x 3, batch 4
    python benchmarks/st_abn.py --configs small r3d18 --rounds 10
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # run with -P: the shared timing helper beside this file
from timing import interleaved_medians  # noqa: E402

CONFIGS = {
    # name: (depth, base width, frames, size, batch, attention filters)
    "small": (10, 8, 16, 48, 4, 16),
    "r3d18": (18, 16, 16, 64, 4, 32),
}


def measure(name, rounds, classes=10):
    import tfxai  # noqa: F401  (before tensorflow: oneDNN setting)
    import keras
    import numpy as np
    import tensorflow as tf

    from tfxai.video import R3D, STABN

    depth, width, frames, size, batch, filters = CONFIGS[name]
    shape = (frames, size, size, 3)
    rng = np.random.default_rng(0)
    clips = tf.constant((rng.random((batch,) + shape) * 255).astype("float32"))
    labels = (np.arange(batch) % classes).astype("int32")
    keras.utils.set_random_seed(0)
    baseline = R3D(classes, shape, depth=depth, base_width=width)
    baseline.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    stabn = STABN(classes, shape, depth=depth, base_width=width, attention_filters=filters)
    stabn.compile(keras.optimizers.Adam(1e-3))
    forward = tf.function(lambda x: baseline(x, training=False))
    attention = tf.function(stabn.serve_attention)
    runs = {
        "R3D training step": lambda: baseline.train_on_batch(clips, labels),
        "ST-ABN training step (L_att + L_per)": lambda: stabn.train_on_batch(clips, labels),
        "R3D forward (probabilities)": lambda: forward(clips)[0, 0].numpy(),
        "ST-ABN inference (probabilities + spatial + temporal)": lambda: attention(clips)["temporal"][0, 0].numpy(),
    }
    medians = interleaved_medians(runs, rounds, warmup=2)
    info = (name, depth, width, shape, batch, baseline.count_params(), stabn.count_params())
    return medians, info


def table(results, info):
    name, depth, width, shape, batch, r3d_params, stabn_params = info
    lines = [
        f"{name}: 3D ResNet-{depth} (stage-1 width {width}), clips {shape}, batch {batch}; R3D {r3d_params:,} parameters, "
        f"ST-ABN {stabn_params:,}; CPU ({os.cpu_count()} cores), TF_ENABLE_ONEDNN_OPTS={os.environ.get('TF_ENABLE_ONEDNN_OPTS', 'unset')}",
        "",
        "| run | median ms/batch | clips/s | × baseline |",
        "|---|---:|---:|---:|",
    ]
    bases = {"training": results["R3D training step"], "inference": results["R3D forward (probabilities)"]}
    for key, value in results.items():
        base = bases["training" if "training" in key else "inference"]
        lines.append(f"| {key} | {value * 1000:.0f} | {batch / value:.1f} | {value / base:.2f} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", choices=sorted(CONFIGS), default=["small"])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    for name in args.configs:
        results, info = measure(name, args.rounds)
        print(table(results, info))
        print()


if __name__ == "__main__":
    main()

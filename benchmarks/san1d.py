"""Speed of the signal models: SAN1D vs CNN1D inference, and one 1D-SAB vs a Conv1D of the same width.

Usage::

    nice -n 5 python benchmarks/san1d.py [--batch 256] [--rounds 20] [--json results.json]

Everything is measured side by side in one process: after two warm-up calls
per candidate (tracing excluded), the candidates are timed in interleaved
rounds (A, B, C, ..., A, B, C, ...), so load from other processes hits them
alike; the table gives medians. Windows are 64 samples of 6 channels (the size
of the seglearn watch data), models at their default width (32 filters), each
call a ``tf.function``. Set ``TF_ENABLE_ONEDNN_OPTS`` before running to compare
oneDNN on/off (tfxai turns it off on AMD CPUs unless told otherwise).
"""

import argparse
import json
import os
import platform
import statistics
import time

import tfxai  # noqa: F401  (before tensorflow: oneDNN setting)

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfxai.signal import CNN1D, SAN1D, SelfAttention1D  # noqa: E402


def forward(layer):
    return tf.function(lambda x: layer(x, training=False))


def forward_with_attention(model):
    return tf.function(lambda x: model.call_with_attention(x, training=False))


def forward_backward(layer):
    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(layer(x, training=True)))
        return tape.gradient(loss, layer.trainable_variables)

    return step


def macs_sab(length, width, footprint, relation, hidden):
    """Multiply-adds of one SelfAttention1D per window, as implemented.

    phi, psi (relation each), beta (width) and W1 (hidden) once per step;
    per footprint position the second gamma layer (hidden -> width) and the
    weighted sum; the output projection (width -> width).
    """
    per_step = width * (2 * relation + width) + 2 * relation * hidden + footprint * (hidden * width + width) + width * width
    return length * per_step


def run_interleaved(candidates, rounds):
    """Median seconds per call for each ``(key, function, inputs)``, timed in interleaved rounds."""

    def call(function, inputs):
        keras.tree.map_structure(lambda t: t.numpy(), function(inputs))

    for _, function, inputs in candidates:
        call(function, inputs)
        call(function, inputs)
    times = {key: [] for key, _, _ in candidates}
    for _ in range(rounds):
        for key, function, inputs in candidates:
            started = time.perf_counter()
            call(function, inputs)
            times[key].append(time.perf_counter() - started)
    return {key: statistics.median(values) for key, values in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--window", type=int, default=64)
    parser.add_argument("--channels", type=int, default=6)
    parser.add_argument("--filters", type=int, default=32)
    parser.add_argument("--json", default=None, help="also write the numbers here")
    args = parser.parse_args()
    tf.get_logger().setLevel("ERROR")  # one tf.function per candidate: retracing warnings are expected
    rng = np.random.default_rng(0)
    windows = tf.constant(rng.normal(size=(args.batch, args.window, args.channels)).astype("float32"))
    fft_windows = tf.constant(rng.normal(size=(args.batch, args.window // 2 + 1, args.channels)).astype("float32"))
    rows, candidates = {}, []
    for name, cls, x in (
        ("SAN1D raw", SAN1D, windows),
        ("CNN1D raw", CNN1D, windows),
        ("SAN1D fft", SAN1D, fft_windows),
        ("CNN1D fft", CNN1D, fft_windows),
    ):
        keras.utils.set_random_seed(0)
        model = cls(num_classes=7, window_length=int(x.shape[1]), channels=args.channels, filters=args.filters)
        key = f"{name} inference, input {tuple(x.shape[1:])}"
        rows[key] = {"parameters": int(model.count_params())}
        candidates.append((key, forward(model), x))
        if cls is SAN1D and x is windows:
            key = f"{name} inference + attention maps (call_with_attention)"
            rows[key] = {"parameters": int(model.count_params())}
            candidates.append((key, forward_with_attention(model), x))
    features = tf.constant(rng.normal(size=(args.batch, args.window, args.filters)).astype("float32"))
    sab = SelfAttention1D(footprint=5, spacing=5)
    sab(features)
    conv = keras.layers.Conv1D(args.filters, 5, padding="same")
    conv(features)
    relation = max(1, args.filters // 4)
    for name, layer, macs in (
        ("1D-SAB (footprint 5, spacing 5)", sab, macs_sab(args.window, args.filters, 5, relation, relation)),
        ("Conv1D (kernel 5)", conv, args.window * 5 * args.filters * args.filters),
    ):
        for mode, wrap in (("forward", forward), ("forward+backward", forward_backward)):
            key = f"{name}, width {args.filters}, {mode}"
            rows[key] = {"parameters": int(layer.count_params()), "mmacs_per_window": macs / 1e6}
            candidates.append((key, wrap(layer), features))
    seconds = run_interleaved(candidates, args.rounds)
    for key, value in seconds.items():
        rows[key].update({"ms_per_batch": 1000 * value, "windows_per_s": args.batch / value})
    info = {
        "batch": args.batch,
        "rounds": args.rounds,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default"),
        "cpu": _cpu(),
        "cores": os.cpu_count(),
        "gpu": bool(tf.config.list_physical_devices("GPU")),
    }
    print(f"batch {args.batch}, median of {args.rounds} interleaved rounds; " + ", ".join(f"{k} {v}" for k, v in info.items() if k not in ("batch", "rounds")))
    print()
    print("| what | parameters | MMAC / window | ms / batch | windows / s |")
    print("|---|---:|---:|---:|---:|")
    for key, row in rows.items():
        macs = f"{row['mmacs_per_window']:.3f}" if "mmacs_per_window" in row else ""
        print(f"| {key} | {row['parameters']:,} | {macs} | {row['ms_per_batch']:.1f} | {row['windows_per_s']:,.0f} |")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"info": info, "rows": rows}, handle, indent=2)


def _cpu():
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    main()

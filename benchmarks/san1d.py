"""Speed of the signal models: SAN1D vs CNN1D inference, and one 1D-SAB vs a Conv1D of the same width.

Usage::

    nice -n 5 python benchmarks/san1d.py [--batch 256] [--rounds 20] [--json results.json]

Everything is measured side by side in one process: after two warm-up calls
per candidate (tracing excluded), the candidates are timed in interleaved
rounds (A, B, C, ..., A, B, C, ...), so load from other processes hits them
alike; the table gives medians. Windows are 64 samples of 6 channels (the size
of the seglearn watch data), models at their default width (32 filters), each
call a ``tf.function``. The 1D-SAB is also timed against its op-count floor
(:func:`sab_floor`: the same block's matmuls and element-wise passes as single
ops, neighbour stacks handed in; checked to give the layer's outputs and
gradients before timing); the last column is each row's time over that floor's. Set ``TF_ENABLE_ONEDNN_OPTS`` before running to compare
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


def sab_floor(layer, x, training):
    """The op-count floor of ``layer`` (a default 1D-SAB) at the size of ``x``: ``(function, inputs, check)``.

    The block's irreducible work as one plain ``tf.function`` on the layer's own
    weights, no Keras layer calls, on tensors prepared outside the timed call
    (``x`` time-major, the neighbour stacks):

    - pre-activation: batch-norm as one multiply-add with folded scale/shift
      (``training``: batch moments first), ReLU;
    - the six projections, each ONE matmul over all ``batch*T`` rows: phi, psi,
      beta, gamma_hidden on phi and on psi (W1 before the gather, as the layer
      does), output projection; gamma_output ONE matmul over ``batch*T*footprint`` rows;
    - the element-wise passes, one op each on ``(footprint, T, batch, D)``
      tensors: relation ``query - keys + position``, ReLU, bias, weight*value
      product, footprint sum, residual add.

    The keys' and values' neighbour stacks are handed in precomputed (from the
    same input and weights, so the floor's outputs are the layer's): forming
    them is data movement, not counted. Their projections still run (a control
    dependency keeps them). For ``training`` the function returns the gradients
    of ``mean(out**2)`` w.r.t. the layer's trainable weights; the only extra
    op in the backward pass is the transposed gather, one segment sum per
    stack (without it psi and beta would get no gradient). No moving-average
    update of the batch norm.
    """
    norm, reach = layer.input_norm, layer.reach
    length, footprint = int(x.shape[1]), layer.footprint
    rows = np.arange(length)[None, :] + np.arange(footprint)[:, None] * layer.spacing  # (footprint, T) in padded rows
    flat_rows = tf.constant(rows.reshape(-1).astype("int32"))

    def pointwise(t, kernel, bias=None):
        out = tf.matmul(tf.reshape(t, (-1, t.shape[-1])), kernel)
        out = out if bias is None else out + bias
        return tf.reshape(out, t.shape[:-1] + (kernel.shape[-1],))

    def projections(xt):
        if training:
            mean, variance = tf.nn.moments(xt, axes=[0, 1])
        else:
            mean, variance = norm.moving_mean, norm.moving_variance
        scale = norm.gamma * tf.math.rsqrt(variance + norm.epsilon)
        hidden = tf.nn.relu(xt * scale + (norm.beta - mean * scale))
        w1 = layer.gamma_hidden.kernel
        query = pointwise(pointwise(hidden, layer.phi.kernel[0], layer.phi.bias), w1, layer.gamma_hidden.bias)
        keys = pointwise(pointwise(hidden, layer.psi.kernel[0], layer.psi.bias), w1)
        return query, keys, pointwise(hidden, layer.beta.kernel[0], layer.beta.bias)

    def handed_in(source, stacked):
        @tf.custom_gradient
        def stack(source):
            def grad(upstream):
                flat = tf.reshape(upstream, (-1,) + tuple(upstream.shape[2:]))
                return tf.math.unsorted_segment_sum(flat, flat_rows, length + 2 * reach)[reach : reach + length]

            return tf.identity(stacked), grad

        return stack(source)

    def block(xt, key_stack, value_stack):
        query, keys, values = projections(xt)
        if training:
            key_stack, value_stack = handed_in(keys, key_stack), handed_in(values, value_stack)
        relation = tf.nn.relu(query - key_stack + layer.position[:, None, None])
        weights = pointwise(relation, layer.gamma_output.kernel, layer.gamma_output.bias)
        out = xt + pointwise(tf.reduce_sum(weights * value_stack, axis=0), layer.output_projection.kernel[0])
        with tf.control_dependencies([keys, values]):
            return tf.identity(out)

    xt = tf.transpose(x, (1, 0, 2))
    _, keys, values = projections(xt)
    pad = [[reach, reach], [0, 0], [0, 0]]
    stacks = tuple(tf.gather(tf.pad(t, pad), rows) for t in (keys, values))
    if not training:
        return tf.function(lambda inputs: block(*inputs)), (xt, *stacks), lambda out: tf.transpose(out, (1, 0, 2))

    @tf.function
    def step(inputs):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(block(*inputs)))
        return tape.gradient(loss, layer.trainable_variables)

    return step, (xt, *stacks), lambda grads: grads


def _check_floor(layer, wrap, floor, x):
    """The floor must compute what the layer computes (outputs, or gradients), else its time means nothing."""
    function, inputs, convert = floor
    expected = keras.tree.flatten(wrap(layer)(x))
    got = keras.tree.flatten(convert(function(inputs)))
    for a, b in zip(expected, got, strict=True):
        scale = float(tf.reduce_max(tf.abs(a))) + 1e-6
        if float(tf.reduce_max(tf.abs(a - b))) > 1e-4 * scale:
            raise SystemExit("error: the op-count floor does not compute the layer's outputs/gradients: fix sab_floor")


def run_interleaved(candidates, rounds):
    """Median seconds per call for each ``(key, function, inputs)``, timed in interleaved rounds."""

    def call(function, inputs):
        keras.tree.map_structure(lambda t: None if t is None else t.numpy(), function(inputs))

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
    sab_macs = macs_sab(args.window, args.filters, 5, relation, relation)
    for name, layer, macs in (
        ("1D-SAB (footprint 5, spacing 5)", sab, sab_macs),
        ("1D-SAB op-count floor (sab_floor)", None, sab_macs),
        ("Conv1D (kernel 5)", conv, args.window * 5 * args.filters * args.filters),
    ):
        for mode, wrap in (("forward", forward), ("forward+backward", forward_backward)):
            key = f"{name}, width {args.filters}, {mode}"
            if layer is None:
                floor = sab_floor(sab, features, training=wrap is forward_backward)
                _check_floor(sab, wrap, floor, features)
                rows[key] = {"parameters": int(sab.count_params()), "mmacs_per_window": macs / 1e6}
                candidates.append((key, floor[0], floor[1]))
                continue
            rows[key] = {"parameters": int(layer.count_params()), "mmacs_per_window": macs / 1e6}
            candidates.append((key, wrap(layer), features))
    seconds = run_interleaved(candidates, args.rounds)
    for key, value in seconds.items():
        rows[key].update({"ms_per_batch": 1000 * value, "windows_per_s": args.batch / value})
    for mode in ("forward", "forward+backward"):
        floor = rows[f"1D-SAB op-count floor (sab_floor), width {args.filters}, {mode}"]["ms_per_batch"]
        for name in ("1D-SAB (footprint 5, spacing 5)", "Conv1D (kernel 5)"):
            row = rows[f"{name}, width {args.filters}, {mode}"]
            row["x_sab_floor"] = row["ms_per_batch"] / floor
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
    print("| what | parameters | MMAC / window | ms / batch | windows / s | × 1D-SAB floor |")
    print("|---|---:|---:|---:|---:|---:|")
    for key, row in rows.items():
        macs = f"{row['mmacs_per_window']:.3f}" if "mmacs_per_window" in row else ""
        ratio = f"{row['x_sab_floor']:.2f}" if "x_sab_floor" in row else ""
        print(f"| {key} | {row['parameters']:,} | {macs} | {row['ms_per_batch']:.1f} | {row['windows_per_s']:,.0f} | {ratio} |")
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

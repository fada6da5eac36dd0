"""Every method's training step and inference with tfxai's default oneDNN setting vs the fastest safe one (issue 27).

Usage::

    nice -n 5 python -P benchmarks/onednn.py [--workloads NAME ...] [--rounds 7] [--repeats 2]

For each workload (one method at a small size, random weights and data) the
script starts child processes with ``TF_ENABLE_ONEDNN_OPTS=0`` and ``=1``,
alternating (``--repeats`` times each, so load from other processes hits both
alike). Each child imports tfxai, builds the model, warms up (tracing), then
times ``--rounds`` interleaved rounds of one training step and one inference
call (the method's own output: probabilities and, where the method serves one,
its explanation) and prints the medians as JSON. A child that dies (oneDNN's
crash is a segmentation fault) is reported as ``crash`` with its exit status.

Columns: tfxai's default (what ``import tfxai`` and every app set where the
user set nothing, see ``tfxai._runtime``), the fastest setting that did not
crash, and the ratio default / fastest for the training step and for inference
(goal <= 1.15). Both settings run with tfxai imported, so strided pointwise
convolutions are computed by subsampling in both (:mod:`tfxai._safe_conv`).
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # run with -P: the shared timing helper beside this file
from timing import interleaved_medians  # noqa: E402

WORKLOADS = {
    # name: builder function
    "classifier small_cnn 28x28x1 b32 (+Grad-CAM)": "classifier_demo",
    "classifier MobileNetV2 96x96x3 b16 (+Grad-CAM)": "classifier_mobilenet",
    "mini-Xception 64x64x1 b8 (+Grad-CAM)": "mini_xception",
    "ABN small_cnn 32x32x3 b16": "abn",
    "GAIN small_cnn 32x32x3 b16": "gain",
    "SAN1D 64x6 b256 (+attention)": "san1d",
    "CNN1D 64x6 b256": "cnn1d",
    "R3D-10 w8 16x48x48x3 b4": "r3d",
    "ST-ABN R3D-10 w8 16x48x48x3 b4 (+maps)": "stabn",
    "StarGAN v2 small 32x32x3 b8": "stargan",
    "collaborative GAN k=3 32x32x1 b64": "collab_gan",
    "target-output synthesis small_cnn 32x32x3 b16": "synthesis",
}


# --- builders: each returns {"training step": callable, "inference": callable} -------------------------------

def _images(batch, size, channels, seed=0):
    import numpy as np

    return (np.random.default_rng(seed).random((batch, size, size, channels)) * 255).astype("float32")


def _classifier(model, images, classes):
    import numpy as np

    from tfxai.explain import GradCAM

    labels = np.arange(len(images)) % classes
    model.compile("adam", "sparse_categorical_crossentropy")
    explainer = GradCAM(model)
    return {"training step": lambda: model.train_on_batch(images, labels),
            "inference": lambda: explainer(images).numpy()}


def classifier_demo():
    from tfxai.classify.backbones import build_classifier

    return _classifier(build_classifier("small_cnn", 10, (28, 28, 1), weights="none", dropout=0.2), _images(32, 28, 1), 10)


def classifier_mobilenet():
    from tfxai.classify.backbones import build_classifier

    return _classifier(build_classifier("mobilenet_v2", 5, (96, 96, 3), weights="none"), _images(16, 96, 3), 5)


def mini_xception():
    from tfxai.classify.backbones import mini_xception as build

    return _classifier(build(), _images(8, 64, 1), 7)


def abn():
    import numpy as np
    import tensorflow as tf

    from tfxai.attention import ABN

    model = ABN("small_cnn", 10, (32, 32, 3))
    model.compile(optimizer="adam")
    images, labels = _images(16, 32, 3), np.arange(16) % 10
    forward = tf.function(lambda x: model(x, training=False))
    return {"training step": lambda: model.train_on_batch(images, labels),
            "inference": lambda: [v.numpy() for v in tf.nest.flatten(forward(images))]}


def gain():
    import numpy as np
    import tensorflow as tf

    from tfxai.attention import GAIN, build_gain_classifier

    model = GAIN(build_gain_classifier("small_cnn", (32, 32, 3), 2, (64,), 0, weights=None), mining_weight=1.0)
    model.compile("adam")
    images, labels = _images(16, 32, 3), (np.arange(16) % 2).astype("float32")
    forward = tf.function(lambda x: model(x, training=False))
    return {"training step": lambda: model.train_on_batch(images, labels),
            "inference": lambda: [v.numpy() for v in tf.nest.flatten(forward(images))]}


def _signal(cls, attention):
    import numpy as np
    import tensorflow as tf

    windows = np.random.default_rng(0).standard_normal((256, 64, 6)).astype("float32")
    labels = np.arange(256) % 7
    model = cls(num_classes=7, window_length=64, channels=6)
    model.compile("adam", "sparse_categorical_crossentropy")
    if attention:
        forward = tf.function(lambda x: model.call_with_attention(x))
    else:
        forward = tf.function(lambda x: model(x, training=False))
    return {"training step": lambda: model.train_on_batch(windows, labels),
            "inference": lambda: [v.numpy() for v in tf.nest.flatten(forward(windows))]}


def san1d():
    from tfxai.signal import SAN1D

    return _signal(SAN1D, True)


def cnn1d():
    from tfxai.signal import CNN1D

    return _signal(CNN1D, False)


def _video(stabn):
    import keras
    import numpy as np
    import tensorflow as tf

    from tfxai.video import R3D, STABN

    shape = (16, 48, 48, 3)
    clips = (np.random.default_rng(0).random((4,) + shape) * 255).astype("float32")
    labels = np.arange(4) % 10
    if stabn:
        model = STABN(10, shape, depth=10, base_width=8, attention_filters=16)
        model.compile(keras.optimizers.Adam(1e-3))
        forward = tf.function(model.serve_attention)
    else:
        model = R3D(10, shape, depth=10, base_width=8)
        model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
        forward = tf.function(lambda x: model(x, training=False))
    return {"training step": lambda: model.train_on_batch(clips, labels),
            "inference": lambda: [v.numpy() for v in tf.nest.flatten(forward(clips))]}


def r3d():
    return _video(False)


def stabn():
    return _video(True)


def stargan():
    import numpy as np
    import tensorflow as tf

    from tfxai.gan import StarGANv2

    model = StarGANv2(32, 2, preset="small")
    model.compile()
    rng = np.random.default_rng(0)
    images = lambda: tf.constant(rng.uniform(0, 255, (8, 32, 32, 3)).astype("float32"))  # noqa: E731
    domains = tf.constant(np.arange(8) // 4, tf.int32)
    batch = {"images": images(), "domains": domains, "references": images(), "references2": images(),
             "reference_domains": 1 - domains, "labels": tf.where(domains == 0, tf.range(8) % 10, -1)}
    step = tf.function(model.train_step)
    latents = tf.constant(rng.standard_normal((8, model.latent_dim)).astype("float32"))
    translate = tf.function(lambda x, z: model.translate(x, 1 - domains, latents=z))
    return {"training step": lambda: [float(v) for v in step(batch).values()],
            "inference": lambda: tf.nest.map_structure(lambda v: v.numpy(), translate(batch["images"], latents))}


def collab_gan():
    import numpy as np
    import tensorflow as tf

    from tfxai.gan import CollaborativeGAN, KnowledgeTransferGraph

    model = CollaborativeGAN(3, KnowledgeTransferGraph(3), latent_dim=64, image_size=32, channels=1, filters=16)
    model.compile()
    batch = tf.constant(np.random.default_rng(0).uniform(-1, 1, (64, 32, 32, 1)), tf.float32)
    step = tf.function(model.train_step)
    noise = tf.constant(np.random.default_rng(1).standard_normal((64, 64)), tf.float32)
    generate = tf.function(lambda z: [g(z, training=False) for g in model.generators])
    return {"training step": lambda: float(step(batch)["d_loss"]),
            "inference": lambda: [v.numpy() for v in generate(noise)]}


def synthesis():
    import numpy as np

    from tfxai.classify.backbones import build_classifier
    from tfxai.synthesis import TargetOutputGenerator, own_and_other_targets

    model = build_classifier("small_cnn", 10, (32, 32, 3), weights="none")
    rng = np.random.default_rng(0)
    images = rng.uniform(0.0, 1.0, (16, 32, 32, 3)).astype("float32")
    targets, _ = own_and_other_targets(rng.integers(0, 10, 16), 10, rng=1)
    generator = TargetOutputGenerator(model, batch_size=16, optimizer="sgd", learning_rate=0.05, weight_decay=5e-4, steps=5)
    return {"training step": lambda: generator.generate(images, targets),
            "inference": lambda: model.predict_on_batch(images)}


# --- child and parent -------------------------------------------------------------------------------------

def child(builder, rounds):
    import tfxai  # noqa: F401  (before TensorFlow: the oneDNN setting is already in the environment)
    import keras

    keras.utils.set_random_seed(0)
    runs = globals()[builder]()
    medians = interleaved_medians(runs, rounds, warmup=2)
    print("RESULT " + json.dumps(medians))


def run_child(builder, setting, rounds):
    env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS=setting, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, "-P", os.path.abspath(__file__), "--child", builder, "--rounds", str(rounds)],
                          env=env, capture_output=True, text=True)
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
    return {"crash": f"exit {done.returncode}: {tail[:120]}"}


def default_setting():
    """``"0"``/``"1"``: what tfxai sets in a fresh process where the user set nothing (asked in a child)."""
    code = "import tfxai; print(tfxai.ONEDNN_SETTING)"
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    out = subprocess.run([sys.executable, "-P", "-c", code], env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def summarise(name, default, results):
    """One table row from ``{setting: [child results]}``: each setting's medians, and default / fastest setting that ran."""
    medians, crashed = {}, {}
    for setting, runs in results.items():
        good = [r for r in runs if "crash" not in r]
        if len(good) < len(runs):
            crashed[setting] = next(r["crash"] for r in runs if "crash" in r)
            continue
        medians[setting] = {key: statistics.median(r[key] for r in good) for key in good[0]}
    cells = [name]
    for key in ("training step", "inference"):
        for setting in ("0", "1"):
            cells.append(f"{medians[setting][key] * 1000:.1f}" if setting in medians else "crash")
        if default in medians:
            fastest = min(medians, key=lambda s: medians[s][key])
            cells.append(f"{medians[default][key] / medians[fastest][key]:.2f}")
        else:
            cells.append("default crashed")
    note = "; ".join(f"oneDNN={s} crashed ({why})" for s, why in crashed.items())
    return "| " + " | ".join(cells + [note]) + " |"


def cpu_model():
    """The CPU's model name from /proc/cpuinfo (the platform's machine name elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as handle:
            return next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.machine()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", nargs="+", choices=sorted(WORKLOADS.values()), default=None)
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds in each child (median)")
    parser.add_argument("--repeats", type=int, default=2, help="children per setting, alternating")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.rounds)
    import tensorflow as tf  # noqa: F401  (only for the version line; the children set oneDNN themselves)

    print(f"{cpu_model()}, {os.cpu_count()} CPUs, TF {tf.__version__}; "
          f"median of {args.rounds} rounds per child, {args.repeats} child(ren) per setting, alternating")
    default = default_setting()
    print(f"tfxai's default: TF_ENABLE_ONEDNN_OPTS={default}; × = default / fastest setting that did not crash (goal <= 1.15)\n")
    print("| workload | training ms, oneDNN off | on | × | inference ms, off | on | × | note |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for name, builder in WORKLOADS.items():
        if args.workloads and builder not in args.workloads:
            continue
        results = {"0": [], "1": []}
        for repeat in range(args.repeats):
            for setting in (("0", "1") if repeat % 2 == 0 else ("1", "0")):
                results[setting].append(run_child(builder, setting, args.rounds))
        print(summarise(name, default, results), flush=True)


if __name__ == "__main__":
    sys.exit(main())

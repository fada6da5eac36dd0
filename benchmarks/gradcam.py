"""Grad-CAM speed: tfxai vs tf-keras-vis vs the bare forward pass, side by side in one process.

MobileNetV2 (random weights: speed does not depend on them) at 224x224, batch 16,
on the CPU. Rounds are interleaved (forward, tfxai, tf-keras-vis, ...) so that
load from other processes hits all three alike; medians are reported.

    python benchmarks/gradcam.py            # with tfxai's oneDNN setting for this CPU
    python benchmarks/gradcam.py --both     # once with oneDNN off and once on, to price the hazard remedy
"""

import argparse
import os
import subprocess
import sys
import time


def measure(rounds, batch, size):
    import tfxai  # noqa: F401  (before tensorflow: oneDNN setting)
    import keras
    import numpy as np
    import tensorflow as tf
    from tf_keras_vis.gradcam import Gradcam
    from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
    from tf_keras_vis.utils.scores import CategoricalScore

    from tfxai.explain import GradCAM

    keras.utils.set_random_seed(0)
    # A flat MobileNetV2 (tf-keras-vis cannot reach layers inside nested models).
    model = keras.applications.MobileNetV2(input_shape=(size, size, 3), weights=None, classes=5)
    images = (np.random.default_rng(0).random((batch, size, size, 3)) * 255).astype("float32")
    classes = list(range(batch))
    classes = [c % 5 for c in classes]

    forward = tf.function(lambda x: model(x, training=False))
    ours = GradCAM(model)
    theirs = Gradcam(model, model_modifier=ReplaceToLinear(), clone=True)
    tensor = tf.constant(images)
    runs = {
        "bare forward pass (tf.function)": lambda: forward(tensor).numpy(),
        "tfxai GradCAM (upsampled, normalised)": lambda: ours(images, classes).numpy(),
        "tf-keras-vis Gradcam (upsampled, normalised)": lambda: theirs(CategoricalScore(classes), images, penultimate_layer="out_relu"),
    }
    for run in runs.values():  # trace / warm up
        run()
        run()
    times = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: float(np.median(t)) for name, t in times.items()}


def table(results, setting):
    base = results["bare forward pass (tf.function)"]
    ours = results["tfxai GradCAM (upsampled, normalised)"]
    lines = [f"MobileNetV2 224x224, batch 16, CPU ({os.cpu_count()} cores); TF_ENABLE_ONEDNN_OPTS={setting}",
             "| method | median s/batch | x forward | tfxai speed-up |", "|---|---:|---:|---:|"]
    for name, seconds in results.items():
        lines.append(f"| {name} | {seconds:.3f} | {seconds / base:.2f} | {seconds / ours:.1f} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--both", action="store_true", help="run with oneDNN off and on, in two processes")
    args = parser.parse_args()
    if args.both:
        for setting in ("0", "1"):
            env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS=setting)
            command = [sys.executable, "-P", __file__, "--rounds", str(args.rounds), "--batch", str(args.batch), "--size", str(args.size)]
            subprocess.run(command, env=env, check=True)
        return
    results = measure(args.rounds, args.batch, args.size)
    import tfxai

    print(table(results, os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default") if tfxai.ONEDNN_SETTING is None else tfxai.ONEDNN_SETTING))


if __name__ == "__main__":
    main()

"""Class-aware vs plain StarGAN v2 iteration, and batched style TTA vs ten separate passes.

Side by side in one process, small preset (width / 8), 32x32 RGB, 2 domains, 10 classes:

1. one training iteration (2 discriminator + 2 generator updates, latent- and
   reference-guided, EMA), plain StarGAN v2 vs class-aware (classifier C on the
   encoder, L_task + L_sem), batch 8 (4 source + 4 target), traced once, median of rounds;
2. StyleTTA with N = 10 as one traced pass (encode each image once, decode the 10 styles
   in a tf.while_loop), vs the same pass with the loop over styles unrolled in the graph
   (StyleTTA before it used tf.while_loop), vs ten separate traced generator + classifier
   passes (one per style; their summed compute), batch 32, all compiled with tf.function;
   the first call's time (tracing included) is shown too.

Run:  nice -n 10 python -P benchmarks/stargan.py [--rounds 10] [--tta-only]
"""

import argparse
import platform
import statistics
import time

import tfxai  # noqa: F401  (oneDNN setting before TensorFlow)

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfxai.gan import StarGANv2, StyleTTA  # noqa: E402


def five_layer_cnn(classes=10):
    layers = keras.layers
    return keras.Sequential([keras.Input((32, 32, 3)), layers.Rescaling(1 / 255.0),
                             layers.Conv2D(16, 3, padding="same", activation="relu"), layers.MaxPooling2D(),
                             layers.Conv2D(32, 3, padding="same", activation="relu"), layers.MaxPooling2D(),
                             layers.Conv2D(64, 3, padding="same", activation="relu"), layers.GlobalAveragePooling2D(),
                             layers.Dense(64, activation="relu"), layers.Dense(classes, activation="softmax")])


def batch(size=8, seed=0):
    rng = np.random.default_rng(seed)
    images = lambda: tf.constant(rng.uniform(0, 255, (size, 32, 32, 3)).astype("float32"))  # noqa: E731
    domains = tf.constant(np.arange(size) // (size // 2), tf.int32)
    return {"images": images(), "domains": domains, "references": images(), "references2": images(),
            "reference_domains": 1 - domains, "labels": tf.where(domains == 0, tf.range(size) % 10, -1)}


def median_time(function, rounds):
    """(median seconds per call, seconds of the first call, which traces)."""
    start = time.perf_counter()
    function()  # warm-up (tracing)
    first = time.perf_counter() - start
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), first


def unrolled_tta(tta, images, latents):
    """StyleTTA's pass with the loop over styles unrolled in the traced graph (its implementation before tf.while_loop)."""
    from tfxai.gan.stargan import to_model_range, to_pixel_range

    batch, n = latents.shape[0], latents.shape[1]
    styles = tta.mapping(tf.reshape(latents, (-1, tta.latent_dim)), tf.fill((batch * n,), tta.source_domain))
    styles = tf.reshape(styles, (batch, n, -1))
    features = tta.generator.encode(to_model_range(images))
    total = 0.0
    for i in range(n):
        total += tta.probabilities(to_pixel_range(tta.generator.decode(features, styles[:, i])))
    return total / n


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--tta-only", action="store_true", help="Skip the training-iteration comparison.")
    args = parser.parse_args()
    keras.utils.set_random_seed(0)
    data = batch()
    steps = {}
    for name, aware in (() if args.tta_only else (("plain", False), ("class-aware", True))):
        model = StarGANv2(32, 2, class_aware=aware, num_classes=10 if aware else None, preset="small")
        model.compile()
        step = tf.function(model.train_step)
        steps[name] = (model.count_params(), lambda step=step: [float(v) for v in step(data).values()])
    iteration = {name: median_time(run, args.rounds)[0] for name, (_, run) in steps.items()}

    translator = StarGANv2(32, 2, preset="small")
    classifier = five_layer_cnn()
    images = tf.constant(np.random.default_rng(1).uniform(0, 255, (32, 32, 32, 3)).astype("float32"))
    latents = tf.random.normal((32, 10, 16))
    tta = StyleTTA(classifier, translator.generator_ema, translator.mapping_ema, n=10)
    passes = {"batched (StyleTTA, tf.while_loop)": tf.function(lambda: tta(images, latents)),
              "batched, loop unrolled": tf.function(lambda: unrolled_tta(tta, images, latents))}
    one_style = tf.function(lambda z: tta.probabilities(tta.translate(images, z)))
    passes["ten separate"] = lambda: tf.add_n([one_style(latents[:, n]) for n in range(10)]) / 10.0
    tta_time = {name: median_time(lambda run=run: run().numpy(), args.rounds) for name, run in passes.items()}
    expected = passes["ten separate"]().numpy()
    for name in passes:
        np.testing.assert_allclose(passes[name]().numpy(), expected, atol=1e-5)

    print(f"machine: {platform.processor() or platform.machine()}, TF {tf.__version__}, Keras {keras.__version__}; "
          f"median of {args.rounds} rounds")
    print("| training iteration (batch 8, 32 px, small) | parameters | s / iteration | images / s | ratio |")
    print("|---|---|---|---|---|")
    for name in steps:
        print(f"| {name} | {steps[name][0]:,} | {iteration[name]:.3f} | {8 / iteration[name]:.1f} | "
              f"{iteration[name] / iteration['plain']:.2f}x |")
    print("| style TTA, N = 10 (32 images, 5-layer CNN) | first call (traces), s | s / batch | images / s | ratio |")
    print("|---|---|---|---|---|")
    separate = tta_time["ten separate"][0]
    for name, (seconds, first) in tta_time.items():
        print(f"| {name} | {first:.2f} | {seconds:.3f} | {32 / seconds:.1f} | {seconds / separate:.2f}x |")


if __name__ == "__main__":
    main()

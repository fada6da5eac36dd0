"""Cost of collaborative GANs: one training iteration with k = 3 generators vs one DCGAN iteration.

Side by side in one process: ``train_step`` (traced, warmed up) of
  * DCGAN: 1 generator, binary spectral-norm discriminator;
  * MAD-GAN: 3 generators, 4-way discriminator, generator-generator edges cut;
  * collaborative: 3 generators, 4-way discriminator, every edge Through
    (6 attention-transfer edges on every generator feature map);
at the same batch (one discriminator and one generator update per iteration;
the k-generator models feed D k times as many fake images). Rounds are
interleaved, the median reported. Target: collaborative <= 3.5x DCGAN. Then the
wall time of one gate-search trial at the small budget (build, 1 epoch on
``--trial-images`` images, IS of 3 x 500 samples under a small classifier).

Run:  nice -n 10 python -P benchmarks/collab_gan.py [--image-size 32 --filters 16 --batch 64]
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

from tfxai.gan import CollaborativeGAN, KnowledgeTransferGraph  # noqa: E402
from tfxai.gan.collaborative.training import CollabGANConfig, score_generators, train_graph  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--filters", type=int, default=16)
    parser.add_argument("--latent-dim", type=int, default=64)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=5, help="iterations timed per round")
    parser.add_argument("--trial-images", type=int, default=640)
    args = parser.parse_args()
    sizes = dict(latent_dim=args.latent_dim, image_size=args.image_size, channels=args.channels, filters=args.filters)
    models = {
        "DCGAN (k=1, binary D, SN)": CollaborativeGAN(1, **sizes),
        "MAD-GAN (k=3, 4-way D, SN)": CollaborativeGAN(3, KnowledgeTransferGraph.mad_gan(3), **sizes),
        "collaborative (k=3, all edges Through)": CollaborativeGAN(3, KnowledgeTransferGraph(3), **sizes),
    }
    batch = tf.constant(np.random.default_rng(0).uniform(-1, 1, (args.batch, args.image_size, args.image_size, args.channels)), tf.float32)
    steps = {}
    for name, model in models.items():
        model.compile()
        steps[name] = tf.function(model.train_step)
        for _ in range(2):
            steps[name](batch)  # trace and warm up
    times = {name: [] for name in models}
    for _ in range(args.rounds):
        for name, step in steps.items():
            begin = time.perf_counter()
            for _ in range(args.steps):
                out = step(batch)
            float(out["d_loss"])
            times[name].append((time.perf_counter() - begin) / args.steps)
    base = statistics.median(times["DCGAN (k=1, binary D, SN)"])
    print(f"{args.image_size}x{args.image_size}x{args.channels}, batch {args.batch}, filters {args.filters}, latent {args.latent_dim}; "
          f"median of {args.rounds} interleaved rounds of {args.steps} iterations; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, TF {tf.__version__}, Keras {keras.__version__}\n")
    print("| model | median s/iteration | × DCGAN |")
    print("|---|---:|---:|")
    for name in models:
        median = statistics.median(times[name])
        print(f"| {name} | {median:.3f} | {median / base:.2f} |")
    # one gate-search trial at the small budget
    classifier = keras.Sequential([keras.Input((args.image_size, args.image_size, args.channels)), keras.layers.Conv2D(8, 3, strides=2),
                                   keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(16, activation="relu"),
                                   keras.layers.Dense(10, activation="softmax")])
    images = np.random.default_rng(1).uniform(-1, 1, (args.trial_images, args.image_size, args.image_size, args.channels)).astype(np.float32)
    config = CollabGANConfig.from_preset("small", data="unused", epochs=1, batch_size=args.batch, image_size=args.image_size,
                                         channels=args.channels, filters=args.filters, latent_dim=args.latent_dim)
    begin = time.perf_counter()
    model, _ = train_graph(config, KnowledgeTransferGraph(3, {"G2->G1": "positive_linear"}), images)
    trained = time.perf_counter() - begin
    score_generators(model, classifier, images, 500)
    total = time.perf_counter() - begin
    print(f"\none gate-search trial ({args.trial_images} images = {args.trial_images // args.batch} iterations, 1 epoch, "
          f"then IS/FID of 3 x 500 images): {total:.1f} s wall ({trained:.1f} s building + tracing + training, "
          f"{total - trained:.1f} s scoring)")


if __name__ == "__main__":
    main()

"""Collaborative GANs on Fashion-MNIST: the thesis's Table 1 rows, small, IS/FID under an own classifier.

Tsukahara 2021 (CIFAR-10 64 px, InceptionV3 scores): DCGAN 4.57 / 25.79,
DCGAN+SN 4.77 / 21.17, MAD-GAN+SN 4.77 / 28.76, proposed+SN 5.37 / 23.77,
real images IS 8.70. CIFAR-10 and InceptionV3 weights are not available
offline here, so this runs on Fashion-MNIST (IDX files in
/usr/share/datasets/fashion-mnist/, resized to 32 px, grey) and scores with a
small CNN trained on Fashion-MNIST: its IS (at most 10 classes) and FID (its
penultimate 64 features) are NOT comparable with the thesis's numbers, only
between the rows here. Every row: same images, seed, epochs and networks.

    nice -n 10 python experiments/collaborative_gan.py --images 3200 --epochs 3 --trials 3 --batch 32
"""

import argparse
import json
import os
import platform
import sys
import time

import tfxai  # noqa: F401  (before tensorflow)

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from abn_ablation import read_idx  # noqa: E402  (the experiments' Fashion-MNIST IDX reader)
from tfxai.gan.collaborative.training import CollabGANConfig, sample_grid, score_generators, train_graph  # noqa: E402
from tfxai.gan.collaborative.graph import KnowledgeTransferGraph  # noqa: E402
from tfxai.gan.collaborative.search import best_graph, draw_graph, search_gates  # noqa: E402
from tfxai.io import write_image, write_json  # noqa: E402
from tfxai.metrics import inception_score  # noqa: E402

DATA = "/usr/share/datasets/fashion-mnist"
HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "collaborative_gan")
PAPER = {"DCGAN": (4.57, 25.79), "DCGAN+SN": (4.77, 21.17), "MAD-GAN+SN": (4.77, 28.76), "proposed+SN": (5.37, 23.77), "real images": (8.70, None)}


def load(split, count, seed):
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(f"{DATA}/{prefix}-images-idx3-ubyte.gz")
    labels = read_idx(f"{DATA}/{prefix}-labels-idx1-ubyte.gz").astype(np.int32)
    keep = np.random.default_rng(seed).permutation(len(images))[:count]
    resized = tf.image.resize(images[keep, :, :, None].astype(np.float32), (32, 32)).numpy()
    return resized / 127.5 - 1.0, labels[keep]


def train_scorer(images, labels, test_images, test_labels, epochs):
    """The small CNN that scores IS/FID: images in [-1, 1], softmax over the 10 classes, a 64-feature penultimate layer."""
    model = keras.Sequential([
        keras.Input((32, 32, 1)),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"), keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(64, 3, padding="same", activation="relu"), keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(64, 3, padding="same", activation="relu"), keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(64, activation="relu", name="features"), keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(images, labels, batch_size=128, epochs=epochs, verbose=2)
    return model, float(model.evaluate(test_images, test_labels, verbose=0)[1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=6000)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--trial-epochs", type=int, default=1)
    parser.add_argument("--score-images", type=int, default=1000)
    parser.add_argument("--scorer-epochs", type=int, default=8)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args()
    started = time.time()
    images, labels = load("train", args.images, 0)
    test_images, test_labels = load("test", 2000, 0)
    scorer, accuracy = train_scorer(images, labels, test_images, test_labels, epochs=args.scorer_epochs)
    print(f"scorer test accuracy {accuracy:.3f}", flush=True)
    base = CollabGANConfig.from_preset("small", data="unused", max_images=args.images, epochs=args.epochs,
                                   batch_size=args.batch, score_images=args.score_images)
    results = {"real images": {"is": [inception_score(test_images[: args.score_images], scorer, splits=5)[0]]}}
    # the gate search: short trials on the same images, then the best graph is trained like the other rows
    search_started = time.time()
    trial = CollabGANConfig(**{**base.to_dict(), "epochs": args.trial_epochs})

    def objective(graph):
        model, _ = train_graph(trial, graph, images)
        return float(np.mean(score_generators(model, scorer, images, 500, 0)["is"]))

    storage = os.path.join(HERE, "study.db")
    if os.path.exists(storage):
        os.remove(storage)  # a fresh study: its scores depend on this run's scorer
    study = search_gates(objective, 3, args.trials, storage, log=lambda m: print(m, flush=True))
    graph = best_graph(study, 3)
    search_seconds = time.time() - search_started
    draw_graph(graph, os.path.join(HERE, "best_graph.png"), f"best of {args.trials} trials (mean IS {study.best_value:.2f})")
    rows = {
        "DCGAN": dict(generators=1, spectral_norm=False, graph=KnowledgeTransferGraph(1)),
        "DCGAN+SN": dict(generators=1, spectral_norm=True, graph=KnowledgeTransferGraph(1)),
        "MAD-GAN+SN": dict(generators=3, spectral_norm=True, graph=KnowledgeTransferGraph.mad_gan(3)),
        "proposed+SN": dict(generators=3, spectral_norm=True, graph=graph),
    }
    timing = {}
    for name, row in rows.items():
        for seed in args.seeds:
            config = CollabGANConfig(**{**base.to_dict(), "generators": row["generators"], "spectral_norm": row["spectral_norm"], "seed": seed})
            begin = time.time()
            model, history = train_graph(config, row["graph"], images, verbose=2)
            timing[name] = time.time() - begin
            scores = score_generators(model, scorer, test_images, args.score_images, seed)
            entry = results.setdefault(name, {"is": [], "fid": [], "per_generator": [], "parameters": 0})
            entry["is"].append(float(np.mean(scores["is"])))
            entry["fid"].append(float(np.mean(scores["fid"])))
            entry["per_generator"].append(scores)
            entry["parameters"] = int(model.generators[0].count_params())
            if seed == args.seeds[0]:
                for i, samples in enumerate(model.sample(64, seed=seed)):
                    write_image(os.path.join(HERE, "samples", f"{name}_G{i + 1}.png"), sample_grid(samples))
            print(name, seed, scores, f"{timing[name]:.0f} s", flush=True)
    write_json(os.path.join(HERE, "results.json"), {
        "results": results, "graph": graph.get_config(), "search_seconds": search_seconds, "trials": args.trials,
        "row_seconds": timing, "scorer_test_accuracy": accuracy, "args": vars(args), "wall_seconds": time.time() - started,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, TF {tf.__version__}, Keras {keras.__version__}",
    })
    print(f"{'row':<14}{'IS':>14}{'FID':>14}   thesis IS / FID")
    for name, entry in results.items():
        is_ = f"{np.mean(entry['is']):.2f} ± {np.std(entry['is']):.2f}"
        fid = f"{np.mean(entry['fid']):.2f}" if entry.get("fid") else "-"
        print(f"{name:<14}{is_:>14}{fid:>14}   {PAPER[name][0]} / {PAPER[name][1]}")


if __name__ == "__main__":
    sys.exit(main())

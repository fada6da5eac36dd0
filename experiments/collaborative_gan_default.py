"""Why the default ``tfxai train collab-gan --data demo`` collapsed, and what fixes it: the collapse measure per setting.

Trains the ``small`` preset on the bundled demo data (the app's default run) with the given graphs and
attention-transfer weights alpha, several seeds, and records each generator's diversity ratio
(tfxai.gan.collaborative.collapse) and the IS/FID under the shipped demo scorer. Each run writes
``collaborative_gan_default/<graph>_a<alpha>_s<seed>.json`` and is skipped when it exists (resumable).

    nice -n 10 python experiments/collaborative_gan_default.py --threads 1 --alphas 1000 10 1 --seeds 0 1 2
"""

import argparse
import json
import os
import sys
import time

import tfxai  # noqa: F401  (before tensorflow)

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfxai.gan.collaborative.collapse import collapse_report  # noqa: E402
from tfxai.gan.collaborative.training import CollabGANConfig, load_gan_images, load_graph, load_scorer, score_generators, train_graph  # noqa: E402
from tfxai.io import write_json  # noqa: E402

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "collaborative_gan_default")


def run(graph_name, alpha, seed, scorer):
    path = os.path.join(HERE, f"{graph_name}_a{alpha:g}_s{seed}.json")
    if os.path.exists(path):
        return json.load(open(path, encoding="utf-8"))
    config = CollabGANConfig.from_preset("small", data="demo", graph=graph_name, transfer_weight=alpha, seed=seed)
    images = load_gan_images(config)
    begin = time.time()
    model, history = train_graph(config, load_graph(graph_name, config.generators), images)
    samples = model.sample(256, seed=seed)
    result = {"graph": graph_name, "alpha": alpha, "seed": seed, "seconds": time.time() - begin,
              "final": {k: float(v[-1]) for k, v in history.history.items()},
              **collapse_report(samples, images, seed=seed),
              **score_generators(model, scorer, images, config.score_images, seed, config.score_splits)}
    write_json(path, result)
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--graphs", nargs="+", default=["all-through", "mad-gan"])
    parser.add_argument("--alphas", type=float, nargs="+", default=[1000.0, 10.0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=0, help="TensorFlow intra- and inter-op threads (0: TensorFlow's choice)")
    args = parser.parse_args()
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    scorer, _ = load_scorer("demo")
    for graph_name in args.graphs:
        for alpha in (args.alphas if graph_name != "mad-gan" else args.alphas[:1]):  # MAD-GAN has no transfer edge: alpha is unused
            for seed in args.seeds:
                r = run(graph_name, alpha, seed, scorer)
                print(f"{graph_name:12s} alpha {alpha:>7g} seed {seed}: diversity {np.round(r['diversity'], 3).tolist()} "
                      f"IS {np.round(r['is'], 2).tolist()} FID {np.round(r['fid'], 1).tolist()} ({r['seconds']:.0f} s)", flush=True)


if __name__ == "__main__":
    sys.exit(main())

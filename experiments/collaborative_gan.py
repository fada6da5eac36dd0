"""Collaborative GANs on Fashion-MNIST: a gate search, then the thesis's Table 1 rows, 3 seeds, under the shipped demo scorer.

Tsukahara 2021 (CIFAR-10 64 px, InceptionV3 scores): DCGAN 4.57 / 25.79, DCGAN+SN 4.77 / 21.17,
MAD-GAN+SN 4.77 / 28.76, proposed+SN 5.37 / 23.77, real images IS 8.70. CIFAR-10 and InceptionV3
weights are not available offline, so this runs on Fashion-MNIST (IDX files of the Debian package
dataset-fashion-mnist, /usr/share/datasets/fashion-mnist/, resized to --size px grey) and scores
with tfxai's shipped demo scorer (tfxai/gan/collaborative/demo_scorer.keras): its IS (at most 10
classes) and FID (64 penultimate features) are NOT comparable with the thesis's numbers.

Resumable: the search lives in collaborative_gan/study.db (Optuna; a rerun counts the completed
trials), every row-seed run writes collaborative_gan/runs/<row>_s<seed>.json and is skipped when
it exists. Delete the folder to start afresh.

    nice -n 10 python experiments/collaborative_gan.py --threads 1
"""

import argparse
import dataclasses
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
from tfxai.gan.collaborative.collapse import collapse_report  # noqa: E402
from tfxai.gan.collaborative.graph import KnowledgeTransferGraph  # noqa: E402
from tfxai.gan.collaborative.search import best_graph, completed_trials, draw_graph, search_gates  # noqa: E402
from tfxai.gan.collaborative.training import CollabGANConfig, load_scorer, sample_grid, score_generators, train_graph  # noqa: E402
from tfxai.io import write_image, write_json  # noqa: E402
from tfxai.metrics import frechet_distance, inception_score, penultimate_features  # noqa: E402

DATA = "/usr/share/datasets/fashion-mnist"
HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "collaborative_gan")
PAPER = {"DCGAN": (4.57, 25.79), "DCGAN+SN": (4.77, 21.17), "MAD-GAN+SN": (4.77, 28.76), "proposed+SN": (5.37, 23.77)}


def load(split, count, size, seed):
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(f"{DATA}/{prefix}-images-idx3-ubyte.gz")
    keep = np.random.default_rng(seed).permutation(len(images))[:count]
    return tf.image.resize(images[keep, :, :, None].astype(np.float32), (size, size)).numpy() / 127.5 - 1.0


def score(model, scorer, test, count, seed):
    """IS/FID per generator (FID against ``count`` real test images) and the collapse measure."""
    scores = score_generators(model, scorer, test, count, seed, splits=5)
    return {**{k: [float(v) for v in vs] for k, vs in scores.items()}, **collapse_report(model.sample(256, seed=seed), test, seed=seed)}


def run_search(base, args, images, test, scorer):
    trial = dataclasses.replace(base, epochs=args.trial_epochs, seed=0)  # every trial: same data, seed and length; only the gates differ

    def objective(graph):
        begin = time.time()
        model, _ = train_graph(trial, graph, images)
        scores = score(model, scorer, test, args.trial_score_images, 0)
        print(f"  trial: IS {np.round(scores['is'], 3).tolist()} diversity {np.round(scores['diversity'], 2).tolist()} "
              f"({time.time() - begin:.0f} s)", flush=True)
        return float(np.mean(scores["is"]))  # the code's reading of the objective: the generators' mean IS

    return search_gates(objective, 3, args.trials, os.path.join(HERE, "study.db"), log=lambda m: print(m, flush=True))


def run_row(name, row, base, args, images, test, scorer, seed):
    path = os.path.join(HERE, "runs", f"{name}_e{args.epochs}_s{seed}.json")
    if os.path.exists(path):
        return json.load(open(path, encoding="utf-8"))
    config = dataclasses.replace(base, generators=row["generators"], spectral_norm=row["spectral_norm"], seed=seed)
    begin = time.time()
    model, history = train_graph(config, row["graph"], images)
    result = {"row": name, "seed": seed, "epochs": args.epochs, "seconds": time.time() - begin, "parameters_per_generator": int(model.generators[0].count_params()),
              "final": {k: float(v[-1]) for k, v in history.history.items()}, **score(model, scorer, test, args.score_images, seed)}
    if seed == args.seeds[0]:
        for i, samples in enumerate(model.sample(64, seed=seed)):
            write_image(os.path.join(HERE, "samples", f"{name}_e{args.epochs}_G{i + 1}.png"), sample_grid(samples))
    write_json(path, result)
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=16)
    parser.add_argument("--images", type=int, default=6000)
    parser.add_argument("--filters", type=int, default=16)
    parser.add_argument("--latent", type=int, default=32)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--trial-epochs", type=int, default=3)
    parser.add_argument("--trial-score-images", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--score-images", type=int, default=1000)
    parser.add_argument("--transfer-weight", type=float, default=None, help="alpha (default: the small preset's)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=0, help="TensorFlow intra- and inter-op threads (0: TensorFlow's choice)")
    parser.add_argument("--skip-search", action="store_true", help="rows only, with the best graph of the stored study")
    parser.add_argument("--report", action="store_true", help="only print the tables of the runs stored so far (trains nothing)")
    parser.add_argument("--recheck-seeds", type=int, nargs="*", default=[],
                        help="after the rows: retrain the best, all-through and MAD-GAN graphs at trial length with these seeds "
                             "(is the best trial's lead larger than a reseed's change?)")
    args = parser.parse_args()
    if args.report:
        return report()
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    started = time.time()
    os.makedirs(HERE, exist_ok=True)
    images, test = load("train", args.images, args.size, 0), load("test", args.score_images, args.size, 0)
    scorer, scorer_name = load_scorer("demo")
    options = dict(data="unused", image_size=args.size, channels=1, filters=args.filters, latent_dim=args.latent, batch_size=args.batch,
                   epochs=args.epochs, max_images=args.images)
    if args.transfer_weight is not None:
        options["transfer_weight"] = args.transfer_weight
    base = CollabGANConfig.from_preset("small", **options)
    reference = {"is_real_test": inception_score(test, scorer, splits=5)[0],
                 "fid_real_train_vs_test": frechet_distance(test, images[: args.score_images], penultimate_features(scorer))}
    print(f"real test images: IS {reference['is_real_test']:.2f}; FID train vs test {reference['fid_real_train_vs_test']:.2f}", flush=True)
    search_started = time.time()
    study = run_search(base, args, images, test, scorer) if not args.skip_search else search_gates(None, 3, 0, os.path.join(HERE, "study.db"))
    search_seconds = time.time() - search_started
    graph = best_graph(study, 3)
    values = [t.value for t in completed_trials(study)]
    draw_graph(graph, os.path.join(HERE, "best_graph.png"), f"best of {len(values)} trials (mean IS {study.best_value:.2f})")
    recheck = {"best": graph, "all-through": KnowledgeTransferGraph(3), "mad-gan": KnowledgeTransferGraph.mad_gan(3)}
    for seed in args.recheck_seeds:
        for name, g in recheck.items():
            path = os.path.join(HERE, "recheck", f"{name}_s{seed}.json")
            if not os.path.exists(path):
                model, _ = train_graph(dataclasses.replace(base, epochs=args.trial_epochs, seed=seed), g, images)
                write_json(path, {"graph": name, "seed": seed, **score(model, scorer, test, args.trial_score_images, seed)})
            print(f"recheck {name} seed {seed}: mean IS {np.mean(json.load(open(path, encoding='utf-8'))['is']):.4f}", flush=True)
    rows = {
        "DCGAN": dict(generators=1, spectral_norm=False, graph=KnowledgeTransferGraph(1)),
        "DCGAN+SN": dict(generators=1, spectral_norm=True, graph=KnowledgeTransferGraph(1)),
        "MAD-GAN+SN": dict(generators=3, spectral_norm=True, graph=KnowledgeTransferGraph.mad_gan(3)),
        "proposed+SN": dict(generators=3, spectral_norm=True, graph=graph),
    }
    results = {}
    for seed in args.seeds:  # seed-major: a cut-short run has every row at the first seeds
        for name, row in rows.items():
            r = run_row(name, row, base, args, images, test, scorer, seed)
            results.setdefault(name, []).append(r)
            print(f"{name} seed {seed}: IS {np.round(r['is'], 2).tolist()} FID {np.round(r['fid'], 1).tolist()} "
                  f"diversity {np.round(r['diversity'], 2).tolist()} ({r['seconds']:.0f} s)", flush=True)
    summary = {name: {"is_mean": float(np.mean([np.mean(r["is"]) for r in rs])), "is_std": float(np.std([np.mean(r["is"]) for r in rs])),
                      "fid_mean": float(np.mean([np.mean(r["fid"]) for r in rs])), "fid_std": float(np.std([np.mean(r["fid"]) for r in rs])),
                      "seeds": [r["seed"] for r in rs], "seconds": [r["seconds"] for r in rs]} for name, rs in results.items()}
    write_json(os.path.join(HERE, f"results_e{args.epochs}.json"), {
        "summary": summary, "reference": reference, "graph": graph.get_config(), "trial_values": values, "search_seconds": search_seconds,
        "scored_with": scorer_name, "args": vars(args), "config": base.to_dict(), "wall_seconds_this_invocation": time.time() - started,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, TF {tf.__version__}, Keras {keras.__version__}",
    })
    print(f"trials: {len(values)}, mean IS min {min(values):.3f} median {np.median(values):.3f} max {max(values):.3f}")
    print(f"{'row':<14}{'IS (mean ± std over seeds)':>30}{'FID':>22}   thesis IS / FID")
    for name, s in summary.items():
        print(f"{name:<14}{s['is_mean']:>22.3f} ± {s['is_std']:.3f}{s['fid_mean']:>14.2f} ± {s['fid_std']:.2f}   {PAPER[name][0]} / {PAPER[name][1]}")


def report():
    """The search's trial values and the rows' mean ± std over the seeds stored in runs/ (a cut-short run included)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name="gates", storage=f"sqlite:///{os.path.join(HERE, 'study.db')}")
    values = np.array([t.value for t in completed_trials(study)])
    print(f"search: {len(values)} completed trials, mean IS min {values.min():.4f} median {np.median(values):.4f} "
          f"max {values.max():.4f} std {values.std():.4f}")
    for cut in range(4):  # how the trials' mean IS depends on how many generators lost their D edge (gate cutoff)
        group = [t.value for t in completed_trials(study) if sum(t.params[f"D->G{i}"] == "cutoff" for i in (1, 2, 3)) == cut]
        if group:
            print(f"  trials with {cut} D edge(s) cut: {len(group)}, mean IS {np.mean(group):.4f} ± {np.std(group):.4f}")
    with open(os.path.join(HERE, "trials.csv"), "w", encoding="utf-8") as handle:  # the study's record beside the git-ignored study.db
        names = sorted(completed_trials(study)[0].params)
        handle.write(",".join(["trial", "mean_is", *names]) + "\n")
        for t in completed_trials(study):
            handle.write(",".join([str(t.number + 1), f"{t.value:.6g}", *[t.params[n] for n in names]]) + "\n")
    best = study.best_trial
    print(f"  best trial {best.number + 1}: {best.value:.4f}, gates {best.params}")
    folder = os.path.join(HERE, "runs")
    runs = [json.load(open(os.path.join(folder, f), encoding="utf-8")) for f in sorted(os.listdir(folder))] if os.path.isdir(folder) else []
    print("| row | epochs | seeds | IS (mean ± std over seeds) | FID (mean ± std) | diversity (min over generators and seeds) | s per run | thesis IS / FID |")
    print("|---|---|---|---|---|---|---|---|")
    for epochs in sorted({r["epochs"] for r in runs}):
        for name in PAPER:
            rs = [r for r in runs if r["row"] == name and r["epochs"] == epochs]
            if not rs:
                continue
            is_, fid = [np.mean(r["is"]) for r in rs], [np.mean(r["fid"]) for r in rs]
            print(f"| {name} | {epochs} | {', '.join(str(r['seed']) for r in rs)} | {np.mean(is_):.3f} ± {np.std(is_):.3f} | {np.mean(fid):.2f} ± {np.std(fid):.2f} "
                  f"| {min(min(r['diversity']) for r in rs):.2f} | {np.mean([r['seconds'] for r in rs]):.0f} | {PAPER[name][0]} / {PAPER[name][1]} |")
    folder = os.path.join(HERE, "recheck")
    for f in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        r = json.load(open(os.path.join(folder, f), encoding="utf-8"))
        print(f"recheck {r['graph']} seed {r['seed']}: mean IS {np.mean(r['is']):.4f} diversity {np.round(r['diversity'], 2).tolist()}")
    for r in runs:
        print(r["row"], r["epochs"], r["seed"], "IS", np.round(r["is"], 3).tolist(), "FID", np.round(r["fid"], 2).tolist(), "diversity", np.round(r["diversity"], 2).tolist())


if __name__ == "__main__":
    sys.exit(main())

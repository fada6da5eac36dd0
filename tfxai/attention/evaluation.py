"""Insertion/deletion evaluation of attention maps from any explainer (what ``tfxai evaluate attention`` runs).

``evaluate_attention(config)`` loads a model (ABN, GAIN, or a plain Keras
classifier explained with Grad-CAM / Grad-CAM++ / CAM), computes the maps of
labelled images, runs insertion/deletion (:mod:`tfxai.metrics.insertion_deletion`)
in the chosen modes and writes ``curves.png``, ``curves.csv``, ``results.csv``,
``results.md`` and ``results.json``. The images are streamed a chunk at a time
with running sums only; the report is built in ``<out>.partial/`` (resumable,
as :mod:`tfxai.explain.streaming`) and moved onto ``out`` when complete.
"""

import csv
import dataclasses
import io
import os
import shutil

import numpy as np

from tfxai.errors import TfxaiError, plural
from tfxai.explain.streaming import PROGRESS
from tfxai.io import check_output_folder, load_model, write_json, write_text
from tfxai.io.files import replace_directory
from tfxai.metrics.insertion_deletion import as_class_probabilities
from tfxai.training.config import TaskOptions

__all__ = ["EvaluateAttentionConfig", "MAP_SOURCES", "attention_source", "evaluate_attention", "plot_curves", "topk_accuracy", "topk_hits"]

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
    return topk_hits(probabilities, labels, k) / len(probabilities)


def topk_hits(probabilities, labels, k):
    """How many rows have their true label among the ``k`` highest probabilities (see :func:`topk_accuracy`)."""
    probabilities = as_class_probabilities(probabilities)
    k = min(k, probabilities.shape[-1])
    top = np.argsort(-probabilities, axis=-1, kind="stable")[:, :k]
    return int(np.sum(np.any(top == np.asarray(labels)[:, None], axis=-1)))


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


def evaluate_attention(config, log=print, progress=None, on_chunk=None):
    """Evaluate a model's maps with insertion/deletion and write the report; returns the results dict.

    The images are read, explained and scored a chunk at a time (decoded ahead
    in threads), keeping only running sums (:class:`InsertionDeletionSums`),
    so memory does not grow with ``--limit``. The sums are saved after each
    chunk in ``<out>.partial/progress.json``: rerunning with the same options
    continues after the last complete chunk, other options start afresh.

    Parameters
    ----------
    progress : callable or None
        ``progress(total, initial)`` -> a tqdm-like bar (``update(n)``, ``close()``), or None.
    on_chunk : callable or None
        Called with the number of images done after each chunk is saved (and at the start of a resumed run).
    """
    from tfxai.explain.streaming import file_signature, fingerprint, partial_folder, resume_state

    modes = tuple(config.modes)
    if not modes or any(mode not in ("threshold", "rise") for mode in modes):
        raise TfxaiError(f"modes must be threshold and/or rise, got {list(modes)}")
    if config.thresholds < 2:
        raise TfxaiError(f"--thresholds needs at least 2 points, got {config.thresholds}")
    if config.limit is not None and config.limit < 1:
        raise TfxaiError(f"--limit must be at least 1 image, got {config.limit}")
    out = check_output_folder(config.out, config.overwrite)
    model, class_names = load_model(config.model)
    height, width, channels = _input_shape(model)
    if height != width:
        raise TfxaiError(f"the model takes {height}x{width} images; only square inputs are supported here")
    data = _labelled_stream(config.data, height, config.channels or channels, config.limit, config.seed)
    labels = _model_labels(data, class_names)
    class_names = class_names or data.class_names
    source = attention_source(model, config.method)
    sums = {mode: _sums(config, mode) for mode in modes}
    partial = partial_folder(out)
    key = fingerprint(model=file_signature(config.model), data=data.sources, method=config.method, modes=modes,
                      thresholds=config.thresholds, step=config.step, batch_size=config.batch_size, normalize=config.normalize,
                      channels=config.channels, class_names=class_names)
    state = resume_state(partial, key, log, fresh={"top1": 0, "top5": 0, "classes": 0, "converted": {}, "sums": {}})
    for mode, saved in state["sums"].items():
        sums[mode].load_state(saved)
    if state["done"]:
        log(f"continuing the unfinished evaluation in {partial} after {plural(state['done'], 'image')} of {len(labels)}")
        if on_chunk is not None:
            on_chunk(state["done"])
    log(f"evaluating {plural(len(labels), 'image')} ({config.method}; {' and '.join(modes)} insertion/deletion)")
    _evaluate_chunks(model, source, data, labels, sums, state, partial, config, progress, on_chunk)
    from tfxai.explain.streaming import note_conversions

    note_conversions(state["converted"], config.channels or channels)
    results = {mode: accumulated.result() for mode, accumulated in sums.items()}
    summary = {
        "model": os.fspath(config.model),
        "method": config.method,
        "images": int(state["done"]),
        "top1": state["top1"] / state["done"],
        # top-5 of 5 classes or fewer is always 1: not reported
        "top5": state["top5"] / state["done"] if state["classes"] > 5 else None,
        "results": {mode: result.to_dict() for mode, result in results.items()},
    }
    plot_curves(results, os.path.join(partial, "curves.png"), f"{os.path.basename(os.fspath(config.model))} ({config.method})")
    write_text(os.path.join(partial, "curves.csv"), _curves_csv(results))
    write_text(os.path.join(partial, "results.csv"), _results_csv(summary, results))
    write_text(os.path.join(partial, "results.md"), _results_markdown(summary, results))
    write_json(os.path.join(partial, "results.json"), summary)
    os.remove(os.path.join(partial, PROGRESS))
    replace_directory(partial, out)
    return summary


def _sums(config, mode):
    from tfxai.metrics.insertion_deletion import InsertionDeletionSums

    thresholds = np.linspace(0.0, 1.0, config.thresholds)
    return InsertionDeletionSums(mode, thresholds=thresholds, step=config.step, batch_size=config.batch_size, normalize=config.normalize)


def _evaluate_chunks(model, source, data, labels, sums, state, partial, config, progress, on_chunk):
    """Explain and score the images after ``state["done"]`` chunk by chunk, saving the sums in ``partial`` after each."""
    from tfxai.explain.protocol import explain_in_batches
    from tfxai.explain.streaming import save_state

    def predict(batch):
        return np.asarray(model(batch, training=False))

    os.makedirs(partial, exist_ok=True)
    bar = progress(len(labels), state["done"]) if progress is not None else None
    try:
        for first, images, converted in data.chunks(state["done"], _chunk(config.batch_size)):
            images = images.astype(np.float32)
            chunk_labels = labels[first:first + len(images)]
            maps, probabilities = explain_in_batches(source, images, config.batch_size)
            for mode, accumulated in sums.items():
                accumulated.update(predict, images, chunk_labels, maps)
            state["classes"] = int(as_class_probabilities(probabilities).shape[-1])
            state["top1"] += topk_hits(probabilities, chunk_labels, 1)
            state["top5"] += topk_hits(probabilities, chunk_labels, 5)
            for channel_count, count in converted.items():
                state["converted"][str(channel_count)] = state["converted"].get(str(channel_count), 0) + count
            state.update(done=first + len(images), sums={mode: accumulated.state() for mode, accumulated in sums.items()})
            save_state(partial, state)
            if bar is not None:
                bar.update(len(images))
            if on_chunk is not None:
                on_chunk(state["done"])
    except BaseException:
        if not state["done"]:  # nothing worth keeping: leave no trace
            shutil.rmtree(partial, ignore_errors=True)
        raise
    finally:
        if bar is not None:
            bar.close()


def _chunk(batch_size):
    """Images per chunk: streaming's chunk rounded up to whole batches (so the model sees the batches of one big array)."""
    from tfxai.explain.streaming import CHUNK

    return batch_size * -(-CHUNK // batch_size)


@dataclasses.dataclass
class _LabelledStream:
    """The labelled images to evaluate, not yet read: ``chunks(start, size)`` yields ``(first, uint8 images, converted)``."""

    labels: np.ndarray
    class_names: list
    sources: list
    chunks: object


def _labelled_stream(data, size, channels, limit, seed):
    """A folder's (or the demo's test split's) labelled images, the ``limit`` sample of ``seed`` in file order."""
    from tfxai.data.labelled import DEMO, load_labelled_images

    if data == DEMO:  # bundled and small: held in memory
        demo = load_labelled_images(data, size, channels, split="test")
        picks = _sample(len(demo.labels), limit, seed)
        images = demo.images if picks is None else demo.images[picks]

        def slices(start, chunk):
            return ((first, images[first:first + chunk], {}) for first in range(start, len(images), chunk))

        demo = demo if picks is None else demo.subset(picks)
        return _LabelledStream(demo.labels, demo.class_names, list(demo.sources), slices)
    from tfxai.data.image_folder import scan_image_folder
    from tfxai.explain.streaming import chunks_ahead

    if not data:
        raise TfxaiError("no data given: pass --data FOLDER (one sub-folder per class) or --data demo")
    folder = scan_image_folder(data)
    picks = _sample(len(folder.labels), limit, seed)
    paths = folder.paths if picks is None else [folder.paths[i] for i in picks]
    labels = folder.labels if picks is None else folder.labels[picks]

    def chunks(start, chunk):
        return chunks_ahead(paths, start, (size, size), channels, chunk)

    return _LabelledStream(labels, folder.class_names, paths, chunks)


def _sample(count, limit, seed):
    """Sorted indices of ``limit`` of ``count`` items drawn with ``seed`` (None: all of them)."""
    if not limit or count <= limit:
        return None
    return np.sort(np.random.default_rng(seed).choice(count, limit, replace=False))


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

"""What the ``tfxai generate`` and ``tfxai train mixed`` apps do, as library calls on config dataclasses."""

import csv
import dataclasses
import io
import os
import shutil
import tempfile
from typing import Optional

import keras
import numpy as np

from tfxai.training.augmentation import AUGMENTATIONS, augmentation_name, resolve_augmentation
from tfxai.training.batchnorm import BatchNormStatistics
from tfxai.training.config import RunOptions, TaskOptions, option
from tfxai.training.fit import check_learning_rate, fit
from tfxai.training.determinism import seed_everything
from tfxai.errors import TfxaiError
from tfxai.io import check_output_folder, staged_directory, write_json
from tfxai.io import load_model as read_model
from tfxai.training.resume import backup_folder, remove_backup
from tfxai.synthesis.generator import TargetOutputGenerator, kl_divergence
from tfxai.data.float_images import LabelledImageFiles, load_labelled_data, read_image_folder, read_rows, to_uint8, write_png
from tfxai.synthesis.mixed import build_mixed_dataset, flip_and_crop, labelled_dataset
from tfxai.synthesis.model import MixedTargetModel
from tfxai.synthesis.targets import format_distribution, load_class_names, parse_target
from tfxai.io.export import export_saved_model
from tfxai.training import early_stopping_callbacks, write_run_files
from tfxai.training.result import RunResult, run_result

MIXED_AUGMENTATIONS = (*AUGMENTATIONS, "flip_crop")  # tfxai.training.augmentation's choices and the old name of flip+shift


@dataclasses.dataclass(kw_only=True)
class GenerateConfig(TaskOptions):
    """Options of ``tfxai generate``: drive images in a folder to one target distribution.

    ``out`` is required; ``seed`` is not used (the generation draws nothing at random: it starts from the given images).
    """

    model: str
    images: str
    target: str
    out: str
    classes: str = None
    optimizer: str = "momentum"
    steps: int = 300
    learning_rate: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    tolerance: float = 0.01
    low_pass_radius: float = None
    scale: float = None  # None: 255 for models tfxai built (they take [0, 255] pixels), else 1
    mean: tuple = None
    std: tuple = None
    from_logits: bool = False
    batch_size: int = 256


@dataclasses.dataclass
class TrainMixedConfig(RunOptions):
    """Options of ``tfxai train mixed``: replace part of a training set by generated images and train on it.

    ``mean`` and ``std`` (one value or one per channel) are set by the app from
    its ``--mean``/``--std`` text; ``augment`` also takes ``flip_crop``, the old
    name of ``flip+shift``, from Python.
    """

    data: str = option("", "Training data: .npz (x, y) or a folder of class subfolders.", required=True)
    teacher: str = option("", "Trained classifier (.keras) used to generate.", required=True)
    out: str = option("", "Output folder (model.keras, class_names.json, history.csv, metrics.json, saved_model/, summary.json).",
                      required=True)
    fraction: float = option(0.3, "Share of training images replaced by generated ones.")
    student: Optional[str] = option(None, "Initial student model (.keras); default: the teacher's architecture, freshly initialised.")
    validation: Optional[str] = option(None, "Validation data (.npz or class folders).")
    validation_split: float = option(0.1, "Held out from --data when --validation is not given.")
    epochs: int = option(10, "Training epochs.", minimum=1)
    batch_size: int = option(64, "Samples per batch.", minimum=1)
    learning_rate: float = option(1e-3, "Adam learning rate.")
    augment: str = option("shift", "Random changes of training images: none, shift (random crops after padding by --crop-padding "
                          "pixels), flip (left-right mirror) or flip+shift. Default: shift. Never flips by default (a mirrored digit or letter can "
                          "be another class). metrics.json records the choice.", choices=AUGMENTATIONS)
    augment_generated: bool = option(False, "Also augment generated images (their stored teacher output then no longer matches).",
                                     flag="--augment-generated/--no-augment-generated")
    crop_padding: int = option(2, "Padding in pixels of --augment's shifts and crops.", minimum=0)
    own_probability: float = option(0.9, "Target of the own class (other class: 1 - this).")
    kl_weight: float = option(0.5, "Weight of KL(q||p) in eq. 9 (CE gets 1 - this).")
    generation_optimizer: str = option("sgd", "Optimizer of the image updates.", choices=("sgd", "momentum"))
    generation_steps: int = option(100, "Image updates per generated image.", minimum=1)
    generation_learning_rate: float = option(0.05, "Learning rate of the image updates (the paper's 0.05; a model fed [0, 255] "
                                             "pixels may need 1-5, see docs/synthesis.md).")
    scale: float = option(1.0, "Multiply [0,1] pixels by this before the models.")
    mean: Optional[tuple] = None
    std: Optional[tuple] = None
    early_stopping: int = option(0, "Stop when validation accuracy has not improved for PATIENCE epochs and restore the best "
                                 "epoch's weights (0: off).", minimum=0, metavar="PATIENCE")
    export: bool = option(True, "Do not write the SavedModel.", flag="--no-export")


def make_preprocessing(scale=1.0, mean=None, std=None, channels=None):
    """``x * scale``, then ``(x - mean) / std`` per channel; None when it is the identity.

    ``mean`` and ``std`` hold one value, or one per channel (``channels``).
    """
    for name, values in (("--mean", mean), ("--std", std)):
        count = None if values is None else np.size(values)
        if count is not None and channels is not None and count not in (1, channels):
            raise TfxaiError(f"{name} has {count} values but the model takes {channels} channels: give 1 or {channels}")
    layers = []
    if float(scale) != 1.0:
        layers.append(keras.layers.Rescaling(float(scale)))
    if mean is not None or std is not None:
        mean = np.asarray(mean if mean is not None else [0.0], dtype="float32")
        std = np.asarray(std if std is not None else [1.0], dtype="float32")
        if np.any(std <= 0):
            raise TfxaiError(f"--std must be positive, got {std.tolist()}")
        layers.append(keras.layers.Normalization(mean=mean, variance=std**2))
    if not layers:
        return None
    return layers[0] if len(layers) == 1 else keras.Sequential(layers)


def _check_labelled(images, labels, shape, num_classes, what):
    """The teacher's image size and channels, labels among its classes, finite pixels (decoded 8-bit files always are)."""
    height, width, channels = shape
    if images.shape[-1] != channels:
        raise TfxaiError(f"{what} images have {images.shape[-1]} channels but the teacher takes {channels}")
    if (height and images.shape[1] != height) or (width and images.shape[2] != width):
        raise TfxaiError(
            f"{what} images are {images.shape[1]}x{images.shape[2]} but the teacher takes {height}x{width}: resize them"
        )
    if labels.min() < 0 or labels.max() >= num_classes:
        raise TfxaiError(
            f"{what} labels range from {labels.min()} to {labels.max()} but the teacher has {num_classes} classes: "
            "use labels 0..K-1 of the teacher's classes"
        )
    if not isinstance(images, LabelledImageFiles) and not np.all(np.isfinite(images)):
        raise TfxaiError(f"{what} images contain NaN or infinite pixels: fix the data")


def _check_probabilities(classifier, images, preprocessing=None):
    """Generation and eq. 9 need probabilities: reject a classifier that outputs logits."""
    batch = images if preprocessing is None else preprocessing(images)
    outputs = np.asarray(classifier(batch, training=False), np.float64)
    if outputs.min() < -1e-6 or outputs.max() > 1 + 1e-6 or np.abs(outputs.sum(axis=-1) - 1).max() > 1e-3:
        raise TfxaiError(
            "the teacher does not output probabilities (rows must be in [0, 1] and sum to 1): "
            "end it with a softmax layer"
        )


def load_model(path, what="model"):
    """A model from a ``.keras``/``.h5`` file or a run folder (:func:`tfxai.io.load_model`, the apps' one model reader)."""
    if not path or not os.path.exists(path):
        raise TfxaiError(f"{what} {path} not found: pass a .keras or .h5 file or the folder written by 'tfxai train'")
    return read_model(path)[0]


def _input_shape(model):
    try:
        shape = tuple(model.inputs[0].shape[1:])
    except (AttributeError, IndexError, TypeError, ValueError):
        raise TfxaiError("the model has no known input shape: save a functional or Sequential model") from None
    if len(shape) != 3 or shape[-1] not in (1, 3):
        raise TfxaiError(f"the model takes inputs of shape {shape}: an image classifier (h, w, 1 or 3) is needed")
    return shape


def run_generate(config, progress=None):
    """Generate one image per image in ``config.images`` and write PNGs + ``results.csv`` to ``config.out``.

    The achieved output and KL in the CSV are the classifier's on the saved
    8-bit PNG. Returns a summary dict (also written as ``summary.json``).
    """
    check_learning_rate(config.learning_rate)
    model = load_model(config.model)
    scale, scale_source = pixel_scale(model, config.scale)
    height, width, channels = _input_shape(model)
    size = None if height is None or width is None else (height, width)
    generator = TargetOutputGenerator(
        model,
        optimizer=config.optimizer,
        learning_rate=config.learning_rate,
        momentum=config.momentum,
        weight_decay=config.weight_decay,
        steps=config.steps,
        tolerance=config.tolerance,
        low_pass_radius=config.low_pass_radius,
        preprocessing=make_preprocessing(scale, config.mean, config.std, channels),
        from_logits=config.from_logits,
        batch_size=config.batch_size,
    )
    names = load_class_names(config.classes, config.model, generator.num_classes())
    target = parse_target(config.target, names)
    images, files = read_image_folder(config.images, size, channels)
    with staged_directory(config.out, overwrite=config.overwrite) as staging:
        result = generator.generate(images, target, progress=progress)
        saved = to_uint8(result.images).astype("float32") / 255.0
        outputs = generator.predict(saved)
        kl = np.asarray(kl_divergence(result.targets, np.log(np.maximum(outputs, 1e-30))))
        top2 = _top_k_match(outputs, result.targets, 2)
        rows = io.StringIO()
        writer = csv.writer(rows)
        writer.writerow(["file", "source", "target", "output", "kl", "top2_match", "steps"] + [f"p_{n}" for n in names])
        for i, source in enumerate(files):
            name = os.path.splitext(source)[0] + ".png"
            write_png(os.path.join(staging, name), result.images[i])
            writer.writerow(
                [name, source, format_distribution(target, names), format_distribution(outputs[i], names, top=3),
                 f"{kl[i]:.6f}", int(top2[i]), int(result.steps[i])] + [f"{p:.6f}" for p in outputs[i]]
            )
        with open(os.path.join(staging, "results.csv"), "w", encoding="utf-8", newline="") as handle:
            handle.write(rows.getvalue())
        summary = {
            "images": len(files),
            "target": format_distribution(target, names),
            "mean_kl": float(np.mean(kl)),
            "median_kl": float(np.median(kl)),
            "top2_match_rate": float(np.mean(top2)),
            "mean_steps": float(np.mean(result.steps)),
            "scale": scale,
            "scale_source": scale_source,
            "config": dataclasses.asdict(config),
        }
        write_json(os.path.join(staging, "summary.json"), summary)
    remove_backup(config.out)
    return summary


def pixel_scale(model, scale=None):
    """``(scale, source)``: the factor taking [0, 1] pixels to the model's input range, and where it came from.

    An explicit ``scale`` wins; else a model tfxai built (its preprocessing
    layer, :func:`tfxai.classify.backbones.input_pixel_scale`) takes [0, 255] pixels; else 1.
    """
    from tfxai.classify.backbones import input_pixel_scale

    if scale is not None:
        return float(scale), "--scale"
    found = input_pixel_scale(model)
    if found is not None:
        return found, "the model's preprocessing layer (it takes [0, 255] pixels)"
    return 1.0, "default: the model has no tfxai preprocessing layer, so [0, 1] pixels are assumed"


def _top_k_match(outputs, targets, k):
    return np.all(
        np.argsort(-outputs, axis=1, kind="stable")[:, :k] == np.argsort(-targets, axis=1, kind="stable")[:, :k], axis=1
    )


def _split(images, labels, fraction, seed):
    order = np.random.default_rng([seed, 2]).permutation(len(images))
    count = int(round(float(fraction) * len(images)))
    held, kept = order[:count], order[count:]
    return images[kept], labels[kept], images[held], labels[held]  # LabelledImageFiles index like the array


def run_train_mixed(config, progress=None, verbose="auto") -> RunResult:
    """Replace ``config.fraction`` of the training images by generated ones and train a student on them.

    Writes the standard run folder (:func:`tfxai.training.write_run_files`:
    ``model.keras`` -- the trained student --, ``class_names.json``,
    ``history.csv``, ``metrics.json``), ``saved_model/`` unless not
    ``config.export``, and ``summary.json`` (the generation's numbers) into ``config.out``.
    Returns the summary dict.
    """
    check_learning_rate(config.learning_rate)
    check_learning_rate(config.generation_learning_rate, "--generation-learning-rate")
    if not 0.0 <= config.validation_split < 1.0:
        raise TfxaiError(f"--validation-split must be in [0, 1), got {config.validation_split}")
    if config.augment not in MIXED_AUGMENTATIONS:
        raise TfxaiError(f"unknown augmentation {config.augment!r}: choose one of {', '.join(MIXED_AUGMENTATIONS)}")
    if not 0.0 <= config.fraction <= 1.0:
        raise TfxaiError(f"--fraction must be between 0 and 1, got {config.fraction}")
    if config.early_stopping and not config.validation and config.validation_split <= 0:
        raise TfxaiError("--early-stopping watches validation accuracy: pass --validation or a --validation-split above 0")
    check_output_folder(config.out, config.overwrite)
    seed_everything(config.seed)  # the same weights bit for bit for the same --seed
    teacher = load_model(config.teacher, "teacher model")
    height, width, channels = _input_shape(teacher)
    size = None if height is None or width is None else (height, width)
    num_classes = int(teacher.outputs[0].shape[-1])
    images, labels, names = load_labelled_data(config.data, size, channels, stream=True)  # a folder stays files
    _check_labelled(images, labels, (height, width, channels), num_classes, "training")
    names = load_class_names(None, config.teacher, num_classes) if names is None else names
    if len(names) != num_classes:
        raise TfxaiError(f"the data has {len(names)} classes but the teacher outputs {num_classes}: use a teacher trained on these classes")
    if config.validation:
        val_images, val_labels, _ = load_labelled_data(config.validation, size, channels, stream=True)
        _check_labelled(val_images, val_labels, (height, width, channels), num_classes, "validation")
    elif config.validation_split > 0:
        images, labels, val_images, val_labels = _split(images, labels, config.validation_split, config.seed)
    else:
        val_images = val_labels = None
    preprocessing = make_preprocessing(config.scale, config.mean, config.std, channels)
    _check_probabilities(teacher, read_rows(images, np.arange(min(8, len(images)))), preprocessing)
    spill = _spill_folder(config.out)  # the generated images, as a float32 memory map, until the end of the run
    try:
        return _train_mixed(config, teacher, images, labels, val_images, val_labels, names, preprocessing, spill, progress, verbose)
    finally:
        shutil.rmtree(spill, ignore_errors=True)


def _spill_folder(out):
    """A new hidden folder beside ``out`` for the generated images' memory map (removed when the run ends)."""
    out = os.path.abspath(out)
    return tempfile.mkdtemp(prefix=f".{os.path.basename(out)}.generated-", dir=os.path.dirname(out))


def _train_mixed(config, teacher, images, labels, val_images, val_labels, names, preprocessing, spill, progress, verbose):
    mixed = build_mixed_dataset(
        images, labels, teacher, config.fraction, num_classes=len(names), own_probability=config.own_probability,
        seed=config.seed, progress=progress, spill=spill, optimizer=config.generation_optimizer,
        steps=config.generation_steps, learning_rate=config.generation_learning_rate, preprocessing=preprocessing,
    )
    student = load_model(config.student, "student model") if config.student else keras.models.clone_model(teacher)
    model = MixedTargetModel(student, kl_weight=config.kl_weight)
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate))
    flip, shift = resolve_augmentation(config.augment, config.crop_padding)
    padding = int(config.crop_padding) if shift else 0
    augmentation = None
    if flip or padding:
        augmentation = lambda image, key: flip_and_crop(image, padding, flip, key)  # noqa: E731  (keyed by seed, epoch, position)
    train = mixed.as_dataset(config.batch_size, augmentation, config.augment_generated, seed=config.seed)
    validation = None
    if val_images is not None and len(val_images):
        validation = labelled_dataset(val_images, val_labels, config.batch_size)
    if preprocessing is not None:
        train = train.map(lambda x, y: (preprocessing(x), y))
        validation = None if validation is None else validation.map(lambda x, y: (preprocessing(x), y))
    with staged_directory(config.out, overwrite=config.overwrite) as staging:
        callbacks = [*early_stopping_callbacks(config.early_stopping), BatchNormStatistics(train)]
        history = fit(model, train, validation, config.epochs, callbacks=callbacks, verbose=verbose,
                                 backup=backup_folder(config.out), options=config.to_dict())
        summary = {
            "train_images": int(len(mixed)),
            "generated_images": int(len(mixed.replaced)),
            "fraction": float(mixed.fraction),
            "generation_mean_kl": float(np.mean(mixed.kl)) if len(mixed.kl) else None,
            "validation_accuracy": float(history.history["val_accuracy"][-1]) if validation is not None else None,
            "augmentation": augmentation_name(flip, padding),
            "augment_generated": bool(config.augment_generated),
            "config": dataclasses.asdict(config),
        }
        write_run_files(staging, student, names, history, config, **{k: v for k, v in summary.items() if k != "config"})
        if config.export:
            summary["saved_model_heatmap"] = has_feature_map(student)  # else the SavedModel serves no heatmap
            export_saved_model(student, os.path.join(staging, "saved_model"), explain=None if summary["saved_model_heatmap"] else False, class_names=names)
        write_json(os.path.join(staging, "summary.json"), summary)
    remove_backup(config.out)
    return run_result(student, history, config, config.out, metrics=summary, class_names=names)


def has_feature_map(model):
    """Whether Grad-CAM can explain ``model`` (it has a convolutional feature map)."""
    from tfxai.explain.layers import find_layer

    try:
        find_layer(model)
    except TfxaiError:
        return False
    return True


def parse_floats(text):
    """``"0.5,0.25"`` -> ``(0.5, 0.25)``; None stays None."""
    if text is None:
        return None
    try:
        return tuple(float(value) for value in str(text).split(","))
    except ValueError:
        raise TfxaiError(f"expected comma-separated numbers, got {text!r}") from None


def progress_printer(echo, label="generating"):
    """A ``progress(done, total)`` callback that prints ``label: done/total images`` lines via ``echo``."""

    def progress(done, total):
        echo(f"{label}: {done}/{total} images")

    return progress

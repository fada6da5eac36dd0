"""One training run for every image method: base config, data pipeline, early stopping, run folder.

A training app is the same steps for every method -- validate the config, load
labelled images, seed, split, build, compile, make the datasets, fit (with the
NaN guard and optional early stopping) into a staged folder, save, report,
export. This module holds the shared steps once; ``train_abn``
(:mod:`tfxai.attention.abn_training`), ``train_gain``
(:mod:`tfxai.attention.gain_training`) and ``train_classifier``
(:mod:`tfxai.classify.classifier`) keep only what is their own (model, loss options,
extra inputs).

A run folder holds ``model.keras``, ``class_names.json``, ``history.csv``,
``metrics.json`` (the options, the augmentation used as an ``--augment`` choice, the Keras ``dtype_policy`` (``--mixed-precision``), the last epoch's metrics under ``final`` and
those of the epoch whose weights were saved under ``kept``), ``attention/`` (overlays of held-out images, for models
that explain themselves) and ``saved_model/`` (probabilities, class id and
map; see :func:`tfxai.io.export.export_saved_model`).
"""

import dataclasses
import os
from typing import ClassVar, Optional

import keras
import numpy as np
import tensorflow as tf

from tfxai._runtime import onednn_state
from tfxai.errors import TfxaiError
from tfxai.training.augmentation import AUGMENTATIONS, augmentation_name, resolve_augmentation
from tfxai.training.config import ConfigError, RunOptions, option

__all__ = [
    "RunConfig",
    "early_stopping_callbacks",
    "kept_epoch",
    "make_dataset",
    "run_training",
    "shift_and_crop",
    "split_run_data",
    "write_run_files",
    "write_run_folder",
]

#: Keys of an input dict that are images or maps of the image's size (augmented together).
SPATIAL_KEYS = ("images", "attention_maps")


@dataclasses.dataclass
class RunConfig(RunOptions):
    """Options every image training app shares; method configs subclass it and add their own.

    ``early_stopping`` is a patience in epochs on validation accuracy, with
    the best epoch's weights restored (0: off). ``augment`` is an
    ``--augment`` choice (``"none"``, ``"shift"``, ``"flip"``,
    ``"flip+shift"``, :mod:`tfxai.training.augmentation`; ``None``: shifts
    when ``shift_crop`` is above 0) and ``shift_crop`` the largest shift/crop
    as a fraction of the image side; :attr:`flip` and :attr:`shift` are what
    the run does.
    """

    data: str = option("", "Folder with one sub-folder of images per class, or 'demo' (bundled Fashion-MNIST subset).", required=True)
    backbone: str = option("small_cnn", "The backbone network.")
    weights: str = option("none", "imagenet | none | PATH to a local weights file.")
    image_size: int = option(224, "Side of the square input images in pixels.", minimum=8, maximum=1024)
    channels: int = option(3, "Train on grayscale (1) or RGB (3).", choices=(1, 3))
    validation_split: float = option(0.2, "Share of each class held out for validation.", minimum=0.0, maximum=0.9)
    augment: Optional[str] = option(
        None, "Random changes of training images (and their maps): none, shift (shifts and crops), flip (left-right mirror) "
        "or flip+shift. Default: shift where the preset's --shift-crop is above 0 (paper), else none. Never flips by default: a mirrored digit "
        "or letter can be another class; choose flip only for classes that survive a mirror. metrics.json records the choice.",
        choices=AUGMENTATIONS)
    shift_crop: float = option(0.0, "Size of --augment's shifts and crops: up to FRACTION of the image side.", minimum=0.0,
                               maximum=0.49, metavar="FRACTION")
    early_stopping: int = option(0, "Stop when validation accuracy has not improved for PATIENCE epochs and restore the best "
                                 "epoch's weights (0: off).", minimum=0, metavar="PATIENCE")
    export: bool = option(True, "Do not write the SavedModel.", flag="--no-export")

    #: ``name -> backbone``, raising :class:`TfxaiError` for an unknown name. The engine knows no backbones: a method
    #: config sets its own (``backbone_lookup = staticmethod(get_backbone)``, :mod:`tfxai.classify.backbones`); ``None``: unchecked.
    backbone_lookup: ClassVar = None

    @property
    def augmentation(self):
        """The ``--augment`` choice in force: the given one, else ``shift`` when ``shift_crop`` is above 0."""
        return self.augment or augmentation_name(False, self.shift_crop)

    @property
    def flip(self):
        """Whether training images are mirrored left-right at random."""
        return "flip" in self.augmentation

    @property
    def shift(self):
        """The largest shift/crop of training images as a fraction of the side (0: none)."""
        return resolve_augmentation(self.augmentation, self.shift_crop)[1]

    @classmethod
    def from_preset(cls, name, **overrides):
        """The named preset with ``overrides`` applied (``None`` values skipped), validated; refuses a shift size without shifts."""
        augment, shift_crop = overrides.get("augment"), overrides.get("shift_crop")
        if augment and "shift" not in augment and shift_crop:
            raise ConfigError(("shift_crop", "augment"), f"shift_crop sets the size of shifts but augment {augment} has none: "
                              "use augment flip+shift or shift")
        return super().from_preset(name, **overrides)

    def validate(self):
        """Raise :class:`~tfxai.training.config.ConfigError` naming the field to fix; returns ``self`` unchanged."""
        super().validate()
        if self.early_stopping and self.validation_split <= 0:
            raise ConfigError(("early_stopping", "validation_split"), "early_stopping watches validation accuracy: set validation_split above 0")
        self.check_backbone()
        return self

    def check_backbone(self):
        """Raise :class:`TfxaiError` for an unknown ``backbone``, through the config's :attr:`backbone_lookup`."""
        if self.backbone_lookup is not None:
            self.backbone_lookup(self.backbone)

    def to_dict(self):
        """The options as JSON-ready values, ``augment`` and ``shift_crop`` as the run used them."""
        return {**super().to_dict(), "augment": self.augmentation, "shift_crop": self.shift}


# === Data ===


def split_run_data(data, validation_split, seed):
    """``(train, held_out)`` :class:`~tfxai.data.LabelledImages`, stratified by class."""
    from tfxai.data import split_stratified

    validation = split_stratified(data.labels, validation_split, seed)
    train, held_out = data.subset(np.flatnonzero(~validation)), data.subset(np.flatnonzero(validation))
    if len(train.labels) == 0:
        raise TfxaiError(f"no training images left after a {validation_split} validation split: lower --validation-split")
    return train, held_out


def shift_and_crop(tensors, fraction, seed=None):
    """Shift and crop images (and their maps) together by up to ``fraction`` of the side.

    Each tensor is (H, W, C) or (H, W); all get the same random box: a box of
    ``1 - fraction`` to 1 times the side, its centre moved by up to
    ``fraction`` of the side from the image's centre (the image is padded by
    reflecting its border), is cut out and resized back to (H, W). So the
    content moves by up to ``fraction / (1 - fraction)`` of the side and is
    enlarged by up to ``1 / (1 - fraction)``: the shifts and crops that
    Tomono et al. used to expand their GAIN training set. ``seed`` (a shape
    (2,) integer tensor) draws the box statelessly, the same for the same seed.
    """
    first = tensors[0]
    height, width = tf.shape(first)[0], tf.shape(first)[1]
    draws = tf.random.uniform((3,)) if seed is None else tf.random.stateless_uniform((3,), seed)
    scale = 1.0 - fraction * draws[0]  # box side, as a fraction of the image side
    shift = fraction * (2.0 * draws[1:] - 1.0)  # box centre minus image centre, same unit
    pad = fraction  # reflected border on each side, so the box never leaves the padded image
    span = 1.0 + 2.0 * pad
    centre = (0.5 + pad + shift) / span
    half = scale / (2.0 * span)
    box = tf.stack([centre[0] - half, centre[1] - half, centre[0] + half, centre[1] + half])[None]
    pad_h = tf.cast(tf.round(pad * tf.cast(height, tf.float32)), tf.int32)
    pad_w = tf.cast(tf.round(pad * tf.cast(width, tf.float32)), tf.int32)
    out = []
    for tensor in tensors:
        flat = len(tensor.shape) == 2
        x = tf.cast(tensor[..., None] if flat else tensor, tf.float32)
        x = tf.pad(x, [[pad_h, pad_h], [pad_w, pad_w], [0, 0]], mode="REFLECT")
        x = tf.image.crop_and_resize(x[None], box, [0], tf.stack([height, width]))[0]
        out.append(tf.cast(x[..., 0] if flat else x, tensor.dtype))
    return out


def _augmenter(flip, shift_crop, seed):
    """A ``tf.data`` map function of ``(position, (inputs, labels))`` that flips and/or shifts-and-crops the spatial entries of one sample together.

    The random draws are stateless, keyed by ``seed``, the epoch
    (:func:`tfxai.training.resume.epoch_variable`) and the sample's position in the
    epoch, so a resumed run augments its epochs as an uninterrupted one.
    """
    from tfxai.training.resume import epoch_variable

    epoch = epoch_variable()

    def augment(position, sample):
        inputs, labels = sample
        key = tf.stack([tf.constant(int(seed), tf.int64) * 1_000_003 + epoch.read_value(), position])
        flip_seed, crop_seed = tf.unstack(tf.random.experimental.stateless_split(key, 2))
        entries = dict(inputs) if isinstance(inputs, dict) else {"images": inputs}
        keys = [key for key in SPATIAL_KEYS if key in entries]
        tensors = [entries[key] for key in keys]
        if flip:
            mirror = tf.random.stateless_uniform((), flip_seed) < 0.5
            tensors = [tf.cond(mirror, lambda t=t: tf.reverse(t, [1]), lambda t=t: t) for t in tensors]
        if shift_crop:
            tensors = shift_and_crop(tensors, shift_crop, crop_seed)
        entries.update(zip(keys, tensors))
        return (entries if isinstance(inputs, dict) else entries["images"]), labels

    return augment


def _streamed(value):
    """Whether an input entry is read on demand: it has ``encoded_paths()`` and a ``decode(path)`` ``tf.data`` map (e.g. ImageFiles)."""
    return callable(getattr(value, "encoded_paths", None)) and callable(getattr(value, "decode", None))


def _decoder(files, keyed):
    """A ``tf.data`` map function of ``(inputs, labels)`` that reads the files of ``inputs`` (paths; ``{key: files}`` when keyed) as float32."""

    def decode(inputs, labels):
        if keyed:
            return {**inputs, **{key: tf.cast(files[key].decode(inputs[key]), tf.float32) for key in files}}, labels
        return tf.cast(files["images"].decode(inputs), tf.float32), labels

    return decode


def make_dataset(inputs, labels, batch_size, shuffle=False, seed=0, augment=False, shift_crop=0.0):
    """A ``tf.data`` pipeline of ``(inputs, labels)`` batches for any image model.

    ``inputs`` is an image array (N, H, W, C) or the map-supervision dict
    ``{"images", "attention_maps", "has_attention_map"}``; ``augment`` flips
    and ``shift_crop`` shifts/crops (:func:`shift_and_crop`) images and maps together.
    Entries read on demand -- images as :class:`~tfxai.data.image_folder.ImageFiles`
    (an image folder), or any object with ``encoded_paths()`` and a
    ``decode(path)`` ``tf.data`` map, such as GAIN's mask files -- are
    streamed: only their paths are shuffled, each is decoded in parallel in
    the pipeline, and the batches equal those of the loaded arrays.
    """
    from tfxai.training.resume import epoch_shuffle

    entries = dict(inputs) if isinstance(inputs, dict) else {"images": inputs}
    files = {key: value for key, value in entries.items() if _streamed(value)}
    entries = {key: files[key].encoded_paths() if key in files else np.asarray(value, np.float32) for key, value in entries.items()}
    data = tf.data.Dataset.from_tensor_slices((entries if isinstance(inputs, dict) else entries["images"], np.asarray(labels, np.int32)))
    if shuffle:
        data = epoch_shuffle(data, len(labels), seed)  # an order per epoch, the same after a resume
    if files:
        data = data.map(_decoder(files, isinstance(inputs, dict)), num_parallel_calls=tf.data.AUTOTUNE)  # deterministic order
    if augment or shift_crop:
        data = data.enumerate().map(_augmenter(augment, float(shift_crop), seed), num_parallel_calls=tf.data.AUTOTUNE)
    return data.batch(batch_size).prefetch(tf.data.AUTOTUNE)


# === Fitting and writing ===


def early_stopping_callbacks(patience, monitor="val_accuracy"):
    """``[EarlyStopping(monitor, mode="max", restore_best_weights=True)]`` for a patience > 0, else ``[]``."""
    if not patience:
        return []
    return [keras.callbacks.EarlyStopping(monitor=monitor, mode="max", patience=int(patience), restore_best_weights=True)]


def kept_epoch(history, config):
    """Index of the epoch whose weights the model holds after ``fit``: the best validation accuracy with early stopping, else the last."""
    values = getattr(history, "history", history)  # a Keras History or its dict (RunResult.history)
    accuracy = values.get("val_accuracy")
    if getattr(config, "early_stopping", 0) and accuracy:
        return int(np.argmax(accuracy))  # Keras keeps the first best epoch and restores it at the end of fit
    return len(next(iter(values.values()))) - 1


def write_run_files(folder, model, class_names, history, config, **metrics):
    """The files every training app writes: ``model.keras``, ``class_names.json``, ``history.csv``, ``metrics.json``.

    ``history`` is a Keras ``History`` or its ``history`` dict; ``config`` any
    dataclass config (``to_dict()`` when it has one) with an optional
    ``early_stopping`` patience; ``metrics`` are added to ``metrics.json``.
    Method-specific extras (the SavedModel, reports, plots) are the caller's.
    """
    import types

    from tfxai.training.fit import history_csv
    from tfxai.training.distribute import current_strategy
    from tfxai.io import atomic_path, write_json, write_text

    if isinstance(history, dict):
        history = types.SimpleNamespace(history=history, epoch=list(range(len(next(iter(history.values()), [])))))
    with atomic_path(os.path.join(folder, "model.keras")) as tmp:
        model.save(tmp)
    write_json(os.path.join(folder, "class_names.json"), list(class_names))
    write_text(os.path.join(folder, "history.csv"), history_csv(history.history))
    final = {key: float(values[-1]) for key, values in history.history.items()}
    kept = kept_epoch(history, config)
    options = config.to_dict() if hasattr(config, "to_dict") else dataclasses.asdict(config)
    summary = {"config": options, "final": final, "epochs_run": len(history.epoch), "kept_epoch": kept + 1,
               "kept": {key: float(values[kept]) for key, values in history.history.items()},
               "dtype_policy": keras.config.dtype_policy().name, **current_strategy(),  # --mixed-precision, --strategy
               "onednn": onednn_state(), **metrics}
    write_json(os.path.join(folder, "metrics.json"), summary)


def write_run_folder(folder, model, class_names, history, config, samples=None, title="tfxai attention maps", **metrics):
    """Write a finished run into ``folder`` (see the module docstring); ``metrics`` are added to ``metrics.json``.

    ``samples`` (:class:`~tfxai.data.LabelledImages`) are explained with the
    model's own maps into ``attention/`` when given.
    """
    from tfxai.explain.report import explain_batch, source_files, write_report
    from tfxai.io.export import export_saved_model

    write_run_files(folder, model, class_names, history, config, augmentation=config.augmentation, **metrics)
    if samples is not None and len(samples.labels):
        explanations = explain_batch(model, samples.images, samples.sources, samples.labels, sources=source_files(config.data, samples.sources))
        write_report(explanations, class_names, os.path.join(folder, "attention"), title)
    if config.export:
        export_saved_model(model, os.path.join(folder, "saved_model"), class_names=class_names)


def run_training(config, model, train_data, validation_data, class_names, samples=None, callbacks=(), verbose="auto", title="", **metrics):
    """Fit ``model`` (NaN guard, early stopping) and write its run folder at ``config.out``; returns the history.

    Nothing is written unless training finishes. The training state is backed
    up every epoch into ``<out>.backup/`` and a rerun after an interruption
    resumes from it (:mod:`tfxai.training.resume`); the backup is removed when the run
    folder is complete.
    """
    from tfxai.training.batchnorm import BatchNormStatistics
    from tfxai.training.fit import fit
    from tfxai.io import staged_directory
    from tfxai.training.resume import backup_folder, remove_backup

    with staged_directory(config.out, overwrite=config.overwrite) as staging:
        callbacks = [*callbacks, *early_stopping_callbacks(config.early_stopping)]
        callbacks.append(BatchNormStatistics(train_data))  # exact BatchNorm statistics before each validation and at the end
        history = fit(model, train_data, validation_data, config.epochs, callbacks=callbacks, verbose=verbose,
                                 backup=backup_folder(config.out), options=config.to_dict())
        write_run_folder(staging, model, class_names, history, config, samples, title or f"tfxai {type(model).__name__} attention maps", **metrics)
    remove_backup(config.out)
    return history

"""Training ABN end to end: config dataclass, presets, data, fit, outputs (what ``tfxai train abn`` runs).

``train_abn(config)`` trains :class:`tfxai.attention.ABN` with ``model.fit``
and writes, into ``config.out`` (only when training finished):
``model.keras``, ``class_names.json``, ``history.csv``, ``metrics.json``,
``attention/`` (overlays, contact sheet, predictions of validation images)
and ``saved_model/`` (probabilities + attention map, plain TensorFlow).
"""

import dataclasses
import os

import keras
import numpy as np
import tensorflow as tf

from tfxai.attention.abn import ABN
from tfxai.data.image_folder import split_stratified
from tfxai.errors import TfxaiError

__all__ = [
    "ABNConfig",
    "ABN_PRESETS",
    "PAPER_THRESHOLDS",
    "LabelledImages",
    "load_abn",
    "load_labelled_images",
    "split_stratified",
    "train_abn",
]

#: The paper's mask thresholds sigma per dataset (Iwayoshi et al.).
PAPER_THRESHOLDS = {"cub200_2010": 0.78, "stanford_dogs": 0.40}

DEMO = "demo"


@dataclasses.dataclass
class ABNConfig:
    """Everything ``tfxai train abn`` needs (defaults: the paper's configuration).

    The paper (Iwayoshi et al.) pre-trains plain ABN for 300 epochs (step 1),
    then trains ResNet-50 ABN with the mining branch, PC loss and COT on
    CUB-200-2010 with batch 16 for 300 epochs, sigma = 0.78 (0.40 on Stanford
    Dogs), a binarised mask, L_am weighted 1e-4, L_PC summed over the batch
    and the mining branch's COT with y_g = 0. ``epochs`` counts all epochs of
    the one ``fit`` (600 = 300 pre-training + 300 full method). The optimiser
    settings (SGD, momentum 0.9, learning rate 0.01) follow ABN's public
    code; the papers do not restate them. docs/abn.md has the table of
    document value | preset value | why it differs.
    """

    data: str = ""
    out: str = "saved_models/abn"
    backbone: str = "resnet50"
    weights: str = "imagenet"
    backbone_filters: tuple = None
    image_size: int = 224
    channels: int = 3
    epochs: int = 600
    batch_size: int = 16
    optimizer: str = "sgd"
    learning_rate: float = 0.01
    momentum: float = 0.9
    use_mining: bool = True
    use_pc: bool = True
    use_cot: bool = True
    mechanism: str = None
    threshold: float = PAPER_THRESHOLDS["cub200_2010"]
    omega: float = 10.0
    mining_weight: float = 1e-4
    pc_weight: float = 1.0
    cot_weight: float = 1.0
    pretrain_epochs: int = 300
    attention_filters: int = 512
    attention_convs: int = 3
    dropout: float = 0.0
    human_maps: str = ""
    human_weight: float = 1.0
    init: str = ""
    validation_split: float = 0.2
    augment: bool = True
    seed: int = 0
    tensorboard: str = ""
    export: bool = True
    overwrite: bool = False
    mask: str = "hard"
    cot_variant: str = "paper"
    pc_reduction: str = "sum"
    pc_normalize: bool = True


ABN_PRESETS = {
    "paper": ABNConfig(),
    "small": ABNConfig(
        backbone="small_cnn",
        weights="none",
        backbone_filters=(16, 32, 64),
        image_size=28,
        channels=1,
        epochs=5,
        batch_size=32,
        optimizer="adam",
        learning_rate=2e-3,
        threshold=0.5,
        attention_filters=32,
        attention_convs=1,
        augment=False,
        pretrain_epochs=0,
        mask="soft",
        pc_reduction="mean",
    ),
}


# === Data ===


@dataclasses.dataclass
class LabelledImages:
    """uint8 images (N, H, W, C), int labels, a source string per image and the class names."""

    images: np.ndarray
    labels: np.ndarray
    sources: list
    class_names: list

    def subset(self, indices):
        indices = np.asarray(indices, np.int64)
        return LabelledImages(self.images[indices], self.labels[indices], [self.sources[i] for i in indices], self.class_names)


def load_labelled_images(data, image_size, channels, split="train"):
    """An image folder (one sub-folder per class) or ``"demo"`` (bundled Fashion-MNIST subset).

    Sources are the paths relative to the folder (``class/file.png``) or
    ``demo:<split>:<index>``; they link edited attention maps to images.
    """
    import cv2

    from tfxai.data import load_demo, load_images, scan_image_folder

    size = (int(image_size), int(image_size))
    if data == DEMO:
        (x_train, y_train), (x_test, y_test), class_names = load_demo()
        images, labels = (x_train, y_train) if split == "train" else (x_test, y_test)
        if images.shape[1:3] != size:
            images = np.stack([cv2.resize(image, size[::-1], interpolation=cv2.INTER_AREA).reshape(size + (-1,)) for image in images])
        if channels == 3 and images.shape[-1] == 1:
            images = np.repeat(images, 3, axis=-1)
        sources = [f"demo:{split}:{i}" for i in range(len(images))]
        return LabelledImages(images, labels.astype(np.int32), sources, class_names)
    if not data:
        raise TfxaiError("no training data given: pass --data FOLDER (one sub-folder per class) or --data demo")
    folder = scan_image_folder(data)
    images = load_images(folder.paths, size, channels, convert=True)
    sources = [os.path.relpath(path, data).replace(os.sep, "/") for path in folder.paths]
    return LabelledImages(images, folder.labels, sources, folder.class_names)


# === Model ===


def load_abn(path):
    """Load an ABN from a ``.keras`` file or a folder written by ``tfxai train abn``; returns (model, class_names)."""
    from tfxai.io import load_keras_model

    model, class_names, _ = load_keras_model(path, "tfxai train abn")
    return model, class_names


def build_model(config, num_classes, steps_per_epoch):
    """A new ABN from ``config``, or the ``config.init`` model (with the human-map term when maps are given)."""
    pretrain_steps = int(config.pretrain_epochs) * int(steps_per_epoch)
    human_weight = float(config.human_weight) if config.human_maps else 0.0
    if config.init:
        model, _ = load_abn(config.init)
        if not isinstance(model, ABN):
            raise TfxaiError(f"{config.init} holds a {type(model).__name__}, not an ABN: pass a model written by 'tfxai train abn'")
        if model.num_classes != num_classes:
            raise TfxaiError(f"{config.init} has {model.num_classes} classes but the data has {num_classes}: use the same classes")
        if tuple(model.image_shape) != (config.image_size, config.image_size, config.channels):
            raise TfxaiError(
                f"{config.init} takes {model.image_shape} images but --image-size/--channels give "
                f"{(config.image_size, config.image_size, config.channels)}: match the model"
            )
        changed = {**model.get_config(), "human_weight": human_weight, "pretrain_steps": 0}
        tuned = ABN.from_config(changed)
        tuned.set_weights(model.get_weights())
        return tuned
    return ABN(
        backbone=config.backbone,
        num_classes=num_classes,
        input_shape=(config.image_size, config.image_size, config.channels),
        weights=config.weights,
        # the small preset's block widths belong to small_cnn; another --backbone keeps its own
        backbone_filters=config.backbone_filters if config.backbone == "small_cnn" else None,
        attention_filters=config.attention_filters,
        attention_convs=config.attention_convs,
        mechanism=config.mechanism,
        use_mining=config.use_mining,
        use_pc=config.use_pc,
        use_cot=config.use_cot,
        threshold=config.threshold,
        omega=config.omega,
        mining_weight=config.mining_weight,
        pc_weight=config.pc_weight,
        cot_weight=config.cot_weight,
        mask=config.mask,
        cot_variant=config.cot_variant,
        pc_reduction=config.pc_reduction,
        pc_normalize=config.pc_normalize,
        human_weight=human_weight,
        pretrain_steps=pretrain_steps,
        dropout=config.dropout,
    )


def make_optimizer(name, learning_rate, momentum=0.9):
    """``sgd`` (with momentum) or ``adam``."""
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate, momentum=momentum)
    if name == "adam":
        return keras.optimizers.Adam(learning_rate)
    raise TfxaiError(f"unknown optimizer {name!r}: choose sgd or adam")


def compile_abn(model, config):
    """Compile with the config's optimizer (a copy drives the COT update) and top-1 / top-5 accuracy."""
    top_k = min(5, model.num_classes)
    model.compile(
        optimizer=make_optimizer(config.optimizer, config.learning_rate, config.momentum),
        metrics=[
            keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
            keras.metrics.SparseTopKCategoricalAccuracy(k=top_k, name=f"top{top_k}"),
        ],
    )
    return model


def make_dataset(inputs, labels, batch_size, shuffle, seed=0, augment=False):
    """A ``tf.data`` pipeline of (inputs, labels); ``inputs`` is an image array or the dict with human maps."""
    if isinstance(inputs, dict):
        inputs = {key: np.asarray(value, np.float32) for key, value in inputs.items()}
    else:
        inputs = np.asarray(inputs, np.float32)
    data = tf.data.Dataset.from_tensor_slices((inputs, np.asarray(labels, np.int32)))
    if shuffle:
        data = data.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    if augment:
        data = data.map(_flip, num_parallel_calls=tf.data.AUTOTUNE)
    return data.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def _flip(inputs, labels):
    """Random horizontal flip of the image and (if present) its human map, together."""
    flip = tf.random.uniform(()) < 0.5
    if isinstance(inputs, dict):
        inputs = dict(inputs)
        inputs["images"] = tf.cond(flip, lambda: tf.reverse(inputs["images"], [1]), lambda: inputs["images"])
        inputs["attention_map"] = tf.cond(flip, lambda: tf.reverse(inputs["attention_map"], [1]), lambda: inputs["attention_map"])
        return inputs, labels
    return tf.cond(flip, lambda: tf.reverse(inputs, [1]), lambda: inputs), labels


# === Training ===


def train_abn(config, verbose="auto", log=print):
    """Train ABN as ``config`` says and write its folder; returns ``(model, class_names, history)``.

    Raises :class:`TfxaiError` for bad data, options or a NaN loss; nothing is
    written unless training finishes.
    """
    from tfxai.attention.callbacks import AttentionImageLogger
    from tfxai.attention.human import attach_attention_maps, load_edited_maps
    from tfxai.classifier import fit_classifier, history_csv
    from tfxai.explain.report import explain_batch, write_report
    from tfxai.export import export_saved_model
    from tfxai.io import atomic_path, staged_directory, write_json, write_text

    _check_config(config)
    data = load_labelled_images(config.data, config.image_size, config.channels)
    num_classes = len(data.class_names)
    keras.utils.set_random_seed(config.seed)
    validation = split_stratified(data.labels, config.validation_split, config.seed)
    train, held_out = data.subset(np.flatnonzero(~validation)), data.subset(np.flatnonzero(validation))
    if len(train.labels) == 0:
        raise TfxaiError(f"no training images left after a {config.validation_split} validation split: lower --validation-split")
    train_inputs = train.images
    if config.human_maps:
        edited = load_edited_maps(config.human_maps, (config.image_size, config.image_size))
        train_inputs = attach_attention_maps(train.images, train.sources, edited, strict=False)
        used = int(train_inputs["has_attention_map"].sum())
        if used == 0:
            raise TfxaiError(f"none of the {len(edited)} edited maps in {config.human_maps} match a training image: use the same --data as for export-maps")
        log(f"fine-tuning with {used} human-edited attention maps (weight {config.human_weight})")
    steps_per_epoch = int(np.ceil(len(train.labels) / config.batch_size))
    model = build_model(config, num_classes, steps_per_epoch)
    compile_abn(model, config)
    train_data = make_dataset(train_inputs, train.labels, config.batch_size, True, config.seed, config.augment)
    validation_data = make_dataset(held_out.images, held_out.labels, 256, False) if len(held_out.labels) else None
    terms = ", ".join(model.loss_term_names)
    log(f"training ABN/{config.backbone} ({model.count_params():,} parameters; losses: {terms}) on {len(train.labels)} images, {config.epochs} epochs")
    with staged_directory(config.out, overwrite=config.overwrite) as staging:
        callbacks = []
        sample = held_out if len(held_out.labels) else train
        if config.tensorboard:
            picks = sample.subset(np.arange(min(16, len(sample.labels))))
            callbacks.append(AttentionImageLogger(config.tensorboard, picks.images, picks.labels, data.class_names))
        history = fit_classifier(model, train_data, validation_data, config.epochs, callbacks=callbacks, verbose=verbose)
        with atomic_path(os.path.join(staging, "model.keras")) as tmp:
            model.save(tmp)
        write_json(os.path.join(staging, "class_names.json"), list(data.class_names))
        write_text(os.path.join(staging, "history.csv"), history_csv(history.history))
        final = {k: float(v[-1]) for k, v in history.history.items()}
        write_json(os.path.join(staging, "metrics.json"), {"config": _jsonable(config), "final": final, "train_images": len(train.labels)})
        picks = sample.subset(np.arange(min(64, len(sample.labels))))
        explanations = explain_batch(model.explain, picks.images, picks.sources, picks.labels)
        write_report(explanations, data.class_names, os.path.join(staging, "attention"), "tfxai ABN attention maps")
        if config.export:
            export_saved_model(model, os.path.join(staging, "saved_model"), explain=model.explain)
    return model, data.class_names, history


def _check_config(config):
    from tfxai.classifier import check_learning_rate

    check_learning_rate(config.learning_rate)
    if config.epochs < 1:
        raise TfxaiError(f"--epochs must be at least 1, got {config.epochs}")
    if config.batch_size < 1:
        raise TfxaiError(f"--batch-size must be at least 1, got {config.batch_size}")
    if not 0.0 <= config.validation_split < 1.0:
        raise TfxaiError(f"--validation-split must be in [0, 1), got {config.validation_split}")
    if not 0.0 <= config.threshold <= 1.0:
        raise TfxaiError(f"--threshold is an attention value in [0, 1], got {config.threshold}")
    if config.use_cot and not config.use_mining:
        raise TfxaiError("COT works on the attention mining branch: add --mining, or drop --cot")
    if not config.init and (config.use_mining or config.use_pc) and config.pretrain_epochs >= config.epochs:
        raise TfxaiError(
            f"--pretrain-epochs ({config.pretrain_epochs}) must be below --epochs ({config.epochs}), which counts the "
            "pre-training epochs too: lower --pretrain-epochs or raise --epochs"
        )
    if config.channels not in (1, 3):
        raise TfxaiError(f"--channels must be 1 or 3, got {config.channels}")
    if config.human_maps and not config.init:
        raise TfxaiError("--human-maps fine-tunes a trained model: pass it with --init MODEL")


def _jsonable(config):
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(config).items()}

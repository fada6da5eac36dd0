"""Transfer-learning classifiers: config, training with ``fit``, loading with class names."""

import dataclasses
import os

import keras

from tfxai.classify.backbones import build_classifier, get_backbone
from tfxai.training.determinism import seed_everything
from tfxai.errors import TfxaiError, plural
from tfxai.io import atomic_path, load_model, write_json
from tfxai.classify.classifier_presets import CLASSIFIER_PRESETS
from tfxai.training import RunConfig
from tfxai.training.config import option
from tfxai.training.result import RunResult, run_result

__all__ = ["CLASSIFIER_PRESETS", "ClassifierConfig", "train_classifier", "load_classifier", "save_classifier"]


#: What the presets are (``--preset``'s help).
CLASSIFIER_PRESET_HELP = "paper: ImageNet MobileNetV2 at 224 px, 20 epochs; small: small CNN at 32 px for CPUs."


@dataclasses.dataclass
class ClassifierConfig(RunConfig, presets=CLASSIFIER_PRESETS, preset_help=CLASSIFIER_PRESET_HELP):
    """Everything ``tfxai train classifier`` needs; defaults: the ``paper`` preset (:mod:`tfxai.classify.classifier_presets`).

    The paper preset follows the MobileNetV2 + Grad-CAM report: ImageNet
    MobileNetV2, a new softmax head, 224x224, about 20 epochs.
    """

    out: str = option("saved_models/classifier", "Output folder (written only when training finishes).")
    backbone: str = option("mobilenet_v2", "mobilenet_v2, resnet50, vgg16 or small_cnn.")
    weights: str = "imagenet"
    epochs: int = 20
    dropout: float = option(0.2, "Dropout before the softmax head.", minimum=0.0, maximum=0.99)
    train_backbone: bool = option(False, "Fine-tune the backbone too.")
    shift_crop: float = 0.1

    backbone_lookup = staticmethod(get_backbone)  # the image backbones of tfxai.classify.backbones


def save_classifier(model, directory, class_names):
    """Write ``model.keras`` and ``class_names.json`` into ``directory`` (atomically)."""
    os.makedirs(directory, exist_ok=True)
    with atomic_path(os.path.join(directory, "model.keras")) as tmp:
        model.save(tmp)
    write_json(os.path.join(directory, "class_names.json"), list(class_names))


def load_classifier(path):
    """Load a classifier and its class names.

    ``path`` is a ``.keras`` file or a folder holding ``model.keras``; class
    names come from ``class_names.json`` beside it (else ``class_0``, ...).
    """
    model, class_names = load_model(path)
    num_classes = int(model.outputs[0].shape[-1])
    if class_names is None:
        class_names = [f"class_{i}" for i in range(max(num_classes, 2))]
    elif len(class_names) != max(num_classes, 2):
        raise TfxaiError(
            f"class_names.json beside {path} lists {len(class_names)} class names but the model has "
            f"{num_classes} outputs: give one name per class"
        )
    return model, class_names


def compile_classifier(model, learning_rate):
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    return model


def train_classifier(config, verbose="auto", log=None) -> RunResult:
    """Train a transfer-learning classifier on an image folder (or ``demo``) and write its run folder to ``config.out``.

    The run folder is :func:`tfxai.training.write_run_folder`'s; the
    SavedModel serves probabilities, class id and the Grad-CAM heatmap.
    Nothing is written unless training finishes.
    """
    from tfxai.data import load_labelled_images
    from tfxai.training import make_dataset, run_training, split_run_data

    config.validate()
    data = load_labelled_images(config.data, config.image_size, config.channels)
    if log is not None:
        log(f"training a {config.backbone} classifier on {plural(len(data.labels), 'image')} of {len(data.class_names)} classes from {config.data}")
    seed_everything(config.seed)  # the same weights bit for bit for the same --seed
    train, held_out = split_run_data(data, config.validation_split, config.seed)
    model = build_classifier(
        config.backbone,
        len(data.class_names),
        (config.image_size, config.image_size, config.channels),
        weights=config.weights,
        dropout=config.dropout,
        train_backbone=config.train_backbone,
    )
    compile_classifier(model, config.learning_rate)
    train_data = make_dataset(train.images, train.labels, config.batch_size, True, config.seed, config.flip, config.shift)
    validation_data = make_dataset(held_out.images, held_out.labels, config.batch_size) if len(held_out.labels) else None
    history = run_training(config, model, train_data, validation_data, data.class_names, verbose=verbose)
    return run_result(model, history, config, config.out, class_names=data.class_names, legacy=(model, data.class_names, history))

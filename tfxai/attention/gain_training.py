"""Training GAIN end to end: config, presets, pixel-level masks and ``train_gain`` (what ``tfxai train gain`` runs).

The steps shared by every training app (validation, data, split, datasets,
early stopping, run folder, export) are :mod:`tfxai.training`'s; this module
holds what is GAIN's own: its classifier and loss options and the mask folder
of GAIN_ext. Masks are checked once up front and then streamed like the
images (:class:`MaskFiles`: only paths in memory, each mask decoded in the
``tf.data`` pipeline), so memory does not grow with the number of masks.
"""

import dataclasses
import os
from typing import ClassVar

import keras
import numpy as np

from tfxai.attention.gain import BINARY_NEGATIVES, GAIN, build_gain_classifier
from tfxai.classify.backbones import get_backbone
from tfxai.data.image_folder import FileRows
from tfxai.training.determinism import seed_everything
from tfxai.errors import TfxaiError
from tfxai.attention.gain_presets import GAIN_PRESETS
from tfxai.training.config import ConfigError, option
from tfxai.training import RunConfig, make_dataset, run_training, split_run_data
from tfxai.training.result import RunResult, run_result

__all__ = ["GAINConfig", "GAIN_PRESETS", "build_gain", "compile_gain", "MaskFiles", "load_mask_folder", "mask_files", "mask_inputs", "train_gain"]


#: What the presets are (``--preset``'s help).
GAIN_PRESET_HELP = (
    "paper: ImageNet VGG16 (first 7 convs frozen), GAP, 256-1 sigmoid, 224 px, Adam lr 1e-7, batch 32, shifts/crops, early stopping on validation accuracy; "
    "small: small CNN at 32 px for two CPU cores."
)


@dataclasses.dataclass
class GAINConfig(RunConfig, presets=GAIN_PRESETS, preset_help=GAIN_PRESET_HELP):
    """Everything ``tfxai train gain`` needs (model, loss weights, training, data); defaults: the ``paper`` preset.

    ``"paper"`` is Tomono et al.'s setting: VGG16 with ImageNet weights and
    the first 7 convs frozen, GAP (512) -> Dense(256) -> one sigmoid unit,
    224x224, Adam with learning rate 1e-7, batch 32, L_am weight 1, training
    stopped when validation accuracy begins to fall (the paper stopped at
    epoch 25 without GAIN and 45 with it: here early stopping with patience 5
    restores the best epoch's weights, up to 100 epochs), training images
    shifted and cropped (the paper expanded its data that way). See
    docs/gain.md for the table of document values against preset values.
    ``"small"`` trains a small CNN at 32x32 on two CPU cores in minutes.
    """

    masks: str = option("", "GAIN_ext: folder of pixel-level masks laid out like --data (<class>/<image name>.png, white = "
                        "object). Images without a mask add nothing to L_e.")
    out: str = option("saved_models/gain", "Output folder (written only when training finishes).")
    backbone: str = option("vgg16", "vgg16, resnet50, mobilenet_v2 or small_cnn.")
    weights: str = "imagenet"
    hidden: tuple = option((256,), "Widths of the dense layers after pooling, e.g. '256' or '512,256'.")
    frozen_convs: int = option(7, "Freeze the backbone's first N convolutions.", minimum=0, maximum=1000)
    dropout: float = 0.0
    layer: str = option("", "Feature layer of the attention (default: the backbone's last feature map).")
    sigma: float = option(0.5, "Soft-mask threshold sigma.", minimum=0.0, maximum=1.0)
    omega: float = option(10.0, "Soft-mask sharpness omega.")
    mining_weight: float = option(1.0, "Weight of the attention-mining loss L_am.", minimum=0.0)
    map_weight: float = option(1.0, "Weight of the mask loss L_e (GAIN_ext).", minimum=0.0)
    binary_negatives: str = option("complement", "Sigmoid models: negatives add 1 - p(masked) to L_am (complement) or nothing "
                                   "(ignore).", choices=BINARY_NEGATIVES)
    epochs: int = 100
    learning_rate: float = 1e-7
    shift_crop: float = 0.1
    early_stopping: int = 5

    backbone_lookup = staticmethod(get_backbone)  # the image backbones of tfxai.classify.backbones

    def validate(self):
        super().validate()
        if not self.hidden or any(not isinstance(width, int) or width < 1 for width in self.hidden):
            raise ConfigError("hidden", f"hidden widths must be positive integers like (512, 256), got {self.hidden!r}")
        return self

    def layer_name(self):
        """The attention layer: the given one, else the backbone's feature layer."""
        return self.layer or get_backbone(self.backbone).feature_layer


# === Data: pixel-level masks ===


@dataclasses.dataclass(frozen=True, eq=False)
class MaskFiles(FileRows):
    """Pixel-level masks read on demand: a stand-in for the float32 array (N, H, W) :func:`load_mask_folder` returns.

    Only the paths stay in memory (``""`` for an image without a mask: zeros);
    :func:`tfxai.training.make_dataset` decodes each mask in the ``tf.data``
    pipeline (:class:`~tfxai.data.image_folder.FileRows`).
    """

    size: tuple
    dtype: ClassVar = np.dtype(np.float32)

    @property
    def row_shape(self):
        return tuple(self.size)

    def read(self, path):
        """One mask: gray, resized to ``size`` (INTER_AREA), scaled to [0, 1]; zeros for ``""`` (no mask)."""
        import cv2

        from tfxai.data import read_image

        if not path:
            return np.zeros(self.size, np.float32)
        mask = read_image(path, 1, convert=True)[..., 0]
        return cv2.resize(mask, (self.size[1], self.size[0]), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0

    def check(self, workers=2):
        """Decode every mask once (pixels dropped); raise :class:`TfxaiError` naming the first unreadable one."""
        import concurrent.futures

        with concurrent.futures.ThreadPoolExecutor(workers) as pool:  # OpenCV releases the GIL while decoding
            for _ in pool.map(self.read, [path for path in self.paths if path], chunksize=64):
                pass
        return self


def mask_files(masks, sources, size):
    """The streaming form of :func:`load_mask_folder`: ``(MaskFiles, has_attention_map)``, every mask file checked once.

    Same matching and errors as :func:`load_mask_folder`; only paths stay in
    memory and ``np.asarray(maps)`` equals its array.
    """
    from tfxai.data import list_images

    masks = os.fspath(masks)
    if not os.path.isdir(masks):
        raise TfxaiError(f"mask folder {masks} does not exist: pass a folder laid out like --data (<class>/<image name>.png)")
    by_stem = {}
    for path in list_images(masks):
        stem = os.path.splitext(os.path.relpath(path, masks).replace(os.sep, "/"))[0]
        by_stem[stem] = path
    paths = tuple(by_stem.get(os.path.splitext(source)[0], "") for source in sources)
    has_map = np.asarray([1.0 if path else 0.0 for path in paths], np.float32)
    if not has_map.any():
        raise TfxaiError(
            f"none of the {len(by_stem)} mask files in {masks} matches an image of the data folder: "
            "name each mask <class>/<image name>.png like its image"
        )
    return MaskFiles(paths, tuple(int(side) for side in size)).check(), has_map


def load_mask_folder(masks, sources, size):
    """Pixel-level masks for the images named by ``sources`` (``class/file.ext`` paths relative to the data folder).

    The mask of ``DATA/<class>/<name>.<ext>`` is ``MASKS/<class>/<name>.<any image ext>``
    (grayscale or colour, any size: read as gray, resized to ``size``, scaled
    to [0, 1]). Images without a mask file get ``has_attention_map = 0`` and
    add nothing to L_e. Everything is read into memory (N x H x W float32);
    training streams them instead (:func:`mask_files`).

    Returns
    -------
    maps : np.ndarray
        (N, H, W) float32 in [0, 1] (zeros where there is no mask).
    has_attention_map : np.ndarray
        (N,) float32 0/1.
    """
    maps, has_map = mask_files(masks, sources, size)
    return np.asarray(maps), has_map


def mask_inputs(images, sources, maps):
    """The map-supervision dict ``{"images", "attention_maps", "has_attention_map"}`` of ``images`` (:class:`~tfxai.data.LabelledImages`).

    ``maps`` is ``(attention_maps, has_attention_map)`` for every source in
    ``sources`` (:func:`mask_files` or :func:`load_mask_folder`); the rows of
    ``images.sources`` are picked from it.
    """
    row = {source: index for index, source in enumerate(sources)}
    rows = [row[source] for source in images.sources]
    return {"images": images.images, "attention_maps": maps[0][rows], "has_attention_map": maps[1][rows]}


# === The method-specific steps ===


def build_gain(config, num_classes):
    """A new :class:`GAIN` around :func:`build_gain_classifier` as ``config`` says."""
    classifier = build_gain_classifier(
        config.backbone,
        (config.image_size, config.image_size, config.channels),
        num_classes=num_classes,
        hidden=tuple(config.hidden),
        frozen_convs=config.frozen_convs,
        weights=config.weights,
        dropout=config.dropout,
    )
    return GAIN(
        classifier,
        layer=config.layer_name(),
        sigma=config.sigma,
        omega=config.omega,
        mining_weight=config.mining_weight,
        map_weight=config.map_weight,
        binary_negatives=config.binary_negatives,
    )


def compile_gain(gain, learning_rate):
    """Adam and an ``accuracy`` metric fitting the output (binary or sparse categorical)."""
    if gain.num_outputs == 1:
        accuracy = keras.metrics.BinaryAccuracy(name="accuracy")
    else:
        accuracy = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
    gain.compile(keras.optimizers.Adam(learning_rate), metrics=[accuracy])
    return gain


def train_gain(config, verbose="auto", log=print) -> RunResult:
    """Train GAIN (GAIN_ext when ``config.masks`` is set) and write its run folder; returns ``(gain, class_names, history)``.

    The run folder is :func:`tfxai.training.write_run_folder`'s, with GAIN's
    attention as the maps. With two classes the model has one sigmoid output
    and class index 1 (the second class folder, alphabetically) is the
    positive class. Raises :class:`TfxaiError` for bad data, options or a NaN
    loss; nothing is written unless training finishes.
    """
    from tfxai.data import load_labelled_images

    config.validate()
    data = load_labelled_images(config.data, config.image_size, config.channels)
    all_maps = mask_files(config.masks, data.sources, (config.image_size,) * 2) if config.masks else None  # paths; streamed
    seed_everything(config.seed)  # the same weights bit for bit for the same --seed
    train, held_out = split_run_data(data, config.validation_split, config.seed)
    gain = build_gain(config, len(data.class_names))
    compile_gain(gain, config.learning_rate)
    train_inputs = train.images
    if all_maps is not None:
        train_inputs = mask_inputs(train, data.sources, all_maps)
        log(f"GAIN_ext: {int(train_inputs['has_attention_map'].sum())} of {len(train.labels)} training images have a mask "
            f"(weight {config.map_weight})")
    train_data = make_dataset(train_inputs, train.labels, config.batch_size, True, config.seed, config.flip, config.shift)
    held_data = make_dataset(held_out.images, held_out.labels, 64) if len(held_out.labels) else None
    log(
        f"training GAIN/{config.backbone} ({gain.count_params():,} parameters, attention at {gain.layer}, "
        f"mining weight {config.mining_weight}) on {len(train.labels)} images of {len(data.class_names)} classes, {config.epochs} epochs"
    )
    samples = (held_out if len(held_out.labels) else train).first(64)
    history = run_training(
        config, gain, train_data, held_data, data.class_names, samples, verbose=verbose,
        title="tfxai GAIN attention maps", train_images=int(len(train.labels)),
    )
    return run_result(gain, history, config, config.out, class_names=data.class_names, legacy=(gain, data.class_names, history))

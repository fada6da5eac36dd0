"""Training a video model end to end: config, presets and ``train_video`` (what ``tfxai train video`` runs).

The shared steps (option checks, early stopping, NaN guard, run folder,
export) are :mod:`tfxai.training`'s; this module holds what is video's own:
the clip options, the streaming clip pipeline (:mod:`tfxai.video.data`) and
the two models, ST-ABN and its 3D ResNet baseline built with the same depth.
docs/st_abn.md has the table of thesis value | preset value | why it differs.
"""

import dataclasses
import json
import os
from typing import ClassVar

import keras
import numpy as np

from tfxai.training.determinism import seed_everything
from tfxai.errors import TfxaiError
from tfxai.training import RunConfig, run_training

__all__ = ["MODELS", "VIDEO_BACKBONES", "VideoConfig", "build_video_model", "compile_video_model", "train_video"]

MODELS = ("st_abn", "r3d")
#: --backbone name -> 3D ResNet depth
VIDEO_BACKBONES = {"r3d10": 10, "r3d18": 18, "r3d34": 34, "r3d50": 50}


@dataclasses.dataclass
class VideoConfig(RunConfig):
    """Everything ``tfxai train video`` needs (defaults: the thesis's setting where it states one).

    The thesis trains ST-ABN on a 3D ResNet-50 with 32-frame clips on
    Something-Something (174 classes), L = L_att + L_per, and evaluates two
    32-frame clips per video with their scores averaged ("32+32"). It does
    not state the input size, stride, optimiser, batch or epochs; the preset
    takes the common 3D ResNet values (112 x 112, SGD 0.01 with momentum 0.9).
    """

    model: str = "st_abn"
    out: str = "saved_models/video"
    backbone: str = "r3d50"
    weights: str = "none"
    base_width: int = 64
    image_size: int = 112
    frames: int = 32
    stride: int = 1
    clips_per_video: int = 2
    epochs: int = 50
    batch_size: int = 8
    optimizer: str = "sgd"
    learning_rate: float = 0.01
    momentum: float = 0.9
    attention_filters: int = None
    attention_convs: int = 1
    temporal_channels: int = 4
    attention_weight: float = 1.0
    perception_weight: float = 1.0

    presets: ClassVar[dict] = {}

    def check_backbone(self):
        if self.backbone not in VIDEO_BACKBONES:
            raise TfxaiError(f"unknown video backbone {self.backbone!r}: choose one of {', '.join(VIDEO_BACKBONES)}")

    def validate(self):
        super().validate()
        if self.model not in MODELS:
            raise TfxaiError(f"unknown video model {self.model!r}: choose st_abn or r3d")
        if self.weights not in ("none", None, ""):
            raise TfxaiError(f"no pretrained 3D ResNet weights are available (--weights {self.weights}): use --weights none")
        if self.shift_crop:
            raise TfxaiError("--shift-crop is for images: video clips are augmented by --augment (left-right flips) and random clip starts")
        if self.frames < 2 or self.stride < 1 or self.clips_per_video < 1:
            raise TfxaiError(
                f"--frames must be at least 2, --stride and --clips-per-video at least 1 "
                f"(got {self.frames}, {self.stride}, {self.clips_per_video})"
            )
        if self.image_size < 16:
            raise TfxaiError(f"--image-size must be at least 16 for a 3D ResNet (it reduces the frames 16 times), got {self.image_size}")
        if self.optimizer not in ("sgd", "adam"):
            raise TfxaiError(f"unknown optimizer {self.optimizer!r}: choose sgd or adam")
        return self

    @property
    def clip_shape(self):
        return (self.frames, self.image_size, self.image_size, self.channels)


VIDEO_PRESETS = {
    "thesis": {},
    "small": {
        "backbone": "r3d10",
        "base_width": 8,
        "image_size": 48,
        "frames": 16,
        "stride": 1,
        "epochs": 10,
        "batch_size": 4,
        "optimizer": "adam",
        "learning_rate": 1e-3,
        "attention_filters": 16,
    },
}
VideoConfig.presets = VIDEO_PRESETS


def build_video_model(config, num_classes):
    """ST-ABN or the 3D ResNet baseline of the config's depth, width and clip shape."""
    from tfxai.video.resnet3d import R3D
    from tfxai.video.stabn import STABN

    depth = VIDEO_BACKBONES[config.backbone]
    if config.model == "r3d":
        return R3D(num_classes, config.clip_shape, depth=depth, base_width=config.base_width)
    return STABN(num_classes, config.clip_shape, depth=depth, base_width=config.base_width, attention_filters=config.attention_filters,
                 attention_convs=config.attention_convs, temporal_channels=config.temporal_channels,
                 attention_weight=config.attention_weight, perception_weight=config.perception_weight)


def compile_video_model(model, config, num_classes):
    """Compile with the config's optimizer and top-1 (and, beyond 5 classes, top-5) accuracy."""
    from tfxai.training.optimizers import accuracy_metrics, make_optimizer

    optimizer = make_optimizer(config.optimizer, config.learning_rate, config.momentum)
    loss = None if config.model == "st_abn" else "sparse_categorical_crossentropy"
    model.compile(optimizer=optimizer, loss=loss, metrics=accuracy_metrics(num_classes))
    return model


def train_video(config, verbose="auto", log=print):
    """Train the config's video model and write its run folder; returns ``(model, class_names, history)``.

    ``metrics.json`` gets ``clip_evaluation``: the held-out videos' top-1 (top-5) from the centred clip and
    from the mean of ``config.clips_per_video`` clips, side by side (:func:`tfxai.video.evaluation.evaluate_videos`).
    """
    from tfxai.data import split_stratified
    from tfxai.video.data import check_long_enough, clip_dataset, scan_video_folder

    config.validate()
    sources, labels, class_names = scan_video_folder(config.data)
    check_long_enough(sources, config.frames, config.stride)
    seed_everything(config.seed)  # the same weights bit for bit for the same --seed
    validation = split_stratified(labels, config.validation_split, config.seed)
    train_ids, held_ids = np.flatnonzero(~validation), np.flatnonzero(validation)
    if len(train_ids) == 0:
        raise TfxaiError(f"no training videos left after a {config.validation_split} validation split: lower --validation-split")
    size = (config.image_size, config.image_size)

    def dataset(ids, training):
        return clip_dataset([sources[i] for i in ids], labels[ids], config.frames, config.stride, size, config.batch_size,
                            config.channels, training=training, seed=config.seed, augment=config.augment and training)

    model = compile_video_model(build_video_model(config, len(class_names)), config, len(class_names))
    log(f"training {config.model}/{config.backbone} ({model.count_params():,} parameters) on {len(train_ids)} videos, "
        f"clips of {config.frames} frames (stride {config.stride}), {config.epochs} epochs")
    validation_data = dataset(held_ids, False) if len(held_ids) else None
    history = run_training(config, model, dataset(train_ids, True), validation_data, class_names, verbose=verbose,
                           train_videos=int(len(train_ids)), held_out_videos=int(len(held_ids)))
    if len(held_ids):
        scores = evaluate_held_out(model, config, [sources[i] for i in held_ids], labels[held_ids], log)
        add_metrics(os.path.join(config.out, "metrics.json"), clip_evaluation=scores)
    return model, class_names, history


def evaluate_held_out(model, config, sources, labels, log=print):
    """The held-out videos scored by their centred clip and by the mean of ``config.clips_per_video`` clips (table 1's "32" and "32+32")."""
    from tfxai.video.evaluation import evaluate_videos

    scores = evaluate_videos(model, sources, labels, config.frames, config.stride, (config.image_size, config.image_size),
                             config.clips_per_video, config.channels, config.batch_size)
    for name, label in (("centre_clip", "1 clip"), ("clip_average", f"{config.clips_per_video} clips")):
        log(f"held-out videos, {label}: " + ", ".join(f"{key} {100 * value:.1f} %" for key, value in scores[name].items()))
    return scores


def add_metrics(path, **metrics):
    """Add ``metrics`` to the run folder's ``metrics.json`` (rewritten atomically)."""
    from tfxai.io import write_json

    with open(path, encoding="utf-8") as handle:
        summary = json.load(handle)
    write_json(path, {**summary, **metrics})

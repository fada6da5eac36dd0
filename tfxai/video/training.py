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

import numpy as np

from tfxai.training.determinism import seed_everything
from tfxai.errors import TfxaiError
from tfxai.training import RunConfig, run_training
from tfxai.training.config import ConfigError, option
from tfxai.video.video_presets import VIDEO_PRESETS
from tfxai.training.result import RunResult, run_result

__all__ = ["MODELS", "VIDEO_BACKBONES", "VideoConfig", "build_video_model", "compile_video_model", "train_video"]

MODELS = ("st_abn", "r3d")
#: --backbone name -> 3D ResNet depth
VIDEO_BACKBONES = {"r3d10": 10, "r3d18": 18, "r3d34": 34, "r3d50": 50}


#: What the presets are (``--preset``'s help).
VIDEO_PRESET_HELP = (
    "thesis: 3D ResNet-50, 32-frame clips at 112 px; "
    "small: 3D ResNet-10 (width 8), 16 frames at 48 px for two CPU cores."
)


@dataclasses.dataclass
class VideoConfig(RunConfig, presets=VIDEO_PRESETS, paper_preset="thesis", preset_help=VIDEO_PRESET_HELP):
    """Everything ``tfxai train video`` needs (defaults: the thesis's setting where it states one).

    The thesis trains ST-ABN on a 3D ResNet-50 with 32-frame clips on
    Something-Something (174 classes), L = L_att + L_per, and evaluates two
    32-frame clips per video with their scores averaged ("32+32"). It does
    not state the input size, stride, optimiser, batch or epochs; the preset
    takes the common 3D ResNet values (112 x 112, SGD 0.01 with momentum 0.9).
    """

    data: str = option("", "Folder with one sub-folder per class holding videos (any format OpenCV reads) or folders of frames.", required=True)
    model: str = option("st_abn", "ST-ABN or the plain 3D ResNet baseline.", choices=MODELS)
    out: str = option("saved_models/video", "Output folder (written only when training finishes).")
    backbone: str = option("r3d50", "r3d10, r3d18, r3d34 or r3d50 (3D ResNet depth).", choices=tuple(VIDEO_BACKBONES))
    weights: str = option("none", hidden=True)  # no pretrained 3D ResNet weights are available
    base_width: int = option(64, "Channels of the 3D ResNet's first stage.", minimum=1, maximum=1024)
    image_size: int = option(112, "Side of the square frames in pixels (at least 16: a 3D ResNet reduces the frames 16 times).",
                             minimum=16, maximum=1024)
    frames: int = option(32, "Frames per clip (T).", minimum=2, maximum=1024)
    stride: int = option(1, "Take every STRIDE-th frame of the video.", minimum=1, maximum=100)
    clips_per_video: int = option(2, "Clips averaged per video at evaluation (the thesis's 32+32: 2).", minimum=1, maximum=100)
    augment: str = option(None, "Random changes of training clips: none or flip (left-right mirror; random clip starts "
                          "always). Never flips by default.", choices=("none", "flip"))
    shift_crop: float = option(0.0, hidden=True, maximum=0.0)  # clips are not shifted or cropped
    epochs: int = 50
    batch_size: int = 8
    optimizer: str = option("sgd", "The optimizer.", choices=("sgd", "adam"))
    learning_rate: float = 0.01
    momentum: float = 0.9
    attention_filters: int = None
    attention_convs: int = 2  # the thesis: "複数の畳み込み層" (several conv layers) in the attention branch
    temporal_channels: int = 4
    attention_weight: float = option(1.0, "Weight of L_att (ST-ABN).", minimum=0.0)
    perception_weight: float = option(1.0, "Weight of L_per (ST-ABN).", minimum=0.0)

    def check_backbone(self):
        """The backbone is a 3D ResNet depth (checked as a choice)."""

    def validate(self):
        super().validate()
        if self.weights not in ("none", None, ""):
            raise ConfigError("weights", f"no pretrained 3D ResNet weights are available (weights {self.weights}): use weights none")
        return self

    @property
    def clip_shape(self):
        return (self.frames, self.image_size, self.image_size, self.channels)


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


def train_video(config, verbose="auto", log=print) -> RunResult:
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
                            config.channels, training=training, seed=config.seed, augment=config.flip and training)

    model = compile_video_model(build_video_model(config, len(class_names)), config, len(class_names))
    log(f"training {config.model}/{config.backbone} ({model.count_params():,} parameters) on {len(train_ids)} videos, "
        f"clips of {config.frames} frames (stride {config.stride}), {config.epochs} epochs")
    validation_data = dataset(held_ids, False) if len(held_ids) else None
    history = run_training(config, model, dataset(train_ids, True), validation_data, class_names, verbose=verbose,
                           train_videos=int(len(train_ids)), held_out_videos=int(len(held_ids)))
    if len(held_ids):
        scores = evaluate_held_out(model, config, [sources[i] for i in held_ids], labels[held_ids], log)
        add_metrics(os.path.join(config.out, "metrics.json"), clip_evaluation=scores)
    return run_result(model, history, config, config.out, class_names=class_names, legacy=(model, class_names, history))


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

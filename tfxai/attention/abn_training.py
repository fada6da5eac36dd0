"""Training ABN end to end: config, presets and ``train_abn`` (what ``tfxai train abn`` runs).

The steps shared by every training app (validation, data, split, datasets,
early stopping, run folder, export) are :mod:`tfxai.training`'s; this module
holds what is ABN's own: its model and optimiser options, fine-tuning from
``--init`` with human-edited maps, and the TensorBoard attention logger.
"""

import dataclasses

import numpy as np

from tfxai.attention.abn import ABN
from tfxai.training.determinism import seed_everything
from tfxai.errors import TfxaiError
from tfxai.attention.abn_presets import ABN_PRESETS, PAPER_SIGMAS
from tfxai.classify.backbones import get_backbone
from tfxai.training.config import ConfigError, option
from tfxai.training import RunConfig, make_dataset, run_training, split_run_data
from tfxai.training.optimizers import accuracy_metrics, make_optimizer
from tfxai.training.result import RunResult, run_result

__all__ = ["ABNConfig", "ABN_PRESETS", "PAPER_SIGMAS", "accuracy_metrics", "build_abn", "compile_abn", "make_optimizer", "train_abn"]


#: What the presets are (``--preset``'s help).
ABN_PRESET_HELP = (
    "paper: ResNet-50 at 224 px, batch 16, 300 epochs, mining+PC+COT, sigma 0.78; "
    "small: small CNN at 28 px for two CPU cores."
)


@dataclasses.dataclass
class ABNConfig(RunConfig, presets=ABN_PRESETS, preset_help=ABN_PRESET_HELP):
    """Everything ``tfxai train abn`` needs (defaults: the paper's configuration, :mod:`tfxai.attention.abn_presets`).

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

    out: str = option("saved_models/abn", "Output folder (written only when training finishes).")
    backbone: str = option("resnet50", "resnet50, mobilenet_v2, vgg16 or small_cnn.")
    weights: str = "imagenet"
    backbone_filters: tuple = None
    epochs: int = 600
    batch_size: int = 16
    optimizer: str = option("sgd", "The optimizer.", choices=("sgd", "adam"))
    learning_rate: float = 0.01
    momentum: float = 0.9
    use_mining: bool = option(True, "Attention Mining Branch.", flag="--mining/--no-mining")
    use_pc: bool = option(True, "Prototype Conformity loss.", flag="--pc/--no-pc")
    use_cot: bool = option(True, "Complement Objective Training (needs --mining).", flag="--cot/--no-cot")
    mechanism: str = None
    sigma: float = option(PAPER_SIGMAS["cub200_2010"], "Mask threshold sigma (paper: 0.78 CUB-200-2010, 0.40 Stanford Dogs).",
                          minimum=0.0, maximum=1.0)
    omega: float = option(10.0, "Mask sharpness omega.")
    mining_weight: float = option(1e-4, "Weight of L_am (paper: 1e-4).", minimum=0.0)
    pc_weight: float = option(1.0, "Weight of the Prototype Conformity loss.", minimum=0.0)
    cot_weight: float = option(1.0, "Weight of Complement Objective Training.", minimum=0.0)
    pretrain_epochs: int = option(300, "Epochs of plain ABN before mining/PC/COT start.", minimum=0)
    attention_filters: int = 512
    attention_convs: int = 3
    dropout: float = 0.0
    human_maps: str = option("", "Folder from 'tfxai attention export-maps' with edited maps (needs --init).")
    map_weight: float = option(1.0, "Weight of the map loss to the edited maps.", minimum=0.0)
    init: str = option("", "A trained ABN (.keras or folder) to fine-tune.")
    shift_crop: float = 0.1
    tensorboard: str = option("", "Log attention maps and metrics to this TensorBoard folder.")
    mask: str = "hard"
    cot_variant: str = "paper"
    pc_reduction: str = "sum"
    pc_normalize: bool = True

    backbone_lookup = staticmethod(get_backbone)  # the image backbones of tfxai.classify.backbones

    def validate(self):
        super().validate()
        if self.use_cot and not self.use_mining:
            raise ConfigError(("use_cot", "use_mining"), "use_cot works on the attention mining branch: add use_mining, or drop use_cot")
        if not self.init and (self.use_mining or self.use_pc) and self.pretrain_epochs >= self.epochs:
            raise ConfigError(
                ("pretrain_epochs", "epochs"), f"pretrain_epochs ({self.pretrain_epochs}) must be below epochs ({self.epochs}), which counts the "
                "pre-training epochs too: lower pretrain_epochs or raise epochs"
            )
        if self.human_maps and not self.init:
            raise ConfigError(("human_maps", "init"), "human_maps fine-tunes a trained model: pass it with init MODEL")
        return self


# === The method-specific steps ===


def build_abn(config, num_classes, steps_per_epoch):
    """A new ABN from ``config``, or the ``config.init`` model (with the map term when human maps are given)."""
    from tfxai.io import load_model

    pretrain_steps = int(config.pretrain_epochs) * int(steps_per_epoch)
    map_weight = float(config.map_weight) if config.human_maps else 0.0
    if config.init:
        model, _ = load_model(config.init, expect=ABN)
        if model.num_classes != num_classes:
            raise TfxaiError(f"{config.init} has {model.num_classes} classes but the data has {num_classes}: use the same classes")
        if tuple(model.image_shape) != (config.image_size, config.image_size, config.channels):
            raise TfxaiError(
                f"{config.init} takes {model.image_shape} images but --image-size/--channels give "
                f"{(config.image_size, config.image_size, config.channels)}: match the model"
            )
        changed = {**model.get_config(), "map_weight": map_weight, "pretrain_steps": 0}
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
        sigma=config.sigma,
        omega=config.omega,
        mining_weight=config.mining_weight,
        pc_weight=config.pc_weight,
        cot_weight=config.cot_weight,
        mask=config.mask,
        cot_variant=config.cot_variant,
        pc_reduction=config.pc_reduction,
        pc_normalize=config.pc_normalize,
        map_weight=map_weight,
        pretrain_steps=pretrain_steps,
        dropout=config.dropout,
    )


def compile_abn(model, config):
    """Compile with the config's optimizer (a copy drives the COT update), top-1 and, beyond 5 classes, top-5 accuracy.

    With 5 classes or fewer top-5 is always 1, so it is not reported.
    """
    model.compile(optimizer=make_optimizer(config.optimizer, config.learning_rate, config.momentum), metrics=accuracy_metrics(model.num_classes))
    return model


def train_abn(config, verbose="auto", log=print) -> RunResult:
    """Train ABN as ``config`` says and write its run folder; returns ``(model, class_names, history)``.

    The run folder is :func:`tfxai.training.write_run_folder`'s, with ABN's
    attention maps. Raises :class:`TfxaiError` for bad data, options or a NaN
    loss; nothing is written unless training finishes.
    """
    from tfxai.attention.callbacks import AttentionImageLogger
    from tfxai.attention.human import attach_attention_maps, load_edited_maps
    from tfxai.data import load_labelled_images

    config.validate()
    data = load_labelled_images(config.data, config.image_size, config.channels)
    seed_everything(config.seed)  # the same weights bit for bit for the same --seed
    train, held_out = split_run_data(data, config.validation_split, config.seed)
    train_inputs = train.images
    if config.human_maps:
        edited = load_edited_maps(config.human_maps, (config.image_size, config.image_size))
        train_inputs = attach_attention_maps(train.images, train.sources, edited, strict=False)
        used = int(train_inputs["has_attention_map"].sum())
        if used == 0:
            raise TfxaiError(f"none of the {len(edited)} edited maps in {config.human_maps} match a training image: use the same --data as for export-maps")
        log(f"fine-tuning with {used} human-edited attention maps (weight {config.map_weight})")
    steps_per_epoch = int(np.ceil(len(train.labels) / config.batch_size))
    model = build_abn(config, len(data.class_names), steps_per_epoch)
    compile_abn(model, config)
    train_data = make_dataset(train_inputs, train.labels, config.batch_size, True, config.seed, config.flip, config.shift)
    validation_data = make_dataset(held_out.images, held_out.labels, 256) if len(held_out.labels) else None
    terms = ", ".join(model.loss_term_names)
    log(f"training ABN/{config.backbone} ({model.count_params():,} parameters; losses: {terms}) on {len(train.labels)} images, {config.epochs} epochs")
    sample = held_out if len(held_out.labels) else train
    callbacks = []
    if config.tensorboard:
        picks = sample.first(16)
        callbacks.append(AttentionImageLogger(config.tensorboard, picks.images, picks.labels, data.class_names))
    history = run_training(
        config, model, train_data, validation_data, data.class_names, sample.first(64), callbacks, verbose,
        "tfxai ABN attention maps", train_images=len(train.labels),
    )
    return run_result(model, history, config, config.out, class_names=data.class_names, legacy=(model, data.class_names, history))

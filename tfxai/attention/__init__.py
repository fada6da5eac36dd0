"""Attention-guided training: ABN (+ mining branch, PC loss, COT, human-edited maps), GAIN, shared masking.

Every model here is an :class:`AttentionModel` (declared loss terms with
``<term>_weight`` hyperparameters, the soft mask's ``sigma``/``omega``, the
map-supervision dict ``{"images", "attention_maps", "has_attention_map"}``)
and an explainer (``explain(images) -> (maps, probabilities)``). Fukui 2019;
Iwayoshi et al.; Mitsuhara 2021; Li et al., CVPR 2018.
"""

from tfxai.attention.abn import ABN, AttentionBranch, AttentionMechanism
from tfxai.attention.abn_training import ABN_PRESETS, PAPER_SIGMAS, ABNConfig, train_abn
from tfxai.attention.base import MAP_KEYS, AttentionModel, map_loss
from tfxai.attention.callbacks import AttentionImageLogger
from tfxai.attention.gain import GAIN, build_gain_classifier, target_probabilities
from tfxai.attention.gain_training import GAIN_PRESETS, GAINConfig, load_mask_folder, train_gain
from tfxai.attention.human import AttentionEditor, attach_attention_maps, export_attention_maps, load_edited_maps
from tfxai.attention.losses import (
    AttentionMapLoss,
    AttentionMiningLoss,
    ComplementEntropy,
    PrototypeConformity,
    attention_map_loss,
    attention_mining_loss,
    complement_entropy,
    prototype_conformity,
)
from tfxai.attention.masking import hard_mask, mask_out, soft_mask

__all__ = [
    "ABN",
    "ABNConfig",
    "ABN_PRESETS",
    "AttentionBranch",
    "AttentionEditor",
    "AttentionImageLogger",
    "AttentionMapLoss",
    "AttentionMechanism",
    "AttentionMiningLoss",
    "AttentionModel",
    "ComplementEntropy",
    "GAIN",
    "GAINConfig",
    "GAIN_PRESETS",
    "MAP_KEYS",
    "PAPER_SIGMAS",
    "PrototypeConformity",
    "attach_attention_maps",
    "attention_map_loss",
    "attention_mining_loss",
    "build_gain_classifier",
    "complement_entropy",
    "export_attention_maps",
    "hard_mask",
    "load_edited_maps",
    "load_mask_folder",
    "map_loss",
    "mask_out",
    "prototype_conformity",
    "soft_mask",
    "target_probabilities",
    "train_abn",
    "train_gain",
]

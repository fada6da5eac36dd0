"""Attention-guided training: ABN (+ mining branch, PC loss, COT), GAIN, shared masking."""

from tfxai.attention.masking import hard_mask, mask_out, soft_mask

__all__ = ["hard_mask", "mask_out", "soft_mask"]

# --- GAIN (Li et al., CVPR 2018) ---
from tfxai.attention.gain import (  # noqa: E402
    GAIN,
    GAINConfig,
    build_gain_classifier,
    export_gain,
    load_gain,
    target_probabilities,
    train_gain,
)

__all__ += ["GAIN", "GAINConfig", "build_gain_classifier", "export_gain", "load_gain", "target_probabilities", "train_gain"]

# --- ABN, Attention Mining Branch, PC loss, COT, human-edited maps (Fukui 2019; Iwayoshi et al.; Mitsuhara 2021) ---
from tfxai.attention.abn import ABN, AttentionBranch, AttentionMechanism  # noqa: E402
from tfxai.attention.base import AttentionModel  # noqa: E402
from tfxai.attention.callbacks import AttentionImageLogger  # noqa: E402
from tfxai.attention.human import AttentionEditor, attach_attention_maps, export_attention_maps, load_edited_maps  # noqa: E402
from tfxai.attention.losses import (  # noqa: E402
    AttentionMapLoss,
    AttentionMiningLoss,
    ComplementEntropy,
    PrototypeConformity,
    attention_map_loss,
    attention_mining_loss,
    complement_entropy,
    prototype_conformity,
)
from tfxai.attention.training import ABN_PRESETS, ABNConfig, load_abn, train_abn  # noqa: E402

__all__ += [
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
    "PrototypeConformity",
    "attach_attention_maps",
    "attention_map_loss",
    "attention_mining_loss",
    "complement_entropy",
    "export_attention_maps",
    "load_abn",
    "load_edited_maps",
    "prototype_conformity",
    "train_abn",
]

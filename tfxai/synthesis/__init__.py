"""Images that drive a trained classifier to an arbitrary output, and training with them.

Hirano, Iwamura & Kise, "Generating images that drive a trained model to an
arbitrary output, and learning with them". See docs/synthesis.md.
"""

from tfxai.synthesis.generator import GenerationResult, TargetOutputGenerator, cross_entropy, kl_divergence
from tfxai.synthesis.image_weights import ImageWeights
from tfxai.synthesis.logits import logits_view
from tfxai.synthesis.losses import MixedTargetLoss, mixed_target_loss, stack_targets
from tfxai.synthesis.low_pass import LowPassFilter, low_pass_mask
from tfxai.synthesis.mapping import image_to_weights, weights_to_image
from tfxai.synthesis.mixed import (
    MixedDataset,
    build_mixed_dataset,
    flip_and_crop,
    own_and_other_targets,
    replacement_order,
)
from tfxai.synthesis.model import MixedTargetModel
from tfxai.synthesis.training import GenerateConfig, TrainMixedConfig, run_generate, run_train_mixed
from tfxai.synthesis.targets import format_distribution, load_class_names, parse_target

__all__ = [
    "GenerateConfig",
    "GenerationResult",
    "ImageWeights",
    "LowPassFilter",
    "MixedDataset",
    "MixedTargetLoss",
    "MixedTargetModel",
    "TargetOutputGenerator",
    "TrainMixedConfig",
    "build_mixed_dataset",
    "cross_entropy",
    "flip_and_crop",
    "format_distribution",
    "image_to_weights",
    "kl_divergence",
    "load_class_names",
    "logits_view",
    "low_pass_mask",
    "mixed_target_loss",
    "own_and_other_targets",
    "parse_target",
    "replacement_order",
    "run_generate",
    "run_train_mixed",
    "stack_targets",
    "weights_to_image",
]

"""Generative models: class-aware StarGAN v2 with style-transfer test-time augmentation (Imaeda),
:mod:`tfxai.gan.stargan`, and collaborative GANs with a knowledge-transfer graph (Tsukahara 2021),
:mod:`tfxai.gan.collaborative`."""

from tfxai.gan.collaborative import GATES, CollaborativeGAN, KnowledgeTransferGraph, apply_gate, build_discriminator, build_generator, gate_weight
from tfxai.gan.stargan import (
    AdaIN,
    AdainResBlock,
    Discriminator,
    Generator,
    MappingNetwork,
    ResBlock,
    StarGANv2,
    StyleEncoder,
    StyleTTA,
    copy_weights,
    update_ema,
)

__all__ = [
    "GATES",
    "AdaIN",
    "AdainResBlock",
    "CollaborativeGAN",
    "Discriminator",
    "Generator",
    "KnowledgeTransferGraph",
    "MappingNetwork",
    "ResBlock",
    "StarGANv2",
    "StyleEncoder",
    "StyleTTA",
    "apply_gate",
    "build_discriminator",
    "build_generator",
    "copy_weights",
    "gate_weight",
    "update_ema",
]

"""Generative models: class-aware StarGAN v2 with style-transfer test-time augmentation (Imaeda) and
collaborative GANs with a knowledge-transfer graph (Tsukahara 2021)."""

from tfxai.gan.collaborative import CollaborativeGAN
from tfxai.gan.dcgan import build_discriminator, build_generator
from tfxai.gan.ema import copy_weights, update_ema
from tfxai.gan.gates import GATES, apply_gate, gate_weight
from tfxai.gan.graph import KnowledgeTransferGraph
from tfxai.gan.stargan import StarGANv2
from tfxai.gan.stargan_layers import AdaIN, AdainResBlock, ResBlock
from tfxai.gan.stargan_networks import Discriminator, Generator, MappingNetwork, StyleEncoder
from tfxai.gan.stargan_tta import StyleTTA

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

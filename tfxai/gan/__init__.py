"""GAN methods: class-aware StarGAN v2 with style-transfer test-time augmentation (Imaeda)."""

from tfxai.gan.ema import copy_weights, update_ema
from tfxai.gan.stargan_layers import AdaIN, AdainResBlock, ResBlock
from tfxai.gan.stargan import StarGANv2
from tfxai.gan.stargan_networks import Discriminator, Generator, MappingNetwork, StyleEncoder
from tfxai.gan.stargan_tta import StyleTTA

__all__ = [
    "AdaIN",
    "AdainResBlock",
    "Discriminator",
    "Generator",
    "MappingNetwork",
    "ResBlock",
    "StarGANv2",
    "StyleEncoder",
    "StyleTTA",
    "copy_weights",
    "update_ema",
]

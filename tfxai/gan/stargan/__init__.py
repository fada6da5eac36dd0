"""Class-aware StarGAN v2 (Choi et al., CVPR 2020; Imaeda, thesis) and style-transfer test-time augmentation.

The model and its networks are here; the run (``tfxai train stargan``, ``tfxai tta``) is
:mod:`tfxai.gan.stargan.training`.
"""

from tfxai.gan.stargan.ema import copy_weights, update_ema
from tfxai.gan.stargan.layers import AdaIN, AdainResBlock, ResBlock
from tfxai.gan.stargan.model import OFFICIAL_TRAINING, StarGANv2, to_model_range, to_pixel_range
from tfxai.gan.stargan.networks import Discriminator, Generator, MappingNetwork, StyleEncoder
from tfxai.gan.stargan.tta import StyleTTA

__all__ = [
    "OFFICIAL_TRAINING",
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
    "to_model_range",
    "to_pixel_range",
    "update_ema",
]

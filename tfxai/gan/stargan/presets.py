"""Presets of StarGAN v2 (``tfxai train stargan --preset``): preset name -> field values of
:class:`~tfxai.gan.stargan.training.TrainStarGANConfig`.
"""

__all__ = ["STARGAN_PRESETS"]

# thesis: SynthDigits -> SVHN (32 px, 2 domains, 10 classes, N = 10) at the official StarGAN v2 width and schedule
STARGAN_PRESETS = {
    "small": {"image_size": 32, "width": "small", "batch_size": 8, "iterations": 1000},
    "thesis": {"image_size": 32, "width": "official", "batch_size": 8, "iterations": 100000},
}

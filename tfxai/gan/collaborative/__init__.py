"""Collaborative GANs through a knowledge-transfer graph (Tsukahara et al., VISAPP 2021; MAD-GAN, Ghosh et al. 2018).

The model, its DCGAN networks, gates and graph are here; the run (``tfxai train collab-gan``)
is :mod:`tfxai.gan.collaborative.training`, the gate search :mod:`tfxai.gan.collaborative.search`.
"""

from tfxai.gan.collaborative.dcgan import build_discriminator, build_generator
from tfxai.gan.collaborative.gates import GATES, apply_gate, gate_weight
from tfxai.gan.collaborative.graph import KnowledgeTransferGraph
from tfxai.gan.collaborative.model import (
    CollaborativeGAN,
    adversarial_loss,
    attention_map,
    attention_transfer_loss,
    discriminator_labels,
    discriminator_loss,
)

__all__ = [
    "GATES",
    "CollaborativeGAN",
    "KnowledgeTransferGraph",
    "adversarial_loss",
    "apply_gate",
    "attention_map",
    "attention_transfer_loss",
    "build_discriminator",
    "build_generator",
    "discriminator_labels",
    "discriminator_loss",
    "gate_weight",
]

"""Generative models: collaborative GANs with a knowledge-transfer graph (Tsukahara 2021)."""

__all__ = []

# --- collaborative GANs (issue 14) ---
from tfxai.gan.collaborative import CollaborativeGAN  # noqa: E402
from tfxai.gan.dcgan import build_discriminator, build_generator  # noqa: E402
from tfxai.gan.gates import GATES, apply_gate, gate_weight  # noqa: E402
from tfxai.gan.graph import KnowledgeTransferGraph  # noqa: E402

__all__ += ["GATES", "CollaborativeGAN", "KnowledgeTransferGraph", "apply_gate", "build_discriminator", "build_generator", "gate_weight"]

"""Presets of the collaborative GANs (``tfxai train collab-gan --preset``): preset name -> field values of
:class:`~tfxai.gan.collaborative.training.CollabGANConfig` (``thesis``: Tsukahara 2021, Sec. 4; ``small``: minutes on a CPU).
"""

__all__ = ["COLLAB_GAN_PRESETS"]

COLLAB_GAN_PRESETS = {
    # search: 1,500 trials of 50 epochs ("探索回数を 1,500", "学習回数を 50"); scoring: the common IS/FID protocol (50,000 images, 10 splits)
    "thesis": dict(image_size=64, channels=3, latent_dim=100, filters=64, transfer_weight=1000.0, epochs=200, batch_size=256, generators=3,
                   search_trials=1500, search_epochs=50, score_images=50000, score_splits=10),
    "small": dict(image_size=32, channels=1, latent_dim=64, filters=16, transfer_weight=10.0, epochs=5, batch_size=64, generators=3,
                  max_images=6000, score_images=500, score_splits=5, search_trials=20, search_epochs=5),
}

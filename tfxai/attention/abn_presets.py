"""Presets of ABN (``tfxai train abn --preset``): preset name -> field values of :class:`~tfxai.attention.abn_training.ABNConfig`.

``paper`` is the config's defaults (Iwayoshi et al.; docs/abn.md has the
table of document value | preset value | why it differs); ``small`` learns
on 28 px grey images on two CPU cores.
"""

__all__ = ["ABN_PRESETS", "PAPER_SIGMAS"]

#: The paper's mask thresholds sigma per dataset (Iwayoshi et al.).
PAPER_SIGMAS = {"cub200_2010": 0.78, "stanford_dogs": 0.40}

ABN_PRESETS = {
    "paper": {},
    "small": dict(backbone="small_cnn", weights="none", backbone_filters=(16, 32, 64), image_size=28, channels=1, epochs=5,
                  batch_size=32, optimizer="adam", learning_rate=2e-3, sigma=0.5, attention_filters=32, attention_convs=1,
                  shift_crop=0.0, pretrain_epochs=0, mask="soft", pc_reduction="mean"),
}

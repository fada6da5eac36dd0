"""Presets of GAIN (``tfxai train gain --preset``): preset name -> field values of :class:`~tfxai.attention.gain_training.GAINConfig`.

``paper`` is the config's defaults (Tomono et al.; docs/gain.md has the table
of document values against preset values); ``small`` trains a small CNN at
32x32 on two CPU cores in minutes.
"""

__all__ = ["GAIN_PRESETS"]

GAIN_PRESETS = {
    "paper": {},
    "small": dict(backbone="small_cnn", weights="none", image_size=32, hidden=(64,), frozen_convs=0, epochs=10, learning_rate=1e-3,
                  shift_crop=0.0, early_stopping=0),
}

"""Presets of the transfer-learning classifier (``tfxai train classifier --preset``): preset name -> field values.

``paper`` is :class:`~tfxai.classify.classifier.ClassifierConfig`'s defaults
(the MobileNetV2 + Grad-CAM report); ``small`` trains a small CNN at 32 px
on two CPU cores.
"""

__all__ = ["CLASSIFIER_PRESETS"]

CLASSIFIER_PRESETS = {
    "paper": {},
    "small": {"backbone": "small_cnn", "weights": "none", "image_size": 32, "epochs": 5, "batch_size": 64, "shift_crop": 0.0},
}

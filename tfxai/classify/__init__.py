"""The transfer-learning classifier feature: backbones, the classifier run, the bundled demo."""

from tfxai.classify.backbones import BACKBONES, Backbone, build_backbone, build_classifier, get_backbone
from tfxai.classify.classifier import CLASSIFIER_PRESETS, ClassifierConfig, load_classifier, save_classifier, train_classifier

__all__ = [
    "BACKBONES",
    "CLASSIFIER_PRESETS",
    "Backbone",
    "ClassifierConfig",
    "build_backbone",
    "build_classifier",
    "get_backbone",
    "load_classifier",
    "save_classifier",
    "train_classifier",
]

"""Tiny models and data shared by the synthesis tests (fixtures: --import-mode=importlib has no shared modules)."""

import keras
import numpy as np
import pytest


def _linear_classifier(size=4, channels=1, classes=3, seed=0):
    """Flatten -> Dense(softmax) with fixed random weights: a known, smooth classifier."""
    rng = np.random.default_rng(seed)
    model = keras.Sequential(
        [keras.Input((size, size, channels)), keras.layers.Flatten(), keras.layers.Dense(classes, activation="softmax")]
    )
    model.layers[-1].set_weights(
        [rng.normal(0.0, 1.0, (size * size * channels, classes)).astype("float32"), np.zeros(classes, "float32")]
    )
    return model


def _tiny_cnn(size=8, channels=1, classes=3):
    return keras.Sequential(
        [
            keras.Input((size, size, channels)),
            keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(classes, activation="softmax"),
        ]
    )


def _images(count=4, size=4, channels=1, seed=0):
    return np.random.default_rng(seed).uniform(0.2, 0.8, (count, size, size, channels)).astype("float32")


@pytest.fixture
def linear_classifier():
    return _linear_classifier


@pytest.fixture
def tiny_cnn():
    return _tiny_cnn


@pytest.fixture
def make_images():
    return _images

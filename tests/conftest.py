"""Test settings: import tfxai first (oneDNN safety), seed every test."""

import tfxai  # noqa: F401  (must precede tensorflow)

import keras
import pytest


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)
    yield
    keras.backend.clear_session()

"""Test settings: import tfxai first (oneDNN safety), seed every test, reset Keras after each."""

import tfxai  # noqa: F401  (must precede tensorflow)

import gc

import keras
import pytest


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)
    yield
    # Without the garbage collection: a full collection of TensorFlow's heap takes 0.5 s
    # (7-8 s on a loaded machine late in the suite) and ran after every test; once per module is enough.
    keras.backend.clear_session(free_memory=False)


@pytest.fixture(autouse=True, scope="module")
def _collect_garbage():
    yield
    gc.collect()

"""The shipped demo scorer: trained (accuracy on the demo test images), IS/FID order sane, packaged, bad paths one line."""

import configparser
import fnmatch
import os

import numpy as np
import pytest
import tensorflow as tf

from tfxai.data.demo import load_demo
from tfxai.errors import TfxaiError
from tfxai.gan.collaborative.training import DEMO_SCORER, DEMO_SCORER_NAME, load_scorer
from tfxai.metrics import frechet_distance, inception_score, penultimate_features

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "..")


@pytest.fixture(scope="module")
def scorer():
    model, name = load_scorer("demo")
    return model


@pytest.fixture(scope="module")
def demo():
    (x_train, _), (x_test, y_test), _ = load_demo()
    return x_train.astype(np.float32) / 127.5 - 1.0, x_test.astype(np.float32) / 127.5 - 1.0, y_test


def test_the_demo_scorer_is_named_as_not_comparable_and_small():
    _, name = load_scorer("demo")
    assert name == DEMO_SCORER_NAME and "not comparable with papers" in name
    assert os.path.getsize(DEMO_SCORER) < 300 * 1024


def test_the_demo_scorer_classifies_the_demo_test_images(scorer, demo):
    _, x_test, y_test = demo
    predictions = scorer(tf.image.resize(x_test, (32, 32)), training=False).numpy()
    assert np.mean(predictions.argmax(-1) == y_test) > 0.75  # 0.79 when built by scripts/train_demo_scorer.py; chance is 0.10


def test_inception_score_of_real_images_beats_a_constant_image(scorer, demo):
    x_train, _, _ = demo
    real, _ = inception_score(x_train[:500], scorer, splits=5)
    constant, _ = inception_score(np.zeros_like(x_train[:500]), scorer, splits=5)
    assert constant == pytest.approx(1.0, abs=1e-3) and real > 4.0


def test_frechet_distance_of_two_real_halves_is_below_real_against_noise(scorer, demo):
    x_train, _, _ = demo
    features = penultimate_features(scorer)
    noise = np.random.default_rng(0).uniform(-1, 1, x_train[:1000].shape).astype(np.float32)
    same = frechet_distance(x_train[:1000], x_train[1000:2000], features)
    assert same < 0.1 * frechet_distance(x_train[:1000], noise, features)


@pytest.mark.parametrize("path, message", [("missing.keras", "does not exist"), (__file__, "cannot load model")])
def test_a_missing_or_unreadable_scorer_is_a_one_line_error(path, message):
    with pytest.raises(TfxaiError, match=message) as caught:
        load_scorer(path)
    assert "\n" not in str(caught.value)


def test_the_package_data_ships_the_demo_scorer():
    config = configparser.ConfigParser()
    config.read(os.path.join(ROOT, "setup.cfg"))
    patterns = [p.strip() for p in config["options.package_data"].get("tfxai.gan.collaborative", "").replace(",", "\n").split()]
    assert any(fnmatch.fnmatch(os.path.basename(DEMO_SCORER), p) for p in patterns), patterns

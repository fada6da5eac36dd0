"""The mode-collapse measure: pairwise distances against a loop, constant generators flagged, real images not."""

import itertools

import numpy as np
import pytest

from tfxai.data.demo import load_demo
from tfxai.errors import TfxaiError
from tfxai.gan.collaborative.collapse import COLLAPSE_THRESHOLD, collapse_report, collapse_warning, diversity_ratio, mean_pairwise_distance


@pytest.fixture(scope="module")
def real():
    (x_train, _), _, _ = load_demo()
    return x_train[:512].astype(np.float32) / 127.5 - 1.0


def test_mean_pairwise_distance_matches_a_loop_over_pairs():
    images = np.random.default_rng(0).normal(size=(7, 3, 3, 1))
    expected = np.mean([np.linalg.norm(a - b) for a, b in itertools.combinations(images.reshape(7, -1), 2)])
    assert mean_pairwise_distance(images) == pytest.approx(expected, rel=1e-9)


def test_a_generator_drawing_one_constant_image_is_flagged_and_named(real):
    constant = np.full((1, 256, 28, 28, 1), 0.3, np.float32)
    report = collapse_report(np.concatenate([real[None, 256:], constant]), real[:256])
    assert report["diversity"][1] == pytest.approx(0.0, abs=1e-6) and report["collapsed"] == [False, True]
    warning = collapse_warning(report)
    assert warning.startswith("warning: mode collapse: G2 (0.00)") and "G1" not in warning and "\n" not in warning


def test_real_images_against_other_real_images_are_not_flagged(real):
    ratio = diversity_ratio(real[:256], real[256:])
    assert 0.9 < ratio < 1.1 and ratio > COLLAPSE_THRESHOLD
    assert collapse_warning(collapse_report(real[None, :256], real[256:])) is None


def test_one_repeated_texture_with_small_noise_is_flagged(real):
    texture = np.tile(real[:1], (256, 1, 1, 1)) + np.random.default_rng(0).normal(0, 0.05, (256, 28, 28, 1))
    assert collapse_report(texture[None], real)["collapsed"] == [True]


def test_fewer_than_two_images_is_a_one_line_error():
    with pytest.raises(TfxaiError, match="at least 2 images"):
        mean_pairwise_distance(np.zeros((1, 4, 4, 1)))

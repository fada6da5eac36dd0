"""Inception Score and FID against analytic values and a reference computed another way."""

import keras
import numpy as np
import pytest
import scipy.linalg

from tfxai.errors import TfxaiError
from tfxai.metrics import (
    frechet_distance,
    gaussian_frechet_distance,
    inception_score,
    inception_score_from_probabilities,
    penultimate_features,
)


@pytest.mark.parametrize("classes", [1, 3, 7])
def test_inception_score_of_one_hot_predictions_is_the_number_of_equally_used_classes(classes):
    probabilities = np.eye(10)[np.arange(84) % classes]
    assert inception_score_from_probabilities(probabilities)[0] == pytest.approx(classes, rel=1e-6)


def test_inception_score_of_uniform_predictions_is_one_and_splits_give_a_spread():
    assert inception_score_from_probabilities(np.full((20, 5), 0.2))[0] == pytest.approx(1.0)
    mean, std = inception_score_from_probabilities(np.eye(4)[[0, 1, 2, 3, 0, 0, 0, 0]], splits=2)
    assert mean == pytest.approx((4 + 1) / 2) and std == pytest.approx(1.5)


def test_frechet_distance_of_a_set_with_itself_is_zero():
    features = np.random.default_rng(0).normal(size=(50, 6))
    mean, cov = features.mean(0), np.cov(features, rowvar=False)
    assert gaussian_frechet_distance(mean, cov, mean, cov) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_matches_the_closed_form_and_scipy_sqrtm():
    # diagonal Gaussians: |m1 - m2|^2 + sum (s1 - s2)^2
    m1, m2, s1, s2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0]), np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 1.0])
    expected = np.sum((m1 - m2) ** 2) + np.sum((s1 - s2) ** 2)
    assert gaussian_frechet_distance(m1, np.diag(s1 ** 2), m2, np.diag(s2 ** 2)) == pytest.approx(expected)
    # full covariances, one of them singular: scipy's sqrtm of the product as the reference
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(5, 5)), rng.normal(size=(5, 3))
    c1, c2 = a @ a.T, b @ b.T
    reference = np.sum((m1[:1] - m2[:1]) ** 2) + np.trace(c1 + c2) - 2 * np.real(np.trace(scipy.linalg.sqrtm(c1 @ c2)))
    assert gaussian_frechet_distance(m1[:1], c1, m2[:1], c2) == pytest.approx(reference, rel=1e-6)


def test_scores_with_a_users_classifier_and_its_features():
    keras.utils.set_random_seed(0)
    classifier = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(6, activation="relu"),
                                   keras.layers.Dense(3, activation="softmax")])
    images = np.random.default_rng(0).uniform(size=(20, 16, 16, 1)).astype(np.float32)  # resized to 8x8
    mean, _ = inception_score(images, classifier)
    assert 1.0 <= mean <= 3.0
    features = penultimate_features(classifier)
    assert features.output_shape == (None, 6)
    assert frechet_distance(images, images, features) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(images, images + 1.0, features) > 0.0
    with pytest.raises(TfxaiError, match="not probabilities"):
        inception_score(images, features)
    with pytest.raises(TfxaiError, match="at least 2 images"):
        frechet_distance(images[:1], images, features)

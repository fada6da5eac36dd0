import numpy as np

import tfxai  # noqa: F401
from tfxai.synthesis import image_to_weights, weights_to_image


def test_mapping_and_inverse_round_trip_an_image():
    image = np.random.default_rng(0).uniform(0.01, 0.99, (2, 5, 5, 3)).astype("float32")
    back = np.asarray(weights_to_image(image_to_weights(image)))
    np.testing.assert_allclose(back, image, atol=1e-5)


def test_mapping_is_the_papers_formula():
    x = np.array([0.25, 0.5, 0.75], "float32")
    np.testing.assert_allclose(np.asarray(image_to_weights(x)), np.tan((x - 0.5) * np.pi), rtol=1e-5, atol=1e-6)
    w = np.array([-3.0, 0.0, 2.0], "float32")
    np.testing.assert_allclose(np.asarray(weights_to_image(w)), np.arctan(w) / np.pi + 0.5, rtol=1e-6)


def test_black_and_white_pixels_are_clipped_to_finite_weights():
    weights = np.asarray(image_to_weights(np.array([0.0, 1.0], "float32"), epsilon=1e-3))
    assert np.all(np.isfinite(weights))
    np.testing.assert_allclose(np.asarray(weights_to_image(weights)), [1e-3, 1 - 1e-3], atol=1e-6)
    # Any weight maps back inside (0, 1).
    extreme = np.asarray(weights_to_image(np.array([-1e9, 1e9], "float32")))
    assert np.all((extreme >= 0) & (extreme <= 1))

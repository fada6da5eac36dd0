import numpy as np

import tfxai  # noqa: F401
from tfxai.synthesis import LowPassFilter, low_pass_mask
from tfxai.testing import assert_config_round_trip


def _radii(size):
    f = np.fft.fftfreq(size) * size
    return np.sqrt(f[:, None] ** 2 + f[None, :] ** 2)


def test_filter_removes_frequencies_above_the_radius_and_keeps_the_rest():
    size, radius = 16, 5
    x = np.random.default_rng(0).random((2, size, size, 3)).astype("float32")
    y = np.asarray(LowPassFilter(radius)(x))
    assert y.shape == x.shape
    spectrum_in = np.fft.fft2(np.moveaxis(x, -1, 1))
    spectrum_out = np.fft.fft2(np.moveaxis(y, -1, 1))
    outside = _radii(size) > radius
    assert np.abs(spectrum_out[..., outside]).max() < 1e-3
    np.testing.assert_allclose(spectrum_out[..., ~outside], spectrum_in[..., ~outside], atol=1e-3)
    assert outside.sum() > 0 and (~outside).sum() > 1


def test_filter_is_idempotent_and_keeps_constant_images():
    x = np.full((1, 8, 8, 1), 0.3, "float32")
    layer = LowPassFilter(2)
    np.testing.assert_allclose(np.asarray(layer(x)), x, atol=1e-6)
    noise = np.random.default_rng(1).random((1, 8, 8, 1)).astype("float32")
    once = np.asarray(layer(noise))
    np.testing.assert_allclose(np.asarray(layer(once)), once, atol=1e-5)


def test_mask_matches_radius_on_the_papers_32_by_32():
    mask = low_pass_mask(32, 32, 10)
    np.testing.assert_array_equal(mask, (_radii(32) <= 10).astype("float32"))
    assert mask[0, 0] == 1 and mask[0, 11] == 0


def test_config_round_trip():
    x = np.random.default_rng(0).random((1, 8, 8, 1)).astype("float32")
    clone = assert_config_round_trip(LowPassFilter(3.5), x)
    assert clone.radius == 3.5

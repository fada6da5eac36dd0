"""The shared soft mask T(A) = sigmoid(omega (A - sigma)) and I* = I - T(A) * I (GAIN, ABN mining branch)."""

import tfxai  # noqa: F401  (before tensorflow)

import numpy as np
import pytest
import tensorflow as tf

from tfxai.attention import hard_mask, mask_out, soft_mask
from tfxai.errors import TfxaiError


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def test_soft_mask_values_match_the_formula():
    attention = np.linspace(0.0, 1.0, 11, dtype=np.float32)
    mask = soft_mask(attention, sigma=0.5, omega=10.0).numpy()
    np.testing.assert_allclose(mask, _sigmoid(10.0 * (attention - 0.5)), rtol=1e-6)
    assert mask[5] == 0.5  # T(sigma) = 1/2
    assert np.all(np.diff(mask) > 0)  # monotone in A
    assert mask[0] < 0.007 and mask[-1] > 0.993  # close to a hard threshold at omega = 10


def test_soft_mask_sharpness_and_threshold():
    attention = np.array([0.2, 0.4, 0.6], np.float32)
    sharp = soft_mask(attention, sigma=0.4, omega=100.0).numpy()
    np.testing.assert_allclose(sharp, [0.0, 0.5, 1.0], atol=1e-6)


def test_soft_mask_gradient_is_omega_t_one_minus_t():
    attention = tf.constant(np.linspace(0.0, 1.0, 7, dtype=np.float32))
    with tf.GradientTape() as tape:
        tape.watch(attention)
        mask = soft_mask(attention, sigma=0.3, omega=8.0)
    gradient = tape.gradient(mask, attention).numpy()
    t = mask.numpy()
    np.testing.assert_allclose(gradient, 8.0 * t * (1.0 - t), rtol=1e-5)


def test_mask_out_is_image_minus_t_times_image_for_a_known_map():
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (2, 4, 4, 3)).astype(np.float32)
    attention = np.zeros((2, 4, 4), np.float32)
    attention[0, :2, :2] = 1.0  # top-left quadrant of image 0
    attention[1] = 0.5  # everything at the threshold for image 1
    masked = mask_out(images, attention, sigma=0.5, omega=10.0).numpy()
    t = _sigmoid(10.0 * (attention - 0.5))[..., None]
    np.testing.assert_allclose(masked, images - t * images, rtol=1e-5)
    np.testing.assert_allclose(masked[1], images[1] / 2, rtol=1e-5)
    assert np.all(masked[0, :2, :2] < 0.007 * images[0, :2, :2] + 1e-6)  # attended region erased
    assert np.all(masked[0, 2:, 2:] > 0.99 * images[0, 2:, 2:])  # the rest kept


def test_mask_out_accepts_channel_maps_and_resizes_bilinearly():
    images = np.ones((1, 8, 8, 2), np.float32)
    attention = np.zeros((1, 4, 4, 1), np.float32)
    attention[0, :, :2] = 1.0
    masked = mask_out(images, attention).numpy()
    resized = tf.image.resize(attention, (8, 8), method="bilinear").numpy()
    np.testing.assert_allclose(masked, images - _sigmoid(10.0 * (resized - 0.5)) * images, rtol=1e-5)
    np.testing.assert_allclose(masked[..., 0], masked[..., 1])  # one mask for all channels


def test_mask_out_gradient_with_respect_to_attention():
    images = tf.constant(np.full((1, 3, 3, 1), 2.0, np.float32))
    attention = tf.constant(np.linspace(0, 1, 9, dtype=np.float32).reshape(1, 3, 3))
    with tf.GradientTape() as tape:
        tape.watch(attention)
        total = tf.reduce_sum(mask_out(images, attention, sigma=0.5, omega=10.0))
    t = soft_mask(attention).numpy()
    np.testing.assert_allclose(tape.gradient(total, attention).numpy(), -2.0 * 10.0 * t * (1 - t), rtol=1e-5)


# === The hard mask (the paper's binarisation, straight-through gradient) ===


def test_hard_mask_forward_is_exactly_the_threshold():
    attention = np.array([0.0, 0.3, 0.4999, 0.5, 0.5001, 0.78, 1.0], np.float32)
    mask = hard_mask(attention, sigma=0.5, omega=10.0).numpy()
    np.testing.assert_array_equal(mask, (attention > 0.5).astype(np.float32))  # exactly 0 or 1, not approximately
    assert set(np.unique(mask)) == {0.0, 1.0}
    rng = np.random.default_rng(0)
    images = rng.uniform(1, 255, (2, 4, 4, 3)).astype(np.float32)
    maps = rng.uniform(size=(2, 4, 4)).astype(np.float32)
    masked = mask_out(images, maps, sigma=0.4, omega=10.0, kind="hard").numpy()
    keep = (maps <= 0.4)[..., None]
    np.testing.assert_array_equal(masked, np.where(keep, images, 0.0))  # covered pixels fully erased, the rest untouched


def test_hard_mask_gradient_is_the_soft_masks():
    attention = tf.constant(np.linspace(0.0, 1.0, 9, dtype=np.float32))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(attention)
        hard = hard_mask(attention, sigma=0.6, omega=8.0)
        soft = soft_mask(attention, sigma=0.6, omega=8.0)
    gradient = tape.gradient(hard, attention).numpy()
    assert np.all(gradient > 0)  # M still learns through the binarised mask
    np.testing.assert_allclose(gradient, tape.gradient(soft, attention).numpy(), rtol=1e-6)
    images = tf.constant(np.full((1, 3, 3, 1), 2.0, np.float32))
    maps = tf.reshape(attention, (1, 3, 3))
    with tf.GradientTape() as tape:
        tape.watch(maps)
        total = tf.reduce_sum(mask_out(images, maps, sigma=0.6, omega=8.0, kind="hard"))
    t = soft_mask(maps, 0.6, 8.0).numpy()
    np.testing.assert_allclose(tape.gradient(total, maps).numpy(), -2.0 * 8.0 * t * (1 - t), rtol=1e-5)


def test_unknown_mask_kind_is_an_error():
    with pytest.raises(TfxaiError, match="unknown mask kind 'binary'"):
        mask_out(np.ones((1, 2, 2, 1), np.float32), np.ones((1, 2, 2), np.float32), kind="binary")

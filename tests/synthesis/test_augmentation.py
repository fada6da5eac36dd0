"""flip_and_crop gives exactly the listed flip/shift variants of an image, and more than one of them."""

import numpy as np
import tensorflow as tf

from tfxai.synthesis.mixed import flip_and_crop


def _variants(image, padding):
    """Every horizontal flip x crop of the zero-padded image, computed with numpy."""
    h, w, _ = image.shape
    out = []
    for flipped in (image, image[:, ::-1]):
        padded = np.pad(flipped, ((padding, padding), (padding, padding), (0, 0)))
        out += [padded[dy : dy + h, dx : dx + w] for dy in range(2 * padding + 1) for dx in range(2 * padding + 1)]
    return np.stack(out)


def test_every_output_is_one_of_the_flip_and_shift_variants_and_several_occur():
    tf.random.set_seed(0)
    image = np.random.default_rng(0).random((6, 5, 2)).astype("float32")
    variants = _variants(image, 2)
    seen = set()
    for _ in range(60):
        out = flip_and_crop(tf.constant(image), padding=2).numpy()
        assert out.shape == image.shape
        distances = np.abs(variants - out[None]).reshape(len(variants), -1).max(axis=1)
        assert distances.min() == 0.0
        seen.add(int(np.argmin(distances)))
    assert len(seen) > 10  # not the identity: flips and shifts really happen
    assert any(index >= 25 for index in seen) and any(index < 25 for index in seen)  # both flipped and not


def test_no_padding_only_flips():
    tf.random.set_seed(1)
    image = np.arange(12, dtype="float32").reshape(2, 3, 2)
    outputs = {flip_and_crop(tf.constant(image), padding=0).numpy().tobytes() for _ in range(30)}
    assert outputs == {image.tobytes(), image[:, ::-1].tobytes()}

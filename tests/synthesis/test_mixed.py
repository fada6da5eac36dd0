import numpy as np
import pytest
import tensorflow as tf

import tfxai  # noqa: F401
from tfxai.errors import TfxaiError
from tfxai.synthesis import build_mixed_dataset, own_and_other_targets, replacement_order


def _set(count=20, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.2, 0.8, (count, 4, 4, 1)).astype("float32"), rng.integers(0, 3, count)


def test_replaces_the_fraction_with_own_09_other_01_targets(linear_classifier):
    images, labels = _set()
    teacher = linear_classifier()
    mixed = build_mixed_dataset(images, labels, teacher, 0.25, seed=3, steps=20)
    assert len(mixed.replaced) == 5 and mixed.generated.sum() == 5 and mixed.fraction == 0.25
    np.testing.assert_array_equal(mixed.labels, labels)
    keep = ~mixed.generated
    np.testing.assert_array_equal(mixed.images[keep], images[keep])
    np.testing.assert_array_equal(mixed.soft_targets[keep], np.eye(3)[labels[keep]])
    np.testing.assert_array_equal(mixed.originals, images[mixed.replaced])
    design = mixed.design_targets
    rows = np.arange(5)
    np.testing.assert_allclose(design[rows, labels[mixed.replaced]], 0.9)
    assert np.all((design > 0).sum(axis=1) == 2) and np.allclose(design.sum(axis=1), 1)
    # q is the teacher's output on the generated image.
    np.testing.assert_allclose(
        mixed.soft_targets[mixed.replaced], teacher.predict(mixed.images[mixed.replaced], verbose=0), atol=1e-5
    )
    assert np.all(np.any(mixed.images[mixed.replaced] != images[mixed.replaced], axis=(1, 2, 3)))


def test_smaller_fraction_with_the_same_seed_is_a_prefix(linear_classifier):
    images, labels = _set()
    teacher = linear_classifier()
    big = build_mixed_dataset(images, labels, teacher, 0.5, seed=1, steps=10)
    small = build_mixed_dataset(images, labels, teacher, 0.2, seed=1, steps=10)
    restricted = big.with_fraction(0.2)
    np.testing.assert_array_equal(restricted.replaced, small.replaced)
    np.testing.assert_allclose(restricted.images, small.images, atol=1e-5)
    np.testing.assert_allclose(restricted.soft_targets, small.soft_targets, atol=1e-5)
    np.testing.assert_array_equal(replacement_order(20, 1)[:4], small.replaced)
    with pytest.raises(TfxaiError, match="larger fraction"):
        small.with_fraction(0.5)


def test_fraction_zero_is_the_original_set(linear_classifier):
    images, labels = _set()
    mixed = build_mixed_dataset(images, labels, linear_classifier(), 0.0)
    np.testing.assert_array_equal(mixed.images, images)
    assert len(mixed.replaced) == 0


def test_generated_images_are_not_augmented_by_default(linear_classifier):
    images, labels = _set(8)
    mixed = build_mixed_dataset(images, labels, linear_classifier(), 0.5, steps=5)
    invert = lambda image, key: 1.0 - image  # noqa: E731  (a visible, deterministic "augmentation")
    seen = np.concatenate([x for x, _ in mixed.as_dataset(4, invert, shuffle=False).as_numpy_iterator()])
    generated = mixed.generated
    np.testing.assert_allclose(seen[generated], mixed.images[generated])
    np.testing.assert_allclose(seen[~generated], 1.0 - mixed.images[~generated])
    everything = np.concatenate(
        [x for x, _ in mixed.as_dataset(4, invert, augment_generated=True, shuffle=False).as_numpy_iterator()]
    )
    np.testing.assert_allclose(everything, 1.0 - mixed.images)
    _, (batch_labels, batch_soft) = next(iter(mixed.as_dataset(8, shuffle=False)))
    np.testing.assert_array_equal(batch_labels.numpy(), labels)
    np.testing.assert_allclose(batch_soft.numpy(), mixed.soft_targets)


def test_own_and_other_targets():
    targets, others = own_and_other_targets([0, 1, 2, 2], 3, rng=0)
    assert np.all(others != [0, 1, 2, 2])
    np.testing.assert_allclose(targets.sum(axis=1), 1.0)
    np.testing.assert_allclose(targets[np.arange(4), [0, 1, 2, 2]], 0.9)


def test_bad_input(linear_classifier):
    images, labels = _set(4)
    with pytest.raises(TfxaiError, match="between 0 and 1"):
        build_mixed_dataset(images, labels, linear_classifier(), 1.5)
    with pytest.raises(TfxaiError, match="labels must lie"):
        build_mixed_dataset(images, labels + 5, linear_classifier(), 0.5)


def test_make_preprocessing_scales_then_normalizes_per_channel():
    from tfxai.synthesis.training import make_preprocessing

    x = np.random.default_rng(0).random((2, 3, 3, 3)).astype("float32")
    both = make_preprocessing(255.0, (100.0, 120.0, 140.0), (50.0, 60.0, 70.0), channels=3)
    expected = (x * 255.0 - np.array([100.0, 120.0, 140.0])) / np.array([50.0, 60.0, 70.0])
    np.testing.assert_allclose(both(x), expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(make_preprocessing(2.0)(x), 2.0 * x, rtol=1e-6)
    np.testing.assert_allclose(make_preprocessing(mean=(0.5,), channels=3)(x), x - 0.5, atol=1e-6)
    assert make_preprocessing() is None
    with pytest.raises(TfxaiError, match="--std has 2 values but the model takes 3 channels"):
        make_preprocessing(std=(1.0, 2.0), channels=3)


def test_augmentation_draws_are_keyed_by_seed_epoch_and_position_so_a_resumed_epoch_repeats(linear_classifier):
    from tfxai.synthesis.mixed import flip_and_crop
    from tfxai.training.resume import epoch_variable

    images, labels = _set(8)
    mixed = build_mixed_dataset(images, labels, linear_classifier(), 0.0)
    augment = lambda image, key: flip_and_crop(image, 2, True, key)  # noqa: E731

    def epoch(number, seed=0):
        epoch_variable().assign(number)
        return np.concatenate([x for x, _ in mixed.as_dataset(4, augment, shuffle=False, seed=seed).as_numpy_iterator()])

    try:
        first = epoch(3)
        tf.random.set_seed(123)  # the global generator plays no part
        np.testing.assert_array_equal(epoch(3), first)  # the same epoch again (a resume) draws the same flips and crops
        assert not np.array_equal(epoch(4), first)  # another epoch, other draws
        assert not np.array_equal(epoch(3, seed=1), first)  # another seed, other draws
    finally:
        epoch_variable().assign(0)

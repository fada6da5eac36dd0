import json

import keras
import numpy as np
import pytest

import tfxai  # noqa: F401
from tfxai.errors import TfxaiError
from tfxai.synthesis import GenerationResult, TargetOutputGenerator, logits_view

TARGETS = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4], [0.05, 0.05, 0.9]], "float32")


def _kl(targets, outputs):
    return np.sum(targets * (np.log(targets) - np.log(outputs)), axis=1)


def test_reaches_the_target_distribution_of_a_known_linear_classifier(linear_classifier, make_images):
    model = linear_classifier()
    weights_before = [w.copy() for w in model.get_weights()]
    result = TargetOutputGenerator(model, optimizer="momentum", steps=100).generate(make_images(4), TARGETS)
    assert isinstance(result, GenerationResult)
    assert result.images.shape == (4, 4, 4, 1)
    assert np.all((result.images >= 0) & (result.images <= 1))
    assert np.all(result.kl < 0.01), result.kl
    # Reported outputs and KL are the classifier's on the returned images.
    np.testing.assert_allclose(result.outputs, model.predict(result.images, verbose=0), atol=1e-5)
    np.testing.assert_allclose(result.kl, _kl(TARGETS, result.outputs), atol=1e-5)
    assert result.top_k_match(1).all()
    # The classifier is frozen: its weights are unchanged.
    for before, after in zip(weights_before, model.get_weights()):
        np.testing.assert_array_equal(before, after)


def test_plain_sgd_reduces_kl_and_stops_at_tolerance(linear_classifier, make_images):
    model = linear_classifier()
    start = model.predict(make_images(4), verbose=0)
    result = TargetOutputGenerator(model, optimizer="sgd", steps=300, tolerance=0.02).generate(make_images(4), TARGETS)
    assert np.all(result.kl < _kl(TARGETS, start))
    assert np.all(result.kl[result.steps < 300] <= 0.02)
    assert np.any(result.steps < 300)


def test_batch_items_are_independent(linear_classifier, make_images):
    model = linear_classifier()
    generator = TargetOutputGenerator(model, optimizer="momentum", steps=30, tolerance=0.05)
    x = make_images(4)
    first = generator.generate(x, TARGETS)
    changed = TARGETS.copy()
    changed[2] = [0.0, 0.5, 0.5]
    second = generator.generate(x, changed)
    same = [0, 1, 3]
    np.testing.assert_allclose(second.images[same], first.images[same], atol=1e-6)
    np.testing.assert_array_equal(second.steps[same], first.steps[same])
    assert np.abs(second.images[2] - first.images[2]).max() > 1e-3
    # Each batch item equals the image generated alone.
    alone = generator.generate(x[2:3], changed[2:3])
    np.testing.assert_allclose(alone.images[0], second.images[2], atol=1e-5)
    assert alone.steps[0] == second.steps[2]


def test_chunks_and_padding_give_the_same_images(linear_classifier, make_images):
    model = linear_classifier()
    x = make_images(5)
    targets = np.concatenate([TARGETS, TARGETS[:1]])
    whole = TargetOutputGenerator(model, steps=20).generate(x, targets)
    chunked = TargetOutputGenerator(model, steps=20, batch_size=2).generate(x, targets)
    np.testing.assert_allclose(chunked.images, whole.images, atol=1e-6)


def test_kl_and_cross_entropy_losses_give_the_same_images(linear_classifier, make_images):
    model = linear_classifier()
    kl = TargetOutputGenerator(model, steps=10, loss="kl").generate(make_images(2), TARGETS[:2])
    ce = TargetOutputGenerator(model, steps=10, loss="cross_entropy").generate(make_images(2), TARGETS[:2])
    np.testing.assert_allclose(kl.images, ce.images, atol=1e-6)


def test_low_pass_generation_returns_filtered_images(tiny_cnn):
    model = tiny_cnn()
    x = np.random.default_rng(0).random((2, 8, 8, 1)).astype("float32")
    target = np.array([0.5, 0.5, 0.0], "float32")
    result = TargetOutputGenerator(model, optimizer="momentum", steps=5, low_pass_radius=1.5).generate(x, target)
    spectrum = np.fft.fft2(result.images[..., 0])
    f = np.fft.fftfreq(8) * 8
    outside = np.sqrt(f[:, None] ** 2 + f[None, :] ** 2) > 1.5
    # Smooth images (clipping aside): almost no energy above the radius, unlike the noisy start.
    assert np.abs(spectrum[:, outside]).max() < 0.05 * np.abs(np.fft.fft2(x[..., 0])[:, outside]).max()
    np.testing.assert_allclose(result.outputs, model.predict(result.images, verbose=0), atol=1e-5)


def test_preprocessing_is_applied_between_image_and_classifier(linear_classifier, make_images):
    model = linear_classifier()
    generator = TargetOutputGenerator(model, steps=0, preprocessing=keras.layers.Rescaling(2.0, offset=-1.0))
    x = make_images(2)
    np.testing.assert_allclose(generator.predict(x), model.predict(2 * x - 1, verbose=0), atol=1e-5)
    result = generator.generate(x, TARGETS[:2])
    np.testing.assert_allclose(result.images, x, atol=1e-5)  # no steps: the image is unchanged
    np.testing.assert_allclose(result.outputs, model.predict(2 * x - 1, verbose=0), atol=1e-5)


def test_logits_view_recovers_logits_of_a_saturated_softmax():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, activation="softmax")])
    model.layers[-1].set_weights([np.array([[200.0, 0.0], [0.0, 0.0]], "float32"), np.zeros(2, "float32")])
    view = logits_view(model)
    np.testing.assert_allclose(np.asarray(view(np.array([[1.0, 0.0]], "float32"))), [[200.0, 0.0]], atol=1e-4)
    assert logits_view(keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])) is None


def test_generator_moves_a_confident_classifier_off_one_hot(linear_classifier, make_images):
    model = linear_classifier()
    w, b = model.layers[-1].get_weights()
    model.layers[-1].set_weights([w * 40.0, b])  # softmax saturates: p(other) underflows float32
    x = make_images(1)
    assert model.predict(x, verbose=0).max() > 1 - 1e-7
    top = int(np.argmax(model.predict(x, verbose=0)))
    target = np.full(3, 0.05, "float32")
    target[top] = 0.9
    result = TargetOutputGenerator(model, optimizer="momentum", steps=200).generate(x, target)
    assert result.kl[0] < 0.05


def test_config_round_trip(linear_classifier):
    generator = TargetOutputGenerator(
        linear_classifier(), optimizer="momentum", steps=7, tolerance=0.1, low_pass_radius=3,
        preprocessing=keras.layers.Rescaling(255.0),
    )
    config = generator.get_config()
    json.dumps(config)
    clone = TargetOutputGenerator.from_config(config)
    for key in ("optimizer", "steps", "tolerance", "low_pass_radius", "learning_rate", "weight_decay", "batch_size"):
        assert getattr(clone, key) == getattr(generator, key)
    assert isinstance(clone.preprocessing, keras.layers.Rescaling) and clone.preprocessing.scale == 255.0
    assert clone.classifier.count_params() == generator.classifier.count_params()


@pytest.mark.parametrize(
    "images, targets, message",
    [
        (np.full((1, 4, 4, 1), 2.0, "float32"), [0.5, 0.5, 0.0], "values in \\[0, 1\\]"),
        (np.full((4, 4, 1), 0.5, "float32"), [0.5, 0.5, 0.0], "shape \\(n, height"),
        (np.full((1, 4, 4, 1), 0.5, "float32"), [0.5, 0.6, 0.0], "sum to 1"),
        (np.full((1, 4, 4, 1), 0.5, "float32"), [0.5, 0.5], "one probability per class"),
    ],
)
def test_bad_input_is_a_one_line_error(linear_classifier, images, targets, message):
    with pytest.raises(TfxaiError, match=message) as error:
        TargetOutputGenerator(linear_classifier(), steps=1).generate(images, targets)
    assert "\n" not in str(error.value)


def test_bad_settings_are_errors(linear_classifier):
    with pytest.raises(TfxaiError, match="unknown optimizer"):
        TargetOutputGenerator(linear_classifier(), optimizer="adam")
    with pytest.raises(TfxaiError, match="unknown loss"):
        TargetOutputGenerator(linear_classifier(), loss="mse")


def _numpy_generation(kernel, x, targets, steps, learning_rate, momentum, weight_decay):
    """The update rule computed by hand for Flatten -> Dense(softmax, no bias): v = mu v + g + lambda w; w -= lr v."""
    w = np.tan((x.reshape(len(x), -1).astype("float64") - 0.5) * np.pi)
    v = np.zeros_like(w)
    for _ in range(steps):
        pixels = np.arctan(w) / np.pi + 0.5
        logits = pixels @ kernel
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        # d KL(t || softmax(z)) / dz = p - t; dz/dx = kernel; dx/dw = 1 / (pi (1 + w^2)).
        gradient = ((p - targets) @ kernel.T) / (np.pi * (1.0 + w**2))
        v = momentum * v + gradient + weight_decay * w
        w = w - learning_rate * v
    return (np.arctan(w) / np.pi + 0.5).reshape(x.shape)


@pytest.mark.parametrize("optimizer, momentum", [("momentum", 0.9), ("sgd", 0.0)])
def test_two_updates_equal_the_hand_computed_rule(linear_classifier, make_images, optimizer, momentum):
    # Weight decay and learning rate large enough that a wrong formula (decay not coupled, lr applied twice,
    # momentum on the wrong term) moves the images measurably.
    model = linear_classifier()
    kernel = model.layers[-1].get_weights()[0].astype("float64")
    x = make_images(4)
    generator = TargetOutputGenerator(
        model, optimizer=optimizer, learning_rate=0.5, momentum=0.9, weight_decay=0.05, steps=2
    )
    result = generator.generate(x, TARGETS)
    expected = _numpy_generation(kernel, x, TARGETS.astype("float64"), 2, 0.5, momentum, 0.05)
    assert np.abs(expected - x).max() > 1e-2  # the two updates really move the images
    np.testing.assert_allclose(result.images, expected, atol=2e-5)

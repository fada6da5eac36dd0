"""Models that squash their scores in a separate layer are explained on the scores before the squash.

Reference for every case: the same weights as ``Dense(activation="softmax")`` (or ``"sigmoid"``),
which tfxai already explains on the pre-activation scores (checked by hand in test_cam.py).
"""

import keras
import numpy as np
import pytest

from tfxai.explain import CAM, GradCAM, GradCAMPlusPlus, saliency
from tfxai.explain.layers import output_activation, pre_activation_view, score_layer
from tfxai.synthesis import logits_view

SIZE = 12


def _trunk(inputs):
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    return keras.layers.GlobalAveragePooling2D(name="gap")(x)


def fused(activation="softmax", classes=3):
    """The reference: the squash inside the Dense layer."""
    inputs = keras.Input((SIZE, SIZE, 3))
    return keras.Model(inputs, keras.layers.Dense(classes, activation=activation, name="scores")(_trunk(inputs)))


def separate(kind, activation="softmax", classes=3):
    """The same network with the squash in its own layer (or in a nested head model)."""
    inputs = keras.Input((SIZE, SIZE, 3))
    features = _trunk(inputs)
    if kind == "sequential":
        layers = [keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv"), keras.layers.GlobalAveragePooling2D(name="gap")]
        return keras.Sequential([keras.Input((SIZE, SIZE, 3)), *layers, keras.layers.Dense(classes, name="scores"), keras.layers.Softmax()])
    if kind == "nested_head":
        head = keras.Sequential([keras.Input((4,)), keras.layers.Dense(classes, name="scores"), keras.layers.Activation(activation)], name="head")
        return keras.Model(inputs, head(features))
    scores = keras.layers.Dense(classes, name="scores")(features)
    squash = keras.layers.Softmax() if kind == "softmax_layer" else keras.layers.Activation(activation)
    outputs = squash(scores)
    if kind == "nested_classifier":  # the whole classifier inside a wrapper, as transfer-learning code does
        classifier = keras.Model(inputs, outputs, name="classifier")
        wrapper_inputs = keras.Input((SIZE, SIZE, 3))
        return keras.Model(wrapper_inputs, classifier(keras.layers.Identity()(wrapper_inputs)))
    return keras.Model(inputs, outputs)


def same_weights(source, target):
    for name in ("conv", "scores"):
        layer = next(l for l in _all_layers(target) if l.name == name)
        layer.set_weights(source.get_layer(name).get_weights())


def _all_layers(model):
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)


def images(batch=4, seed=0):
    return np.random.default_rng(seed).random((batch, SIZE, SIZE, 3)).astype("float32")


def twins(kind):
    """(fused reference, ``separate(kind)`` with its weights, images)."""
    reference, model = fused(), separate(kind)
    same_weights(reference, model)
    return reference, model, images()


KINDS = ["softmax_layer", "activation_layer", "sequential", "nested_head", "nested_classifier"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", [GradCAM, GradCAMPlusPlus, CAM])
def test_separate_softmax_is_explained_like_a_fused_one(kind, method):
    reference, model, x = twins(kind)
    np.testing.assert_allclose(model.predict(x, verbose=0), reference.predict(x, verbose=0), atol=1e-6)
    options = dict(upsample=False, normalize=False)
    classes = [0, 1, 2, 1]
    expected, expected_probabilities = method(reference, "conv", **options).explain(x, classes)
    heatmaps, probabilities = method(model, "conv", **options).explain(x, classes)
    np.testing.assert_allclose(heatmaps.numpy(), expected.numpy(), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(probabilities.numpy(), expected_probabilities.numpy(), atol=1e-6)
    np.testing.assert_allclose(probabilities.numpy(), model.predict(x, verbose=0), atol=1e-6)


def test_separate_sigmoid_is_explained_like_a_fused_one():
    reference, model = fused("sigmoid", classes=1), separate("activation_layer", "sigmoid", classes=1)
    same_weights(reference, model)
    x = images()
    expected, _ = GradCAM(reference, "conv", upsample=False, normalize=False).explain(x, [1, 0, 1, 1])
    heatmaps, probabilities = GradCAM(model, "conv", upsample=False, normalize=False).explain(x, [1, 0, 1, 1])
    np.testing.assert_allclose(heatmaps.numpy(), expected.numpy(), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(probabilities.numpy(), model.predict(x, verbose=0), atol=1e-6)


def test_logits_false_still_explains_probabilities():
    reference, model, x = twins("softmax_layer")
    options = dict(upsample=False, normalize=False)
    on_probabilities = GradCAM(model, "conv", logits=False, **options)(x, [0, 1, 2, 1]).numpy()
    np.testing.assert_allclose(on_probabilities, GradCAM(reference, "conv", logits=False, **options)(x, [0, 1, 2, 1]).numpy(), rtol=1e-4, atol=1e-7)
    on_logits = GradCAM(model, "conv", **options)(x, [0, 1, 2, 1]).numpy()
    assert np.abs(on_probabilities - on_logits).max() > 1e-3  # the two really differ on this model
    _, probabilities = GradCAM(model, "conv", logits=False).explain(x)
    np.testing.assert_allclose(probabilities.numpy(), model.predict(x, verbose=0), atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_layercam_of_a_separate_softmax_matches_a_fused_one(kind):
    reference, model, x = twins(kind)
    expected = saliency("layercam", reference, x, targets=[0, 1, 2, 1], layer="conv")
    np.testing.assert_allclose(saliency("layercam", model, x, targets=[0, 1, 2, 1], layer="conv"), expected, atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_pre_activation_view_and_synthesis_logits_are_the_dense_scores(kind):
    reference, model, x = twins(kind)
    logits = keras.Model(reference.input, reference.get_layer("gap").output)(x).numpy() @ reference.get_layer("scores").kernel.numpy()
    logits += reference.get_layer("scores").bias.numpy()
    np.testing.assert_allclose(np.asarray(pre_activation_view(model)(x)), logits, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(logits_view(model)(x)), logits, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict(x, verbose=0), reference.predict(x, verbose=0), atol=1e-6)  # model unchanged


def test_output_activation_and_score_layer():
    for kind in KINDS:
        model = separate(kind)
        assert output_activation(model) == "softmax", kind
        assert score_layer(model).name == "scores", kind
    assert output_activation(fused()) == "softmax" and score_layer(fused()).name == "scores"
    assert output_activation(separate("activation_layer", "sigmoid", 1)) == "sigmoid"
    linear = fused(activation=None)
    assert output_activation(linear) is None and score_layer(linear).name == "scores"
    assert pre_activation_view(linear) is linear
    relu_out = separate("activation_layer", "relu")
    assert output_activation(relu_out) is None
    assert logits_view(separate("activation_layer", "sigmoid", 1)) is None  # synthesis needs softmax logits

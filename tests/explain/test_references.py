"""The CAM family and the tf-keras-vis wrapper against references computed another way.

Grad-CAM++ against tf-keras-vis' own implementation; Grad-CAM through a nested
backbone and on 5-D (video) feature maps against hand-split models;
``saliency``'s target mapping against tf-keras-vis called directly.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfxai.explain import GradCAM, GradCAMPlusPlus, saliency
from tfxai.testing import two_conv_classifier


def images(batch=4, size=16, channels=3, seed=3):
    return np.random.default_rng(seed).random((batch,) + (size, size, channels)).astype("float32")


def correlations(ours, theirs):
    pairs = [(a, b) for a, b in zip(ours, theirs) if a.std() > 1e-6 or b.std() > 1e-6]
    return [np.corrcoef(a.ravel(), b.ravel())[0, 1] for a, b in pairs]


def test_gradcam_plus_plus_agrees_with_tf_keras_vis():
    from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus
    from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
    from tf_keras_vis.utils.scores import CategoricalScore

    model = two_conv_classifier(seed=3)
    x = images()
    classes = [0, 1, 2, 3]
    ours = GradCAMPlusPlus(model, "conv2", upsample=False)(x, classes).numpy()
    theirs = np.asarray(
        GradcamPlusPlus(model, model_modifier=ReplaceToLinear(), clone=True)(
            CategoricalScore(classes), x, penultimate_layer="conv2", expand_cam=False
        )
    )
    assert ours.shape == theirs.shape == (4, 8, 8)
    r = correlations(ours, theirs)
    assert len(r) >= 3 and min(r) > 0.99, r
    # And it is not Grad-CAM: the two maps differ on these images.
    plain = GradCAM(model, "conv2", upsample=False)(x, classes).numpy()
    assert np.abs(plain - ours).max() > 0.05


def _nested_model(size=12):
    keras.utils.set_random_seed(5)
    inner_inputs = keras.Input((size, size, 3))
    h = keras.layers.Conv2D(5, 3, padding="same", activation="relu", name="inner_conv1")(inner_inputs)
    h = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="inner_conv2")(h)
    backbone = keras.Model(inner_inputs, h, name="backbone")
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.GlobalAveragePooling2D()(backbone(x))
    x = keras.layers.Dense(7, activation="relu")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs), backbone


def test_gradcam_through_a_nested_backbone_equals_a_hand_split_model():
    model, backbone = _nested_model()
    x = images(batch=3, size=12) * 255.0
    classes = np.array([2, 0, 1])
    ours = GradCAM(model, "inner_conv2", upsample=False, normalize=False)(x, classes).numpy()
    features = tf.convert_to_tensor(backbone(x / 255.0))
    hidden, head = model.layers[-2], model.layers[-1]
    with tf.GradientTape() as tape:
        tape.watch(features)
        pooled = tf.reduce_mean(features, axis=(1, 2))
        logits = tf.matmul(hidden(pooled), head.kernel) + head.bias  # the pre-softmax score y^c
        chosen = tf.gather(logits, classes, axis=1, batch_dims=1)
    weights = tape.gradient(chosen, features).numpy().mean(axis=(1, 2))
    expected = np.maximum(np.einsum("bhwc,bc->bhw", features.numpy(), weights), 0)
    assert expected.max() > 0
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-6)


def test_gradcam_on_video_features_equals_the_hand_computation():
    keras.utils.set_random_seed(7)
    inputs = keras.Input((4, 8, 8, 2))
    f = keras.layers.Conv3D(5, 3, padding="same", activation="relu", name="conv3d")(inputs)
    x = keras.layers.GlobalAveragePooling3D()(f)
    x = keras.layers.Dense(6, activation="tanh")(x)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="predictions")(x))
    clips = np.random.default_rng(1).random((2, 4, 8, 8, 2)).astype("float32")
    classes = np.array([1, 2])
    ours = GradCAM(model, "conv3d", upsample=False, normalize=False)(clips, classes).numpy()
    assert ours.shape == (2, 4, 8, 8)
    features = tf.convert_to_tensor(keras.Model(inputs, f)(clips))
    hidden, head = model.layers[-2], model.layers[-1]
    with tf.GradientTape() as tape:
        tape.watch(features)
        logits = tf.matmul(hidden(tf.reduce_mean(features, axis=(1, 2, 3))), head.kernel) + head.bias
        chosen = tf.gather(logits, classes, axis=1, batch_dims=1)
    weights = tape.gradient(chosen, features).numpy().mean(axis=(1, 2, 3))  # over time and space
    expected = np.maximum(np.einsum("bthwc,bc->bthw", features.numpy(), weights), 0)
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-6)
    # Upsampled video maps keep the time axis and are normalised per clip.
    full = GradCAM(model, "conv3d")(clips, classes).numpy()
    assert full.shape == (2, 4, 8, 8) and np.isclose(full.max(axis=(1, 2, 3)), 1).all()


def _normalised(maps):
    maps = np.asarray(maps, np.float32)
    low, high = maps.min(axis=(1, 2), keepdims=True), maps.max(axis=(1, 2), keepdims=True)
    return np.where(high - low > 1e-7, (maps - low) / np.maximum(high - low, 1e-7), 0)


@pytest.mark.parametrize("targets", [[3, 0, 1, 2], 2, None])
def test_saliency_targets_map_to_tf_keras_vis_categorical_scores(targets):
    from tf_keras_vis.layercam import Layercam
    from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
    from tf_keras_vis.utils.scores import CategoricalScore

    model = two_conv_classifier(seed=3)
    x = images()
    ours = saliency("layercam", model, x, targets=targets, layer="conv2")
    if targets is None:
        classes = list(np.argmax(model.predict(x, verbose=0), axis=1))
    else:
        classes = targets if isinstance(targets, list) else [targets] * len(x)
    direct = Layercam(model, model_modifier=ReplaceToLinear(), clone=True)(
        CategoricalScore(classes), x, penultimate_layer="conv2"
    )
    np.testing.assert_allclose(ours, _normalised(direct), atol=1e-5)
    # Another class gives other maps, so the comparison can tell classes apart.
    other = Layercam(model, model_modifier=ReplaceToLinear(), clone=True)(
        CategoricalScore([(c + 1) % 4 for c in classes]), x, penultimate_layer="conv2"
    )
    assert np.abs(ours - _normalised(other)).max() > 0.05

"""The CAM core against hand computations, tf-keras-vis, and its contracts."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfxai.errors import TfxaiError
from tfxai.explain import CAM, ClassScore, GradCAM, GradCAMPlusPlus
from tfxai.explain.cam import combine, normalize, upsample
from tfxai.testing import two_conv_classifier


def gap_dense_model(size=12, channels=3, filters=4, classes=3, activation="softmax"):
    inputs = keras.Input((size, size, channels))
    x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(classes, activation=activation, name="predictions")(x)
    return keras.Model(inputs, outputs)


def images(batch=3, size=16, channels=3, seed=0):
    return np.random.default_rng(seed).random((batch, size, size, channels)).astype("float32")


def hand_gradcam(model, x, layer_name, class_ids):
    """Reference: split the model by hand, differentiate the pre-softmax score, weight, ReLU."""
    layer = model.get_layer(layer_name)
    features_model = keras.Model(model.inputs, layer.output)
    index = model.layers.index(layer)
    head_input = keras.Input(layer.output.shape[1:])
    h = head_input
    for later in model.layers[index + 1 :]:
        if later is model.layers[-1]:
            h = keras.ops.matmul(h, later.kernel) + later.bias  # pre-softmax score
        else:
            h = later(h)
    head = keras.Model(head_input, h)
    features = tf.convert_to_tensor(features_model(x))
    with tf.GradientTape() as tape:
        tape.watch(features)
        scores = head(features)
        chosen = tf.gather(scores, class_ids, axis=1, batch_dims=1)
    grads = tape.gradient(chosen, features).numpy()
    weights = grads.mean(axis=(1, 2))
    return np.maximum(np.einsum("bhwc,bc->bhw", features.numpy(), weights), 0)


def test_gradcam_equals_hand_computed_reference():
    model = two_conv_classifier()
    x = images()
    classes = np.array([0, 2, 3])
    raw = GradCAM(model, "conv2", upsample=False, normalize=False)(x, classes).numpy()
    np.testing.assert_allclose(raw, hand_gradcam(model, x, "conv2", classes), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("layer,expand", [("conv1", True), ("conv2", False)])
def test_gradcam_agrees_with_tf_keras_vis(layer, expand):
    """Per-image Pearson r > 0.99 against tf-keras-vis' Gradcam.

    conv1 has the input's resolution, so both libraries' full pipelines are
    compared; conv2 (8x8) is compared before upsampling, because tf-keras-vis
    upsamples with scipy's corner-aligned zoom and tfxai with TensorFlow's
    half-pixel bilinear resize (a convention, not an error).
    """
    from tf_keras_vis.gradcam import Gradcam
    from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
    from tf_keras_vis.utils.scores import CategoricalScore

    model = two_conv_classifier()
    x = images(batch=4, seed=3)
    classes = [0, 1, 2, 3]
    ours = GradCAM(model, layer, upsample=expand)(x, classes).numpy()
    theirs = Gradcam(model, model_modifier=ReplaceToLinear(), clone=True)(
        CategoricalScore(classes), x, penultimate_layer=layer, expand_cam=expand
    )
    theirs = np.asarray(theirs)
    assert ours.shape == theirs.shape
    compared = 0
    for a, b in zip(ours, theirs):
        if a.std() < 1e-6 and b.std() < 1e-6:
            continue
        compared += 1
        assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.99
    assert compared >= 2


def test_cam_equals_class_weighted_sum_of_feature_maps():
    model = gap_dense_model()
    x = images(size=12)
    classes = np.array([2, 0, 1])
    raw = CAM(model, "conv", relu=False, upsample=False, normalize=False)(x, classes).numpy()
    features = keras.Model(model.inputs, model.get_layer("conv").output)(x).numpy()
    kernel = model.get_layer("predictions").kernel.numpy()
    expected = np.einsum("bhwc,cb->bhw", features, kernel[:, classes])
    np.testing.assert_allclose(raw, expected, rtol=1e-5, atol=1e-6)


def test_gradcam_is_proportional_to_cam_for_gap_dense():
    model = gap_dense_model()
    x = images(size=12)
    grad = GradCAM(model, "conv", relu=False, upsample=False, normalize=False)(x, [1, 1, 1]).numpy()
    cam = CAM(model, "conv", relu=False, upsample=False, normalize=False)(x, [1, 1, 1]).numpy()
    np.testing.assert_allclose(grad * 12 * 12, cam, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("normalize_alphas", [True, False])
def test_gradcam_plus_plus_weights_match_numpy_formula(normalize_alphas):
    from types import SimpleNamespace

    rng = np.random.default_rng(0)
    features = rng.random((2, 3, 3, 4)).astype("float32")
    grads = rng.normal(size=(2, 3, 3, 4)).astype("float32")
    owner = SimpleNamespace(normalize_alphas=normalize_alphas)
    weights = GradCAMPlusPlus.channel_weights(owner, tf.constant(features), tf.constant(grads), None).numpy()
    g2, g3 = grads**2, grads**3
    alpha = g2 / (2 * g2 + features.sum(axis=(1, 2), keepdims=True) * g3)
    if normalize_alphas:  # the authors' code: each channel's alphas divided by their spatial sum
        alpha = alpha / alpha.sum(axis=(1, 2), keepdims=True)
    expected = (alpha * np.maximum(grads, 0)).sum(axis=(1, 2))
    np.testing.assert_allclose(weights, expected, rtol=1e-4)


@pytest.mark.parametrize("method", [GradCAM, GradCAMPlusPlus, CAM])
def test_heatmaps_are_in_unit_range_and_shaped_like_the_input(method):
    model = gap_dense_model(size=12)
    heatmaps = method(model)(images(size=12)).numpy()
    assert heatmaps.shape == (3, 12, 12) and heatmaps.dtype == np.float32
    assert heatmaps.min() >= 0.0 and heatmaps.max() <= 1.0
    assert np.allclose(heatmaps.max(axis=(1, 2)), 1.0)


def test_constant_heatmap_for_a_model_that_ignores_its_input():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Rescaling(0.0)(x)
    outputs = keras.layers.Dense(2, activation="softmax")(x)
    heatmaps = GradCAM(keras.Model(inputs, outputs))(images(size=8)).numpy()
    assert np.all(heatmaps == heatmaps.reshape(3, -1)[:, :1, None])


def test_model_is_unchanged_by_explaining():
    model = gap_dense_model()
    before = [w.copy() for w in model.get_weights()]
    x = images(size=12)
    outputs_before = model(x).numpy()
    GradCAM(model)(x)
    GradCAMPlusPlus(model)(x, 1)
    assert model.layers[-1].activation.__name__ == "softmax"
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    np.testing.assert_array_equal(outputs_before, model(x).numpy())


def test_targets_int_list_and_callable_agree():
    model = gap_dense_model()
    cam = GradCAM(model)
    x = images(size=12)
    by_int = cam(x, 2).numpy()
    by_list = cam(x, [2, 2, 2]).numpy()
    by_callable = cam(x, ClassScore(tf.constant([2, 2, 2]))).numpy()
    np.testing.assert_allclose(by_int, by_list)
    np.testing.assert_allclose(by_int, by_callable, atol=1e-6)
    predicted = np.argmax(model(x).numpy(), axis=1)
    np.testing.assert_allclose(cam(x).numpy(), cam(x, predicted).numpy(), atol=1e-6)


def test_numpy_tensor_and_dataset_inputs_agree():
    model = gap_dense_model()
    cam = GradCAM(model)
    x = images(batch=5, size=12)
    expected = cam(x).numpy()
    np.testing.assert_allclose(cam(tf.constant(x)).numpy(), expected, atol=1e-6)
    np.testing.assert_allclose(cam(tf.data.Dataset.from_tensor_slices(x).batch(2)).numpy(), expected, atol=1e-6)


def test_nested_backbone_and_sequential_models():
    base = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(4, 3, activation="relu", name="inner_conv")], name="base")
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = base(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))
    cam = GradCAM(model)
    assert cam.layer.name == "inner_conv"
    assert cam(images() * 255).shape == (3, 16, 16)
    assert GradCAM(model, "inner_conv")(images()).shape == (3, 16, 16)
    sequential = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(4, 3, name="c"), keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2)])
    assert GradCAM(sequential)(images()).shape == (3, 16, 16)


def test_video_feature_maps_give_time_resolved_heatmaps():
    inputs = keras.Input((4, 8, 8, 3))
    x = keras.layers.Conv3D(4, 3, strides=(2, 2, 2), padding="same", activation="relu", name="conv3d")(inputs)
    x = keras.layers.GlobalAveragePooling3D()(x)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))
    video = np.random.default_rng(0).random((2, 4, 8, 8, 3)).astype("float32")
    heatmaps = GradCAM(model)(video).numpy()
    assert heatmaps.shape == (2, 4, 8, 8)
    assert heatmaps.min() >= 0 and heatmaps.max() <= 1


def test_gradcam_is_differentiable_with_respect_to_weights():
    model = gap_dense_model()
    cam = GradCAM(model)
    x = tf.constant(images(size=12))

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            heatmaps = cam.heatmaps(x, tf.constant([0, 1, 2]))
            loss = tf.reduce_mean(heatmaps[:, :6, :6])
        return tape.gradient(loss, [model.get_layer("conv").kernel, model.get_layer("predictions").kernel])

    # The dense kernel enters the heatmap only through the gradient dS/dF:
    # a non-zero gradient there proves second-order differentiation.
    for grad in step():
        assert grad is not None
        assert np.isfinite(grad.numpy()).all() and np.abs(grad.numpy()).sum() > 0


def test_pure_helpers():
    features = tf.constant(np.arange(8, dtype="float32").reshape(1, 2, 2, 2))
    np.testing.assert_allclose(combine(features, tf.constant([[1.0, -1.0]]), relu=False).numpy(), -np.ones((1, 2, 2)))
    np.testing.assert_allclose(normalize(tf.constant([[[1.0, 3.0]]])).numpy(), [[[0.0, 1.0]]])
    assert upsample(tf.ones((1, 2, 2)), (5, 7)).shape == (1, 5, 7)
    assert upsample(tf.ones((1, 2, 2, 2)), (4, 6, 6)).shape == (1, 4, 6, 6)


@pytest.mark.parametrize("h, w, height, width", [(7, 7, 224, 224), (3, 5, 17, 4), (8, 8, 8, 8), (16, 12, 5, 7), (1, 1, 9, 9)])
def test_upsample_as_matrix_products_equals_tensorflows_bilinear_resize(h, w, height, width):
    """Static sizes take two matrix products (fast in LiteRT); the values are tf.image.resize's, up- and downsampling."""
    cam = np.random.default_rng(h * w).random((2, h, w)).astype("float32") * 5
    expected = tf.image.resize(cam[..., None], (height, width), method="bilinear")[..., 0].numpy()
    np.testing.assert_allclose(upsample(tf.constant(cam), (height, width)).numpy(), expected, rtol=0, atol=5e-6)
    np.testing.assert_allclose(upsample(tf.constant(cam), tf.TensorShape((height, width))).numpy(), expected, rtol=0, atol=5e-6)
    dynamic = tf.function(lambda x: upsample(x, (height, width)), input_signature=[tf.TensorSpec((None, None, None), tf.float32)])
    np.testing.assert_allclose(dynamic(cam).numpy(), expected, rtol=0, atol=5e-6)  # unknown map size: the resize kernel


def test_bad_input_errors_are_one_line():
    model = gap_dense_model()
    with pytest.raises(TfxaiError, match="not found"):
        GradCAM(model, "nope")
    with pytest.raises(TfxaiError, match="out of range"):
        GradCAM(model)(images(size=12), 7)
    with pytest.raises(TfxaiError, match="channels"):
        GradCAM(model)(images(size=12, channels=1))
    dense_only = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(TfxaiError, match="no convolutional feature map"):
        GradCAM(dense_only)
    # image-shaped inputs and rescaling are 4-D but not feature maps
    for head in ([], [keras.layers.Rescaling(1 / 255.0)]):
        pixels_only = keras.Sequential([keras.Input((6, 6, 3)), *head, keras.layers.Flatten(), keras.layers.Dense(2)])
        with pytest.raises(TfxaiError, match="no convolutional feature map"):
            GradCAM(pixels_only)
    with pytest.raises(TfxaiError, match="not a feature map"):
        GradCAM(model, "predictions")
    with pytest.raises(TfxaiError, match="class indices"):
        GradCAM(model)(images(size=12), [0.7, 1.9, 0.2])
    with pytest.raises(TfxaiError, match="class indices"):
        GradCAM(model)(images(size=12), "1")
    with pytest.raises(TfxaiError, match="one score per image"):
        GradCAM(model)(images(size=12), lambda scores: scores)
    for error in (TfxaiError("a\nb"),):
        assert "\n" not in str(error)

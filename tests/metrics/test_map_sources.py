"""Insertion/deletion with maps from different sources: ABN's own attention and Grad-CAM of a plain classifier."""

import keras
import numpy as np
import pytest

from tfxai.attention import ABN
from tfxai.attention.evaluation import attention_source, topk_accuracy
from tfxai.explain import GradCAM, GradCAMPlusPlus
from tfxai.explain.protocol import explain_in_batches
from tfxai.errors import TfxaiError
from tfxai.metrics import insertion_deletion


def classifier():
    inputs = keras.Input((16, 16, 1))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(3, activation="softmax")(x)
    return keras.Model(inputs, outputs)


def images_and_labels(count=5):
    rng = np.random.default_rng(0)
    return rng.uniform(0, 255, (count, 16, 16, 1)).astype(np.float32), np.arange(count) % 3


@pytest.mark.parametrize("method", ["gradcam", "gradcam++", "auto"])
def test_gradcam_maps_of_a_plain_classifier_feed_insertion_deletion(method):
    model = classifier()
    images, labels = images_and_labels()
    maps, probabilities = explain_in_batches(attention_source(model, method), images, batch_size=2)
    assert maps.shape == (5, 16, 16) and probabilities.shape == (5, 3)
    np.testing.assert_allclose(probabilities, model(images), rtol=1e-5)
    expected = {"gradcam": GradCAM, "auto": GradCAM, "gradcam++": GradCAMPlusPlus}[method](model).explain(images)[0]
    np.testing.assert_allclose(maps, expected, atol=1e-5)  # the named method, on the predicted class
    if method == "auto":
        assert not np.allclose(maps, GradCAMPlusPlus(model).explain(images)[0], atol=1e-3)  # the two differ here
    result = insertion_deletion(model.predict_on_batch, images, labels, maps, normalize=True)
    assert len(result.x) == 11 and np.isfinite(result.score)


def _tiny_gain():
    from tfxai.attention import GAIN

    inputs = keras.Input((16, 16, 1))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="features")(inputs)
    outputs = keras.layers.Dense(1, activation="sigmoid")(keras.layers.GlobalAveragePooling2D()(x))
    return GAIN(keras.Model(inputs, outputs), layer="features")


def test_gain_evaluates_its_own_attention_or_a_cam_of_its_classifier():
    gain = _tiny_gain()
    images, _ = images_and_labels(4)
    own_maps, own_probabilities = explain_in_batches(attention_source(gain, "auto"), images, batch_size=3)
    expected_maps, expected_probabilities = gain.explain(images)
    np.testing.assert_allclose(own_maps, expected_maps, atol=1e-6)
    np.testing.assert_allclose(own_probabilities, expected_probabilities, atol=1e-6)
    cam_maps, cam_probabilities = explain_in_batches(attention_source(gain, "gradcam++"), images, batch_size=3)
    reference = GradCAMPlusPlus(gain.classifier, "features").explain(images)
    np.testing.assert_allclose(cam_maps, reference[0], atol=1e-5)
    np.testing.assert_allclose(cam_probabilities, gain.classifier(images), atol=1e-6)


def test_abn_uses_its_own_attention_by_default():
    model = ABN("small_cnn", 3, (16, 16, 1), backbone_filters=(4, 8, 8), attention_filters=4, attention_convs=1)
    images, _ = images_and_labels(3)
    maps, probabilities = attention_source(model, "auto").explain(images)
    expected_maps, expected_probabilities = model.explain(images)
    np.testing.assert_allclose(maps, expected_maps, rtol=1e-6)
    np.testing.assert_allclose(probabilities, expected_probabilities, rtol=1e-6)
    with pytest.raises(TfxaiError, match="no attention maps of its own"):
        attention_source(classifier(), "attention")
    with pytest.raises(TfxaiError, match="unknown map source"):
        attention_source(model, "lime")


def test_topk_accuracy():
    probabilities = np.array([[0.1, 0.5, 0.4], [0.7, 0.2, 0.1]])
    assert topk_accuracy(probabilities, [2, 1], 1) == 0.0
    assert topk_accuracy(probabilities, [2, 1], 2) == 1.0
    assert topk_accuracy(probabilities, [2, 1], 5) == 1.0


def test_topk_accuracy_reads_a_single_sigmoid_as_two_classes():
    assert topk_accuracy([[0.9], [0.8], [0.2]], [1, 1, 0], 1) == 1.0
    assert topk_accuracy([[0.9], [0.8], [0.2]], [0, 0, 1], 1) == 0.0


def test_folder_labels_are_matched_to_the_model_classes_by_name():
    from tfxai.attention.evaluation import _model_labels
    from tfxai.data import LabelledImages

    data = LabelledImages(np.zeros((3, 2, 2, 1), np.uint8), np.array([0, 1, 1]), ["a", "b", "c"], ["cat", "dog"])
    np.testing.assert_array_equal(_model_labels(data, None), [0, 1, 1])
    np.testing.assert_array_equal(_model_labels(data, ["bird", "dog", "cat"]), [2, 1, 1])
    with pytest.raises(TfxaiError, match=r"classes \['dog'\]"):
        _model_labels(data, ["cat", "bird"])

"""The explainer protocol: every method gives (maps in [0, 1] at input size, probabilities); batching is written once."""

import keras
import numpy as np
import pytest

from tfxai.attention import ABN, GAIN, AttentionModel
from tfxai.errors import TfxaiError
from tfxai.explain import GradCAM
from tfxai.explain.protocol import explain_in_batches
from tfxai.testing import tiny_cnn


def classifier(outputs=3):
    return tiny_cnn((16, 16, 1), outputs, filters=4, head="sigmoid" if outputs == 1 else "softmax")


def explainers():
    keras.utils.set_random_seed(0)
    return {
        "gradcam": GradCAM(classifier(), "features"),
        "abn": ABN("small_cnn", 3, (16, 16, 1), backbone_filters=(4, 8, 8), attention_filters=4, attention_convs=1),
        "gain": GAIN(classifier(1), layer="features"),
    }


@pytest.mark.parametrize("name", ["gradcam", "abn", "gain"])
def test_every_explainer_returns_maps_first_in_the_unit_range_at_input_size(name):
    explainer = explainers()[name]
    images = (np.random.default_rng(1).random((5, 16, 16, 1)) * 255).astype(np.float32)
    maps, probabilities = explainer.explain(images)
    maps, probabilities = np.asarray(maps), np.asarray(probabilities)
    assert maps.shape == (5, 16, 16) and maps.dtype == np.float32
    assert maps.min() >= 0.0 and maps.max() <= 1.0
    assert probabilities.shape[0] == 5 and np.all((probabilities >= 0) & (probabilities <= 1))
    # in chunks of 2 (a last chunk of 1): the same as one call
    chunked_maps, chunked_probabilities = explain_in_batches(explainer, images, batch_size=2)
    np.testing.assert_allclose(chunked_maps, maps, atol=1e-5)
    np.testing.assert_allclose(chunked_probabilities, probabilities, atol=1e-6)


def test_targets_are_passed_per_chunk():
    explainer = explainers()["gradcam"]
    images = (np.random.default_rng(2).random((5, 16, 16, 1)) * 255).astype(np.float32)
    targets = np.array([0, 1, 2, 0, 1])
    expected, _ = explainer.explain(images, targets)
    got, _ = explain_in_batches(explainer, images, batch_size=2, targets=targets)
    np.testing.assert_allclose(got, expected.numpy(), atol=1e-5)
    with pytest.raises(TfxaiError, match="got 2 targets for 5 images"):
        explain_in_batches(explainer, images, targets=[0, 1])
    with pytest.raises(TfxaiError, match="not an explainer"):
        explain_in_batches(object(), images)


def test_attention_models_must_implement_explain():
    class NoMaps(AttentionModel):
        pass

    with pytest.raises(NotImplementedError, match="NoMaps must implement explain"):
        NoMaps().explain(np.zeros((1, 4, 4, 1), np.float32))

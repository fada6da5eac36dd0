"""The TTA table's classifiers: ResNet-20 (701.4k) and the 5-layer CNN (24.3k) of the thesis, by count and depth."""

import numpy as np
import pytest

import tfxai  # noqa: F401  (before TensorFlow)
import keras

from tfxai.errors import TfxaiError
from tfxai.gan.stargan.classifiers import CNN5_PARAMETERS, RESNET20_PARAMETERS, cnn5, resnet20, trainable_parameters


def weight_layers(model):
    return [layer for layer in model.layers if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense))]


@pytest.mark.parametrize("build, thesis", [(resnet20, RESNET20_PARAMETERS), (cnn5, CNN5_PARAMETERS)])
def test_parameter_counts_are_the_thesis_counts_within_one_percent(build, thesis):
    model = build()
    count = trainable_parameters(model)
    assert abs(count - thesis) / thesis < 0.01, count
    # by hand, independently of Keras' bookkeeping
    if build is cnn5:
        assert count == (27 * 16 + 16) + (9 * 16 * 32 + 32) + (9 * 32 * 32 + 32) + (4 * 4 * 32 * 19 + 19) + (19 * 10 + 10) == 24_283
    else:
        widths, expected, previous = (26, 52, 102), 27 * 26 + 2 * 26, 26
        for width in widths:
            for _ in range(3):
                expected += 9 * previous * width + 9 * width * width + 4 * width  # two 3x3 convs, two BatchNorms (gamma, beta)
                expected += (previous * width + 2 * width) if previous != width else 0  # 1x1 projection + BatchNorm
                previous = width
        assert count == expected + 102 * 10 + 10


def test_depths_are_twenty_and_five_weight_layers():
    resnet = resnet20()
    projections = [layer for layer in weight_layers(resnet) if getattr(layer, "kernel_size", None) == (1, 1)]
    assert len(weight_layers(resnet)) - len(projections) == 20 and len(projections) == 2
    assert len(weight_layers(cnn5())) == 5


@pytest.mark.parametrize("build", [resnet20, cnn5])
def test_classifiers_output_probabilities_expose_features_and_round_trip(build, tmp_path):
    keras.utils.set_random_seed(0)
    model = build(num_classes=3, input_shape=(16, 16, 3))
    images = np.random.default_rng(0).uniform(0, 255, (4, 16, 16, 3)).astype("float32")
    probabilities = np.asarray(model(images))
    assert probabilities.shape == (4, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert model.get_layer("features").output.shape[0] is None
    # per-image standardisation: a brightness and contrast change of the whole image changes nothing
    np.testing.assert_allclose(np.asarray(model(images * 0.5 + 20)), probabilities, atol=1e-4)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(images, np.array([0, 1, 2, 0]), epochs=1, verbose=0)
    path = str(tmp_path / "classifier.keras")
    model.save(path)
    np.testing.assert_allclose(np.asarray(keras.saving.load_model(path)(images)), np.asarray(model(images)), atol=1e-5)


def test_bad_arguments_are_one_line_errors():
    with pytest.raises(TfxaiError, match="at least 2 classes"):
        cnn5(num_classes=1)
    with pytest.raises(TfxaiError, match="input shape"):
        resnet20(input_shape=(32, 32))

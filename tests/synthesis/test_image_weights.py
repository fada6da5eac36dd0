import keras
import numpy as np

import tfxai  # noqa: F401
from tfxai.synthesis import ImageWeights
from tfxai.testing import assert_config_round_trip, assert_keras_round_trip


def test_layer_outputs_the_images_it_holds(make_images):
    images = make_images
    layer = ImageWeights((4, 4, 1), num_images=3)
    x = images(3)
    layer.set_images(x)
    assert tuple(layer.kernel.shape) == (3, 16)  # one (1, d) dense kernel per image
    np.testing.assert_allclose(np.asarray(layer(np.ones((3, 1), "float32"))), x, atol=1e-5)
    np.testing.assert_allclose(np.asarray(layer.images()), x, atol=1e-5)
    # A (1, 1) input (the constant 1) is broadcast to every image.
    np.testing.assert_allclose(np.asarray(layer(np.ones((1, 1), "float32"))), x, atol=1e-5)


def test_fresh_layer_is_grey_and_only_its_kernel_is_trainable():
    layer = ImageWeights((2, 2, 3), num_images=2)
    out = np.asarray(layer(np.ones((2, 1), "float32")))
    np.testing.assert_allclose(out, 0.5)
    assert [w.name for w in layer.trainable_weights] == ["kernel"]


def test_config_and_keras_round_trip(tmp_path, make_images):
    images = make_images
    layer = ImageWeights((4, 4, 1), num_images=2, epsilon=1e-2, name="image")
    ones = np.ones((2, 1), "float32")
    layer(ones)
    layer.set_images(images(2))
    clone = assert_config_round_trip(layer, ones)
    assert clone.image_shape == (4, 4, 1) and clone.num_images == 2 and clone.epsilon == 1e-2
    model = keras.Sequential([keras.Input((1,)), layer])
    assert_keras_round_trip(model, ones, str(tmp_path))

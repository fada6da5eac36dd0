import keras
import numpy as np
import pytest

from tfxai.errors import TfxaiError
from tfxai.explain import caption, contact_sheet, overlay, saliency


def test_overlay_is_uint8_rgb_and_uses_jet():
    image = np.zeros((10, 12), np.uint8)
    heat = np.zeros((5, 6), np.float32)
    heat[:, 3:] = 1.0
    out = overlay(image, heat, alpha=1.0)
    assert out.shape == (10, 12, 3) and out.dtype == np.uint8
    assert out[0, 0, 2] > out[0, 0, 0]  # JET at 0 is blue
    assert out[0, -1, 0] > out[0, -1, 2]  # JET at 1 is red
    np.testing.assert_array_equal(overlay(image, heat, alpha=0.0), np.zeros((10, 12, 3), np.uint8))
    with pytest.raises(TfxaiError):
        overlay(image, np.zeros((2, 2, 2)))


def test_caption_and_contact_sheet_shapes():
    tile = caption(np.zeros((28, 28, 3), np.uint8), ["true: a", "pred: b 0.9"])
    assert tile.shape[1] >= 160 and tile.shape[0] > 28
    sheet = contact_sheet([tile] * 5, columns=2)
    assert sheet.shape[1] == 2 * tile.shape[1] + 3 * 4
    with pytest.raises(TfxaiError):
        contact_sheet([])


@pytest.mark.parametrize("name", ["scorecam", "smoothgrad", "layercam"])
def test_tf_keras_vis_methods_share_the_calling_convention(name):
    inputs = keras.Input((12, 12, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))
    images = np.random.default_rng(0).random((2, 12, 12, 3)).astype("float32")
    maps = saliency(name, model, images, targets=[0, 2], max_n=2) if name == "scorecam" else saliency(name, model, images, targets=1)
    assert maps.shape == (2, 12, 12) and maps.dtype == np.float32
    assert maps.min() >= 0 and maps.max() <= 1
    assert model.layers[-1].activation.__name__ == "softmax"


def test_unknown_saliency_method_and_wrong_image_size():
    with pytest.raises(TfxaiError, match="unknown saliency method"):
        saliency("nope", None, np.zeros((1, 4, 4, 3)))
    inputs = keras.Input((12, 12, 3))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(2, 3, name="conv")(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))
    with pytest.raises(TfxaiError, match="the model expects .* \\(size differ\\)"):
        saliency("layercam", model, np.zeros((1, 10, 10, 3)))


def test_flat_model_inlines_nested_models_and_shares_their_weights():
    from tfxai.explain.layers import flat_model

    keras.utils.set_random_seed(1)
    inner_inputs = keras.Input((12, 12, 3))
    features = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="inner_conv")(inner_inputs)
    backbone = keras.Model(inner_inputs, features, name="backbone")
    inputs = keras.Input((12, 12, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.GlobalAveragePooling2D()(backbone(x))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))
    flat = flat_model(model)
    names = [layer.name for layer in flat.layers]
    assert "inner_conv" in names and "backbone" not in names
    assert flat.get_layer("inner_conv") is backbone.get_layer("inner_conv")
    images = np.random.default_rng(0).random((2, 12, 12, 3)).astype("float32") * 255
    np.testing.assert_allclose(flat(images), model(images), atol=1e-6)
    for name in ("layercam", "scorecam"):
        maps = saliency(name, model, images, targets=1, layer="inner_conv", **({"max_n": 2} if name == "scorecam" else {}))
        assert maps.shape == (2, 12, 12) and 0 <= maps.min() and maps.max() <= 1
    assert [layer.name for layer in model.layers][2] == "backbone"  # the user's model is unchanged

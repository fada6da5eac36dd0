"""AttentionImageLogger: attention overlays in TensorBoard from any explainer."""

import keras
import numpy as np
import pytest

from tfxai.attention import AttentionImageLogger
from tfxai.attention.callbacks import attention_tiles
from tfxai.errors import TfxaiError
from tfxai.explain import GradCAM
from tfxai.explain.overlay import contact_sheet
from tfxai.testing import tensorboard_summaries


def classifier():
    inputs = keras.Input((16, 16, 1))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="features")(inputs)
    outputs = keras.layers.Dense(3, activation="softmax")(keras.layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inputs, outputs)
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


def test_a_plain_classifier_is_logged_through_the_explainer_it_is_given(tmp_path):
    model = classifier()
    images = (np.random.default_rng(0).random((4, 16, 16, 1)) * 255).astype(np.float32)
    labels = np.arange(4) % 3
    logger = AttentionImageLogger(str(tmp_path), images, labels, ["a", "b", "c"], explainer=GradCAM(model, "features"))
    model.fit(images, labels, epochs=1, verbose=0, callbacks=[logger])
    tiles = attention_tiles(GradCAM(model, "features"), images, labels, ["a", "b", "c"])
    assert len(tiles) == 4 and tiles[0].dtype == np.uint8 and tiles[0].shape[-1] == 3
    summaries = tensorboard_summaries(tmp_path / "attention")
    assert set(summaries["attention_maps"]) == {0}
    # the logged PNG is exactly the contact sheet of the trained model's maps (lossless)
    np.testing.assert_array_equal(summaries["attention_maps"][0], contact_sheet(tiles, columns=8))
    assert summaries["epoch_loss"][0] == pytest.approx(model.history.history["loss"][0], rel=1e-6)
    with pytest.raises(TfxaiError, match="pass explainer=GradCAM"):
        model.fit(images, labels, epochs=1, verbose=0, callbacks=[AttentionImageLogger(str(tmp_path / "x"), images)])

"""StyleTTA: one batched pass equals the mean of N explicit passes; SavedModel exports reload without tfxai."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfxai.errors import TfxaiError
from tfxai.gan.stargan import StarGANv2
from tfxai.gan.stargan.export import export_translator, export_tta
from tfxai.gan.stargan.tta import StyleTTA
from tfxai.testing import run_without_tfxai


def tiny_parts():
    model = StarGANv2(16, 2, style_dim=8, latent_dim=4, preset="tiny")
    classifier = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Rescaling(1 / 255.0), keras.layers.Conv2D(4, 3),
                                   keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3, activation="softmax")])
    return model, classifier


def test_style_tta_equals_the_mean_of_n_explicit_passes():
    model, classifier = tiny_parts()
    tta = StyleTTA(classifier, model.generator_ema, model.mapping_ema, n=5)
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (3, 16, 16, 3)).astype("float32")
    latents = rng.normal(size=(3, 5, 4)).astype("float32")
    expected = np.mean([classifier(model.translate(images, np.zeros(3, "int32"), latents=latents[:, n])) for n in range(5)], axis=0)
    np.testing.assert_allclose(np.asarray(tta(images, latents)), expected, atol=1e-5)
    np.testing.assert_allclose(np.asarray(tf.function(tta)(images, latents)), expected, atol=1e-5)  # traced as when served
    np.testing.assert_allclose(np.asarray(StyleTTA(classifier, model.generator_ema, model.mapping_ema, n=0)(images)),
                               np.asarray(classifier(images)), atol=1e-6)
    with pytest.raises(TfxaiError, match="n must be >= 0"):
        StyleTTA(classifier, model.generator_ema, model.mapping_ema, n=-1)


def test_exported_translator_and_tta_classifier_serve_without_tfxai(tmp_path):
    model, classifier = tiny_parts()
    rng = np.random.default_rng(0)
    images, latents = rng.uniform(0, 255, (2, 16, 16, 3)).astype("float32"), rng.normal(size=(2, 4)).astype("float32")
    np.save(tmp_path / "images.npy", images)
    np.save(tmp_path / "latents.npy", latents)
    export_translator(model, str(tmp_path / "translator"))
    export_tta(StyleTTA(classifier, model.generator_ema, model.mapping_ema, n=3), str(tmp_path / "tta"), (16, 16, 3))
    output = run_without_tfxai(f"""
        import numpy as np, tensorflow as tf
        images, latents = np.load("{tmp_path}/images.npy"), np.load("{tmp_path}/latents.npy")
        translator = tf.saved_model.load("{tmp_path}/translator")
        out = translator.signatures["translate_latent"](images=images, domains=tf.constant([0, 1]), latents=latents)["images"]
        ref = translator.signatures["translate_reference"](images=images, domains=tf.constant([0, 1]), references=images[::-1])["images"]
        np.save("{tmp_path}/out.npy", out.numpy())
        tta = tf.saved_model.load("{tmp_path}/tta").signatures["serving_default"](images=images)
        print(ref.shape, tta["probabilities"].shape, float(tf.reduce_sum(tta["probabilities"])))
    """)
    assert "(2, 16, 16, 3) (2, 3) 2.0" in output
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), np.asarray(model.translate(images, [0, 1], latents=latents)), atol=1e-3)


def test_traced_graph_does_not_grow_with_the_number_of_styles():
    model, classifier = tiny_parts()
    spec = tf.TensorSpec((None, 16, 16, 3), tf.float32)
    sizes = [len(tf.function(StyleTTA(classifier, model.generator_ema, model.mapping_ema, n=n).call).get_concrete_function(spec)
                 .graph.as_graph_def().node) for n in (2, 9)]
    assert sizes[0] == sizes[1] > 0

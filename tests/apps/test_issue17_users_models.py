"""Issue 17: the newer entry points on users' own models (a Keras-2 .h5 file, keras.applications, Sequential + Softmax)."""

import importlib.util
import pathlib

import keras
import numpy as np
import tensorflow as tf

from tfxai.io import load_model
from tfxai.metrics.generative import (
    feature_statistics,
    frechet_distance,
    gaussian_frechet_distance,
    inception_score,
    inception_score_from_probabilities,
    penultimate_features,
)


def _keras2_fixtures():
    """tests/apps/test_keras2_apps.py, whose ``keras2_h5`` fixture writes fer's mini-Xception as Keras 2 did (tests use importlib mode)."""
    spec = importlib.util.spec_from_file_location("keras2_apps_fixtures", pathlib.Path(__file__).with_name("test_keras2_apps.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


keras2_h5 = _keras2_fixtures().keras2_h5


def rgb_images(count=12, size=16, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (count, size, size, 3)).astype("float32")


def softmax_sequential():
    return keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(4, 3), keras.layers.GlobalAveragePooling2D(name="pool"),
                             keras.layers.Dense(3), keras.layers.Softmax()])


def fid_by_hand(features, real, fake):
    return gaussian_frechet_distance(*feature_statistics(features(real)), *feature_statistics(features(fake)))


def test_scores_under_a_keras2_h5_grayscale_classifier_take_rgb_images(keras2_h5):
    path, _, _ = keras2_h5
    model, _ = load_model(str(path))
    images = rgb_images()
    gray = tf.image.resize(tf.image.rgb_to_grayscale(images), (64, 64))  # what the model takes: 64x64x1
    expected = inception_score_from_probabilities(model.predict(gray, verbose=0))
    np.testing.assert_allclose(inception_score(images, model), expected, rtol=1e-5)
    features = penultimate_features(model)  # no Dense head: the pooled class maps before the softmax
    assert features.output.shape[-1] == 7 and model.layers[-1].name == "predictions"
    by_hand = keras.Model(model.inputs, model.layers[-2].output)
    np.testing.assert_allclose(frechet_distance(images[:6], images[6:], features),
                               fid_by_hand(lambda x: by_hand.predict(tf.image.resize(tf.image.rgb_to_grayscale(x), (64, 64)), verbose=0),
                                           images[:6], images[6:]), rtol=1e-4, atol=1e-6)


def test_scores_under_a_keras_applications_model():
    model = keras.applications.MobileNetV2(weights=None, input_shape=(32, 32, 3), classes=5)
    images = rgb_images()
    resized = tf.image.resize(images, (32, 32))
    np.testing.assert_allclose(inception_score(images, model), inception_score_from_probabilities(model.predict(resized, verbose=0)), rtol=1e-5)
    features = penultimate_features(model)
    assert features.output.shape[-1] == 1280  # the pooled features the head reads, not the 5 class scores


def test_fid_features_of_a_sequential_model_ending_in_softmax_are_its_pooled_features():
    model = softmax_sequential()
    images = rgb_images()
    features = penultimate_features(model)
    pooled = keras.Model(model.inputs, model.get_layer("pool").output)
    assert features.output.shape[-1] == 4  # not the Dense layer's 3 logits
    np.testing.assert_allclose(frechet_distance(images[:6], images[6:], features),
                               fid_by_hand(lambda x: pooled.predict(x, verbose=0), images[:6], images[6:]), rtol=1e-5)
    np.testing.assert_allclose(inception_score(images, model), inception_score_from_probabilities(model.predict(images, verbose=0)), rtol=1e-5)


def _bright_classifier(layers_before, input_shape):
    """Class 1 (light) when the mean pixel is bright: GAP then a fixed Dense, then ``Softmax`` as its own layer."""
    model = keras.Sequential([keras.Input(input_shape), keras.layers.Rescaling(1 / 255.0), *layers_before, keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(2), keras.layers.Softmax()])
    channels = input_shape[-1]
    model.layers[-2].set_weights([np.array([[-4.0, 4.0]] * channels, "float32"), np.array([2.0 * channels, -2.0 * channels], "float32")])
    return model


def _as_keras2_h5(model, path):
    import json

    import h5py

    model.save(path)
    with h5py.File(path, "a") as handle:
        handle.attrs["training_config"] = json.dumps(_keras2_fixtures().KERAS2_TRAINING_CONFIG)
        handle.attrs["keras_version"] = "2.0.5"
    return path


def test_tta_takes_users_classifiers(tmp_path, trained_stargan):
    import json

    from click.testing import CliRunner

    from tfxai.apps.cli import main

    translator, target = trained_stargan / "run", trained_stargan / "labelled_target"  # tests/apps/conftest.py
    application = keras.applications.MobileNetV2(weights=None, input_shape=(32, 32, 3), classes=2)
    application.save(tmp_path / "mobilenet.keras")
    _bright_classifier([], (16, 16, 3)).save(tmp_path / "softmax.keras")
    _as_keras2_h5(_bright_classifier([], (24, 24, 1)), tmp_path / "keras2_gray.h5")  # another size and one channel
    for name, decided in (("keras2_gray.h5", True), ("mobilenet.keras", False), ("softmax.keras", True)):
        export = ["--out", str(tmp_path / "tta")] if name.endswith(".h5") else []  # one SavedModel export is enough
        result = CliRunner().invoke(main, ["tta", "--classifier", str(tmp_path / name), "--translator", str(translator),
                                           "--data", str(target), "--n", "2", *export])
        assert result.exit_code == 0, (name, result.output)
        results = dict(item.split("=") for item in result.output.splitlines()[-1].split())
        assert set(results) == {"accuracy_n0", "accuracy_n1", "accuracy_n2"} and all(0 <= float(v) <= 1 for v in results.values())
        if decided:
            assert float(results["accuracy_n0"]) == 1.0, name  # brightness decides the class of untranslated images
    assert json.loads((tmp_path / "tta" / "results.json").read_text())["accuracy_n0"] == 1.0
    assert (tmp_path / "tta" / "tta_classifier" / "saved_model.pb").exists()

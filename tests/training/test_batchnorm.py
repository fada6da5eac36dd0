"""Exact BatchNorm statistics after training (issue 17: stale moving statistics after short small-preset runs)."""

import json
import os

import cv2
import keras
import numpy as np
import tensorflow as tf
from click.testing import CliRunner

from tfxai.apps.cli import main
from tfxai.training.batchnorm import BatchNormStatistics, batchnorm_layers, recompute_batchnorm_statistics


def two_bn_model(momentum=0.99):
    inputs = keras.Input((6, 6, 2))
    x = keras.layers.Conv2D(3, 3, padding="same", name="conv1")(inputs)
    x = keras.layers.BatchNormalization(momentum=momentum, name="bn1")(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv2")(x)
    x = keras.layers.BatchNormalization(momentum=momentum, name="bn2")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(2, activation="softmax", name="head")(x))


def offset_images(count=23, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(count, 6, 6, 2)) * [1.0, 3.0] + [5.0, -2.0]).astype(np.float32)


def batches(images, size):
    return tf.data.Dataset.from_tensor_slices((images, np.zeros(len(images), np.int32))).batch(size)


def reference_statistics(model, images, size):
    """Per-channel mean and variance of bn1's and bn2's inputs in a training-mode pass, computed by hand in numpy."""
    conv1, bn1, conv2 = model.get_layer("conv1"), model.get_layer("bn1"), model.get_layer("conv2")
    first, second = [], []
    for start in range(0, len(images), size):
        h = keras.ops.convert_to_numpy(conv1(images[start : start + size]))
        first.append(h)
        mean, variance = h.mean(axis=(0, 1, 2)), h.var(axis=(0, 1, 2))  # the batch's own moments (training mode)
        normalized = (h - mean) / np.sqrt(variance + bn1.epsilon) * bn1.gamma.numpy() + bn1.beta.numpy()
        second.append(keras.ops.convert_to_numpy(conv2(np.maximum(normalized, 0.0))))
    return [(np.concatenate(x).mean(axis=(0, 1, 2)), np.concatenate(x).var(axis=(0, 1, 2))) for x in (first, second)]


def test_moving_statistics_become_the_exact_moments_of_each_layers_inputs():
    model = two_bn_model()
    bn1 = model.get_layer("bn1")
    bn1.gamma.assign([0.5, 2.0, 1.5])  # a non-trivial normalisation feeds bn2
    images = offset_images()
    others = {w.path: w.numpy() for w in model.weights if "moving" not in w.path}
    used = recompute_batchnorm_statistics(model, batches(images, 5))  # 4 batches of 5 and one of 3
    assert used == 23
    for name, (mean, variance) in zip(("bn1", "bn2"), reference_statistics(model, images, 5)):
        layer = model.get_layer(name)
        np.testing.assert_allclose(layer.moving_mean.numpy(), mean, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(layer.moving_variance.numpy(), variance, rtol=1e-4, atol=1e-4)
        assert layer.momentum == 0.99  # restored
    for weight in model.weights:  # no other weight changed
        if "moving" not in weight.path:
            np.testing.assert_array_equal(weight.numpy(), others[weight.path])


class Holder(keras.Model):
    """A subclassed model holding a BatchNorm layer its forward pass never calls."""

    def __init__(self, inner, spare):
        super().__init__()
        self.inner, self.spare = inner, spare

    def call(self, inputs, training=None):
        return self.inner(inputs, training=training)


def test_frozen_and_unreached_layers_keep_their_statistics():
    model = two_bn_model()
    model.get_layer("bn2").trainable = False  # e.g. an ImageNet backbone's BatchNorm
    spare = keras.layers.BatchNormalization(name="unused")
    spare.build((None, 3))
    spare.moving_mean.assign([1.0, 2.0, 3.0])
    holder = Holder(model, spare)
    assert [layer.name for layer in batchnorm_layers(holder)] == ["bn1", "unused"]
    recompute_batchnorm_statistics(holder, batches(offset_images(), 8))
    np.testing.assert_array_equal(model.get_layer("bn2").moving_mean.numpy(), np.zeros(4))
    np.testing.assert_array_equal(spare.moving_mean.numpy(), [1.0, 2.0, 3.0])
    assert np.abs(model.get_layer("bn1").moving_mean.numpy()).max() > 0.1


def test_a_model_without_batchnorm_runs_nothing():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    assert recompute_batchnorm_statistics(model, None) == 0  # the dataset is not even read


def test_after_a_short_run_inference_mode_agrees_with_training_mode():
    # Twelve steps with the default momentum 0.99 leave the moving statistics stale (the symptom).
    labels = np.arange(64) % 2
    images = offset_images(64, seed=1)
    images[labels == 1, :, :3] += 4.0  # class 1 is brighter on the left
    model = two_bn_model(momentum=0.99)
    model.compile(keras.optimizers.Adam(0.05), "sparse_categorical_crossentropy", metrics=["accuracy"])
    data = tf.data.Dataset.from_tensor_slices((images, labels)).shuffle(64, seed=0).batch(16)
    model.fit(data, epochs=3, verbose=0, callbacks=[BatchNormStatistics(data)])

    def accuracy(training):
        return float(np.mean(keras.ops.convert_to_numpy(model(images, training=training)).argmax(-1) == labels))

    assert accuracy(True) > 0.9
    assert abs(accuracy(False) - accuracy(True)) <= 0.05


def test_validation_in_the_history_uses_the_recomputed_statistics(tmp_path):
    rng = np.random.default_rng(0)
    data = tmp_path / "data"
    for index, name in enumerate(("left", "right")):
        os.makedirs(data / name)
        for i in range(16):
            image = rng.integers(0, 60, (16, 16, 3), dtype=np.uint8)
            image[:, index * 8 : index * 8 + 8] += 150
            cv2.imwrite(str(data / name / f"{i}.png"), image)
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["train", "classifier", "--data", str(data), "--out", str(out), "--preset", "small",
                                       "--image-size", "16", "--epochs", "3", "--batch-size", "8", "--no-export", "--quiet"])
    assert result.exit_code == 0, result.output
    from tfxai.classify.classifier import load_classifier
    from tfxai.data import load_labelled_images
    from tfxai.training import split_run_data

    model, _ = load_classifier(str(out))
    train, held_out = split_run_data(load_labelled_images(str(data), 16, 3), 0.2, 0)
    inference = np.mean(keras.ops.convert_to_numpy(model(train.images, training=False)).argmax(-1) == train.labels)
    training = np.mean(keras.ops.convert_to_numpy(model(train.images, training=True)).argmax(-1) == train.labels)
    assert training == 1.0 and inference >= 0.95  # with stale statistics: about chance
    validation = np.mean(keras.ops.convert_to_numpy(model(held_out.images, training=False)).argmax(-1) == held_out.labels)
    recorded = json.loads((out / "metrics.json").read_text())["final"]["val_accuracy"]
    assert abs(recorded - validation) < 1e-6  # metrics.json reports the saved model's validation accuracy


def test_train_signal_model_leaves_exact_statistics():
    from tfxai.signal.data import Recordings
    from tfxai.signal.training import SignalTrainingConfig, train_signal_model
    from tfxai.signal.windows import make_windows

    rng = np.random.default_rng(0)
    signals = [np.stack([np.sin(np.arange(48) / (1 + i % 2)), rng.normal(size=48)], axis=1).astype("float32") + 3.0 for i in range(8)]
    recordings = Recordings(signals, np.arange(8) % 2, ["slow", "fast"], [f"r{i}" for i in range(8)])
    config = SignalTrainingConfig(model="san1d", window=16, step=8, train_step=4, epochs=2, batch_size=16, filters=4, learning_rate=0.05)
    result = train_signal_model(recordings, config, verbose=0)
    windows, _, _ = make_windows([signals[i] for i in result.train_indices], recordings.labels[result.train_indices], 16, 4)
    inputs = np.asarray(result.preprocessor(windows))
    layers = batchnorm_layers(result.model)
    kept = [(layer.moving_mean.numpy(), layer.moving_variance.numpy()) for layer in layers]
    # Deeper layers see inputs normalised with batch moments: the same batches give the same statistics.
    assert layers and recompute_batchnorm_statistics(result.model, np.array_split(inputs, -(-len(inputs) // 16))) == len(inputs)
    for layer, (mean, variance) in zip(layers, kept):
        np.testing.assert_allclose(mean, layer.moving_mean.numpy(), rtol=1e-3, atol=1e-4)
        np.testing.assert_allclose(variance, layer.moving_variance.numpy(), rtol=1e-3, atol=1e-4)


def test_train_mixed_leaves_exact_statistics(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (24, 8, 8)).astype("uint8")
    y = (x.mean(axis=(1, 2)) > 127).astype("int64")
    np.savez(tmp_path / "train.npz", x=x, y=y)
    teacher = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3), keras.layers.GlobalAveragePooling2D(),
                                keras.layers.Dense(2, activation="softmax")])
    student = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.BatchNormalization(name="input_bn"), keras.layers.Conv2D(4, 3),
                                keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2, activation="softmax")])
    teacher.save(tmp_path / "teacher.keras")
    student.save(tmp_path / "student.keras")
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["train", "mixed", "--data", str(tmp_path / "train.npz"), "--teacher", str(tmp_path / "teacher.keras"),
                                       "--student", str(tmp_path / "student.keras"), "--out", str(out), "--fraction", "0",
                                       "--validation-split", "0", "--augment", "none", "--epochs", "2", "--batch-size", "8",
                                       "--no-export", "--quiet"])
    assert result.exit_code == 0, result.output
    layer = keras.saving.load_model(out / "model.keras").get_layer("input_bn")
    pixels = x / 255.0  # the student's first layer sees the [0, 1] pixels
    np.testing.assert_allclose(layer.moving_mean.numpy(), [pixels.mean()], rtol=1e-4)
    np.testing.assert_allclose(layer.moving_variance.numpy(), [pixels.var()], rtol=1e-3)

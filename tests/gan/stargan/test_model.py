"""StarGAN v2 training: R1 and class-aware losses by hand, the diversity schedule in the traced step, round trips."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfxai.errors import TfxaiError
from tfxai.gan.stargan import StarGANv2, to_model_range
from tfxai.gan.stargan.losses import r1_penalty, semantic_loss, task_loss
from tfxai.gan.stargan.networks import Discriminator


def tiny_model(class_aware=True, **kwargs):
    return StarGANv2(16, 2, style_dim=8, latent_dim=4, class_aware=class_aware, num_classes=3 if class_aware else None,
                     preset="tiny", **kwargs)


def batches(count=8, size=16, batch=4, seed=0):
    rng = np.random.default_rng(seed)
    data = {"images": rng.uniform(0, 255, (count, size, size, 3)).astype("float32"), "domains": np.arange(count) % 2,
            "references": rng.uniform(0, 255, (count, size, size, 3)).astype("float32"),
            "references2": rng.uniform(0, 255, (count, size, size, 3)).astype("float32"),
            "reference_domains": 1 - np.arange(count) % 2, "labels": np.where(np.arange(count) % 2 == 0, np.arange(count) % 3, -1)}
    return tf.data.Dataset.from_tensor_slices(data).batch(batch)


def test_r1_penalty_matches_a_hand_computation_on_a_linear_discriminator():
    # D(x) = sum(w * x) for domain d, so dD/dx = w_d and R1 = 0.5 * ||w_d||^2
    class Linear(keras.Model):
        def __init__(self):
            super().__init__()
            self.w = self.add_weight(shape=(2, 4, 4, 1), initializer=keras.initializers.RandomNormal(seed=3))

        def call(self, images, domains):
            return tf.reduce_sum(tf.gather(self.w, domains) * images ** 2 / 2 + tf.gather(self.w, domains) * images, axis=[1, 2, 3])

    d = Linear()
    x = tf.constant(np.random.default_rng(0).normal(size=(3, 4, 4, 1)).astype("float32"))
    domains = tf.constant([0, 1, 1])
    penalty, logits = r1_penalty(d, x, domains)
    w = np.asarray(d.w)[[0, 1, 1]]
    gradient = w * np.asarray(x) + w  # d/dx (w x^2 / 2 + w x)
    np.testing.assert_allclose(float(penalty), np.mean(0.5 * (gradient ** 2).sum(axis=(1, 2, 3))), rtol=1e-5)
    assert logits.shape == (3,)


def test_r1_penalty_on_a_tiny_discriminator_against_finite_differences():
    d = Discriminator(16, 2, "tiny")
    x = tf.constant(np.random.default_rng(0).normal(size=(2, 16, 16, 3)).astype("float32"))
    domains = tf.constant([0, 1])
    penalty, _ = r1_penalty(d, x, domains)
    with tf.GradientTape() as tape:
        tape.watch(x)
        total = tf.reduce_sum(d(x, domains))
    # the penalty is 0.5 * ||grad||^2 averaged: compare its directional derivative numerically
    gradient = np.asarray(tape.gradient(total, x))
    direction = gradient / np.linalg.norm(gradient)
    eps = 1e-2
    numeric = (float(tf.reduce_sum(d(x + eps * direction, domains))) - float(tf.reduce_sum(d(x - eps * direction, domains)))) / (2 * eps)
    np.testing.assert_allclose(numeric, np.linalg.norm(gradient), rtol=2e-2)
    np.testing.assert_allclose(float(penalty), 0.25 * np.sum(gradient ** 2), rtol=1e-5)  # mean over 2 images


LOGITS = np.array([[2.0, 0.0, -1.0], [0.5, 0.5, 0.0], [0.0, 3.0, 1.0]], "float32")
AFTER = np.array([[1.0, 1.0, 0.0], [0.0, 2.0, 0.0], [1.0, 0.0, 0.0]], "float32")


def log_softmax(z):
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def test_task_loss_is_the_cross_entropy_of_the_labelled_rows_only():
    labels = np.array([0, -1, 2])
    expected = -(log_softmax(LOGITS)[0, 0] + log_softmax(LOGITS)[2, 2]) / 2  # mean over the 2 labelled rows
    np.testing.assert_allclose(float(task_loss(tf.constant(LOGITS), tf.constant(labels))), expected, rtol=1e-5)
    changed = LOGITS.copy()
    changed[1] = [-5.0, 9.0, 4.0]  # the unlabelled row's logits do not matter
    np.testing.assert_allclose(float(task_loss(tf.constant(changed), tf.constant(labels))), expected, rtol=1e-5)
    assert float(task_loss(tf.constant(LOGITS), tf.constant([-1, -1, -1]))) == 0.0


def test_semantic_loss_matches_a_hand_computation():
    p = np.exp(log_softmax(LOGITS))
    expected = np.mean(-(p * log_softmax(AFTER)).sum(-1))
    np.testing.assert_allclose(float(semantic_loss(tf.constant(LOGITS), tf.constant(AFTER))), expected, rtol=1e-5)


def test_semantic_loss_pseudo_labels_carry_no_gradient():
    before, after = tf.Variable(LOGITS), tf.Variable(AFTER)
    with tf.GradientTape() as tape:
        loss = semantic_loss(before, after)
    gradient_before, gradient_after = tape.gradient(loss, [before, after])
    assert gradient_before is None or not np.any(np.asarray(gradient_before))
    # d CE(p, after) / d after = (softmax(after) - p) / batch: the translation's prediction is what learns
    expected = (np.exp(log_softmax(AFTER)) - np.exp(log_softmax(LOGITS))) / 3
    np.testing.assert_allclose(np.asarray(gradient_after), expected, atol=1e-6)


def test_model_class_losses_read_the_encoder_features_of_images_and_translations():
    model = tiny_model()
    images = to_model_range(np.random.default_rng(0).uniform(0, 255, (4, 16, 16, 3)).astype("float32"))
    styles = model.mapping(tf.random.normal((4, 4)), tf.constant([1, 0, 1, 0]))
    labels = tf.constant([1, -1, 2, -1])
    features = model.generator.encode(images)
    translated = model.generator.encode(model.generator(images, styles))
    losses = model.class_losses(features, translated, labels)
    before, after = model.classifier(features), model.classifier(translated)
    np.testing.assert_allclose(float(losses["task"]), float(task_loss(before, labels)), rtol=1e-6)
    np.testing.assert_allclose(float(losses["semantic"]), float(semantic_loss(before, after)), rtol=1e-6)


def test_the_traced_generator_loss_reads_the_diversity_weight_variable():
    # one trace, two weights: the total moves by exactly -(change of weight) * L_ds
    model = tiny_model(class_aware=False)
    data = next(iter(batches(count=4)))
    images = to_model_range(data["images"])
    domains, targets = tf.cast(data["domains"], tf.int32), tf.cast(data["reference_domains"], tf.int32)
    styles, styles2 = (model.mapping(tf.random.normal((4, 4), seed=s), targets) for s in (1, 2))

    @tf.function
    def losses():
        values, total = model.generator_losses(images, domains, targets, styles, styles2, -tf.ones_like(domains))
        return values["g_diversity"], total

    diversity, total_at_1 = losses()
    model.diversity_weight.assign(0.25)
    _, total_at_quarter = losses()
    assert losses.experimental_get_tracing_count() == 1
    assert float(diversity) > 0
    np.testing.assert_allclose(float(total_at_quarter - total_at_1), 0.75 * float(diversity), rtol=1e-4)


def test_fit_decays_the_diversity_weight_inside_the_traced_step_and_updates_the_ema():
    model = tiny_model(diversity_iterations=4)
    model.compile()
    before = [np.asarray(w).copy() for w in model.generator_ema.weights]
    history = model.fit(batches(count=16).take(4), epochs=1, verbose=0)
    # iterations 0..3 use 1, 0.75, 0.5, 0.25: the logged mean is 0.625 and the variable holds the last value
    np.testing.assert_allclose(history.history["diversity_weight"][-1], 0.625, rtol=1e-6)
    np.testing.assert_allclose(float(model.diversity_weight.numpy()), 0.25, rtol=1e-6)
    assert all(np.isfinite(v[-1]) for v in history.history.values())
    assert {"task", "semantic", "d_r1", "g_cycle"} <= set(history.history)
    changed = [not np.allclose(b, np.asarray(w)) for b, w in zip(before, model.generator_ema.weights)]
    assert any(changed)
    # EMA 0.999 moves the copy by ~0.1 % of the way: it stays much closer to its start than the trained generator
    gap_ema = sum(np.abs(b - np.asarray(w)).sum() for b, w in zip(before, model.generator_ema.weights))
    gap_trained = sum(np.abs(b - np.asarray(w)).sum() for b, w in zip(before, model.generator.weights))
    assert 0 < gap_ema < 0.05 * gap_trained


def test_keras_round_trip_gives_the_same_translations(tmp_path):
    model = tiny_model()
    inputs = {"images": np.random.default_rng(0).uniform(0, 255, (2, 16, 16, 3)).astype("float32"),
              "domains": np.array([0, 1]), "latents": np.random.default_rng(1).normal(size=(2, 4)).astype("float32")}
    path = str(tmp_path / "stargan.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.class_aware and loaded.get_config() == model.get_config()
    np.testing.assert_allclose(np.asarray(loaded(inputs)), np.asarray(model(inputs)), atol=1e-4)
    reference = dict(inputs, latents=None, references=inputs["images"][::-1])
    np.testing.assert_allclose(np.asarray(loaded(reference)), np.asarray(model(reference)), atol=1e-4)


def test_bad_arguments_are_one_line_errors():
    with pytest.raises(TfxaiError, match="num_classes"):
        StarGANv2(16, 2, class_aware=True, preset="tiny")
    with pytest.raises(TfxaiError, match="num_domains"):
        StarGANv2(16, 1, preset="tiny")
    with pytest.raises(TfxaiError, match="either latents or reference"):
        tiny_model(class_aware=False).translate(np.zeros((1, 16, 16, 3), "float32"), [0])

"""Every StarGAN v2 loss term (and the class-aware L_task, L_sem) against a numpy hand computation.

Each term is recomputed from the networks' own outputs with numpy, with the source and
target domains different and every weight a distinct value, so that a wrong domain, style,
sign, weight or stop-gradient in the model's formulas fails here (Choi et al. 2020, the
official clovaai/stargan-v2 ``compute_d_loss`` / ``compute_g_loss``; Imaeda's eqs. 1-2).
"""

import numpy as np
import pytest

import tfxai  # noqa: F401  (before TensorFlow)
import keras
import tensorflow as tf

from tfxai.gan.stargan import StarGANv2, to_model_range
from tfxai.gan.stargan.losses import adversarial_loss, mean_absolute, r1_penalty, task_loss

WEIGHTS = {"style_weight": 2.0, "cycle_weight": 3.0, "r1_weight": 5.0, "task_weight": 7.0, "semantic_weight": 11.0, "diversity_weight": 0.5}


def softplus(x):
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0)


def log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def n(tensor):
    return np.asarray(tensor, np.float64)


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(1)
    return StarGANv2(16, 2, style_dim=8, latent_dim=4, class_aware=True, num_classes=3, preset="tiny", **WEIGHTS)


@pytest.fixture(scope="module")
def batch(model):
    rng = np.random.default_rng(0)
    images = to_model_range(rng.uniform(0, 255, (4, 16, 16, 3)).astype("float32"))
    domains, targets = tf.constant([0, 1, 0, 1]), tf.constant([1, 0, 1, 0])  # every image changes domain
    styles = model.mapping(tf.constant(rng.normal(size=(4, 4)), tf.float32), targets)
    styles2 = model.mapping(tf.constant(rng.normal(size=(4, 4)), tf.float32), targets)
    labels = tf.constant([2, -1, 0, -1])  # source rows labelled, target rows not
    return images, domains, targets, styles, styles2, labels


# === The pure loss functions ===

def test_adversarial_loss_is_the_non_saturating_bce_of_the_logits():
    logits = np.array([-3.0, -0.5, 0.0, 0.7, 4.0], "float32")
    np.testing.assert_allclose(float(adversarial_loss(tf.constant(logits), True)), np.mean(np.log(1 + np.exp(-logits))), rtol=1e-6)
    np.testing.assert_allclose(float(adversarial_loss(tf.constant(logits), False)), np.mean(np.log(1 + np.exp(logits))), rtol=1e-6)


def test_adversarial_loss_equals_keras_binary_cross_entropy_against_ones_and_zeros():
    logits = np.random.default_rng(1).normal(0, 3, (6,)).astype("float32")
    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    np.testing.assert_allclose(float(adversarial_loss(tf.constant(logits), True)), float(bce(np.ones((6, 1)), logits[:, None])), rtol=1e-5)
    np.testing.assert_allclose(float(adversarial_loss(tf.constant(logits), False)), float(bce(np.zeros((6, 1)), logits[:, None])), rtol=1e-5)


def test_mean_absolute_is_the_mean_over_every_element():
    a = np.random.default_rng(2).normal(size=(3, 2, 2, 3)).astype("float32")
    b = np.random.default_rng(3).normal(size=(3, 2, 2, 3)).astype("float32")
    np.testing.assert_allclose(float(mean_absolute(tf.constant(a), tf.constant(b))), np.abs(a - b).mean(), rtol=1e-6)
    np.testing.assert_allclose(float(mean_absolute(tf.constant(a), tf.constant(b))), float(keras.losses.MeanAbsoluteError()(a.reshape(3, -1), b.reshape(3, -1))), rtol=1e-6)


def test_task_loss_equals_keras_cross_entropy_on_the_labelled_subset():
    logits = np.random.default_rng(4).normal(size=(5, 3)).astype("float32")
    labels = np.array([1, -1, 0, 2, -1])
    kept = labels >= 0
    expected = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels[kept], logits[kept])
    np.testing.assert_allclose(float(task_loss(tf.constant(logits), tf.constant(labels))), float(expected), rtol=1e-5)


# === The discriminator's loss ===

def test_discriminator_losses_by_hand(model, batch):
    images, domains, targets, styles, _, _ = batch
    fakes = model.generator(images, styles)
    losses, total = model.discriminator_losses(images, domains, fakes, targets)
    real_logits = n(model.discriminator(images, domains))  # real images judged in their own domain
    fake_logits = n(model.discriminator(fakes, targets))  # fakes judged in the domain they were translated into
    np.testing.assert_allclose(float(losses["d_real"]), softplus(-real_logits).mean(), rtol=1e-5)
    np.testing.assert_allclose(float(losses["d_fake"]), softplus(fake_logits).mean(), rtol=1e-5)
    with tf.GradientTape() as tape:
        tape.watch(images)
        total_logit = tf.reduce_sum(model.discriminator(images, domains))
    gradient = n(tape.gradient(total_logit, images))
    np.testing.assert_allclose(float(losses["d_r1"]), 0.5 * (gradient ** 2).sum(axis=(1, 2, 3)).mean(), rtol=1e-4)
    expected = softplus(-real_logits).mean() + softplus(fake_logits).mean() + WEIGHTS["r1_weight"] * float(losses["d_r1"])
    np.testing.assert_allclose(float(total), expected, rtol=1e-5)
    # the domains matter: judged in the other domain the terms differ (so the test above can tell them apart)
    assert not np.allclose(n(model.discriminator(images, targets)), real_logits, atol=1e-4)
    assert not np.allclose(n(model.discriminator(fakes, domains)), fake_logits, atol=1e-4)


def test_r1_penalty_trains_the_discriminator_through_the_input_gradient():
    # D(x) = w . x^2 / 2 per domain: dD/dx = w x, R1 = 0.5 mean ||w x||^2, dR1/dw_d = sum over images of domain d of w_d x^2 / batch
    class Quadratic(keras.Model):
        def __init__(self):
            super().__init__()
            self.w = self.add_weight(shape=(2, 3), initializer=keras.initializers.RandomNormal(seed=5))

        def call(self, images, domains):
            return tf.reduce_sum(tf.gather(self.w, domains) * images ** 2 / 2, axis=-1)

    d = Quadratic()
    x = tf.constant(np.random.default_rng(6).normal(size=(4, 3)).astype("float32"))
    domains = tf.constant([0, 1, 1, 0])
    with tf.GradientTape() as tape:
        penalty, _ = r1_penalty(d, x, domains)
    gradient = n(tf.convert_to_tensor(tape.gradient(penalty, d.w)))  # a gather gives IndexedSlices
    w, xs = n(d.w), n(x)
    expected = np.zeros((2, 3))
    for image, domain in zip(xs, [0, 1, 1, 0]):
        expected[domain] += w[domain] * image ** 2 / 4
    np.testing.assert_allclose(gradient, expected, rtol=1e-5)


# === The generator's losses ===

def hand_generator_losses(model, images, domains, targets, styles, styles2, labels):
    """The official compute_g_loss (and Imaeda's L_task, L_sem), each network called once per term, the rest numpy."""
    fakes = model.generator(images, styles)
    out = {"g_adv": softplus(-n(model.discriminator(fakes, targets))).mean(),
           "g_style": np.abs(n(model.style_encoder(fakes, targets)) - n(styles)).mean(),
           "g_diversity": np.abs(n(fakes) - n(model.generator(images, styles2))).mean()}
    source_styles = model.style_encoder(images, domains)  # the cycle goes back with the *source* image's style
    out["g_cycle"] = np.abs(n(model.generator(fakes, source_styles)) - n(images)).mean()
    before = log_softmax(n(model.classifier(model.generator.encode(images))))
    after = log_softmax(n(model.classifier(model.generator.encode(fakes))))
    labelled = n(labels) >= 0
    out["task"] = -before[labelled, n(labels)[labelled].astype(int)].mean()
    out["semantic"] = -(np.exp(before) * after).sum(-1).mean()
    return out


def test_every_generator_term_and_the_weighted_total_by_hand(model, batch):
    losses, total = model.generator_losses(*batch)
    expected = hand_generator_losses(model, *batch)
    for name, value in expected.items():
        np.testing.assert_allclose(float(losses[name]), value, rtol=2e-4, err_msg=name)
    w = WEIGHTS
    weighted = (expected["g_adv"] + w["style_weight"] * expected["g_style"] - w["diversity_weight"] * expected["g_diversity"]
                + w["cycle_weight"] * expected["g_cycle"] + w["task_weight"] * expected["task"] + w["semantic_weight"] * expected["semantic"])
    np.testing.assert_allclose(float(total), weighted, rtol=2e-4)


def test_wrong_domains_or_styles_give_other_values(model, batch):
    # the hand computation can tell the readings apart: the cycle with the target's style, the style
    # loss read in the source domain, or the adversarial term in the source domain would all differ
    images, domains, targets, styles, styles2, labels = batch
    losses, _ = model.generator_losses(*batch)
    fakes = model.generator(images, styles)
    wrong_cycle = np.abs(n(model.generator(fakes, model.style_encoder(images, targets))) - n(images)).mean()
    wrong_style = np.abs(n(model.style_encoder(fakes, domains)) - n(styles)).mean()
    wrong_adv = softplus(-n(model.discriminator(fakes, domains))).mean()
    assert abs(wrong_cycle - float(losses["g_cycle"])) > 1e-4 * abs(wrong_cycle)
    assert abs(wrong_style - float(losses["g_style"])) > 1e-4 * abs(wrong_style)
    assert abs(wrong_adv - float(losses["g_adv"])) > 1e-4 * abs(wrong_adv)


def test_gradients_stop_where_the_official_code_detaches(model, batch):
    images, domains, targets, styles, styles2, labels = batch
    styles, styles2 = tf.Variable(styles), tf.Variable(styles2)
    with tf.GradientTape(persistent=True) as tape:
        losses, _ = model.generator_losses(images, domains, targets, styles, styles2, labels)
    # diversity: the second translation is detached (x_fake2.detach()), only the first style learns
    assert tape.gradient(losses["g_diversity"], styles2) is None
    assert np.any(n(tape.gradient(losses["g_diversity"], styles)) != 0)
    # the style target is not detached in the official code: the style loss reaches the style code both ways
    assert np.any(n(tape.gradient(losses["g_style"], styles)) != 0)
    # the cycle's source style comes from the style encoder, which it trains
    cycle_gradients = tape.gradient(losses["g_cycle"], model.style_encoder.trainable_variables)
    assert any(g is not None and np.any(n(g) != 0) for g in cycle_gradients)


def test_semantic_loss_trains_the_translation_side_only(model, batch):
    images, _, _, styles, _, labels = batch
    features = tf.Variable(model.generator.encode(images))
    translated = tf.Variable(model.generator.encode(model.generator(images, styles)))
    with tf.GradientTape(persistent=True) as tape:
        losses = model.class_losses(features, translated, labels)
    before = tape.gradient(losses["semantic"], features)
    assert before is None or not np.any(n(before))  # the untranslated prediction is a pseudo-label
    assert np.any(n(tape.gradient(losses["semantic"], translated)) != 0)
    # L_task reads only the untranslated source images
    assert tape.gradient(losses["task"], translated) is None
    task_gradient = n(tape.gradient(losses["task"], features))
    assert np.any(task_gradient[[0, 2]] != 0) and not np.any(task_gradient[[1, 3]])  # the unlabelled rows give nothing


def test_the_diversity_weight_variable_enters_the_total_with_a_minus_sign(model, batch):
    before = float(model.generator_losses(*batch)[1])
    model.diversity_weight.assign(2.5)
    try:
        losses, after = model.generator_losses(*batch)
    finally:
        model.diversity_weight.assign(WEIGHTS["diversity_weight"])
    np.testing.assert_allclose(float(after) - before, -2.0 * float(losses["g_diversity"]), rtol=1e-3)

"""Collaborative GANs: losses against hand computations, gradients along edges, D's labels, SN, saving."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfxai.errors import TfxaiError
from tfxai.gan import CollaborativeGAN, KnowledgeTransferGraph
from tfxai.gan.collaborative import attention_transfer_loss, discriminator_labels, discriminator_loss

TINY = dict(latent_dim=8, image_size=16, channels=1, filters=4, total_steps=10)


def tiny_gan(num_generators=3, graph=None, **options):
    model = CollaborativeGAN(num_generators, graph, **{**TINY, **options})
    model.compile()
    return model


def test_attention_transfer_loss_matches_a_hand_computation():
    rng = np.random.default_rng(0)
    teacher = [rng.normal(size=(2, 4, 4, 3)), rng.normal(size=(2, 2, 2, 5))]
    student = [rng.normal(size=(2, 4, 4, 3)), rng.normal(size=(2, 2, 2, 5))]
    expected = np.zeros(2)
    for t, s in zip(teacher, student):
        for b in range(2):
            q_t = (t[b] ** 2).mean(axis=-1).ravel()
            q_s = (s[b] ** 2).mean(axis=-1).ravel()
            diff = q_t / np.linalg.norm(q_t) - q_s / np.linalg.norm(q_s)
            expected[b] += (diff ** 2).sum() / q_t.size
    expected *= 1000.0 / 2
    got = attention_transfer_loss([tf.constant(x, tf.float32) for x in teacher], [tf.constant(x, tf.float32) for x in student], 1000.0)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-4)


def test_discriminator_has_k_plus_one_outputs_and_madgan_labels():
    labels = [x.numpy().tolist() for x in discriminator_labels(3, 2)]
    assert labels == [[3, 3], [0, 0], [1, 1], [2, 2]]  # real = last class, G_i's images = class i-1
    logits = [tf.one_hot([c, c], 4) * 20.0 for c in (3, 0, 1, 2)]
    assert np.all(discriminator_loss(logits[0], logits[1:]).numpy() < 1e-6)  # a D that is right has no loss
    wrong = discriminator_loss(logits[1], [logits[0]] * 3).numpy()
    assert np.all(wrong > 10)
    assert tiny_gan(3).discriminator.output_shape == (None, 4)
    assert tiny_gan(1).discriminator.output_shape == (None, 1)  # DCGAN: binary


def _gradient_norms(model, z):
    with tf.GradientTape() as tape:
        loss, _ = model.generator_losses(z)
    variables = [g.trainable_variables for g in model.generators]
    grads = tape.gradient(loss, [v for vs in variables for v in vs])
    norms, start = [], 0
    for vs in variables:
        norms.append(sum(float(tf.reduce_sum(tf.square(g))) for g in grads[start:start + len(vs)] if g is not None))
        start += len(vs)
    return norms


def test_cut_edges_give_no_gradient_and_transfer_flows_only_into_the_student():
    z = tf.random.normal((4, TINY["latent_dim"]))
    # only G1 -> G2 open: G2 gets a gradient, the teacher G1 and the isolated G3 none
    graph = KnowledgeTransferGraph(3, {"G1->G2": "through"}, default="cutoff")
    norms = _gradient_norms(tiny_gan(3, graph), z)
    assert norms[1] > 0 and norms[0] == 0 and norms[2] == 0
    # MAD-GAN: every generator learns from D only
    assert all(n > 0 for n in _gradient_norms(tiny_gan(3, KnowledgeTransferGraph.mad_gan(3)), z))
    # all incoming edges of G3 cut
    cut = KnowledgeTransferGraph(3, {"D->G3": "cutoff", "G1->G3": "cutoff", "G2->G3": "cutoff"})
    norms = _gradient_norms(tiny_gan(3, cut), z)
    assert norms[2] == 0 and norms[0] > 0 and norms[1] > 0


def test_positive_linear_edge_is_silent_at_the_start_of_training():
    z = tf.random.normal((4, TINY["latent_dim"]))
    model = tiny_gan(3, KnowledgeTransferGraph(3, {"D->G1": "positive_linear"}, default="cutoff"))
    assert _gradient_norms(model, z)[0] == 0  # iterations = 0
    model.g_optimizer.iterations.assign(5)  # half-way through total_steps=10
    _, losses = model.generator_losses(z, training=False)
    model.g_optimizer.iterations.assign(10)
    _, end = model.generator_losses(z, training=False)
    assert float(end[0]) == pytest.approx(2 * float(losses[0]), rel=1e-5)


def test_spectral_norm_keeps_discriminator_kernels_at_unit_norm_and_fit_learns():
    model = tiny_gan(3, KnowledgeTransferGraph.mad_gan(3), total_steps=6)
    images = np.random.default_rng(0).uniform(-1, 1, (48, 16, 16, 1)).astype(np.float32)
    history = model.fit(images, batch_size=16, epochs=2, verbose=0)
    assert int(model.g_optimizer.iterations) == 6 and np.all(np.isfinite(history.history["d_loss"]))
    wrapped = [layer for layer in model.discriminator.layers if isinstance(layer, keras.layers.SpectralNormalization)]
    assert len(wrapped) == 3  # two convolutions and the dense output
    for layer in wrapped:
        kernel = layer.layer.kernel.numpy()
        sigma = np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]), compute_uv=False)[0]
        assert sigma == pytest.approx(1.0, abs=0.1)


def test_generators_round_trip_through_keras_files(tmp_path):
    model = tiny_gan(2)
    z = np.random.default_rng(1).standard_normal((3, TINY["latent_dim"])).astype(np.float32)
    for i, generator in enumerate(model.generators):
        path = str(tmp_path / f"g{i}.keras")
        generator.save(path)
        np.testing.assert_allclose(keras.saving.load_model(path)(z).numpy(), generator(z).numpy(), atol=1e-6)
    path = str(tmp_path / "gan.keras")
    model.save(path)
    again = keras.saving.load_model(path)
    assert again.graph == model.graph and again.num_generators == 2
    np.testing.assert_allclose(again.generators[1](z).numpy(), model.generators[1](z).numpy(), atol=1e-6)


def test_mismatched_graph_is_a_one_line_error():
    with pytest.raises(TfxaiError, match="graph has 2 generators"):
        CollaborativeGAN(3, KnowledgeTransferGraph(2), **TINY)
    with pytest.raises(TfxaiError, match="power of two"):
        CollaborativeGAN(3, image_size=24)

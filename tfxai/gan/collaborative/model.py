"""Collaborative GANs: k generators that teach each other along a knowledge-transfer graph.

Tsukahara et al., "Collaborative learning of generative adversarial networks"
(VISAPP 2021). k DCGAN generators get the same latent z; one discriminator
with k+1 softmax outputs (``d_1 .. d_k`` = "made by G_i", ``d_{k+1}`` = real)
is trained as in MAD-GAN (Ghosh et al. 2018). Each generator's loss is the sum
of its gated incoming edges: ``D -> G_i`` is the cross-entropy of D's output on
G_i's images against "real" (Eq. 1), ``G_t -> G_s`` the attention transfer of
G_t's feature maps to G_s (Eqs. 2-3; gradients only into G_s). With k = 1 the
discriminator is binary and the model is DCGAN; MAD-GAN is the graph with
every generator-generator edge cut.
"""

import keras
import numpy as np
import tensorflow as tf

from tfxai.errors import TfxaiError
from tfxai.gan.collaborative.dcgan import build_discriminator, build_generator, transfer_layer_names
from tfxai.gan.collaborative.gates import apply_gate, training_progress
from tfxai.gan.collaborative.graph import DISCRIMINATOR, KnowledgeTransferGraph
from tfxai.training.precision import float32, loss_scaled, scaled_gradients
from tfxai.training.resume import step_normal

__all__ = [
    "CollaborativeGAN",
    "adversarial_loss",
    "attention_map",
    "attention_transfer_loss",
    "discriminator_loss",
    "discriminator_labels",
]


# === Losses (per sample, shape (batch,)) ===


def attention_map(features):
    """Q of Eq. 2, L2-normalised: the channel mean of F^2 at every position, (batch, H*W) with unit norm per sample."""
    energy = tf.reduce_mean(tf.square(features), axis=-1)
    flat = tf.reshape(energy, (tf.shape(energy)[0], -1))
    return tf.math.l2_normalize(flat, axis=-1, epsilon=1e-12)


def attention_transfer_loss(teacher_features, student_features, alpha):
    """Eq. 3 without the gate: ``alpha / (M N) sum_m sum_n (Q_t - Q_s)^2`` per sample; no gradient into the teacher.

    ``teacher_features`` and ``student_features`` are lists of the M feature maps
    (batch, H, W, C); N is each map's number of positions.
    """
    terms = [
        tf.reduce_mean(tf.square(tf.stop_gradient(attention_map(t)) - attention_map(s)), axis=-1)
        for t, s in zip(teacher_features, student_features)
    ]
    return alpha * tf.add_n(terms) / float(len(terms))


def discriminator_labels(num_generators, batch_size):
    """MAD-GAN's targets of the (k+1)-way discriminator: ``[real, fake of G_1, .., fake of G_k]``.

    Real images are class k (the last output), images of G_i class i - 1.
    """
    real = tf.fill((batch_size,), num_generators)
    return [real] + [tf.fill((batch_size,), i) for i in range(num_generators)]


def _cross_entropy(logits, labels):
    labels = tf.cast(labels, tf.int32)
    if logits.shape[-1] == 1:  # binary discriminator (DCGAN): label 1 = real
        return tf.nn.sigmoid_cross_entropy_with_logits(tf.cast(labels > 0, logits.dtype)[:, None], logits)[:, 0]
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)


def discriminator_loss(real_logits, fake_logits):
    """MAD-GAN's discriminator loss per sample: cross-entropy on real images plus on each generator's images."""
    num_generators = len(fake_logits)
    binary = real_logits.shape[-1] == 1
    labels = discriminator_labels(1 if binary else num_generators, tf.shape(real_logits)[0])
    loss = _cross_entropy(real_logits, labels[0])
    for i, logits in enumerate(fake_logits):
        loss += _cross_entropy(logits, labels[1] if binary else labels[i + 1])
    return loss


def adversarial_loss(fake_logits):
    """Eq. 1 without the gate: cross-entropy of D's output on a generator's images against "real"."""
    real_class = 1 if fake_logits.shape[-1] == 1 else fake_logits.shape[-1] - 1
    return _cross_entropy(fake_logits, tf.fill((tf.shape(fake_logits)[0],), real_class))


# === Model ===


@keras.saving.register_keras_serializable(package="tfxai")
class CollaborativeGAN(keras.Model):
    """k DCGAN generators and one (k+1)-way discriminator trained along a knowledge-transfer graph.

    Args:
        num_generators: k (1 = DCGAN with a binary discriminator).
        graph: a :class:`KnowledgeTransferGraph` (or its config); default all edges Through.
        latent_dim, image_size, channels, filters: the DCGAN networks' sizes.
        spectral_norm: spectral normalisation on the discriminator (else batch norm).
        alpha: weight of attention transfer (Eq. 3).
        total_steps: generator updates of the whole training; the linear gates
            reach their end value there (progress = optimizer iterations / total_steps).
    """

    def __init__(self, num_generators=3, graph=None, latent_dim=100, image_size=64, channels=3, filters=64,
                 spectral_norm=True, alpha=1000.0, total_steps=1000, seed=0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(graph, dict):
            graph = KnowledgeTransferGraph.from_config(graph)
        graph = KnowledgeTransferGraph(num_generators) if graph is None else graph
        if graph.num_generators != int(num_generators):
            raise TfxaiError(f"the graph has {graph.num_generators} generators but num_generators is {num_generators}: make them equal")
        if int(total_steps) < 1:
            raise TfxaiError(f"total_steps must be at least 1, got {total_steps}")
        self.num_generators = int(num_generators)
        self.graph = graph
        self.latent_dim = int(latent_dim)
        self.image_size = int(image_size)
        self.channels = int(channels)
        self.filters = int(filters)
        self.spectral_norm = bool(spectral_norm)
        self.alpha = float(alpha)
        self.total_steps = int(total_steps)
        self.seed = int(seed)
        # === Layers ===
        self.generators = [build_generator(latent_dim, image_size, channels, filters, name=f"generator_{i + 1}")
                           for i in range(self.num_generators)]
        outputs = 1 if self.num_generators == 1 else self.num_generators + 1
        self.discriminator = build_discriminator(image_size, channels, filters, outputs, spectral_norm)
        names = transfer_layer_names(image_size)
        views = [keras.Model(g.input, [g.get_layer(n).output for n in names] + [g.output]) for g in self.generators]
        object.__setattr__(self, "_feature_views", views)  # share the generators' layers; not tracked twice
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.built = True  # every network above is a built functional model

    def compile(self, d_optimizer=None, g_optimizer=None, **kwargs):
        """Adam(2e-4, beta_1=0.5) for both networks unless given (DCGAN's setting)."""
        super().compile(**kwargs)
        self.d_optimizer = loss_scaled(d_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5), self.dtype_policy)
        self.g_optimizer = loss_scaled(g_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5), self.dtype_policy)

    def build_optimizers(self):
        """Create both optimizers' variables (before restoring a backup into them, :mod:`tfxai.training.resume`)."""
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build([v for g in self.generators for v in g.trainable_variables])

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def call(self, z, training=False):
        """The images of every generator for the same ``z``: a list of k (batch, H, W, C) tensors."""
        return [g(z, training=training) for g in self.generators]

    # === Training ===

    def latents(self, batch, draw):
        """This step's latent codes (:func:`tfxai.training.resume.step_normal`: the same after a resume)."""
        return step_normal((batch, self.latent_dim), self.seed, self.g_optimizer.iterations, draw)

    def progress(self):
        """Training progress in [0, 1] from the generator optimiser's iteration count (a tensor)."""
        return training_progress(self.g_optimizer.iterations, self.total_steps)

    def generator_losses(self, z, training=True):
        """``(total, per_generator)``: gated, batch-averaged losses of the generators for latent ``z``.

        ``total`` is the sum over generators, each generator's loss the sum of its incoming edges.
        """
        progress = self.progress()
        transfer = self.graph.uses_transfer()
        if transfer:
            outputs = [view(z, training=training) for view in self._feature_views]
            features, images = [float32(o[:-1]) for o in outputs], [o[-1] for o in outputs]
        else:
            images = [g(z, training=training) for g in self.generators]
        logits = tf.split(self.discriminator(tf.concat(images, 0), training=training), self.num_generators)
        per_generator = []
        for target in range(self.num_generators):
            loss = tf.zeros(())
            for source, gate in self.graph.incoming(target):
                if gate == "cutoff":
                    continue
                if source == DISCRIMINATOR:
                    edge = adversarial_loss(logits[target])
                else:
                    edge = attention_transfer_loss(features[source], features[target], self.alpha)
                loss += tf.nn.compute_average_loss(apply_gate(gate, edge, progress))
            per_generator.append(loss)
        return tf.add_n(per_generator), per_generator

    def train_step(self, data):
        real = data[0] if isinstance(data, (tuple, list)) else data
        batch = tf.shape(real)[0]
        z = self.latents(batch, 0)
        fakes = [g(z, training=True) for g in self.generators]
        with tf.GradientTape() as tape:
            real_logits = self.discriminator(real, training=True)
            fake_logits = tf.split(self.discriminator(tf.concat(fakes, 0), training=True), self.num_generators)
            d_loss = tf.nn.compute_average_loss(discriminator_loss(real_logits, fake_logits))
        variables = self.discriminator.trainable_variables
        (gradients,) = scaled_gradients(tape, d_loss, [(self.d_optimizer, variables)])
        self.d_optimizer.apply_gradients(zip(gradients, variables))
        z = self.latents(batch, 1)
        variables = [v for g in self.generators for v in g.trainable_variables]
        with tf.GradientTape() as tape:
            g_loss, _ = self.generator_losses(z)
        (gradients,) = scaled_gradients(tape, g_loss, [(self.g_optimizer, variables)])
        self.g_optimizer.apply_gradients(zip(gradients, variables))
        replicas = tf.distribute.get_strategy().num_replicas_in_sync  # the losses are this replica's share of the global mean
        self.d_loss_tracker.update_state(d_loss * replicas)
        self.g_loss_tracker.update_state(g_loss * replicas)
        return {m.name: m.result() for m in self.metrics}

    # === Sampling ===

    def sample(self, count, seed=0, batch_size=256):
        """``count`` images of every generator from the same latent vectors: (k, count, H, W, C) float32 in [-1, 1]."""
        z = np.random.default_rng(seed).standard_normal((int(count), self.latent_dim)).astype(np.float32)
        return np.stack([g.predict(z, batch_size=batch_size, verbose=0) for g in self.generators])

    # === Config ===

    def get_config(self):
        config = super().get_config()
        config.update(num_generators=self.num_generators, graph=self.graph.get_config(), latent_dim=self.latent_dim,
                      image_size=self.image_size, channels=self.channels, filters=self.filters,
                      spectral_norm=self.spectral_norm, alpha=self.alpha, total_steps=self.total_steps, seed=self.seed)
        return config

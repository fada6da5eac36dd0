"""StarGAN v2 (Choi et al., CVPR 2020) with Imaeda's class awareness: a classifier C on the
generator encoder's features, trained with L_task on labelled source images and
CyCADA's semantic consistency L_sem (Hoffman et al., ICML 2018) on translations.

One ``train_step`` is one official iteration: two discriminator updates (latent-
and reference-guided), two generator updates (latent-guided: G, F, E and C;
reference-guided: G and C), then the EMA copies of G, F and E. See docs/stargan_tta.md.
"""

import keras
import tensorflow as tf

from tfxai.errors import TfxaiError
from tfxai.gan.stargan.ema import copy_weights, update_ema
from tfxai.gan.stargan.layers import conv, dense
from tfxai.gan.stargan.losses import adversarial_loss, mean_absolute, r1_penalty, semantic_loss, task_loss
from tfxai.gan.stargan.networks import Discriminator, Generator, MappingNetwork, StyleEncoder
from tfxai.training.precision import float32, loss_scale, loss_scaled, scaled_gradients
from tfxai.training.resume import step_normal

__all__ = ["StarGANv2", "OFFICIAL_TRAINING", "to_model_range", "to_pixel_range"]

# the official training defaults (clovaai/stargan-v2 main.py)
OFFICIAL_TRAINING = {"learning_rate": 1e-4, "mapping_learning_rate": 1e-6, "beta_1": 0.0, "beta_2": 0.99,
                     "weight_decay": 1e-4, "r1_weight": 1.0, "style_weight": 1.0, "diversity_weight": 1.0,
                     "cycle_weight": 1.0, "diversity_iterations": 100000, "ema_decay": 0.999}
LOSS_NAMES = ("d_real", "d_fake", "d_r1", "g_adv", "g_style", "g_diversity", "g_cycle", "diversity_weight")
CLASS_LOSS_NAMES = ("task", "semantic")


def to_model_range(images):
    """Pixels in [0, 255] -> [-1, 1] (the networks' range)."""
    return tf.cast(images, tf.float32) / 127.5 - 1.0


def to_pixel_range(images):
    """Network output -> pixels in [0, 255] (clipped)."""
    return tf.clip_by_value((images + 1.0) * 127.5, 0.0, 255.0)


@keras.saving.register_keras_serializable(package="tfxai")
class StarGANv2(keras.Model):
    """StarGAN v2, optionally class-aware.

    Parameters
    ----------
    image_size : int
        Side of the square RGB images (a power of two >= 16).
    num_domains : int
        Number of domains (output heads of F, E and D).
    style_dim, latent_dim : int
        Style and latent code sizes (official 64 and 16).
    class_aware : bool
        Add the classifier C on the generator's encoder and the losses L_task, L_sem.
    num_classes : int
        Classes of C (required when ``class_aware``).
    preset : str
        ``"official"`` (the published width), ``"thesis"`` (the same width) or ``"small"`` (every width / 8).
    diversity_weight, diversity_iterations, r1_weight, style_weight, cycle_weight, task_weight, semantic_weight, ema_decay
        Loss weights and schedule; the diversity weight falls linearly to 0 over ``diversity_iterations`` iterations.
    seed : int
        Seed of the training latent codes, drawn statelessly from (seed, iteration)
        (:func:`tfxai.training.resume.step_normal`), so a resumed run draws what the uninterrupted one drew.

    Training data (``fit``): dicts of ``images`` (B, H, W, 3) in [0, 255], ``domains`` (B,),
    ``references``, ``references2`` (B, H, W, 3) of the ``reference_domains`` (B,) to translate
    into, and ``labels`` (B,) with -1 for unlabelled images (see :mod:`tfxai.gan.stargan.data`).
    Calling the model translates with the EMA networks: ``{"images", "domains", "latents"}``
    or ``{"images", "domains", "references"}`` -> images in [0, 255].
    """

    def __init__(self, image_size=256, num_domains=2, style_dim=64, latent_dim=16, class_aware=False, num_classes=None,
                 preset="official", diversity_weight=1.0, diversity_iterations=100000, r1_weight=1.0, style_weight=1.0,
                 cycle_weight=1.0, task_weight=1.0, semantic_weight=1.0, ema_decay=0.999, seed=0, **kwargs):
        super().__init__(**kwargs)
        if class_aware and (num_classes is None or num_classes < 2):
            raise TfxaiError(f"a class-aware StarGAN v2 needs num_classes >= 2 (got {num_classes}): pass the source domain's class count")
        if num_domains < 2:
            raise TfxaiError(f"StarGAN v2 translates between domains: num_domains must be >= 2, got {num_domains}")
        self.image_size, self.num_domains, self.style_dim, self.latent_dim = image_size, num_domains, style_dim, latent_dim
        self.class_aware, self.num_classes, self.preset, self.seed = bool(class_aware), num_classes, preset, int(seed)
        self.weights_config = {"diversity_weight": diversity_weight, "diversity_iterations": diversity_iterations,
                               "r1_weight": r1_weight, "style_weight": style_weight, "cycle_weight": cycle_weight,
                               "task_weight": task_weight, "semantic_weight": semantic_weight, "ema_decay": ema_decay}
        # === Networks (and their EMA copies) ===
        self.generator, self.mapping, self.style_encoder = self._translator_networks()
        self.discriminator = Discriminator(image_size, num_domains, preset, name="discriminator")
        self.generator_ema, self.mapping_ema, self.style_encoder_ema = self._translator_networks("_ema")
        self.classifier = self._class_head() if class_aware else None
        self.diversity_weight = self.add_weight(shape=(), initializer=keras.initializers.Constant(diversity_weight),
                                                trainable=False, name="diversity_weight", aggregation="only_first_replica")
        self._build_networks()
        for ema, network in self._ema_pairs():
            copy_weights(ema, network)
        names = LOSS_NAMES + (CLASS_LOSS_NAMES if class_aware else ())
        self.trackers = {name: keras.metrics.Mean(name=name) for name in names}

    def _translator_networks(self, suffix=""):
        return (Generator(self.image_size, self.style_dim, self.preset, name="generator" + suffix),
                MappingNetwork(self.num_domains, self.latent_dim, self.style_dim, self.preset, self.image_size, name="mapping" + suffix),
                StyleEncoder(self.image_size, self.num_domains, self.style_dim, self.preset, name="style_encoder" + suffix))

    def _class_head(self):
        """C: a conv, global average pooling and a linear layer on the encoder's features."""
        return keras.Sequential([conv(self.generator.encoder_channels), keras.layers.LeakyReLU(0.2),
                                 keras.layers.GlobalAveragePooling2D(), dense(self.num_classes)], name="class_head")

    def _build_networks(self):
        images = tf.zeros((1, self.image_size, self.image_size, 3))
        domains = tf.zeros((1,), tf.int32)
        for generator, mapping, encoder in ((self.generator, self.mapping, self.style_encoder),
                                            (self.generator_ema, self.mapping_ema, self.style_encoder_ema)):
            styles = mapping(tf.zeros((1, self.latent_dim)), domains)
            encoder(images, domains)
            features = generator.encode(images)
            generator.decode(features, styles)
        self.discriminator(images, domains)
        if self.classifier is not None:
            self.classifier(features)
        for network in (self.generator, self.mapping, self.style_encoder, self.discriminator, self.generator_ema, self.mapping_ema, self.style_encoder_ema):
            network.built = True
        self.built = True

    def _ema_pairs(self):
        return ((self.generator_ema, self.generator), (self.mapping_ema, self.mapping), (self.style_encoder_ema, self.style_encoder))

    # === Training ===
    def compile(self, learning_rate=1e-4, mapping_learning_rate=1e-6, beta_1=0.0, beta_2=0.99, weight_decay=1e-4, **kwargs):
        """One Adam per network (official: lr 1e-4, mapping 1e-6, betas (0, 0.99), L2 weight decay 1e-4)."""
        super().compile(**kwargs)

        def adam(rate):
            return loss_scaled(keras.optimizers.Adam(rate, beta_1=beta_1, beta_2=beta_2, epsilon=1e-8), self.dtype_policy)

        self.optimizers = {"discriminator": adam(learning_rate), "generator": adam(learning_rate),
                           "mapping": adam(mapping_learning_rate), "style_encoder": adam(learning_rate)}
        if self.class_aware:
            self.optimizers["classifier"] = adam(learning_rate)
        self.weight_decay = weight_decay
        self.training_config = {"learning_rate": learning_rate, "mapping_learning_rate": mapping_learning_rate,
                                "beta_1": beta_1, "beta_2": beta_2, "weight_decay": weight_decay}

    def build_optimizers(self):
        """Create every optimizer's variables (before restoring a backup into them, :mod:`tfxai.training.resume`)."""
        for name, optimizer in self.optimizers.items():
            optimizer.build(self._network(name).trainable_variables)

    @property
    def metrics(self):
        return list(self.trackers.values())

    def _apply(self, tape, loss, names):
        """Update the named networks with PyTorch-style (coupled) L2 weight decay, as the official Adam."""
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        groups = [(self.optimizers[name], self._network(name).trainable_variables) for name in names]
        for (optimizer, variables), gradients in zip(groups, scaled_gradients(tape, loss, groups)):
            decay = self.weight_decay / replicas
            if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
                decay = loss_scale(optimizer) * decay  # the optimizer unscales gradient and decay together
            optimizer.apply_gradients([(g + decay * v, v) for g, v in zip(gradients, variables)])

    def _network(self, name):
        return {"discriminator": self.discriminator, "generator": self.generator, "mapping": self.mapping,
                "style_encoder": self.style_encoder, "classifier": self.classifier}[name]

    def discriminator_losses(self, images, domains, fakes, fake_domains):
        """``{"d_real", "d_fake", "d_r1"}`` and the total discriminator loss."""
        r1, real_logits = r1_penalty(self.discriminator, images, domains)
        losses = {"d_real": adversarial_loss(real_logits, True),
                  "d_fake": adversarial_loss(self.discriminator(fakes, fake_domains), False), "d_r1": r1}
        return losses, losses["d_real"] + losses["d_fake"] + self.weights_config["r1_weight"] * r1

    def generator_losses(self, images, domains, target_domains, styles, styles2, labels):
        """StarGAN v2's generator losses for one pair of target styles (plus L_task and L_sem when class-aware)."""
        features = self.generator.encode(images)
        fakes = self.generator.decode(features, styles)
        fakes2 = tf.stop_gradient(self.generator(images, styles2))
        fake_features = self.generator.encode(fakes)
        reconstructed = self.generator.decode(fake_features, self.style_encoder(images, domains))
        losses = {"g_adv": adversarial_loss(self.discriminator(fakes, target_domains), True),
                  "g_style": mean_absolute(self.style_encoder(fakes, target_domains), styles),
                  "g_diversity": mean_absolute(fakes, fakes2),
                  "g_cycle": mean_absolute(reconstructed, images)}
        w = self.weights_config
        total = (losses["g_adv"] + w["style_weight"] * losses["g_style"] - self.diversity_weight * losses["g_diversity"]
                 + w["cycle_weight"] * losses["g_cycle"])
        if self.class_aware:
            losses.update(self.class_losses(features, fake_features, labels))
            total += w["task_weight"] * losses["task"] + w["semantic_weight"] * losses["semantic"]
        return losses, total

    def class_losses(self, features, translated_features, labels):
        """``{"task": L_task, "semantic": L_sem}`` from the encoder features of the images and of their translations."""
        logits, translated_logits = float32((self.classifier(features), self.classifier(translated_features)))
        return {"task": task_loss(logits, labels), "semantic": semantic_loss(logits, translated_logits)}

    def train_step(self, data):
        images = to_model_range(data["images"])
        references, references2 = to_model_range(data["references"]), to_model_range(data["references2"])
        domains, targets = tf.cast(data["domains"], tf.int32), tf.cast(data["reference_domains"], tf.int32)
        labels = tf.cast(data.get("labels", -tf.ones_like(domains)), tf.int32)
        batch = tf.shape(images)[0]
        iteration = self.optimizers["mapping"].iterations  # one mapping update per iteration
        latents, latents2 = (step_normal((batch, self.latent_dim), self.seed, iteration, draw) for draw in range(2))
        w = self.weights_config
        progress = tf.cast(iteration, tf.float32) / float(w["diversity_iterations"])
        self.diversity_weight.assign(w["diversity_weight"] * tf.maximum(0.0, 1.0 - progress))
        logs = {}
        for styles_of in (lambda: self.mapping(latents, targets), lambda: self.style_encoder(references, targets)):
            fakes = tf.stop_gradient(self.generator(images, styles_of()))
            with tf.GradientTape() as tape:
                losses, loss = self.discriminator_losses(images, domains, fakes, targets)
            self._apply(tape, loss, ["discriminator"])
            logs.update(losses)
        class_heads = ["classifier"] if self.class_aware else []
        with tf.GradientTape() as tape:
            losses, loss = self.generator_losses(images, domains, targets, self.mapping(latents, targets),
                                                 self.mapping(latents2, targets), labels)
        self._apply(tape, loss, ["generator", "mapping", "style_encoder"] + class_heads)
        with tf.GradientTape() as tape:
            losses, loss = self.generator_losses(images, domains, targets, self.style_encoder(references, targets),
                                                 self.style_encoder(references2, targets), labels)
        self._apply(tape, loss, ["generator"] + class_heads)
        logs.update(losses)
        for ema, network in self._ema_pairs():
            update_ema(ema, network, w["ema_decay"])
        replicas = tf.distribute.get_strategy().num_replicas_in_sync  # the losses are this replica's share of the global mean
        logs = {name: value * replicas for name, value in logs.items()}
        logs["diversity_weight"] = self.diversity_weight
        for name, value in logs.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    # === Inference (EMA networks) ===
    def style_codes(self, domains, latents=None, references=None):
        """Style codes of the EMA mapping network (latents) or EMA style encoder (reference images in [0, 255])."""
        if (latents is None) == (references is None):
            raise TfxaiError("give either latents or reference images to choose the style, not both or neither")
        domains = tf.cast(domains, tf.int32)
        if latents is not None:
            return self.mapping_ema(tf.cast(latents, tf.float32), domains)
        return self.style_encoder_ema(to_model_range(references), domains)

    def translate(self, images, domains, latents=None, references=None):
        """Images in [0, 255] translated into ``domains`` with the EMA generator, in [0, 255]."""
        styles = self.style_codes(domains, latents, references)
        return to_pixel_range(self.generator_ema(to_model_range(images), styles))

    def call(self, inputs):
        return self.translate(inputs["images"], inputs["domains"], inputs.get("latents"), inputs.get("references"))

    # === Config ===
    def get_config(self):
        return {**super().get_config(), "image_size": self.image_size, "num_domains": self.num_domains,
                "style_dim": self.style_dim, "latent_dim": self.latent_dim, "class_aware": self.class_aware,
                "num_classes": self.num_classes, "preset": self.preset, "seed": self.seed, **self.weights_config}

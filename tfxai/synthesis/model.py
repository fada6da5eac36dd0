"""``MixedTargetModel``: train a classifier on original and generated images with eq. 9."""

import keras
import tensorflow as tf

from tfxai.training.precision import float32, scaled_gradients
from tfxai.synthesis.losses import mixed_target_terms, one_hot_labels


@keras.saving.register_keras_serializable(package="tfxai")
class MixedTargetModel(keras.Model):
    """Trains ``classifier`` with the loss of Hirano, Iwamura & Kise (eq. 9).

    Per example, ``kl_weight * KL(q || p) + (1 - kl_weight) * CE(t, p)``: ``p``
    the classifier's output, ``t`` the original one-hot label, ``q`` the
    teacher's output on a generated image, or ``t`` itself on an original image
    (whose loss is then plain cross-entropy). Losses are averaged over the
    *global* batch (``tf.nn.compute_average_loss``), so the model trains the
    same under ``tf.distribute`` strategies.

    Data for ``fit``: ``(x, (labels, soft_targets))`` or ``(x, (labels,
    soft_targets), sample_weight)``, as produced by
    :meth:`tfxai.synthesis.MixedDataset.as_dataset`; ``(x, labels)`` alone
    trains with cross-entropy (``q = t``). Labels are integers or one-hot.

    Parameters
    ----------
    classifier : keras.Model
        The network being trained (images -> probabilities, or logits with
        ``from_logits=True``). ``model(x)`` returns its output.
    kl_weight : float
        Weight of the KL term (0.5 in the paper).
    from_logits : bool
        Whether ``classifier`` outputs logits.
    **kwargs
        Standard model arguments (``name``).
    """

    def __init__(self, classifier, kl_weight=0.5, from_logits=False, **kwargs):
        super().__init__(**kwargs)
        # === Layers ===
        self.classifier = classifier
        # === Config ===
        self.kl_weight = float(kl_weight)
        self.from_logits = bool(from_logits)
        # === Metrics ===
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        self.ce_tracker = keras.metrics.Mean(name="ce")
        self.accuracy_metric = keras.metrics.CategoricalAccuracy(name="accuracy")
        # a built classifier builds the model: its weights can be saved before fit (resume backups), and fit
        # under a multi-worker strategy needs no symbolic build from the first batch (Keras 3.15 passes it
        # per-replica values it cannot convert)
        self.built = bool(classifier.built)

    def call(self, inputs, training=False):
        return self.classifier(inputs, training=training)

    @property
    def metrics(self):
        return [self.loss_tracker, self.kl_tracker, self.ce_tracker, self.accuracy_metric]

    def _targets(self, y, num_classes):
        if isinstance(y, dict):
            labels, soft = y["labels"], y.get("soft_targets")
        elif isinstance(y, (tuple, list)):
            labels, soft = y[0], (y[1] if len(y) > 1 else None)
        else:
            labels, soft = y, None
        labels = one_hot_labels(labels, num_classes)
        soft = labels if soft is None else tf.cast(soft, tf.float32)
        return labels, soft

    def _eq9_terms(self, x, y, sample_weight, training):
        predictions = float32(self.classifier(x, training=training))  # the losses in float32 under mixed precision too
        if self.from_logits:
            log_probabilities = tf.nn.log_softmax(predictions, axis=-1)
        else:
            log_probabilities = tf.math.log(tf.clip_by_value(predictions, 1e-7, 1.0))
        labels, soft = self._targets(y, predictions.shape[-1])
        kl, ce = mixed_target_terms(labels, soft, log_probabilities)
        per_example = self.kl_weight * kl + (1.0 - self.kl_weight) * ce
        loss = tf.nn.compute_average_loss(per_example, sample_weight=sample_weight)
        if self.classifier.losses:
            loss += tf.nn.scale_regularization_loss(tf.add_n(self.classifier.losses))
        return loss, kl, ce, labels, predictions

    def _update_metrics(self, loss, kl, ce, labels, predictions, sample_weight):
        self.loss_tracker.update_state(loss * tf.distribute.get_strategy().num_replicas_in_sync)
        self.kl_tracker.update_state(kl, sample_weight=sample_weight)
        self.ce_tracker.update_state(ce, sample_weight=sample_weight)
        self.accuracy_metric.update_state(labels, predictions, sample_weight=sample_weight)
        return {metric.name: metric.result() for metric in self.metrics}

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            loss, kl, ce, labels, predictions = self._eq9_terms(x, y, sample_weight, training=True)
        variables = self.classifier.trainable_variables
        (gradients,) = scaled_gradients(tape, loss, [(self.optimizer, variables)])  # loss-scaled under mixed_float16
        self.optimizer.apply_gradients(zip(gradients, variables))
        return self._update_metrics(loss, kl, ce, labels, predictions, sample_weight)

    def test_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        loss, kl, ce, labels, predictions = self._eq9_terms(x, y, sample_weight, training=False)
        return self._update_metrics(loss, kl, ce, labels, predictions, sample_weight)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "classifier": keras.saving.serialize_keras_object(self.classifier),
                "kl_weight": self.kl_weight,
                "from_logits": self.from_logits,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["classifier"] = keras.saving.deserialize_keras_object(config["classifier"])
        return cls(**config)

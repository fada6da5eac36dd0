"""The training loss of Hirano et al. (eq. 9): KL to the teacher's output plus cross-entropy to the label."""

import keras
import tensorflow as tf
from keras import ops

from tfxai.errors import TfxaiError


def _log_probabilities(predictions, from_logits):
    if from_logits:
        return tf.nn.log_softmax(predictions, axis=-1)
    return ops.log(ops.clip(predictions, 1e-7, 1.0))


def one_hot_labels(labels, num_classes):
    """Integer labels ``(batch,)`` (or ``(batch, 1)``) -> one-hot; one-hot/soft ``(batch, classes)`` pass through."""
    labels = tf.convert_to_tensor(labels)
    if labels.shape.rank == 2 and labels.shape[-1] == num_classes and labels.dtype.is_floating:
        return labels
    labels = tf.reshape(tf.cast(labels, tf.int32), [-1])
    return tf.one_hot(labels, num_classes, dtype=tf.float32)


def mixed_target_terms(labels, soft_targets, log_probabilities):
    """Per-example ``(KL(q || p), CE(t, p))`` with ``0 log 0 = 0``.

    ``labels`` are one-hot ``t``, ``soft_targets`` the teacher's output ``q``
    (equal to ``t`` for an original image), ``log_probabilities`` the student's ``log p``.
    """
    soft_targets = tf.cast(soft_targets, log_probabilities.dtype)
    labels = tf.cast(labels, log_probabilities.dtype)
    safe = tf.where(soft_targets > 0, soft_targets, tf.ones_like(soft_targets))
    kl = tf.reduce_sum(soft_targets * (tf.math.log(safe) - log_probabilities), axis=-1)
    ce = -tf.reduce_sum(labels * log_probabilities, axis=-1)
    return kl, ce


def mixed_target_loss(labels, soft_targets, predictions, kl_weight=0.5, from_logits=False):
    """Per-example eq. 9 of Hirano et al.: ``kl_weight * KL(q || p) + (1 - kl_weight) * CE(t, p)``.

    For a generated image ``q`` is the teacher's output on it; for an original
    image ``q = t`` (the one-hot label), so its loss is ``KL(t || p) = CE(t, p)``
    and training without generated images is plain cross-entropy.

    Parameters
    ----------
    labels : tensor ``(batch,)`` int or ``(batch, classes)`` one-hot
        Original class labels ``t``.
    soft_targets : tensor ``(batch, classes)``
        Teacher outputs ``q`` (one-hot labels for original images).
    predictions : tensor ``(batch, classes)``
        The student's probabilities (or logits with ``from_logits=True``).
    kl_weight : float
        Weight of the KL term (0.5 in the paper).
    from_logits : bool
        Whether ``predictions`` are logits.

    Returns
    -------
    tensor ``(batch,)``
    """
    log_probabilities = _log_probabilities(predictions, from_logits)
    labels = one_hot_labels(labels, log_probabilities.shape[-1])
    kl, ce = mixed_target_terms(labels, soft_targets, log_probabilities)
    return kl_weight * kl + (1.0 - kl_weight) * ce


@keras.saving.register_keras_serializable(package="tfxai")
class MixedTargetLoss(keras.losses.Loss):
    """Eq. 9 of Hirano, Iwamura & Kise as a Keras loss, for ``model.compile(loss=...)``.

    ``y_true`` has shape ``(batch, 2, classes)``: ``y_true[:, 0]`` the one-hot
    original label ``t`` and ``y_true[:, 1]`` the soft target ``q`` (the
    teacher's output on a generated image, or ``t`` again for an original);
    see :func:`stack_targets`. The per-example loss is
    ``kl_weight * KL(q || p) + (1 - kl_weight) * CE(t, p)``.

    Parameters
    ----------
    kl_weight : float
        Weight of the KL term (0.5 in the paper).
    from_logits : bool
        Whether the model outputs logits.
    **kwargs
        Standard loss arguments (``reduction``, ``name``).
    """

    def __init__(self, kl_weight=0.5, from_logits=False, name="mixed_target_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.kl_weight = float(kl_weight)
        self.from_logits = bool(from_logits)

    def call(self, y_true, y_pred):
        y_true = tf.convert_to_tensor(y_true)
        if y_true.shape.rank != 3 or y_true.shape[1] != 2:
            raise TfxaiError(
                f"MixedTargetLoss needs y_true of shape (batch, 2, classes) = stack of (label, soft target), "
                f"got {tuple(y_true.shape)}: build it with tfxai.synthesis.stack_targets"
            )
        return mixed_target_loss(y_true[:, 0], y_true[:, 1], y_pred, self.kl_weight, self.from_logits)

    def get_config(self):
        config = super().get_config()
        config.update({"kl_weight": self.kl_weight, "from_logits": self.from_logits})
        return config


def stack_targets(labels, soft_targets, num_classes=None):
    """Stack one-hot labels and soft targets into the ``(batch, 2, classes)`` ``y_true`` of :class:`MixedTargetLoss`."""
    soft_targets = tf.convert_to_tensor(soft_targets, tf.float32)
    labels = one_hot_labels(labels, num_classes or soft_targets.shape[-1])
    return tf.stack([labels, soft_targets], axis=1)

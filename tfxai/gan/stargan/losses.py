"""StarGAN v2 and class-aware losses as pure tensor functions.

Every loss is a per-example value averaged over the *global* batch
(``tf.nn.compute_average_loss``), so a ``train_step`` is correct under
``tf.distribute`` strategies.
"""

import tensorflow as tf

__all__ = ["adversarial_loss", "global_sum", "mean_absolute", "r1_penalty", "semantic_loss", "task_loss"]


def average(per_example):
    """Mean over the global batch of per-example losses."""
    return tf.nn.compute_average_loss(per_example)


def global_sum(value):
    """``value`` summed over all replicas (itself outside a distribution strategy)."""
    context = tf.distribute.get_replica_context()
    return value if context is None else context.all_reduce(tf.distribute.ReduceOp.SUM, value)


def adversarial_loss(logits, real):
    """Non-saturating GAN loss: BCE of the logits against 1 (``real``) or 0."""
    per_example = tf.nn.softplus(-logits) if real else tf.nn.softplus(logits)
    return average(per_example)


def mean_absolute(a, b):
    """L1 distance, a mean over every element (per example, then the global batch)."""
    return average(tf.reduce_mean(tf.abs(tf.reshape(a - b, (tf.shape(a)[0], -1))), axis=-1))


def r1_penalty(discriminator, images, domains):
    """Zero-centred gradient penalty on real images: ``0.5 * ||d D(x)/dx||^2`` averaged (Mescheder et al. 2018).

    Returns ``(penalty, logits)`` so the caller reuses the logits for the adversarial term.
    """
    with tf.GradientTape() as tape:
        tape.watch(images)
        logits = discriminator(images, domains)
        total = tf.reduce_sum(logits)
    gradients = tape.gradient(total, images)
    per_example = 0.5 * tf.reduce_sum(tf.reshape(tf.square(gradients), (tf.shape(images)[0], -1)), axis=-1)
    return average(per_example), logits


def task_loss(logits, labels):
    """L_task: cross-entropy of the labelled rows (label >= 0), averaged over the labelled rows of the global batch."""
    labelled = tf.cast(labels >= 0, logits.dtype)
    per_example = tf.nn.sparse_softmax_cross_entropy_with_logits(tf.maximum(labels, 0), logits) * labelled
    return tf.reduce_sum(per_example) / tf.maximum(global_sum(tf.reduce_sum(labelled)), 1.0)


def semantic_loss(logits_before, logits_after):
    """L_sem: cross-entropy of the translated image's prediction against the untranslated one's soft prediction.

    The pre-translation probabilities are pseudo-labels (no gradient flows into them), as CyCADA's semantic consistency.
    """
    pseudo_labels = tf.stop_gradient(tf.nn.softmax(logits_before))
    return average(tf.nn.softmax_cross_entropy_with_logits(pseudo_labels, logits_after))

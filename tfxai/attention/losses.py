"""Losses of the attention-branch family, as pure tensor functions and Keras objects.

Each function returns one value per sample (``reduction="none"``) or the
batch's sum / mean, so that models can average over the *global* batch with
:func:`tf.nn.compute_average_loss` under ``tf.distribute``.

- :func:`attention_mining_loss` -- L_am = sum_i S_g(F*_i), the true-class
  probability on masked features (Iwayoshi et al., Attention Mining Branch;
  after Li et al., GAIN, CVPR 2018).
- :func:`complement_entropy` -- the complement entropy of Chen et al.,
  "Complement Objective Training", ICLR 2019 (``variant="chen"``), or the
  mining-branch variant of Iwayoshi et al. (``variant="paper"``: eq. 4 with
  y_g = 0, no renormalisation).
- :func:`prototype_conformity` -- the Prototype Conformity loss of Mustafa
  et al., "Adversarial Defense by Restricting the Hidden Space of Deep Neural
  Networks", ICCV 2019, used on ABN's features by Iwayoshi et al.
- :func:`attention_map_loss` -- L2 between a human-edited attention map and
  the network's map (Mitsuhara et al., "Embedding Human Knowledge into Deep
  Neural Network via Attention Map", VISAPP 2021).

The Keras wrappers (:class:`AttentionMiningLoss`, :class:`ComplementEntropy`,
:class:`AttentionMapLoss`) take ``(y_true, y_pred)`` like any Keras loss;
:class:`PrototypeConformity` is a layer because it owns the learnable class
centroids.
"""

import math

import keras
import tensorflow as tf

from tfxai.errors import TfxaiError

__all__ = [
    "attention_map_loss",
    "attention_mining_loss",
    "complement_entropy",
    "complement_entropy_gap",
    "complement_entropy_maximum",
    "prototype_conformity",
    "true_class_probability",
    "COT_VARIANTS",
    "AttentionMapLoss",
    "AttentionMiningLoss",
    "ComplementEntropy",
    "PrototypeConformity",
]

_EPSILON = 1e-12

#: Complement-entropy variants: the paper's mining-branch form (eq. 4 with y_g = 0) and Chen et al.'s.
COT_VARIANTS = ("paper", "chen")


def _reduce(values, reduction):
    if reduction == "none":
        return values
    if reduction == "sum":
        return tf.reduce_sum(values)
    if reduction == "mean":
        return tf.reduce_mean(values)
    raise TfxaiError(f"unknown reduction {reduction!r}: use 'none', 'sum' or 'mean'")


def _labels(labels):
    """Integer class ids (batch,) from sparse ids or one-hot rows."""
    labels = tf.convert_to_tensor(labels)
    if len(labels.shape) == 2 and labels.shape[-1] != 1:
        return tf.argmax(labels, axis=-1, output_type=tf.int32)
    return tf.cast(tf.reshape(labels, [-1]), tf.int32)


def true_class_probability(labels, probabilities):
    """``probabilities[i, labels[i]]``: S_g of each sample."""
    probabilities = tf.convert_to_tensor(probabilities)
    return tf.gather(probabilities, _labels(labels), axis=-1, batch_dims=1)


def attention_mining_loss(labels, probabilities, reduction="sum"):
    """L_am = sum_i S_g(F*_i): the true-class probability on attention-masked features.

    Iwayoshi et al., "Optimising attention maps with an Attention Mining
    Branch": the mining branch classifies F* = F - T(A) * F; a low true-class
    score there means the attention map covered all the evidence.

    Parameters
    ----------
    labels : int tensor (batch,) or one-hot (batch, K)
    probabilities : float tensor (batch, K)
        Class probabilities of the mining branch.
    reduction : {"sum", "mean", "none"}
        ``"sum"`` is the paper's sum over the batch.
    """
    return _reduce(true_class_probability(labels, probabilities), reduction)


def _check_variant(variant):
    if variant not in COT_VARIANTS:
        raise TfxaiError(f"unknown complement-entropy variant {variant!r}: choose one of {list(COT_VARIANTS)}")


def _complement_log_probabilities(labels, probabilities=None, logits=None, renormalise=True):
    """log q_j for j != g (the true class masked out), and the mask of j != g.

    ``renormalise=True``: q_j = y_j / (1 - y_g) (Chen et al.); ``False``: q_j = y_j
    (Iwayoshi et al.'s eq. 4 with y_g set to 0 in the denominator).
    """
    if (probabilities is None) == (logits is None):
        raise TfxaiError("pass exactly one of probabilities= or logits= to the complement entropy")
    source = logits if logits is not None else probabilities
    source = tf.convert_to_tensor(source)
    classes = source.shape[-1]
    if classes is not None and classes < 3:
        raise TfxaiError(f"complement entropy needs at least 3 classes (2 complement classes), got {classes}")
    others = 1.0 - tf.one_hot(_labels(labels), tf.shape(source)[-1], dtype=source.dtype)
    if logits is not None and not renormalise:
        return tf.nn.log_softmax(source, axis=-1), others
    if logits is not None:
        # softmax over the complement classes == y_j / (1 - y_g), computed stably from logits
        masked = tf.where(others > 0, source, tf.fill(tf.shape(source), tf.constant(-1e9, source.dtype)))
        return tf.nn.log_softmax(masked, axis=-1), others
    complement = source * others
    if not renormalise:
        return tf.math.log(tf.maximum(complement, _EPSILON)), others
    normaliser = tf.reduce_sum(complement, axis=-1, keepdims=True)
    return tf.math.log(tf.maximum(complement / tf.maximum(normaliser, _EPSILON), _EPSILON)), others


def complement_entropy(labels, probabilities=None, logits=None, reduction="mean", variant="chen"):
    """Complement entropy C = -1/N sum_i sum_{j != g} q_ij log q_ij.

    ``variant="chen"``: q_ij = y_ij / (1 - y_ig), Chen et al., "Complement
    Objective Training", ICLR 2019. The true class is removed and the
    remaining probabilities renormalised; C is the entropy of that
    distribution over the K - 1 complement classes, in [0, log(K - 1)], and
    its gradient on the true-class logit is exactly 0.

    ``variant="paper"``: q_ij = y_ij, Iwayoshi et al. (Attention Mining
    Branch), eq. 4 with y_ig = 0 in the denominator ("the true-class
    probability becomes 0, the wrong classes flat"). Without renormalisation,
    maximising C also lowers y_g: for K >= 4 its maximum log(K - 1) is reached
    only at y_g = 0 with flat wrong classes; for K = 3 at y_g = 1 - 2/e.

    COT *maximises* C (flattens the wrong classes). Pass ``logits`` when
    available (numerically stable).

    Parameters
    ----------
    labels : int tensor (batch,) or one-hot (batch, K)
    probabilities, logits : float tensor (batch, K)
        Exactly one of them.
    reduction : {"mean", "sum", "none"}
        ``"mean"`` is the paper's 1/N sum_i.
    variant : {"chen", "paper"}
    """
    _check_variant(variant)
    log_q, others = _complement_log_probabilities(labels, probabilities, logits, renormalise=variant == "chen")
    q = tf.exp(log_q) * others
    entropy = -tf.reduce_sum(q * log_q * others, axis=-1)
    return _reduce(entropy, reduction)


def complement_entropy_maximum(classes, variant="chen"):
    """The largest complement entropy over all distributions of ``classes`` classes.

    ``"chen"``: log(K - 1). ``"paper"``: max over s = 1 - y_g of s log((K - 1) / s),
    which is log(K - 1) (at s = 1) for K >= 4 and (K - 1)/e (at s = (K - 1)/e) for K = 3.
    """
    _check_variant(variant)
    complement = tf.cast(classes, tf.float32) - 1.0
    if variant == "chen":
        return tf.math.log(complement)
    return tf.where(complement >= math.e, tf.math.log(complement), complement / math.e)


def complement_entropy_gap(labels, probabilities=None, logits=None, reduction="mean", variant="chen"):
    """``max C - C``: the COT objective as a loss to *minimise*, zero at the optimum, never negative.

    Same gradient as ``-C`` (Chen et al. 2019 maximise C); shifted by
    :func:`complement_entropy_maximum` so that the logged value is
    non-negative and reads as "distance from the optimum" (a flat complement;
    for ``variant="paper"`` also y_g = 0 when K >= 4).
    """
    source = logits if logits is not None else probabilities
    entropy = complement_entropy(labels, probabilities, logits, reduction="none", variant=variant)
    maximum = tf.cast(complement_entropy_maximum(tf.shape(source)[-1], variant), entropy.dtype)
    return _reduce(maximum - entropy, reduction)


def _pairwise_distance(a, b):
    """Euclidean distances (rows of a) x (rows of b), with a safe gradient at 0."""
    squared = tf.reduce_sum(tf.square(a[:, None, :] - b[None, :, :]), axis=-1)
    return tf.sqrt(squared + _EPSILON)


def prototype_conformity(features, labels, centroids, reduction="mean", normalize=False):
    """L_PC = sum_i { alpha_i - 1/(k-1) sum_{j != g} (beta_ij + gamma_ij) }.

    alpha_i = ||f_i - w_g||, beta_ij = ||f_i - w_j||, gamma_ij = ||w_g - w_j||,
    with w the class centroids and g the true class of sample i (Mustafa et
    al., ICCV 2019; Iwayoshi et al. on ABN's perception and attention
    features). Pulls each feature to its class centroid and pushes it and
    its centroid away from the other classes' centroids.

    Parameters
    ----------
    features : float tensor (batch, D)
    labels : int tensor (batch,) or one-hot (batch, K)
    centroids : float tensor (K, D)
    reduction : {"mean", "sum", "none"}
        The paper writes the sum over samples (eq. 3); Mustafa et al.'s code
        averages.
    normalize : bool
        Measure the distances between L2-normalised features and centroids.
        As written, L_PC is unbounded below: -gamma falls without end as the
        centroids move apart (and -beta as the features grow), so the loss
        drifts to -inf in a long training. On the unit sphere every distance
        is in [0, 2], so L_PC is in [-4, 2] per sample, and the terms keep
        their meaning (pull f_i to its centroid's direction, push it and
        its centroid away from the other centroids' directions).
    """
    features = tf.convert_to_tensor(features)
    centroids = tf.cast(tf.convert_to_tensor(centroids), features.dtype)
    if normalize:
        features = tf.math.l2_normalize(features, axis=-1)
        centroids = tf.math.l2_normalize(centroids, axis=-1)
    labels = _labels(labels)
    classes = tf.shape(centroids)[0]
    to_centroids = _pairwise_distance(features, centroids)  # (batch, K): beta, alpha on the diagonal g
    between = _pairwise_distance(centroids, centroids)  # (K, K)
    true = tf.one_hot(labels, classes, dtype=features.dtype)
    others = 1.0 - true
    alpha = tf.reduce_sum(to_centroids * true, axis=-1)
    beta = to_centroids * others
    gamma = tf.gather(between, labels) * others
    k_minus_1 = tf.cast(classes - 1, features.dtype)
    values = alpha - tf.reduce_sum(beta + gamma, axis=-1) / k_minus_1
    return _reduce(values, reduction)


def attention_map_loss(target_maps, maps, flags=None, reduction="mean"):
    """Per-sample mean squared difference between edited maps and the network's maps.

    Mitsuhara et al., "Embedding Human Knowledge into Deep Neural Network via
    Attention Map", VISAPP 2021: fine-tune ABN with an L2 term towards the
    attention maps people corrected. ``target_maps`` (any resolution) are
    resized to ``maps`` by area averaging. ``flags`` (batch,) is 1 for
    samples that have an edited map and 0 otherwise (their term is zero).

    Parameters
    ----------
    target_maps : float tensor (batch, H, W) or (batch, H, W, 1), values in [0, 1]
    maps : float tensor (batch, h, w) or (batch, h, w, 1)
    flags : float tensor (batch,), optional
    reduction : {"mean", "sum", "none"}
    """
    maps = tf.convert_to_tensor(maps)
    if len(maps.shape) == 3:
        maps = maps[..., None]
    target = tf.cast(tf.convert_to_tensor(target_maps), maps.dtype)
    if len(target.shape) == 3:
        target = target[..., None]
    if target.shape[1:3] != maps.shape[1:3]:
        target = tf.image.resize(target, tf.shape(maps)[1:3], method="area")
    values = tf.reduce_mean(tf.square(target - maps), axis=[1, 2, 3])
    if flags is not None:
        values = values * tf.cast(tf.reshape(flags, [-1]), values.dtype)
    return _reduce(values, reduction)


# === Keras objects ===


@keras.saving.register_keras_serializable(package="tfxai")
class AttentionMiningLoss(keras.losses.Loss):
    """Keras loss ``(labels, mining probabilities) -> S_g`` (see :func:`attention_mining_loss`).

    Iwayoshi et al. (Attention Mining Branch). Default reduction is the batch sum, as in the paper.
    """

    def __init__(self, name="attention_mining", reduction="sum", **kwargs):
        super().__init__(name=name, reduction=reduction, **kwargs)

    def call(self, y_true, y_pred):
        return attention_mining_loss(y_true, y_pred, reduction="none")


@keras.saving.register_keras_serializable(package="tfxai")
class ComplementEntropy(keras.losses.Loss):
    """Keras loss ``max C - C`` (COT, Chen et al., ICLR 2019): minimise it to flatten the wrong classes.

    ``from_logits`` chooses whether ``y_pred`` holds logits or probabilities;
    ``variant`` is ``"chen"`` or ``"paper"`` (see :func:`complement_entropy`).
    """

    def __init__(self, from_logits=False, variant="chen", name="complement_entropy", reduction="sum_over_batch_size", **kwargs):
        super().__init__(name=name, reduction=reduction, **kwargs)
        _check_variant(variant)
        self.from_logits = from_logits
        self.variant = variant

    def call(self, y_true, y_pred):
        if self.from_logits:
            return complement_entropy_gap(y_true, logits=y_pred, reduction="none", variant=self.variant)
        return complement_entropy_gap(y_true, probabilities=y_pred, reduction="none", variant=self.variant)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits, "variant": self.variant}


@keras.saving.register_keras_serializable(package="tfxai")
class AttentionMapLoss(keras.losses.Loss):
    """Keras loss ``(edited maps, network maps) -> per-sample MSE`` (Mitsuhara et al., VISAPP 2021).

    Pass ``sample_weight`` = 1 for samples with an edited map, 0 otherwise.
    """

    def __init__(self, name="attention_map", reduction="sum_over_batch_size", **kwargs):
        super().__init__(name=name, reduction=reduction, **kwargs)

    def call(self, y_true, y_pred):
        return attention_map_loss(y_true, y_pred, reduction="none")


@keras.saving.register_keras_serializable(package="tfxai")
class PrototypeConformity(keras.layers.Layer):
    """Learnable class centroids w^c and the Prototype Conformity loss on features.

    Mustafa et al., ICCV 2019; Iwayoshi et al. apply it to ABN's perception-branch
    and attention-module features. ``layer(features, labels)`` returns the
    per-sample loss (batch,) (see :func:`prototype_conformity`).

    Parameters
    ----------
    num_classes : int
        Number of centroids.
    normalize : bool
        Distances between L2-normalised features and centroids (bounded loss;
        see :func:`prototype_conformity`).
    """

    def __init__(self, num_classes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        if num_classes < 2:
            raise TfxaiError(f"the prototype conformity loss needs at least 2 classes, got {num_classes}")
        self.num_classes = num_classes
        self.normalize = bool(normalize)

    def build(self, features_shape, labels_shape=None):
        dimension = int(features_shape[-1])
        self.centroids = self.add_weight(
            name="centroids",
            shape=(self.num_classes, dimension),
            initializer=keras.initializers.RandomNormal(stddev=1.0 / math.sqrt(dimension)),
        )

    def call(self, features, labels):
        return prototype_conformity(features, labels, self.centroids, reduction="none", normalize=self.normalize)

    def compute_output_shape(self, features_shape, labels_shape=None):
        return (features_shape[0],)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "normalize": self.normalize}

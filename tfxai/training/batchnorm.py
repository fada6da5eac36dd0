"""Exact BatchNorm statistics for a trained model ("precise BN").

BatchNorm layers keep exponential moving averages of their inputs' mean and
variance. After a short run -- a small preset on a hundred images, ten
optimizer steps -- those averages still hold much of their initial values
(momentum 0.99 keeps 0.99^10 = 90 %, tfxai's momentum 0.9 still 35 %) and
lag the weights, which changed fast: the model is right with training-mode
BatchNorm and unsure or wrong in inference mode, where it is used.

:func:`recompute_batchnorm_statistics` replaces the moving statistics of
every trainable BatchNorm layer by the exact per-channel mean and (biased)
variance of that layer's inputs over a dataset, in one forward pass in
training mode: each layer's momentum is set to 0 for the pass, so after a
batch its moving variables hold that batch's moments, which are pooled over
the batches (weighted by batch size; variance = E[x^2] - E[x]^2, so the
spread between batches counts too). Nothing else changes: no gradient, no
weight update, and frozen BatchNorm layers (``trainable=False``, e.g. an
ImageNet backbone) keep theirs. :class:`BatchNormStatistics` does this
during ``fit``, before every validation and at the end of training, so the
validation accuracy in the history and early stopping see the statistics the
saved model uses. (Wu & Johnson, "Rethinking 'Batch' in BatchNorm", 2021,
section 3: "precise BN".)
"""

import keras
import numpy as np
import tensorflow as tf

__all__ = ["BatchNormStatistics", "batchnorm_layers", "recompute_batchnorm_statistics"]


def batchnorm_layers(model):
    """The trainable ``BatchNormalization`` layers of ``model``, nested ones included (what a training pass updates)."""
    layers = model._flatten_layers(include_self=True, recursive=True)
    return [layer for layer in layers if isinstance(layer, keras.layers.BatchNormalization) and layer.trainable and not layer.renorm]


def _inputs_of(batch):
    """The model inputs of one dataset element: ``x`` of ``(x, y[, w])``, else the element."""
    return batch[0] if isinstance(batch, tuple) else batch


def recompute_batchnorm_statistics(model, dataset, max_batches=200, forward=None):
    """Set the moving mean and variance of ``model``'s BatchNorm layers to their inputs' exact statistics over ``dataset``.

    Parameters
    ----------
    model : keras.Model
        Any Keras model (functional, Sequential, subclassed, nested); only its
        trainable BatchNorm layers that the forward pass reaches change.
    dataset : iterable
        Batches ``(inputs, labels)`` or ``inputs`` (e.g. the training
        ``tf.data.Dataset``); ``inputs`` is whatever ``model`` takes.
    max_batches : int or None
        Use at most this many batches (None: all); a few thousand images
        estimate the statistics well (the default follows fvcore's PreciseBN).

    forward : callable, optional
        ``inputs -> outputs`` of ``model`` in training mode, e.g. a
        ``tf.function`` kept between calls (:class:`BatchNormStatistics` does);
        default: ``model(inputs, training=True)``, eagerly.

    Returns
    -------
    int
        The number of images the statistics were computed on (0: the model
        has no trainable BatchNorm layer, and nothing was run).
    """
    layers = batchnorm_layers(model)
    if not layers:
        return 0
    momenta = [layer.momentum for layer in layers]
    before = [(layer.moving_mean.numpy(), layer.moving_variance.numpy()) for layer in layers]
    sums = [[0.0, 0.0] for _ in layers]  # per layer: sum of n * mean, sum of n * (variance + mean^2), in float64
    count = 0
    try:
        for layer in layers:
            layer.momentum = 0.0  # read at call time: the moving variables become the batch's moments
        for index, batch in enumerate(dataset):
            if max_batches is not None and index >= max_batches:
                break
            inputs = _inputs_of(batch)
            size = int(tf.shape(tf.nest.flatten(inputs)[0])[0])
            (forward or _training_forward(model))(inputs)
            for total, layer in zip(sums, layers):
                mean = layer.moving_mean.numpy().astype(np.float64)
                total[0] += size * mean
                total[1] += size * (layer.moving_variance.numpy().astype(np.float64) + np.square(mean))
            count += size
    except BaseException:
        _assign(layers, before)  # an interrupted pass leaves the statistics as they were
        raise
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
    # A layer the pass did not reach (its variables unchanged) keeps its statistics.
    reached = [not (np.array_equal(layer.moving_mean.numpy(), mean) and np.array_equal(layer.moving_variance.numpy(), variance))
               for layer, (mean, variance) in zip(layers, before)]
    _assign(layers, [_pooled(total, count, old) if count and hit else old for total, old, hit in zip(sums, before, reached)])
    return count


def _training_forward(model):
    return lambda inputs: model(inputs, training=True)


def _assign(layers, statistics):
    for layer, (mean, variance) in zip(layers, statistics):
        layer.moving_mean.assign(mean)
        layer.moving_variance.assign(variance)


def _pooled(total, count, old):
    """``(mean, variance)`` over all ``count`` images from the sums; ``old``'s dtype."""
    mean = total[0] / count
    variance = np.maximum(total[1] / count - np.square(mean), 0.0)
    return mean.astype(old[0].dtype), variance.astype(old[1].dtype)


class BatchNormStatistics(keras.callbacks.Callback):
    """Recompute the model's BatchNorm statistics on ``dataset`` before each validation and at the end of ``fit``.

    Only after training steps (a validation right after another costs
    nothing); a model without trainable BatchNorm layers costs nothing. The
    cost is one forward pass over at most ``max_batches`` batches per epoch.
    """

    def __init__(self, dataset, max_batches=200):
        super().__init__()
        self.dataset = dataset
        self.max_batches = max_batches
        self._stale = False
        self._forward = None

    def on_train_batch_end(self, batch, logs=None):
        self._stale = True

    def on_test_begin(self, logs=None):
        self._refresh()

    def on_train_end(self, logs=None):
        self._refresh()

    def _refresh(self):
        if self._stale:
            if self._forward is None:  # traced on first use, while the momenta are 0 (as in every later call)
                self._forward = tf.function(_training_forward(self.model), reduce_retracing=True)
            recompute_batchnorm_statistics(self.model, self.dataset, self.max_batches, self._forward)
            self._stale = False

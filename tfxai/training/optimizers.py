"""What every method compiles with: the optimizer named in a run config and the accuracy metrics."""

import keras

from tfxai.errors import TfxaiError

__all__ = ["accuracy_metrics", "make_optimizer"]


def make_optimizer(name, learning_rate, momentum=0.9):
    """``sgd`` (with ``momentum``) or ``adam`` at ``learning_rate``."""
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate, momentum=momentum)
    if name == "adam":
        return keras.optimizers.Adam(learning_rate)
    raise TfxaiError(f"unknown optimizer {name!r}: choose sgd or adam")


def accuracy_metrics(num_classes):
    """Top-1 accuracy and, beyond 5 classes, top-5 accuracy (with 5 classes or fewer top-5 is always 1)."""
    metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    if num_classes > 5:
        metrics.append(keras.metrics.SparseTopKCategoricalAccuracy(k=5, name="top5"))
    return metrics

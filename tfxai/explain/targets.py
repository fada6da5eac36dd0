"""Targets: which score a CAM explains, as explicit class ids or a callable.

A target is never hidden state of a method: it is passed with each call.

- ``None``: the predicted class of each image;
- ``int``: the same class for every image;
- a sequence of ints: one class per image;
- a callable ``outputs -> scores`` of shape ``(batch,)`` (for example
  :class:`ClassScore` or your own function of the model's outputs).
"""

import numpy as np
import tensorflow as tf

from tfxai.errors import TfxaiError

PREDICTED = -1  # class id meaning "the predicted class of this image"


class ClassScore:
    """Score of given classes: ``outputs[i, class_ids[i]]``.

    For a single-output (sigmoid) model the score of class 1 is the output and
    the score of class 0 its negation, so that Grad-CAM explains the evidence for
    the requested class in both cases.
    """

    def __init__(self, class_ids):
        self.class_ids = class_ids

    def __call__(self, outputs):
        return class_scores(outputs, self.class_ids)


def predicted_classes(outputs):
    """Predicted class per row: argmax, or ``output > 0`` for single-logit models."""
    if outputs.shape[-1] == 1:
        return tf.cast(outputs[:, 0] > 0, tf.int32)
    return tf.argmax(outputs, axis=-1, output_type=tf.int32)


def class_scores(outputs, class_ids):
    """``outputs[i, class_ids[i]]``; ``class_ids`` may hold :data:`PREDICTED`."""
    class_ids = tf.convert_to_tensor(class_ids, tf.int32)
    class_ids = tf.where(class_ids == PREDICTED, predicted_classes(outputs), class_ids)
    if outputs.shape[-1] == 1:
        return outputs[:, 0] * binary_sign(class_ids, outputs.dtype)
    return tf.gather(outputs, class_ids, axis=-1, batch_dims=1)


def binary_sign(class_ids, dtype=tf.float32):
    """+1 for class 1, -1 for class 0: the score of a single sigmoid output's class is ``sign * logit``.

    ``sigmoid(sign * z)`` is then the class's probability (``1 - sigmoid(z) = sigmoid(-z)``).
    """
    return tf.cast(2 * tf.cast(class_ids, tf.int32) - 1, dtype)


def class_ids_from_labels(labels, num_outputs):
    """Target class per sample from training labels: 0/1 labels (one sigmoid output), class indices or one-hot rows."""
    labels = tf.convert_to_tensor(labels)
    if num_outputs == 1:
        return tf.cast(tf.reshape(tf.cast(labels, tf.float32), [-1]) > 0.5, tf.int32)
    if len(labels.shape) >= 2 and labels.shape[-1] == num_outputs:
        return tf.argmax(labels, axis=-1, output_type=tf.int32)
    return tf.cast(tf.reshape(labels, [-1]), tf.int32)


def resolve_class_ids(targets, batch_size, num_classes):
    """Turn ``None`` / int / sequence targets into an int32 array of shape ``(batch,)``.

    Raises :class:`TfxaiError` for an index out of range or a length mismatch.
    """
    if targets is None:
        return np.full((batch_size,), PREDICTED, np.int32)
    if isinstance(targets, (int, np.integer)):
        ids = np.full((batch_size,), int(targets), np.int32)
    else:
        values = np.asarray(targets)
        if not np.issubdtype(values.dtype, np.integer):
            raise TfxaiError(
                f"targets must be class indices (ints), got {values.dtype} values {values.reshape(-1)[:4].tolist()}: "
                "pass an int, one int per image, None, or a callable"
            )
        ids = values.astype(np.int64).reshape(-1)
        if ids.shape[0] != batch_size:
            raise TfxaiError(f"got {ids.shape[0]} targets for {batch_size} images: pass one class per image, one int, or None")
        ids = ids.astype(np.int32)
    valid_classes = max(num_classes, 2)  # a single sigmoid output has classes 0 and 1
    bad = ids[(ids < 0) | (ids >= valid_classes)]
    if bad.size:
        raise TfxaiError(
            f"class index {int(bad[0])} is out of range for a model with {valid_classes} classes: use 0..{valid_classes - 1}"
        )
    return ids

"""Keras callbacks for attention models: attention maps as TensorBoard images during training.

The summaries are written with TensorFlow's own summary ops in TensorBoard's
image and scalar formats, so logging works even where the ``tensorboard``
package (which ``tf.summary.image`` needs) is not installed; view them later
with ``tensorboard --logdir``.
"""

import os

import cv2
import keras
import numpy as np
import tensorflow as tf
from tensorflow.core.framework import summary_pb2

from tfxai.errors import TfxaiError

__all__ = ["AttentionImageLogger", "attention_tiles", "write_image_summary", "write_scalar_summary"]


def _metadata(plugin):
    metadata = summary_pb2.SummaryMetadata()
    metadata.plugin_data.plugin_name = plugin
    return metadata


def write_image_summary(tag, images, step):
    """Write uint8 RGB images (N, H, W, 3) as one TensorBoard image summary (default writer)."""
    images = np.asarray(images, np.uint8)
    if images.ndim == 3:
        images = images[None]
    height, width = images.shape[1:3]
    encoded = [cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))[1].tobytes() for image in images]
    tensor = tf.constant([str(width).encode(), str(height).encode()] + encoded, dtype=tf.string)
    return tf.summary.write(tag, tensor, step=step, metadata=_metadata("images"))


def write_scalar_summary(tag, value, step):
    """Write one float as a TensorBoard scalar summary (default writer)."""
    return tf.summary.write(tag, tf.constant(float(value), tf.float32), step=step, metadata=_metadata("scalars"))


def attention_tiles(explainer, images, labels=None, class_names=None, alpha=0.4):
    """Overlays of attention maps with the predicted class and probability written under each (uint8 RGB tiles).

    ``explainer`` is any explainer (:mod:`tfxai.explain.protocol`): an
    attention model, a Grad-CAM object or a callable ``images -> (maps, probabilities)``.
    """
    from tfxai.explain.overlay import caption, overlay
    from tfxai.explain.protocol import explain_in_batches

    maps, probabilities = explain_in_batches(explainer, images)
    names = class_names or [str(i) for i in range(probabilities.shape[-1])]
    tiles = []
    for index, image in enumerate(np.asarray(images)):
        predicted = int(np.argmax(probabilities[index]))
        lines = [f"pred: {names[predicted]} {probabilities[index, predicted]:.2f}"]
        if labels is not None:
            lines.insert(0, f"true: {names[int(labels[index])]}")
        tiles.append(caption(overlay(image, maps[index], alpha), lines))
    return tiles


class AttentionImageLogger(keras.callbacks.Callback):
    """Log attention-map overlays of fixed images (and the epoch's metrics) to TensorBoard.

    Parameters
    ----------
    log_dir : str
        TensorBoard log folder (a ``attention`` sub-folder is written).
    images : array (N, H, W, C)
        Images to follow during training (raw pixels, as the model takes them).
    labels : array (N,), optional
    class_names : list of str, optional
    every : int
        Log every ``every`` epochs (and after the last).
    scalars : bool
        Also log the epoch's ``logs`` as scalars.
    explainer : explainer, optional
        What draws the maps (default: the model being trained, an attention
        model); e.g. a :class:`tfxai.explain.GradCAM` of a plain classifier.
    """

    def __init__(self, log_dir, images, labels=None, class_names=None, every=1, scalars=True, alpha=0.4, columns=8, explainer=None):
        super().__init__()
        images = np.asarray(images)
        if images.ndim != 4 or len(images) == 0:
            raise TfxaiError(f"AttentionImageLogger needs a batch of images (N, H, W, C), got shape {images.shape}")
        if every < 1:
            raise TfxaiError(f"every must be at least 1 epoch, got {every}")
        self.log_dir = os.fspath(log_dir)
        self.images = images
        self.labels = labels
        self.class_names = class_names
        self.every = int(every)
        self.scalars = scalars
        self.alpha = alpha
        self.columns = columns
        self.explainer = explainer
        self._writer = None

    def _explainer(self):
        explainer = self.explainer if self.explainer is not None else self.model
        if not hasattr(explainer, "explain"):
            raise TfxaiError(
                f"{type(explainer).__name__} has no explain(images) method: train an attention model or pass explainer=GradCAM(model)"
            )
        return explainer

    def on_train_begin(self, logs=None):
        self._writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "attention"))

    def on_epoch_end(self, epoch, logs=None):
        if self._writer is None:
            self.on_train_begin()
        last = self.params and epoch + 1 == self.params.get("epochs")
        with self._writer.as_default():
            if self.scalars:
                for name, value in (logs or {}).items():
                    write_scalar_summary(f"epoch_{name}", value, epoch)
            if (epoch + 1) % self.every == 0 or last:
                from tfxai.explain.overlay import contact_sheet

                tiles = attention_tiles(self._explainer(), self.images, self.labels, self.class_names, self.alpha)
                write_image_summary("attention_maps", contact_sheet(tiles, columns=self.columns), epoch)
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None

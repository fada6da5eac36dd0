"""The explainer protocol: one shape for every method that gives maps.

An *explainer* is any object with ``explain(images) -> (maps, probabilities)``:

- ``maps`` first, float32 in [0, 1], at the input's resolution: ``(batch, H, W)``
  for images, ``(batch, T, H, W)`` for videos (for 1D signals, see
  :meth:`tfxai.signal.SAN1D.explain`);
- ``probabilities`` second, ``(batch, K)`` (``(batch, 1)`` for a single sigmoid).

Grad-CAM objects (:class:`tfxai.explain.BaseCAM`), every attention model
(:class:`tfxai.attention.ABN`, :class:`tfxai.attention.GAIN`) and
:class:`tfxai.signal.SAN1D` implement it. Evaluation, reports, export, the
TensorBoard callback and the human-map export take any explainer (or a plain
callable ``images -> (maps, probabilities)``) and run it with
:func:`explain_in_batches`.
"""

import numpy as np
import tensorflow as tf

from tfxai.errors import TfxaiError

__all__ = ["explain_dataset", "explain_function", "explain_in_batches", "map_in_batches"]


def explain_function(explainer):
    """The ``explain`` callable of an explainer object, or ``explainer`` itself when it is a callable."""
    if hasattr(explainer, "explain"):
        return explainer.explain
    if callable(explainer):
        return explainer
    raise TfxaiError(
        f"{type(explainer).__name__} is not an explainer: pass an object with explain(images) -> (maps, probabilities) "
        "(a Grad-CAM object or an attention model)"
    )


def map_in_batches(function, arrays, batch_size):
    """``function(*chunks)`` over consecutive ``batch_size`` slices of ``arrays``; each output concatenated.

    ``function`` returns a tuple of tensors/arrays; the result is the tuple of
    their concatenations along the batch axis (as tensors).
    """
    if batch_size < 1:
        raise TfxaiError(f"batch_size must be at least 1, got {batch_size}")
    total = len(arrays[0])
    if total == 0:
        raise TfxaiError("no images to explain: pass at least one image")
    parts = [function(*(array[start : start + batch_size] for array in arrays)) for start in range(0, total, batch_size)]
    return tuple(tf.concat([part[index] for part in parts], axis=0) for index in range(len(parts[0])))


def explain_in_batches(explainer, images, batch_size=32, targets=None):
    """Run an explainer over ``images`` in chunks; returns numpy ``(maps, probabilities)``.

    Parameters
    ----------
    explainer : object with ``explain`` or callable
        ``explain(images) -> (maps, probabilities)``; methods with class
        targets (Grad-CAM, GAIN) also take ``explain(images, targets)``.
    images : array (N, ...)
        Raw inputs as the model takes them (cast to float32).
    batch_size : int
    targets : None, int or array (N,), optional
        Class of each image to explain (None: the predicted class).
    """
    explain = explain_function(explainer)
    images = np.asarray(images, np.float32)
    if targets is None or isinstance(targets, (int, np.integer)):

        def run(chunk):
            return explain(chunk) if targets is None else explain(chunk, int(targets))

        maps, probabilities = map_in_batches(run, (images,), batch_size)
    else:
        targets = np.asarray(targets)
        if len(targets) != len(images):
            raise TfxaiError(f"got {len(targets)} targets for {len(images)} images: pass one class per image, one int, or None")
        maps, probabilities = map_in_batches(lambda chunk, ids: explain(chunk, ids), (images, targets), batch_size)
    return np.asarray(maps, np.float32), np.asarray(probabilities, np.float32)


def explain_dataset(explain, dataset, targets=None):
    """``explain(images, targets)`` over the batches of a ``tf.data`` dataset (elements: images or ``(images, ...)``), concatenated."""
    maps, probabilities = [], []
    for element in dataset:
        images = element[0] if isinstance(element, (tuple, list)) else element
        batch_maps, batch_probabilities = explain(images, targets)
        maps.append(batch_maps)
        probabilities.append(batch_probabilities)
    if not maps:
        raise TfxaiError("the dataset is empty: give it at least one image")
    return tf.concat(maps, 0), tf.concat(probabilities, 0)

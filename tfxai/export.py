"""SavedModel export that serves predictions *and* explanations.

The exported folder loads with plain ``tf.saved_model.load`` on a machine
without tfxai. Signatures:

- ``serving_default``: images (float32 or uint8, chosen at export) ->
  ``{"probabilities", "class_id", "heatmap"}``;
- ``serve_float32`` and ``serve_uint8``: the same for each input type.

The heatmap is the chosen CAM method's map of the predicted class, (batch, H, W)
in [0, 1] (or (batch, T, H, W) for video models).
"""

import os

import keras
import tensorflow as tf

from tfxai.errors import TfxaiError
from tfxai.explain import get_method
from tfxai.explain.targets import PREDICTED, predicted_classes
from tfxai.io import atomic_path

__all__ = ["export_saved_model", "serving_function"]


def serving_function(model, explain="gradcam", layer=None):
    """A function ``images -> {"probabilities", "class_id", "heatmap"}`` (traceable).

    ``explain`` names a CAM method (``gradcam``, ``gradcam++``, ``cam``) or is
    a callable ``images -> (heatmaps, probabilities)`` (attention models pass
    their own attention map here).
    """
    if callable(explain):
        explainer = explain
    else:
        cam = get_method(explain)(model, layer)

        def explainer(images):
            class_ids = tf.fill(tf.shape(images)[:1], PREDICTED)
            from tfxai.explain.targets import ClassScore

            heatmaps, scores = cam.heatmaps_and_scores(images, ClassScore(class_ids), class_ids)
            return heatmaps, cam._to_probabilities(scores)

    def serve(images):
        heatmaps, probabilities = explainer(tf.cast(images, tf.float32))
        if probabilities.shape[-1] == 1:
            class_id = tf.cast(probabilities[:, 0] > 0.5, tf.int32)
        else:
            class_id = predicted_classes(probabilities)
        return {"probabilities": probabilities, "class_id": class_id, "heatmap": heatmaps}

    return serve


def export_saved_model(model, path, explain="gradcam", layer=None, input_dtype="float32", overwrite=False):
    """Export ``model`` to a SavedModel folder at ``path`` (written atomically).

    Parameters
    ----------
    model : keras.Model
        A trained classifier (functional/Sequential) or a tfxai attention model.
    path : str
        Output folder; must not exist unless ``overwrite``.
    explain : str or callable
        CAM method name or a callable ``images -> (heatmaps, probabilities)``.
    layer : str, optional
        Feature-map layer for the CAM method.
    input_dtype : {"float32", "uint8"}
        Input type of ``serving_default``; both are served under their own names.

    Returns
    -------
    str
        The SavedModel folder.
    """
    if input_dtype not in ("float32", "uint8"):
        raise TfxaiError(f"input_dtype must be 'float32' or 'uint8', got {input_dtype!r}")
    path = os.fspath(path)
    if os.path.exists(path) and not overwrite:
        raise TfxaiError(f"{path} already exists: pass overwrite=True (--overwrite) or choose another folder")
    serve = serving_function(model, explain, layer)
    shape = [None] + list(model.inputs[0].shape[1:])
    archive = keras.export.ExportArchive()
    archive.track(model)
    specs = {dtype: tf.TensorSpec(shape, getattr(tf, dtype), name="images") for dtype in ("float32", "uint8")}
    archive.add_endpoint("serving_default", serve, input_signature=[specs[input_dtype]])
    for dtype, spec in specs.items():
        archive.add_endpoint(f"serve_{dtype}", serve, input_signature=[spec])
    with atomic_path(path) as tmp:
        archive.write_out(tmp, verbose=False)
    return path

"""SavedModel export that serves predictions *and* explanations.

The exported folder loads with plain ``tf.saved_model.load`` on a machine
without tfxai. Signatures:

- ``serving_default``: images (float32 or uint8, chosen at export) ->
  ``{"probabilities", "class_id", "heatmap"}`` and, when the class names are
  given, ``"class_name"`` (string) read from the asset ``assets/class_names.txt``
  (one name per line, line i is class i), so a server answers names without the run folder;
- ``serve_float32`` and ``serve_uint8``: the same for each input type.

A video attention model with a ``serve_attention(clips)`` method (:class:`tfxai.video.STABN`)
also serves its ``spatial`` (batch, T, H, W) and ``temporal`` (batch, T)
attention; its heatmap is the spatial attention.

The heatmap is the model's own attention (attention models) or the chosen CAM
method's map of the predicted class, (batch, H, W)
in [0, 1] (or (batch, T, H, W) for video models).
"""

import os
import tempfile

import keras
import tensorflow as tf

from tfxai.errors import TfxaiError
from tfxai.explain import explainer_names, explainer_spec
from tfxai.explain.cam import BaseCAM
from tfxai.explain.targets import predicted_classes
from tfxai.io import atomic_path

__all__ = ["export_saved_model", "model_input_shape", "serving_function"]


def serving_function(model, explain=None, layer=None, class_names=None):
    """A function ``images -> {"probabilities", "class_id", "heatmap"}`` (traceable).

    ``explain`` is None (an attention model's own maps, Grad-CAM for other
    classifiers), False (no heatmap: for models without a convolutional
    feature map, e.g. a dense network), the name of an in-graph explainer of
    :data:`tfxai.explain.EXPLAINERS` (``gradcam``, ``gradcam++``, ``cam``,
    ``r3d-gradcam``, or an attention model's own maps: ``abn``, ``gain``,
    ``stabn``; the tf-keras-vis methods cannot be traced and are refused), a
    CAM object, or any explainer / callable ``images -> (maps, probabilities)``
    that can be traced. ``class_names`` is None or a lookup table (class id ->
    name, :func:`class_name_table`) that adds a ``"class_name"`` output.
    """
    if explain is None and hasattr(model, "serve_attention"):
        return _serve_attention(model, class_names)
    if explain is False:
        return lambda images: _outputs(model(tf.cast(images, tf.float32), training=False), None, class_names)
    explainer = _explainer(model, explain, layer)

    def serve(images):
        heatmaps, probabilities = explainer(tf.cast(images, tf.float32))
        return _outputs(probabilities, heatmaps, class_names)

    return serve


def _serve_attention(model, class_names=None):
    """Probabilities, class id, heatmap and every attention of a model with ``serve_attention(clips) -> {"probabilities", "spatial", ...}``."""

    def serve(images):
        out = model.serve_attention(tf.cast(images, tf.float32))
        return {**out, **_outputs(out["probabilities"], out["spatial"], class_names)}

    return serve


def _outputs(probabilities, heatmaps, class_names=None):
    """The served outputs every model shares: probabilities, predicted class id and heatmap."""
    if probabilities.shape[-1] == 1:
        class_id = tf.cast(probabilities[:, 0] > 0.5, tf.int32)
    else:
        class_id = predicted_classes(probabilities)
    outputs = {"probabilities": probabilities, "class_id": class_id}
    if heatmaps is not None:
        outputs["heatmap"] = heatmaps
    if class_names is not None:
        outputs["class_name"] = class_names.lookup(tf.cast(class_id, tf.int64))
    return outputs


class ClassNames(tf.Module):
    """The class names as a SavedModel asset (``class_names.txt``) and a lookup table class id -> name."""

    def __init__(self, names, folder):
        super().__init__(name="class_names")
        names = [str(name) for name in names]
        if any("\n" in name or "\r" in name for name in names):
            raise TfxaiError("class names must not contain line breaks: rename the class folders")
        path = os.path.join(folder, "class_names.txt")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("\n".join(names) + "\n")
        self.asset = tf.saved_model.Asset(path)
        initializer = tf.lookup.TextFileInitializer(
            self.asset, tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER, tf.string, tf.lookup.TextFileIndex.WHOLE_LINE
        )
        self.table = tf.lookup.StaticHashTable(initializer, default_value="")

    def lookup(self, class_id):
        return self.table.lookup(class_id)


def _explainer(model, explain, layer):
    """The traceable ``images -> (maps, probabilities)`` a SavedModel serves for ``explain`` (see :func:`serving_function`)."""
    from tfxai.attention.base import AttentionModel
    from tfxai.explain.protocol import explain_function

    if explain is None:
        explain = model if isinstance(model, AttentionModel) else "gradcam"
    if isinstance(explain, str):
        spec = explainer_spec(explain)
        if not spec.in_graph:
            raise TfxaiError(
                f"{spec.name} runs tf-keras-vis in Python (numpy), which cannot run inside a SavedModel: export with one of "
                f"{', '.join(explainer_names(in_graph=True))}"
            )
        if spec.model == "image" and isinstance(model, AttentionModel):
            model = getattr(model, "classifier", None) or _no_cam(model, spec.name)
        explain = spec.factory(model, layer=layer)
    if isinstance(explain, BaseCAM):
        return explain.explain_predicted  # the in-graph pipeline (the eager explain() batches numpy arrays)
    return explain_function(explain)


def _no_cam(model, method):
    raise TfxaiError(f"{type(model).__name__} is not a functional classifier, so {method} cannot explain it: export its own maps (explain=None)")


def model_input_shape(model):
    """``(None, H, W, C)`` (or the video shape) of a classifier or an attention model."""
    from tfxai.attention.base import AttentionModel

    if isinstance(model, AttentionModel):
        return [None] + list(model.image_shape)
    return [None] + list(model.inputs[0].shape[1:])


def export_saved_model(model, path, explain=None, layer=None, input_dtype="float32", overwrite=False, class_names=None):
    """Export any tfxai model to a SavedModel folder at ``path`` (written atomically).

    Parameters
    ----------
    model : keras.Model
        A trained classifier (functional/Sequential) or a tfxai attention
        model (:class:`~tfxai.attention.ABN`, :class:`~tfxai.attention.GAIN`).
    path : str
        Output folder; must not exist unless ``overwrite``.
    explain : None, False, str, explainer or callable
        None: an attention model's own maps, Grad-CAM for a classifier; False:
        no ``heatmap`` output (a model without a convolutional feature map);
        or a CAM method name, or an explainer ``images -> (maps, probabilities)``.
    layer : str, optional
        Feature-map layer for a CAM method.
    input_dtype : {"float32", "uint8"}
        Input type of ``serving_default``; both are served under their own names.
    class_names : list of str, optional
        One name per class: stored as the asset ``class_names.txt`` and served
        as the string output ``class_name`` of every signature.

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
    with tempfile.TemporaryDirectory() as scratch:
        names = None if class_names is None else ClassNames(class_names, scratch)
        serve = serving_function(model, explain, layer, names)
        shape = model_input_shape(model)
        archive = keras.export.ExportArchive()
        archive.track(model)
        if names is not None:
            archive.track(names)
        specs = {dtype: tf.TensorSpec(shape, getattr(tf, dtype), name="images") for dtype in ("float32", "uint8")}
        archive.add_endpoint("serving_default", serve, input_signature=[specs[input_dtype]])
        for dtype, spec in specs.items():
            archive.add_endpoint(f"serve_{dtype}", serve, input_signature=[spec])
        with atomic_path(path) as tmp:
            archive.write_out(tmp, verbose=False)
    return path

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

:func:`export` writes the same outputs in three formats, each as a folder
with a ``model_card.json`` (inputs, outputs, class names, method, measured
agreement with Keras): ``savedmodel`` (the folder above), ``tflite``
(``model.tflite``, LiteRT, optionally quantized) and ``onnx``
(``model.onnx``, through tf2onnx). The LiteRT and ONNX files take
``images`` of the exported dtype and fixed size (a wrong size is refused by
the runtime) and return ``probabilities``, ``class_id``, ``heatmap`` (and
``spatial``/``temporal`` for video models) and, with class names,
``class_name``. Grad-CAM's gradients are traced into the graph as ordinary
ops (``MatMul``, ``Tile``, ``UnsortedSegmentSum``... for a GAP -> Dense head),
which LiteRT and ONNX carry as built-in ops.
"""

import os
import tempfile

import keras
import numpy as np
import tensorflow as tf

from tfxai.errors import TfxaiError
from tfxai.explain import explainer_names, explainer_spec, get_method
from tfxai.explain.cam import BaseCAM, GradCAM, combine, normalize, upsample
from tfxai.explain.layers import output_activation, score_layer
from tfxai.explain.targets import binary_sign, predicted_classes
from tfxai.io import atomic_path
from tfxai.io.export_litert import FLOAT_SCOPE, FORMATS, QUANTIZATIONS, check_export_options, litert_from_function, litert_interpreter, run_litert
from tfxai.io.export_onnx import OPSET, convert_onnx, onnx_session, run_onnx
from tfxai.io.model_card import agreement, calibration_images, check_images, training_data, write_model_card

__all__ = ["FORMATS", "QUANTIZATIONS", "calibration_images", "export", "export_saved_model", "model_input_shape",
           "portable_function", "serving_function", "training_data"]

#: ``export(format=...)`` choices and the file each writes in its folder.
FILE_NAMES = {"savedmodel": "saved_model.pb", "tflite": "model.tflite", "onnx": "model.onnx"}


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


# === LiteRT and ONNX: one serving function, three formats ===


def portable_function(model, explain=None, layer=None, class_names=None, analytic=True):
    """:func:`serving_function` for LiteRT/ONNX: fixed-size images only, class names as a constant table.

    The images are reshaped to ``(batch, *input shape)`` first, so an image of
    another size fails in the runtime (element counts differ) instead of
    giving an answer; ``class_name`` is a gather from the constant names
    (a hash table with a text asset does not convert). ``analytic``: Grad-CAM
    gradients written out for a GAP -> Dense head (:func:`_analytic_cam`), else traced.
    """
    written_out = _analytic_cam(model, explain, layer) if analytic and explain is not False else None
    serve = written_out or serving_function(model, explain, layer)
    shape = [int(size) for size in model_input_shape(model)[1:]]
    names = None if class_names is None else [str(name) for name in class_names]

    def portable(images):
        images = tf.reshape(images, tf.concat([tf.shape(images)[:1], shape], 0))
        outputs = dict(serve(images))
        if names is not None:
            outputs["class_name"] = tf.gather(tf.constant(names), tf.cast(outputs["class_id"], tf.int32))  # a constant of the graph
        return outputs

    portable.analytic = written_out is not None
    return portable


def _analytic_cam(model, explain, layer):
    """``images -> outputs`` of a CAM method by name, with Grad-CAM's gradients written out for a GAP -> Dense head; else None.

    For ``features -> global average pooling -> Dense`` the gradient of class
    c's score with respect to ``features[i, j, k]`` is ``kernel[k, c] / (H W)``
    at every position, exactly; the method's own hook turns it into channel
    weights. The graph then holds forward ops only (traced gradients of a
    dynamic batch hold ``DynamicStitch``, transposes with computed permutations
    and reshapes that tf2onnx 1.17 converts wrongly). :func:`export` checks the
    maps against the traced Grad-CAM and uses the traced graph when they differ.
    """
    from tfxai.attention.base import AttentionModel
    from tfxai.attention.gain import GAIN

    if isinstance(model, GAIN) and explain is None:  # GAIN's own map is Grad-CAM of its classifier at its layer
        model, explain, layer = model.classifier, "gradcam", model.layer
    if isinstance(model, AttentionModel) or hasattr(model, "serve_attention"):
        if not isinstance(explain, str):
            return None
        model = getattr(model, "classifier", None) or _no_cam(model, explain)
    explain = "gradcam" if explain is None else explain
    if not isinstance(explain, str):
        return None
    cam = get_method(explain)(model, layer)  # logits=True: the view's scores are before the output squash
    dense, channels = score_layer(model), int(cam.view.outputs[0].shape[-1])
    if not isinstance(dense, keras.layers.Dense) or int(dense.kernel.shape[0]) != channels:
        return None
    squash = {"softmax": tf.nn.softmax, "sigmoid": tf.nn.sigmoid}.get(output_activation(model), tf.identity)

    def serve(images):
        images = tf.cast(images, tf.float32)
        features, scores = cam.view(images, training=False)
        class_ids = predicted_classes(scores)
        with tf.name_scope(FLOAT_SCOPE):  # int8 LiteRT keeps these ops float32 (export_litert.FLOAT_SCOPE)
            kernel = tf.transpose(tf.convert_to_tensor(dense.kernel))  # (classes, channels)
            if kernel.shape[0] == 1:
                column = kernel[0][None] * binary_sign(class_ids, kernel.dtype)[:, None]
            else:
                column = tf.gather(kernel, class_ids)
            positions = float(np.prod(features.shape[1:-1]))
            gradient = tf.cast(column / positions, features.dtype)  # (batch, channels): the same at every position
            if type(cam).channel_weights is GradCAM.channel_weights:  # the spatial mean of a constant: the constant itself
                weights = gradient
            else:
                rank = len(features.shape)
                weights = cam.channel_weights(features, tf.ones_like(features) * tf.reshape(gradient, [-1] + [1] * (rank - 2) + [channels]),
                                              class_ids)
            heatmaps = combine(features, weights, relu=cam.relu)
            heatmaps = normalize(upsample(heatmaps, images.shape[1:-1]))
        return _outputs(squash(scores), tf.cast(heatmaps, tf.float32))

    return serve


def _run_tf(function, images, batch_size=32):
    parts = [{k: v.numpy() for k, v in function(tf.constant(images[i:i + batch_size])).items()}
             for i in range(0, len(images), batch_size)]
    return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}


def export(model, path, format="savedmodel", explain=None, layer=None, input_dtype="float32", overwrite=False,
           class_names=None, quantize="none", calibration=None, input_range=(0, 255)):
    """Export ``model`` to ``path`` (a folder) as a SavedModel, a LiteRT file or an ONNX file, with ``model_card.json``.

    Parameters
    ----------
    model, explain, layer, input_dtype, class_names
        As :func:`export_saved_model`.
    path : str
        Output folder: the SavedModel itself, or a folder holding ``model.tflite``
        / ``model.onnx``; every format adds ``model_card.json``. Written
        completely or not at all; must not exist unless ``overwrite``.
    format : {"savedmodel", "tflite", "onnx"}
    quantize : {"none", "dynamic", "float16", "int8"}
        LiteRT only: weight (and for int8 activation) quantization; outputs stay float.
    calibration : None, "demo", str or array
        Images (an image folder, ``"demo"`` or an array (N, H, W, C)): int8's
        representative dataset (up to 300) and the check images (up to 32);
        without them, 8 seeded noise images check the export.
    input_range : (low, high)
        Pixel range the model expects, recorded in the card (tfxai classifiers take raw 0-255 pixels).

    Returns
    -------
    dict
        The model card (also written to ``path/model_card.json``).
    """
    if input_dtype not in ("float32", "uint8"):
        raise TfxaiError(f"input_dtype must be 'float32' or 'uint8', got {input_dtype!r}")
    path = check_export_options(path, format, quantize, overwrite)
    shape = model_input_shape(model)
    if quantize == "int8" and calibration is None:
        raise TfxaiError("int8 quantization needs calibration images: pass calibration= (--calibration FOLDER or demo)")
    calibration = None if calibration is None else calibration_images(calibration, shape[1:], input_dtype=input_dtype)
    spec = tf.TensorSpec(shape, getattr(tf, input_dtype), name="images")
    images = check_images(shape[1:], input_dtype, calibration)
    traced = tf.function(portable_function(model, explain, layer, class_names, analytic=False), input_signature=[spec])
    reference = _run_tf(traced, images)  # Keras' own Grad-CAM (gradients traced), what the SavedModel serves
    portable, gradients = traced, "as in the SavedModel (traced)"
    written_out = portable_function(model, explain, layer, class_names) if format != "savedmodel" else None
    if written_out is not None and written_out.analytic:
        analytic = tf.function(written_out, input_signature=[spec])
        if np.abs(_run_tf(analytic, images)["heatmap"] - reference["heatmap"]).max() <= 1e-4:
            portable, gradients = analytic, "written out for the GAP -> Dense head"
    with atomic_path(path) as tmp:
        extra = {}
        if format == "savedmodel":
            export_saved_model(model, tmp, explain, layer, input_dtype, class_names=class_names)
            served = tf.saved_model.load(tmp).signatures["serving_default"]
            exported = {k: v.numpy() for k, v in served(images=tf.constant(images)).items()}
            runtime = f"tensorflow {tf.__version__}"
        elif format == "tflite":
            flat, fallback = litert_from_function(model, portable, spec, quantize, calibration)
            os.makedirs(tmp)
            with open(os.path.join(tmp, FILE_NAMES[format]), "wb") as handle:
                handle.write(flat)
            exported = _run_flex(tmp, images) if fallback else run_litert(litert_interpreter(os.path.join(tmp, FILE_NAMES[format])), images)
            runtime = "LiteRT interpreter"
            extra = {"quantize": quantize, "select_tf_ops": fallback,
                     "select_tf_ops_note": (f"{', '.join(fallback)} fell back to TensorFlow ops: LiteRT has no built-in kernel "
                                            "for them (Grad-CAM's traced gradients back through the layers after the feature map); "
                                            "run with the Flex delegate (select-ops LiteRT build)") if fallback else "built-in ops only"}
        else:
            os.makedirs(tmp)
            convert_onnx(portable, [spec], os.path.join(tmp, FILE_NAMES[format]))
            exported = run_onnx(onnx_session(os.path.join(tmp, FILE_NAMES[format])), images)
            runtime, extra = "onnxruntime", {"opset": OPSET}
        card = _card(model, format, explain, layer, spec, input_range, class_names, reference, exported, calibration)
        card["explanation"]["gradients"] = gradients
        card.update(extra, runtime=runtime, file=FILE_NAMES[format], size_bytes=_size(tmp))
        write_model_card(tmp, card)
    return card


def _size(folder):
    return sum(os.path.getsize(os.path.join(root, name)) for root, _, files in os.walk(folder) for name in files)


def _method_name(model, explain):
    from tfxai.attention.base import AttentionModel

    if explain is False:
        return "none"
    if explain is None:
        return "own attention" if isinstance(model, AttentionModel) or hasattr(model, "serve_attention") else "gradcam"
    return explain if isinstance(explain, str) else type(explain).__name__


def _run_flex(folder, images):
    """Outputs of a LiteRT file with Select TF ops, or a string saying why they could not be had (no Flex delegate here)."""
    try:
        return run_litert(litert_interpreter(os.path.join(folder, FILE_NAMES["tflite"]), flex=True), images)
    except RuntimeError as error:
        if "Flex" not in str(error) and "Select TensorFlow op" not in str(error):
            raise
        return "this machine's LiteRT interpreter has no Flex delegate (Select TF ops), so the file was not run"


def _card(model, format, explain, layer, spec, input_range, class_names, reference, exported, calibration):
    outputs = {key: {"shape": ["batch", *np.shape(value)[1:]], "dtype": "string" if key == "class_name" else str(np.asarray(value).dtype)}
               for key, value in sorted(reference.items())}
    return {
        "format": format,
        "inputs": {"images": {"shape": ["batch", *spec.shape[1:]], "dtype": spec.dtype.name, "range": list(input_range)}},
        "outputs": outputs,
        "class_names": None if class_names is None else [str(name) for name in class_names],
        "explanation": {"method": _method_name(model, explain), "layer": layer},
    } | _measured(reference, exported, calibration)


def _measured(reference, exported, calibration):
    if isinstance(exported, str):
        return {"agreement_with_keras": None, "agreement_not_measured": exported}
    check = "calibration images" if calibration is not None else "seeded uniform noise in [0, 255]"
    return {"agreement_with_keras": {**agreement(reference, exported), "check_images": check}}

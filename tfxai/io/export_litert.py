"""LiteRT (TFLite) conversion of a serving SavedModel: float32, dynamic-range, float16 or int8 weights.

The converter is TensorFlow's own ``tf.lite.TFLiteConverter`` (still in TF 2.21);
the file runs with the LiteRT interpreter (``ai-edge-litert``) or, where only
TensorFlow is installed, ``tf.lite.Interpreter``. Conversion first asks for
built-in ops only, so the file runs with the plain interpreter; when a graph
needs a TensorFlow op that has no built-in kernel, it converts again with
Select TF ops and says which ops fell back.
"""

import os
import re
import tempfile

import keras
import numpy as np
import tensorflow as tf

from tfxai.errors import TfxaiError

__all__ = ["FLOAT_SCOPE", "FORMATS", "QUANTIZATIONS", "after_feature_map", "check_export_options", "convert_litert", "flex_ops", "litert_from_function", "litert_interpreter", "run_litert"]

#: ``--quantize`` choices: none (float32), dynamic-range int8 weights, float16 weights, full int8 with calibration.
QUANTIZATIONS = ("none", "dynamic", "float16", "int8")
#: export formats (``--format``)
FORMATS = ("savedmodel", "tflite", "onnx")
#: Ops under this name scope, and every op downstream of what enters it (the head: pooling, logits, softmax,
#: argmax; :func:`after_feature_map`), stay float32 in an int8 file. The heatmap path quantized to int8 ran its
#: full-resolution resize and min-max normalisation outside XNNPACK's fast kernels (MobileNetV2 224: +9 ms on
#: 8 ms) and rounded the map to 1/255 steps; in float32 they cost ~1 ms and the map follows Keras.
FLOAT_SCOPE = "float_heatmap"


def check_export_options(path, format, quantize, overwrite):
    """One-line errors for an unknown format, a quantization outside LiteRT, or an existing ``path``; returns ``path`` as a string."""
    if format not in FORMATS:
        raise TfxaiError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    if quantize not in QUANTIZATIONS or (quantize != "none" and format != "tflite"):
        raise TfxaiError(f"quantize {quantize!r} applies to format tflite only ({', '.join(QUANTIZATIONS)}): drop --quantize or use --format tflite")
    path = os.fspath(path)
    if os.path.exists(path) and not overwrite:
        raise TfxaiError(f"{path} already exists: pass overwrite=True (--overwrite) or choose another folder")
    return path


def _converter(saved_model, quantize, representative):
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model, signature_keys=["serving_default"])
    if quantize != "none":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if quantize == "int8":
        if representative is None:
            raise TfxaiError("int8 quantization needs calibration images: pass --calibration FOLDER (or demo)")
        converter.representative_dataset = representative
        # inputs and outputs stay as exported (float32/uint8 images in, float probabilities and heatmap out)
    return converter


def _select_ops_named(message):
    """The TensorFlow op names a converter error lists as having no built-in kernel (``tf.ReluGrad`` -> ``ReluGrad``)."""
    return sorted(set(re.findall(r"\btf\.([A-Z][A-Za-z0-9]+)", message)))


def convert_litert(saved_model, quantize="none", representative=None):
    """Convert the ``serving_default`` signature of ``saved_model`` into LiteRT flatbuffer bytes.

    Parameters
    ----------
    saved_model : str
        A SavedModel folder whose ``serving_default`` takes ``images``.
    quantize : {"none", "dynamic", "float16", "int8"}
        Weight/activation quantization; the served heatmap and probabilities stay float.
    representative : callable or None
        For ``int8``: a generator function yielding ``[images]`` batches of one image.

    Returns
    -------
    (bytes, list of str)
        The flatbuffer and the TensorFlow ops that fell back to Select TF ops (empty: built-ins only).
    """
    if quantize not in QUANTIZATIONS:
        raise TfxaiError(f"quantize must be one of {', '.join(QUANTIZATIONS)}, got {quantize!r}")
    def builtins_only():
        converter = _converter(saved_model, quantize, representative)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        return converter

    try:
        # The debugger leaves its converter calibrating only: a graph without a float scope converts with a new one.
        flat = (quantize == "int8" and _int8_with_float_scope(builtins_only(), representative)) or builtins_only().convert()
        return flat, flex_ops(flat)
    except Exception as error:  # noqa: BLE001 - the converter raises its own ConverterError types
        fallback = _select_ops_named(str(error))
        if not fallback:
            raise TfxaiError(f"LiteRT conversion failed: {str(error).splitlines()[0][:300]}") from error
    converter = _converter(saved_model, quantize, representative)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
    return converter.convert(), fallback


def _int8_with_float_scope(converter, representative):
    """int8 bytes with every op after the feature map left in float32, or None when the graph has no :data:`FLOAT_SCOPE`.

    Calibrates once (TensorFlow's quantization debugger), then quantizes with
    the ops downstream of the feature map denylisted (:func:`after_feature_map`):
    the int8 feature map is dequantized where it enters them.
    """
    debugger = tf.lite.experimental.QuantizationDebugger(converter=converter, debug_dataset=representative)
    names = after_feature_map(debugger.calibrated_model)
    if not names:
        return None
    debugger.options = tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=names)
    return debugger.get_nondebug_quantized_model()


def after_feature_map(flat):
    """Names of the output tensors of every op downstream of the activations entering :data:`FLOAT_SCOPE` in a LiteRT model.

    Those activations are the feature map (and what is computed from it, e.g.
    the class id); downstream of them lie the heatmap path and the head
    (global pooling, the logits' Dense, softmax and argmax). Quantized, the
    head's int8 logits (steps of ~0.06 on the demo CNN) decided the class of
    near ties; in float32 it reads the dequantized feature map (see docs/export.md).
    Empty when no op is under the scope.
    """
    from tensorflow.lite.tools import flatbuffer_utils

    graph = flatbuffer_utils.convert_bytearray_to_object(flat).subgraphs[0]
    names = [tensor.name.decode() if isinstance(tensor.name, bytes) else str(tensor.name) for tensor in graph.tensors]
    ops = [(list(op.inputs), list(op.outputs)) for op in graph.operators]
    producer = {index: position for position, (_, outputs) in enumerate(ops) for index in outputs}
    in_scope = [any(f"{FLOAT_SCOPE}/" in names[index] for index in outputs) for _, outputs in ops]
    frontier = {index for position, (inputs, _) in enumerate(ops) if in_scope[position] for index in inputs
                if index in producer and not in_scope[producer[index]]}
    downstream = set()
    while frontier:
        tensor = frontier.pop()
        for inputs, outputs in ops:
            if tensor in inputs:
                new = set(outputs) - downstream
                downstream |= new
                frontier |= new
    return sorted(names[index] for index in downstream)


def litert_from_function(model, function, spec, quantize="none", calibration=None):
    """LiteRT bytes (and Select TF ops, as :func:`convert_litert`) of ``function`` over ``model``'s variables.

    Goes through a SavedModel written to a scratch folder (which freezes the
    variables); ``calibration`` (an array of single inputs) is int8's
    representative dataset, fed one example at a time.
    """
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serving_default", function, input_signature=[spec])

    def representative():
        for example in calibration:
            yield [example[None]]

    with tempfile.TemporaryDirectory() as scratch:
        folder = os.path.join(scratch, "portable")
        archive.write_out(folder, verbose=False)
        return convert_litert(folder, quantize, None if calibration is None else representative)


def flex_ops(flat):
    """TensorFlow ops a LiteRT flatbuffer runs through the Flex delegate (custom ops named ``Flex<Op>``)."""
    return sorted({name.decode() for name in re.findall(rb"Flex([A-Z][A-Za-z0-9]+)", flat)})


def litert_interpreter(path_or_bytes, flex=False):
    """A LiteRT interpreter on a ``.tflite`` file (or its bytes): ``ai_edge_litert`` when installed, else ``tf.lite``.

    ``flex``: the file holds Select TF ops, which TensorFlow's own interpreter runs (it links the Flex delegate).
    """
    try:
        if flex:
            raise ImportError("Select TF ops need the Flex delegate")
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        Interpreter = tf.lite.Interpreter
    if isinstance(path_or_bytes, (bytes, bytearray)):
        return Interpreter(model_content=bytes(path_or_bytes))
    return Interpreter(model_path=str(path_or_bytes))


def run_litert(interpreter, images, batch_size=1, input_name="images"):
    """Outputs of the ``serving_default`` signature for ``images`` (its input ``input_name``), in batches (a dict of numpy arrays)."""
    runner = interpreter.get_signature_runner("serving_default")
    parts = [runner(**{input_name: images[start:start + batch_size]}) for start in range(0, len(images), batch_size)]
    return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}

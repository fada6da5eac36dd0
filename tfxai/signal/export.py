"""Exporting a signal classifier (SavedModel, LiteRT or ONNX) that takes a batch of raw windows.

The export applies the preprocessing (Fourier magnitude, standardisation)
itself. The SavedModel serves, under the endpoint and signature ``serve``::

    serve(windows: float32 (batch, window, channels)) -> {
        "probabilities": (batch, classes),
        "attention": (batch, blocks, steps, footprint),   # 1D-SAN only
    }

It loads with plain ``tf.saved_model.load``; tfxai is not needed to serve it.
The LiteRT (``model.tflite``) and ONNX (``model.onnx``) files take the input
``windows`` of a fixed window length and return the same outputs plus
``class_id`` (and ``class_name`` when the class names are given); a window
of another length fails in the runtime. Both write ``model_card.json`` with
the agreement with Keras measured on check windows.
"""

import os

import keras
import numpy as np
import tensorflow as tf

from tfxai.errors import TfxaiError
from tfxai.io import atomic_path
from tfxai.io.export_litert import check_export_options, litert_from_function, litert_interpreter, run_litert
from tfxai.io.export_onnx import OPSET, convert_onnx, onnx_session, run_onnx
from tfxai.io.model_card import agreement, write_model_card
from tfxai.signal.windows import WINDOW

FILE_NAMES = {"tflite": "model.tflite", "onnx": "model.onnx"}


def _serve(model, preprocessor, portable=False):
    def serve(windows):
        inputs = windows if preprocessor is None else preprocessor(windows, portable=portable)
        if hasattr(model, "call_with_attention"):
            return model.call_with_attention(inputs, training=False)
        return {"probabilities": model(inputs, training=False)}

    return serve


def export_signal_model(model, path, preprocessor=None, window=WINDOW, format="savedmodel", quantize="none",
                        calibration=None, class_names=None, overwrite=False):
    """Write ``model`` (after ``preprocessor``) to ``path`` serving raw windows.

    Parameters
    ----------
    model : keras.Model
        A window classifier (:class:`SAN1D`, :class:`CNN1D` or any model on windows).
    path : str
        Output folder (the SavedModel, or a folder holding ``model.tflite`` /
        ``model.onnx`` and ``model_card.json``); written completely or not at all.
    preprocessor : WindowPreprocessor or None
        Applied to the raw windows inside the export.
    window : int
        Raw window length the export accepts.
    format : {"savedmodel", "tflite", "onnx"}
    quantize : {"none", "dynamic", "float16", "int8"}
        LiteRT only; ``int8`` needs ``calibration``. Outputs stay float.
    calibration : array (n, window, channels) or None
        Raw windows for int8 calibration (up to 300) and the export check (up to 32);
        without them, 8 seeded standard-normal windows check the export.
    class_names : list of str or None
        Served as ``class_name`` by the LiteRT and ONNX files.

    Returns
    -------
    str or dict
        The SavedModel's path (``format="savedmodel"``), else the model card.
    """
    path = check_export_options(path, format, quantize, overwrite)
    channels = int(model.inputs[0].shape[-1])
    serve = _serve(model, preprocessor)
    if format == "savedmodel":
        archive = keras.export.ExportArchive()
        archive.track(model)  # the preprocessor holds constants only, traced into the endpoint
        archive.add_endpoint(name="serve", fn=serve, input_signature=[tf.TensorSpec((None, window, channels), tf.float32, name="windows")])
        with atomic_path(path) as tmp:
            archive.write_out(tmp, verbose=False)
        return path
    calibration = _calibration(calibration, window, channels, quantize)
    windows = calibration[np.linspace(0, len(calibration) - 1, min(32, len(calibration))).astype(int)] if calibration is not None \
        else np.random.default_rng(0).standard_normal((8, window, channels)).astype("float32")
    spec = tf.TensorSpec((None, window, channels), tf.float32, name="windows")
    keras_outputs = tf.function(_portable(serve, window, channels, class_names), input_signature=[spec])
    reference = {key: value.numpy() for key, value in keras_outputs(tf.constant(windows)).items()}  # what Keras computes (FFT)
    serve = _serve(model, preprocessor, portable=True)  # the exported graph: the Fourier magnitude as DFT matrix products
    portable = tf.function(_portable(serve, window, channels, class_names), input_signature=[spec])
    with atomic_path(path) as tmp:
        os.makedirs(tmp)
        file = os.path.join(tmp, FILE_NAMES[format])
        if format == "tflite":
            flat, fallback = litert_from_function(model, portable, spec, quantize, calibration)
            with open(file, "wb") as handle:
                handle.write(flat)
            exported = None if fallback else run_litert(litert_interpreter(file), windows, input_name="windows")
            extra = {"quantize": quantize, "select_tf_ops": fallback, "runtime": "LiteRT interpreter"}
        else:
            convert_onnx(portable, [spec], file)
            exported = run_onnx(onnx_session(file), windows, input_name="windows")
            extra = {"opset": OPSET, "runtime": "onnxruntime"}
        card = {
            "format": format,
            "inputs": {"windows": {"shape": ["batch", int(window), channels], "dtype": "float32", "range": "raw signal (preprocessed inside)"}},
            "outputs": {key: {"shape": ["batch", *np.shape(value)[1:]], "dtype": "string" if key == "class_name" else str(value.dtype)}
                        for key, value in sorted(reference.items())},
            "class_names": None if class_names is None else [str(name) for name in class_names],
            "explanation": {"method": "own attention" if "attention" in reference else "none"},
            "agreement_with_keras": None if exported is None else {**agreement(reference, exported), "check_windows": len(windows)},
            **extra, "file": FILE_NAMES[format], "size_bytes": os.path.getsize(file),
        }
        if exported is None:
            card["agreement_not_measured"] = f"{', '.join(fallback)} need Select TF ops (Flex delegate); the file was not run"
        write_model_card(tmp, card)
    return card


def _calibration(calibration, window, channels, quantize):
    if calibration is None:
        if quantize == "int8":
            raise TfxaiError("int8 quantization needs calibration windows: pass calibration= (raw training windows)")
        return None
    calibration = np.asarray(calibration, np.float32)
    if calibration.ndim != 3 or calibration.shape[1:] != (window, channels) or not len(calibration):
        raise TfxaiError(f"calibration windows have shape {calibration.shape}, the model takes (n, {window}, {channels}): pass raw windows of its size")
    return calibration[np.linspace(0, len(calibration) - 1, min(300, len(calibration))).astype(int)]


def _portable(serve, window, channels, class_names):
    """``serve`` for LiteRT/ONNX: windows reshaped to the fixed length (another length fails), class id and name added."""
    names = None if class_names is None else [str(name) for name in class_names]

    def portable(windows):
        outputs = dict(serve(tf.reshape(windows, [-1, window, channels])))
        outputs["class_id"] = tf.argmax(outputs["probabilities"], axis=-1, output_type=tf.int32)
        if names is not None:
            outputs["class_name"] = tf.gather(tf.constant(names), outputs["class_id"])
        return outputs

    return portable

"""ONNX conversion of a serving function through tf2onnx, checked with ONNX Runtime.

tf2onnx 1.17.0 converts TensorFlow 2.21 graphs under numpy 2 (tested here
with onnx 1.23 and onnxruntime 1.32, opset 17). The ONNX model keeps the
serving function's named outputs (tf2onnx names them after the dict keys).
"""

import numpy as np

from tfxai.errors import TfxaiError

__all__ = ["OPSET", "convert_onnx", "onnx_session", "run_onnx"]

#: ONNX opset written (onnxruntime >= 1.13 runs it).
OPSET = 17

TESTED = "tf2onnx 1.17 with TensorFlow 2.16-2.21, onnx 1.23, onnxruntime 1.32"


def _tf2onnx():
    try:
        import tf2onnx
    except ImportError as error:
        raise TfxaiError(
            f"ONNX export needs tf2onnx and onnxruntime ({error}): pip install 'tfxai[export]' ({TESTED} work)"
        ) from error
    return tf2onnx


def convert_onnx(function, input_signature, path, opset=OPSET):
    """Write ``function`` (a ``tf.function``, traced for ``input_signature``) to the ONNX file ``path``."""
    tf2onnx = _tf2onnx()
    try:
        tf2onnx.convert.from_function(function, input_signature=input_signature, opset=opset, output_path=str(path))
    except Exception as error:  # noqa: BLE001 - any converter failure becomes one line naming versions that work
        import tensorflow as tf

        raise TfxaiError(
            f"tf2onnx {tf2onnx.__version__} could not convert this model under TensorFlow {tf.__version__} "
            f"({type(error).__name__}: {str(error).splitlines()[0][:200] if str(error) else ''}); versions known to work: {TESTED}"
        ) from error
    return path


def onnx_session(path):
    """An ONNX Runtime CPU session on ``path``."""
    try:
        import onnxruntime
    except ImportError as error:
        raise TfxaiError(f"checking an ONNX export needs onnxruntime ({error}): pip install 'tfxai[export]'") from error
    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def run_onnx(session, images, batch_size=64, input_name="images"):
    """Outputs of ``session`` for ``images`` (its input ``input_name``), in batches (a dict of numpy arrays)."""
    names = [output.name for output in session.get_outputs()]
    parts = [session.run(names, {input_name: images[start:start + batch_size]}) for start in range(0, len(images), batch_size)]
    return {name: np.concatenate([part[i] for part in parts]) for i, name in enumerate(names)}

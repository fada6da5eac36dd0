"""Shared checks for tfxai's tests (and for users who extend tfxai).

Every model, layer and loss in tfxai goes through the same round trips:
``get_config`` -> ``from_config`` and ``.keras`` save -> load with equal outputs,
and exported SavedModels reloaded in a fresh Python process *without* tfxai.
"""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np


def random_images(batch=4, size=16, channels=3, seed=0, dtype="float32"):
    """Random images in [0, 1] of shape (batch, size, size, channels)."""
    return np.random.default_rng(seed).random((batch, size, size, channels)).astype(dtype)


def tiny_cnn(input_shape=(8, 8, 3), classes=2, filters=2, head="softmax", seed=None):
    """The smallest image classifier with a conv layer to explain: ``Conv2D(filters, 3, same, relu, name="features")``
    -> global average pooling -> ``Dense(classes, head)`` (``head="sigmoid"`` for one output), a functional model.

    ``seed`` seeds its initial weights (default: Keras' global generators)."""
    if seed is not None:
        keras.utils.set_random_seed(seed)
    inputs = keras.Input(input_shape)
    features = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name="features")(inputs)
    outputs = keras.layers.Dense(classes, activation=head, name="predictions")(keras.layers.GlobalAveragePooling2D(name="pool")(features))
    return keras.Model(inputs, outputs, name="tiny_cnn")


def two_conv_classifier(size=16, seed=None):
    """A 4-class classifier whose explained map is smaller than the input: ``conv1`` (6) -> max pool -> ``conv2`` (8)
    -> flatten -> Dense(10, relu) -> ``Dense(4, softmax, name="predictions")``; ``seed`` seeds its initial weights."""
    if seed is not None:
        keras.utils.set_random_seed(seed)
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(10, activation="relu")(x)
    return keras.Model(inputs, keras.layers.Dense(4, activation="softmax", name="predictions")(x))


def assert_config_round_trip(obj, inputs=None, atol=1e-6):
    """``type(obj).from_config(obj.get_config())`` builds an equivalent object.

    When ``inputs`` is given, the rebuilt object (with the original's weights
    copied in) returns the same outputs.
    """
    config = obj.get_config()
    json.dumps(config, default=str)
    clone = obj.__class__.from_config(config)
    if inputs is not None:
        expected = obj(inputs)
        clone(inputs)
        clone.set_weights(obj.get_weights())
        _assert_nested_close(expected, clone(inputs), atol)
    return clone


def assert_keras_round_trip(model, inputs, directory, atol=1e-5):
    """Save ``model`` as ``.keras``, load it back and check equal outputs."""
    path = os.path.join(directory, "round_trip.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    _assert_nested_close(model(inputs, training=False), loaded(inputs, training=False), atol)
    return loaded


TIMEOUT_VARIABLE = "TFXAI_TEST_TIMEOUT"
DEFAULT_TIMEOUT = 1200
"""Seconds a fresh test process may take: a TensorFlow import plus a tiny fit, on a loaded 2-core machine."""


def process_timeout():
    """The fresh-process timeout in seconds: ``$TFXAI_TEST_TIMEOUT`` or :data:`DEFAULT_TIMEOUT`."""
    value = os.environ.get(TIMEOUT_VARIABLE, "")
    try:
        return float(value) if value else DEFAULT_TIMEOUT
    except ValueError:
        raise ValueError(f"{TIMEOUT_VARIABLE}={value!r} is not a number of seconds") from None


def run_process(args, *, cwd=None, env=None, returncode=0, timeout=None, tail=3000):
    """Run ``args`` in a fresh process and return its ``CompletedProcess`` (text output).

    Fails with an ``AssertionError`` that shows the command, the exit code and the
    last ``tail`` characters of stdout and stderr when the process times out (after
    :func:`process_timeout` seconds unless ``timeout`` is given) or, unless
    ``returncode`` is None, exits with another code.
    """
    timeout = process_timeout() if timeout is None else timeout
    try:
        done = subprocess.run(args, capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout)
    except subprocess.TimeoutExpired as expired:
        raise AssertionError(
            f"timed out after {timeout:g} s (set {TIMEOUT_VARIABLE} for a slower machine): {_command(args)}\n"
            + _tails(expired.stdout, expired.stderr, tail)
        ) from None
    if returncode is not None and done.returncode != returncode:
        raise AssertionError(
            f"exit code {done.returncode}, expected {returncode}: {_command(args)}\n" + _tails(done.stdout, done.stderr, tail)
        )
    return done


def run_python(code, *args, **options):
    """Run ``code`` (dedented) in a fresh Python interpreter with ``args``; see :func:`run_process`."""
    return run_process([sys.executable, "-c", textwrap.dedent(code), *map(str, args)], **options)


def _command(args):
    shown = " ".join(str(a) if "\n" not in str(a) else "<code>" for a in args)
    return shown if len(shown) < 300 else shown[:300] + " ..."


def _tails(stdout, stderr, tail):
    def text(output):
        output = output.decode(errors="replace") if isinstance(output, bytes) else (output or "")
        return output[-tail:]

    return f"--- stdout (tail) ---\n{text(stdout)}\n--- stderr (tail) ---\n{text(stderr)}"


def run_without_tfxai(code, timeout=None):
    """Run ``code`` in a fresh Python process where importing tfxai fails.

    Returns the process's stdout. Used to prove that exported SavedModels serve
    with plain TensorFlow.
    """
    guard = textwrap.dedent(
        """
        import sys
        class _NoTfxai:
            def find_spec(self, name, path=None, target=None):
                if name == "tfxai" or name.startswith("tfxai."):
                    raise ImportError("tfxai must not be imported here")
                return None
        sys.meta_path.insert(0, _NoTfxai())
        """
    )
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return run_python(guard + textwrap.dedent(code), env=env, timeout=timeout).stdout


def _assert_nested_close(a, b, atol):
    flat_a = keras.tree.flatten(a)
    flat_b = keras.tree.flatten(b)
    assert len(flat_a) == len(flat_b), (len(flat_a), len(flat_b))
    for x, y in zip(flat_a, flat_b):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), atol=atol, rtol=1e-5)


def tensorboard_summaries(folder):
    """``{tag: {step: value}}`` of the event files in ``folder``: decoded RGB images (the first of each summary) or floats."""
    import cv2
    import tensorflow as tf

    found = {}
    for name in sorted(os.listdir(folder)):
        for event in tf.compat.v1.train.summary_iterator(os.path.join(folder, name)):
            for value in event.summary.value:
                tensor = tf.make_ndarray(value.tensor)
                if value.metadata.plugin_data.plugin_name == "images":
                    decoded = cv2.imdecode(np.frombuffer(tensor[2], np.uint8), cv2.IMREAD_COLOR)
                    tensor = cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)
                else:
                    tensor = float(tensor)
                found.setdefault(value.tag, {})[int(event.step)] = tensor
    return found


def write_moving_square_video(path, frames=12, size=(20, 24), direction=1, seed=0, square=6):
    """A small MJPG .avi: noise with a bright square moving left-to-right (``direction`` 1) or right-to-left (-1)."""
    import cv2

    rng = np.random.default_rng(seed)
    height, width = size
    writer = cv2.VideoWriter(os.fspath(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (width, height))
    for t in range(frames):
        frame = rng.integers(0, 40, (height, width, 3), dtype=np.uint8)
        x = int(round((width - square) * t / max(frames - 1, 1)))
        x = x if direction > 0 else width - square - x
        frame[height // 2 - square // 2 : height // 2 + square // 2, x : x + square] = 230
        writer.write(frame)
    writer.release()
    return path


def write_sliding_box_video(path, frames=12):
    """A lossless (FFV1) 96x64 .avi: a grey frame with a bright 16x16 box at ``(10 + 3 t, 20)`` in frame ``t``."""
    import cv2

    writer = cv2.VideoWriter(os.fspath(path), cv2.VideoWriter_fourcc(*"FFV1"), 10, (96, 64))
    for t in range(frames):
        frame = np.full((64, 96, 3), 50, np.uint8)
        frame[20:36, 10 + 3 * t : 26 + 3 * t] = 220
        writer.write(frame)
    writer.release()
    return os.fspath(path)


def tiny_abn():
    """A 16x16x1, 3-class ABN with a few filters."""
    from tfxai.attention import ABN

    return ABN("small_cnn", 3, (16, 16, 1), backbone_filters=(4, 8, 8), attention_filters=4, attention_convs=1)


def tiny_gain():
    """A 16x16x1 one-output GAIN around a one-convolution classifier (its layer ``features``)."""
    from tfxai.attention import GAIN

    inputs = keras.Input((16, 16, 1))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="features")(inputs)
    outputs = keras.layers.Dense(1, activation="sigmoid")(keras.layers.GlobalAveragePooling2D()(x))
    return GAIN(keras.Model(inputs, outputs), layer="features")


class Interrupted(Exception):
    """The crash :class:`InterruptAt` raises."""


class InterruptAt(keras.callbacks.Callback):
    """Raises :class:`Interrupted` when epoch ``epoch`` (0-based) begins, after the backup of the epoch before: a crash in-process."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise Interrupted


def one_line_error(result):
    """The single ``error: ...`` line of a click ``CliRunner`` result that must have exited with status 2."""
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.strip().splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.output
    return lines[0]


# Runs in the fresh process: loads the file with its runtime only, saves every output, and feeds an input of another
# size (every axis but the batch and the last halved) and of another dtype, reporting the runtime's error (or None).
_EXPORT_RUNNER = """
import json, sys, numpy as np
kind, path, x_path, out_path, name = sys.argv[1:6]
x = np.load(x_path)
if kind == "tflite":
    from ai_edge_litert.interpreter import Interpreter
    runner = Interpreter(model_path=path).get_signature_runner("serving_default")
    run = lambda inputs: runner(**{name: inputs})
else:
    import onnxruntime
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    run = lambda inputs: dict(zip(names, session.run(names, {name: inputs})))
outputs = run(x)
text = lambda v: np.array([s.decode("utf-8") if isinstance(s, bytes) else str(s) for s in v])
np.savez(out_path, **{k: (text(v) if v.dtype.kind in "OSU" else v) for k, v in outputs.items()})
refused = {}
for what, bad in {"size": np.zeros((1, *(n // 2 for n in x.shape[1:-1]), x.shape[-1]), x.dtype),
                  "dtype": np.zeros((1,) + x.shape[1:], np.float64)}.items():
    try:
        run(bad)
        refused[what] = None
    except Exception as error:
        refused[what] = type(error).__name__ + ": " + str(error)[:200]
print(json.dumps({"keys": sorted(outputs), "refused": refused,
                  "dtypes": {k: str(v.dtype) for k, v in outputs.items()}}))
"""


def serve_without_tfxai(tmp_path, kind, path, x, input_name="images"):
    """Run the LiteRT (``kind="tflite"``) or ONNX file ``path`` on ``x`` in a fresh process without tfxai.

    Returns ``(report, outputs)``: ``report`` has the output ``keys``, their ``dtypes`` and ``refused``
    (``{"size", "dtype"}``: the runtime's error for a wrong-size and a float64 input, None if it answered);
    ``outputs`` the served arrays (strings decoded).
    """
    np.save(tmp_path / "x.npy", x)
    (tmp_path / "runner.py").write_text(_EXPORT_RUNNER, encoding="utf-8")
    args = [kind, str(path), str(tmp_path / "x.npy"), str(tmp_path / "out.npz"), input_name]
    code = f"""
        import runpy, sys
        sys.argv = ["runner", *{args!r}]
        runpy.run_path({str(tmp_path / 'runner.py')!r}, run_name="__main__")
        """
    report = json.loads(run_without_tfxai(code).strip().splitlines()[-1])
    return report, dict(np.load(tmp_path / "out.npz"))

"""oneDNN stays on, never over the user's setting; strided pointwise convolutions are computed by subsampling (no crash)."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfxai import _runtime, _safe_conv


def _fresh(code, **env):
    environment = {k: v for k, v in os.environ.items() if k != _runtime.ONEDNN_VARIABLE} | env
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment, timeout=600,
                          cwd=os.path.dirname(sys.executable))
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-2000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


STATE = ("import json; {before}; import tfxai, keras; from tfxai import _runtime; "
         "print(json.dumps([tfxai.ONEDNN_SETTING, _runtime.onednn_state()]))")


def test_tfxai_leaves_onednn_on_and_says_why():
    setting, state = _fresh(STATE.format(before="pass"))
    assert setting == "1" and state["TF_ENABLE_ONEDNN_OPTS"] == "1"
    assert "subsample" in state["reason"] and state["strided_pointwise_subsampled"] is True


def test_the_users_setting_and_an_imported_tensorflow_are_never_overridden():
    setting, state = _fresh(STATE.format(before="pass"), TF_ENABLE_ONEDNN_OPTS="0")
    assert setting == "0" and state["reason"] == "set by the user" and state["TF_ENABLE_ONEDNN_OPTS"] == "0"
    setting, state = _fresh(STATE.format(before="import tensorflow"))
    assert setting is None and state["TF_ENABLE_ONEDNN_OPTS"] is None and "imported before tfxai" in state["reason"]
    assert state["strided_pointwise_subsampled"] is True  # still safe: installed once Keras is imported


def test_the_apps_load_with_onednn_on():
    code = ("import json, os; from tfxai.apps.cli import COMMANDS, _load; _load(COMMANDS[{path!r}]); "
            "print(json.dumps([os.environ.get('TF_ENABLE_ONEDNN_OPTS'), None]))")
    for path in (("train", "classifier"), ("train", "video"), ("explain",)):
        assert _fresh(code.format(path=path))[0] == "1", path


def test_the_crash_reproducer_trains_with_onednn_on():
    """DESIGN.md's reproducer: 60x60x8 -> Conv2D(16, 1, strides=2) -> GAP -> Dense, fit. With oneDNN on and the plain
    strided convolution it segfaulted in 4 of 4 runs on this project's Intel Xeon (and on its AMD EPYC)."""
    code = ("import json, tfxai, keras, numpy as np; keras.utils.set_random_seed(0); "
            "m = keras.Sequential([keras.Input((60, 60, 8)), keras.layers.Conv2D(16, 1, strides=2, use_bias=False), "
            "keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3)]); "
            "m.compile('adam', keras.losses.SparseCategoricalCrossentropy(from_logits=True)); "
            "x = np.random.default_rng(0).random((32, 60, 60, 8)).astype('float32'); "
            "h = m.fit(x, np.arange(32) % 3, epochs=3, batch_size=8, verbose=0); "
            "print(json.dumps([tfxai.ONEDNN_SETTING, h.history['loss']]))")
    setting, losses = _fresh(code)
    assert setting == "1" and np.isfinite(losses).all() and losses[-1] < losses[0]


@pytest.mark.parametrize("size, strides, padding", [((60, 60), 2, "same"), ((61, 33), (2, 3), "valid"), ((7, 9), (3, 1), "same")])
def test_a_subsampled_pointwise_conv2d_equals_the_strided_one_with_its_gradients(size, strides, padding):
    """Reference by the convolution's definition, in numpy (TensorFlow's own strided 1x1 backward is the crash itself)."""
    assert _safe_conv.installed()
    sy, sx = (strides, strides) if isinstance(strides, int) else strides
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, *size, 5)).astype("float32")
    layer = keras.layers.Conv2D(4, 1, strides=strides, padding=padding, use_bias=False)
    out_shape = layer.compute_output_shape(x.shape)  # Keras' formula for the strided convolution's output
    weights = rng.standard_normal(out_shape).astype("float32")
    inputs = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        ours = layer(inputs)
        loss = tf.reduce_sum(ours * weights)
    grad_x, grad_kernel = tape.gradient(loss, [inputs, layer.kernel])
    kernel = layer.kernel.numpy()[0, 0]
    rows, cols = range(0, size[0], sy), range(0, size[1], sx)
    assert ours.shape == out_shape == (2, len(rows), len(cols), 4)
    expected = np.empty(out_shape, np.float32)
    expected_dx, expected_dk = np.zeros_like(x), np.zeros_like(kernel)
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            expected[:, i, j] = x[:, r, c] @ kernel
            expected_dx[:, r, c] = weights[:, i, j] @ kernel.T
            expected_dk += x[:, r, c].T @ weights[:, i, j]
    np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(grad_x.numpy(), expected_dx, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.asarray(grad_kernel)[0, 0], expected_dk, rtol=1e-4, atol=1e-3)


def test_conv1d_is_subsampled_and_other_convolutions_pass_through_unchanged():
    rng = np.random.default_rng(1)
    x = tf.constant(rng.standard_normal((2, 17, 3)), tf.float32)
    layer = keras.layers.Conv1D(4, 1, strides=3, padding="same")
    out = layer(x)
    reference = x.numpy()[:, ::3] @ layer.kernel.numpy()[0] + layer.bias.numpy()  # forward only: not the crash pattern
    np.testing.assert_allclose(out.numpy(), reference, rtol=1e-5, atol=1e-5)
    calls = []
    wrapped = _safe_conv.subsampled_pointwise(lambda *args: calls.append(args) or tf.nn.convolution(*args[:2], args[2], args[3].upper()))
    images = tf.zeros((1, 8, 8, 2))
    wrapped(images, tf.zeros((3, 3, 2, 1)), 2, "same", None, 1)  # 3x3 strided: unchanged
    wrapped(tf.zeros((1, 4, 8, 8, 2)), tf.zeros((1, 1, 1, 2, 1)), 2, "same", None, 1)  # 3-D: unchanged
    wrapped(images, tf.zeros((1, 1, 2, 1)), 2, "same", None, 1)  # 2-D pointwise strided: subsampled
    assert [args[0].shape[1] for args in calls] == [8, 4, 4] and [args[2] for args in calls] == [2, 2, 1]

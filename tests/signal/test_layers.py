"""SelfAttention1D: shapes, residual identity, time equivariance, a loop reference, padding, round trips."""

import keras
import numpy as np
import pytest

from tfxai.errors import TfxaiError
from tfxai.signal import SelfAttention1D
from tfxai.testing import assert_config_round_trip, assert_keras_round_trip


def _signal(batch=2, length=24, channels=4, seed=0):
    return np.random.default_rng(seed).normal(size=(batch, length, channels)).astype("float32")


def _randomise(layer, seed=1):
    """Random weights everywhere (positive variances for batch normalisation)."""
    rng = np.random.default_rng(seed)
    for weight in layer.weights:
        if "variance" in weight.path:
            weight.assign(rng.uniform(0.5, 1.5, size=weight.shape).astype("float32"))
        else:
            weight.assign(rng.normal(scale=0.5, size=weight.shape).astype("float32"))


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"footprint": 3, "spacing": 3, "value_channels": 6, "relation_channels": 2},
        {"footprint": 7, "spacing": 2, "padding": "reflect", "normalization": "softmax"},
        {"relation_kernel_size": 3, "padding": "symmetric", "position_encoding": False, "pre_activation": False},
    ],
)
def test_output_shape_equals_input_shape(options):
    x = _signal()
    layer = SelfAttention1D(**options)
    outputs, weights = layer(x, return_attention=True)
    assert outputs.shape == x.shape
    footprint = options.get("footprint", 5)
    assert weights.shape == (2, 24, footprint, options.get("value_channels", 4))
    assert layer.compute_output_shape(x.shape) == x.shape


def test_zero_gamma_is_the_identity():
    x = _signal()
    layer = SelfAttention1D(footprint=5, spacing=2)
    layer(x)
    _randomise(layer)
    layer.gamma_output.set_weights([np.zeros_like(w) for w in layer.gamma_output.get_weights()])
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)
    # ... and the same block with non-zero gamma is not.
    _randomise(layer)
    assert np.abs(np.asarray(layer(x, training=False)) - x).max() > 1e-3


@pytest.mark.parametrize("padding", ["zeros", "reflect"])
def test_shifting_the_input_shifts_the_output(padding):
    shift, length = 3, 40
    x = _signal(batch=1, length=length)
    shifted = np.concatenate([_signal(batch=1, length=shift, seed=5), x[:, :-shift]], axis=1)
    layer = SelfAttention1D(footprint=5, spacing=3, relation_kernel_size=3, padding=padding)
    layer(x)
    _randomise(layer)
    out = np.asarray(layer(x, training=False))
    out_shifted = np.asarray(layer(shifted, training=False))
    margin = layer.reach + 1  # footprint reach plus the phi/psi kernel's half-width
    inner = slice(margin, length - shift - margin)
    np.testing.assert_allclose(out_shifted[:, shift:][:, inner], out[:, inner], atol=1e-5)
    assert np.abs(out_shifted[:, :shift] - out[:, :shift]).max() > 1e-3  # sanity: not trivially equal


def _reference(layer, x):
    """y_i = x_i + W_out sum_j gamma(phi(x_i) - psi(x_j) ; p_j) * beta(x_j), looped (zero padding)."""
    phi_k, phi_b = layer.phi.get_weights()
    psi_k, psi_b = layer.psi.get_weights()
    beta_k, beta_b = layer.beta.get_weights()
    h_k, h_b = layer.gamma_hidden.get_weights()
    o_k, o_b = layer.gamma_output.get_weights()
    position = layer.position.numpy()
    (w_out,) = layer.output_projection.get_weights()
    batch, length, _ = x.shape
    out = np.array(x, dtype="float64")
    for b in range(batch):
        for i in range(length):
            logits, values = [], []
            for m, offset in enumerate(layer.offsets):
                j = i + offset
                if not 0 <= j < length:
                    continue
                delta = (x[b, i] @ phi_k[0] + phi_b) - (x[b, j] @ psi_k[0] + psi_b)
                logits.append(np.maximum(delta @ h_k + h_b + position[m], 0) @ o_k + o_b)
                values.append(x[b, j] @ beta_k[0] + beta_b)
            logits = np.array(logits)
            if layer.normalization == "softmax":
                logits = np.exp(logits - logits.max(0)) / np.exp(logits - logits.max(0)).sum(0)
            out[b, i] += (logits * np.array(values)).sum(0) @ w_out[0]
    return out


@pytest.mark.parametrize("normalization", ["none", "softmax"])
def test_matches_a_loop_reference(normalization):
    x = _signal(length=13)
    layer = SelfAttention1D(footprint=5, spacing=2, pre_activation=False, normalization=normalization)
    layer(x)
    _randomise(layer)
    np.testing.assert_allclose(np.asarray(layer(x)), _reference(layer, x), rtol=1e-4, atol=1e-4)


def test_zero_padding_masks_neighbours_outside_the_sequence():
    layer = SelfAttention1D(footprint=5, spacing=2, normalization="softmax")
    x = _signal(length=10)
    _, weights = layer(x, return_attention=True)
    weights = np.asarray(weights)
    valid = np.asarray(layer.valid_neighbours(10))
    assert not valid[0, 0] and not valid[1, 1] and not valid[3, 0] and valid[4].all() and not valid[9, 3]
    np.testing.assert_allclose(weights.sum(axis=2), 1.0, atol=1e-5)
    assert np.abs(weights[:, ~valid]).max() < 1e-6


def test_bad_settings_are_one_line_errors():
    with pytest.raises(TfxaiError, match="odd"):
        SelfAttention1D(footprint=4)
    with pytest.raises(TfxaiError, match="padding"):
        SelfAttention1D(padding="wrap")
    with pytest.raises(TfxaiError, match="longer than"):
        SelfAttention1D(footprint=5, spacing=5, padding="reflect")(_signal(length=8))


def test_config_and_keras_round_trips(tmp_path):
    x = _signal()
    layer = SelfAttention1D(footprint=3, spacing=2, normalization="softmax", kernel_regularizer="l2")
    layer(x)
    _randomise(layer)
    clone = assert_config_round_trip(layer, x)
    assert clone.offsets == (-2, 0, 2)
    inputs = keras.Input((24, 4))
    model = keras.Model(inputs, SelfAttention1D(spacing=3)(inputs))
    assert_keras_round_trip(model, x, str(tmp_path))


def _neighbour(i, offset, length, padding):
    """Index of neighbour ``i + offset`` in the sequence after ``padding`` (None: outside, zero padding)."""
    j = i + offset
    if 0 <= j < length:
        return j
    if padding == "zeros":
        return None
    if padding == "reflect":
        return -j if j < 0 else 2 * (length - 1) - j
    return -j - 1 if j < 0 else 2 * length - 1 - j  # symmetric


def _conv_same(x, kernel, bias):
    """Keras ``Conv1D(padding="same")`` of one sequence ``(T, D)``, looped."""
    width, half = kernel.shape[0], (kernel.shape[0] - 1) // 2
    padded = np.pad(x, [(half, width - 1 - half), (0, 0)])
    return np.stack([sum(padded[t + k] @ kernel[k] for k in range(width)) for t in range(len(x))]) + bias


def _zhao(layer, x):
    """Zhao's y_i = sum_j gamma(phi(x_i) - psi(x_j); p_j) * beta(x_j) with every option, looped per (i, j) in float64.

    Returns ``(outputs, attention)``; inference mode (batch norm from its moving statistics).
    """
    weights = {w.path.split("/", 1)[1]: np.asarray(w, dtype="float64") for w in layer.weights}
    x = np.asarray(x, dtype="float64")
    hidden = x
    if layer.pre_activation:
        scale = weights["input_norm/gamma"] / np.sqrt(weights["input_norm/moving_variance"] + layer.input_norm.epsilon)
        hidden = np.maximum((x - weights["input_norm/moving_mean"]) * scale + weights["input_norm/beta"], 0)
    batch, length, _ = x.shape
    outputs, attention = x.copy(), []
    for b in range(batch):
        phi = _conv_same(hidden[b], weights["phi/kernel"], weights["phi/bias"])
        psi = _conv_same(hidden[b], weights["psi/kernel"], weights["psi/bias"])
        beta = hidden[b] @ weights["beta/kernel"][0] + weights["beta/bias"]
        alphas = []
        for i in range(length):
            logits, values, valid = [], [], []
            for m, offset in enumerate(layer.offsets):
                j = _neighbour(i, offset, length, layer.padding)
                key = np.zeros_like(psi[0]) if j is None else psi[j]  # zero padding: psi and beta are 0 there
                pre = (phi[i] - key) @ weights["gamma_hidden/kernel"] + weights["gamma_hidden/bias"]
                if layer.position_encoding:
                    pre = pre + weights["position"][m]
                logits.append(np.maximum(pre, 0) @ weights["gamma_output/kernel"] + weights["gamma_output/bias"])
                values.append(np.zeros_like(beta[0]) if j is None else beta[j])
                valid.append(j is not None)
            alpha = np.array(logits)
            if layer.normalization == "softmax":
                alpha = np.where(np.array(valid)[:, None], alpha, -np.inf)
                alpha = np.exp(alpha - alpha.max(0)) / np.exp(alpha - alpha.max(0)).sum(0)
            alphas.append(alpha)
            outputs[b, i] += (alpha * np.array(values)).sum(0) @ weights["output_projection/kernel"][0]
        attention.append(alphas)
    return outputs, np.array(attention)


@pytest.mark.parametrize("padding", ["zeros", "reflect", "symmetric"])
@pytest.mark.parametrize("normalization", ["none", "softmax"])
@pytest.mark.parametrize("position_encoding", [True, False])
def test_outputs_and_attention_equal_zhaos_formula_looped_over_steps_and_neighbours(padding, normalization, position_encoding):
    x = _signal(length=13, channels=8)
    kernel_size = 3 if position_encoding else 1  # both the Conv1D and the single-matmul phi/psi
    layer = SelfAttention1D(footprint=5, spacing=3 if padding == "zeros" else 2, padding=padding, normalization=normalization,
                            position_encoding=position_encoding, relation_kernel_size=kernel_size, hidden_channels=3,
                            pre_activation=padding != "symmetric")
    layer(x)
    _randomise(layer)
    expected, expected_attention = _zhao(layer, x)
    np.testing.assert_allclose(np.asarray(layer(x, training=False)), expected, rtol=1e-5, atol=1e-5)
    outputs, attention = layer(x, training=False, return_attention=True)
    np.testing.assert_allclose(np.asarray(outputs), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(attention), expected_attention, rtol=1e-5, atol=1e-5)


def _gathered(layer, x, training):
    """The block written with one tf.gather per neighbour stack and TensorFlow's own gradients (batch-major)."""
    import tensorflow as tf

    length = x.shape[1]
    rows = [[_neighbour(i, o, length, layer.padding) for o in layer.offsets] for i in range(length)]
    valid = tf.constant([[j is not None for j in row] for row in rows])[None, :, :, None]
    index = tf.constant([[0 if j is None else j for j in row] for row in rows])
    hidden = tf.nn.relu(layer.input_norm(x, training=training))
    query = layer.gamma_hidden(layer.phi(hidden))
    keys = tf.where(valid, tf.gather(layer.psi(hidden), index, axis=1) @ layer.gamma_hidden.kernel, 0.0)
    values = tf.where(valid, tf.gather(layer.beta(hidden), index, axis=1), 0.0)
    alpha = layer.gamma_output(tf.nn.relu(query[:, :, None] - keys + layer.position))
    if layer.normalization == "softmax":
        alpha = tf.nn.softmax(tf.where(valid, alpha, -1e9) if layer.padding == "zeros" else alpha, axis=2)
    return x + layer.output_projection(tf.reduce_sum(alpha * values, axis=2))


@pytest.mark.parametrize(("padding", "normalization"), [("zeros", "none"), ("zeros", "softmax"), ("reflect", "none"), ("symmetric", "softmax")])
def test_training_gradients_equal_those_of_the_plain_gathered_formula(padding, normalization):
    import tensorflow as tf

    x = tf.constant(_signal(length=13, channels=8))
    layer = SelfAttention1D(footprint=5, spacing=2, padding=padding, normalization=normalization, relation_kernel_size=1)
    layer(x)
    _randomise(layer)
    weight = tf.constant(np.random.default_rng(3).normal(size=x.shape).astype("float32"))
    gradients = []
    for function in (lambda v: layer(v, training=True), lambda v: _gathered(layer, v, training=True)):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(function(x) * weight)
        gradients.append(tape.gradient(loss, [x] + layer.trainable_variables))
    scale = max(float(tf.reduce_max(tf.abs(g))) for g in gradients[1])  # softmax: gamma_output's bias gets ~0 (shift invariance)
    for got, expected, name in zip(*gradients, ["inputs"] + [w.path for w in layer.trainable_variables], strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6 * scale, err_msg=name)


# The variables of SelfAttention1D(footprint=5) on 4 channels, as laid out in a .weights.h5 file of a
# Functional model around it by the code before the time-major rewrite: files saved then must still load.
SAVED_LAYOUT = {
    "beta/vars/0": (1, 4, 4), "beta/vars/1": (4,), "gamma_hidden/vars/0": (1, 1), "gamma_hidden/vars/1": (1,),
    "gamma_output/vars/0": (1, 4), "gamma_output/vars/1": (4,), "input_norm/vars/0": (4,), "input_norm/vars/1": (4,),
    "input_norm/vars/2": (4,), "input_norm/vars/3": (4,), "output_projection/vars/0": (1, 4, 4),
    "phi/vars/0": (1, 4, 1), "phi/vars/1": (1,), "psi/vars/0": (1, 4, 1), "psi/vars/1": (1,), "vars/0": (5, 1),
}


def test_a_weights_file_in_the_saved_layout_loads_into_the_right_variables(tmp_path):
    import h5py

    inputs = keras.Input((24, 4))
    layer = SelfAttention1D(footprint=5, spacing=2)
    model = keras.Model(inputs, layer(inputs))
    model.save_weights(tmp_path / "new.weights.h5")
    with h5py.File(tmp_path / "new.weights.h5") as handle:
        stored = {}
        handle["layers/self_attention1d"].visititems(lambda k, v: stored.update({k: v.shape}) if isinstance(v, h5py.Dataset) else None)
    assert stored == SAVED_LAYOUT
    # A file written in that layout (not by save_weights) loads into the variables the formula expects.
    rng = np.random.default_rng(7)
    arrays = {key: rng.uniform(0.5, 1.5, size=shape) if key == "input_norm/vars/3" else rng.normal(scale=0.5, size=shape)
              for key, shape in SAVED_LAYOUT.items()}
    with h5py.File(tmp_path / "new.weights.h5", "r+") as handle:
        for key, array in arrays.items():
            handle[f"layers/self_attention1d/{key}"][...] = array.astype("float32")
    fresh = keras.Model(inputs, SelfAttention1D(footprint=5, spacing=2)(inputs))
    fresh.load_weights(tmp_path / "new.weights.h5")
    block = fresh.layers[-1]
    assert [tuple(w.shape) for w in block.weights] == [(5, 1), (4,), (4,), (4,), (4,), (1, 4, 1), (1,), (1, 4, 1), (1,), (1, 4, 4),
                                                          (4,), (1, 1), (1,), (1, 4), (4,), (1, 4, 4)]
    np.testing.assert_array_equal(np.asarray(block.position), arrays["vars/0"].astype("float32"))
    np.testing.assert_array_equal(np.asarray(block.input_norm.moving_variance), arrays["input_norm/vars/3"].astype("float32"))
    x = _signal()
    np.testing.assert_allclose(np.asarray(fresh(x, training=False)), _zhao(block, x)[0], rtol=1e-5, atol=1e-5)

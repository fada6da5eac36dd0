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

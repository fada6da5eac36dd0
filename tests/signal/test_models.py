"""SAN1D / CNN1D: layout, round trips, training that lowers the loss, attention views, export without tfxai."""

import json
import os

import numpy as np
import pytest

from tfxai.errors import TfxaiError
from tfxai.signal import (
    CNN1D,
    SAN1D,
    Recordings,
    SignalTrainingConfig,
    WindowPreprocessor,
    build_model,
    compile_thesis,
    export_signal_model,
    fourier_magnitude,
    plot_attention,
    recording_attention,
    train_signal_model,
)
from tfxai.testing import assert_config_round_trip, assert_keras_round_trip, run_without_tfxai


def _windows(batch=6, length=16, channels=3, seed=0):
    return np.random.default_rng(seed).normal(size=(batch, length, channels)).astype("float32")


def _toy_recordings(count=12, seed=0):
    """Two classes: a slow or a fast sine on channel 0, noise on channel 1."""
    rng = np.random.default_rng(seed)
    signals, labels = [], []
    for i in range(count):
        label = i % 2
        t = np.arange(int(rng.integers(40, 60)))
        wave = np.sin(2 * np.pi * t / (16 if label == 0 else 4) + rng.uniform(0, 6))
        signals.append(np.stack([wave, 0.3 * rng.normal(size=len(t))], axis=1).astype("float32"))
        labels.append(label)
    return Recordings(signals, np.array(labels), ["slow", "fast"], [f"r{i}" for i in range(count)])


def test_san1d_uses_the_thesis_spacings_and_keeps_the_width():
    model = SAN1D(num_classes=3, window_length=16, channels=3, filters=8)
    assert [b.spacing for b in model.attention_blocks] == [3, 5, 5]
    assert model(_windows()).shape == (6, 3)
    np.testing.assert_allclose(np.asarray(model(_windows())).sum(axis=1), 1.0, rtol=1e-5)
    view = model.call_with_attention(_windows())
    assert view["attention"].shape == (6, 3, 16, 5)
    np.testing.assert_allclose(view["probabilities"], model(_windows(), training=False), rtol=1e-5, atol=1e-6)
    anywhere = SAN1D(num_classes=2, window_length=None, channels=3, filters=4)
    assert anywhere(_windows(length=23)).shape == (6, 2)


def test_cnn1d_has_two_convolutions_and_an_output_layer():
    model = CNN1D(num_classes=4, window_length=16, channels=3, filters=8)
    kinds = [type(layer).__name__ for layer in model.layers if layer.weights]
    assert kinds == ["Conv1D", "Conv1D", "Dense"]
    assert model(_windows()).shape == (6, 4)
    with pytest.raises(TfxaiError, match="unknown model"):
        build_model("lstm", 2, 16, 3)


def test_window_classifiers_keep_shared_then_own_arguments_in_their_config():
    san = SAN1D(3, 16, 2, 4, spacings=np.array([3, 5]), footprint=3, dropout=0.1, name="san")
    config = san.get_config()
    assert list(config)[:6] == ["name", "trainable", "num_classes", "window_length", "channels", "filters"]
    assert config["spacings"] == [3, 5] and config["footprint"] == 3 and config["dropout"] == 0.1
    json.dumps(config)  # numpy spacings are kept as plain ints
    assert san.spacings == (3, 5) and [b.spacing for b in san.attention_blocks] == [3, 5]
    cnn = CNN1D(2, 16, 2, filters=4)
    assert (cnn.kernel_size, cnn.pool_size, cnn.dropout) == (5, 2, 0.0)
    with pytest.raises(TfxaiError, match="window_length must be a positive integer"):
        CNN1D(2, None, 2, filters=4)
    with pytest.raises(TfxaiError, match="unknown argument.*kernel_size: use .*spacings"):
        SAN1D(2, 16, 2, filters=4, kernel_size=3)


@pytest.mark.parametrize("cls, options", [(SAN1D, {"normalization": "softmax"}), (CNN1D, {"dropout": 0.2})])
def test_config_and_keras_round_trips(tmp_path, cls, options):
    model = cls(num_classes=3, window_length=16, channels=3, filters=4, **options)
    x = _windows()
    assert_config_round_trip(model, x)
    loaded = assert_keras_round_trip(model, x, str(tmp_path))
    assert type(loaded) is cls and loaded.get_config() == model.get_config()


def test_preprocessor_fourier_magnitude_and_standardisation():
    x = _windows(batch=5, length=16)
    expected = np.abs(np.fft.rfft(x, axis=1)) / 4.0
    np.testing.assert_allclose(np.asarray(fourier_magnitude(x)), expected, rtol=1e-4, atol=1e-5)
    odd = _windows(batch=2, length=15)  # the DFT-matrix form (exports) against numpy, an odd length too
    np.testing.assert_allclose(np.asarray(fourier_magnitude(x, by_matrix=True)), expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(fourier_magnitude(odd, by_matrix=True)), np.abs(np.fft.rfft(odd, axis=1)) / np.sqrt(15),
                               rtol=1e-4, atol=1e-5)
    layer = WindowPreprocessor(fourier=True).adapt(x)
    out = np.asarray(layer(x))
    assert out.shape == (5, 9, 3) and layer.output_length(16) == 9
    np.testing.assert_allclose(out.mean(axis=(0, 1)), 0.0, atol=1e-4)
    np.testing.assert_allclose(out.std(axis=(0, 1)), 1.0, atol=1e-3)
    clone = WindowPreprocessor.from_config(json.loads(json.dumps(layer.get_config())))
    np.testing.assert_allclose(np.asarray(clone(x)), out, rtol=1e-6)


@pytest.mark.slow  # fast checks of the same: test_training.py::test_thesis_preset_compiles_momentum_sgd_with_cross_entropy, test_small_data.py
def test_san1d_fit_with_the_thesis_optimiser_lowers_the_loss():
    rng = np.random.default_rng(0)
    labels = np.arange(64) % 2
    t = np.arange(16)[None, :, None]
    windows = np.sin(2 * np.pi * t / np.where(labels, 4, 16)[:, None, None] + rng.uniform(0, 6, (64, 1, 2)))
    windows = (windows + 0.1 * rng.normal(size=windows.shape)).astype("float32")
    model = SAN1D(num_classes=2, window_length=16, channels=2, filters=4, spacings=(3,))
    compile_thesis(model, learning_rate=0.05)  # the thesis's 0.001 needs more epochs than a unit test has
    history = model.fit(windows, labels, batch_size=16, epochs=5, verbose=0).history
    assert history["loss"][-1] < history["loss"][0]


def test_train_signal_model_splits_by_recording_and_votes():
    recordings = _toy_recordings()
    config = SignalTrainingConfig(model="cnn1d", window=16, step=8, train_step=4, epochs=4, batch_size=16, filters=4,
                                  learning_rate=0.05)
    result = train_signal_model(recordings, config, verbose=0)
    assert set(result.train_indices).isdisjoint(result.test_indices)
    evaluation = result.evaluation
    assert evaluation["test_recordings"] == len(result.test_indices) == 4
    confusion = np.asarray(evaluation["confusion"])
    assert confusion.sum() == 4
    assert evaluation["recording_accuracy"] == pytest.approx(np.trace(confusion) / 4)  # the diagonal, not a range
    assert evaluation["recording_accuracy"] >= 0.75  # above chance (0.5); measured 1.0 (0.5 at lr 1e-3)
    assert len(result.history["loss"]) == 4


def test_attention_view_covers_the_recording(tmp_path):
    model = SAN1D(num_classes=2, window_length=16, channels=2, filters=4)
    recording = _toy_recordings(count=1).signals[0]
    trace = recording_attention(model, recording, window=16, step=8, block=1)
    assert trace.weights.shape == (len(recording), 5) and trace.offsets == (-10, -5, 0, 5, 10)
    assert np.isnan(trace.weights[0, 0]) and np.isfinite(trace.weights[20]).all()
    plot_attention(trace, str(tmp_path / "attention.png"))
    assert os.path.getsize(tmp_path / "attention.png") > 1000
    with pytest.raises(TfxaiError, match="no self-attention"):
        recording_attention(CNN1D(2, 16, 2, filters=4), recording, window=16)


def test_exported_savedmodel_serves_raw_windows_without_tfxai(tmp_path):
    model = SAN1D(num_classes=3, window_length=9, channels=3, filters=4)
    raw = _windows(batch=4, length=16)
    preprocessor = WindowPreprocessor(fourier=True).adapt(raw)
    export_signal_model(model, str(tmp_path / "exported"), preprocessor, window=16)
    np.save(tmp_path / "raw.npy", raw)
    expected = model.call_with_attention(preprocessor(raw))
    output = run_without_tfxai(
        f"""
        import numpy as np, tensorflow as tf
        loaded = tf.saved_model.load({str(tmp_path / "exported")!r})
        out = loaded.serve(tf.constant(np.load({str(tmp_path / "raw.npy")!r})))
        np.save({str(tmp_path / "probabilities.npy")!r}, out["probabilities"].numpy())
        np.save({str(tmp_path / "attention.npy")!r}, out["attention"].numpy())
        print(sorted(loaded.signatures))
        """
    )
    assert "serve" in output
    np.testing.assert_allclose(np.load(tmp_path / "probabilities.npy"), expected["probabilities"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.load(tmp_path / "attention.npy"), expected["attention"], rtol=1e-5, atol=1e-6)


def test_san1d_explains_with_its_footprint_weights():
    model = SAN1D(num_classes=3, window_length=16, channels=3, filters=8, footprint=5)
    windows = _windows()
    maps, probabilities = model.explain(windows)
    maps = np.asarray(maps)
    assert maps.shape == (6, 16, 5)
    weights = np.asarray(model.call_with_attention(windows)["attention"])[:, 0]  # block 0: (batch, T, footprint)
    low, high = weights.min(axis=(1, 2), keepdims=True), weights.max(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(maps, (weights - low) / (high - low), atol=1e-5)  # min-max per window
    np.testing.assert_allclose(probabilities, model(windows), atol=1e-5)
    raw = np.asarray(model.call_with_attention(windows)["attention"][:, 1])
    low, high = raw.min(axis=(1, 2), keepdims=True), raw.max(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(np.asarray(model.explain(windows, block=1)[0]), (raw - low) / (high - low), atol=1e-5)


def test_train_signal_model_stops_early_on_held_out_windows():
    recordings = _toy_recordings()
    # a learning rate too small to move the held-out accuracy: patience 1 stops after the second epoch
    config = SignalTrainingConfig(model="cnn1d", window=16, step=8, train_step=4, epochs=6, batch_size=16, filters=4,
                                  learning_rate=1e-12, early_stopping=1)
    result = train_signal_model(recordings, config, verbose=0)
    assert len(result.history["loss"]) == 2 and "val_accuracy" in result.history


def test_only_the_attention_model_claims_the_explainer_protocol():
    # CNN1D has no attention blocks: it must not offer an explain() that cannot work (it had a copy of SAN1D's).
    assert not hasattr(CNN1D(2, 16, 2, filters=4), "explain")
    assert callable(SAN1D(num_classes=2, window_length=16, channels=2, filters=4).explain)

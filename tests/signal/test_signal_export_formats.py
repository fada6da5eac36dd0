"""1D-SAN and 1D-CNN exports to LiteRT and ONNX serve Keras' probabilities and footprint attention, checked without tfxai."""

import json

import numpy as np
import pytest

from tfxai.errors import TfxaiError
from tfxai.signal import CNN1D, SAN1D, WindowPreprocessor, export_signal_model
from tfxai.testing import serve_without_tfxai

pytest.importorskip("tf2onnx", reason="the export extra is not installed: pip install 'tfxai[export]'")

NAMES = ["rest", "walk", "run"]


def _raw(batch=6, length=16, channels=3, seed=0):
    return np.random.default_rng(seed).normal(size=(batch, length, channels)).astype("float32")


@pytest.mark.parametrize("kind", ["tflite", "onnx"])
@pytest.mark.parametrize("fourier", [False, True], ids=["raw", "fft"])
def test_san1d_serves_its_probabilities_and_footprint_attention(tmp_path, kind, fourier):
    model = SAN1D(num_classes=3, window_length=16 // 2 + 1 if fourier else 16, channels=3, filters=4)
    raw = _raw()
    preprocessor = WindowPreprocessor(fourier=fourier).adapt(_raw(batch=20, seed=1))
    card = export_signal_model(model, tmp_path / "export", preprocessor, window=16, format=kind, class_names=NAMES)
    expected = model.call_with_attention(preprocessor(raw))
    report, served = serve_without_tfxai(tmp_path, kind, tmp_path / "export" / card["file"], raw, input_name="windows")
    assert report["keys"] == ["attention", "class_id", "class_name", "probabilities"]
    np.testing.assert_allclose(served["probabilities"], np.asarray(expected["probabilities"]), atol=1e-4)
    np.testing.assert_allclose(served["attention"], np.asarray(expected["attention"]), atol=1e-3)
    predicted = np.asarray(expected["probabilities"]).argmax(1)
    assert served["class_id"].tolist() == predicted.tolist() and [str(n) for n in served["class_name"]] == [NAMES[i] for i in predicted]
    assert report["refused"]["size"] is not None  # a window of another length fails in the runtime
    assert card["inputs"]["windows"]["shape"] == ["batch", 16, 3] and card["explanation"]["method"] == "own attention"
    assert card["outputs"]["attention"]["shape"] == ["batch", *np.shape(expected["attention"])[1:]]
    assert card["agreement_with_keras"]["top1_agreement"] == 1.0 and card["agreement_with_keras"]["max_abs_diff_attention"] < 1e-3
    assert json.loads((tmp_path / "export" / "model_card.json").read_text(encoding="utf-8")) == card
    if kind == "tflite":
        assert card["select_tf_ops"] == []


def test_cnn1d_int8_litert_keeps_top1_and_is_smaller(tmp_path):
    model = CNN1D(3, 128, 3, filters=64)  # ~30k weights: the weights, not the file's structure, make its size
    calibration = _raw(batch=64, length=128, seed=2)
    flat = export_signal_model(model, tmp_path / "float", window=128, format="tflite", calibration=calibration)
    int8 = export_signal_model(model, tmp_path / "int8", window=128, format="tflite", quantize="int8", calibration=calibration)
    assert int8["size_bytes"] < 0.4 * flat["size_bytes"] and int8["quantize"] == "int8"
    assert flat["agreement_with_keras"]["max_abs_diff_probabilities"] < 1e-4
    assert int8["agreement_with_keras"]["images"] == 32 and int8["agreement_with_keras"]["top1_agreement"] >= 0.9
    assert "attention" not in int8["outputs"] and int8["explanation"]["method"] == "none"


def test_bad_signal_export_options_are_one_line_errors_and_write_nothing(tmp_path):
    model = CNN1D(2, 16, 3, filters=4)
    with pytest.raises(TfxaiError, match="needs calibration windows"):
        export_signal_model(model, tmp_path / "a", window=16, format="tflite", quantize="int8")
    with pytest.raises(TfxaiError, match=r"the model takes \(n, 16, 3\)"):
        export_signal_model(model, tmp_path / "b", window=16, format="onnx", calibration=_raw(length=8))
    with pytest.raises(TfxaiError, match="applies to format tflite only"):
        export_signal_model(model, tmp_path / "c", window=16, format="onnx", quantize="float16")
    with pytest.raises(TfxaiError, match="format must be one of"):
        export_signal_model(model, tmp_path / "d", window=16, format="coreml")
    assert not list(tmp_path.iterdir())


def test_export_app_takes_a_signal_run_folder_with_its_preprocessing_and_data(tmp_path):
    from click.testing import CliRunner

    from tfxai.apps.cli import main

    rng = np.random.default_rng(0)
    signals = [np.stack([np.sin(2 * np.pi * np.arange(40) / (16 if i % 2 else 4) + rng.uniform(0, 6)), 0.3 * rng.normal(size=40)], axis=1)
               for i in range(12)]
    labels = ["fast" if i % 2 == 0 else "slow" for i in range(12)]
    np.savez(tmp_path / "signals.npz", X=np.concatenate(signals).astype("float32"), lengths=[40] * 12, y=labels)
    run = ["train", "signal", "--data", str(tmp_path / "signals.npz"), "--out", str(tmp_path / "run"), "--preset", "small", "--fft",
           "--window", "16", "--step", "8", "--train-step", "8", "--filters", "4", "--no-export", "--epochs", "1", "--no-xla"]
    assert CliRunner().invoke(main, run).exit_code == 0
    # int8 without --calibration: the windows of the run's own data calibrate and check the file
    result = CliRunner().invoke(main, ["export", "--model", str(tmp_path / "run"), "--out", str(tmp_path / "lite"), "--format", "tflite",
                                       "--quantize", "int8"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1].startswith(f"wrote {tmp_path / 'lite'}/model.tflite")
    card = json.loads((tmp_path / "lite" / "model_card.json").read_text(encoding="utf-8"))
    assert card["class_names"] == ["fast", "slow"] and card["inputs"]["windows"]["shape"] == ["batch", 16, 2]
    assert card["agreement_with_keras"]["images"] == 32 and "attention" in card["outputs"]  # 32 of the 48 windows (12 x 4)
    result = CliRunner().invoke(main, ["export", "--model", str(tmp_path / "run"), "--out", str(tmp_path / "x"), "--method", "gradcam"])
    assert result.exit_code == 2 and result.output.startswith("error: --method gradcam explains images") and not (tmp_path / "x").exists()
    result = CliRunner().invoke(main, ["export", "--model", str(tmp_path / "run"), "--out", str(tmp_path / "saved")])
    assert result.exit_code == 0 and result.output.splitlines()[-1].endswith("serve(windows) -> probabilities, attention")

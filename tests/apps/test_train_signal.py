"""``tfxai train signal``: a tiny end-to-end run, and one-line errors with exit status 2 for bad input."""

import json
import os

import numpy as np
import pytest
from click.testing import CliRunner

from tfxai.apps.train_signal import command
from tfxai.signal import load_trained


def _write_npz(path, count=12, lengths=(40, 60), seed=0):
    """Two classes of variable-length 2-channel recordings (slow or fast sine plus noise)."""
    rng = np.random.default_rng(seed)
    signals, labels = [], []
    for i in range(count):
        t = np.arange(int(rng.integers(*lengths)))
        wave = np.sin(2 * np.pi * t / (16 if i % 2 else 4) + rng.uniform(0, 6))
        signals.append(np.stack([wave, 0.3 * rng.normal(size=len(t))], axis=1))
        labels.append("fast" if i % 2 == 0 else "slow")
    np.savez(path, X=np.concatenate(signals).astype("float32"), lengths=[len(s) for s in signals], y=labels)
    return str(path)


TINY = ["--preset", "small", "--window", "16", "--step", "8", "--train-step", "8", "--epochs", "1", "--filters", "4", "--quiet"]


def test_trains_reports_and_writes_every_output(tmp_path):
    data = _write_npz(tmp_path / "tiny.npz")
    output = tmp_path / "run"
    result = CliRunner().invoke(command, ["--data", data, "--model", "san1d", "--fft", "--out", str(output), *TINY])
    assert result.exit_code == 0, result.output
    assert "accuracy per recording" in result.stdout
    expected = {"model.keras", "preprocessor.json", "saved_model", "confusion.csv", "confusion.png"}
    expected |= {"predictions.csv", "report.json", "attention.png", "attention.csv"}
    assert expected <= set(os.listdir(output))
    report = json.loads((output / "report.json").read_text())
    assert report["test_recordings"] == 4 and report["config"]["fft"] is True
    metrics = json.loads((output / "metrics.json").read_text())
    assert metrics["config"]["jit_compile"] is True  # XLA (fast) unless --seed asks for exact repeats
    assert metrics["config"]["preset"] == "small"  # metrics.json records the preset
    rows = (output / "confusion.csv").read_text().splitlines()
    assert rows[0] == "true \\ predicted,fast,slow,n" and len(rows) == 3
    model, preprocessor = load_trained(str(output))
    assert preprocessor.fourier and model.count_params() == report["parameters"]
    # an existing results folder is kept unless --overwrite is given
    again = CliRunner().invoke(command, ["--data", data, "--model", "cnn1d", "--out", str(output), *TINY])
    assert again.exit_code == 2 and "already exists" in again.stderr
    assert json.loads((output / "report.json").read_text()) == report


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing", "does not exist"),
        ("empty_folder", "no class sub-folders"),
        ("wrong_shapes", "X has shape"),
        ("too_short", "shorter than the 16-sample window"),
        ("unknown_model", "--model must be one of san1d, cnn1d, got 'lstm'"),
    ],
)
def test_bad_input_is_one_line_and_exit_status_2(tmp_path, case, message):
    data = str(tmp_path / "missing.npz")
    model = "san1d"
    if case == "empty_folder":
        data = str(tmp_path / "empty")
        os.mkdir(data)
    elif case == "wrong_shapes":
        data = str(tmp_path / "flat.npz")
        np.savez(data, X=np.zeros((40, 2)), y=np.array([0, 1]))
    elif case == "too_short":
        data = _write_npz(tmp_path / "short.npz", lengths=(8, 12))
    elif case == "unknown_model":
        data = _write_npz(tmp_path / "tiny.npz")
        model = "lstm"
    result = CliRunner().invoke(command, ["--data", data, "--model", model, "--out", str(tmp_path / "run"), *TINY])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr
    assert not (tmp_path / "run").exists()


def test_writes_the_standard_run_folder_and_skips_the_saved_model_with_no_export(tmp_path):
    data = _write_npz(tmp_path / "tiny.npz")
    output = tmp_path / "run"
    result = CliRunner().invoke(command, ["--data", data, "--model", "cnn1d", "--out", str(output), "--no-export", "--seed", "5", *TINY])
    assert result.exit_code == 0, result.output
    files = set(os.listdir(output))
    assert {"model.keras", "class_names.json", "history.csv", "metrics.json", "report.json"} <= files
    assert "saved_model" not in files
    assert json.loads((output / "class_names.json").read_text()) == ["fast", "slow"]
    history = (output / "history.csv").read_text().splitlines()
    assert history[0].startswith("epoch,") and "loss" in history[0] and len(history) == 2
    metrics = json.loads((output / "metrics.json").read_text())
    report = json.loads((output / "report.json").read_text())
    assert metrics["recording_accuracy"] == report["recording_accuracy"] and metrics["epochs_run"] == 1
    assert metrics["config"]["export"] is False
    assert metrics["config"]["seed"] == 5 and metrics["config"]["jit_compile"] is False  # --seed: bit-for-bit repeats, no XLA

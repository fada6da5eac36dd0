import json

import keras
import numpy as np
import pytest
from click.testing import CliRunner

import tfxai  # noqa: F401
from tfxai.apps.cli import main


@pytest.fixture
def workspace(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (40, 8, 8)).astype("uint8")
    y = (x.mean(axis=(1, 2)) > 127).astype("int64")
    np.savez(tmp_path / "train.npz", x=x, y=y, class_names=np.array(["dark", "light"]))
    teacher = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
         keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2, activation="softmax")]
    )
    teacher.save(tmp_path / "teacher.keras")
    return tmp_path


def _run(*args):
    return CliRunner().invoke(main, ["train", "mixed", *args])


def test_train_mixed_writes_a_reloadable_model(workspace):
    out = workspace / "run"
    result = _run("--data", str(workspace / "train.npz"), "--teacher", str(workspace / "teacher.keras"),
                  "--out", str(out), "--fraction", "0.25", "--epochs", "2", "--batch-size", "8",
                  "--generation-steps", "5")
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["train_images"] == 36 and summary["generated_images"] == 9
    assert summary["augment_generated"] is False and summary["validation_accuracy"] is not None
    assert json.loads((out / "class_names.json").read_text()) == ["dark", "light"]
    history = json.loads((out / "history.json").read_text())
    assert len(history["loss"]) == 2 and "val_accuracy" in history
    model = keras.saving.load_model(out / "model.keras")
    assert model.predict(np.zeros((1, 8, 8, 1), "float32"), verbose=0).shape == (1, 2)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--teacher", "missing.keras"], "not found"),
        (["--data", "missing.npz"], "does not exist"),
        (["--fraction", "1.5"], "between 0 and 1"),
    ],
)
def test_bad_input_exits_2_with_one_line(workspace, args, message):
    options = {"--data": str(workspace / "train.npz"), "--teacher": str(workspace / "teacher.keras"),
               "--out": str(workspace / "run")}
    key, value = args
    options[key] = value if key == "--fraction" else str(workspace / value)
    result = _run(*[item for pair in options.items() for item in pair], "--epochs", "1")
    assert result.exit_code == 2, result.output
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and message in last, result.stderr
    assert not (workspace / "run").exists()

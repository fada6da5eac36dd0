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
    history = (out / "history.csv").read_text().splitlines()
    assert len(history) == 3 and "val_accuracy" in history[0]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["generated_images"] == 9 and metrics["epochs_run"] == 2 and metrics["augmentation"] == "shift"
    assert (out / "saved_model" / "assets" / "class_names.txt").read_text().split() == ["dark", "light"]
    model = keras.saving.load_model(out / "model.keras")
    assert model.predict(np.zeros((1, 8, 8, 1), "float32"), verbose=0).shape == (1, 2)


def test_generated_images_reach_their_targets(workspace):
    """A linear teacher the generator can steer: mean KL(target || output) ends near 0 (measured 0.07; ~2 after 1 step)."""
    linear = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(
        2, activation="softmax", kernel_initializer=keras.initializers.RandomNormal(stddev=1.0, seed=0))])
    linear.save(workspace / "linear.keras")
    out = workspace / "run"
    result = _run("--data", str(workspace / "train.npz"), "--teacher", str(workspace / "linear.keras"),
                  "--out", str(out), "--fraction", "0.25", "--epochs", "1", "--batch-size", "8",
                  "--generation-steps", "100", "--no-export")
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["generated_images"] == 9
    assert summary["generation_mean_kl"] < 0.2, summary


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


def _bad_workspace(workspace, name):
    """Variants of the training data and teacher that must each stop with one line, exit 2."""
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (20, 8, 8)).astype("uint8")
    y = np.arange(20) % 2
    options = {"--data": str(workspace / "train.npz"), "--teacher": str(workspace / "teacher.keras")}
    if name == "one_hot":
        np.savez(workspace / "bad.npz", x=x, y=np.eye(2, dtype="int64")[y])
        options["--data"] = str(workspace / "bad.npz")
    elif name == "wrong_size":
        np.savez(workspace / "bad.npz", x=rng.integers(0, 256, (20, 10, 10)).astype("uint8"), y=y)
        options["--data"] = str(workspace / "bad.npz")
    elif name == "validation_labels":
        np.savez(workspace / "val.npz", x=x, y=y + 5)
        options["--validation"] = str(workspace / "val.npz")
    elif name == "nan_pixels":
        bad = x.astype("float32") / 255
        bad[0, 0, 0] = np.nan
        np.savez(workspace / "bad.npz", x=bad, y=y)
        options["--data"] = str(workspace / "bad.npz")
    elif name == "logits_teacher":
        logits = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(2)])
        logits.save(workspace / "logits.keras")
        options["--teacher"] = str(workspace / "logits.keras")
    return options


@pytest.mark.parametrize(
    "name, message",
    [
        ("one_hot", "not one-hot"),
        ("wrong_size", "10x10 but the teacher takes 8x8"),
        ("validation_labels", "validation labels range from 5 to 6"),
        ("nan_pixels", "NaN or infinite pixels"),
        ("logits_teacher", "does not output probabilities"),
    ],
)
def test_bad_data_or_teacher_exits_2_with_one_line(workspace, name, message):
    options = _bad_workspace(workspace, name)
    result = _run(*[item for pair in options.items() for item in pair], "--out", str(workspace / "run"), "--epochs", "1",
                  "--generation-steps", "2")
    assert result.exit_code == 2, result.output
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and message in last, result.stderr
    assert not (workspace / "run").exists()


@pytest.mark.parametrize("args, message", [(["--learning-rate", "nan"], "--learning-rate"),
                                           (["--validation-split", "1.5"], "--validation-split"),
                                           (["--mean", "0.5,0.5"], "--mean has 2 values")])
def test_bad_options_exit_2(workspace, args, message):
    result = _run("--data", str(workspace / "train.npz"), "--teacher", str(workspace / "teacher.keras"),
                  "--out", str(workspace / "run"), "--epochs", "1", *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr.strip().splitlines()[-1], result.stderr


def test_early_stopping_needs_validation_data():
    from tfxai.errors import TfxaiError
    from tfxai.synthesis.training import TrainMixedConfig, run_train_mixed

    config = TrainMixedConfig(data="unused", teacher="unused", out="unused", validation_split=0.0, early_stopping=2)
    with pytest.raises(TfxaiError, match="--early-stopping watches validation accuracy"):
        run_train_mixed(config)


def test_bad_generation_learning_rate_names_its_own_option(workspace):
    result = _run("--data", str(workspace / "train.npz"), "--teacher", str(workspace / "teacher.keras"),
                  "--out", str(workspace / "run"), "--generation-learning-rate", "-1")
    assert result.exit_code == 2, result.output
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: --generation-learning-rate must be a positive number"), last


def test_generation_shows_a_progress_bar_with_rate_unless_quiet(workspace):
    args = ("--data", str(workspace / "train.npz"), "--teacher", str(workspace / "teacher.keras"), "--fraction", "0.25",
            "--epochs", "1", "--batch-size", "8", "--generation-steps", "2")
    shown = _run(*args, "--out", str(workspace / "a"))
    assert shown.exit_code == 0, shown.output
    assert "generating" in shown.output and "image/s" in shown.output and "/9 [" in shown.output, shown.output  # count, rate
    quiet = _run(*args, "--out", str(workspace / "b"), "--quiet")
    assert quiet.exit_code == 0 and "image/s" not in quiet.output and "generating" not in quiet.output, quiet.output

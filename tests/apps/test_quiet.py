"""One output vocabulary: ``--quiet`` prints the final line only, and every error reads ``error: ...``.

The ``--quiet`` runs are real processes: what leaks past it comes from places
an in-process runner does not see (TensorFlow's C++ log lines on file
descriptor 2, Keras' progress bar on stdout, Python warnings printed by the
interpreter).
"""

import os
import subprocess
import sys

import cv2
import keras
import numpy as np
import pytest
from click.testing import CliRunner

from tfxai.apps.cli import main


def _quiet_run(*args):
    """``tfxai ARGS --quiet`` in a process of its own: ``(stdout, stderr lines)``; it must succeed."""
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}  # tfxai's import in this process set it
    result = subprocess.run([sys.executable, "-m", "tfxai.apps.cli", *map(str, args), "--quiet"], capture_output=True, text=True,
                            env=env, timeout=1800, cwd=os.path.dirname(sys.executable))  # outside the checkout: its tfxai/ has no tfxai.apps
    assert result.returncode == 0, result.stderr
    return result.stdout, result.stderr.splitlines()


def _write_images(folder, count, size, channels, seed):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        cv2.imwrite(str(folder / f"{i}.png"), rng.integers(0, 256, (size, size, channels)).astype("uint8"))
    return folder


def test_quiet_training_prints_only_its_final_line(tmp_path):
    for name in ("a", "b"):
        _write_images(tmp_path / "data" / name, 8, 16, 3, seed=len(name))
    stdout, stderr = _quiet_run("train", "classifier", "--data", tmp_path / "data", "--out", tmp_path / "run", "--preset", "small",
                                "--weights", "none", "--image-size", "16", "--epochs", "1", "--no-export")
    assert stdout == "" and len(stderr) == 1 and stderr[0].startswith("done: 2 classes"), (stdout, stderr)


def test_quiet_score_cam_prints_no_progress_bar(tmp_path):
    """tf-keras-vis' Score-CAM calls ``model.predict`` with Keras' progress bar (``\\x1b``/``\\b`` codes on stdout)."""
    model = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(4, 3, activation="relu", name="features"),
                              keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2, activation="softmax")])
    model.save(tmp_path / "model.keras")
    images = _write_images(tmp_path / "images", 2, 16, 3, seed=0)
    stdout, stderr = _quiet_run("explain", "--model", tmp_path / "model.keras", "--images", images, "--out", tmp_path / "maps",
                                "--method", "scorecam")
    assert stdout == "" and len(stderr) == 1 and stderr[0].startswith(f"wrote {tmp_path / 'maps'}"), (stdout, stderr)


def test_quiet_collab_gan_hides_tensorflows_cpp_error_lines(tmp_path):
    """TensorFlow 2.21 logs ``E0000 ... NodeDef mentions attribute use_unbounded_threadpool`` on the GAN's tf.data map."""
    for name in ("a", "b"):
        _write_images(tmp_path / "data" / name, 12, 8, 1, seed=len(name))
    classifier = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax")])
    classifier.save(tmp_path / "classifier.keras")
    stdout, stderr = _quiet_run("train", "collab-gan", "--data", tmp_path / "data", "--out", tmp_path / "run", "--classifier",
                                tmp_path / "classifier.keras", "--graph", "mad-gan", "--image-size", "8", "--channels", "1",
                                "--latent-dim", "4", "--filters", "2", "--batch-size", "8", "--epochs", "1", "--score-images", "10",
                                "--generators", "2")
    # --quiet keeps the final line and warnings that matter: a collapse warning when this 1-epoch, 8 px run collapses
    assert stdout == "" and stderr[-1].startswith("done: 2 generator(s)"), (stdout, stderr)
    assert all(line.startswith("warning: mode collapse: ") for line in stderr[:-1]) and len(stderr) <= 2, stderr


@pytest.mark.slow
def test_quiet_stargan_and_tta_print_no_keras_warnings(stargan_folders):
    """Keras warns ``compile() was not called as part of model loading`` when the translator is reloaded (minutes: two GAN runs)."""
    root = stargan_folders  # tests/apps/conftest.py
    stdout, stderr = _quiet_run("train", "stargan", "--source", root / "source", "--target", root / "target", "--out", root / "run",
                                "--class-aware", "--image-size", "16", "--batch-size", "4", "--iterations", "2")
    assert stdout == "" and len(stderr) == 1 and stderr[0].startswith("done: 2 iterations"), (stdout, stderr)
    classifier = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2, activation="softmax")])
    classifier.save(root / "classifier.keras")
    stdout, stderr = _quiet_run("tta", "--classifier", root / "classifier.keras", "--translator", root / "run",
                                "--data", root / "labelled_target", "--n", "2")
    # tta's result (accuracy per N) is its output on stdout; stderr holds the final progress line only
    assert stdout.startswith("accuracy_n0=") and len(stdout.splitlines()) == 1, stdout
    assert len(stderr) == 1 and stderr[0].startswith("N =   2: accuracy"), stderr


@pytest.mark.parametrize("args, message", [
    (["train", "classifier", "--bogus"], "error: No such option '--bogus'"),
    (["--bogus"], "error: No such option '--bogus'"),
    (["no-such-app"], "error: No such command 'no-such-app'."),
    (["train", "classifier", "--data", "demo", "--epochs", "0"], "error: --epochs must be at least 1, got 0"),
])
def test_usage_errors_read_error_like_every_other_error_and_exit_2(args, message):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert result.output.splitlines()[-1].startswith(message) and "Error:" not in result.output, result.output

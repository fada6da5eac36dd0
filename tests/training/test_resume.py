"""Resume after SIGKILL: a killed and rerun training app ends exactly where an uninterrupted run ends."""

import json
import os
import signal
import subprocess
import sys
import time

import cv2
import keras
import numpy as np
import pytest

from tfxai.training.resume import backup_folder
from tfxai.testing import process_timeout, run_process

EPOCHS = 6


def make_folder(root, per_class=60, size=16, seed=0):
    rng = np.random.default_rng(seed)
    for index, name in enumerate(("left", "right")):
        os.makedirs(root / name, exist_ok=True)
        for i in range(per_class):
            image = rng.integers(0, 80, (size, size, 3), dtype=np.uint8)
            image[:, index * size // 2 : (index + 1) * size // 2] += 120
            cv2.imwrite(str(root / name / f"{i}.png"), image)
    return root


def train_command(data, out):
    return [sys.executable, "-m", "tfxai.apps.cli", "train", "classifier", "--data", str(data), "--out", str(out),
            "--preset", "small", "--image-size", "16", "--epochs", str(EPOCHS), "--batch-size", "4", "--no-export", "--seed", "3"]


def backed_up_epoch(out):
    try:
        with open(os.path.join(backup_folder(out), "state.json"), encoding="utf-8") as handle:
            return json.load(handle)["epoch"]
    except (OSError, ValueError):
        return 0


def start_and_kill(command, out):
    """Start ``command``, SIGKILL it once epoch 1 or later is backed up (mid-run); returns the epoch backed up."""
    process = subprocess.Popen(command, cwd=os.path.dirname(out), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + process_timeout()
    try:
        while backed_up_epoch(out) < 1 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        done = backed_up_epoch(out)
    finally:
        process.send_signal(signal.SIGKILL)
        _, stderr = process.communicate()
    assert process.returncode == -signal.SIGKILL, f"the run ended before it was killed:\n{stderr.decode()[-2000:]}"
    return done


def run_files(out):
    with open(out / "metrics.json", encoding="utf-8") as handle:
        metrics = json.load(handle)
    model = keras.saving.load_model(out / "model.keras")
    return metrics, (out / "history.csv").read_text(), model.get_weights()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("resume")
    data = make_folder(root / "data")
    whole, resumed = root / "whole", root / "resumed"
    run_process(train_command(data, whole), cwd=root)
    killed_at = start_and_kill(train_command(data, resumed), resumed)
    assert not resumed.exists()  # the run folder is written only at the end
    rerun = run_process(train_command(data, resumed), cwd=root)
    return whole, resumed, killed_at, rerun


def test_rerun_after_sigkill_resumes_and_says_so(runs):
    whole, resumed, killed_at, rerun = runs
    assert 1 <= killed_at < EPOCHS
    assert f"resuming from epoch {killed_at + 1} of {EPOCHS} (backup in {backup_folder(resumed)})" in rerun.stderr
    assert rerun.stdout.count("Epoch ") == EPOCHS - killed_at  # only the remaining epochs ran
    assert not os.path.exists(backup_folder(resumed))  # removed once the run folder is complete


def test_killed_and_resumed_run_ends_as_an_uninterrupted_run(runs):
    whole, resumed, _, _ = runs
    metrics_whole, history_whole, weights_whole = run_files(whole)
    metrics_resumed, history_resumed, weights_resumed = run_files(resumed)
    assert metrics_resumed["final"] == metrics_whole["final"]
    assert metrics_resumed["epochs_run"] == EPOCHS
    assert history_resumed == history_whole  # every epoch, those before the kill too
    for a, b in zip(weights_whole, weights_resumed):
        np.testing.assert_array_equal(a, b)


# === Every training app, in-process: interrupted at epoch 2, rerun, compared with an uninterrupted run ===


class Interrupted(Exception):
    pass


def signal_args(root):
    rng = np.random.default_rng(0)
    signals, labels = [], []
    for i in range(12):
        t = np.arange(40)
        signals.append(np.stack([np.sin(2 * np.pi * t / (16 if i % 2 else 4) + rng.uniform(0, 6)), 0.3 * rng.normal(size=40)], axis=1))
        labels.append("fast" if i % 2 == 0 else "slow")
    np.savez(root / "signals.npz", X=np.concatenate(signals).astype("float32"), lengths=[40] * 12, y=labels)
    return ["train", "signal", "--data", str(root / "signals.npz"), "--preset", "small", "--window", "16", "--step", "8",
            "--train-step", "8", "--filters", "4", "--no-export", "--epochs", "4", "--no-xla"]  # XLA repeats only to rounding


def mixed_args(root):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (24, 8, 8)).astype("uint8")
    np.savez(root / "train.npz", x=x, y=(x.mean(axis=(1, 2)) > 127).astype("int64"), class_names=np.array(["dark", "light"]))
    keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
                      keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2, activation="softmax")]).save(root / "teacher.keras")
    return ["train", "mixed", "--data", str(root / "train.npz"), "--teacher", str(root / "teacher.keras"), "--generation-steps", "2",
            "--batch-size", "8", "--no-export", "--epochs", "4", "--augment", "none"]


def image_app_args(app, *extra):
    def args(root):
        data = make_folder(root / "images", per_class=8)
        return ["train", app, "--data", str(data), "--preset", "small", "--image-size", "16", "--batch-size", "4", "--no-export",
                "--epochs", "4", *extra]

    return args


def video_args(root):
    from tfxai.testing import write_moving_square_video

    for label, direction in (("left", -1), ("right", 1)):
        os.makedirs(root / "videos" / label, exist_ok=True)
        for i in range(3):
            write_moving_square_video(root / "videos" / label / f"{i}.avi", frames=10, direction=direction, seed=i)
    return ["train", "video", "--data", str(root / "videos"), "--preset", "small", "--frames", "4", "--stride", "2", "--image-size", "16",
            "--base-width", "2", "--batch-size", "2", "--validation-split", "0.34", "--augment", "flip", "--no-export", "--epochs", "4"]


APPS = {
    "classifier": image_app_args("classifier", "--augment", "flip+shift"),
    "abn": image_app_args("abn", "--no-cot"),
    "gain": image_app_args("gain"),
    "signal": signal_args,
    "mixed": mixed_args,
    "video": video_args,
}


@pytest.mark.parametrize("app", sorted(APPS))
def test_every_training_app_resumes_to_the_uninterrupted_result(app, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from tfxai.apps.cli import main
    from tfxai.training.resume import EpochCounter

    args = APPS[app](tmp_path)
    whole = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "whole")])
    assert whole.exit_code == 0, whole.output
    counted = EpochCounter.on_epoch_begin

    def interrupt(self, epoch, logs=None):
        if epoch == 2:
            raise Interrupted
        counted(self, epoch, logs)

    monkeypatch.setattr(EpochCounter, "on_epoch_begin", interrupt)
    killed = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "resumed")])
    assert "error: Interrupted" in killed.output, killed.output  # the CLI reports the crash
    assert not (tmp_path / "resumed").exists()
    monkeypatch.setattr(EpochCounter, "on_epoch_begin", counted)
    resumed = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "resumed")])
    assert resumed.exit_code == 0, resumed.output
    assert "resuming from epoch 3 of 4" in resumed.output
    metrics = [json.loads((tmp_path / name / "metrics.json").read_text()) for name in ("whole", "resumed")]
    assert metrics[1]["final"] == metrics[0]["final"]
    assert (tmp_path / "resumed" / "history.csv").read_text() == (tmp_path / "whole" / "history.csv").read_text()
    # and the weights bit for bit: the killed run repeated the uninterrupted run's first epochs exactly in the same
    # process (the same --seed repeats), and the rerun continued them exactly.
    for a, b in zip(model_weights(tmp_path / "whole"), model_weights(tmp_path / "resumed")):
        np.testing.assert_array_equal(a, b)


# === Determinism: the same command and --seed give the same weights bit for bit ===


def model_weights(folder):
    return keras.saving.load_model(folder / "model.keras", compile=False).get_weights()


def test_a_fresh_process_with_the_same_seed_repeats_the_weights_bit_for_bit(runs, tmp_path):
    whole = runs[0]
    command = train_command(whole.parent / "data", tmp_path / "again")
    run_process(command, cwd=tmp_path)
    for a, b in zip(model_weights(whole), model_weights(tmp_path / "again")):
        np.testing.assert_array_equal(a, b)
    run_process([*command[:-1], "4", "--out", str(tmp_path / "other")], cwd=tmp_path)  # another --seed (the last option wins)
    assert any(not np.array_equal(a, b) for a, b in zip(model_weights(whole), model_weights(tmp_path / "other")))

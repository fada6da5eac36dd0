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

from tfxai.resume import backup_folder
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
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
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
    run_process(train_command(data, whole))
    killed_at = start_and_kill(train_command(data, resumed), resumed)
    assert not resumed.exists()  # the run folder is written only at the end
    rerun = run_process(train_command(data, resumed))
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

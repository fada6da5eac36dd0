"""Ctrl-C: a training app interrupted at random points exits 130 with a true message, and its backup resumes.

A real ``tfxai`` process (signals, C++ threads and interpreter shutdown are
what is tested) trains a tiny classifier; SIGINT arrives at seeded random
points: while TensorFlow starts, while the first step traces, inside epochs
and at their ends, where the backup is written. The runs are chained: each
rerun of the same command resumes from the previous one's backup, as a user's
would. Every interrupt must exit with 130 (never a glibc abort), print the
message matching what is on disk, and leave no ``--out`` and no staging
folder; finally the command, run once more, finishes from the backup.
"""

import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time

import cv2
import numpy as np
import pytest

EPOCHS = 4


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """Two classes of 100 16-px images (25 steps of 8 per epoch: epochs long enough to be hit inside)."""
    root = tmp_path_factory.mktemp("interrupts") / "data"
    rng = np.random.default_rng(0)
    for index, name in enumerate(("dark", "light")):
        (root / name).mkdir(parents=True)
        for i in range(100):
            cv2.imwrite(str(root / name / f"{i}.png"), (rng.integers(0, 128, (16, 16, 3)) + 100 * index).astype("uint8"))
    return root


def _command(images, out):
    return [sys.executable, "-m", "tfxai.apps.cli", "train", "classifier", "--data", str(images), "--out", str(out), "--preset", "small",
            "--weights", "none", "--image-size", "16", "--batch-size", "8", "--epochs", str(EPOCHS), "--no-export", "--seed", "0"]


def _start(command):
    """The app as a process of its own, SIGINT at Python's default (a background shell may have set it to 'ignore')."""
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}  # tfxai's import in this process set it
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**env, "PYTHONUNBUFFERED": "1"},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
                            cwd=os.path.dirname(sys.executable))  # outside the checkout: its tfxai/ has no tfxai.apps


def _lines(stream):
    """A queue filled with the lines of ``stream`` by a thread; None at its end."""
    lines = queue.Queue()

    def pump():
        for line in stream:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _interrupt(command, epoch_lines, delay):
    """Run ``command``, send SIGINT ``delay`` s after its ``epoch_lines``-th "Epoch k/N" line (0: after start).

    Returns ``(exit status, stderr, the last epoch line seen or None)``; the
    status is that of a run that finished first if it did.
    """
    process = _start(command)
    stdout, seen, last = _lines(process.stdout), 0, None
    while seen < epoch_lines:
        line = stdout.get(timeout=600)
        if line is None:
            break
        if line.startswith("Epoch "):
            seen, last = seen + 1, line.strip()
    time.sleep(delay)
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    stderr = process.stderr.read()
    return process.wait(timeout=300), stderr, last


def _expected_message(out):
    backup = f"{out}.backup"
    if not os.path.isdir(backup):
        return f"interrupted: nothing was written to {out}; no epoch had finished, so no training state was kept", None
    with open(os.path.join(backup, "state.json"), encoding="utf-8") as handle:
        epoch = json.load(handle)["epoch"]
    return (f"interrupted: nothing was written to {out}; the training state after epoch {epoch} is kept in {backup} "
            "(run the same command to resume from there, or delete that folder to start afresh)"), epoch


def _interrupt_repeatedly(images, tmp_path, count, seed):
    out = tmp_path / "run"
    command = _command(images, out)
    rng = random.Random(seed)
    interrupted = 0
    while interrupted < count:
        epoch_lines = rng.randint(0, EPOCHS)  # 0: while TensorFlow starts; k: inside the k-th epoch this process runs
        delay = rng.uniform(0.0, 3.0) if epoch_lines == 0 else rng.uniform(0.0, 1.5)
        status, stderr, last = _interrupt(command, epoch_lines, delay)
        if "\ndone: " in "\n" + stderr:  # the run finished before the signal (its backup was resumed to the end): start afresh
            # a signal during the interpreter's exit after the final line ends the process by SIGINT (-2): the work is complete
            assert status in (0, -signal.SIGINT) and out.is_dir() and not (tmp_path / "run.backup").exists(), (status, stderr)
            os.rename(out, tmp_path / f"finished-{len(list(tmp_path.glob('finished-*')))}")  # a run may finish more than once
            continue
        interrupted += 1
        assert status == 130, f"interrupt {interrupted} (epoch line {epoch_lines} + {delay:.2f} s) ended with {status}:\n{stderr}"
        message, kept = _expected_message(out)
        starting = epoch_lines == 0 and stderr.strip().splitlines()[-1] == "interrupted while starting: nothing was written"
        assert starting or stderr.strip().splitlines()[-1] == message, stderr
        assert "Traceback" not in stderr and "free()" not in stderr, stderr
        assert not out.exists(), "an interrupted run left a half-written --out"
        assert not [name for name in os.listdir(tmp_path) if ".staging." in name], os.listdir(tmp_path)
        if last is not None and kept is not None:  # the backup is of an epoch the process reached: "Epoch k/N" seen, k-1 finished
            shown = int(last.split()[1].split("/")[0])
            # at least the epoch before the last line seen is kept; the process may be further on than the lines this
            # process has read when the signal lands (pipe and scheduling lag), so no upper bound
            assert kept >= shown - 1, (last, kept)
    return out, command


def _resumes_to_the_end(out, command):
    backup = f"{out}.backup"
    kept = os.path.isdir(backup)
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=os.path.dirname(sys.executable))
    assert result.returncode == 0, result.stderr
    if kept:
        assert "resuming from epoch" in result.stderr
    assert not os.path.exists(backup) and (out / "model.keras").is_file()
    assert len((out / "history.csv").read_text().splitlines()) == EPOCHS + 1  # the whole run's epochs, the interrupted ones included


def test_interrupted_training_exits_130_with_a_true_message_and_resumes(images, tmp_path):
    _resumes_to_the_end(*_interrupt_repeatedly(images, tmp_path, count=5, seed=1))


@pytest.mark.slow
def test_twenty_interrupts_at_random_points_are_all_clean(images, tmp_path):
    _resumes_to_the_end(*_interrupt_repeatedly(images, tmp_path, count=20, seed=2))


# === The message, for each state an interrupt can leave (in-process) ===

def _meta(out, **extra):
    from tfxai.apps.common import _signature

    return {"tfxai.out": str(out), "tfxai.out_before": _signature(out), "tfxai.keeps": None, "tfxai.trains": True, **extra}


def test_the_message_names_the_backups_epoch_or_says_nothing_was_kept(tmp_path):
    from tfxai.apps.common import interrupt_message
    from tfxai.training.resume import backup_folder

    out = tmp_path / "run"
    assert interrupt_message({}) == "interrupted while starting: nothing was written"
    assert interrupt_message(_meta(out, **{"tfxai.trains": False})) == f"interrupted: nothing was written to {out}"
    assert interrupt_message(_meta(out)).endswith("no epoch had finished, so no training state was kept")
    backup = backup_folder(out)
    os.makedirs(backup)
    (tmp_path / "run.backup" / "partial-epoch-1.weights.h5").write_bytes(b"")  # stopped while backing up the first epoch
    assert interrupt_message(_meta(out)).endswith("no epoch had finished, so no training state was kept")
    assert not os.path.exists(backup)  # the unusable folder is not left behind the message that says nothing was kept
    os.makedirs(backup)
    (tmp_path / "run.backup" / "state.json").write_text(json.dumps({"epoch": 3, "history": {}}))
    assert interrupt_message(_meta(out)) == _expected_message(out)[0]
    meta = _meta(out)
    out.mkdir()  # the finished folder was moved into place just before the interrupt
    assert interrupt_message(meta) == f"interrupted: {out} was already written and is complete"
    assert interrupt_message(_meta(tmp_path / "labels", **{"tfxai.keeps": "the frames tracked so far"})) == (
        f"interrupted: the frames tracked so far are kept in {tmp_path / 'labels'} (run the same command to continue)")

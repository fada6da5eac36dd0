"""Issue 27: ``tfxai explain`` streams its images chunk by chunk, writes as it goes and resumes an interrupted run."""

import os

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

import tfxai  # noqa: F401  (before TensorFlow)
from tfxai.apps.cli import main
from tfxai.errors import TfxaiError

PER_CLASS = 80  # 160 images: three chunks of 64 (the last one partial)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A tiny 16x16 CNN and 160 images (of sizes other than the model's) in folders named after its classes."""
    import keras

    root = tmp_path_factory.mktemp("stream")
    rng = np.random.default_rng(0)
    for index, name in enumerate(("class_0", "class_1")):
        os.makedirs(root / "images" / name)
        for i in range(PER_CLASS):
            size = 16 + i % 5
            image = rng.integers(0, 128, (size, size + 2, 3), dtype=np.uint8) + 100 * index
            cv2.imwrite(str(root / "images" / name / f"{i:03d}.png"), image)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Rescaling(1 / 255), keras.layers.Conv2D(4, 3, activation="relu"),
                              keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2, activation="softmax")])
    model.save(root / "model.keras")
    return root


def explain(workspace, out, *extra):
    return CliRunner().invoke(main, ["explain", "--model", str(workspace / "model.keras"), "--images", str(workspace / "images"),
                                    "--out", str(out), *extra])


def files(folder):
    """Every file below ``folder`` with its bytes."""
    found = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as file:
                found[os.path.relpath(path, folder)] = file.read()
    return found


def test_streamed_report_equals_the_one_built_from_all_images_in_memory(workspace, tmp_path):
    """The old path (every image loaded, then :func:`write_report`) and the stream write the same bytes."""
    from tfxai.data import list_images, load_images
    from tfxai.explain import get_explainer
    from tfxai.explain.report import explain_batch, write_report
    from tfxai.io import load_model

    result = explain(workspace, tmp_path / "streamed", "--quiet")
    assert result.exit_code == 0, result.output
    model, _ = load_model(str(workspace / "model.keras"))
    paths = list_images(workspace / "images")
    true = [0 if "class_0" in p else 1 for p in paths]
    explanations = explain_batch(get_explainer("gradcam", model), load_images(paths, (16, 16), 3), paths, np.asarray(true), sources=paths)
    write_report(explanations, ["class_0", "class_1"], tmp_path / "reference", "tfxai explain: gradcam")
    streamed, reference = files(tmp_path / "streamed"), files(tmp_path / "reference")
    assert sorted(streamed) == sorted(reference)
    assert len([name for name in streamed if name.startswith("overlays")]) == 2 * PER_CLASS
    for name in ("predictions.csv", "index.html", "contact_sheet.png"):
        assert streamed[name] == reference[name], name
    different = [name for name in streamed if streamed[name] != reference[name]]
    assert not different, different[:5]
    assert "160 images, 160 labelled, accuracy" in streamed["index.html"].decode()
    assert not os.path.exists(str(tmp_path / "streamed") + ".partial")


def test_an_interrupted_run_continues_where_it_stopped_and_ends_as_an_uninterrupted_one(workspace, tmp_path, monkeypatch):
    from tfxai.explain import streaming

    whole = explain(workspace, tmp_path / "whole", "--quiet")
    assert whole.exit_code == 0, whole.output
    save_state, saved = streaming._save_state, []

    def fail_after_two_chunks(partial, state):
        save_state(partial, state)
        saved.append(state["done"])
        if len(saved) == 2:
            raise TfxaiError("disk full: free some space")

    monkeypatch.setattr(streaming, "_save_state", fail_after_two_chunks)
    out = tmp_path / "out"
    broken = explain(workspace, out)
    assert broken.exit_code == 2 and "disk full" in broken.output, broken.output
    assert not out.exists() and saved == [64, 128]
    partial = str(out) + ".partial"
    kept = sorted(os.listdir(os.path.join(partial, "overlays")))[:128]  # the next chunk's overlays may be written too: they are redone
    assert [name[:4] for name in kept] == [f"{i:04d}" for i in range(128)]
    monkeypatch.setattr(streaming, "_save_state", save_state)
    written = {name: os.stat(os.path.join(partial, "overlays", name)).st_mtime_ns for name in kept}

    resumed = explain(workspace, out)
    assert resumed.exit_code == 0, resumed.output
    assert "continuing the unfinished run" in resumed.output and "after 128 images of 160" in resumed.output
    assert files(out) == files(tmp_path / "whole")
    assert not os.path.exists(partial)
    # the 128 overlays of the first run were kept, not redone
    assert all(os.stat(out / "overlays" / name).st_mtime_ns == mtime for name, mtime in written.items())


def test_a_rerun_with_other_options_starts_afresh_and_says_so(workspace, tmp_path, monkeypatch):
    from tfxai.explain import streaming

    def fail_at_once(partial, state):
        raise TfxaiError("disk full: free some space")

    save_state = streaming._save_state
    monkeypatch.setattr(streaming, "_save_state", lambda partial, state: (save_state(partial, state), fail_at_once(partial, state)))
    out = tmp_path / "out"
    assert explain(workspace, out).exit_code == 2
    assert os.path.isdir(str(out) + ".partial")
    monkeypatch.setattr(streaming, "_save_state", save_state)
    other = explain(workspace, out, "--alpha", "0.7")
    assert other.exit_code == 0, other.output
    notes = [line for line in other.output.splitlines() if "afresh" in line]
    assert len(notes) == 1 and "other options" in notes[0], other.output
    assert explain(workspace, tmp_path / "fresh", "--alpha", "0.7", "--quiet").exit_code == 0
    assert files(out) == files(tmp_path / "fresh")


def test_a_failure_in_the_first_chunk_leaves_nothing(workspace, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    (images / "broken.png").write_bytes(b"not a png")
    result = CliRunner().invoke(main, ["explain", "--model", str(workspace / "model.keras"), "--images", str(images), "--out",
                                       str(tmp_path / "out")])
    assert result.exit_code == 2 and "cannot decode image" in result.output
    assert sorted(os.listdir(tmp_path)) == ["images"]


def test_progress_bar_shows_rate_and_time_left_unless_quiet(workspace, tmp_path):
    shown = explain(workspace, tmp_path / "a")
    assert shown.exit_code == 0, shown.output
    assert "image/s" in shown.output and "/160 [" in shown.output and "<00:0" in shown.output, shown.output  # rate, time left
    quiet = explain(workspace, tmp_path / "b", "--quiet")
    assert quiet.exit_code == 0 and "image/s" not in quiet.output
    assert quiet.output.strip().splitlines() == [line for line in quiet.output.strip().splitlines() if line.startswith("wrote")]


@pytest.mark.slow
def test_ctrl_c_in_a_real_process_keeps_the_chunks_done_and_the_same_command_continues(workspace, tmp_path):
    """SIGINT to a ``tfxai explain`` process once its first chunk is saved: exit 130, a true message, and a rerun finishes."""
    import json
    import signal
    import subprocess
    import sys
    import time

    images = tmp_path / "many"
    rng = np.random.default_rng(1)
    for index in range(2):
        os.makedirs(images / f"class_{index}")
        for i in range(750):  # 1,500 images: 24 chunks, seconds of work after the first one is saved
            cv2.imwrite(str(images / f"class_{index}" / f"{i:04d}.png"), rng.integers(0, 256, (16, 16, 3), dtype=np.uint8))
    out = tmp_path / "out"
    command = [sys.executable, "-m", "tfxai.apps.cli", "explain", "--model", str(workspace / "model.keras"), "--images", str(images),
               "--out", str(out), "--quiet"]
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
                               cwd=os.path.dirname(sys.executable))  # outside the checkout: its tfxai/ has no tfxai.apps
    progress = os.path.join(str(out) + ".partial", "progress.json")
    deadline = time.time() + 300
    while not os.path.exists(progress) and process.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 130, stderr
    with open(progress, encoding="utf-8") as file:
        done = json.load(file)["done"]
    assert 0 < done < 1500 and done % 64 == 0
    assert f"the explanations of the first {done} images are kept in {out}.partial (run the same command to continue)" in stderr
    assert not out.exists()

    rerun = subprocess.run(command[:-1], capture_output=True, text=True, env=env, timeout=600, cwd=os.path.dirname(sys.executable))
    assert rerun.returncode == 0, rerun.stderr
    assert f"after {done} images of 1500" in rerun.stderr
    with open(out / "predictions.csv", encoding="utf-8") as file:
        rows = file.read().splitlines()
    assert len(rows) == 1501 and len(set(rows)) == 1501
    assert len(os.listdir(out / "overlays")) == 1500 and not os.path.exists(str(out) + ".partial")

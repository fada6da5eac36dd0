"""``tfxai evaluate attention`` streams its images chunk by chunk with running sums, and resumes an interrupted run."""

import json
import os

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

import tfxai  # noqa: F401  (before TensorFlow)
from tfxai.apps.cli import main

PER_CLASS = 50  # 150 images, 140 sampled by --limit: chunks of 64, 64 and 12


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A tiny 16x16 three-class CNN (with its class names) and 150 images of other sizes, some grayscale."""
    import keras

    root = tmp_path_factory.mktemp("evaluate_stream")
    rng = np.random.default_rng(0)
    for index, name in enumerate(("a", "b", "c")):
        os.makedirs(root / "images" / name)
        for i in range(PER_CLASS):
            size = 16 + i % 4
            image = rng.integers(0, 120, (size, size + 3, 3), dtype=np.uint8) + 60 * index
            cv2.imwrite(str(root / "images" / name / f"{i:03d}.png"), image[..., 0] if i % 7 == 0 else image)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Rescaling(1 / 255), keras.layers.Conv2D(4, 3, activation="relu"),
                              keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3, activation="softmax")])
    model.save(root / "model.keras")
    return root


OPTIONS = ["--limit", "140", "--batch-size", "16", "--thresholds", "6", "--step", "32", "--seed", "3"]


def evaluate(workspace, out, *extra):
    return CliRunner().invoke(main, ["evaluate", "attention", "--model", str(workspace / "model.keras"), "--data",
                                     str(workspace / "images"), "--out", str(out), *OPTIONS, *extra])


def config(workspace, out, **changes):
    from tfxai.attention.evaluation import EvaluateAttentionConfig

    options = dict(model=str(workspace / "model.keras"), data=str(workspace / "images"), out=str(out), limit=140, batch_size=16,
                   thresholds=6, step=32, seed=3)
    return EvaluateAttentionConfig(**{**options, **changes})


def files(folder):
    return {name: (folder / name).read_bytes() for name in sorted(os.listdir(folder))}


def all_in_memory_reference(workspace, batch_size=16, thresholds=6, step=32, limit=140, seed=3):
    """The computation before streaming: every sampled image in one array, each mode's curves over all of them at once."""
    from tfxai.attention.evaluation import attention_source
    from tfxai.data import load_labelled_images
    from tfxai.explain.protocol import explain_in_batches
    from tfxai.io import load_model

    model, _ = load_model(str(workspace / "model.keras"))
    data = load_labelled_images(str(workspace / "images"), 16, 3, split="test")
    data = data.subset(np.sort(np.random.default_rng(seed).choice(len(data.labels), limit, replace=False)))
    images, labels = data.images.astype(np.float32), data.labels
    maps, probabilities = explain_in_batches(attention_source(model, "gradcam"), images, batch_size)

    def predict(batch):
        return np.concatenate([np.asarray(model(batch[i:i + batch_size], training=False)) for i in range(0, len(batch), batch_size)])

    def area(x, y):
        return float(np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2.0 / (x[-1] - x[0]))

    sweep = np.linspace(0.0, 1.0, thresholds)
    insertion = np.array([np.mean(np.argmax(predict(np.where((maps >= t)[..., None], images, 0.0)), -1) == labels) for t in sweep])
    deletion = np.array([np.mean(np.argmax(predict(np.where((maps >= t)[..., None], 0.0, images)), -1) == labels) for t in sweep])
    results = {"threshold": (sweep, insertion, deletion, area(sweep, insertion), area(sweep, deletion))}
    pixels, steps = 256, 8
    x = np.minimum(np.arange(steps + 1) * step, pixels) / pixels
    curves = []
    for image, label, attention in zip(images, labels, maps):
        rank = np.empty(pixels, np.int64)
        rank[np.argsort(-attention.reshape(-1), kind="stable")] = np.arange(pixels)
        changed = (rank.reshape(16, 16)[None] < (np.arange(steps + 1) * step)[:, None, None])[..., None]
        blurred = cv2.GaussianBlur(image, (11, 11), 5)
        true = predict(np.concatenate([np.where(changed, image, blurred), np.where(changed, 0.0, image)]))[:, label]
        curves.append((true[:steps + 1], true[steps + 1:]))
    insertion, deletion = np.array([c[0] for c in curves], np.float64), np.array([c[1] for c in curves], np.float64)
    results["rise"] = (x, insertion.mean(0), deletion.mean(0), np.mean([area(x, c) for c in insertion]),
                       np.mean([area(x, c) for c in deletion]))
    top1 = float(np.mean(np.argmax(probabilities, -1) == labels))
    return results, top1


def test_streamed_scores_equal_the_all_in_memory_computation(workspace, tmp_path):
    result = evaluate(workspace, tmp_path / "out", "--quiet")
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "out" / "results.json").read_text())
    reference, top1 = all_in_memory_reference(workspace)
    assert summary["images"] == 140 and summary["top1"] == top1 and summary["top5"] is None
    for mode, (x, insertion, deletion, insertion_auc, deletion_auc) in reference.items():
        written = summary["results"][mode]
        np.testing.assert_array_equal(written["x"], x)
        np.testing.assert_allclose(written["insertion"], insertion, rtol=1e-12, atol=0)
        np.testing.assert_allclose(written["deletion"], deletion, rtol=1e-12, atol=0)
        assert written["insertion_auc"] == pytest.approx(insertion_auc, rel=1e-12, abs=0)
        assert written["deletion_auc"] == pytest.approx(deletion_auc, rel=1e-12, abs=0)
    assert 0 < reference["threshold"][1][1] < 1, "the sweep must change some predictions for the test to mean anything"
    assert sorted(os.listdir(tmp_path)) == ["out"]  # no .partial left
    assert sorted(os.listdir(tmp_path / "out")) == ["curves.csv", "curves.png", "results.csv", "results.json", "results.md"]


def test_an_evaluation_stopped_after_a_chunk_continues_and_ends_as_an_uninterrupted_one(workspace, tmp_path):
    from tfxai.attention.evaluation import evaluate_attention

    whole = evaluate_attention(config(workspace, tmp_path / "whole"), log=lambda line: None)
    done, lines = [], []

    def stop_after_one_chunk(count):
        done.append(count)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        evaluate_attention(config(workspace, tmp_path / "out"), log=lines.append, on_chunk=stop_after_one_chunk)
    partial = tmp_path / "out.partial"
    assert done == [64] and not (tmp_path / "out").exists()
    assert json.loads((partial / "progress.json").read_text())["done"] == 64
    resumed = evaluate_attention(config(workspace, tmp_path / "out"), log=lines.append, on_chunk=done.append)
    assert any("continuing the unfinished evaluation" in line and "after 64 images of 140" in line for line in lines), lines
    assert done == [64, 64, 128, 140]  # resumed at 64, then the two chunks left
    assert resumed == whole
    assert files(tmp_path / "out") .keys() == files(tmp_path / "whole").keys()
    for name in ("results.json", "results.csv", "results.md", "curves.csv"):
        assert files(tmp_path / "out")[name] == files(tmp_path / "whole")[name], name
    assert not partial.exists()


def test_a_rerun_with_other_options_starts_afresh_and_a_first_chunk_failure_leaves_nothing(workspace, tmp_path):
    from tfxai.attention.evaluation import evaluate_attention

    def stop(count):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        evaluate_attention(config(workspace, tmp_path / "out"), log=lambda line: None, on_chunk=stop)
    lines = []
    other = evaluate_attention(config(workspace, tmp_path / "out", thresholds=4), log=lines.append)
    assert [line for line in lines if "afresh" in line] == [f"{tmp_path / 'out.partial'} holds an unfinished run with other options: "
                                                            "starting afresh"]
    assert other == evaluate_attention(config(workspace, tmp_path / "fresh", thresholds=4), log=lambda line: None)
    assert len(other["results"]["threshold"]["x"]) == 4

    broken = tmp_path / "broken"
    for name in ("a", "b"):
        os.makedirs(broken / name)
        (broken / name / "x.png").write_bytes(b"not a png")
    result = CliRunner().invoke(main, ["evaluate", "attention", "--model", str(workspace / "model.keras"), "--data", str(broken),
                                       "--out", str(tmp_path / "e")])
    assert result.exit_code == 2 and "cannot decode image" in result.output
    assert not (tmp_path / "e").exists() and not (tmp_path / "e.partial").exists()


def test_ctrl_c_says_what_is_kept_and_the_same_command_continues(workspace, tmp_path, monkeypatch):
    from tfxai.explain import streaming

    save_state, saved = streaming.save_state, []

    def interrupt_in_the_third_chunk(partial, state):
        if len(saved) == 2:
            raise KeyboardInterrupt
        save_state(partial, state)
        saved.append(state["done"])

    monkeypatch.setattr(streaming, "save_state", interrupt_in_the_third_chunk)
    out = tmp_path / "out"
    stopped = evaluate(workspace, out)
    assert stopped.exit_code == 130, stopped.output
    assert f"interrupted: the scores of the first 128 images are kept in {out}.partial (run the same command to continue)" in stopped.output
    monkeypatch.setattr(streaming, "save_state", save_state)
    resumed = evaluate(workspace, out)
    assert resumed.exit_code == 0 and "after 128 images of 140" in resumed.output, resumed.output
    assert evaluate(workspace, tmp_path / "whole", "--quiet").exit_code == 0
    assert files(out)["results.json"] == files(tmp_path / "whole")["results.json"]


def test_progress_bar_shows_rate_and_time_left_unless_quiet(workspace, tmp_path):
    shown = evaluate(workspace, tmp_path / "a")
    assert shown.exit_code == 0, shown.output
    assert "evaluating" in shown.output and "image/s" in shown.output and "/140 [" in shown.output, shown.output
    quiet = evaluate(workspace, tmp_path / "b", "--quiet")
    assert quiet.exit_code == 0 and "image/s" not in quiet.output
    assert quiet.output.strip().splitlines() == [line for line in quiet.output.strip().splitlines() if line.startswith("done:")]
